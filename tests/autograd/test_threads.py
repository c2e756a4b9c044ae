"""Autograd from several threads: grad, anomaly and autocast modes are per thread, as in PyTorch.

Each test runs its threads many times with a tiny switch interval, so that
the interpreter interleaves them between almost every bytecode: a flag that
one thread changes under another's feet shows up as a wrong or missing
gradient within a few iterations.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.amp import autocast, is_autocast_enabled
from chainrule.autograd import detect_anomaly, is_anomaly_enabled


@pytest.fixture(autouse=True)
def _fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run(*targets):
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors = []

    def guard(fn):
        def body():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported to the main thread
                errors.append(exc)

        return body

    threads = [threading.Thread(target=guard(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_a_new_thread_starts_with_grad_on_whatever_the_parent_does():
    seen = []
    with cr.no_grad():
        _run(lambda: seen.append(cr.is_grad_enabled()))
        assert not cr.is_grad_enabled()
    assert seen == [True]


def test_no_grad_in_one_thread_leaves_another_recording():
    stop = threading.Event()
    failures = []

    def inference():
        while not stop.is_set():
            with cr.no_grad():
                y = cr.ones(3, requires_grad=True) * 2
                if y.requires_grad:
                    failures.append("no_grad recorded")

    def training():
        x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        try:
            for _ in range(2000):
                if not cr.is_grad_enabled():
                    failures.append("grad mode off in the training thread")
                (x * x).sum().backward()
                if x.grad is None or not np.array_equal(x.grad.numpy(), [2.0, 4.0, 6.0]):
                    failures.append(f"wrong gradient {x.grad}")
                x.grad = None
        finally:
            stop.set()

    _run(inference, training)
    assert failures == []


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_on():
    def worker():
        for _ in range(3000):
            with cr.no_grad():
                assert not cr.is_grad_enabled()
            assert cr.is_grad_enabled()
            cr.set_grad_enabled(False)
            cr.set_grad_enabled(True)

    _run(worker, worker, worker)
    assert cr.is_grad_enabled()


def test_backward_in_one_thread_does_not_switch_grad_mode_in_another():
    """backward() runs its vjps with grad off: only in its own thread."""
    stop = threading.Event()
    failures = []

    def backward_loop():
        w = cr.randn(8, 8, requires_grad=True)
        try:
            for _ in range(1500):
                (w @ w).tanh().sum().backward()
        finally:
            stop.set()

    def recorder():
        x = cr.ones(4, requires_grad=True)
        while not stop.is_set():
            if not (x * 3).requires_grad:
                failures.append("an op did not record while another thread ran backward")

    _run(backward_loop, recorder)
    assert failures == []


def test_create_graph_backward_keeps_its_own_thread_recording():
    """Two threads taking second derivatives at once: each gets d2/dx2 x^3 = 6x."""

    def worker(value):
        def body():
            for _ in range(300):
                x = cr.tensor([value], dtype=cr.float64, requires_grad=True)
                (g,) = cr.autograd.grad((x**3).sum(), x, create_graph=True)
                (h,) = cr.autograd.grad(g.sum(), x)
                assert h.item() == pytest.approx(6 * value)

        return body

    _run(worker(1.0), worker(2.0), worker(-3.0))


def _make_model(seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def _train(model, seed, steps=60):
    rng = np.random.default_rng(seed)
    x = cr.from_numpy(rng.standard_normal((32, 6)).astype(np.float32))
    y = cr.from_numpy(rng.integers(0, 3, 32))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_two_threads_training_two_models_match_training_them_one_after_the_other():
    ref_models = [_make_model(s) for s in (1, 2)]
    ref_losses = [_train(m, s) for m, s in zip(ref_models, (1, 2))]
    models = [_make_model(s) for s in (1, 2)]
    got = [None, None]

    def trainer(i):
        def body():
            got[i] = _train(models[i], i + 1)

        return body

    _run(trainer(0), trainer(1))
    assert got == ref_losses
    for ours, ref in zip(models, ref_models):
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert np.array_equal(p.numpy(), q.numpy())


def test_a_training_thread_beside_an_inference_thread_gets_exact_gradients_every_step():
    served = _make_model(7)
    trained = _make_model(8)
    reference = _make_model(8)
    ref_losses = _train(reference, 3, steps=80)
    stop = threading.Event()
    got = []

    def serve():
        x = cr.randn(16, 6)
        while not stop.is_set():
            with cr.no_grad():
                out = served(x)
                assert not out.requires_grad

    def train():
        try:
            got.extend(_train(trained, 3, steps=80))
        finally:
            stop.set()

    _run(serve, train)
    assert got == ref_losses


def test_anomaly_mode_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    seen = []

    def with_anomaly():
        with detect_anomaly():
            inside.set()
            release.wait(5)
            seen.append(("anomaly thread", is_anomaly_enabled()))

    def without():
        inside.wait(5)
        seen.append(("other thread", is_anomaly_enabled()))
        x = cr.tensor([0.0], requires_grad=True)
        with np.errstate(all="ignore"):
            (x / x).sum().backward()  # a NaN: no AnomalyError outside anomaly mode
        release.set()

    _run(with_anomaly, without)
    assert sorted(seen) == [("anomaly thread", True), ("other thread", False)]


def test_autocast_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    dtypes = {}
    w = cr.randn(8, 8)

    def mixed():
        with autocast("cpu"):
            inside.set()
            release.wait(5)
            dtypes["autocast"] = (cr.randn(4, 8) @ w).dtype

    def plain():
        inside.wait(5)
        dtypes["plain enabled"] = is_autocast_enabled()
        dtypes["plain"] = (cr.randn(4, 8) @ w).dtype
        release.set()

    _run(mixed, plain)
    assert dtypes == {"autocast": cr.float16, "plain enabled": False, "plain": cr.float32}


def test_decorated_functions_restore_their_own_threads_state():
    @cr.no_grad()
    def infer(x):
        return (x * 2).requires_grad

    @detect_anomaly()
    def checked():
        return is_anomaly_enabled()

    def worker():
        x = cr.ones(2, requires_grad=True)
        for _ in range(2000):
            assert infer(x) is False
            assert checked() is True
            assert cr.is_grad_enabled() and not is_anomaly_enabled()

    _run(worker, worker)
