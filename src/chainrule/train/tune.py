"""``chainrule tune``: a hyperparameter search whose trials are ``chainrule train`` runs.

    chainrule tune --recipe digits-mlp --trials 30
    chainrule tune --recipe movielens-mf --trials 30 --params lr,batch_size,weight_decay --jobs 2
    chainrule tune --recipe digits-cnn --trials 20 --params "lr=1e-4:1e-2,batch_size=16|32|64" --timeout 600
    chainrule tune --study-dir runs/tune-digits-mlp-20250101-120000 --trials 40   # continue a search

Optuna (``pip install 'chainrule[tune]'``) proposes each trial's settings
with a seeded TPE sampler; each trial is a ``chainrule train`` run in
``STUDY_DIR/trial-NNNN`` (its own checkpoints, metrics log and ``log.txt``)
that reports the recipe's validation metric after every epoch, and a median
pruner stops trials that fall behind earlier ones at the same epoch
(``--no-prune`` runs all to the end).  The study lives in
``STUDY_DIR/study.db`` (Optuna's SQLite storage) beside ``tune.json``, the
search's definition: run the same command again (or only ``--study-dir``)
and an interrupted search continues until ``--trials`` trials have
finished; a trial that was running when it stopped is run again.

``--jobs K`` runs trials in K processes on one study, each with
``cores / K`` BLAS threads, so K processes on K cores do not compete for
them.  At the end: the best trials, the command line that reproduces the
best one, parameter importances, and PNG plots (optimization history,
parallel coordinates, slices, importances) in the study directory, all also
in ``summary.json``.

The objective is the best value the validation metric reached over a trial's
epochs (the epoch keep-best saves): ``val_accuracy`` for classification,
``val_rmse`` (lower is better) for movielens-mf, ``val_hr@10`` for
movielens-ncf.  The test split is not looked at to choose; each trial's test
result is shown beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from .commands import OPTIMIZERS, UsageError, _positive_float, _positive_int, _seed, register_command

# the validation metric a recipe's trials are judged by, and whether higher is better
METRICS = {"movielens-mf": ("val_rmse", "minimize"), "movielens-ncf": ("val_hr@10", "maximize")}
DEFAULT_METRIC = ("val_accuracy", "maximize")
# what a test split result is called in a run's result.txt
TEST_KEYS = {"movielens-mf": "test_rmse", "movielens-ncf": "test_hr@10"}
# parameters searched when --params is not given
DEFAULT_PARAMS = {
    "movielens-ncf": ("lr", "batch_size", "optimizer"),  # NeuMF has no weight decay
    "minilm-sentiment": ("lr", "batch_size", "weight_decay"),  # AdamW only
    "minilm-sentiment-probe": ("lr", "batch_size", "weight_decay"),
}
TUNABLE = ("lr", "batch_size", "optimizer", "weight_decay", "epochs", "grad_clip")
_LOG_SCALE = ("lr", "weight_decay", "grad_clip")
_CONFIG = "tune.json"
_STUDY = "study.db"
_STUDY_NAME = "chainrule"


# ---------------------------------------------------------------------------
# the command line


def _arguments(parser):
    parser.add_argument("--recipe", help="the recipe to tune (default: digits-cnn; with --study-dir of a search: its)")
    parser.add_argument("--trials", type=_positive_int, default=20, help="finished trials the study should hold (20)")
    parser.add_argument("--timeout", type=_positive_float, metavar="S", help="start no new trial after S seconds")
    parser.add_argument(
        "--params",
        help=f"what to search, comma-separated: names from {', '.join(TUNABLE)} (ranges around the recipe's "
        "defaults), or NAME=LOW:HIGH (log scale for lr, weight_decay, grad_clip when LOW > 0), NAME=A|B|C "
        "(choices); default lr,batch_size,optimizer,weight_decay",
    )
    parser.add_argument("--study-dir", type=Path, help="where the study and its trials live (default: runs/tune-...)")
    parser.add_argument("--jobs", type=_positive_int, default=1, help="trials run at once, in K processes (1)")
    parser.add_argument("--epochs", type=_positive_int, help="epochs per trial (default: the recipe's)")
    parser.add_argument("--seed", type=_seed, help="the training seed of every trial (0)")
    parser.add_argument("--sampler-seed", type=_seed, help="the TPE sampler's seed (0)")
    parser.add_argument("--no-prune", action="store_true", help="run every trial to its last epoch")
    parser.add_argument("--data", type=Path, help="data directory or file, as for chainrule train --data")
    parser.add_argument("--no-plots", action="store_true", help="do not draw the study's PNGs")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # a --jobs process: its index
    parser.add_argument("--share", type=int, help=argparse.SUPPRESS)  # and how many trials it runs


def _require_optuna():
    from ..tune import MissingExtraError, require_optuna  # noqa: PLC0415

    try:
        return require_optuna()
    except MissingExtraError as exc:
        raise UsageError(f"chainrule tune: {exc}") from None


# ---------------------------------------------------------------------------
# the search space


def _default_param(name, r):
    from ..tune import choice, integer, loguniform  # noqa: PLC0415

    if name == "lr":
        return loguniform(float(f"{r.lr / 10:.3g}"), float(f"{r.lr * 10:.3g}"))
    if name == "batch_size":
        sizes = sorted({max(1, int(r.batch_size * f)) for f in (0.25, 0.5, 1, 2, 4)})
        return choice(*sizes)
    if name == "optimizer":
        return choice(r.optimizer, *[o for o in OPTIMIZERS if o != r.optimizer])
    if name == "weight_decay":
        if r.weight_decay > 0:
            return loguniform(float(f"{r.weight_decay / 10:.3g}"), float(f"{r.weight_decay * 10:.3g}"))
        return loguniform(1e-6, 1e-2)
    if name == "epochs":
        return integer(max(1, r.epochs // 2), r.epochs * 2)
    return loguniform(0.1, 10.0)  # grad_clip


def _number(text, name):
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--params {name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--params {name}: {text} is not a finite number")
    return value


def _option(text, name):
    if name == "optimizer":
        return text
    value = _number(text, name)
    return int(value) if name in ("batch_size", "epochs") else value


def parse_space(text, r) -> dict:
    """--params as {name: Param}; a mistake is a UsageError naming the part."""
    from ..tune import choice, integer, loguniform, uniform  # noqa: PLC0415

    text = text or ",".join(DEFAULT_PARAMS.get(r.name, ("lr", "batch_size", "optimizer", "weight_decay")))
    space = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, spec = part.partition("=")
        name = name.strip().replace("-", "_")
        if name not in TUNABLE:
            raise UsageError(f"--params: cannot tune {name!r}; choose from {', '.join(TUNABLE)}")
        if name in space:
            raise UsageError(f"--params names {name} twice")
        spec = spec.strip()
        if not spec:
            space[name] = _default_param(name, r)
        elif "|" in spec or name == "optimizer":
            options = [_option(o.strip(), name) for o in spec.split("|") if o.strip()]
            if name == "optimizer":
                bad = [o for o in options if o not in (*OPTIMIZERS, r.optimizer)]
                if bad:
                    raise UsageError(
                        f"--params optimizer: unknown {', '.join(bad)}; choose from {', '.join(OPTIMIZERS)}"
                    )
            if not options or len(set(options)) != len(options):
                raise UsageError(f"--params {name}: {spec!r} needs distinct choices such as a|b|c")
            space[name] = choice(*options)
        elif ":" in spec:
            low_text, _, high_text = spec.partition(":")
            low, high = _number(low_text, name), _number(high_text, name)
            if not low < high or low < 0 or (name != "weight_decay" and low <= 0):
                raise UsageError(f"--params {name}: {spec!r} needs 0 < LOW < HIGH (weight_decay may start at 0)")
            if name in ("batch_size", "epochs"):
                space[name] = integer(int(low), int(high), log=high / max(low, 1) >= 8)
            elif name in _LOG_SCALE and low > 0:
                space[name] = loguniform(low, high)
            else:
                space[name] = uniform(low, high)
        else:
            raise UsageError(f"--params {name}={spec}: write a range LOW:HIGH or choices A|B|C")
    if not space:
        raise UsageError("--params names nothing to tune")
    return space


# ---------------------------------------------------------------------------
# the study's definition, kept in tune.json so that the same search continues


def _definition(args, r) -> dict:
    from .settings import resolve  # noqa: PLC0415

    metric, direction = METRICS.get(r.name, DEFAULT_METRIC)
    space = parse_space(args.params, r)
    return {
        "recipe": r.name,
        "metric": metric,
        "direction": direction,
        "space": {name: [p.kind, p.low, p.high, p.log, list(p.options)] for name, p in space.items()},
        "epochs": resolve(args, r).epochs,  # each trial's budget, resolved as `chainrule train` resolves it
        "seed": args.seed or 0,
        "sampler_seed": args.sampler_seed or 0,
        "prune": not args.no_prune,
        "data": None if args.data is None else str(args.data),
    }


def _space(definition) -> dict:
    from ..tune import Param  # noqa: PLC0415

    return {
        name: Param(kind, low, high, log, tuple(options))
        for name, (kind, low, high, log, options) in definition["space"].items()
    }


_DEFINITION_FLAGS = {
    "recipe": "--recipe",
    "epochs": "--epochs",
    "seed": "--seed",
    "sampler_seed": "--sampler-seed",
    "prune": "--no-prune",
    "data": "--data",
    "space": "--params",
}


def _read_definition(study_dir: Path) -> dict:
    """The definition saved in a study directory (a file from elsewhere: read with limits, shape checked)."""
    from .._untrusted import read_json  # noqa: PLC0415

    try:
        saved = read_json(study_dir / _CONFIG, UsageError, limit=1 << 20)
    except FileNotFoundError:
        raise UsageError(f"{study_dir} holds no search ({_CONFIG} is missing); start one with --recipe") from None
    if not isinstance(saved, dict) or set(saved) != set(_DEFINITION_FLAGS) | {"metric", "direction"}:
        raise UsageError(f"{study_dir / _CONFIG} is not a chainrule tune definition")
    if not isinstance(saved["space"], dict) or not isinstance(saved["epochs"], int):
        raise UsageError(f"{study_dir / _CONFIG} is not a chainrule tune definition")
    return saved


def _check_definition(study_dir: Path, saved: dict, fresh: dict, args) -> None:
    """A flag given this time that differs from the saved search is an error naming both values."""
    given = {
        "recipe": args.recipe is not None,
        "epochs": args.epochs is not None,
        "seed": args.seed is not None,
        "sampler_seed": args.sampler_seed is not None,
        "prune": args.no_prune,
        "data": args.data is not None,
        "space": args.params is not None,
    }
    for key, flag in _DEFINITION_FLAGS.items():
        if given[key] and fresh[key] != saved[key]:
            raise UsageError(
                f"{flag} differs from the search in {study_dir} ({fresh[key]} against {saved[key]}); a study keeps "
                "its definition: drop the flag or choose another --study-dir"
            )


# ---------------------------------------------------------------------------
# one trial: one chainrule train run


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def train_argv(definition, params: dict, run_dir=None) -> list:
    """The ``chainrule train`` arguments of a trial with ``params`` (its run directory when given)."""
    from .recipes import RECIPES  # noqa: PLC0415

    r = RECIPES[definition["recipe"]]
    argv = ["train", "--recipe", definition["recipe"]]
    values = {"epochs": definition["epochs"], **params, "seed": definition["seed"]}
    for name, value in values.items():
        if name == "optimizer" and value not in OPTIMIZERS:
            continue  # the recipe's own optimizer (e.g. sparse-adam) is what no flag means
        if name == "epochs" and value == r.epochs and "epochs" not in params:
            continue
        argv += [_flag(name), _format(value)]
    if definition["data"] is not None:
        argv += ["--data", definition["data"]]
    if run_dir is not None:
        argv += ["--out", str(run_dir)]
    return argv


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _results(run_dir: Path) -> dict:
    """``key value`` lines of a run's result.txt as numbers."""
    out = {}
    with contextlib.suppress(OSError):
        for line in (run_dir / "result.txt").read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[key] = float(value)
    return out


