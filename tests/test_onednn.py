"""oneDNN (chainrule._dnnl): convolutions, float32 GEMMs and GELU against chainrule's own NumPy kernels.

Every case runs twice in one process, oneDNN on and off, and compares the
output and all gradients (first and second order) in float32; a spy checks
that the oneDNN run really went to oneDNN.  Float64 never goes there (oneDNN's
CPU kernels are float32), so the float64 gradient checks elsewhere cover the
NumPy paths.  Then the threads: one OpenMP pool, NumPy's BLAS held at one
thread while it works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import _dnnl, backend, threads
from chainrule.nn.functional import conv as conv_f

pytestmark = pytest.mark.skipif(not _dnnl.available(), reason="oneDNN (onednn-cpu-gomp) is not installed here")


def _counting(monkeypatch, names):
    """{label: how many calls of ``_dnnl.<name>`` returned a result} for ``names`` {label: function name}."""
    calls = dict.fromkeys(names, 0)
    for label, name in names.items():
        original = getattr(_dnnl, name)

        def counted(*args, _original=original, _label=label):
            out = _original(*args)
            calls[_label] += out is not None
            return out

        monkeypatch.setattr(_dnnl, name, counted)
    return calls


@pytest.fixture
def spy(monkeypatch):
    """Counts the calls of each of oneDNN's three convolution products that returned a result."""
    return _counting(monkeypatch, {"forward": "forward", "data": "backward_data", "weights": "backward_weights"})


def _run(fn, arrays, kwargs, second_order=False):
    """fn's output, and the gradients of a weighted sum of it (and of their squared norm, second order)."""
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors, **kwargs)
    weights = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    loss = (out * cr.tensor(weights)).sum()
    grads = cr.autograd.grad(loss, tensors, create_graph=second_order)
    results = [out.numpy(), *(g.numpy() for g in grads)]
    if second_order:
        again = cr.autograd.grad(sum((g * g).sum() for g in grads), tensors, allow_unused=True)
        results += [g.numpy() for g in again if g is not None]
    return results


def _compare(fn, shapes, kwargs, spy, monkeypatch, second_order=False, layout=None):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if layout is not None:
        arrays[0] = layout(arrays[0])
    ours = _run(fn, arrays, kwargs, second_order)
    assert spy["forward"] + spy["data"] > 0, "oneDNN was not called"
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        reference = _run(fn, arrays, kwargs, second_order)
    for got, want in zip(ours, reference):
        assert got.shape == want.shape and got.dtype == np.float32
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * scale)


