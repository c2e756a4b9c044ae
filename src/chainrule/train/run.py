"""``chainrule train``: build a recipe's run from its resolved settings, train it, report it.

The command line is parsed by ``cli.py``; this module holds the command itself
(``cmd_train``, also what each ``chainrule tune`` trial runs) and the
arguments it takes (``add_train_command``), so that ``tune`` can parse a
trial's command line without importing the whole CLI.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from .commands import (
    OPTIMIZERS,
    RUN_FILES,
    UsageError,
    _nonnegative_float,
    _Parser,
    _positive_float,
    _positive_int,
    _saved_run,
    _seed,
    _seed_list,
    extra_callbacks,
    make_optimizer,
)


def add_train_command(sub) -> None:
    """Add ``train`` and its arguments to the subcommands ``sub`` (an argparse subparsers object)."""
    from .recipes import RECIPES  # noqa: PLC0415

    train = sub.add_parser(
        "train", help="train a recipe (default: digits-cnn)", description="Train a recipe and report its test accuracy."
    )
    train.add_argument("--recipe", help=f"one of: {', '.join(RECIPES)} (default: digits-cnn)")
    train.add_argument(
        "--epochs", type=_positive_int, help="number of epochs (default: the recipe's; with --resume: the run's)"
    )
    train.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe's)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: the recipe's)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer (default: the recipe's)")
    train.add_argument("--weight-decay", type=_nonnegative_float, help="weight decay (default: the recipe's)")
    train.add_argument("--seed", type=_seed, help="random seed for data split, init and shuffling (default 0)")
    train.add_argument("--out", type=Path, help="run directory (default: runs/<recipe>-<time>)")
    train.add_argument(
        "--overwrite", action="store_true", help="replace the run already in --out (otherwise that is an error)"
    )
    train.add_argument("--data", type=Path, help="data directory for recipes that read files (e.g. Fashion-MNIST)")
    train.add_argument(
        "--resume",
        type=Path,
        help="continue the run saved in this checkpoint.safetensors, with its recipe and settings",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-plots", action="store_true", help="do not write loss/accuracy PNGs")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI ranks: mpiexec -n N chainrule train --distributed ... "
        "(the batch size is the global batch; needs chainrule[mpi])",
    )
    # diagnostics (chainrule.diagnostics): gradient health, LR range test, restarts, non-finite gradients
    train.add_argument(
        "--monitor",
        nargs="?",
        const=10,
        type=_positive_int,
        metavar="EVERY",
        help="record gradient health every EVERY steps (default 10); writes gradient_report.txt and gradients.png",
    )
    train.add_argument(
        "--find-lr", action="store_true", help="run a learning-rate range test first and train with its suggestion"
    )
    train.add_argument("--find-lr-steps", type=_positive_int, default=200, help="steps of the range test (200)")
    train.add_argument("--seeds", type=_seed_list, help="comma-separated seeds: one run each, then mean and spread")
    train.add_argument("--grad-clip", type=_positive_float, help="clip the global gradient norm to this value")
    train.add_argument(
        "--compile",
        action="store_true",
        help="capture each batch's forward and backward once and replay it (chainrule.compile; same results)",
    )
    train.add_argument(
        "--checkpoint-activations",
        action="store_true",
        help="recompute activations in backward to save memory (recipes that support it, e.g. BERT)",
    )
    train.add_argument(
        "--tensorboard",
        nargs="?",
        const="",
        metavar="DIR",
        help="write TensorBoard event files (scalars, gradient norms, weight and gradient histograms) to DIR "
        "(default: RUN_DIR/tensorboard; needs chainrule[tensorboard])",
    )
    train.add_argument(
        "--nonfinite",
        choices=("skip", "raise", "step"),
        help="a step with NaN/inf gradients: skip it with a warning (default), stop, or step anyway",
    )


def train_parser() -> _Parser:
    """A parser for ``train ARGS...`` alone (what ``chainrule tune`` builds each trial's run from)."""
    parser = _Parser(prog="chainrule")
    add_train_command(parser.add_subparsers(dest="command", parser_class=_Parser))
    return parser


def cmd_recipes(out=None):
    from .recipes import RECIPES  # noqa: PLC0415

    out = out or sys.stdout
    for name, r in RECIPES.items():
        ok, reason = r.available()
        note = "" if ok else f"  [unavailable: {reason}]"
        print(
            f"{name:24s} {r.description} (epochs {r.epochs}, batch {r.batch_size}, {r.optimizer} lr {r.lr}){note}",
            file=out,
        )
    return 0


def _run_directory(args, recipe_name: str) -> Path:
    """The run directory: --out, the resumed checkpoint's folder, or a new runs/<recipe>-<time>.

    A directory that already holds a run is never written into without being asked: resuming that run
    (--resume its checkpoint) or --overwrite, which removes the earlier run's files first.
    """
    if args.out is not None:
        run_dir = args.out
    elif args.resume is not None:
        run_dir = args.resume.parent
    else:
        run_dir = Path("runs") / f"{recipe_name}-{datetime.now():%Y%m%d-%H%M%S}"
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} is a file, not a directory")
    resuming_here = args.resume is not None and args.resume.resolve().parent == run_dir.resolve()
    earlier = [name for name in RUN_FILES if (run_dir / name).exists()] if run_dir.is_dir() else []
    if earlier and not resuming_here:
        if not args.overwrite:
            raise UsageError(
                f"{run_dir} already holds a run ({', '.join(earlier)}); continue it with --resume "
                f"{run_dir / 'checkpoint.safetensors'}, choose another --out, or pass --overwrite to replace it"
            )
        for name in earlier:
            (run_dir / name).unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run directory {run_dir}: {exc.strerror or exc}") from None
    return run_dir


