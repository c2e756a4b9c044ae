"""Convolution layers: gradients (first and second order), argument handling, errors, init, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import _dnnl
from tests.parity import HAVE_TORCH


def _t(shape, seed=0, dtype=np.float64, requires_grad=True):
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return cr.tensor(values, requires_grad=requires_grad)


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(stride=2, padding=1),
        dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1)),
        dict(padding="same", dilation=(1, 2)),
        dict(groups=2, padding=1, stride=(2, 1)),
    ],
    ids=["plain", "stride_pad", "tuples", "same", "groups"],
)
def test_conv2d_gradcheck_first_and_second_order(kwargs):
    x, w, b = _t((2, 4, 5, 5), 1), _t((4, 4 // kwargs.get("groups", 1), 3, 2), 2), _t((4,), 3)

    def fn(x, w, b):
        return F.conv2d(x, w, b, **kwargs)

    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)])
def test_conv_transpose2d_gradcheck_first_and_second_order(kwargs):
    x, w, b = _t((1, 4, 3, 3), 4), _t((4, 2, 2, 3), 5), _t((2 * kwargs.get("groups", 1),), 6)

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, **kwargs)

    assert cr.autograd.gradcheck(fn, (x, w, b))
    assert cr.autograd.gradgradcheck(fn, (x, w, b))


def test_conv1d_gradcheck_first_and_second_order():
    x, w = _t((2, 2, 7), 7), _t((3, 2, 3), 8)

    def fn(x, w):
        return F.conv1d(x, w, stride=2, padding="valid", dilation=2)

    assert cr.autograd.gradcheck(fn, (x, w))
    assert cr.autograd.gradgradcheck(fn, (x, w))


def test_hessian_vector_product_of_a_conv_net():
    """create_graph through conv -> tanh -> conv: the gradient of (grad . v) equals central differences."""
    x, w1, w2 = _t((1, 2, 5, 5), 9, requires_grad=False), _t((3, 2, 3, 3), 10), _t((2, 3, 3, 3), 11)
    v = np.random.default_rng(12).standard_normal(w1.shape)

    def loss(weight1):
        return (F.conv2d(F.conv2d(x, weight1, padding=1).tanh(), w2) ** 2).sum()

    (g,) = cr.autograd.grad(loss(w1), (w1,), create_graph=True)
    (hv,) = cr.autograd.grad((g * cr.tensor(v)).sum(), (w1,))
    eps = 1e-6
    numeric = []
    for sign in (1, -1):
        w_shift = cr.tensor(w1._data + sign * eps * v, requires_grad=True)
        (gs,) = cr.autograd.grad(loss(w_shift), (w_shift,))
        numeric.append(gs._data)
    np.testing.assert_allclose(hv._data, (numeric[0] - numeric[1]) / (2 * eps), rtol=1e-5, atol=1e-7)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_double_backward_matches_torch():
    import torch

    rng = np.random.default_rng(13)
    xv, wv = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((6, 2, 3, 3))
    results = []
    for lib, fn in [(cr, F.conv2d), (torch, torch.nn.functional.conv2d)]:
        x, w = lib.tensor(xv, requires_grad=True), lib.tensor(wv, requires_grad=True)
        y = fn(x, w, stride=2, padding=1, groups=2)
        (gx,) = lib.autograd.grad((y**2).sum(), (x,), create_graph=True)
        gw2, gx2 = lib.autograd.grad((gx**3).sum(), (w, x))
        results.append(
            [
                np.asarray(gw2.detach().numpy() if lib is torch else gw2._data),
                np.asarray(gx2.detach().numpy() if lib is torch else gx2._data),
            ]
        )
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ the grid path (stride 1, same-size output)
# ops/conv.py runs stride-1 "same" convolutions with >= 8 input channels as shifted GEMMs over a padded grid
# instead of im2col; the tests below force it on small shapes (by lowering the channel threshold) and check
# it against numerical differences, against im2col, against a direct loop and against torch.


def _conv3d(x, w, b=None, padding=0):
    """3-d convolution through the ops-level function (nn.functional has no conv3d)."""
    from chainrule.ops.conv import conv

    return conv(x, w, b, (1, 1, 1), ((padding, padding),) * 3, (1, 1, 1), 1)


GRID_CASES = {
    "3x3": (F.conv2d, (2, 3, 5, 4), (4, 3, 3, 3), dict(padding=1)),
    "dilated_5x3": (F.conv2d, (1, 2, 7, 5), (3, 2, 5, 3), dict(padding=(4, 1), dilation=(2, 1))),
    "conv1d_k5": (F.conv1d, (2, 3, 6), (2, 3, 5), dict(padding=2)),
    "conv3d": (_conv3d, (1, 2, 3, 4, 3), (2, 2, 3, 3, 3), dict(padding=1)),
    "transpose": (F.conv_transpose2d, (2, 3, 4, 5), (3, 2, 3, 3), dict(padding=1)),
}


def _grid_taken(fn, x, w, kwargs):
    """Whether the grid path runs for this call (read from the geometry the op builds)."""
    from chainrule.ops import conv as conv_ops

    calls = []
    original = conv_ops._use_grid

    def spy(xp, geom, channels):
        calls.append(original(xp, geom, channels))
        return calls[-1]

    conv_ops._use_grid = spy
    try:
        fn(x.detach(), w.detach(), **kwargs)
    finally:
        conv_ops._use_grid = original
    return bool(calls) and all(calls)


@pytest.fixture
def grid_everywhere(monkeypatch):
    from chainrule.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "_GRID_MIN_CHANNELS", 1)
    monkeypatch.setattr(conv_ops, "_GRID_MAX_WASTE", float("inf"))  # small test images have wide margins


@pytest.mark.parametrize("case", sorted(GRID_CASES))
def test_grid_path_gradcheck_first_and_second_order(case, grid_everywhere):
    fn, xs, ws, kwargs = GRID_CASES[case]
    x, w, b = _t(xs, 40), _t(ws, 41), _t((ws[1] if fn is F.conv_transpose2d else ws[0],), 42)
    assert _grid_taken(fn, x, w, kwargs)

    def f(x, w, b):
        return fn(x, w, b, **kwargs)

    assert cr.autograd.gradcheck(f, (x, w, b))
    assert cr.autograd.gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("case", sorted(GRID_CASES))
def test_grid_path_equals_im2col(case, monkeypatch):
    from chainrule.ops import conv as conv_ops

    fn, xs, ws, kwargs = GRID_CASES[case]
    xs, ws = (xs[0], 9, *xs[2:]), (9, 9, *ws[2:])  # 9 channels: enough for the grid path
    monkeypatch.setattr(conv_ops, "_GRID_MAX_WASTE", float("inf"))
    results = []
    for threshold in (8, 10**9):  # grid, then im2col
        monkeypatch.setattr(conv_ops, "_GRID_MIN_CHANNELS", threshold)
        x, w = _t(xs, 43), _t(ws, 44)
        assert _grid_taken(fn, x, w, kwargs) == (threshold == 8)
        out = fn(x, w, **kwargs)
        out.backward(cr.tensor(np.random.default_rng(45).standard_normal(out.shape)))
        results.append((out._data, x.grad._data, w.grad._data))
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


def test_grid_path_equals_a_direct_loop():
    rng = np.random.default_rng(46)
    x, w = rng.standard_normal((2, 8, 9, 10)), rng.standard_normal((3, 8, 3, 3))
    assert _grid_taken(F.conv2d, cr.tensor(x), cr.tensor(w), dict(padding=1))
    out = F.conv2d(cr.tensor(x), cr.tensor(w), padding=1)._data
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.einsum("ncijhw,ochw->noij", np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3)), w)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_grid_path_matches_torch_in_float32(monkeypatch):
    """A ResNet-body convolution (16 -> 16, 3x3, padding 1, bias) in float32: output and all three gradients
    (on chainrule's own kernels: float32 convolutions go to oneDNN where it is installed)."""
    monkeypatch.setattr(_dnnl, "ENABLED", False)
    import torch

    rng = np.random.default_rng(47)
    xv, wv, bv = (rng.standard_normal(s).astype(np.float32) for s in ((4, 16, 16, 12), (16, 16, 3, 3), (16,)))
    gv = rng.standard_normal((4, 16, 16, 12)).astype(np.float32)
    x, w, b = (cr.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    assert _grid_taken(F.conv2d, x, w, dict(padding=1))
    out = F.conv2d(x, w, b, padding=1)
    out.backward(cr.tensor(gv))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    tout = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    tout.backward(torch.tensor(gv))
    for ours, theirs in [(out, tout), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)]:
        np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ layouts, dtypes, modes


def test_result_does_not_depend_on_input_memory_layout():
    x = _t((2, 3, 6, 5), 14, dtype=np.float32)
    w = _t((4, 3, 3, 3), 15, dtype=np.float32)
    channels_last = cr.tensor(np.ascontiguousarray(x._data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
    strided = cr.tensor(np.repeat(x._data, 2, axis=-1)[..., ::2])
    reference = F.conv2d(x, w, padding=1)._data
    for variant in (channels_last, strided):
        np.testing.assert_array_equal(F.conv2d(variant, w, padding=1)._data, reference)


def test_conv_chain_keeps_float32_and_grads_are_float32():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.MaxPool2d(2),
        nn.ConvTranspose2d(4, 2, 2, stride=2),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1),
    )
    x = _t((2, 3, 8, 8), 16, dtype=np.float32)
    out = model(x)
    assert out.dtype == cr.float32 and out.shape == (2, 2, 1, 1)
    out.sum().backward()
    assert x.grad.dtype == cr.float32
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == cr.float32, name


def test_no_grad_forward_records_nothing():
    layer = nn.Conv2d(2, 3, 3)
    with cr.no_grad():
        out = layer(_t((1, 2, 5, 5), 17, dtype=np.float32))
    assert not out.requires_grad and out._edge is None


def test_input_modified_in_place_after_forward_is_detected():
    x = _t((1, 2, 4, 4), 18)
    w = _t((2, 2, 3, 3), 19)
    base = x * 1.0
    out = F.conv2d(base, w)
    base._data[...] = 0
    base._bump()
    with pytest.raises(cr.GradientError):
        out.sum().backward()


def test_bias_gradient_is_the_sum_of_the_output_gradient():
    x, w, b = _t((2, 3, 5, 4), 20), _t((4, 3, 2, 2), 21), _t((4,), 22)
    out = F.conv2d(x, w, b, stride=(1, 2))
    g = np.random.default_rng(23).standard_normal(out.shape)
    out.backward(cr.tensor(g))
    np.testing.assert_allclose(b.grad._data, g.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_conv_equals_a_direct_loop():
    """A slow, obviously-correct cross-correlation, independent of torch."""
    rng = np.random.default_rng(24)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))
    stride, pad, dil, groups = (2, 1), (1, 2), (2, 1), 2
    out = F.conv2d(cr.tensor(x), cr.tensor(w), stride=stride, padding=pad, dilation=dil, groups=groups)._data
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    expected = np.zeros(out.shape)
    for n in range(2):
        for o in range(6):
            g = o // 3
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    patch = xp[
                        n,
                        2 * g : 2 * g + 2,
                        i * stride[0] : i * stride[0] + dil[0] * 2 + 1 : dil[0],
                        j * stride[1] : j * stride[1] + dil[1] * 1 + 1 : dil[1],
                    ]
                    expected[n, o, i, j] = (patch * w[o]).sum()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ modules


