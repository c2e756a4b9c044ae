"""CPU threads: how many each BLAS call gets, decided by chainrule, never by two libraries at once.

What goes wrong without this (measured on a 2-core machine, issue #15):

* NumPy's wheels and SciPy's wheels each bundle their own OpenBLAS, each with
  a pool of one thread per core.  Idle OpenBLAS threads busy-wait (x86-64
  builds spin on ``nop``), so a step that called into both had four
  spinning threads on two cores: a 784-512-512-10 MLP step took 8.0 ms
  instead of 4.9 ms.
* On a busy machine a multi-threaded GEMM waits for its slowest thread; when
  a neighbour's process takes that thread's core, the others spin until it
  comes back.  A 64x256 @ 256x256 product that takes 0.09 ms on one thread
  took 22 ms with two; training the default recipe went from 4 s to 84 s.
  PyTorch's OpenMP threads collapse the same way.

So chainrule:

1. calls one BLAS pool only: NumPy's own OpenBLAS (``chainrule._cblas``),
   also for what it used SciPy's BLAS for (``out += a @ b``, ``axpy``); MKL,
   when the mkl extra is installed, runs on one thread per call (sequential).
2. sizes each call: OpenBLAS gives a GEMM at most one thread per 262,144
   multiply-adds (its ``GEMM_MULTITHREAD_THRESHOLD``), which our
   measurements put at the break-even point (two threads are 0.6-0.8x the
   one-thread time from about 1M multiply-adds, and equal below); a GEMM
   whose output is under 128 x 128 (weight gradients of narrow layers: long
   k, small m and n) runs on one thread whatever its size (two threads took
   1.2-3x as long), and so does a product over k < 128 into an output of at
   least 128 x 128 (a linear layer's weight gradient over a small batch:
   1.1-3.4x as long); GEMV-shaped reductions (column sums), which never gained
   from a second thread and lost up to 1.5x, always run on one.
3. watches for a busy machine: every 0.2 s of BLAS work it reads how long the
   calling thread sat runnable but waiting for a CPU (Linux
   ``/proc/thread-self/schedstat``).  Above 20% of the wall time the machine
   is oversubscribed and every BLAS call runs on one thread, which cannot be
   left waiting for a descheduled peer; after a back-off (1 s, doubling to
   32 s while the load lasts) it tries threads again for one window.
4. respects the user: ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/
   ``MKL_NUM_THREADS``, ``threadpoolctl`` limits (read before each threaded
   call) and ``set_num_threads``.

The default thread count is the number of physical cores this process may
run on (its CPU affinity, one per core when cores have SMT siblings), capped
by a cgroup CPU quota (containers), unless one of those variables is set.
On the 2-core machine here that is 2; on a 64-core server 64, with each
GEMM's own size limiting how many it uses.

Results: a different thread count can change the rounding of a GEMM in the
last bits (OpenBLAS splits some products differently), so the busy-machine
switch makes float results depend on the load.  ``use_deterministic_algorithms(True)``
turns the switch off: the thread count then depends only on the shapes and
``set_num_threads``, and a run repeats bit for bit.
"""

from __future__ import annotations

import math
import os
import threading
import time

from . import _cblas

__all__ = [
    "are_deterministic_algorithms_enabled",
    "get_num_threads",
    "info",
    "set_num_threads",
    "use_deterministic_algorithms",
]

#: BLAS calls with fewer multiply-adds than this run on one thread in OpenBLAS whatever its count, so
#: chainrule does not touch the count for them (OpenBLAS's SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD)
SERIAL_WORK = 65536 * 4
_NARROW = 128  # see plan_gemm
_WINDOW = 0.2  # seconds of wall time between two readings of the scheduler's statistics
_BUSY = 0.2  # waiting for a CPU more than this fraction of the wall time means the machine is oversubscribed
_BACKOFF_MIN, _BACKOFF_MAX = 1.0, 32.0
_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")


# --------------------------------------------------------------------------- the default


def _env_threads():
    """The smallest valid count among the thread variables the user set, or None."""
    counts = []
    for var in _ENV_VARS:
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            counts.append(int(value))
    return min(counts) if counts else None