def _note_missing_extras(args) -> None:
    """Say up front (not after training) what a missing optional package will leave out."""
    import importlib.util  # noqa: PLC0415

    if not args.no_plots and importlib.util.find_spec("matplotlib") is None:
        print(
            "note: matplotlib is not installed, so no plots will be drawn (pip install 'chainrule[train]')",
            file=sys.stderr,
        )
        args.no_plots = True
    if not args.no_progress and importlib.util.find_spec("tqdm") is None:
        print(
            "note: tqdm is not installed, so there is no progress bar (pip install 'chainrule[train]')", file=sys.stderr
        )
        args.no_progress = True


def _require_extras(args) -> None:
    """A flag whose optional package is missing is an error before any work is done."""
    import importlib.util  # noqa: PLC0415

    if getattr(args, "tensorboard", None) is not None and importlib.util.find_spec("tensorboardX") is None:
        raise UsageError(
            "--tensorboard needs tensorboardX, which is not installed: pip install 'chainrule[tensorboard]'"
        )


def cmd_train(args):
    from .recipes import RECIPES  # noqa: PLC0415
    from .settings import SettingsError, resolve  # noqa: PLC0415

    _require_extras(args)
    if args.resume is not None and (args.seeds or args.find_lr):
        raise UsageError("--resume continues one run; it cannot be combined with --seeds or --find-lr")
    if args.find_lr and args.lr is not None:
        raise UsageError("--find-lr chooses the learning rate; drop --lr (or drop --find-lr)")
    saved, done = (None, 0) if args.resume is None else _saved_run(args.resume)
    name = args.recipe or "digits-cnn"
    if saved is not None:
        saved_recipe = saved.get("recipe") if isinstance(saved, dict) else None
        if type(saved_recipe) is not str:
            raise UsageError(f"{args.resume}: its run settings name no recipe")
        if args.recipe is None:
            if saved_recipe not in RECIPES:
                raise UsageError(f"the checkpoint's recipe {saved_recipe!r} is not one this version knows")
            name = saved_recipe
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}; run 'chainrule recipes' to list them")
    r = RECIPES[name]
    if args.data is not None and not args.data.is_dir() and not (r.run is not None and args.data.is_file()):
        raise UsageError(f"data directory {args.data} does not exist")
    try:
        settings = resolve(args, r, saved, done)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if r.run is not None:
        flags = {"--monitor": args.monitor, "--find-lr": args.find_lr, "--seeds": args.seeds, "--compile": args.compile}
        used = [flag for flag, value in flags.items() if value]
        if used:
            raise UsageError(f"recipe {r.name} runs its own training loop; {', '.join(used)} apply to the others")
        args.out = _run_directory(args, r.name)
        # the recipe's own loop reads its hyperparameters from the resolved settings alone
        args.run_settings = settings
        _note_missing_extras(args)
        return r.run(args, r)
    ok, reason = r.available(settings.data_dir)
    if not ok:
        raise UsageError(reason)
    run_dir = _run_directory(args, r.name)
    _note_missing_extras(args)
    seeds = args.seeds or [settings.seed]
    if args.find_lr:
        settings.lr = _find_lr(args, r, settings, seeds[0], run_dir)
    if args.seeds is None:
        _train_one(args, r, settings, run_dir)
        return 0
    results = []
    for seed in seeds:
        print(f"--- seed {seed} ---")
        settings.seed = seed
        results.append(_train_one(args, r, settings, run_dir / f"seed-{seed}"))
    _report_seeds(seeds, results, run_dir)
    return 0