def test_module_shapes_defaults_and_repr():
    layer = nn.Conv2d(16, 32, 3, padding=1)
    assert layer.weight.shape == (32, 16, 3, 3) and layer.bias.shape == (32,)
    assert layer.kernel_size == (3, 3) and layer.stride == (1, 1) and layer.padding == (1, 1)
    assert repr(layer) == "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    t = nn.ConvTranspose2d(4, 6, (2, 3), stride=2, groups=2, bias=False)
    assert t.weight.shape == (4, 3, 2, 3) and t.bias is None
    assert repr(t) == "ConvTranspose2d(4, 6, kernel_size=(2, 3), stride=(2, 2), groups=2, bias=False)"
    assert list(dict(t.named_parameters())) == ["weight"]
    assert nn.Conv1d(2, 4, 5, padding="same").padding == "same"


def test_default_init_bounds():
    cr.manual_seed(0)
    layer = nn.Conv2d(8, 16, 3, groups=2)
    fan_in = 4 * 9
    bound = 1 / np.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert np.abs(p._data).max() <= bound
        assert np.abs(p._data).max() > 0.8 * bound  # uniform over the whole range, not a narrower one
    assert abs(float(layer.weight._data.std()) - bound / np.sqrt(3)) < 0.15 * bound
    cr.manual_seed(0)
    again = nn.Conv2d(8, 16, 3, groups=2)
    np.testing.assert_array_equal(again.weight._data, layer.weight._data)