def _channels_last(a):
    """The same values in channels-last memory (what one chainrule convolution hands the next)."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)).transpose(0, a.ndim - 1, *range(1, a.ndim - 1))


CASES_2D = [
    # (input, weight, bias or None, kwargs)
    ((4, 16, 12, 12), (32, 16, 3, 3), (32,), dict(padding=1)),
    ((4, 16, 12, 12), (32, 16, 3, 3), None, dict(stride=2, padding=1)),
    ((2, 3, 17, 13), (8, 3, 5, 3), (8,), dict(stride=(2, 1), padding=(2, 0))),
    ((2, 16, 11, 11), (16, 1, 3, 3), (16,), dict(padding=1, groups=16)),  # depthwise
    ((2, 8, 10, 10), (12, 2, 3, 3), None, dict(padding=2, dilation=2, groups=4)),
    ((3, 32, 8, 8), (64, 32, 1, 1), None, dict(stride=2)),
    ((2, 4, 9, 9), (6, 4, 3, 3), (6,), dict(padding="same")),
]


@pytest.mark.parametrize("case", CASES_2D)
@pytest.mark.parametrize("layout", [None, _channels_last], ids=["nchw", "channels-last"])
def test_conv2d_on_onednn_equals_the_numpy_kernels(case, layout, spy, monkeypatch):
    x, w, b, kwargs = case
    shapes = [x, w] + ([b] if b else [])
    _compare(F.conv2d, shapes, kwargs, spy, monkeypatch, layout=layout)
    assert spy["forward"] and spy["data"] and spy["weights"]


def _conv3d(x, w, b):
    """A 3-d convolution, padding 1 (chainrule has no conv3d layer; its convolution is N-d)."""
    return conv_f.convolution(x, w, b, (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, 3, "conv3d")


@pytest.mark.parametrize(
    "fn, shapes, kwargs",
    [
        (F.conv1d, [(4, 8, 30), (16, 8, 5), (16,)], dict(stride=2, padding=2)),
        (_conv3d, [(2, 4, 6, 7, 5), (8, 4, 3, 3, 3), (8,)], {}),
        (F.conv_transpose2d, [(2, 16, 7, 7), (16, 8, 3, 3), (8,)], dict(stride=2, padding=1)),
    ],
    ids=["conv1d", "conv3d", "conv_transpose2d"],
)
def test_other_dimensions_and_the_transposed_convolution(fn, shapes, kwargs, spy, monkeypatch):
    _compare(fn, shapes, kwargs, spy, monkeypatch)


def test_second_order_gradients_on_onednn(spy, monkeypatch):
    _compare(F.conv2d, [(2, 8, 9, 9), (8, 8, 3, 3), (8,)], dict(padding=1), spy, monkeypatch, second_order=True)


def test_output_padding_on_onednn(spy, monkeypatch):
    # output padding below the stride: oneDNN's floor formula still gives the sizes (the last row gets zeros)
    _compare(F.conv_transpose2d, [(2, 4, 5, 5), (4, 2, 3, 3)], dict(stride=2, output_padding=1), spy, monkeypatch)
    assert spy["data"]


def test_sizes_onednn_does_not_give_and_float64_stay_on_numpy(spy):
    # output padding at least the stride (allowed under a larger dilation): more rows than the floor formula
    x, w = cr.randn(1, 4, 5, 5), cr.randn(4, 2, 3, 3)
    out = F.conv_transpose2d(x, w, output_padding=1, dilation=2)
    assert out.shape == (1, 2, 10, 10) and spy["data"] == 0
    F.conv2d(cr.randn(1, 4, 5, 5, dtype=cr.float64), cr.randn(3, 4, 3, 3, dtype=cr.float64))
    assert spy["forward"] == 0


def test_a_conv_net_trains_the_same_with_and_without_onednn(monkeypatch):
    """Five SGD steps of a small CNN: losses and final weights agree to float32 rounding."""

    def setup():
        cr.manual_seed(0)
        model = cr.nn.Sequential(
            cr.nn.Conv2d(3, 8, 3, padding=1),
            cr.nn.BatchNorm2d(8),
            cr.nn.ReLU(),
            cr.nn.Conv2d(8, 16, 3, stride=2, padding=1),
            cr.nn.ReLU(),
            cr.nn.AdaptiveAvgPool2d(1),
            cr.nn.Flatten(),
            cr.nn.Linear(16, 4),
        )
        return model, cr.optim.SGD(model.parameters(), lr=0.1), cr.randn(8, 3, 16, 16), cr.randint(0, 4, (8,))

    _trains_the_same_both_ways(setup, monkeypatch)


def _trains_the_same_both_ways(setup, monkeypatch, steps=5):
    """``steps`` steps of ``setup()``'s (model, optimizer, x, y) with oneDNN on and off: losses and final weights agree
    to float32 rounding, and the loss fell."""

    def train():
        model, opt, x, y = setup()
        losses = []
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.numpy().copy() for p in model.parameters()]

    losses, params = train()
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        ref_losses, ref_params = train()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for p, q in zip(params, ref_params):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-5)
    assert losses[-1] < losses[0]


def test_primitives_are_reported_and_none_is_reference_code():
    F.conv2d(cr.randn(2, 16, 8, 8), cr.randn(16, 16, 3, 3), padding=1)
    report = _dnnl.info()
    assert report["enabled"] and report["version"].startswith("3.")
    # (LSTMs' and GRUs' are the exception: oneDNN names its one RNN implementation "ref"; it runs on its JIT GEMMs)
    impls = {k: v for k, v in report["primitives"].items() if not k.startswith(("lstm", "gru"))}
    assert impls and not any(name.startswith("ref") for name in impls.values())


def _gelu_reference(x):
    from scipy.special import erf

    x = x.astype(np.float64)
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def test_a_primitive_reuses_its_memory_objects_on_new_arrays():
    rng = np.random.default_rng(11)
    inputs = [rng.standard_normal(5000).astype(np.float32) for _ in range(3)]
    plan = _dnnl._eltwise_plan(_dnnl._ELTWISE["none"], False, 5000, 1)[0]
    outs = [_dnnl.gelu(x, "none", 1) for x in inputs]
    made = dict(plan.bound.memories)
    outs += [_dnnl.gelu(x, "none", 1) for x in inputs]  # the same memory objects, pointed at these arrays
    assert plan.bound.memories == made and set(made) == {_dnnl._ARG_SRC, _dnnl._ARG_DST}
    for x, out in zip(inputs * 2, outs):
        np.testing.assert_allclose(out, _gelu_reference(x), rtol=1e-5, atol=1e-6)


def test_threads_running_one_primitive_get_their_own_memory_objects():
    import threading

    n = 6000
    plan = _dnnl._eltwise_plan(_dnnl._ELTWISE["none"], False, n, 1)[0]
    errors, handles = [], {}
    start = threading.Barrier(4)

    def run(seed):
        x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
        want = _gelu_reference(x)
        start.wait()
        for _ in range(200):
            out = _dnnl.gelu(x, "none", 1)
            if not np.allclose(out, want, rtol=1e-5, atol=1e-6):
                errors.append(seed)
                return
        handles[seed] = dict(plan.bound.memories)

    workers = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors and len(handles) == 4
    made = [m.value for h in handles.values() for m in h.values()]
    assert len(set(made)) == len(made)  # no memory object shared by two threads


def test_a_gemm_primitive_follows_its_operands_when_it_keeps_their_addresses(monkeypatch):
    """A GEMM primitive's memory objects keep an address that repeats (a weight, call after call) and are
    pointed again when it changes: the results follow in-place changes, new arrays and read-only views."""
    rng = np.random.default_rng(16)
    w = rng.standard_normal((256, 96)).astype(np.float32)
    bias = rng.standard_normal(256).astype(np.float32)
    pointed = []
    real = _dnnl._lib.dnnl_memory_set_data_handle
    monkeypatch.setattr(_dnnl._lib, "dnnl_memory_set_data_handle", lambda mem, a: pointed.append(a) or real(mem, a))

    def product(x):
        out = np.empty((x.shape[0], 256), np.float32)
        result = _dnnl.matmul_gemm(2, *_dnnl.gemm_operands(x, w.T, out), bias=bias)
        assert result is not None
        np.testing.assert_allclose(out, x @ w.T + bias, rtol=1e-4, atol=1e-4)

    for step in range(4):
        x = rng.standard_normal((40, 96)).astype(np.float32)
        if step == 3:
            x.setflags(write=False)  # read-only: its address through the slower path, same result
        pointed.clear()
        product(x)
        if step:
            assert len(pointed) < 4  # the weight's and the bias's addresses repeat: not pointed again
        w *= 1.5  # in place: same address, new values
    w = rng.standard_normal((256, 96)).astype(np.float32)  # a new array: a new address, pointed again
    product(rng.standard_normal((40, 96)).astype(np.float32))


def test_a_transient_plan_destroys_its_memory_objects(monkeypatch):
    destroyed = []
    lib = _dnnl._lib
    real = lib.dnnl_memory_destroy
    monkeypatch.setattr(_dnnl, "_MAX_PLANS", 0)  # every new plan is transient: built, run once, destroyed
    monkeypatch.setattr(lib, "dnnl_memory_destroy", lambda mem: destroyed.append(mem) or real(mem))
    x = np.random.default_rng(12).standard_normal(4099).astype(np.float32)  # a size no other test uses
    out = _dnnl.gelu(x, "none", 1)
    np.testing.assert_allclose(out, _gelu_reference(x), rtol=1e-5, atol=1e-6)
    assert len(destroyed) == 2  # its source and destination
    assert ("eltwise", _dnnl._ELTWISE["none"], False, 4099, 1) not in _dnnl._plans


def test_prepare_names_the_thread_counts_a_kernel_has_not_run_on_yet(monkeypatch):
    """The thread choosers leave a kernel's first call on a count out of their trials: prepare says which."""
    n = 4103  # a size no other test uses
    x = np.random.default_rng(13).standard_normal(n).astype(np.float32)
    assert _dnnl.eltwise_prepare("none", False, n, (1, 2)) == (1, 2)
    _dnnl.gelu(x, "none", 2)
    assert _dnnl.eltwise_prepare("none", False, n, (1, 2)) == (1,)
    _dnnl.gelu(x, "none", 1)
    assert _dnnl.eltwise_prepare("none", False, n, (1, 2)) == ()  # all warm: falsy, but not None
    shape, hidden = (3, 2, 5), 4
    assert _dnnl.rnn_prepare("lstm", shape, hidden, False, "tnc", "training", (1,)) == (1,)
    destroyed = []
    monkeypatch.setattr(_dnnl, "_MAX_PLANS", 0)  # every new plan is transient: counted warm, destroyed at once
    monkeypatch.setattr(_dnnl._Plan, "destroy", lambda plan: destroyed.append(plan))
    assert _dnnl.eltwise_prepare("tanh", False, n + 2, (1, 2)) == () and len(destroyed) == 2


