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
        code, text = quiet(
            [
                "train",
                "--recipe",
                recipe,
                *flags,
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--no-progress",
                "--no-plots",
                "--overwrite",
            ]
        )
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
        for recipe in filter(None, args.recipes.split(",")):
            key, better = METRIC[recipe]
            began = time.perf_counter()
            default = train_seeds(recipe, [], root / recipe / "defaults")
            default_seconds = time.perf_counter() - began
            pruned, pruned_seconds = tune(recipe, args.trials, root / recipe / "study")
            flags = best_flags(pruned)
            best = train_seeds(recipe, flags, root / recipe / "best")
            full, full_seconds = tune(recipe, args.trials, root / recipe / "study-no-prune", "--no-prune")
            rows.append(
                {
                    "recipe": recipe,
                    "key": key,
                    "better": better,
                    "default": default,
                    "pruned": pruned,
                    "pruned_seconds": pruned_seconds,
                    "flags": flags,
                    "best": best,
                    "full": full,
                    "full_seconds": full_seconds,
                    "default_seconds": default_seconds,
                }
            )
            print(f"{recipe}: done", flush=True)
        if rows:
            report(rows, args.trials)
        if args.jobs_trials:
            jobs_table(args.jobs_trials, root)


def report(rows: list, trials: int) -> None:
    print(
        f"\n## {trials}-trial search against the recipe defaults (test metric over seeds "
        f"{', '.join(map(str, SEEDS))})\n"
    )
    print(
        "| recipe | metric | defaults | best trial's settings | search time (pruned) | best val | trials "
        "complete/pruned |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        pruned = row["pruned"]
        print(
            f"| {row['recipe']} | {row['key']} ({row['better']} is better) | {fmt(*row['default'][:2])} "
            f"| {fmt(*row['best'][:2])} | {row['pruned_seconds']:.0f} s | {pruned['best']['value']:.4f} "
            f"| {pruned['complete']}/{pruned['pruned']} |"
        )
    print("\nper seed (defaults; best):")
    for row in rows:
        print(f"  {row['recipe']}: {row['default'][2]}; {row['best'][2]}")
    print("\nbest settings found:")
    for row in rows:
        print(f"  chainrule train --recipe {row['recipe']} {' '.join(row['flags'])}")
    print("\n## What pruning saves (the same search, TPE seed 0, with and without the median pruner)\n")
    print("Within the pruned search: the epochs its trials trained, and the time its pruned trials would have")
    print("taken to finish at their own seconds per epoch (the saving on the same trials).  Then the same search")
    print("without pruning: TPE sees other values, so it proposes other settings (whose epochs cost differently).")
    print()
    print(
        "| recipe | epochs trained / planned | training time | saved, same trials | wall, pruned | wall, no "
        "pruning (other trials) | epochs, no pruning | best val, pruned | best val, no pruning |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        pruned, full = row["pruned"], row["full"]
        spared = pruned["seconds_saved_by_pruning"]
        share = spared / (pruned["trial_seconds"] + spared)
        print(
            f"| {row['recipe']} | {pruned['epochs_trained']} / {pruned['epochs_planned']} "
            f"| {pruned['trial_seconds']:.0f} s | {spared:.0f} s ({share:.0%}) | {row['pruned_seconds']:.0f} s "
            f"| {row['full_seconds']:.0f} s | {full['epochs_trained']} | {pruned['best']['value']:.4f} "
            f"| {full['best']['value']:.4f} |"
        )


def _concurrent(count: int, threads, root: Path, tag: str, epochs: str) -> tuple:
    """Start ``count`` digits-cnn trainings at once (BLAS threads pinned to ``threads``, or the default);
    returns (wall seconds, the mean of their own training times)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
        if threads is not None:
            env[var] = str(threads)
    began = time.perf_counter()
    runs = []
    for k in range(count):
        out = root / f"{tag}-{k}"
        command = [
            sys.executable,
            "-m",
            "chainrule",
            "train",
            "--recipe",
            "digits-cnn",
            "--epochs",
            epochs,
            "--no-progress",
            "--no-plots",
            "--overwrite",
            "--out",
            str(out),
        ]
        runs.append((subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL), out))
    for process, _ in runs:
        process.wait()
    wall = time.perf_counter() - began
    return wall, statistics.mean(result(out)["seconds"] for _, out in runs)


def jobs_table(trials: int, root: Path):
    import chainrule as cr

    cores = cr.get_num_threads()
    print(f"\n## --jobs: {trials} movielens-mf trials of 5 epochs searching lr only, no pruning ({cores} cores here)\n")
    print("| jobs | wall | mean training time of a trial | trials per minute |")
    print("| --- | --- | --- | --- |")
    for jobs in (1, 2):
        # only the learning rate is searched, so that every trial costs the same (batch size and optimizer fixed)
        summary, seconds = tune(
            "movielens-mf",
            trials,
            root / f"jobs-{jobs}",
            "--no-prune",
            "--epochs",
            "5",
            "--jobs",
            str(jobs),
            "--no-plots",
            "--params",
            "lr",
        )
        per_trial = summary["trial_seconds"] / max(1, summary["complete"])
        print(
            f"| {jobs} | {seconds:.1f} s | {per_trial:.2f} s | {60 * summary['complete'] / seconds:.1f} |", flush=True
        )
    print(
        f"\nThe same training (digits-cnn, 5 epochs) alone and {cores} at once: the thread policy of --jobs "
        "(cores / K threads each) against each process taking every core (best of 2 rounds)\n"
    )
    print("| processes | BLAS threads each | wall | training time of one run | slowdown of one run |")
    print("| --- | --- | --- | --- | --- |")
    alone = min(_concurrent(1, None, root / "threads", "alone", "5")[1] for _ in range(2))
    print(f"| 1 | default ({cores}) | - | {alone:.2f} s | 1.00x |", flush=True)
    for threads, label in ((1, "1 (cores / K)"), (None, f"default ({cores})")):
        best = min(
            (_concurrent(cores, threads, root / "threads", f"k-{threads}", "5") for _ in range(2)), key=lambda r: r[1]
        )
        print(f"| {cores} | {label} | {best[0]:.2f} s | {best[1]:.2f} s | {best[1] / alone:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
