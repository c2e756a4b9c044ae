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
   1.2-3x as long); GEMV-shaped reductions (column sums), which never gained
   from a second thread and lost up to 1.5x, always run on one.  A product
   over k < 128 into an output of at least 128 x 128 (a linear layer's weight
   gradient over a small batch) gets a measured choice of its own (below):
   two threads took 0.6-0.87x the one-thread time in one run and up to 1.67x
   minutes later, and 1.1-3.4x under load.
3. measures whether a second thread pays, now: it times the GEMMs that may
   run threaded, and from time to time (and as soon as their speed drifts)
   runs a short trial that gives alternate calls one thread and all threads.
   Threads are kept only while they take at most 0.9x the one-thread time per
   multiply-add.  On a machine whose other processes keep the cores busy a
   threaded GEMM waits for its slowest thread, and its others spin while a
   neighbour holds that core (a 64x256 @ 256x256 product measured 52-540 us on
   two threads against 90 us on one, within a minute, as neighbours came and
   went); the trial sees that in a few milliseconds, and every BLAS call then
   runs on one thread until a later trial finds threads faster again (trials
   back off from 0.5 s to 16 s while the answer holds).  The wide-output,
   short-k products have a second chooser of their own, asked only while
   the first says threads pay; while it says one thread, each of those calls
   lowers the count to one for itself (the BLAS is not held for them).
4. respects the user: ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/
   ``MKL_NUM_THREADS``, ``threadpoolctl`` limits (read before each threaded
   call) and ``set_num_threads``.

The default thread count is the number of physical cores this process may
run on (its CPU affinity, one per core when cores have SMT siblings), capped
by a cgroup CPU quota (containers), unless one of those variables is set.
On the 2-core machine here that is 2; on a 64-core server 64, with each
GEMM's own size limiting how many it uses.