# --------------------------------------------------------------------------- GEMM


@pytest.fixture
def gemm_spy(monkeypatch):
    calls = []
    original = _dnnl.gemm

    def counted(threads_, *args):
        calls.append(threads_)
        return original(threads_, *args)

    monkeypatch.setattr(_dnnl, "gemm", counted)
    return calls


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", [(64, 256, 256), (128, 784, 512), (300, 7, 250), (5, 600, 900)])
def test_float32_products_go_to_onednn_and_equal_numpy(shape, ta, tb, gemm_spy):
    m, k, n = shape
    rng = np.random.default_rng(2)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    a, b = (a.T if ta else a), (b.T if tb else b)  # transposed views, read in place
    want = a.astype(np.float64) @ b.astype(np.float64)
    got = backend.matmul(np, a, b)
    assert got.dtype == np.float32 and got.shape == (m, n) and gemm_spy
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    out = np.full((m, n), 2.0, np.float32)
    backend.matmul_add(np, a, b, out)  # beta = 1
    np.testing.assert_allclose(out, want + 2.0, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    assert len(gemm_spy) == 2


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("add", ["beta", "bias", None])
@pytest.mark.parametrize("pad", [0, 9])
def test_matmul_gemm_equals_numpy(ta, tb, add, pad):
    """sgemm's product on the matmul primitive: transposed operands read in place, beta = 1, or a bias the
    primitive adds (a linear layer's); both kernels give the same result to float32 rounding.  For rows
    strided wider than they are (views of a wider array) oneDNN 3.2 has no brgemm kernel: None there, and
    ``gemm`` keeps those on sgemm."""
    m, k, n = 96, 200, 160
    rng = np.random.default_rng(21)
    wide_a = rng.standard_normal((k, m + pad) if ta else (m, k + pad)).astype(np.float32)
    wide_b = rng.standard_normal((n, k + pad) if tb else (k, n + pad)).astype(np.float32)
    a = wide_a[:, :m].T if ta else wide_a[:, :k]
    b = wide_b[:, :k].T if tb else wide_b[:, :n]
    bias = rng.standard_normal(n).astype(np.float32)
    extra = {"beta": (1.0, None), "bias": (0.0, bias), None: (0.0, None)}[add]
    want = a.astype(np.float64) @ b.astype(np.float64) + (3.0 if add == "beta" else 0.0)
    want += bias if add == "bias" else 0.0
    results = []
    for kernel in (_dnnl.sgemm, _dnnl.matmul_gemm):
        c = np.full((m, n), 3.0, np.float32)
        operands = _dnnl.gemm_operands(a, b, c)
        assert operands[:2] == (ta, tb)
        if kernel(2, *operands, *extra) is None:
            if not pad:
                pytest.skip("oneDNN has no brgemm kernel for float32 products on this CPU")
            continue
        results.append(c)
    for c in results:
        np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))


def test_linear_layers_bias_goes_to_the_gemm(monkeypatch):
    """addmm (a linear layer with a bias) hands its bias to oneDNN's GEMM instead of copying it into the result
    first, and the result equals NumPy's."""
    seen = []
    original = _dnnl.gemm
    monkeypatch.setattr(_dnnl, "gemm", lambda *args: seen.append(args[-1] is not None) or original(*args))
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((128, 300)).astype(np.float32), rng.standard_normal((200, 300)).astype(np.float32)
    for bias in (rng.standard_normal(200).astype(np.float32), rng.standard_normal((1, 200)).astype(np.float32)):
        for _ in range(_dnnl._GEMM_WARM + 2 * (_dnnl._GEMM_UNTIMED + _dnnl._GEMM_TRIAL) + 3):  # the trial and after
            got = backend.addmm(np, bias, x, w.T)
            np.testing.assert_allclose(got, x @ w.T + bias, rtol=1e-5, atol=1e-4)
    assert seen and all(seen)


def _fake_kernels(monkeypatch, sgemm_seconds, matmul_seconds):
    """sgemm and matmul_gemm replaced by functions that advance a fake clock by ``seconds(calls so far)`` and
    count their calls."""
    clock, calls = [0.0], {"sgemm": 0, "matmul": 0}

    def kernel(name, seconds):
        def run(threads_, *args):
            clock[0] += seconds(calls[name])
            calls[name] += 1
            return args[9]  # c

        return run

    monkeypatch.setattr(_dnnl, "_gemm_choices", {})
    monkeypatch.setattr(_dnnl, "_gemm_tried", [0])
    monkeypatch.setattr(_dnnl, "sgemm", kernel("sgemm", sgemm_seconds))
    monkeypatch.setattr(_dnnl, "matmul_gemm", kernel("matmul", matmul_seconds))
    monkeypatch.setattr(_dnnl.time, "perf_counter", lambda: clock[0])
    return calls


_ARGS = (False, True, 64, 64, 64, 0, 64, 0, 64, "c")  # a product's arguments after the thread count (fake arrays)


@pytest.mark.parametrize("matmul_faster", [True, False])
def test_gemm_tries_both_kernels_and_keeps_the_faster(matmul_faster, monkeypatch):
    fast, slow = (lambda calls: 1.0), (lambda calls: 2.0)
    calls = _fake_kernels(monkeypatch, slow if matmul_faster else fast, fast if matmul_faster else slow)
    warm, trial = _dnnl._GEMM_WARM, _dnnl._GEMM_UNTIMED + _dnnl._GEMM_TRIAL
    for _ in range(warm):  # a shape's first calls: sgemm alone
        assert _dnnl.gemm(2, *_ARGS, 1.0) == "c"
    assert calls == {"sgemm": warm, "matmul": 0}
    for _ in range(2 * trial):  # the trial: both kernels in turn, the first calls of each untimed
        assert _dnnl.gemm(2, *_ARGS, 1.0) == "c"
    assert calls == {"sgemm": warm + trial, "matmul": trial}
    for _ in range(20):
        _dnnl.gemm(2, *_ARGS, 1.0)
    chosen = "matmul" if matmul_faster else "sgemm"
    assert calls[chosen] == (0 if matmul_faster else warm) + trial + 20
    assert _dnnl.info()["gemm_kernels"] == {"(64, 64) @ (64, 64)^T + 1 c lda=64 ldb=64 threads=2": chosen}
    # another thread count, or beta, is another choice; a beta the primitive does not take, or one thread,
    # stays on sgemm
    before = dict(calls)
    for _ in range(warm + 10):
        _dnnl.gemm(1, *_ARGS, 1.0)
        _dnnl.gemm(2, *_ARGS, 0.5)
        _dnnl.gemm(4, *_ARGS, 0.0)
    assert calls["matmul"] - before["matmul"] == 5 and calls["sgemm"] - before["sgemm"] == 3 * warm + 25