def _allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def _physical_cores(cpus):
    """How many distinct cores the CPUs ``cpus`` belong to (Linux sysfs), or len(cpus) where unknown."""
    cores = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(base + "physical_package_id") as f:
                package = f.read().strip()
            with open(base + "core_id") as f:
                core = f.read().strip()
        except OSError:
            return len(cpus)
        cores.add((package, core))
    return len(cores) or len(cpus)


def _cgroup_quota():
    """The CPU quota of this process's cgroup (v2 ``cpu.max`` or v1 ``cfs_quota_us``), rounded up, or None."""
    for path, parse in (
        ("/sys/fs/cgroup/cpu.max", lambda text: text.split()),
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None),
    ):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if parse is not None:
            quota, period = (parse(text) + ["100000"])[:2]
        else:
            quota = text.strip()
            try:
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                    period = f.read().strip()
            except OSError:
                return None
        if quota in ("max", "-1") or not quota.lstrip("-").isdigit() or not period.isdigit() or int(period) <= 0:
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    return None


def default_num_threads() -> tuple[int, str]:
    """(count, why): the thread count chainrule uses when ``set_num_threads`` was not called."""
    env = _env_threads()
    if env is not None:
        return env, "set by the environment (" + ", ".join(v for v in _ENV_VARS if v in os.environ) + ")"
    cpus = _allowed_cpus()
    cores = _physical_cores(cpus)
    why = f"{cores} physical core(s) among the {len(cpus)} CPU(s) this process may use"
    quota = _cgroup_quota()
    if quota is not None and quota < cores:
        return quota, why + f", capped by a cgroup CPU quota of {quota}"
    return cores, why


# --------------------------------------------------------------------------- state


class _State:
    """Everything the policy keeps; one per process (the BLAS count is a process-wide setting)."""

    def __init__(self):
        self.configured = False
        self.blas = None  # _cblas.Cblas of NumPy's OpenBLAS, with its thread-count functions, or None
        self.explicit = None  # set_num_threads(n)
        self.default = (1, "not configured yet")
        self.deterministic = False
        self.lock = threading.Lock()
        self.depth = 0  # calls now running with a count other than the ambient one
        self.ambient = 1  # the count to restore when the last of them ends
        # busy-machine detection (see _Detector)
        self.detector = _Detector()


class _Detector:
    """Is the machine oversubscribed?  From the calling thread's run-queue wait (Linux schedstat)."""

    def __init__(self):
        self.available = os.path.exists("/proc/thread-self/schedstat")
        self.busy = False
        self.deadline = 0.0  # perf_counter time of the next reading
        self.baselines = {}  # thread id -> (wall time, run-queue wait) of that thread's previous reading
        self.busy_until = 0.0
        self.backoff = _BACKOFF_MIN
        self.probing = False
        self.readings = 0
        self.last_fraction = None

    def _read(self):
        with open("/proc/thread-self/schedstat", "rb") as f:
            fields = f.read().split()
        return int(fields[1])  # nanoseconds spent runnable, waiting on a run queue

    def check(self, now):
        """Called at most once per window by ``_contended``: update and return ``busy``."""
        self.deadline = now + _WINDOW
        try:
            wait = self._read()
        except (OSError, ValueError, IndexError):
            self.available = False
            self.busy = False
            return False
        me = threading.get_ident()
        previous = self.baselines.get(me)
        if len(self.baselines) > 256:  # threads come and go: forget the old ones
            self.baselines.clear()
        self.baselines[me] = (now, wait)
        if previous is None:  # this thread's first reading: a baseline
            return self.busy
        fraction = (wait - previous[1]) / 1e9 / max(now - previous[0], 1e-9)
        self.readings += 1
        self.last_fraction = fraction
        if self.busy:
            if now >= self.busy_until:  # back-off over: try threads again for one window
                self.busy, self.probing = False, True
            return self.busy
        if fraction > _BUSY:
            # a probe that met the load again waits twice as long before the next one
            self.backoff = min(self.backoff * 2, _BACKOFF_MAX) if self.probing else _BACKOFF_MIN
            self.busy, self.probing, self.busy_until = True, False, now + self.backoff
        elif self.probing:
            self.probing, self.backoff = False, _BACKOFF_MIN
        return self.busy