def _history(run_dir: Path) -> list:
    records = []
    with contextlib.suppress(OSError):
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def _objective(definition, study_dir: Path, out=None):
    """The Optuna objective: train one trial and return its best validation value."""
    import optuna  # noqa: PLC0415

    from ..tune import PruningCallback  # noqa: PLC0415
    from .run import cmd_train, train_parser  # noqa: PLC0415

    space = _space(definition)
    metric, direction = definition["metric"], definition["direction"]
    test_key = TEST_KEYS.get(definition["recipe"], "test_accuracy")
    pick = max if direction == "maximize" else min
    out = out or sys.stdout

    def objective(trial):
        params = {name: param.suggest(trial, name) for name, param in space.items()}
        run_dir = study_dir / f"trial-{trial.number:04d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        argv = train_argv(definition, params, run_dir) + ["--overwrite", "--no-progress", "--no-plots"]
        trial.set_user_attr("command", shlex.join(["chainrule", *train_argv(definition, params)]))
        args = train_parser().parse_args(argv)
        pruning = PruningCallback(trial, metric)
        args.callbacks = [pruning]
        began = time.perf_counter()
        error = None
        pruned = False
        with open(run_dir / "log.txt", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            try:
                cmd_train(args)
            except optuna.TrialPruned:
                pruned = True
            except UsageError as exc:
                error = str(exc)
                print(f"error: {error}")
        seconds = time.perf_counter() - began
        history = _history(run_dir)
        values = [h[metric] for h in history if isinstance(h.get(metric), (int, float)) and math.isfinite(h[metric])]
        result = _results(run_dir)
        trial.set_user_attr("seconds", round(seconds, 3))
        trial.set_user_attr("epochs", len(history))
        if test_key in result:
            trial.set_user_attr(test_key, result[test_key])
        described = "  ".join(f"{k} {_format(v)}" for k, v in params.items())
        best = pick(values) if values else math.nan
        if pruned:
            what = f"pruned after epoch {len(history)} ({metric} {best:.4f})"
        elif error is not None or not values:
            what = f"failed: {error or 'no ' + metric + ' was recorded'}"
        else:
            test = f", {test_key} {result[test_key]:.4f}" if test_key in result else ""
            what = f"{metric} {best:.4f}{test}"
        print(
            f"trial {trial.number:3d}  {described}  ->  {what}  ({len(history)} epochs, {seconds:.1f} s)",
            file=out,
            flush=True,
        )
        if pruned:
            raise optuna.TrialPruned()
        return best  # NaN marks the trial failed; the search goes on

    return objective


# ---------------------------------------------------------------------------
# running the search


def _storage(study_dir: Path) -> str:
    return f"sqlite:///{study_dir.resolve() / _STUDY}"


def _study(definition, study_dir: Path, worker: int = 0):
    """The study in ``study_dir``; its sampler's seed depends on the worker and on the trials already there,
    so that a continued search (or a second process) does not propose the same parameters again."""
    import optuna  # noqa: PLC0415

    from ..tune import make_study  # noqa: PLC0415

    study = make_study(
        definition["direction"],
        storage=_storage(study_dir),
        study_name=_STUDY_NAME,
        seed=definition["sampler_seed"] + worker,
        prune=definition["prune"],
        warmup_steps=max(1, definition["epochs"] // 5),
    )
    existing = len(study.get_trials(deepcopy=False))
    if existing:
        seed = definition["sampler_seed"] + worker + 7919 * existing
        study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    return study


def _defaults(definition, r) -> dict:
    """The recipe's default settings as a point of the search space (clipped into ranges; left out if not in it)."""
    values = {
        "lr": r.lr,
        "batch_size": r.batch_size,
        "optimizer": r.optimizer,
        "weight_decay": r.weight_decay,
        "epochs": definition["epochs"],
    }
    point = {}
    for name, param in _space(definition).items():
        value = values.get(name)
        if value is None:
            continue
        if param.kind == "choice":
            if value in param.options:
                point[name] = value
        else:
            clipped = min(max(value, param.low), param.high)  # a weight decay of 0 starts at the range's low end
            point[name] = int(clipped) if param.kind == "int" else float(clipped)
    return point


def _finished_states():
    import optuna  # noqa: PLC0415

    return (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _remaining(study, trials: int) -> int:
    return trials - sum(t.state in _finished_states() for t in study.trials)


def _share(remaining: int, worker: int, jobs: int) -> int:
    """Worker ``worker``'s part of ``remaining`` trials split over ``jobs`` processes."""
    return remaining // jobs + (worker < remaining % jobs)


def _optimize(definition, study_dir: Path, trials: int, timeout, worker: int = 0, jobs: int = 1, share=None) -> None:
    """Run this process's share of the trials still to do (worker ``worker`` of ``jobs``; ``share``: as the
    parent counted them when it started the workers, so that a worker starting after another finished a trial
    does not count it again and run one fewer)."""
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(definition, study_dir, worker)
    if share is None:
        share = _share(_remaining(study, trials), worker, jobs)
    if share <= 0:
        return
    if worker > 0:
        _await_queue(study)
    study.optimize(
        _objective(definition, study_dir),
        n_trials=share,
        timeout=timeout,
        callbacks=[optuna.study.MaxTrialsCallback(trials, states=_finished_states())],
    )


def _await_queue(study, timeout: float = 60.0, poll: float = 0.05) -> bool:
    """Wait until the study has no queued trials (the recipe's defaults, interrupted ones) or one is running (worker
    0 has claimed one); False if neither after ``timeout`` seconds.

    Two processes starting together could both claim one queued trial: Optuna claims it with a row lock
    (``SELECT ... FOR UPDATE``) that SQLite does not have, and a test run saw both workers of ``--jobs 2`` run
    trial 0 and the search end one trial short.  So the other workers start claiming once worker 0 has.
    """
    import optuna  # noqa: PLC0415

    states = optuna.trial.TrialState
    end = time.monotonic() + timeout
    while True:
        trials = study.get_trials(deepcopy=False, states=(states.WAITING, states.RUNNING))
        if not trials or any(t.state == states.RUNNING for t in trials):
            return True
        if time.monotonic() > end:
            return False
        time.sleep(poll)


def _rerun_interrupted(study) -> int:
    """Trials left running by a search that stopped: marked failed, their parameters queued again."""
    import optuna  # noqa: PLC0415

    count = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, skip_if_exists=False)
        count += 1
    return count


def _workers(definition, study_dir: Path, trials: int, timeout, jobs: int, remaining: int) -> None:
    """--jobs K: K processes on the one study, each with cores / K BLAS threads, splitting the ``remaining``
    trials."""
    from ..threads import get_num_threads  # noqa: PLC0415

    threads = max(1, get_num_threads() // jobs)
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    print(f"{jobs} worker processes, {threads} BLAS thread(s) each", flush=True)
    command = [
        sys.executable,
        "-m",
        "chainrule",
        "tune",
        "--study-dir",
        str(study_dir),
        "--trials",
        str(trials),
        "--jobs",
        str(jobs),
    ]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    processes = [
        subprocess.Popen([*command, "--worker", str(k), "--share", str(_share(remaining, k, jobs))], env=env)
        for k in range(jobs)
    ]
    try:
        codes = [p.wait() for p in processes]
    except BaseException:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait()
        raise
    failed = [k for k, code in enumerate(codes) if code != 0]
    if failed:
        raise UsageError(f"worker process(es) {', '.join(map(str, failed))} stopped with an error (see above)")


def cmd_tune(args) -> int:
    optuna = _require_optuna()  # before anything else: the extra is missing, say so in one line
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from ..io import atomic_write  # noqa: PLC0415
    from .recipes import RECIPES  # noqa: PLC0415

    if args.worker is not None:  # one of --jobs' processes
        if args.study_dir is None:
            raise UsageError("--worker needs --study-dir")
        definition = _read_definition(args.study_dir)
        _optimize(definition, args.study_dir, args.trials, args.timeout, args.worker, args.jobs, args.share)
        return 0
    existing = args.study_dir is not None and (args.study_dir / _CONFIG).is_file()
    saved = _read_definition(args.study_dir) if existing else None
    name = args.recipe or (saved["recipe"] if saved is not None else "digits-cnn")
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}; run 'chainrule recipes' to list them")
    r = RECIPES[name]
    data = args.data if args.data is not None or saved is None else saved["data"]
    ok, reason = r.available(None if data is None else Path(data))
    if not ok:
        raise UsageError(reason)
    fresh = _definition(args, r)
    study_dir = args.study_dir or Path("runs") / f"tune-{name}-{datetime.now():%Y%m%d-%H%M%S}"
    if study_dir.exists() and not study_dir.is_dir():
        raise UsageError(f"--study-dir {study_dir} is a file, not a directory")
    if saved is not None:
        _check_definition(study_dir, saved, fresh, args)
        definition = saved
        print(f"continuing the search in {study_dir}")
    else:
        definition = fresh
        study_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(study_dir / _CONFIG, (json.dumps(definition, indent=1) + "\n").encode())
    study = _study(definition, study_dir)
    if not study.trials:  # the recipe's defaults first: the search's best is then at least as good on validation
        defaults = _defaults(definition, r)
        if defaults:
            study.enqueue_trial(defaults, user_attrs={"defaults": True})
    again = _rerun_interrupted(study)
    done = sum(t.state in _finished_states() for t in study.trials)
    space = _space(definition)
    queued = f", {again} interrupted one(s) queued again" if again else ""
    print(
        f"tuning {definition['recipe']}: {args.trials} trials ({done} done{queued}) of {definition['epochs']} epochs, "
        f"{definition['direction']} {definition['metric']}; "
        f"{'median pruning' if definition['prune'] else 'no pruning'}; study {study_dir / _STUDY}"
    )
    print("search space: " + ", ".join(f"{n} {p}" for n, p in space.items()), flush=True)
    began = time.perf_counter()
    try:
        if args.jobs > 1:
            _workers(definition, study_dir, args.trials, args.timeout, args.jobs, args.trials - done)
        else:
            _optimize(definition, study_dir, args.trials, args.timeout)
    except KeyboardInterrupt:
        print(
            f"interrupted; run the same command (or chainrule tune --study-dir {study_dir}) to continue",
            file=sys.stderr,
        )
        return 130
    seconds = time.perf_counter() - began
    study = _study(definition, study_dir)
    summary = summarize(study, definition, seconds, plots=not args.no_plots, study_dir=study_dir)
    atomic_write(study_dir / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    print(f"summary: {study_dir / 'summary.json'}")
    return 0


# ---------------------------------------------------------------------------
# the report


def summarize(study, definition, seconds: float, plots: bool = True, study_dir: Path | None = None, out=None) -> dict:
    """Print the best trials, the best command, importances and pruning's savings; draw plots; return it all."""
    import optuna  # noqa: PLC0415

    from ..tune import importances  # noqa: PLC0415

    out = out or sys.stdout
    metric, direction = definition["metric"], definition["direction"]
    test_key = TEST_KEYS.get(definition["recipe"], "test_accuracy")
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    ranked = sorted(complete, key=lambda t: t.value, reverse=direction == "maximize")
    epochs_each = definition["epochs"]
    trained = sum(int(t.user_attrs.get("epochs", 0)) for t in complete + pruned)
    planned = sum(int(t.params.get("epochs", epochs_each)) for t in complete + pruned)
    trial_seconds = sum(float(t.user_attrs.get("seconds", 0.0)) for t in complete + pruned)
    # what the pruned trials would have cost to finish, at their own seconds per epoch
    spared = sum(
        float(t.user_attrs.get("seconds", 0.0))
        / max(int(t.user_attrs.get("epochs", 1)), 1)
        * (int(t.params.get("epochs", epochs_each)) - int(t.user_attrs.get("epochs", 0)))
        for t in pruned
    )
    print(
        f"\n{len(complete)} complete, {len(pruned)} pruned, {len(failed)} failed trials; {seconds:.1f} s this run, "
        f"{trial_seconds:.1f} s of training in all; pruning trained {trained} of {planned} epochs and saved about "
        f"{spared:.0f} s ({spared / max(trial_seconds + spared, 1e-9):.0%} of the time without it)",
        file=out,
    )
    names = list(definition["space"])
    rows = []
    if ranked:
        header = ["trial", metric, test_key, "epochs", "seconds", *names]
        table = [header]
        shown = ranked[:5] + [t for t in ranked[5:] if t.user_attrs.get("defaults")]
        for t in shown:
            table.append(
                [
                    f"{t.number} (defaults)" if t.user_attrs.get("defaults") else str(t.number),
                    f"{t.value:.4f}",
                    f"{t.user_attrs[test_key]:.4f}" if test_key in t.user_attrs else "-",
                    str(t.user_attrs.get("epochs", "-")),
                    f"{t.user_attrs.get('seconds', 0):.1f}",
                    *[_format(t.params.get(n, "-")) for n in names],
                ]
            )
            rows.append({"trial": t.number, "value": t.value, **t.user_attrs, "params": t.params})
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        print(f"best trials ({'higher' if direction == 'maximize' else 'lower'} {metric} is better):", file=out)
        for row in table:
            print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)), file=out)
        best = ranked[0]
        print(f"best: {best.user_attrs.get('command', '')}", file=out)
    imp = importances(study)
    if imp:
        print("parameter importances (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()), file=out)
    written = draw(study, study_dir) if plots and study_dir is not None and complete else []
    if written:
        print("plots: " + ", ".join(str(p) for p in written), file=out)
    return {
        "recipe": definition["recipe"],
        "metric": metric,
        "direction": direction,
        "complete": len(complete),
        "pruned": len(pruned),
        "failed": len(failed),
        "seconds": round(seconds, 1),
        "trial_seconds": round(trial_seconds, 1),
        "seconds_saved_by_pruning": round(spared, 1),
        "epochs_trained": trained,
        "epochs_planned": planned,
        "best": rows[0] if rows else None,
        "defaults": next((r for r in rows if r.get("defaults")), None),
        "top": rows,
        "importances": imp,
        "plots": [str(p) for p in written],
    }


def draw(study, study_dir: Path) -> list:
    """Optuna's matplotlib plots of the study as PNGs in ``study_dir``; the paths written."""
    import warnings  # noqa: PLC0415

    from ..diagnostics._plot import pyplot, save_figure  # noqa: PLC0415

    plt = pyplot()
    if plt is None:
        return []
    import optuna.visualization.matplotlib as vis  # noqa: PLC0415

    plots: dict[str, Any] = {
        "optimization_history.png": vis.plot_optimization_history,
        "parallel_coordinate.png": vis.plot_parallel_coordinate,
        "slice.png": vis.plot_slice,
        "param_importances.png": vis.plot_param_importances,
        "intermediate_values.png": vis.plot_intermediate_values,
    }
    written = []
    for filename, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's "experimental" notes, tight_layout's doubts
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances of a single parameter, or no complete trial yet
            first = axes.flat[0] if hasattr(axes, "flat") else axes
            fig = first.figure
            fig.set_size_inches(max(6.0, fig.get_size_inches()[0]), 4.5)
            fig.tight_layout()
        written.append(save_figure(plt, fig, study_dir / filename))
    return written


register_command("tune", "search hyperparameters of a recipe with Optuna (chainrule[tune])", _arguments, cmd_tune)
