"""chainrule.threads: one BLAS thread pool, sized per call, respecting the user, one thread while that measures faster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import threadpoolctl

import chainrule as cr
from chainrule import _cblas, _dnnl, _kernels, backend, threads

NUMPY_BLAS = _cblas.numpy_blas()
needs_openblas = pytest.mark.skipif(NUMPY_BLAS is None, reason="NumPy is not linked to a findable OpenBLAS")

# One training step of each kind of layer chainrule has, in a fresh process (no torch, no test imports),
# then the thread pools threadpoolctl finds.
STEP_SCRIPT = r"""
import json, sys
import numpy as np
import chainrule as cr
from chainrule import _dnnl, nn, optim
import chainrule.nn.functional as F
import threadpoolctl

cr.manual_seed(0)
workload = sys.argv[1]
if workload == "mlp":
    model, x = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10)), cr.randn(128, 784)
elif workload == "cnn":
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(32, 10))
    x = cr.randn(32, 3, 32, 32)
elif workload == "transformer":
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, activation="gelu", batch_first=True)
            self.head = nn.Linear(128, 10)
        def forward(self, x):
            return self.head(self.block(x).mean(dim=1))
    model, x = Encoder(), cr.randn(16, 64, 128)
elif workload == "recurrent":
    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.gru, self.head = nn.LSTM(64, 128, batch_first=True), nn.GRU(128, 64), nn.Linear(64, 10)
        def forward(self, x):
            out, _ = self.lstm(x)
            out, _ = self.gru(out.transpose(0, 1))
            return self.head(out[-1].sigmoid())
    model, x = Recurrent(), cr.randn(32, 16, 64)
elif workload == "tiny":
    model, x = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)), cr.randn(16, 32)
elif workload == "deep":
    model = nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(256, 256), nn.ReLU())], nn.Linear(256, 10))
    x = cr.randn(64, 256)
