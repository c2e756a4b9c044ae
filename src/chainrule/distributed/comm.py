"""The process group: rank, world size and collective operations over MPI (mpi4py).

A process started by an MPI launcher (``mpiexec -n 4 python train.py``) joins
``MPI.COMM_WORLD``; a process started any other way is a world of one and
needs neither MPI nor mpi4py, so the same script runs unchanged on a laptop.

Every wait is a polling loop with a deadline (``timeout``, default 1800 s,
or the ``CHAINRULE_DIST_TIMEOUT`` environment variable): MPI itself has no
timeouts, and a rank that has died or gone down a different code path would
otherwise leave the others blocked forever.  A timeout raises
:class:`DistributedTimeoutError`, which, uncaught, aborts every rank (see
``launch.py``).

Only buffer-based (uppercase) mpi4py calls are used, on contiguous NumPy
arrays: nothing is ever pickled.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from typing import Any

import numpy as np

from .errors import DistributedConfigError, DistributedError, DistributedTimeoutError

DEFAULT_TIMEOUT = 1800.0
TIMEOUT_ENV = "CHAINRULE_DIST_TIMEOUT"

# variables the common launchers set in every process they start
_LAUNCHER_ENV = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


class ReduceOp:
    """Reduction operators, named as in ``torch.distributed.ReduceOp``.

    The values are strings: ``SUM``, ``AVG`` (the sum divided by the world
    size), ``MAX``, ``MIN`` and ``PRODUCT``; ``ALL`` lists them.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.ReduceOp.AVG, dist.ReduceOp.ALL
        ('avg', ('sum', 'avg', 'max', 'min', 'product'))
    """

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"

    ALL = (SUM, AVG, MAX, MIN, PRODUCT)


def launched_by_mpi() -> bool:
    """True when an MPI launcher (mpiexec/mpirun/srun with PMI) started this process.

    Decided from the environment variables the common launchers set
    (``PMI_SIZE``, ``PMI_RANK``, ``OMPI_COMM_WORLD_SIZE``, ...); mpi4py is not
    imported.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.launched_by_mpi()  # a plain python process
        False
    """
    return any(name in os.environ for name in _LAUNCHER_ENV)


def _seconds(timeout) -> float:
    if timeout is None:
        text = os.environ.get(TIMEOUT_ENV)
        if not text:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(text)
        except ValueError:
            raise DistributedConfigError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    timeout = float(timeout)
    if not timeout > 0:
        raise DistributedConfigError(f"timeout must be a positive number of seconds, got {timeout}")
    return timeout


_yield = getattr(os, "sched_yield", lambda: None)


def _mpi():
    try:
        import mpi4py  # noqa: PLC0415

        if "mpi4py.MPI" not in sys.modules:  # one thread talks to MPI: skip MPI_THREAD_MULTIPLE's locking
            mpi4py.rc.thread_level = "funneled"
        from mpi4py import MPI  # noqa: PLC0415
    except ImportError:
        raise DistributedError(
            "this process was started by an MPI launcher, but mpi4py is not installed: "
            "pip install 'chainrule[mpi]' (or: pip install mpi4py mpich)"
        ) from None
    return MPI


class ProcessGroup:
    """A set of ranks that run collectives together (PyTorch's process group, over one MPI communicator).

    ``comm`` is an mpi4py communicator, or None for a world of one process
    (every collective is then a local no-op).  ``timeout`` (seconds) bounds
    every wait. Usually obtained from ``init()`` or ``world()`` rather than
    built by hand; its collectives work on contiguous NumPy arrays.

    Args:
        comm: an mpi4py communicator, or None for a world of one.
        timeout: seconds any wait may take (a number or a ``datetime.timedelta``); None means
            ``$CHAINRULE_DIST_TIMEOUT``, else 1800.
        local_rank: this rank's index on its machine; None means the rank.
        local_size: the number of ranks on this machine; None means the world size.

    Raises:
        DistributedConfigError: a timeout that is not a positive number.

    Examples:
        >>> import chainrule.distributed as dist
        >>> group = dist.ProcessGroup(None, timeout=60)
        >>> group
        ProcessGroup(rank=0, size=1, backend=local, timeout=60s)
        >>> group.all_reduce(np.array([1.0, 2.0]), dist.ReduceOp.SUM)
        array([1., 2.])
    """

    def __init__(self, comm=None, timeout=None, local_rank: int | None = None, local_size: int | None = None):
        self.comm = comm
        self.timeout = _seconds(timeout)
        if comm is None:
            self.rank, self.size = 0, 1
        else:
            self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.local_rank = self.rank if local_rank is None else local_rank
        self.local_size = self.size if local_size is None else local_size
        self._mpi: Any = _mpi() if comm is not None else None

    def __repr__(self):
        backend = "mpi" if self.comm is not None else "local"
        return f"ProcessGroup(rank={self.rank}, size={self.size}, backend={backend}, timeout={self.timeout:g}s)"

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that writes files and prints."""
        return self.rank == 0

    def dup(self) -> ProcessGroup:
        """A new group over the same ranks with its own communicator (collective: every rank must call it)."""
        if self.comm is None:
            return ProcessGroup(None, self.timeout)
        return ProcessGroup(self.comm.Dup(), self.timeout, self.local_rank, self.local_size)

    # ------------------------------------------------------------------ waiting

    def test(self, requests) -> bool:
        """Let MPI progress the pending ``requests``; True when all are complete."""
        live = [r for r in requests if r is not None]
        return not live or self._mpi.Request.Testall(live)

    def wait(self, requests, what: str) -> float:
        """Wait for ``requests`` (mpi4py Requests or None), at most ``timeout`` seconds; returns the seconds waited.

        Spins (yielding the CPU) for the first couple of milliseconds, then
        sleeps in growing steps of at most half a millisecond, so that ranks
        sharing cores do not starve one another.
        """
        live = [r for r in requests if r is not None]
        if not live:
            return 0.0
        testall = self._mpi.Request.Testall
        start = time.perf_counter()
        if testall(live):
            return time.perf_counter() - start
        deadline = start + self.timeout
        delay = 0.0
        while True:
            now = time.perf_counter()
            if now - start > 0.002:
                delay = min(delay * 2 if delay else 2e-5, 5e-4)
                time.sleep(delay)
            else:
                _yield()
            if testall(live):
                return time.perf_counter() - start
            if now > deadline:
                raise DistributedTimeoutError(
                    f"rank {self.rank} of {self.size}: {what} did not complete within {self.timeout:g} s; "
                    "another rank has probably failed, exited early, or is waiting in a different operation "
                    f"(the limit is init(timeout=...) or {TIMEOUT_ENV})"
                )

    # ------------------------------------------------------------------ collectives on arrays

    def _op(self, op):
        if op not in ReduceOp.ALL:
            raise DistributedConfigError(f"unknown reduce op {op!r}; use one of {', '.join(ReduceOp.ALL)}")
        mpi = self._mpi
        if mpi is None:
            return None
        return {"sum": mpi.SUM, "avg": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN, "product": mpi.PROD}[op]

    @staticmethod
    def _check_array(array, what):
        if not isinstance(array, np.ndarray):
            raise DistributedConfigError(f"{what}: expected a NumPy array, got {type(array).__name__}")
        if not array.flags.c_contiguous or not array.flags.writeable:
            raise DistributedConfigError(f"{what}: the array must be C-contiguous and writeable")
        if array.dtype.kind not in "biuf":
            raise DistributedConfigError(f"{what}: cannot reduce arrays of dtype {array.dtype}")

    def iall_reduce(self, array: np.ndarray, op: str = ReduceOp.SUM):
        """Start an in-place all-reduce of ``array``; returns a request for :meth:`wait` (None for one rank).

        ``avg`` is summed here; the caller divides by ``size`` after the wait.
        """
        self._check_array(array, "all_reduce")
        mpi_op = self._op(op)
        if self.comm is None:
            return None
        return self.comm.Iallreduce(self._mpi.IN_PLACE, array, op=mpi_op)

    def all_reduce(self, array: np.ndarray, op: str = ReduceOp.SUM, what: str = "all_reduce") -> np.ndarray:
        """Reduce ``array`` over all ranks in place and return it (``avg`` divides by the world size)."""
        if op == ReduceOp.AVG and array.dtype.kind != "f":
            raise DistributedConfigError(f"all_reduce: op 'avg' needs a floating-point array, got {array.dtype}")
        request = self.iall_reduce(array, op)
        self.wait([request], what)
        if op == ReduceOp.AVG and self.size > 1:
            array *= array.dtype.type(1.0 / self.size)
        return array

    def broadcast(self, array: np.ndarray, root: int = 0, what: str = "broadcast") -> np.ndarray:
        """Copy ``array`` from rank ``root`` into ``array`` on every rank (in place) and return it."""
        self._check_array(array, what)
        self._check_root(root)
        if self.comm is not None:
            self.wait([self.comm.Ibcast(array, root=root)], what)
        return array

    def all_gather(self, array: np.ndarray, what: str = "all_gather") -> np.ndarray:
        """Every rank's ``array`` stacked along a new first axis, shape ``(size, *array.shape)``."""
        array = np.ascontiguousarray(array)
        out = np.empty((self.size, *array.shape), dtype=array.dtype)
        if self.comm is None:
            out[0] = array
            return out
        self.wait([self.comm.Iallgather(array, out)], what)
        return out

    def barrier(self, what: str = "barrier") -> None:
        """Wait until every rank has reached this point."""
        if self.comm is not None:
            self.wait([self.comm.Ibarrier()], what)

    def abort(self, code: int = 1) -> None:
        """End every rank of the job at once (MPI_Abort); in a world of one, exit this process with ``code``."""
        if self.comm is None:
            os._exit(code)
        self._mpi.COMM_WORLD.Abort(code)

    def _check_root(self, root):
        if not isinstance(root, (int, np.integer)) or not 0 <= root < self.size:
            raise DistributedConfigError(f"root rank must be in [0, {self.size}), got {root!r}")


# --------------------------------------------------------------------------- the world

_WORLD: ProcessGroup | None = None


def init(timeout=None, abort_on_exception: bool = True) -> ProcessGroup:
    """Join the job: MPI's world when started by an MPI launcher, otherwise a world of one process.

    Idempotent (a second call returns the same group; a given ``timeout``
    replaces the old one).  With ``abort_on_exception`` (default) and more
    than one rank, an uncaught exception or a SIGTERM on any rank prints the
    rank and the traceback and aborts the whole job instead of leaving the
    other ranks waiting. Also exported as ``init_process_group``.

    Args:
        timeout: seconds any collective may wait (a number or a ``datetime.timedelta``); None keeps the current
            one, or ``$CHAINRULE_DIST_TIMEOUT``, else 1800.
        abort_on_exception: install the fault handlers that abort every rank when one fails; default True.

    Returns:
        The world ``ProcessGroup``.

    Raises:
        DistributedError: started by an MPI launcher but mpi4py is not installed.
        DistributedConfigError: a timeout that is not a positive number.

    Examples:
        >>> import chainrule.distributed as dist
        >>> world = dist.init()
        >>> world.rank, world.size, dist.init() is world
        (0, 1, True)
    """
    global _WORLD  # noqa: PLW0603
    if _WORLD is not None:
        if timeout is not None:
            _WORLD.timeout = _seconds(timeout)
        return _WORLD
    seconds = _seconds(timeout)
    if launched_by_mpi():
        mpi = _mpi()
        comm = mpi.COMM_WORLD
        local = comm.Split_type(mpi.COMM_TYPE_SHARED)
        world = ProcessGroup(comm, seconds, local.Get_rank(), local.Get_size())
        local.Free()
    else:
        world = ProcessGroup(None, seconds)
    _WORLD = world
    if abort_on_exception and world.size > 1:
        from .launch import install_fault_handlers  # noqa: PLC0415

        install_fault_handlers(world)
    return world


def world() -> ProcessGroup:
    """The world group, joining it first if needed.

    Returns:
        The world ``ProcessGroup`` (what ``init()`` returns).

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.world() is dist.init()
        True
    """
    return _WORLD if _WORLD is not None else init()


def is_initialized() -> bool:
    """Whether ``init()`` has been called (directly or through a collective or ``world()``) in this process.

    Returns:
        A bool.

    Examples:
        >>> import chainrule.distributed as dist
        >>> _ = dist.init()
        >>> dist.is_initialized()
        True
    """
    return _WORLD is not None
