"""The plumbing every ``chainrule`` subcommand shares: the command table, one-line errors, argument types.

The modules that add a subcommand (``run``, ``tune``, ``export``,
``recipes_recsys``, ``recipes_text``) import from here and ``cli.py`` imports
them, so the command line has one direction: ``cli`` -> commands -> this.
"""

from __future__ import annotations

import argparse
import math
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


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive_float(text):
    value = _finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _nonnegative_float(text):
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**63 - 1, got {text}")
    return value


def _seed_list(text):
    try:
        seeds = [_seed(part) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers >= 0 such as 0,1,2, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("needs at least one seed, such as 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"lists a seed twice: {text}")
    return seeds


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


# what a run directory holds once a run has written to it
RUN_FILES = ("checkpoint.safetensors", "metrics.jsonl", "best.safetensors", "result.txt", "result.json", "seeds.json")


def _saved_run(path: Path):
    """(settings dict, epochs done) from the checkpoint a run is to resume."""
    from ..io import CheckpointError  # noqa: PLC0415
    from .checkpoint import load_checkpoint  # noqa: PLC0415

    if not path.is_file():
        raise UsageError(f"checkpoint {path} does not exist")
    try:
        state = load_checkpoint(path, restore_rng=False)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    extra = state.get("extra")
    run = extra.get("run") if isinstance(extra, dict) else None
    if run is None:
        raise UsageError(
            f"{path} holds no run settings (it was not written by 'chainrule train'), so it cannot be resumed from "
            "the file alone"
        )
    epoch = state.get("epoch")
    if type(epoch) is not int or epoch < 0:
        raise UsageError(f"{path} records an invalid epoch {epoch!r}")
    return run, epoch


def extra_callbacks(args, run_dir) -> list:
    """Callbacks a run adds beyond its recipe's: ``args.callbacks`` (``chainrule tune``'s pruning) and --tensorboard."""
    callbacks = []
    where = getattr(args, "tensorboard", None)
    if where is not None:
        from .tensorboard import TensorBoard  # noqa: PLC0415

        callbacks.append(TensorBoard(Path(where) if where else Path(run_dir) / "tensorboard"))
    return callbacks + list(getattr(args, "callbacks", None) or ())  # a pruning callback may raise: last
