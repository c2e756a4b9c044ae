"""What a training loop needs to run data-parallel, in one object the Trainer consults.

::

    dist = DistributedTraining()                       # joins MPI's world (or a world of one)
    model = dist.wrap(model)                           # DistributedDataParallel
    train_loader = dist.train_loader(train_ds, global_batch_size=64, seed=0)
    val_loader = dist.eval_loader(val_ds, batch_size=512)
    Trainer(model, optimizer, loss_fn, train_loader, val_loader, run_dir=..., distributed=dist).fit(10)

The Trainer asks it two things: ``is_main`` (only rank 0 prints, shows a
progress bar and writes metrics, plots and checkpoints) and
``reduce_totals`` (epoch losses and metrics are summed over ranks, so every
rank sees, logs and acts on the global values: early stopping and LR
plateaus stay in step).
"""

from __future__ import annotations

import numpy as np

from .comm import ReduceOp, init
from .ddp import DistributedDataParallel
from .errors import DistributedConfigError
from .sampler import DistributedSampler


class DistributedTraining:
    """Rank, world size and the data-parallel pieces of one run (``group`` defaults to the world).

    Pass it to the ``Trainer`` as ``distributed=``: only the main rank prints
    and writes files, and epoch totals are summed over ranks. ``wrap(model)``
    gives a ``DistributedDataParallel``; ``train_loader``/``eval_loader`` give
    DataLoaders over this rank's shard (the global batch is divided among the
    ranks).

    Args:
        group: the ``ProcessGroup``; None joins the world with ``init(timeout)``.
        timeout: seconds a collective may wait when joining the world; None means the default.

    Examples:
        >>> import chainrule.distributed as dist
        >>> run = dist.DistributedTraining()  # a world of one without mpiexec
        >>> run, run.is_main, run.local_batch_size(64)
        (DistributedTraining(rank=0, world_size=1), True, 64)
        >>> dataset = cr.data.TensorDataset(cr.arange(10).float(), cr.arange(10))
        >>> len(run.train_loader(dataset, global_batch_size=4, seed=0))
        3
    """

    def __init__(self, group=None, timeout=None):
        self.group = group if group is not None else init(timeout)

    @property
    def rank(self) -> int:
        """This process's rank."""
        return self.group.rank

    @property
    def world_size(self) -> int:
        """The number of ranks."""
        return self.group.size

    @property
    def is_main(self) -> bool:
        """True on rank 0, which alone prints and writes files."""
        return self.group.rank == 0

    def __repr__(self):
        return f"DistributedTraining(rank={self.rank}, world_size={self.world_size})"

    def wrap(self, model, **kwargs) -> DistributedDataParallel:
        """``DistributedDataParallel(model, process_group=self.group, **kwargs)``."""
        return DistributedDataParallel(model, process_group=self.group, **kwargs)

    def local_batch_size(self, global_batch_size: int) -> int:
        """The per-rank batch: the global batch divided by the number of ranks, which must divide it."""
        if global_batch_size % self.world_size:
            raise DistributedConfigError(
                f"the batch size {global_batch_size} is the global batch and must be divisible by the number of "
                f"ranks ({self.world_size}); choose a multiple of {self.world_size}"
            )
        return global_batch_size // self.world_size

    def train_loader(self, dataset, global_batch_size: int, seed: int = 0, drop_last: bool = False):
        """A DataLoader over this rank's shard, reshuffled each epoch (the Trainer calls ``set_epoch``)."""
        from ..data import DataLoader  # noqa: PLC0415

        sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=True, seed=seed, drop_last=drop_last)
        return DataLoader(dataset, batch_size=self.local_batch_size(global_batch_size), sampler=sampler)

    def eval_loader(self, dataset, batch_size: int):
        """A DataLoader over this rank's share of ``dataset``: every sample once across ranks, in order."""
        from ..data import DataLoader  # noqa: PLC0415

        sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=False, padding=False)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)

    def reduce_totals(self, totals: dict, count):
        """Sum the values of ``totals`` and ``count`` over ranks (one all-reduce); returns ``(totals, count)``."""
        if self.world_size == 1:
            return totals, count
        keys = list(totals)
        array = np.array([float(totals[k]) for k in keys] + [float(count)], dtype=np.float64)
        self.group.all_reduce(array, ReduceOp.SUM, "the all-reduce of epoch metrics")
        return dict(zip(keys, array[:-1].tolist())), array[-1].item()

    def barrier(self) -> None:
        """Wait until every rank has reached this point."""
        self.group.barrier()