elif workload == "resnet":
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        def forward(self, x):
            out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
            return (out + self.down(x)).relu()
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), Block(16, 32, 2), Block(32, 64, 2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    x = cr.randn(32, 3, 32, 32)
y = cr.randint(0, 10, (x.shape[0],))
opt = optim.Adam(model.parameters(), lr=1e-3) if workload != "mlp" else optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for _ in range(2):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
pools = [{k: d.get(k) for k in ("user_api", "internal_api", "filepath", "num_threads")}
         for d in threadpoolctl.threadpool_info()]
print(json.dumps({"pools": pools, "onednn": _dnnl.available()}))
"""


@pytest.mark.parametrize("workload", ["mlp", "tiny", "cnn", "transformer", "deep", "resnet", "recurrent"])
def test_a_training_step_uses_one_blas_thread_pool(workload):
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    out = subprocess.run(
        [sys.executable, "-c", STEP_SCRIPT, workload], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    pools = report["pools"]
    threaded = [p for p in pools if p["num_threads"] > 1]
    assert len(threaded) <= 1, f"more than one thread pool after a {workload} step: {threaded}"
    # SciPy's own OpenBLAS (a second build, with its own pool) is never even loaded by a float32 step, unless the
    # numba extra is in use: numba loads it, and chainrule holds it at one thread (checked above)
    if not _kernels.available():
        assert not [p for p in pools if "scipy.libs" in p["filepath"]], pools
    # a convolution (and a float32 product past the serial size) runs on oneDNN's OpenMP threads where oneDNN is
    # installed (the step's own process says: this one's oneDNN is off, see numpys_blas_only); NumPy's BLAS is then
    # held at one thread (the one threaded pool is OpenMP's); without oneDNN and numba, nothing loads OpenMP
    openmp = [p for p in pools if p["user_api"] == "openmp" and "libgomp" in p["filepath"]]
    if report["onednn"]:
        if workload in ("cnn", "resnet"):
            assert openmp, pools
    elif not _kernels.available():
        assert not openmp, pools
    if NUMPY_BLAS is not None:
        assert threaded == [] or threaded[0]["filepath"] in (NUMPY_BLAS.path, *(p["filepath"] for p in openmp))


@pytest.fixture(autouse=True)
def numpys_blas_only(monkeypatch):
    """These tests are about NumPy's OpenBLAS: float32 products and convolutions stay off oneDNN (its OpenMP
    threads are tested in tests/nn/test_conv_onednn.py), and no OpenMP hold is left from an earlier test."""
    monkeypatch.setattr(_dnnl, "ENABLED", False)
    threads._STATE.omp_until = 0.0
    yield
    threads._STATE.omp_until = 0.0


def _count():
    return NUMPY_BLAS.get_threads()


@needs_openblas
def test_set_num_threads_sets_numpys_blas_and_get_reads_it():
    before = cr.get_num_threads()
    try:
        cr.set_num_threads(1)
        assert cr.get_num_threads() == 1 and _count() == 1
        cr.set_num_threads(3)
        assert cr.get_num_threads() == 3 and _count() == 3
        assert cr.threads.info()["set_by_user"]
    finally:
        cr.set_num_threads(before)
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="set_num_threads"):
            cr.set_num_threads(bad)


@needs_openblas
def test_threadpoolctl_limits_are_respected(quiet_policy):
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert cr.get_num_threads() == 1
        backend.matmul(np, a, a)
        backend.sum_rows(np, np.ones((20000, 8), np.float32))
        assert _count() == 1
    assert cr.get_num_threads() == _count() > 0


@needs_openblas
def test_a_gemv_runs_on_one_thread_and_the_count_is_restored_afterwards(quiet_policy):
    seen = []
    original = np.matmul

    def spy(a, b, out=None):
        seen.append(_count())
        return original(a, b, out=out)

    before = _count()
    m = np.ones((30000, 16), np.float32)
    threads.blas_call(1, spy, m[:, 0], m)
    assert seen == [1] and _count() == before


@needs_openblas
def test_the_count_survives_many_threads_lowering_it_at_once(quiet_policy):
    before = _count()
    if before < 2:
        pytest.skip("the BLAS runs on one thread here")
    m = np.ones((20000, 8), np.float32)
    a = np.ones((300, 300), np.float32)
    errors = []

    def worker():
        try:
            for _ in range(300):
                backend.sum_rows(np, m)  # lowers to one thread and restores
                backend.matmul(np, a, a)  # as the BLAS is set
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    assert _count() == before


def test_the_environment_sets_the_default():
    code = "import chainrule as cr, json; i = cr.threads.info(); print(json.dumps([cr.get_num_threads(), i['default'], i['default_reason']]))"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("MKL_NUM_THREADS", None)
    count, default, reason = json.loads(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert count == 1 and default == 1 and "OMP_NUM_THREADS" in reason


def test_the_default_is_the_physical_cores_this_process_may_use():
    count, reason = threads.default_num_threads()
    if threads._env_threads() is not None:
        pytest.skip("a thread variable is set in this environment")
    cpus = threads._allowed_cpus()
    assert 1 <= count <= len(cpus)
    assert "physical core" in reason


@pytest.fixture
def quiet_policy():
    """A chooser that has found threads faster and runs no trial while the test runs (the machine may be busy)."""
    saved = threads._STATE.chooser
    threads._hold_one_thread(False)
    threads._STATE.chooser = chooser = threads._Chooser()
    chooser.next_trial = float("inf")
    try:
        yield chooser
    finally:
        threads._STATE.chooser = saved


class _FakeBlas:
    """A fake clock and a 'GEMM' whose duration depends on the thread count NumPy's BLAS is set to when it runs."""

    def __init__(self, one, many):
        self.now = 100.0
        self.one, self.many = one, many  # seconds per call on one thread, on all
        self.counts = []

    def clock(self):
        return self.now

    def gemm(self):
        count = NUMPY_BLAS.get_threads()
        self.counts.append(count)
        self.now += self.one if count == 1 else self.many
        return count


def _run(chooser, fake, calls, work=10**6):
    return [chooser.run(work, 2, fake.gemm, ()) for _ in range(calls)]