def test_gemm_tries_again_after_its_retry_count(monkeypatch):
    """A choice made while the process warmed up (the matmul kernel faster) is tried once more later, and
    this time sgemm is faster: it is kept from then on."""
    retry, warm, trial = _dnnl._GEMM_RETRY, _dnnl._GEMM_WARM, _dnnl._GEMM_UNTIMED + _dnnl._GEMM_TRIAL
    calls = _fake_kernels(monkeypatch, lambda n: 1.0, lambda n: 0.5 if n < retry // 2 else 2.0)
    for _ in range(retry - 1):
        _dnnl.gemm(2, *_ARGS)
    assert calls["sgemm"] == warm + trial
    for _ in range(2 * trial + 30):
        _dnnl.gemm(2, *_ARGS)
    assert calls["sgemm"] == warm + 2 * trial + 30


def test_gemm_tries_again_after_ten_times_as_many_calls_each_time(monkeypatch):
    """Trials come again at 200, 2,000, 20,000 ... calls of a shape: a choice made in a slow minute (sgemm
    measured faster around the 200th call) is undone at the 2,000th, when the primitive is faster again."""
    retry, trial = _dnnl._GEMM_RETRY, _dnnl._GEMM_UNTIMED + _dnnl._GEMM_TRIAL
    made = [0]  # products so far, on either kernel

    def primitive(n):
        made[0] += 1
        return 2.0 if retry // 2 < made[0] + 1 < 10 * retry - retry // 2 else 0.5

    def plain(n):
        made[0] += 1
        return 1.0

    calls = _fake_kernels(monkeypatch, plain, primitive)
    for _ in range(10 * retry - 1):
        _dnnl.gemm(2, *_ARGS)
    on_sgemm = calls["sgemm"]
    for _ in range(2 * trial + 30):
        _dnnl.gemm(2, *_ARGS)
    assert calls["sgemm"] == on_sgemm + trial  # its share of the trial at 2,000, then the primitive again
    assert [c.retry for c in _dnnl._gemm_choices.values()] == [100 * retry]


def test_gemm_tries_a_bounded_number_of_shapes(monkeypatch):
    """Shapes seen a few times only build no primitive, and past ``_GEMM_SHAPES`` tried shapes the others stay
    on sgemm (variable batch sizes must not fill the plan cache the convolutions share)."""
    calls = _fake_kernels(monkeypatch, lambda n: 2.0, lambda n: 1.0)
    monkeypatch.setattr(_dnnl, "_gemm_tried", [0])
    monkeypatch.setattr(_dnnl, "_GEMM_SHAPES", 2)
    for m in range(100, 110):  # ten shapes, each called fewer times than its warm-up
        for _ in range(_dnnl._GEMM_WARM):
            _dnnl.gemm(2, False, True, m, 64, 64, 0, 64, 0, 64, "c")
    assert calls["matmul"] == 0 and _dnnl._gemm_tried == [0]
    for m in range(100, 103):  # three of them called more: two are tried, the third is not
        for _ in range(30):
            _dnnl.gemm(2, False, True, m, 64, 64, 0, 64, 0, 64, "c")
    assert _dnnl._gemm_tried == [2]
    kernels = _dnnl.info()["gemm_kernels"]
    assert [kernels[f"({m}, 64) @ (64, 64)^T lda=64 ldb=64 threads=2"] for m in range(100, 103)] == ["matmul"] * 2 + [
        "sgemm"
    ]


def test_gemm_without_brgemm_stays_on_sgemm(monkeypatch):
    calls = _fake_kernels(monkeypatch, lambda n: 1.0, lambda n: 1.0)
    monkeypatch.setattr(_dnnl, "matmul_gemm", lambda *args: None)
    for _ in range(30):
        _dnnl.gemm(2, *_ARGS)
    assert calls["sgemm"] == 30


def test_deterministic_mode_runs_sgemm_alone(monkeypatch):
    used = []
    monkeypatch.setattr(_dnnl, "gemm", lambda *args: used.append("gemm") or _dnnl.sgemm(*args))
    a = np.random.default_rng(4).standard_normal((256, 256)).astype(np.float32)
    threads.use_deterministic_algorithms(True)
    try:
        first = backend.matmul(np, a, a.T)
        assert used == [] and np.array_equal(first, backend.matmul(np, a, a.T))
    finally:
        threads.use_deterministic_algorithms(False)
    backend.matmul(np, a, a.T)
    assert used == ["gemm"]


def test_products_onednn_cannot_read_in_place_stay_on_numpy(gemm_spy):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((128, 512)).astype(np.float32)[:, ::2]  # no unit stride
    b = rng.standard_normal((256, 256)).astype(np.float32)
    np.testing.assert_allclose(backend.matmul(np, a, b), a @ b, rtol=1e-5, atol=1e-4)
    d = rng.standard_normal((256, 256))  # float64
    np.testing.assert_allclose(backend.matmul(np, d, d), d @ d, rtol=1e-12)
    small = np.ones((8, 8), np.float32)  # below SERIAL_WORK: NumPy
    np.testing.assert_array_equal(backend.matmul(np, small, small), small @ small)
    assert gemm_spy == []


@pytest.mark.parametrize(
    "a_shape, b_shape, ta, tb",
    [
        ((96, 64, 32), (96, 32, 64), False, False),
        ((96, 64, 32), (96, 64, 32), False, True),  # q @ k.mT
        ((8, 12, 64, 48), (8, 12, 64, 32), True, False),  # a.mT @ g
        ((8, 12, 64, 32), (1, 12, 32, 40), False, False),  # a batch axis broadcast
        ((4, 1, 64, 32), (1, 6, 32, 64), False, False),
    ],
)
def test_batched_float32_products_go_to_onednn_and_equal_numpy(a_shape, b_shape, ta, tb, monkeypatch):
    calls = []
    original = _dnnl.batched_matmul
    monkeypatch.setattr(_dnnl, "batched_matmul", lambda *args: calls.append(1) or original(*args))
    rng = np.random.default_rng(12)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    a, b = (a.swapaxes(-1, -2) if ta else a), (b.swapaxes(-1, -2) if tb else b)  # transposed views, in place
    got = backend.matmul(np, a, b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert calls and got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(a.shape[-1]))


def test_batched_products_onednn_cannot_take_stay_on_numpy(monkeypatch):
    calls = []
    original = _dnnl.batched_matmul
    monkeypatch.setattr(_dnnl, "batched_matmul", lambda *args: calls.append(1) or original(*args))
    rng = np.random.default_rng(13)
    b = rng.standard_normal((64, 64)).astype(np.float32)
    a = np.broadcast_to(rng.standard_normal((1, 64, 64)).astype(np.float32), (96, 64, 64))  # stride 0
    np.testing.assert_allclose(backend.matmul(np, a, np.broadcast_to(b, (96, 64, 64))), a @ b, rtol=1e-5, atol=1e-4)
    d = rng.standard_normal((96, 64, 64))  # float64
    np.testing.assert_allclose(backend.matmul(np, d, d), d @ d, rtol=1e-10, atol=1e-12)
    assert calls == []


def test_attention_trains_the_same_with_and_without_onednn(monkeypatch):
    def run():
        cr.manual_seed(0)
        layer = cr.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, activation="gelu", batch_first=True)
        x = cr.randn(8, 32, 64, requires_grad=True)
        out = layer(x)
        out.square().mean().backward()
        return [out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]

    ours = run()
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        reference = run()
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def test_an_mlp_trains_the_same_with_and_without_onednn(monkeypatch):
    def setup():
        cr.manual_seed(0)
        model = cr.nn.Sequential(cr.nn.Linear(256, 256), cr.nn.GELU(), cr.nn.Linear(256, 10))
        return model, cr.optim.Adam(model.parameters(), lr=1e-3), cr.randn(64, 256), cr.randint(0, 10, (64,))

    _trains_the_same_both_ways(setup, monkeypatch)


