"""The ``chainrule`` command.

    chainrule train                      # the default recipe: a small CNN on the bundled digits
    chainrule train --recipe digits-mlp --epochs 20 --lr 0.01 --optimizer sgd --seed 1 --out runs/mlp
    chainrule train --resume runs/x/checkpoint.safetensors            # the same run, from the file alone
    chainrule train --resume runs/x/checkpoint.safetensors --epochs 30  # ... extended (a new cosine cycle)
    chainrule train --monitor            # gradient health: report, plot and one warning per problem
    chainrule train --find-lr            # learning-rate range test, then train with the suggested rate
    chainrule train --seeds 0,1,2        # restarts: the mean and spread of the test accuracy
    chainrule train --tensorboard        # TensorBoard event files in RUN_DIR/tensorboard (chainrule[tensorboard])
    chainrule recipes                    # list the recipes
    chainrule tune --recipe digits-mlp --trials 30   # hyperparameter search with Optuna (train/tune.py)
    chainrule export RUN_DIR model.onnx  # a trained run's model as ONNX (train/export.py)

Mistakes (an unknown option or recipe, a missing data directory, an
unreadable checkpoint, a flag that conflicts with the checkpoint being
resumed, a run directory that holds another run, a full disk) print one line
starting with ``error:`` and exit with a non-zero status.  A run's settings
are resolved once (``chainrule.train.settings``) and saved in its
checkpoints.
"""

from __future__ import annotations

import errno
import sys

from .commands import COMMANDS, UsageError, _Parser
from .run import add_train_command, cmd_recipes, cmd_train


def _parser():
    from .._version import __version__  # noqa: PLC0415
    from . import export, recipes, tune  # noqa: F401, PLC0415 - importing them registers their subcommands

    parser = _Parser(prog="chainrule", description="Train models with chainrule.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_train_command(sub)
    sub.add_parser("recipes", help="list the recipes")
    for name, (text, add_arguments, _run) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            if args.distributed:  # every rank runs this; rank 0 prints; a failure anywhere ends the job
                from .launcher import run_command  # noqa: PLC0415

                return run_command(cmd_train, args, UsageError)
            return cmd_train(args)
        if args.command == "recipes":
            return cmd_recipes()
        if args.command in COMMANDS:
            return COMMANDS[args.command][2](args)
        parser.print_help()
        return 2
    except UsageError as exc:
        print("error: " + "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (| head): stop quietly, as Unix tools do
        import os  # noqa: PLC0415

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the environment, not the code: a full disk, a read-only or vanished directory
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.EIO,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
    errno.EMFILE,
    errno.ENFILE,
    errno.EFBIG,
}


if __name__ == "__main__":
    sys.exit(main())
