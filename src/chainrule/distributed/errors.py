"""The errors ``chainrule.distributed`` raises."""

from __future__ import annotations

from ..errors import ChainruleError


class DistributedError(ChainruleError):
    """Ranks that cannot work together: different models, a failed rank, MPI missing where it is needed."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective operation did not complete in time: another rank has most likely died or diverged."""


class DistributedConfigError(DistributedError, ValueError):
    """An argument that cannot work: a batch size not divisible by the number of ranks, a bad rank, ..."""
