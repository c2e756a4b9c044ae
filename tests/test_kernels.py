"""chainrule._kernels: each compiled kernel (numba extra) equals its NumPy reference bit for bit.

Without numba the compiled side is skipped and the NumPy references are what
every other test runs; ``CHAINRULE_KERNELS=numpy`` turns the kernels off.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import _kernels, backend, optim

needs_numba = pytest.mark.skipif(not _kernels.available(), reason="the numba extra is not installed (or turned off)")


def adam_inputs(dtype, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(n).astype(dtype)
    g[:3] = [0.0, 1e18, -1e-30]  # a zero, a huge and a tiny gradient
    m = (0.1 * rng.standard_normal(n)).astype(dtype)
    v = (0.01 * np.abs(rng.standard_normal(n))).astype(dtype)
    v[5] = 0.0
    return g, m, v


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [1, 7, 1000])
def test_adam_kernel_equals_reference(dtype, step):
    g, m1, v1 = adam_inputs(dtype)
    m2, v2 = m1.copy(), v1.copy()
    out1, out2, denom = np.empty_like(g), np.empty_like(g), np.empty_like(g)
    beta1, beta2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
    args = (beta1, beta2, lr / (1 - beta1**step), (1 - beta2**step) ** 0.5, eps)
    _kernels.adam_moments_reference(g, m1, v1, out1, denom, *args)
    _kernels.adam_moments(g, m2, v2, out2, denom, *args)
    for a, b in ((m1, m2), (v1, v2), (out1, out2)):
        np.testing.assert_array_equal(a, b)


@needs_numba
def test_erf_kernel_equals_reference():
    rng = np.random.default_rng(1)
    tails = [0.0, -0.0, 1e-30, 10.0, -10.0, 4.0, -4.0, 1e6, -1e30, 3e38, np.inf, -np.inf, np.nan]
    x = np.concatenate([rng.standard_normal(5000) * 3, tails]).astype(np.float32)
    np.testing.assert_array_equal(_kernels.erf_float32(x), backend._erf_float32(x))
    # through backend.erf: non-finite inputs give +-1 and NaN, as for the reference
    special = np.array([np.inf, -np.inf, np.nan, 0.5], dtype=np.float32)
    out = backend.erf(np, special)
    np.testing.assert_array_equal(out[:2], [1.0, -1.0])
    assert np.isnan(out[2]) and out.dtype == np.float32


def test_erf_reference_saturates_without_overflow(monkeypatch):
    # large finite inputs give +-1 (unclamped, the rational's x**10 overflowed to inf / inf = NaN from |x| ~ 6000)
    monkeypatch.setitem(_kernels._STATE, "ok", False)
    x = np.array([4.0, 5.0, 1e4, 1e6, 3e38, -1e6, np.inf, -np.inf, np.nan, 0.5], dtype=np.float32)
    with np.errstate(all="raise"):
        out = backend.erf(np, x)
    np.testing.assert_array_equal(out[:8], [1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0])
    assert np.isnan(out[8]) and abs(out[9] - 0.5204999) < 1e-6
    # inside |x| <= 4 the clamp changes nothing: the unclamped reference's bits
    inner = np.linspace(-4, 4, 4001, dtype=np.float32)
    np.testing.assert_array_equal(backend._erf_float32(inner), _unclamped_erf(inner))
    gelu = cr.nn.functional.gelu(cr.tensor(np.array([1e6, -1e6], dtype=np.float32)))
    np.testing.assert_array_equal(gelu.numpy(), [1e6, -0.0])


def _unclamped_erf(x):
    t = x * x
    num, den = t * backend._ERF_P[-1], t * backend._ERF_Q[-1]
    for k in range(len(backend._ERF_P) - 2, 0, -1):
        num = (num + backend._ERF_P[k]) * t
        den = (den + backend._ERF_Q[k]) * t
    return np.clip((num + backend._ERF_P[0]) * x / (den + backend._ERF_Q[0]), -1.0, 1.0)


def test_references_run_without_numba(monkeypatch):
    # the NumPy paths, whatever is installed: what every machine without the extra runs
    monkeypatch.setitem(_kernels._STATE, "ok", False)
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    assert _kernels.erf_float32(x) is None
    np.testing.assert_allclose(backend.erf(np, x), np.vectorize(__import__("math").erf)(x), rtol=1e-6, atol=1e-7)
    g, m, v = adam_inputs(np.float32)
    out, denom = np.empty_like(g), np.empty_like(g)
    _kernels.adam_moments(g, m, v, out, denom, 0.9, 0.999, 0.01, 0.1, 1e-8)
    assert np.isfinite(out).all()


@needs_numba
def test_adam_step_same_with_and_without_kernels(monkeypatch):
    def run():
        rng = np.random.default_rng(3)
        ps = [cr.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in [(30, 20), (20,), (5,)]]
        opt = optim.Adam(ps, lr=0.01, weight_decay=0.1)
        for _ in range(3):
            for p in ps:
                p.grad = cr.tensor(rng.standard_normal(p.shape).astype(np.float32))
            opt.step()
        return [p.numpy() for p in ps]

    compiled = run()
    monkeypatch.setitem(_kernels._STATE, "ok", False)
    for a, b in zip(compiled, run()):
        np.testing.assert_array_equal(a, b)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_grad_kernel_equals_select_positive(dtype, monkeypatch):
    rng = np.random.default_rng(5)
    y = backend.relu(np, rng.standard_normal(3000).astype(dtype))
    y[:4] = [np.nan, 0.0, np.inf, -np.nan]  # NaN kept, 0 dropped, a sign-bit NaN dropped (as the reference)
    g = rng.standard_normal(3000).astype(dtype)
    g[4:7] = [np.inf, -np.inf, np.nan]
    fused = _kernels.relu_grad(g, y)
    monkeypatch.setitem(_kernels._STATE, "ok", False)
    reference = backend.select_positive(np, g, y)
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused.view(f"u{g.itemsize}"), reference.view(f"u{g.itemsize}"))