def test_module_dtype_argument():
    layer = nn.Conv1d(2, 3, 3, dtype=cr.float64)
    assert layer.weight.dtype == cr.float64 and layer.bias.dtype == cr.float64
    assert layer(_t((1, 2, 5), 25)).dtype == cr.float64


def test_conv_transpose_output_size():
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = _t((1, 3, 4, 5), 26, dtype=np.float32)
    assert layer(x).shape == (1, 2, 7, 9)
    assert layer(x, output_size=(8, 10)).shape == (1, 2, 8, 10)
    assert layer(x, output_size=[1, 2, 8, 9]).shape == (1, 2, 8, 9)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        layer(x, output_size=(9, 9))


def test_padding_modes_other_than_zeros_are_not_implemented():
    for mode in ("reflect", "replicate", "circular"):
        with pytest.raises(NotImplementedError, match=mode):
            nn.Conv2d(2, 2, 3, padding=1, padding_mode=mode)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")


# ------------------------------------------------------------------ errors


def test_conv2d_given_3d_input_names_the_layer_and_shapes():
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(cr.ShapeError) as info:
        layer(_t((3, 9, 9), 27, dtype=np.float32))
    message = str(info.value)
    assert "Conv2d(3, 8, kernel_size=(3, 3)" in message
    assert "(N, 3, H, W)" in message and "(3, 9, 9)" in message and "unsqueeze(0)" in message


