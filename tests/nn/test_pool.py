"""Pooling layers: gradients, PyTorch's tie and NaN rules, indices, layouts, errors (parity: test_conv_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.ops.specs import distinct


def _t(shape, seed=0, dtype=np.float64, requires_grad=True, domain=None):
    values = np.random.default_rng(seed).standard_normal(shape)
    if domain is not None:
        values = domain(values)
    return cr.tensor(values.astype(dtype), requires_grad=requires_grad)


POOLS = {
    "max2d_pad_dilation_ceil": lambda x: F.max_pool2d(
        x, (3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True
    ),
    "max2d_tiled": lambda x: F.max_pool2d(x, 2),
    "max1d": lambda x: F.max_pool1d(x.flatten(2), 3, stride=2, padding=1, ceil_mode=True),
    "avg2d_exclude_pad_ceil": lambda x: F.avg_pool2d(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False
    ),
    "avg2d_divisor": lambda x: F.avg_pool2d(x, 2, stride=1, divisor_override=3),
    "avg1d": lambda x: F.avg_pool1d(x.flatten(2), 4, stride=3, padding=2),
    "adaptive_avg_general": lambda x: F.adaptive_avg_pool2d(x, (2, 4)),
    "adaptive_max_general": lambda x: F.adaptive_max_pool2d(x, (3, 2)),
    "adaptive_max_1d": lambda x: F.adaptive_max_pool1d(x.flatten(2), 4),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_gradcheck_first_and_second_order(name):
    x = _t((2, 2, 5, 6), 1, domain=distinct)
    assert cr.autograd.gradcheck(POOLS[name], (x,))
    assert cr.autograd.gradgradcheck(POOLS[name], (x,))


def test_max_pool_gradient_goes_to_the_first_maximum_only():
    x = cr.tensor(np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]]), requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    out.sum().backward()
    np.testing.assert_array_equal(out._data, [[[[1.0, 2.0]]]])
    np.testing.assert_array_equal(idx._data, [[[[0, 3]]]])  # flat h * W + w: (0, 0) and (0, 3)
    np.testing.assert_array_equal(x.grad._data, [[[[1, 0, 0, 1], [0, 0, 0, 0]]]])


def test_overlapping_windows_accumulate_gradients():
    x = cr.tensor(np.array([[[0.0, 5.0, 1.0, 2.0, 0.5]]]), requires_grad=True)
    out = F.max_pool1d(x, 3, stride=1)
    out.backward(cr.tensor(np.array([[[1.0, 10.0, 100.0]]])))
    np.testing.assert_array_equal(out._data, [[[5.0, 5.0, 2.0]]])
    np.testing.assert_array_equal(x.grad._data, [[[0.0, 11.0, 0.0, 100.0, 0.0]]])


def test_max_pool_nan_is_a_maximum_and_the_last_nan_wins():
    """PyTorch's CPU rule (``val > max || isnan(val)``): the window's value is NaN, its index the last NaN."""
    x = cr.tensor(np.array([[[[np.nan, 1.0], [np.nan, 0.0]], [[0.0, 3.0], [2.0, 3.0]]]]), requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(out._data[0, 0, 0, 0]) and out._data[0, 1, 0, 0] == 3.0
    np.testing.assert_array_equal(idx._data.ravel(), [2, 1])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad._data.reshape(2, 4), [[0, 0, 1, 0], [0, 1, 0, 0]])


def test_indices_are_flat_positions_of_the_maxima():
    x = _t((2, 3, 7, 9), 2, domain=distinct)
    out, idx = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    flat = x._data.reshape(2, 3, -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat, idx._data.reshape(2, 3, -1), -1).reshape(out.shape), out._data
    )
    assert idx.dtype == cr.int64 and not idx.requires_grad
    assert (idx._data >= 0).all() and (idx._data < 63).all()


def test_unbatched_input_equals_batched():
    x = _t((2, 3, 6, 7), 3, dtype=np.float32)
    for layer in (
        nn.MaxPool2d(3, 2, 1),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.AdaptiveAvgPool2d((4, 3)),
        nn.AdaptiveMaxPool2d(4),
    ):
        np.testing.assert_array_equal(layer(x[1])._data, layer(x)._data[1], err_msg=repr(layer))


def test_memory_layout_is_kept_and_does_not_change_values():
    x = _t((2, 4, 8, 6), 4, dtype=np.float32)
    channels_last = cr.tensor(
        np.ascontiguousarray(x._data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2), requires_grad=True
    )
    for fn in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 2, 1)):
        out = fn(channels_last)
        np.testing.assert_array_equal(out._data, fn(x)._data)
        assert out._data.strides[1] == out._data.itemsize  # channels stay innermost: the next conv needs no transpose
        # an upstream gradient in the output's layout, as the next layer would give
        (grad,) = cr.autograd.grad(out, (channels_last,), grad_outputs=out * 1.0)
        assert grad._data.strides[1] == grad._data.itemsize


def test_float32_stays_float32_with_a_per_position_divisor():
    x = _t((1, 2, 5, 5), 5, dtype=np.float32)
    out = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    out.sum().backward()
    assert out.dtype == cr.float32 and x.grad.dtype == cr.float32
    # the corner window holds 4 input elements, the centre one 9
    manual = x._data[0, 0, :2, :2].mean()
    np.testing.assert_allclose(out._data[0, 0, 0, 0], manual, rtol=1e-6)


def test_backward_never_uses_scatter_add(monkeypatch):
    """Pooling and convolution gradients are strided slice writes and adds, never np.add.at."""
    import chainrule.backend

    def forbidden(*args, **kwargs):
        raise AssertionError("scatter_add (np.add.at) was called")

    monkeypatch.setattr(chainrule.backend, "scatter_add", forbidden)
    x = _t((2, 3, 8, 8), 6, dtype=np.float32)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.MaxPool2d(3, 1, 1),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1),
    )
    model(x).sum().backward()
    assert x.grad is not None


def test_module_defaults_and_repr():
    layer = nn.MaxPool2d(3)
    assert layer.stride == 3 and layer.padding == 0
    assert repr(layer) == "MaxPool2d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2, 1)) == "AvgPool2d(kernel_size=2, stride=1, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((5, 7))) == "AdaptiveAvgPool2d(output_size=(5, 7))"
    out, idx = nn.MaxPool1d(2, return_indices=True)(_t((1, 2, 6), 7, dtype=np.float32))
    assert out.shape == (1, 2, 3) and idx.shape == (1, 2, 3)
    assert not list(layer.parameters())


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    x = _t((1, 1, 5, 5), 8, dtype=np.float32)
    # (5 + 2 - 2) / 2 -> ceil 3 windows + 1 = 4, but the 4th would start at 6 >= 5 + 1: PyTorch keeps 3
    assert F.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(x, 2, 2, 0, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(x, 2, 2, 0, ceil_mode=False).shape == (1, 1, 2, 2)


def test_errors_name_the_layer_and_the_shapes():
    with pytest.raises(cr.ShapeError, match=r"MaxPool2d\(kernel_size=2.*\(N, C, H, W\) or \(C, H, W\).*\(4, 4\)"):
        nn.MaxPool2d(2)(_t((4, 4), 9, dtype=np.float32))
    with pytest.raises(cr.ShapeError, match=r"avg_pool1d: expected input of shape \(N, C, L\)"):
        F.avg_pool1d(_t((1, 2, 3, 4), 10), 2)
    with pytest.raises(cr.ShapeError, match="too small"):
        F.max_pool2d(_t((1, 1, 2, 2), 11), 3)
    with pytest.raises(ValueError, match="at most half of the kernel size"):
        F.max_pool2d(_t((1, 1, 6, 6), 12), 2, padding=2)
    with pytest.raises(ValueError, match="output_size must be >= 0"):  # 0 is allowed: an empty output, as torch
        F.adaptive_avg_pool2d(_t((1, 1, 6, 6), 13), (-1, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(_t((1, 1, 6, 6), 14), 2, divisor_override=0)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        F.max_pool2d(_t((1, 1, 6, 6), 15), 2.5)


def test_an_infinite_gradient_reaches_only_the_maximum():
    """inf * 0 is NaN: the non-maximum positions must still get an exact 0, as in PyTorch."""
    x = cr.tensor(np.array([[[[1.0, 2.0, 0.0, 0.5], [3.0, 0.0, 4.0, 0.25]]]]), requires_grad=True)
    for stride in (2, 1):  # disjoint windows (written) and overlapping ones (added)
        out = F.max_pool2d(x, 2, stride=stride)
        g = np.ones(out.shape)
        g[..., 0] = np.inf
        (grad,) = cr.autograd.grad(out, (x,), grad_outputs=cr.tensor(g))
        assert not np.isnan(grad._data).any()
        assert grad._data[0, 0, 1, 0] == np.inf and grad._data[0, 0, 0, 0] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape", [(3, 5, 8, 6), (2, 3, 7, 9)])  # the second: odd sizes, a row and column dropped
@pytest.mark.parametrize("channels_last", [False, True])
def test_max_pool_2x2_fast_path_equals_the_reference_bit_for_bit(dtype, shape, channels_last):
    """The pairwise 2x2 kernel gives the general scan's values, offsets and memory order, ties (many: values
    from a few integers, signed zeros, infinities) included."""
    from chainrule.ops import pool

    rng = np.random.default_rng(7)
    values = rng.integers(-2, 3, shape).astype(dtype)
    if values.dtype.kind == "f":
        values[values == 1] = -0.0  # ties of 0.0 and -0.0: equal, the first one's sign is kept
        values[values == 2] = np.inf
        values[0, 0] = -np.inf  # a window of -inf only
    if channels_last:
        values = np.ascontiguousarray(values.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    geom = pool.pool_geometry(shape[-2:], (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert pool._is_2x2(geom)
    best, index = pool._max_pool_2x2(np, values, geom)
    (ref_best, ref_index), _ = pool._max_pool_reference(np, values, geom, False)
    np.testing.assert_array_equal(index, ref_index)
    assert index.dtype == ref_index.dtype and index.strides == ref_index.strides
    assert best.tobytes() == ref_best.tobytes() and best.strides == ref_best.strides  # bits, so the signs of zeros


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 8, 6), (2, 3, 7, 9), (2, 16, 6, 4)])
def test_max_pool_2x2_block_scatter_equals_the_general_loop(dtype, shape, monkeypatch):
    """On channels-last memory of narrow channels the 2x2 backward copies C-element blocks; the general
    loop (forced by turning the block view off) must give the same bits."""
    from chainrule.ops import pool

    rng = np.random.default_rng(8)
    x = np.ascontiguousarray(rng.standard_normal(shape).astype(dtype).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    geom = pool.pool_geometry(shape[-2:], (2, 2), (2, 2), (0, 0), (1, 1), False)
    (best, index), _ = pool._max_pool.fwd(np, x, geom)
    g = rng.standard_normal(best.shape).astype(dtype)
    g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert pool._blocks(index) is not None
    fast = pool._max_pool_scatter.fwd(np, g, index, geom)
    monkeypatch.setattr(pool, "_blocks", lambda a: None)
    reference = pool._max_pool_scatter.fwd(np, g, index, geom)
    assert fast.tobytes() == reference.tobytes() and fast.strides == reference.strides


@pytest.mark.parametrize("shape", [(1, 2, 3, 3), (1, 2, 2, 2), (2, 1, 3, 3), (1, 1, 2, 2), (2, 16, 4, 4), (1, 3, 3, 2)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_max_pool_2x2_gradient_on_layouts_that_are_both_orders(shape, channels_last):
    """A 1x1 output (or one channel, one image) is C- and channels-last-contiguous at once: the 2x2 fast paths
    must fall back, not fail, when an array made from it takes the other order (gradcheck found one)."""
    x = np.random.default_rng(0).standard_normal(shape)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    xt = cr.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(cr.tensor(g))
    # the reference: each output gradient at its window's first maximum
    want = np.zeros_like(x)
    n, c, h, w = y.shape
    for idx in np.ndindex(n, c, h, w):
        window = x[idx[0], idx[1], 2 * idx[2] : 2 * idx[2] + 2, 2 * idx[3] : 2 * idx[3] + 2]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        want[idx[0], idx[1], 2 * idx[2] + i, 2 * idx[3] + j] += g[idx]
        assert y.numpy()[idx] == window.max()
    np.testing.assert_array_equal(xt.grad.numpy(), want)
    assert cr.autograd.gradcheck(lambda t: F.max_pool2d(t, 2), (cr.tensor(x, requires_grad=True),))