# --------------------------------------------------------------------------- LSTM


@pytest.fixture
def lstm_spy(monkeypatch):
    """Counts the oneDNN LSTM and GRU forwards and backwards that returned a result."""
    return _counting(monkeypatch, {"forward": "rnn", "backward": "rnn_backward"})


def _lstm_both_ways(run, monkeypatch):
    """run()'s arrays with oneDNN on, then off."""
    ours = run()
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        return ours, run()


def _assert_close(ours, reference, tol=2e-5):
    for got, want in zip(ours, reference, strict=True):
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("layout", ["time-major", "batch-first view", "strided"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_layer_on_onednn_equals_numpy(cell, layout, reverse, lstm_spy, monkeypatch):
    """Every output and gradient of one LSTM or GRU layer (either direction), for the input layouts oneDNN reads in
    place (time-major, the time-major view of a batch-first input) and one it does not (copied), and an output
    gradient in another layout than the input's.  The GRU's gates and biases are reordered for oneDNN's
    linear-before-reset GRU (PyTorch's r, z, n; oneDNN's u, r, o and a fourth bias row)."""
    from chainrule.ops.recurrent import gru_layer, lstm_layer

    length, batch, features, hidden = 9, 6, 10, 12
    gates, states = (4, 2) if cell == "lstm" else (3, 1)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((batch, length, 2 * features)).astype(np.float32)
    shapes = [(batch, hidden)] * states + [(gates * hidden, features), (gates * hidden, hidden)]
    shapes += [(gates * hidden,)] * 2
    params = [(0.4 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    seeds = [rng.standard_normal(s).astype(np.float32) for s in [(length, batch, hidden)] + [(batch, hidden)] * states]

    def run():
        xt = cr.tensor(x, requires_grad=True)
        tensors = [cr.tensor(p, requires_grad=True) for p in params]
        inputs = {
            "time-major": xt[:, :, :features].transpose(0, 1).contiguous(),
            "batch-first view": xt[:, :, :features].contiguous().transpose(0, 1),
            "strided": xt[:, :, ::2].transpose(0, 1),
        }[layout]
        outs = (lstm_layer if cell == "lstm" else gru_layer)(inputs, *tensors, reverse=reverse)
        g_out = cr.tensor(seeds[0].transpose(1, 0, 2).copy()).transpose(0, 1)  # batch-first memory
        if layout == "batch-first view":
            g_out = g_out.contiguous()  # time-major memory under a batch-first input
        loss = sum((o * cr.tensor(s) if i else o * g_out).sum() for i, (o, s) in enumerate(zip(outs, seeds)))
        grads = cr.autograd.grad(loss, [xt, *tensors])
        return [*(o.numpy() for o in outs), *(g.numpy() for g in grads)]

    ours, reference = _lstm_both_ways(run, monkeypatch)
    assert lstm_spy == {"forward": 1, "backward": 1}
    _assert_close(ours, reference)


class _Recurrent(cr.nn.Module):
    """A recurrent classifier: an LSTM tagger (two bidirectional layers over a batch-first input, given states)
    or a GRU one (one bidirectional layer, time-major input, default states)."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        if cell == "lstm":
            self.rnn = cr.nn.LSTM(16, 24, num_layers=2, batch_first=True, bidirectional=True)
        else:
            self.rnn = cr.nn.GRU(16, 24, bidirectional=True)
        self.head = cr.nn.Linear(48, 5)

    def forward(self, x):
        if self.cell == "lstm":
            states = (cr.zeros(4, x.shape[0], 24) + 0.1, cr.zeros(4, x.shape[0], 24) - 0.2)
            return self.head(self.rnn(x, states)[0][:, -1])
        return self.head(self.rnn(x)[0][-1])


@pytest.mark.parametrize("cell, layers", [("lstm", 4), ("gru", 2)])
def test_a_recurrent_net_trains_the_same_with_and_without_onednn(cell, layers, lstm_spy, monkeypatch):
    """The modules end to end, dropout off: every layer and direction on oneDNN, five steps both ways."""

    def setup():
        cr.manual_seed(3)
        model = _Recurrent(cell)
        x = cr.randn(12, 20, 16) if cell == "lstm" else cr.randn(20, 12, 16)
        return model, cr.optim.Adam(model.parameters(), lr=1e-2), x, cr.randint(0, 5, (12,))

    _trains_the_same_both_ways(setup, monkeypatch)
    assert lstm_spy["forward"] >= layers * 5 and lstm_spy["backward"] >= layers * 5


def test_a_gru_backward_onednn_does_not_take_runs_on_numpy(lstm_spy, monkeypatch):
    cr.manual_seed(6)
    gru = cr.nn.GRU(8, 16, batch_first=True)
    x = cr.randn(4, 7, 8)

    def grads(turn_off):
        xg = x.detach().requires_grad_()
        out, h_n = gru(xg)
        if turn_off:
            monkeypatch.setattr(_dnnl, "ENABLED", False)
        found = cr.autograd.grad((out.square().sum() + h_n.sum()), [xg, *gru.parameters()])
        monkeypatch.setattr(_dnnl, "ENABLED", True)
        return [out.numpy(), *(g.numpy() for g in found)]

    reference = grads(False)
    assert lstm_spy == {"forward": 1, "backward": 1}
    _assert_close(grads(True), reference)
    assert lstm_spy == {"forward": 2, "backward": 1}


def test_lstm_inference_second_order_in_place_outputs_and_fallbacks(lstm_spy, monkeypatch):
    """No graph: the inference primitive (no workspace), same outputs.  create_graph: the differentiable BPTT.
    h_n and c_n changed in place after the forward: the backward does not read them; the output: refused.  A backward oneDNN does not
    take (off by then, or a workspace of another size): NumPy's, from the forward run again."""
    cr.manual_seed(4)
    lstm = cr.nn.LSTM(8, 16, batch_first=True)
    x = cr.randn(4, 7, 8)
    seed = cr.randn(4, 7, 16)
    with cr.no_grad():
        quiet, _ = lstm(x)
    assert lstm_spy["forward"] == 1 and "lstm inference" in " ".join(_dnnl.info()["primitives"])

    def grads(between=None, second_order=False):
        """The output and the gradients of sum(out * seed) (second order: of the input gradient's squared norm)."""
        xg = x.detach().requires_grad_()
        out, (h_n, c_n) = lstm(xg)
        first = out.numpy().copy()
        if between is not None:
            between(out, h_n, c_n)
        found = cr.autograd.grad((out * seed).sum(), [xg, *lstm.parameters()], create_graph=second_order)
        if second_order:
            found = cr.autograd.grad(found[0].square().sum(), [xg, *lstm.parameters()])
        return [first, *(g.numpy() for g in found)]

    reference = grads()
    np.testing.assert_allclose(quiet.numpy(), reference[0], rtol=0, atol=1e-6)
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        _assert_close(reference, grads())
        numpy_second = grads(second_order=True)
    _assert_close(grads(second_order=True), numpy_second, tol=1e-4)

    def scribble(out, h_n, c_n):
        h_n.mul_(7.0)  # h_n and c_n are stacked copies of the layer's final states: the backward reads neither
        c_n.add_(7.0)

    _assert_close(grads(scribble)[1:], reference[1:], tol=1e-6)

    def scribble_output(out, h_n, c_n):
        with cr.no_grad():  # (recording, chainrule refuses an in-place change of a view outright)
            out[:, 0] = 7.0  # the backward reads the layer's output itself (no copy kept), as PyTorch's

    with pytest.raises(cr.errors.GradientError, match="lstm_layer: its output 0 was modified in place"):
        grads(scribble_output)

    def off(out, h_n, c_n):
        monkeypatch.setattr(_dnnl, "ENABLED", False)

    def other_workspace(out, h_n, c_n):
        node = out._edge[0]
        while node.name != "lstm_layer":
            node = node.next[0][0]
        mark, operands, workspace, *outputs = node.extra
        node.extra = (mark, operands, workspace[:-1], *outputs)

    for between in (off, other_workspace):
        before = dict(lstm_spy)
        found = grads(between)
        monkeypatch.setattr(_dnnl, "ENABLED", True)
        assert lstm_spy["forward"] == before["forward"] + 1 and lstm_spy["backward"] == before["backward"]
        _assert_close(found, reference)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_the_output_is_time_major_memory_as_pytorchs(kind, batch_first):
    """oneDNN writes the output time-major and a batch-first caller gets a view of it: the same strides as
    PyTorch's CPU layer (its output is not contiguous with batch_first either)."""
    torch = pytest.importorskip("torch")
    layer = getattr(cr.nn, kind)(6, 5, batch_first=batch_first)
    theirs = getattr(torch.nn, kind)(6, 5, batch_first=batch_first)
    shape = (3, 4, 6)
    out = layer(cr.randn(*shape, requires_grad=True))[0]
    expected = theirs(torch.randn(*shape, requires_grad=True))[0]
    assert out._data.strides == tuple(4 * s for s in expected.stride())


# --------------------------------------------------------------------------- attention


@pytest.mark.parametrize("mask", ["padding", "causal", "none", "float (L, S)"])
def test_attention_scores_on_onednn_equal_numpy(mask, monkeypatch):
    """ops/attention.py's scores: one oneDNN matmul with the scale and the mask as post-ops, over the heads-split
    views of a projection; output and every gradient against the NumPy path."""
    calls = _counting(monkeypatch, {"scores": "scores"})
    n, length, heads, width = 4, 24, 3, 16
    rng = np.random.default_rng(13)
    projection = rng.standard_normal((n, length, 3 * heads * width)).astype(np.float32)
    padding = np.where(rng.random((n, 1, 1, length)) < 0.3, -np.inf, 0.0).astype(np.float32)
    padding[..., 0] = 0.0
    options = {
        "padding": {"attn_mask": cr.tensor(padding)},
        "causal": {"is_causal": True},
        "none": {},
        "float (L, S)": {"attn_mask": cr.tensor(rng.standard_normal((length, length)).astype(np.float32))},
    }[mask]

    def run():
        y = cr.tensor(projection, requires_grad=True)
        q, k, v = (t.reshape(n, length, heads, width).permute(0, 2, 1, 3) for t in y.split(heads * width, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, **options)
        seed = np.random.default_rng(14).standard_normal(out.shape).astype(np.float32)
        (grad,) = cr.autograd.grad((out * cr.tensor(seed)).sum(), [y])
        return [out.numpy(), grad.numpy()]

    ours, reference = _lstm_both_ways(run, monkeypatch)
    assert calls["scores"] == 1
    _assert_close(ours, reference, tol=1e-5)
    # on oneDNN the output is laid out as the queries' heads-split memory: merging the heads back is a view
    y = cr.tensor(projection)
    q, k, v = (t.reshape(n, length, heads, width).permute(0, 2, 1, 3) for t in y.split(heads * width, dim=-1))
    out = F.scaled_dot_product_attention(q, k, v, **options)
    assert np.shares_memory(out.permute(0, 2, 1, 3).reshape(n, length, heads * width)._data, out._data)
    # and the gradients of q, k and v like q, k and v: merging their heads back in the views' backward is a view
    y.requires_grad_()
    q, k, v = (t.reshape(n, length, heads, width).permute(0, 2, 1, 3) for t in y.split(heads * width, dim=-1))
    out = F.scaled_dot_product_attention(q, k, v, **options)
    seed = cr.tensor(np.random.default_rng(15).standard_normal(out.shape).astype(np.float32))
    for g in cr.autograd.grad((out * seed).sum(), [q, k, v]):
        assert np.shares_memory(g.permute(0, 2, 1, 3).reshape(n, length, heads * width)._data, g._data)


# --------------------------------------------------------------------------- GELU


@pytest.fixture
def gelu_spy(monkeypatch):
    return _counting(monkeypatch, {"forward": "gelu", "backward": "gelu_backward"})


def _gelu_run(x, g, approximate, second_order=False):
    t = cr.tensor(x, requires_grad=True)
    out = F.gelu(t, approximate=approximate)
    (grad,) = cr.autograd.grad(out, [t], cr.tensor(g), create_graph=second_order)
    results = [out.numpy(), grad.numpy()]
    if second_order:
        results.append(cr.autograd.grad((grad * grad).sum(), [t])[0].numpy())
    return results


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(32, 64, 96), (4096,), (3, 5, 7, 41)])
def test_gelu_on_onednn_equals_numpy(shape, approximate, gelu_spy, monkeypatch):
    rng = np.random.default_rng(5)
    x = (3 * rng.standard_normal(shape)).astype(np.float32)
    x.reshape(-1)[:6] = [0.0, -0.0, 1e6, -1e6, 8.0, -8.0]  # zeros, saturated tails
    g = rng.standard_normal(shape).astype(np.float32)
    ours = _gelu_run(x, g, approximate)
    assert gelu_spy == {"forward": 1, "backward": 1}
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        reference = _gelu_run(x, g, approximate)
    for got, want in zip(ours, reference):  # float32 rounding: GELU's values are at most |x| (here up to 1e6)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=4e-6)
    assert ours[0].reshape(-1)[2] == 1e6 and ours[0].reshape(-1)[3] == 0.0


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_of_non_finite_inputs_is_pytorchs(approximate):
    torch = pytest.importorskip("torch")
    x = np.full(5000, 0.5, np.float32)
    x[:3] = [np.inf, -np.inf, np.nan]
    out = F.gelu(cr.tensor(x), approximate=approximate).numpy()[:3]
    want = torch.nn.functional.gelu(torch.from_numpy(x), approximate=approximate).numpy()[:3]
    np.testing.assert_array_equal(out, want)  # exact: NaN for +inf as well, as PyTorch's


def test_gelu_second_order_and_the_fallbacks(gelu_spy, monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    g = rng.standard_normal((64, 128)).astype(np.float32)
    ours = _gelu_run(x, g, "none", second_order=True)
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        reference = _gelu_run(x, g, "none", second_order=True)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=4e-6)
    # a forward on oneDNN whose backward finds it off recomputes Phi on NumPy; a strided gradient is copied
    t = cr.tensor(x, requires_grad=True)
    out = F.gelu(t)
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        out.backward(cr.tensor(g))
    np.testing.assert_allclose(t.grad.numpy(), reference[1], rtol=1e-5, atol=4e-6)
    t = cr.tensor(x, requires_grad=True)
    F.gelu(t).backward(cr.tensor(np.asfortranarray(g)))
    np.testing.assert_allclose(t.grad.numpy(), reference[1], rtol=1e-5, atol=4e-6)
    # small or strided inputs stay on NumPy
    before = dict(gelu_spy)
    F.gelu(cr.tensor(x[:8, :8]))
    F.gelu(cr.tensor(x)[:, ::2])  # a strided view
    assert gelu_spy == before


# --------------------------------------------------------------------------- layer norm and softmax


@pytest.fixture
def kernel_spy(monkeypatch):
    """Counts the oneDNN layer-norm and softmax calls that returned a result."""
    names = ("layer_norm", "layer_norm_backward", "softmax", "softmax_backward")
    return _counting(monkeypatch, {name: name for name in names})


def _both_ways(fn, arrays, monkeypatch, second_order=False):
    """fn's output and gradients with oneDNN on, then off: two lists of arrays."""

    def run():
        tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*tensors)
        weights = np.random.default_rng(8).standard_normal(out.shape).astype(np.float32)
        grads = cr.autograd.grad((out * cr.tensor(weights)).sum(), tensors, create_graph=second_order)
        results = [out.numpy(), *(g.numpy() for g in grads)]
        if second_order:
            again = cr.autograd.grad(sum((g * g).sum() for g in grads), tensors, allow_unused=True)
            results += [g.numpy() for g in again if g is not None]
        return results

    ours = run()
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        return ours, run()


@pytest.mark.parametrize(
    "shape, normalized, affine",
    [
        ((32, 64, 96), (96,), "both"),
        ((8, 4, 12, 16), (12, 16), "both"),
        ((64, 80), (80,), "none"),
        ((16, 64, 128), (128,), "weight"),  # nanoGPT's LayerNorm(bias=False)
        ((16, 64, 128), (128,), "bias"),
    ],
)
def test_layer_norm_on_onednn_equals_numpy(shape, normalized, affine, kernel_spy, monkeypatch):
    rng = np.random.default_rng(9)
    arrays = [(2 * rng.standard_normal(shape) + 1).astype(np.float32)]
    arrays += [rng.standard_normal(normalized).astype(np.float32) for _ in range({"both": 2, "none": 0}.get(affine, 1))]

    def fn(x, *params):
        weight = params[0] if affine in ("both", "weight") else None
        bias = params[-1] if affine in ("both", "bias") else None
        return F.layer_norm(x, normalized, weight, bias, eps=1e-5)

    ours, reference = _both_ways(fn, arrays, monkeypatch)
    assert kernel_spy["layer_norm"] == 1 and kernel_spy["layer_norm_backward"] == 1
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_layer_norm_second_order_and_a_backward_with_onednn_off(kernel_spy, monkeypatch):
    rng = np.random.default_rng(10)
    arrays = [rng.standard_normal((64, 96)).astype(np.float32), *(rng.standard_normal(96).astype(np.float32),) * 2]

    def fn(x, w, b):
        return F.layer_norm(x, (96,), w, b)

    ours, reference = _both_ways(fn, arrays, monkeypatch, second_order=True)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # a forward on oneDNN whose backward finds it off: NumPy's formulas from the statistics oneDNN kept
    x, w, b = (cr.tensor(a, requires_grad=True) for a in arrays)
    out = fn(x, w, b)
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        out.backward(cr.tensor(np.ones((64, 96), np.float32) * np.arange(96, dtype=np.float32)))
        x2, w2, b2 = (cr.tensor(a, requires_grad=True) for a in arrays)
        fn(x2, w2, b2).backward(cr.tensor(np.ones((64, 96), np.float32) * np.arange(96, dtype=np.float32)))
    for p, q in ((x, x2), (w, w2), (b, b2)):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-4)
    # group norm's affine parameters are per channel, not per normalized element: not a layer norm for oneDNN
    before = dict(kernel_spy)
    F.group_norm(cr.randn(8, 16, 10, 10), 4, cr.randn(16), cr.randn(16))
    assert kernel_spy == before


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("shape, dim", [((32, 12, 16, 16), -1), ((32, 12, 16, 16), 1), ((64, 1000), 1)])
def test_softmax_on_onednn_equals_numpy(shape, dim, log, kernel_spy, monkeypatch):
    x = (4 * np.random.default_rng(11).standard_normal(shape)).astype(np.float32)
    x.reshape(-1)[:3] = [80.0, -80.0, 0.0]

    def fn(t):
        return F.log_softmax(t, dim=dim) if log else F.softmax(t, dim=dim)

    ours, reference = _both_ways(fn, [x], monkeypatch)
    if dim in (-1, len(shape) - 1):  # oneDNN has fast kernels for the innermost axis (others may be reference code)
        assert kernel_spy["softmax"] == 1 and kernel_spy["softmax_backward"] == 1
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6 * max(1.0, float(np.abs(want).max())))


