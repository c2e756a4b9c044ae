"""The raw-array fast paths of issue 18 against their references.

softmax and log_softmax run their first-order backward on raw arrays and the
Tensor-op rule under ``create_graph=True`` (the one gradgradcheck
differentiates): the same operations in the same order, bit for bit equal
except where a sum over the last axis of a large array is a GEMV (``_sums``),
which rounds differently.  A linear layer over many rows sums its bias gradient with a GEMV
(``backend.sum_rows``) instead of NumPy's column sum: equal to float32
rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import layers
from chainrule.ops.nn import _maxes


def both_paths(fn, x_np, g_np):
    """(first-order gradient, gradient through the create_graph=True rule) of fn at x for upstream g."""
    grads = []
    for create_graph in (False, True):
        x = cr.tensor(x_np, requires_grad=True)
        (gx,) = cr.autograd.grad(fn(x), [x], cr.tensor(g_np), create_graph=create_graph)
        grads.append(gx.numpy())
    return grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, dim",
    [((4, 7), -1), ((4, 7), 0), ((2, 3, 5, 6), -1), ((2, 3, 5), 1), ((5,), 0), ((300, 64), -1), ((2, 4, 40, 64), 3)],
)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_backward_paths_agree(name, shape, dim, dtype):
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    fn = getattr(F, name)
    first, recorded = both_paths(lambda t: fn(t, dim=dim), x, g)
    assert first.dtype == dtype
    if x.size < 8192:  # no GEMV sum: the same operations in the same order
        np.testing.assert_array_equal(first, recorded)
    else:
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(first, recorded, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gemv_sums_match_float64(name, dtype):
    # the GEMV row sums (last axis, large, contiguous) against a float64 reference, forward and backward
    rng = np.random.default_rng(2)
    x = (4 * rng.standard_normal((256, 64))).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    shifted = x64 - x64.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    if name == "softmax":
        y64 = np.exp(shifted - lse)
        gx64 = y64 * (g64 - (g64 * y64).sum(axis=-1, keepdims=True))
    else:
        y64 = shifted - lse
        gx64 = g64 - np.exp(y64) * g64.sum(axis=-1, keepdims=True)
    t = cr.tensor(x, requires_grad=True)
    y = getattr(F, name)(t, dim=-1)
    y.backward(cr.tensor(g))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert y.numpy().dtype == t.grad.numpy().dtype == dtype
    np.testing.assert_allclose(y.numpy(), y64, rtol=tol, atol=tol)
    np.testing.assert_allclose(t.grad.numpy(), gx64, rtol=tol, atol=tol * np.abs(gx64).max())


def test_softmax_raw_backward_takes_a_broadcast_gradient_and_masked_rows():
    # an upstream gradient that is a broadcast view (as sum's backward gives), and a row of -inf logits
    x = cr.tensor(np.array([[1.0, 2.0, 3.0], [-np.inf, 0.0, 1.0]], dtype=np.float32), requires_grad=True)
    y = F.softmax(x, dim=-1)
    (y * cr.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert x.grad.numpy().dtype == np.float32 and np.isfinite(x.grad.numpy()).all()
    assert x.grad.numpy()[1, 0] == 0


@pytest.mark.parametrize("rows", [3, layers._GEMV_ROWS, 1000])
def test_linear_bias_gradient_many_rows(rows):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, 6)).astype(np.float32)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal((rows, 5)).astype(np.float32)
    bias = cr.tensor(b, requires_grad=True)
    out = F.linear(cr.tensor(x), cr.tensor(w), bias)
    out.backward(cr.tensor(g))
    assert bias.grad.numpy().dtype == np.float32
    np.testing.assert_allclose(bias.grad.numpy(), g.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5 * rows**0.5)
    # the create_graph=True path (Tensor ops) agrees to rounding
    bias2 = cr.tensor(b, requires_grad=True)
    (gb,) = cr.autograd.grad(F.linear(cr.tensor(x), cr.tensor(w), bias2), [bias2], cr.tensor(g), create_graph=True)
    np.testing.assert_allclose(bias.grad.numpy(), gb.numpy(), rtol=1e-5, atol=1e-5 * rows**0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (4, 7), (2, 3, 64), (300, 10), (1, 1)])
def test_softmax_row_max_is_numpy_max_bit_for_bit(shape, dtype):
    # the maximum.reduceat row maxima (last axis, contiguous) against NumPy's max, NaN and all -inf rows included
    rng = np.random.default_rng(3)
    x = (5 * rng.standard_normal(shape)).astype(dtype)
    flat = x.reshape(-1)
    flat[::11] = -np.inf
    if x.ndim > 1 and x.shape[-1] > 2:
        x[(0,) * (x.ndim - 1)] = -np.inf  # a row with every key masked
        x[(-1,) * (x.ndim - 1) + (1,)] = np.nan
    expected = x.max(axis=-1, keepdims=True)
    np.testing.assert_array_equal(_maxes(np, x, x.ndim - 1), expected)
    np.testing.assert_array_equal(_maxes(np, x, -1), expected)
    if x.ndim > 1:  # a non-contiguous view and another axis take NumPy's max
        np.testing.assert_array_equal(_maxes(np, x[..., ::2], -1), x[..., ::2].max(axis=-1, keepdims=True))
        np.testing.assert_array_equal(_maxes(np, x, 0), x.max(axis=0, keepdims=True))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_blocked_equals_one_call_bit_for_bit(approximate, monkeypatch):
    # large arrays run GELU's forward and gradient block by block: the same bits as one call over the array
    from chainrule import _dnnl
    from chainrule.ops import elementwise

    monkeypatch.setattr(_dnnl, "ENABLED", False)  # NumPy's path (float32 GELU goes to oneDNN where installed)
    monkeypatch.setattr(elementwise, "_GELU_BLOCKED_FROM", 4000)
    monkeypatch.setattr(elementwise, "_GELU_BLOCK", 1100)  # blocks of 1,127 elements (MKL's erf from 1,024)
    assert elementwise._gelu_blocks(5635) == [(0, 1127), (1127, 2254), (2254, 3381), (3381, 4508), (4508, 5635)]
    assert elementwise._gelu_blocks(5634)[-1] == (4508, 5634)
    rng = np.random.default_rng(4)
    x = (3 * rng.standard_normal((5, 7, 161))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    out, factor = elementwise._gelu.fwd(np, x, approximate)
    ref_out, ref_factor = elementwise._gelu_arrays(np, x, approximate)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(factor, ref_factor)
    assert out.shape == factor.shape == x.shape
    np.testing.assert_array_equal(
        elementwise._gelu_grad_blocked(x, g, factor, approximate), elementwise._gelu_grad(x, g, factor, approximate)
    )
    t = cr.tensor(x, requires_grad=True)  # through the op, and a non-contiguous input (one call)
    F.gelu(t, approximate=approximate).backward(cr.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), elementwise._gelu_grad(x, g, ref_factor, approximate))
    view = x[:, ::2]
    np.testing.assert_array_equal(F.gelu(cr.tensor(view)).numpy(), elementwise._gelu_arrays(np, view, "none")[0])


def test_float32_erf_reference_clamps_its_result_in_one_clip():
    # the rational's result is clamped to [-1, 1] with one np.clip (NumPy's minimum/maximum against a scalar
    # are ~3x slower): the same bits as minimum-then-maximum, NaN and -0.0 kept
    from chainrule import backend

    rng = np.random.default_rng(5)
    x = np.concatenate(
        [
            rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
            np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.92, 4.0, -4.0, 1e-45, -3.4e38], dtype=np.float32),
            np.linspace(-6, 6, 100_001, dtype=np.float32),
        ]
    )
    with np.errstate(all="ignore"):
        got = backend._erf_float32(x)
        expected = np.clip(x, -4.0, 4.0)  # the same rational, then minimum and maximum
        t = expected * expected
        num, den = t * backend._ERF_P[-1], t * backend._ERF_Q[-1]
        for k in range(len(backend._ERF_P) - 2, 0, -1):
            num = (num + backend._ERF_P[k]) * t
            den = (den + backend._ERF_Q[k]) * t
        num = (num + backend._ERF_P[0]) * expected / (den + backend._ERF_Q[0])
        expected = np.maximum(np.minimum(num, 1.0), -1.0)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_cross_entropy_class_maxima_equal_numpy_max_bit_for_bit(monkeypatch):
    # (N, C) logits of 4,096+ elements take their row maxima as one reduceat (ops/nn._maxes): the same loss and
    # probabilities, bit for bit, as with NumPy's max, a NaN row included
    from chainrule.ops import loss

    rng = np.random.default_rng(6)
    x = (4 * rng.standard_normal((300, 17))).astype(np.float32)
    x[5, 3] = np.nan
    target = rng.integers(0, 17, size=300)
    with np.errstate(invalid="ignore"):
        fast = loss._cross_entropy_mean.fwd(np, x, target), loss._cross_entropy.fwd(np, x, target, None, -100, 0.0)
        monkeypatch.setattr(loss, "_class_maxes", lambda xp, a: a.max(axis=1, keepdims=True))
        slow = loss._cross_entropy_mean.fwd(np, x, target), loss._cross_entropy.fwd(np, x, target, None, -100, 0.0)
    for got, expected in zip(fast, slow):
        for a, b in zip(got, expected):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