Results: a different thread count can change the rounding of a GEMM in the
last bits (OpenBLAS splits some products differently), so choosing the count
by measured speed makes float results depend on the load.  ``use_deterministic_algorithms(True)``
turns the measuring off: the thread count then depends only on the shapes and
``set_num_threads``, and a run repeats bit for bit.
"""

from __future__ import annotations

import math
import os
import threading
import time
from statistics import median

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
_SERIAL = {"eltwise": 32768}  # omp_call: calls of fewer units than this run on one thread (others: SERIAL_WORK)
_WINDOW = 0.2  # seconds of wall time over which the speed of threaded (or one-thread) GEMMs is averaged
_GAIN = 0.9  # threads are kept while they take at most this fraction of the one-thread time per multiply-add
_DRIFT = 1.5  # a window this much slower (threads) or faster (one thread) than the last trial starts a new trial
# (threads: and slower than the trial's one-thread calls were, see _Chooser.run)
# two threaded calls of a trial in a row this much slower than its one-thread calls end the trial at once (one
# alone does not: the first threaded call of a process starts OpenMP's threads and JIT-compiles oneDNN's kernels,
# 13x the one-thread time for the mlp's first GEMM, and a small product woken late is 4x a large one's rate)
_ABORT = 4.0
_TRIAL_CALLS, _TRIAL_SECONDS, _TRIAL_MAX = 8, 0.004, 64  # per arm: at least calls and seconds, at most calls
# or, for long calls (a BERT layer's GEMMs take ~10 ms), this many calls and seconds per arm: each one-thread call
# of a trial costs its own length again, and eight of them added ~80 ms to a 300 ms MiniLM forward
_TRIAL_LONG_CALLS, _TRIAL_LONG_SECONDS = 3, 0.02
_BACKOFF_MIN, _BACKOFF_MAX = 0.5, 16.0
# a trial that kept threads at most this fraction of the one-thread time waits at least _BACKOFF_CLEAR seconds for
# the next (a drifting window still starts one at once): each trial runs half its calls on one thread, and the
# lstm layer's (threads 0.6-0.68x) trials at 0.5, 1 and 2 s made most of a fresh process's first seconds slower
_CLEAR, _BACKOFF_CLEAR = 0.75, 4.0
_OMP_HOLD = 1.0  # seconds after a threaded oneDNN call during which NumPy's BLAS stays on one thread (omp_call)
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
        self.lowered = None  # while one thread measures faster: the count NumPy's BLAS had (it is held at 1)
        self.omp_until = 0.0  # until then OpenMP's threads (oneDNN's) have the other cores: BLAS held at 1
        # do threads pay now? (see _Chooser)
        self.chooser = _Chooser()
        # and for the products of _wide_short's shape class, while they pay for the others (see gemm_call)
        self.wide = _Chooser(hold=False)
        # and for oneDNN's convolutions, on OpenMP's threads, not the BLAS's (omp_call; its memory-bound kernels follow
        # these choosers' answer)
        self.conv = _Chooser(hold=False, call=_call_with_count)
        self.matmul = _Chooser(hold=False, call=_call_with_count)  # oneDNN's batched products
        self.rnn = _Chooser(hold=False, call=_call_with_count)  # oneDNN's LSTM layers


def _call_with_count(threads, fn, *args):
    """``fn(threads, *args)``: for a kernel that takes its thread count as an argument (oneDNN's)."""
    return fn(threads, *args)


def _arm(i):
    """Which arm the i-th call of a trial is on: the Thue-Morse sequence (0110 1001 ...), so that a step whose
    GEMM shapes repeat with a period of 2, 4, 8 ... gives both arms the same mix of shapes."""
    return bin(i).count("1") & 1


class _Chooser:
    """Do threads pay now?  Decided by timing the GEMMs that may run threaded, both ways.

    ``threaded`` is the current answer.  Each call that may run threaded is
    timed (two clock reads); over a window of ``_WINDOW`` seconds the median
    seconds per multiply-add is compared with the last trial's figure for the
    current answer.  A trial (every ``interval`` seconds, and at once when the
    window drifts by ``_DRIFT``) runs the next calls alternately on one thread
    and on all (``_arm``), until each arm has ``_TRIAL_CALLS`` calls and
    ``_TRIAL_SECONDS``; threads win if their median seconds per multiply-add is
    at most ``_GAIN`` times the one-thread median.  A trial whose threaded call
    takes ``_ABORT`` times the one-thread rate twice in a row ends at once (the machine is
    busy: no need to pay for more such calls).
    """

    def __init__(self, clock=None, hold=True, call=None):
        self.clock = clock or time.perf_counter
        self.hold = hold  # hold NumPy's BLAS at one thread while one thread wins (else lower it per call)
        self.call = call  # call(threads, fn, *args): fn(*args) on that many threads; None: blas_call
        self.threaded = True
        self.trial = None  # ([one-thread rates], [threaded rates], [one-thread seconds, threaded seconds]), or None
        self.calls = 0  # calls into the running trial
        self.next_trial = 0.0  # clock time of the next trial (0: at the first call)
        self.interval = _BACKOFF_MIN
        self.reference = None  # seconds per multiply-add of the current answer in the last trial
        self.alone = None  # and of its one-thread calls
        self.window = []  # rates since window_start
        self.window_start = 0.0
        self.trials = 0
        self.last = None  # (one-thread ns per multiply-add, threaded ns, threaded chosen) of the last trial

    def threads_now(self):
        """Whether a call that may run threaded does (True while a trial is due or running: it picks per call)."""
        return self.threaded or self.trial is not None or self.clock() >= self.next_trial

    def run(self, work, count, fn, args, call=None, cold=()):
        """``fn(*args)`` of ``work`` multiply-adds, on ``count`` threads or one as the answer (or the trial) says;
        ``call(threads, fn, *args)`` runs it (default: the chooser's own, else ``blas_call``).  ``cold``: the thread
        counts on which this call is the kernel's first (slower than its later ones: not timed)."""
        clock = self.clock
        call = call or self.call or blas_call
        trial = self.trial
        if trial is None and clock() >= self.next_trial:
            trial = self.trial = ([], [], [0.0, 0.0])
            self.calls = 0
            if self.hold:
                _hold_one_thread(False)
        if trial is not None:
            arm = _arm(self.calls)
            threads = count if arm else 1
            if threads in cold:
                return call(threads, fn, *args)  # no sample: the arm stays for the next call
            self.calls += 1
            start = clock()
            result = call(threads, fn, *args)
            seconds = clock() - start
            trial[arm].append(seconds / work)
            trial[2][arm] += seconds
            self._trial_step(trial, arm)
            return result
        if not self.threaded and self.hold and _STATE.lowered is None:
            _hold_one_thread(True)
        threads = count if self.threaded else 1
        if threads in cold:
            return call(threads, fn, *args)
        start = clock()
        result = call(threads, fn, *args)
        end = clock()
        window = self.window
        window.append((end - start) / work)
        if end - self.window_start >= _WINDOW:
            if len(window) >= 4 and self.reference is not None:
                rate = median(window)
                # threads: a window slower than the last trial's one-thread calls too, which a busy machine's
                # waits for a descheduled peer make (2-50x), not this VM's slow spells (both threads on their own
                # CPUs, everything up to 1.5x slower: the lstm layer's threaded calls 1.45x, started a trial
                # every ~2.5 s, and each ran 8 calls on one thread that threads then won again)
                slower = rate > max(_DRIFT * self.reference, self.alone)
                if slower if self.threaded else (rate * _DRIFT < self.reference):
                    self.next_trial = 0.0  # the speed moved: look again now
            self.window = []
            self.window_start = end
        return result

    def _trial_step(self, trial, arm):
        one, many, seconds = trial
        if arm and one and len(many) >= 2 and min(many[-2:]) > _ABORT * median(one):
            self._decide(median(one), median(many), threaded=False)
            return
        calls = min(len(one), len(many))
        if (
            (calls >= _TRIAL_CALLS and min(seconds) >= _TRIAL_SECONDS)
            or (calls >= _TRIAL_LONG_CALLS and min(seconds) >= _TRIAL_LONG_SECONDS)
            or calls >= _TRIAL_MAX
        ):
            r1, rn = median(one), median(many)
            self._decide(r1, rn, threaded=rn <= _GAIN * r1)

    def _decide(self, r1, rn, threaded):
        """End the trial: one-thread and threaded seconds per multiply-add were ``r1`` and ``rn``."""
        same = threaded == self.threaded
        self.interval = min(self.interval * 2, _BACKOFF_MAX) if same else _BACKOFF_MIN
        if threaded and rn <= _CLEAR * r1:
            self.interval = max(self.interval, _BACKOFF_CLEAR)
        self.threaded = threaded
        self.reference = rn if threaded else r1
        self.alone = r1
        self.last = (r1 * 1e9, rn * 1e9, threaded)
        self.trials += 1
        self.trial = None
        now = self.clock()
        self.next_trial = now + self.interval
        self.window = []
        self.window_start = now
        if self.hold:
            _hold_one_thread(not threaded)


def _hold_one_thread(hold):
    """Hold NumPy's BLAS at one thread (``hold``) while one thread measures faster, or give back its count.

    Not per call: raising the count wakes OpenBLAS's idle threads, which then
    spin for a while; on a busy machine a 90 us product took 177 us when the
    count went to 1 and back to 2 around each call.
    """
    state = _STATE
    blas = state.blas
    if blas is None:
        return
    with state.lock:
        if state.depth:  # another Python thread's blas_call has lowered the count: its end restores it; later
            return
        if hold and state.lowered is None:
            count = blas.get_threads()
            if count > 1:
                state.lowered = count
                blas.set_threads(1)
        elif not hold and state.lowered is not None and time.perf_counter() >= state.omp_until:
            blas.set_threads(state.lowered)
            state.lowered = None


_STATE = _State()


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
    """True while measurements say one thread per call is faster, or OpenMP's threads have the other cores
    (never in deterministic mode)."""
    state = _STATE
    if state.deterministic:
        return False
    return not state.chooser.threads_now() or _omp_busy()


def _omp_busy():
    """Whether OpenMP's threads (oneDNN's) ran in the last ``_OMP_HOLD`` seconds; when that has just ended,
    NumPy's BLAS gets its count back (unless the measurements hold it)."""
    state = _STATE
    if not state.omp_until:
        return False
    if time.perf_counter() < state.omp_until:
        return True
    state.omp_until = 0.0
    if state.chooser.threaded:
        _hold_one_thread(False)
    return False


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
    if _STATE.lowered is not None:
        return _STATE.lowered
    if _STATE.blas is not None:
        return int(_STATE.blas.get_threads())
    return _STATE.explicit or _STATE.default[0]


def set_num_threads(n: int) -> None:
    """Use up to ``n`` threads for chainrule's CPU kernels (PyTorch's name).

    This sets the thread count of NumPy's OpenBLAS, the one BLAS pool
    chainrule calls, so NumPy code in the same process follows it too.
    Each call still gets no more threads than its size pays for, and one
    while one thread measures faster (a busy machine; see the module
    docstring).

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
        _STATE.lowered = None  # the count is n now; the measurements hold it at one again if they still say so
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

    In chainrule this turns off the choice of thread counts by measured
    speed (the only thing that makes a CPU result depend on timing): each BLAS call's thread count then
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
    if not mode and _STATE.omp_until == math.inf:  # deterministic mode's hold (_claim_omp) becomes a timed one
        _STATE.omp_until = time.perf_counter() + _OMP_HOLD
    if _STATE.deterministic:
        _hold_one_thread(False)


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
    """What the thread policy sees now: counts, why, the BLAS libraries loaded, what the measurements chose.

    Returns:
        A dict with ``num_threads`` (as ``get_num_threads``), ``set_by_user``
        (whether ``set_num_threads`` was called), ``default`` and
        ``default_reason`` (the count chainrule chose and why), ``numpy_blas``
        (the path of NumPy's OpenBLAS, or None), ``deterministic``,
        ``busy_detection`` (whether thread counts follow measured speed),
        ``machine_busy`` (True while one thread per call measured faster),
        ``trials`` (how many one-thread/threaded trials have run),
        ``last_trial`` (nanoseconds per multiply-add on one thread and on all,
        and whether threads were kept, or None before the first trial),
        ``last_trial_wide`` (the same for the products of a wide output over a
        short k, a linear layer's weight gradient over a small batch, which
        are measured on their own), ``last_trial_conv``,
        ``last_trial_matmul`` and ``last_trial_rnn`` (the same for oneDNN's
        convolutions, batched products and LSTM layers, on OpenMP's threads;
        its memory-bound kernels follow the GEMMs' and convolutions' answer) and
        ``libraries`` (``threadpoolctl``'s view of the BLAS and OpenMP
        libraries loaded, empty without it).

    Examples:
        >>> report = cr.threads.info()
        >>> report["num_threads"] == cr.threads.get_num_threads(), type(report["default_reason"])
        (True, <class 'str'>)
    """
    if not _STATE.configured:
        _configure()
    chooser = _STATE.chooser
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
        "busy_detection": not _STATE.deterministic,
        "machine_busy": not (_STATE.deterministic or _STATE.chooser.threads_now()),
        "trials": chooser.trials,
        "last_trial": chooser.last,
        "last_trial_wide": _STATE.wide.last,
        "last_trial_conv": _STATE.conv.last,
        "last_trial_matmul": _STATE.matmul.last,
        "last_trial_rnn": _STATE.rnn.last,
        "libraries": libraries,
    }


# --------------------------------------------------------------------------- what the kernels call


def plan(work: int) -> int:
    """How many threads a BLAS call of ``work`` multiply-adds (elements, for a level-1 call) may use now.

    1 below ``SERIAL_WORK`` and while one thread measures faster; otherwise the
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
    return _STATE.lowered or blas.get_threads()


def _one_thread_shape(m, k, n):
    """A product that runs on one thread whatever the load: below ``SERIAL_WORK``, or of a shape ``plan_gemm``
    explains."""
    return m * k * n < SERIAL_WORK or (m < _NARROW and n < _NARROW)


def _wide_short(m, k, n):
    """A wide output over a short k: a linear layer's weight gradient, ``x.T @ g`` over a small batch.

    Whether a second thread pays for it moved with the machine's state more
    than for other products: over k = 32-96 into outputs of 128 x 128 to 512
    x 512, two threads took 0.60-0.87x the one-thread time in one run and
    1.0-1.67x on some shapes minutes later (interleaved calls, a quiet 2-core
    VM; once measured 1.1-3.4x under load).  So it gets its own measured
    choice (``_STATE.wide``), made while threads pay for the other products.
    """
    return k < _NARROW and m >= _NARROW and n >= _NARROW


def plan_gemm(m: int, k: int, n: int) -> int:
    """``plan`` for one (m, k) @ (k, n) product, with narrow outputs on one thread whatever their size.

    OpenBLAS splits a product's output among its threads.  An output under
    128 rows and under 128 columns leaves each thread a sliver while all of
    them pack the long k dimension (a convolution's weight gradient, 16 x 32
    over k = 14,400, took 3.1x as long on two threads; 64 x 64 over k = 4,096,
    1.3x).  A wide output over a short k (``_wide_short``) follows its own
    measured choice: 1 here while that says one thread.
    """
    if _one_thread_shape(m, k, n):
        return 1
    if _wide_short(m, k, n) and not _STATE.wide.threads_now():
        return 1
    return plan(SERIAL_WORK)


def gemm_call(m: int, k: int, n: int, fn, *args, work: int | None = None, omp: bool = False):
    """``fn(*args)``: a (m, k) @ (k, n) product on NumPy's BLAS (``work`` multiply-adds in all, for a batch).

    A product ``plan_gemm`` keeps on one thread whatever the load runs so; one
    that may run threaded runs as the measurements of ``_Chooser`` say, and is
    timed for them.  ``omp``: ``fn`` is oneDNN's GEMM, which runs on OpenMP's
    threads and takes their count as its first argument (``fn(threads,
    *args)``); the same choices then set that count, and NumPy's BLAS is held
    at one thread while OpenMP's threads work (see ``omp_call``).
    """
    call = _call_with_count if omp else blas_call
    if _one_thread_shape(m, k, n):
        return call(1, fn, *args)
    state = _STATE
    if not state.configured:
        _configure()
    if omp:
        count = get_num_threads()
        if count == 1:
            return fn(1, *args)
    else:
        blas = state.blas
        if blas is None:
            return fn(*args)
        if state.omp_until and _omp_busy():
            return fn(*args)  # NumPy's BLAS is held at one thread (omp_call)
        count = state.lowered or blas.get_threads()
        if count == 1:  # set so by the user (or threadpoolctl): nothing to decide
            return fn(*args)
    if _wide_short(m, k, n):
        if state.deterministic or not state.chooser.threads_now():
            return call(1, fn, *args)
        if omp:
            _claim_omp(state.wide)
        return state.wide.run(work or m * k * n, count, fn, args, call)
    if state.deterministic:
        if omp:
            _claim_omp(None)
            return call(count, fn, *args)
        return fn(*args)
    if omp:
        _claim_omp(state.chooser)
    return state.chooser.run(work or m * k * n, count, fn, args, call)


def _claim_omp(chooser):
    """Before a call on OpenMP's threads that ``chooser`` may run threaded (None: that runs threaded): NumPy's BLAS
    goes to (or stays at) one thread for the next ``_OMP_HOLD`` seconds, in deterministic mode for good (a rule
    that depends on the order of calls, not on their timing).  Two pools spinning on the same cores are the worst
    case (a resnet step took 80 ms against 30 when OpenBLAS's threads woke between convolutions; the mlp step 8.0
    against 3.0 ms)."""
    if chooser is None or chooser.threads_now():
        state = _STATE
        state.omp_until = math.inf if state.deterministic else time.perf_counter() + _OMP_HOLD
        if state.lowered is None:
            _hold_one_thread(True)


def omp_call(kind: str, work: int, fn, prepare):
    """``fn(threads)``: a oneDNN call of ``work`` units, on the thread count chosen here.

    oneDNN runs on GNU OpenMP's threads and takes its count per call, so its
    calls are not BLAS calls: each gets ``get_num_threads()`` threads, or one
    where that is 1 or the call is smaller than ``SERIAL_WORK`` (32,768
    elements for 'eltwise', PyTorch's grain size: layer norm's backward over
    (1024, 128) took 0.21 ms on one thread in nanoGPT's step, PyTorch's
    threaded one 0.07, and two threads measured 0.76x the one-thread time
    there alone), as a measured
    choice per ``kind`` ('conv': convolutions, 'matmul': batched products and
    'rnn': LSTM layers, in multiply-adds; the same trials as the GEMMs': on a
    busy machine OpenMP's threads wait for each other as the BLAS's do).
    'eltwise' (elementwise, normalization and softmax kernels, in elements)
    has no trials of its own: it runs threaded while the GEMMs' and the
    convolutions' choosers say threads pay.  Its own trials measured threaded
    calls 1.2-1.9x slower than one-thread ones in this VM's slow spells and
    chose one thread, and nanoGPT's step then took 106-115 ms against 95-98
    with them threaded (same process, alternating): a per-call trial does not
    see what the main thread loses while OpenMP's other thread spins idle.
    Deterministic mode keeps the full count (fixed by ``set_num_threads``
    alone).  ``prepare(counts)`` builds what the call needs for each count
    before any is timed and returns None where oneDNN has no kernel for the
    shape (the result is then None), else the counts on which the kernel has
    not run yet: its first call there (oneDNN generating code, fresh memory)
    is left out of the trials, which it could swing (an LSTM layer's first
    call took 3-12x its later ones' time).
    """
    state = _STATE
    if not state.configured:
        _configure()
    count = get_num_threads()
    if count == 1 or work < _SERIAL.get(kind, SERIAL_WORK):
        return fn(1)
    if kind == "eltwise" and not state.deterministic:
        # no trials of their own: threaded while the GEMMs' and the convolutions' measurements say threads pay
        if not (state.chooser.threads_now() and state.conv.threads_now()):
            return fn(1)
    elif not state.deterministic:
        cold = prepare((1, count))
        if cold is None:
            return None
        chooser = getattr(state, kind)  # the chooser of that name: state.conv, state.matmul or state.rnn
        _claim_omp(chooser)
        return chooser.run(work, count, fn, (), cold=cold)
    _claim_omp(None)
    return fn(count)


def blas_held() -> bool:
    """Whether NumPy's BLAS is held at one thread now (while oneDNN's threads work, or one thread measured
    faster): a BLAS call then runs on one thread with nothing to decide or lower."""
    return _STATE.lowered is not None


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
