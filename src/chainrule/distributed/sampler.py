"""DistributedSampler: each rank iterates over its own shard of the dataset, reshuffled every epoch.

Every rank draws the same permutation of the whole dataset from
``(seed, epoch)`` and takes every ``num_replicas``-th index starting at its
rank (PyTorch's layout).  Two consequences worth knowing:

* the permutation does not depend on the number of ranks, so a run resumed
  at an epoch boundary with a different number of ranks sees the same
  samples in each epoch;
* with a per-rank batch of ``B / num_replicas``, the union of the ranks'
  i-th batches is exactly the i-th batch of size ``B`` that one process
  would draw from the same permutation (sampler with ``num_replicas=1``).
  That is why data-parallel training over N ranks follows the single-process
  trajectory up to float rounding.

Call ``set_epoch(epoch)`` at the start of every epoch (the Trainer does);
without it every epoch has the same order.
"""

from __future__ import annotations

import numpy as np

from ..random import Generator, numpy_rng
from .errors import DistributedConfigError


class DistributedSampler:
    """Indices of this rank's shard of ``dataset`` (PyTorch's ``DistributedSampler``).

    ``num_replicas`` / ``rank`` default to the world's.  With
    ``drop_last=False`` the index list is padded by repeating its start so
    that every rank gets the same number of samples (ranks must run the same
    number of steps); with ``drop_last=True`` the tail is dropped instead.
    ``padding=False`` (chainrule's addition, for evaluation) neither pads nor
    drops: shards then differ in length by at most one and every sample is
    seen exactly once across ranks.

    Pass it as a DataLoader's ``sampler`` and call ``set_epoch(epoch)`` at the
    start of every epoch; ``state_dict``/``load_state_dict`` keep the epoch and
    seed in a checkpoint.

    Args:
        dataset: the dataset (anything with ``len()``).
        num_replicas: the number of shards; None means the world size.
        rank: this shard's index, 0 .. num_replicas - 1; None means this process's rank.
        shuffle: draw a new permutation each epoch from ``(seed, epoch)`` (the default); False keeps the order.
        seed: the seed of the permutations, the same on every rank; default 0.
        drop_last: drop the tail that does not divide evenly instead of padding; default False.
        padding: pad or drop so every rank gets the same count (the default); False for evaluation.

    Raises:
        DistributedConfigError: a bad ``num_replicas`` or ``rank``, or a dataset without ``len()``.

    Examples:
        >>> import chainrule.distributed as dist
        >>> sampler = dist.DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
        >>> sampler.indices().tolist()  # padded with the start so that every rank gets 4
        [1, 4, 7, 0]
        >>> dist.DistributedSampler(range(10), num_replicas=3, rank=2, shuffle=False, padding=False).indices().tolist()
        [2, 5, 8]
    """

    def __init__(
        self,
        dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        *,
        padding: bool = True,
    ):
        if num_replicas is None or rank is None:
            from .comm import world  # noqa: PLC0415

            group = world()
            num_replicas = group.size if num_replicas is None else num_replicas
            rank = group.rank if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise DistributedConfigError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise DistributedConfigError(
                f"DistributedSampler: invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        if not hasattr(dataset, "__len__"):
            raise DistributedConfigError(f"DistributedSampler: the dataset ({type(dataset).__name__}) has no len()")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.padding = bool(padding)
        self.epoch = 0

    @property
    def total_size(self) -> int:
        """The number of indices over all ranks per epoch (after padding or dropping)."""
        n = len(self.dataset)
        if not self.padding:
            return n
        if self.drop_last:
            return (n // self.num_replicas) * self.num_replicas
        return -(-n // self.num_replicas) * self.num_replicas

    @property
    def num_samples(self) -> int:
        """How many indices this rank yields per epoch."""
        return len(range(self.rank, self.total_size, self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` from now on (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = numpy_rng(Generator().manual_seed(self.seed + self.epoch)).permutation(n)
        else:
            order = np.arange(n)
        total = self.total_size
        if total > n:  # pad by repeating the start (as often as needed when n < num_replicas)
            order = np.resize(order, total) if n else order
        else:
            order = order[:total]
        return order[self.rank : total : self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self.indices())

    def state_dict(self) -> dict:
        """``{"epoch": ..., "seed": ...}``, for a checkpoint."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore the epoch and seed saved by ``state_dict``."""
        self.epoch = int(state["epoch"])
        self.seed = int(state["seed"])

    def __repr__(self):
        return (
            f"DistributedSampler(rank={self.rank}, num_replicas={self.num_replicas}, samples={self.num_samples}, "
            f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch})"
        )