def test_channel_mismatch_names_the_layer_and_shapes():
    layer = nn.Conv2d(3, 8, 3, groups=1)
    with pytest.raises(cr.ShapeError, match=r"Conv2d\(3, 8.*expected input of shape \(N, 3, H, W\).*\(2, 4, 9, 9\)"):
        layer(_t((2, 4, 9, 9), 28, dtype=np.float32))
    with pytest.raises(cr.ShapeError, match=r"conv1d: expected input of shape \(N, 4, L\)"):
        F.conv1d(_t((2, 2, 9), 29), _t((4, 2, 3), 30), groups=2)
    with pytest.raises(cr.ShapeError, match=r"ConvTranspose2d.*\(N, 4, H, W\)"):
        nn.ConvTranspose2d(4, 2, 2)(_t((1, 2, 5, 5), 31, dtype=np.float32))


def test_other_argument_errors():
    x, w = _t((1, 2, 5, 5), 32), _t((4, 2, 3, 3), 33)
    with pytest.raises(cr.ShapeError, match="smaller than the dilated kernel size 5"):
        F.conv2d(_t((1, 2, 4, 4), 34), w, dilation=2)
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="'valid', 'same'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(cr.ShapeError, match=r"bias of shape \(4,\)"):
        F.conv2d(x, w, _t((3,), 35))
    with pytest.raises(cr.ShapeError, match="4-D weight"):
        F.conv2d(x, _t((4, 2, 3), 36))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"out_channels \(3\) must be divisible by groups"):
        F.conv2d(_t((1, 2, 5, 5), 37), _t((3, 1, 3, 3), 38), groups=2)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        F.conv_transpose2d(x, _t((2, 3, 3, 3), 39), stride=2, output_padding=2)
    with pytest.raises(cr.DTypeError, match="float32, float64"):
        F.conv2d(_t((1, 2, 5, 5), 40, dtype=np.float32), w)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(TypeError, match="stride must be an int"):
        F.conv2d(x, w, stride=1.5)


