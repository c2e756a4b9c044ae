"""The ``chainrule`` command.

    chainrule train                      # the default recipe: a small CNN on the bundled digits
    chainrule train --recipe digits-mlp --epochs 20 --lr 0.01 --optimizer sgd --seed 1 --out runs/mlp
    chainrule train --resume runs/x/checkpoint.safetensors
    chainrule recipes                    # list the recipes

Mistakes (an unknown option or recipe, a missing data directory, an
unreadable checkpoint) print one line starting with ``error:`` and exit with
a non-zero status.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")

# more subcommands: name -> (help, add_arguments(parser), run(args) -> exit status); modules append here
COMMANDS: dict = {}


def register_command(name, help, add_arguments, run):  # noqa: A002 - argparse's word
    """Add ``chainrule NAME``; ``run(args)`` returns the exit status and raises UsageError for mistakes."""
    COMMANDS[name] = (help, add_arguments, run)


class UsageError(Exception):
    """A mistake on the command line or in its inputs: reported in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (and exit status 2), not the usage text."""

    def error(self, message):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _parser():
    from .recipes import RECIPES  # noqa: PLC0415

    parser = _Parser(prog="chainrule", description="Train models with chainrule.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train = sub.add_parser(
        "train", help="train a recipe (default: digits-cnn)", description="Train a recipe and report its test accuracy."
    )
    train.add_argument("--recipe", default="digits-cnn", help=f"one of: {', '.join(RECIPES)} (default: digits-cnn)")
    train.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the recipe's)")
    train.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe's)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: the recipe's)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer (default: the recipe's)")
    train.add_argument("--weight-decay", type=float, help="weight decay (default: the recipe's)")
    train.add_argument("--seed", type=int, default=0, help="random seed for data split, init and shuffling (default 0)")
    train.add_argument("--out", type=Path, help="run directory (default: runs/<recipe>-<time>)")
    train.add_argument("--data", type=Path, help="data directory for recipes that read files (e.g. Fashion-MNIST)")
    train.add_argument("--resume", type=Path, help="continue from this checkpoint.safetensors")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-plots", action="store_true", help="do not write loss/accuracy PNGs")
    sub.add_parser("recipes", help="list the recipes")
    for name, (text, add_arguments, _run) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def make_optimizer(name, params, lr, weight_decay):
    from .. import optim  # noqa: PLC0415

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 0.01)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise UsageError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def cmd_recipes(out=None):
    from .recipes import RECIPES  # noqa: PLC0415

    out = out or sys.stdout
    for name, r in RECIPES.items():
        ok, reason = r.available()
        note = "" if ok else f"  [unavailable: {reason}]"
        print(
            f"{name:20s} {r.description} (epochs {r.epochs}, batch {r.batch_size}, {r.optimizer} lr {r.lr}){note}",
            file=out,
        )
    return 0


def cmd_train(args):
    import chainrule as cr  # noqa: PLC0415

    from ..data import DataLoader  # noqa: PLC0415
    from ..nn import functional as F  # noqa: PLC0415
    from .callbacks import KeepBest  # noqa: PLC0415
    from .metrics import accuracy  # noqa: PLC0415
    from .recipes import RECIPES  # noqa: PLC0415
    from .trainer import Trainer  # noqa: PLC0415

    if args.recipe not in RECIPES:
        raise UsageError(f"unknown recipe {args.recipe!r}; run 'chainrule recipes' to list them")
    r = RECIPES[args.recipe]
    if r.run is not None:
        return r.run(args, r)
    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"data directory {args.data} does not exist")
    ok, reason = r.available(args.data)
    if not ok:
        raise UsageError(reason)
    if args.resume is not None and not args.resume.is_file():
        raise UsageError(f"checkpoint {args.resume} does not exist")
    epochs = args.epochs or r.epochs
    batch_size = args.batch_size or r.batch_size
    lr = args.lr or r.lr
    opt_name = args.optimizer or r.optimizer
    weight_decay = r.weight_decay if args.weight_decay is None else args.weight_decay

    cr.manual_seed(args.seed)
    train_ds, val_ds, test_ds = r.build_data(args.seed, args.data)
    model = r.build_model()
    optimizer = make_optimizer(opt_name, model.parameters(), lr, weight_decay)
    scheduler = None
    if r.scheduler == "cosine":
        scheduler = cr.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader_gen = cr.Generator().manual_seed(args.seed + 1)
    train_loader = DataLoader(train_ds, batch_size=batch_size, shuffle=True, generator=loader_gen)
    val_loader = DataLoader(val_ds, batch_size=512)
    test_loader = DataLoader(test_ds, batch_size=512)
    run_dir = args.out or Path("runs") / f"{r.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if args.resume is not None and args.out is None:
        run_dir = args.resume.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"recipe {r.name}: {len(train_ds)} train / {len(val_ds)} val / {len(test_ds)} test samples; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters; {opt_name} lr {lr}, batch {batch_size}, "
        f"{epochs} epochs; run directory {run_dir}"
    )
    trainer = Trainer(
        model,
        optimizer,
        F.cross_entropy,
        train_loader,
        val_loader,
        scheduler=scheduler,
        metrics={"accuracy": accuracy},
        run_dir=run_dir,
        callbacks=[KeepBest("val_accuracy", "max")],
        progress=not args.no_progress,
        plots=not args.no_plots,
    )
    began = time.perf_counter()
    try:
        trainer.fit(epochs, resume=args.resume)
    except cr.io.CheckpointError as exc:
        raise UsageError(str(exc)) from None
    seconds = time.perf_counter() - began
    result = trainer.evaluate(test_loader, prefix="test")
    (run_dir / "result.txt").write_text(
        f"test_accuracy {result['test_accuracy']:.4f}\ntest_loss {result['test_loss']:.4f}\nseconds {seconds:.1f}\n"
    )
    print(
        f"test accuracy {result['test_accuracy']:.4f}  test loss {result['test_loss']:.4f}  ({seconds:.1f} s training)"
    )
    print(f"run directory: {run_dir}")
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "recipes":
            return cmd_recipes()
        if args.command in COMMANDS:
            return COMMANDS[args.command][2](args)
        parser.print_help()
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