@pytest.fixture
def two_threads():
    if NUMPY_BLAS is None:
        pytest.skip("NumPy is not linked to a findable OpenBLAS")
    before = cr.get_num_threads()
    saved = threads._STATE.chooser
    threads._hold_one_thread(False)
    cr.set_num_threads(2)
    try:
        yield
    finally:
        threads._hold_one_thread(False)
        threads._STATE.chooser = saved
        cr.set_num_threads(before)


def test_trial_arms_follow_thue_morse_so_periodic_shapes_split_evenly():
    arms = [threads._arm(i) for i in range(16)]
    assert arms == [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0]
    for period in (2, 4, 8):  # a step whose GEMM shapes repeat: each shape gets both arms equally often
        for phase in range(period):
            picked = [arms[i] for i in range(phase, 16, period)]
            assert sum(picked) * 2 == len(picked)


def test_threads_are_kept_while_they_measure_faster(two_threads):
    fake = _FakeBlas(one=1e-3, many=0.5e-3)
    chooser = threads._Chooser(clock=fake.clock)
    threads._STATE.chooser = chooser
    _run(chooser, fake, 16)  # the first trial: 8 calls each way, at least 4 ms each
    assert chooser.trials == 1 and chooser.threaded and chooser.trial is None
    assert sorted(set(fake.counts)) == [1, 2]
    one_ns, many_ns, kept = chooser.last
    assert kept and one_ns == pytest.approx(1.0) and many_ns == pytest.approx(0.5)
    fake.counts.clear()
    _run(chooser, fake, 20)  # between trials every call is threaded
    assert set(fake.counts) == {2}
    interval = chooser.interval
    fake.now += interval
    _run(chooser, fake, 16)  # the next trial confirms: the interval doubles
    assert chooser.trials == 2 and chooser.interval == 2 * interval


def test_a_busy_machine_drops_to_one_thread_and_a_later_trial_brings_threads_back(two_threads):
    fake = _FakeBlas(one=1e-3, many=50e-3)  # a threaded call waits for a descheduled peer
    chooser = threads._Chooser(clock=fake.clock)
    threads._STATE.chooser = chooser
    _run(chooser, fake, 3)  # call 0 on one thread, calls 1 and 2 threaded: 50x slower twice ends the trial at once
    assert chooser.trials == 1 and not chooser.threaded
    assert threads._STATE.lowered == 2 and NUMPY_BLAS.get_threads() == 1  # held at one thread, not per call
    assert cr.get_num_threads() == 2 and threads._contended() and threads.plan(10**9) == 1
    fake.counts.clear()
    _run(chooser, fake, 30)
    assert set(fake.counts) == {1}
    fake.many = 0.4e-3  # the neighbours left
    fake.now += chooser.interval
    _run(chooser, fake, 24)  # until each arm has 8 calls and 4 ms
    assert chooser.threaded and threads._STATE.lowered is None and NUMPY_BLAS.get_threads() == 2
    assert not threads._contended()


def test_a_slower_window_starts_a_trial_at_once(two_threads):
    fake = _FakeBlas(one=1e-3, many=0.5e-3)
    chooser = threads._Chooser(clock=fake.clock)
    threads._STATE.chooser = chooser
    _run(chooser, fake, 16)
    assert chooser.threaded and chooser.next_trial > fake.now
    fake.many = 2e-3  # 4x slower: more than _DRIFT over a window
    _run(chooser, fake, 200)
    assert chooser.trials >= 2 and not chooser.threaded  # the trial found one thread faster now


def test_deterministic_mode_never_reports_a_busy_machine():
    threads.use_deterministic_algorithms(True)
    try:
        assert cr.are_deterministic_algorithms_enabled()
        assert threads._contended() is False
        assert threads.info()["busy_detection"] is False
        assert threads._STATE.lowered is None  # the count is the user's: nothing held at one thread
        calls = []
        threads.gemm_call(512, 512, 512, lambda: calls.append(NUMPY_BLAS and NUMPY_BLAS.get_threads()))
        assert calls == [NUMPY_BLAS and NUMPY_BLAS.get_threads()]
    finally:
        threads.use_deterministic_algorithms(False)
    assert not cr.are_deterministic_algorithms_enabled()