# ------------------------------------------------------------------ the planes path (few input channels)
# ops/conv.py builds the GEMM operand of a convolution with <= 4 input channels (the first layer of an image
# model) plane by plane; checked against im2col (the threshold set to 0).

PLANES_CASES = {
    "3x3_pad": (F.conv2d, (2, 3, 6, 5), (4, 3, 3, 3), dict(padding=1)),
    "stride_dilation": (F.conv2d, (2, 1, 9, 8), (3, 1, 3, 2), dict(stride=(2, 1), padding=(2, 0), dilation=(1, 2))),
    "conv1d": (F.conv1d, (2, 2, 9), (3, 2, 4), dict(stride=2)),
    "conv3d": (_conv3d, (1, 2, 3, 4, 3), (2, 2, 3, 3, 3), dict(padding=1)),
}


def _planes_taken(fn, x, w, kwargs):
    from chainrule.ops import conv as conv_ops

    calls = []
    original = conv_ops._use_planes

    def spy(xp, geom, x):
        calls.append(original(xp, geom, x))
        return calls[-1]

    conv_ops._use_planes = spy
    try:
        fn(x.detach(), w.detach(), **kwargs)
    finally:
        conv_ops._use_planes = original
    return bool(calls) and all(calls)


@pytest.mark.parametrize("case", sorted(PLANES_CASES))
def test_planes_path_equals_im2col(case, monkeypatch):
    from chainrule.ops import conv as conv_ops

    fn, xs, ws, kwargs = PLANES_CASES[case]
    results = []
    for threshold in (4, 0):  # planes, then im2col
        monkeypatch.setattr(conv_ops, "_PLANES_MAX_CHANNELS", threshold)
        x, w, b = _t(xs, 50), _t(ws, 51), _t((ws[0],), 52)
        assert _planes_taken(fn, x, w, kwargs) == (threshold == 4)
        out = fn(x, w, b, **kwargs)
        out.backward(cr.tensor(np.random.default_rng(53).standard_normal(out.shape)))
        results.append((out._data, x.grad._data, w.grad._data, b.grad._data))
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["3x3_pad", "stride_dilation"])
def test_planes_path_gradcheck_first_and_second_order(case):
    fn, xs, ws, kwargs = PLANES_CASES[case]
    x, w, b = _t(xs, 54), _t(ws, 55), _t((ws[0],), 56)
    assert _planes_taken(fn, x, w, kwargs)

    def f(x, w, b):
        return fn(x, w, b, **kwargs)

    assert cr.autograd.gradcheck(f, (x, w, b))
    assert cr.autograd.gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("shape", [(50176, 16), (2, 7, 13, 3), (4099, 5)])  # 4099: prime, no wide view
def test_bias_added_through_a_wide_view_equals_broadcasting(shape):
    from chainrule.ops.conv import _add_bias

    rng = np.random.default_rng(57)
    out, b = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape[-1]).astype(np.float32)
    for array in (out.copy(), out.copy().T.copy().T):  # contiguous, and a transposed (strided) one
        expected = array + b
        _add_bias(np, array, b)
        assert array.tobytes() == expected.tobytes()
