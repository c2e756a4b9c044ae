"""Hyperparameter search: does a 30-trial Optuna search beat the recipe defaults, and what does pruning save?

For each recipe (digits-mlp, movielens-mf):

1. the recipe's defaults, trained with seeds 0, 1, 2: the test metric's mean and spread;
2. ``chainrule tune --trials 30`` (TPE seeded 0, median pruning, every trial on training seed 0): its wall time,
   the best trial's validation value and parameters;
3. the best parameters retrained with seeds 0, 1, 2 (the test split was never looked at to choose them);
4. the same search with ``--no-prune``: wall time and epochs trained, so pruning's saving is measured.

Then ``--jobs``: the same 8 trials (no pruning) in one process and in two processes (each with cores / 2 BLAS
threads): wall time and the mean training time of one trial.  If two processes slowed each other down, the
per-trial time would grow; on K free cores it should stay about the same while the wall time falls by K.

    python benchmarks/tune.py                      # about 10 minutes on 2 cores; needs optuna and recbole
    python benchmarks/tune.py --trials 10 --recipes digits-mlp
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from chainrule.train.cli import main as chainrule

METRIC = {"digits-mlp": ("test_accuracy", "higher"), "movielens-mf": ("test_rmse", "lower")}
SEEDS = (0, 1, 2)


def quiet(argv):
    """Run ``chainrule ARGV`` with its output captured; returns (exit status, output)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = chainrule(argv)
    return code, buffer.getvalue()


def result(run_dir: Path) -> dict:
    out = {}
    for line in (run_dir / "result.txt").read_text().splitlines():
        key, value = line.split()
        out[key] = float(value)
    return out


def train_seeds(recipe: str, flags: list, root: Path) -> tuple:
    """The test metric over SEEDS: (mean, sample std, values)."""
    key = METRIC[recipe][0]
    values = []
    for seed in SEEDS:
        out = root / f"seed-{seed}"
        code, text = quiet(["train", "--recipe", recipe, *flags, "--seed", str(seed), "--out", str(out),
                            "--no-progress", "--no-plots", "--overwrite"])
        if code != 0:
            raise SystemExit(f"chainrule train {recipe} {flags} failed:\n{text}")
        values.append(result(out)[key])
    return statistics.mean(values), statistics.stdev(values), values


def tune(recipe: str, trials: int, root: Path, *extra) -> tuple:
    """(summary.json, wall seconds) of one search."""
    began = time.perf_counter()
    code, text = quiet(["tune", "--recipe", recipe, "--trials", str(trials), "--study-dir", str(root), *extra])
    seconds = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"chainrule tune {recipe} failed:\n{text}")
    return json.loads((root / "summary.json").read_text()), seconds


def best_flags(summary: dict) -> list:
    """The best trial's command line, less 'chainrule train --recipe R' and its --seed."""
    words = summary["best"]["command"].split()[4:]
    seed = words.index("--seed")
    return words[:seed] + words[seed + 2 :]


def fmt(mean, std):
    return f"{mean:.4f} ± {std:.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--recipes", default="digits-mlp,movielens-mf")
    parser.add_argument("--jobs-trials", type=int, default=8, help="trials of the --jobs measurement (0: skip it)")
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        rows = []
        for recipe in args.recipes.split(","):
            key, better = METRIC[recipe]
            began = time.perf_counter()
            default = train_seeds(recipe, [], root / recipe / "defaults")
            default_seconds = time.perf_counter() - began
            pruned, pruned_seconds = tune(recipe, args.trials, root / recipe / "study")
            flags = best_flags(pruned)
            best = train_seeds(recipe, flags, root / recipe / "best")
            full, full_seconds = tune(recipe, args.trials, root / recipe / "study-no-prune", "--no-prune")
            rows.append({"recipe": recipe, "key": key, "better": better, "default": default, "pruned": pruned,
                         "pruned_seconds": pruned_seconds, "flags": flags, "best": best, "full": full,
                         "full_seconds": full_seconds, "default_seconds": default_seconds})
            print(f"{recipe}: done", flush=True)
        print(f"\n## {args.trials}-trial search against the recipe defaults (test metric over seeds "
              f"{', '.join(map(str, SEEDS))})\n")
        print("| recipe | metric | defaults | best trial's settings | search time (pruned) | best val | trials "
              "complete/pruned |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            pruned = row["pruned"]
            print(f"| {row['recipe']} | {row['key']} ({row['better']} is better) | {fmt(*row['default'][:2])} "
                  f"| {fmt(*row['best'][:2])} | {row['pruned_seconds']:.0f} s | {pruned['best']['value']:.4f} "
                  f"| {pruned['complete']}/{pruned['pruned']} |")
        print("\nper seed (defaults; best):")
        for row in rows:
            print(f"  {row['recipe']}: {row['default'][2]}; {row['best'][2]}")
        print("\nbest settings found:")
        for row in rows:
            print(f"  chainrule train --recipe {row['recipe']} {' '.join(row['flags'])}")
        print("\n## What pruning saves (the same search, TPE seed 0, with and without the median pruner)\n")
        print("| recipe | wall, pruned | wall, no pruning | time saved | epochs trained, pruned | epochs, no pruning "
              "| best val, pruned | best val, no pruning |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows:
            pruned, full = row["pruned"], row["full"]
            saved = 1 - row["pruned_seconds"] / row["full_seconds"]
            print(f"| {row['recipe']} | {row['pruned_seconds']:.0f} s | {row['full_seconds']:.0f} s | {saved:.0%} "
                  f"| {pruned['epochs_trained']} | {full['epochs_trained']} | {pruned['best']['value']:.4f} "
                  f"| {full['best']['value']:.4f} |")
        if args.jobs_trials:
            jobs_table(args.jobs_trials, root)


def jobs_table(trials: int, root: Path):
    import chainrule as cr

    print(f"\n## --jobs: {trials} movielens-mf trials of 5 epochs, no pruning ({cr.get_num_threads()} cores here)\n")
    print("| jobs | wall | mean training time of a trial | trials per minute |")
    print("| --- | --- | --- | --- |")
    for jobs in (1, 2):
        summary, seconds = tune("movielens-mf", trials, root / f"jobs-{jobs}", "--no-prune", "--epochs", "5",
                                "--jobs", str(jobs), "--no-plots")
        per_trial = summary["trial_seconds"] / max(1, summary["complete"])
        print(f"| {jobs} | {seconds:.1f} s | {per_trial:.2f} s | {60 * summary['complete'] / seconds:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