def _build(args, r, settings):
    """The recipe's data, model, optimizer, scheduler and loaders, all drawn from ``settings.seed``."""
    from .. import random as cr_random  # noqa: PLC0415
    from ..data import DataLoader  # noqa: PLC0415
    from .settings import CosineCycles  # noqa: PLC0415

    seed = settings.seed
    cr_random.manual_seed(seed)
    train_ds, val_ds, test_ds = r.build_data(seed, settings.data_dir)
    model = r.build_model()
    optimizer = make_optimizer(settings.optimizer, model.parameters(), settings.lr, settings.weight_decay)
    scheduler = CosineCycles(optimizer, settings.schedule) if r.scheduler == "cosine" else None
    loader_gen = cr_random.Generator().manual_seed(seed + 1)
    loaders = (
        DataLoader(train_ds, batch_size=settings.batch_size, shuffle=True, generator=loader_gen),
        DataLoader(val_ds, batch_size=512),
        DataLoader(test_ds, batch_size=512),
    )
    if args.distributed:  # data parallel: the model averages gradients over ranks, each rank reads its shard
        from .launcher import distribute  # noqa: PLC0415

        model, loaders = distribute(model, train_ds, val_ds, test_ds, settings.batch_size, seed + 1)
    sizes = (len(train_ds), len(val_ds), len(test_ds))
    return model, optimizer, scheduler, loaders, sizes


def _find_lr(args, r, settings, seed, run_dir) -> float:
    """The learning-rate range test on a throwaway copy of the run; writes lr_finder.png/.json, returns the rate."""
    from dataclasses import replace  # noqa: PLC0415

    from ..diagnostics.lr_finder import lr_finder  # noqa: PLC0415
    from ..nn import functional as F  # noqa: PLC0415

    model, optimizer, _, (train_loader, _, _), _ = _build(args, r, replace(settings, seed=seed))
    print(f"learning-rate range test: {args.find_lr_steps} steps of {settings.optimizer}, 1e-7 to 10")
    result = lr_finder(model, optimizer, F.cross_entropy, train_loader, steps=args.find_lr_steps)
    written = result.save(run_dir, plot=not args.no_plots)
    print(
        f"suggested learning rate {result.suggestion:.3g} (the loss was lowest at {result.min_loss_lr:.3g} and fell "
        f"fastest at {result.steepest_lr:.3g}); {', '.join(str(p) for p in written.values())}"
    )
    return float(f"{result.suggestion:.3g}")


