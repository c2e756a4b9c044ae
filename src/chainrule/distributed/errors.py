"""The errors ``chainrule.distributed`` raises."""

from __future__ import annotations

from ..errors import ChainruleError


class DistributedError(ChainruleError):
    """Ranks that cannot work together: different models, a failed rank, MPI missing where it is needed.

    The base class of chainrule.distributed's errors.

    Examples:
        >>> import chainrule.distributed as dist
        >>> issubclass(dist.DistributedTimeoutError, dist.DistributedError)
        True
    """


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective operation did not complete in time: another rank has most likely died or diverged.

    The limit is ``init(timeout=...)`` or ``$CHAINRULE_DIST_TIMEOUT``. Also a
    ``TimeoutError``; uncaught, it aborts every rank.

    Examples:
        >>> import chainrule.distributed as dist
        >>> issubclass(dist.DistributedTimeoutError, TimeoutError)
        True
    """


class DistributedConfigError(DistributedError, ValueError):
    """An argument that cannot work: a batch size not divisible by the number of ranks, a bad rank, ...

    Also a ``ValueError``.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.DistributedSampler(range(10), num_replicas=2, rank=2)
        Traceback (most recent call last):
            ...
        chainrule.distributed.errors.DistributedConfigError: DistributedSampler: invalid rank 2, ...
    """
