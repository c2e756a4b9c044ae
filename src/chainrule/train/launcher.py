"""``chainrule train --distributed``: the glue between the command and ``chainrule.distributed``.

    mpiexec -n 4 chainrule train --distributed --recipe digits-cnn --out runs/cnn4

Every rank runs the same command.  ``--batch-size`` (or the recipe's) is the
*global* batch, split evenly over the ranks, so the learning rate and the
trajectory stay those of a single-process run (up to float rounding and
BatchNorm statistics, which stay per rank).  Rank 0 alone prints, shows
progress and writes the run directory; a failure on any rank ends the job.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..distributed.errors import DistributedError


def run_command(command, args, usage_error=Exception) -> int:
    """Run ``command(args)`` on every rank: stdout only on rank 0; a mistake or failure on any rank ends the job.

    ``usage_error`` (the CLI's exception for user mistakes) and
    ``DistributedError`` are reported as one ``error:`` line (prefixed with
    the rank when there are several) and give exit status 1.
    """
    from ..distributed.comm import init  # noqa: PLC0415
    from ..distributed.launch import abort_with, run_guarded  # noqa: PLC0415

    try:
        group = init()
    except DistributedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def guarded(args):
        try:
            _check_supported(args)
            if group.rank == 0:
                return command(args)
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                return command(args)
        except (usage_error, DistributedError) as exc:
            where = f" (rank {group.rank} of {group.size})" if group.size > 1 else ""
            print(f"error{where}: {exc}", file=sys.stderr, flush=True)
            if group.size > 1:
                abort_with(group, f"rank {group.rank} stopped on an error", 1)
            return 1

    return run_guarded(guarded, args, group=group)


def _check_supported(args) -> None:
    from .recipes import RECIPES  # noqa: PLC0415

    recipe = RECIPES.get(getattr(args, "recipe", None))
    if recipe is not None and recipe.run is not None:
        raise DistributedError(f"recipe {recipe.name} runs its own training loop, which does not support --distributed")
    if getattr(args, "find_lr", False):
        raise DistributedError(
            "--find-lr with --distributed would let every rank pick its own rate from its own losses; "
            "run the range test without --distributed and pass the rate with --lr"
        )


def distribute(model, train_ds, val_ds, test_ds, global_batch_size: int, seed: int):
    """The data-parallel model and loaders: (DDP model, (train, val, test) loaders over this rank's shards)."""
    from ..distributed.training import DistributedTraining  # noqa: PLC0415

    training = DistributedTraining()
    loaders = (
        training.train_loader(train_ds, global_batch_size, seed),
        training.eval_loader(val_ds, 512),
        training.eval_loader(test_ds, 512),
    )
    return training.wrap(model), loaders