def _train_one(args, r, settings, run_dir) -> dict:
    """One training run into ``run_dir``; prints and returns the test loss and accuracy."""
    from ..errors import GradientError  # noqa: PLC0415
    from ..io import CheckpointError  # noqa: PLC0415
    from ..nn import functional as F  # noqa: PLC0415
    from .callbacks import KeepBest  # noqa: PLC0415
    from .metrics import accuracy  # noqa: PLC0415
    from .trainer import Trainer  # noqa: PLC0415

    model, optimizer, scheduler, loaders, sizes = _build(args, r, settings)
    train_loader, val_loader, test_loader = loaders
    run_dir.mkdir(parents=True, exist_ok=True)
    epochs = settings.epochs
    print(
        f"recipe {r.name}: {sizes[0]} train / {sizes[1]} val / {sizes[2]} test samples; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters; {settings.optimizer} lr {settings.lr}, "
        f"batch {settings.batch_size}, {epochs} epochs; run directory {run_dir}"
    )
    monitor = None
    if args.monitor is not None:
        from ..diagnostics import GradientMonitor  # noqa: PLC0415

        monitor = GradientMonitor(model, every=args.monitor)
    distributed = None
    if args.distributed:
        from ..distributed import DistributedTraining  # noqa: PLC0415

        distributed = DistributedTraining()
    trainer = Trainer(
        model,
        optimizer,
        F.cross_entropy,
        train_loader,
        val_loader,
        scheduler=scheduler,
        metrics={"accuracy": accuracy},
        run_dir=run_dir,
        callbacks=[KeepBest("val_accuracy", "max"), *extra_callbacks(args, run_dir)],
        progress=not args.no_progress,
        plots=not args.no_plots,
        grad_clip=settings.grad_clip,
        nonfinite=settings.nonfinite,
        monitor=monitor,
        distributed=distributed,
        run_settings=settings.to_dict(),
        compile=args.compile,
    )
    began = time.perf_counter()
    try:
        trainer.fit(epochs, resume=args.resume)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    except GradientError as exc:
        raise UsageError(f"training stopped: {exc}") from None
    finally:
        if monitor is not None:
            monitor.detach()
    seconds = time.perf_counter() - began
    result = trainer.evaluate(test_loader, prefix="test")
    if distributed is None or distributed.is_main:
        (run_dir / "result.txt").write_text(
            f"test_accuracy {result['test_accuracy']:.4f}\ntest_loss {result['test_loss']:.4f}\nseconds {seconds:.1f}\n"
        )
    print(
        f"test accuracy {result['test_accuracy']:.4f}  test loss {result['test_loss']:.4f}  ({seconds:.1f} s training)"
    )
    if monitor is not None:
        problems = ", ".join(monitor.first_issues) or "none"
        print(f"gradient health ({problems}): {run_dir / 'gradient_report.txt'}")
    print(f"run directory: {run_dir}")
    return {"seed": settings.seed, **result, "seconds": seconds}


def _report_seeds(seeds, results, run_dir) -> None:
    """Mean and spread of the final test metrics over restarts; printed and written to seeds.json."""
    import json  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from ..io import atomic_write  # noqa: PLC0415

    summary = {}
    for key in ("test_accuracy", "test_loss"):
        values = np.array([res[key] for res in results], dtype=np.float64)
        summary[key] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    acc = summary["test_accuracy"]
    print(
        f"seeds {', '.join(str(s) for s in seeds)}: test accuracy mean {acc['mean']:.4f}, std {acc['std']:.4f} "
        f"(sample std over {len(seeds)} runs), min {acc['min']:.4f}, max {acc['max']:.4f}"
    )
    data = {"seeds": list(seeds), "runs": results, "summary": summary}
    atomic_write(run_dir / "seeds.json", json.dumps(data, indent=1).encode())
    print(f"run directory: {run_dir}")