@pytest.mark.slow
@needs_openblas
def test_a_busy_machine_is_measured_and_blas_calls_drop_to_one_thread():
    """More spinning processes than CPUs: a trial finds threaded GEMMs slower and every call runs on one thread."""
    if len(threads._allowed_cpus()) < 2:
        pytest.skip("one CPU: nothing to choose")
    script = (
        "import time, numpy as np, chainrule as cr\n"
        "from chainrule import backend, threads\n"
        "a = np.ones((256, 256), np.float32)\n"
        "end = time.time() + 8\n"
        "while time.time() < end and not threads.info()['machine_busy']:\n"
        "    backend.matmul(np, a, a)\n"
        "print(threads.info()['machine_busy'], threads.plan(10**9), threads.info()['last_trial'][2])\n"
    )
    spinners = [
        subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 12\nwhile time.time() < end: pass"])
        for _ in range(len(threads._allowed_cpus()) + 1)
    ]
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    finally:
        for p in spinners:
            p.kill()
    busy, planned, kept = out.stdout.split()
    assert busy == "True" and planned == "1" and kept == "False"


def test_gemm_plans_give_narrow_outputs_and_small_products_one_thread(quiet_policy):
    assert threads.plan_gemm(16, 14400, 32) == 1  # a convolution's weight gradient: long k, small output
    assert threads.plan_gemm(64, 4096, 64) == 1
    assert threads.plan_gemm(64, 64, 64) == 1  # below OpenBLAS's own threshold
    # x.T @ g over a small batch (wide output, short k): its own measured choice, threads while that says so
    assert threads.plan_gemm(256, 64, 256) == cr.get_num_threads()
    assert threads.plan_gemm(784, 128, 512) == cr.get_num_threads()
    assert threads.plan_gemm(16, 4096, 512) == cr.get_num_threads()


@pytest.fixture
def own_choosers(two_threads):
    """``install(clock)``: fresh main and wide-class choosers for the test, the main one saying threads pay with no
    trial due, the wide one on ``clock``; the process's own choosers come back afterwards."""
    saved = threads._STATE.chooser, threads._STATE.wide

    def install(clock):
        threads._STATE.chooser = main = threads._Chooser()
        main.next_trial = float("inf")
        threads._STATE.wide = wide = threads._Chooser(clock=clock, hold=False)
        return main, wide

    try:
        yield install
    finally:
        threads._STATE.chooser, threads._STATE.wide = saved


def test_wide_short_products_have_their_own_choice_and_never_hold_the_blas(own_choosers):
    fake = _FakeBlas(one=1e-3, many=2e-3)  # two threads slower for this class...
    main, wide = own_choosers(fake.clock)  # ...while threads pay for the other products
    for _ in range(20):
        threads.gemm_call(256, 64, 256, fake.gemm)
    assert wide.trials == 1 and not wide.threaded and main.threaded
    assert threads._STATE.lowered is None and NUMPY_BLAS.get_threads() == 2  # not held: lowered per call
    assert threads.plan_gemm(256, 64, 256) == 1 and threads.plan_gemm(512, 512, 512) == 2
    fake.counts.clear()
    for _ in range(10):
        threads.gemm_call(256, 64, 256, fake.gemm)
    assert set(fake.counts) == {1} and NUMPY_BLAS.get_threads() == 2
    assert threads.info()["last_trial_wide"][2] is False
    # while the main choice says one thread, the class runs on one thread without asking its own
    main.threaded, main.next_trial = False, float("inf")
    wide.threaded, wide.next_trial = True, float("inf")
    fake.counts.clear()
    threads.gemm_call(256, 64, 256, fake.gemm)
    assert fake.counts == [1]