_STATE = _State()
_perf_counter = time.perf_counter


def _configure():
    """Find NumPy's BLAS and settle the default count (once, on first use)."""
    state = _STATE
    with state.lock:
        if state.configured:
            return
        state.blas = blas = _cblas.numpy_blas()
        if blas is not None and blas.get_threads is None:
            state.blas = None
        state.default = default_num_threads()
        if state.blas is not None and _env_threads() is None:
            # OpenBLAS starts one thread per CPU of the affinity mask; chainrule's default is the physical cores
            # under any cgroup quota.  Only OpenBLAS's own default is replaced, not a count someone else set.
            current = state.blas.get_threads()
            if current == min(len(_allowed_cpus()), 64) and current != state.default[0]:
                state.blas.set_threads(state.default[0])
        state.configured = True


def _contended():
    det = _STATE.detector
    if _STATE.deterministic or not det.available:
        return False
    now = _perf_counter()
    if now < det.deadline:
        return det.busy
    return det.check(now)


# --------------------------------------------------------------------------- the public knobs


def get_num_threads() -> int:
    """The number of threads chainrule's CPU kernels (BLAS included) may use (PyTorch's name).

    It is the count last given to ``set_num_threads``, else the current
    thread count of NumPy's BLAS (which follows ``threadpoolctl`` limits),
    else chainrule's default (see ``info()``).

    Returns:
        A positive int.

    Examples:
        >>> n = cr.threads.get_num_threads()
        >>> n >= 1
        True
    """
    if not _STATE.configured:
        _configure()
    if _STATE.blas is not None:
        return int(_STATE.blas.get_threads())
    return _STATE.explicit or _STATE.default[0]


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for chainrule's CPU kernels (PyTorch's name).

    This sets the thread count of NumPy's OpenBLAS, the one BLAS pool
    chainrule calls, so NumPy code in the same process follows it too.
    Each call still gets no more threads than its size pays for, and one
    while the machine is oversubscribed (see the module docstring).

    Args:
        n: the most threads one call may use, a positive int.

    Raises:
        ValueError: ``n`` is not a positive int.

    Examples:
        >>> before = cr.threads.get_num_threads()
        >>> cr.threads.set_num_threads(1)
        >>> cr.threads.get_num_threads()
        1
        >>> cr.threads.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    if not _STATE.configured:
        _configure()
    with _STATE.lock:
        _STATE.explicit = n
        if _STATE.blas is not None:
            _STATE.blas.set_threads(n)
            _STATE.ambient = n
            return
    try:  # NumPy on another BLAS (MKL, Accelerate, BLIS): threadpoolctl knows how to set its count
        import threadpoolctl  # noqa: PLC0415

        threadpoolctl.threadpool_limits(limits=n, user_api="blas")
    except ImportError:
        pass