def test_softmax_of_a_row_of_minus_infinity_is_nan_as_numpys(monkeypatch):
    x = np.zeros((64, 128), np.float32)
    x[3] = -np.inf
    ours = F.softmax(cr.tensor(x), dim=1).numpy()
    with monkeypatch.context() as m:
        m.setattr(_dnnl, "ENABLED", False)
        reference = F.softmax(cr.tensor(x), dim=1).numpy()
    np.testing.assert_array_equal(ours, reference)
    assert np.isnan(ours[3]).all()


# --------------------------------------------------------------------------- threads


@pytest.fixture
def blas_count():
    threads._configure()
    blas = threads._STATE.blas
    if blas is None or threads.get_num_threads() < 2:
        pytest.skip("needs NumPy's OpenBLAS and at least two threads")
    saved = threads._STATE.conv, threads._STATE.chooser
    threads._STATE.conv = threads._Chooser(hold=False, call=threads._call_with_count)
    # the GEMMs' chooser says threads pay, with no trial due (an earlier test may have left it on one thread)
    threads._STATE.chooser = chooser = threads._Chooser()
    chooser.next_trial = float("inf")
    _release()
    yield blas.get_threads
    threads._STATE.conv, threads._STATE.chooser = saved
    _release()


def _release():
    """No OpenMP hold: NumPy's BLAS gets its count back (unless the measurements hold it)."""
    threads._STATE.omp_until = 0.0
    if threads._STATE.chooser.threaded:
        threads._hold_one_thread(False)