def test_wide_short_products_keep_threads_while_they_pay(own_choosers):
    fake = _FakeBlas(one=1e-3, many=0.6e-3)
    _, wide = own_choosers(fake.clock)
    for _ in range(16):
        threads.gemm_call(256, 64, 256, fake.gemm)
    assert wide.trials == 1 and wide.threaded
    fake.counts.clear()
    for _ in range(10):
        threads.gemm_call(256, 64, 256, fake.gemm)
    assert set(fake.counts) == {2}


class _FakeKernels:
    """A fake clock and two oneDNN-like kernels taking their thread count as an argument (a layer's forward and
    backward, called in turn), each slower on its first call on a count (code generation, fresh memory)."""

    def __init__(self, one, many, first):
        self.now = 100.0
        self.seconds = {1: one, 2: many}
        self.first = first  # seconds of a kernel's first call on a count
        self.ran = set()  # (kernel, count) pairs that have run
        self.calls = 0

    def clock(self):
        return self.now

    def cold(self, kernel):
        return tuple(n for n in (1, 2) if (kernel, n) not in self.ran)

    def call(self, kernel):
        def fn(count):
            self.now += self.seconds[count] if (kernel, count) in self.ran else self.first
            self.ran.add((kernel, count))
            return count

        return fn


def _run_kernels(chooser, fake, calls, skip_cold=True):
    for _ in range(calls):
        kernel = fake.calls % 2
        fake.calls += 1
        chooser.run(10**6, 2, fake.call(kernel), (), cold=fake.cold(kernel) if skip_cold else ())


@pytest.mark.parametrize("skip_cold", [True, False])
def test_a_kernels_first_calls_are_left_out_of_the_trial(skip_cold):
    """Threads pay (0.6 against 1 ms), but each kernel's first call on a count takes 20 ms: counted, the four
    first calls make a trial of few calls choose one thread; left out (``cold``), threads win."""
    fake = _FakeKernels(one=1e-3, many=0.6e-3, first=20e-3)
    chooser = threads._Chooser(clock=fake.clock, hold=False, call=threads._call_with_count)
    _run_kernels(chooser, fake, 40, skip_cold)
    assert chooser.trials >= 1
    one_ns, many_ns, kept = chooser.last
    if skip_cold:
        assert kept and chooser.threaded
        assert one_ns == pytest.approx(1.0) and many_ns == pytest.approx(0.6)
    else:
        assert not kept  # what happened before cold calls were left out


def test_a_uniform_slowdown_starts_no_trial_but_a_busy_machine_does():
    """Threads at 0.6 of the one-thread time: everything 1.6x slower (this VM's slow spells) keeps threads faster
    than one thread was, so no trial is started before its time; threaded calls slower than that (a busy
    machine's waits for a descheduled peer) start one at once."""
    fake = _FakeKernels(one=1e-3, many=0.6e-3, first=1e-3)
    chooser = threads._Chooser(clock=fake.clock, hold=False, call=threads._call_with_count)
    _run_kernels(chooser, fake, 40)
    assert chooser.trials == 1 and chooser.threaded
    fake.seconds = {1: 1.6e-3, 2: 0.96e-3}  # a slow spell: 1.6x the trial's threaded rate, below its one-thread one
    _run_kernels(chooser, fake, 400)
    assert chooser.trials == 1 and fake.now < chooser.next_trial
    fake.seconds = {1: 1.6e-3, 2: 1.2e-3}  # threads now slower than one thread was: look again
    _run_kernels(chooser, fake, 400)
    assert chooser.trials == 2


@pytest.mark.parametrize("many, first_wait", [(0.6e-3, 4.0), (0.85e-3, 1.0)])
def test_a_clear_win_for_threads_waits_longer_for_the_next_trial(many, first_wait):
    """Threads at 0.6x the one-thread time: the next trial comes after 4 s, not 0.5 s (each trial runs half its
    calls on one thread); at 0.85x (a narrow win) the back-off starts low and doubles."""
    fake = _FakeKernels(one=1e-3, many=many, first=1e-3)
    chooser = threads._Chooser(clock=fake.clock, hold=False, call=threads._call_with_count)
    _run_kernels(chooser, fake, 40)
    assert chooser.trials == 1 and chooser.threaded
    assert chooser.interval == first_wait