def use_deterministic_algorithms(mode: bool) -> None:
    """``True``: results repeat bit for bit from run to run (PyTorch's name).

    In chainrule this turns off the busy-machine switch (the only thing that
    makes a CPU result depend on timing): each BLAS call's thread count then
    depends on its shapes and ``set_num_threads`` alone.  On a busy machine
    that can make multi-threaded GEMMs much slower; ``set_num_threads(1)``
    is deterministic and immune to load.

    Args:
        mode: True to make results repeat, False (the default state) to let a busy machine drop to one thread.

    Examples:
        >>> cr.threads.use_deterministic_algorithms(True)
        >>> cr.threads.are_deterministic_algorithms_enabled()
        True
        >>> cr.threads.use_deterministic_algorithms(False)
    """
    _STATE.deterministic = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in effect.

    Returns:
        A bool; False by default.

    Examples:
        >>> cr.threads.are_deterministic_algorithms_enabled()
        False
    """
    return _STATE.deterministic


def info() -> dict:
    """What the thread policy sees now: counts, why, the BLAS libraries loaded, the busy-machine state.

    Returns:
        A dict with ``num_threads`` (as ``get_num_threads``), ``set_by_user``
        (whether ``set_num_threads`` was called), ``default`` and
        ``default_reason`` (the count chainrule chose and why), ``numpy_blas``
        (the path of NumPy's OpenBLAS, or None), ``deterministic``,
        ``busy_detection`` (whether the busy-machine switch is active),
        ``machine_busy``, ``last_wait_fraction`` (the share of the last window
        spent waiting for a CPU, or None) and ``libraries`` (``threadpoolctl``'s
        view of the BLAS and OpenMP libraries loaded, empty without it).

    Examples:
        >>> report = cr.threads.info()
        >>> report["num_threads"] == cr.threads.get_num_threads(), type(report["default_reason"])
        (True, <class 'str'>)
    """
    if not _STATE.configured:
        _configure()
    det = _STATE.detector
    libraries = []
    try:
        import threadpoolctl  # noqa: PLC0415

        libraries = [
            {key: lib.get(key) for key in ("internal_api", "filepath", "num_threads", "version")}
            for lib in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pass
    return {
        "num_threads": get_num_threads(),
        "set_by_user": _STATE.explicit is not None,
        "default": _STATE.default[0],
        "default_reason": _STATE.default[1],
        "numpy_blas": _STATE.blas.path if _STATE.blas is not None else None,
        "deterministic": _STATE.deterministic,
        "busy_detection": det.available and not _STATE.deterministic,
        "machine_busy": det.busy,
        "last_wait_fraction": det.last_fraction,
        "libraries": libraries,
    }


# --------------------------------------------------------------------------- what the kernels call


def plan(work: int) -> int:
    """How many threads a BLAS call of ``work`` multiply-adds (elements, for a level-1 call) may use now.

    1 below ``SERIAL_WORK`` and while the machine is busy; otherwise the
    BLAS's current count, within which OpenBLAS limits the threads by size.
    """
    if work < SERIAL_WORK:
        return 1
    if not _STATE.configured:
        _configure()
    blas = _STATE.blas
    if blas is None:
        return _STATE.explicit or _STATE.default[0]
    if _contended():
        return 1
    return blas.get_threads()


def plan_gemm(m: int, k: int, n: int) -> int:
    """``plan`` for one (m, k) @ (k, n) product, with two more cases on one thread whatever their size.

    OpenBLAS splits a product's output among its threads.  An output under
    128 rows and under 128 columns leaves each thread a sliver while all of
    them pack the long k dimension (a convolution's weight gradient, 16 x 32
    over k = 14,400, took 3x as long on two threads; 64 x 64 over k = 4,096,
    1.3x).  And a wide output over a short k (a linear layer's weight
    gradient, ``x.T @ g`` over a batch of 16-96) is mostly writing, which two
    threads did 1.1-3.4x slower (256 x 256 over k = 64: 1.35x).
    """
    if m * k * n < SERIAL_WORK or (m < _NARROW and n < _NARROW) or (k < _NARROW and m >= _NARROW and n >= _NARROW):
        return 1
    return plan(SERIAL_WORK)


def blas_call(threads: int, fn, *args):
    """``fn(*args)``, a NumPy call that runs NumPy's BLAS: on one thread if ``threads == 1``, else as set.

    The count is lowered for the call and restored afterwards (the last of
    several overlapping calls from different Python threads restores it), so
    a user's own setting survives.
    """
    state = _STATE
    if not state.configured:
        _configure()
    blas = state.blas
    if threads != 1 or blas is None:
        return fn(*args)
    with state.lock:
        if state.depth == 0:
            state.ambient = blas.get_threads()
            if state.ambient == 1:
                blas = None  # already on one thread: nothing to lower or restore
        if blas is not None:
            state.depth += 1
            blas.set_threads(1)
    if blas is None:
        return fn(*args)
    try:
        return fn(*args)
    finally:
        with state.lock:
            state.depth -= 1
            if state.depth == 0:
                blas.set_threads(state.ambient)