def test_threaded_convolutions_hold_numpys_blas_at_one_thread(blas_count, monkeypatch):
    """OpenMP's threads and OpenBLAS's must not spin on the same cores: while convolutions run threaded,
    NumPy's BLAS stays on one thread, get_num_threads() still says the full count, and the BLAS gets its
    count back once convolutions have stopped for _OMP_HOLD seconds."""
    count = threads.get_num_threads()
    x, w = cr.randn(8, 16, 32, 32), cr.randn(16, 16, 3, 3)
    F.conv2d(x, w, padding=1)
    assert blas_count() == 1 and threads.get_num_threads() == count
    assert threads._contended()  # products planned meanwhile get one thread
    a = np.ones((256, 256), np.float64)  # a product on NumPy's BLAS (float32 ones go to oneDNN too)
    backend.matmul(np, a, a)
    assert blas_count() == 1
    threads._STATE.omp_until = time.perf_counter() - 1.0  # the hold has run out
    backend.matmul(np, a, a)
    assert blas_count() == count and not threads._STATE.omp_until


def test_convolutions_get_a_measured_thread_choice(blas_count):
    """The conv chooser runs its trial on the convolutions themselves and reports it."""
    x, w = cr.randn(8, 16, 32, 32), cr.randn(16, 16, 3, 3)
    for _ in range(40):
        F.conv2d(x, w, padding=1)
        if threads.info()["last_trial_conv"] is not None:
            break
    one, many, kept = threads.info()["last_trial_conv"]
    # threads are kept only where they measured faster (a trial may also end early for one thread: a threaded
    # call _ABORT times slower than the one-thread ones)
    assert one > 0 and many > 0 and (not kept or many <= threads._GAIN * one)


def test_elementwise_kernels_from_32768_elements_may_run_threaded(monkeypatch):
    """oneDNN's memory-bound kernels (layer norm here) get the full count in deterministic mode from 32,768
    elements on, as PyTorch's grain size (nanoGPT's (1024, 128) layer norms, one thread below SERIAL_WORK until
    now, took 0.21 ms against 0.07 for PyTorch's threaded backward); smaller ones and other kinds below
    SERIAL_WORK stay on one thread."""
    if threads.get_num_threads() < 2:
        pytest.skip("one thread here")
    seen = []
    original = _dnnl.layer_norm
    monkeypatch.setattr(_dnnl, "layer_norm", lambda *a: seen.append(a[-1]) or original(*a))
    monkeypatch.setattr(threads._STATE, "deterministic", True)
    for rows in (256, 255):  # 256 x 128 = 32,768 elements, and one row fewer
        F.layer_norm(cr.randn(rows, 128), (128,))
    assert seen == [threads.get_num_threads(), 1]
    assert threads._SERIAL["eltwise"] == 32768 < threads.SERIAL_WORK


def test_deterministic_mode_gives_convolutions_the_full_count(blas_count, monkeypatch):
    seen = []
    monkeypatch.setattr(threads._STATE, "deterministic", True)
    original = _dnnl.forward
    monkeypatch.setattr(_dnnl, "forward", lambda *a: seen.append(a[-1]) or original(*a))
    F.conv2d(cr.randn(8, 16, 32, 32), cr.randn(16, 16, 3, 3), padding=1)
    # and NumPy's BLAS is held at one thread from then on (a rule of the order of calls, not of their timing)
    assert seen == [threads.get_num_threads()] and threads._STATE.omp_until == float("inf")
    assert blas_count() == 1


def test_switches_in_the_environment():
    script = "from chainrule import _dnnl; print(_dnnl.available())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINRULE_DNNL")}
    off = subprocess.run(
        [sys.executable, "-c", script], env={**env, "CHAINRULE_DNNL": "off"}, capture_output=True, text=True
    )
    assert off.stdout.strip() == "False"
    missing = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "CHAINRULE_DNNL": "on", "CHAINRULE_DNNL_LIB": "/nonexistent/libdnnl.so.3"},
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "CHAINRULE_DNNL=on but oneDNN could not be loaded" in missing.stderr
