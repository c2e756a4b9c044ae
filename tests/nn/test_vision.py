"""F.unfold / F.fold, F.interpolate, F.pad's reflect/replicate/circular modes and their layers.

Gradients are checked against central differences in float64, first and
second order; values and gradients against torch; float32 stays float32.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from tests.parity import HAVE_TORCH

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
rng = np.random.default_rng(0)

UNFOLD = {
    "k2": dict(kernel_size=2),
    "k3_pad_stride": dict(kernel_size=(3, 2), padding=(1, 2), stride=(2, 1)),
    "dilated": dict(kernel_size=2, dilation=(2, 1), stride=(1, 2), padding=1),
}
INTERPOLATE = {
    "nearest_2x": (4, dict(scale_factor=2, mode="nearest")),
    "nearest_size": (4, dict(size=(5, 3), mode="nearest")),
    "nearest_frac": (4, dict(scale_factor=(1.7, 0.6), mode="nearest")),
    "nearest_exact": (4, dict(size=(7, 2), mode="nearest-exact")),
    "nearest_1d": (3, dict(scale_factor=2.5, mode="nearest")),
    "linear": (3, dict(size=7, mode="linear")),
    "linear_corners": (3, dict(scale_factor=1.5, mode="linear", align_corners=True)),
    "bilinear": (4, dict(size=(6, 5), mode="bilinear")),
    "bilinear_down": (4, dict(size=(2, 3), mode="bilinear")),
    "bilinear_scale": (4, dict(scale_factor=(1.6, 2.3), mode="bilinear")),
    "bilinear_recompute": (4, dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    "bilinear_corners": (4, dict(size=(7, 3), mode="bilinear", align_corners=True)),
    "trilinear": (5, dict(size=(3, 4, 2), mode="trilinear")),
}
PAD = {
    "reflect_1d": ((2, 3, 6), (2, 3), "reflect"),
    "reflect_2d": ((1, 2, 4, 5), (1, 2, 3, 0), "reflect"),
    "replicate_2d": ((2, 1, 3, 3), (2, 1, 0, 3), "replicate"),
    "replicate_3d": ((1, 1, 2, 3, 2), (1, 1, 2, 0, 1, 1), "replicate"),
    "circular_2d": ((1, 2, 3, 4), (3, 1, 2, 3), "circular"),
}


def _input(shape):
    return cr.tensor(rng.normal(size=shape), requires_grad=True)


def _check(fn, *inputs):
    assert cr.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    assert cr.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(UNFOLD))
def test_unfold_and_fold_gradients(name):
    options = UNFOLD[name]
    x = _input((2, 2, 5, 4))
    _check(lambda t: F.unfold(t, **options) ** 2, x)
    blocks = F.unfold(x, **options)
    cols = _input(blocks.shape)
    _check(lambda t: F.fold(t, output_size=(5, 4), **options) ** 2, cols)


@pytest.mark.parametrize("name", sorted(INTERPOLATE))
def test_interpolate_gradients(name):
    ndim, options = INTERPOLATE[name]
    x = _input((1, 2, 4, 3, 2)[:ndim])
    _check(lambda t: F.interpolate(t, **options) ** 2, x)


@pytest.mark.parametrize("name", sorted(PAD))
def test_pad_mode_gradients(name):
    shape, widths, mode = PAD[name]
    x = _input(shape)
    _check(lambda t: F.pad(t, widths, mode=mode) ** 2, x)


def _torch_compare(ours_fn, torch_fn, shape, tol=1e-12):
    import torch

    data = rng.normal(size=shape)
    ours_x = cr.tensor(data, requires_grad=True)
    theirs_x = torch.tensor(data, requires_grad=True)
    ours, theirs = ours_fn(ours_x), torch_fn(theirs_x)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    weights = rng.normal(size=ours.shape)
    (ours * cr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", sorted(UNFOLD))
def test_unfold_and_fold_match_torch(name):
    import torch

    options = UNFOLD[name]
    _torch_compare(lambda t: F.unfold(t, **options), lambda t: torch.nn.functional.unfold(t, **options), (2, 3, 6, 5))
    _torch_compare(lambda t: F.unfold(t, **options), lambda t: torch.nn.functional.unfold(t, **options), (3, 6, 5))
    blocks = torch.nn.functional.unfold(torch.zeros(2, 3, 6, 5), **options).shape
    _torch_compare(
        lambda t: F.fold(t, (6, 5), **options),
        lambda t: torch.nn.functional.fold(t, (6, 5), **options),
        tuple(blocks),
    )


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", sorted(INTERPOLATE))
@pytest.mark.parametrize("size", ["small", "odd"])
def test_interpolate_matches_torch(name, size):
    import torch

    ndim, options = INTERPOLATE[name]
    spatial = {"small": (4, 3, 2), "odd": (7, 9, 5)}[size][: ndim - 2]
    _torch_compare(
        lambda t: F.interpolate(t, **options),
        lambda t: torch.nn.functional.interpolate(t, **options),
        (2, 3, *spatial),
    )


@pytest.mark.torch
@needs_torch
def test_nearest_indices_match_torch_on_many_sizes():
    import torch

    for in_size in range(1, 23):
        for out_size in (1, 2, 3, 5, 7, 11, 13, 17, 31, 64):
            for mode in ("nearest", "nearest-exact"):
                x = np.arange(in_size, dtype=np.float32).reshape(1, 1, in_size)
                ours = F.interpolate(cr.tensor(x), size=out_size, mode=mode).numpy()
                theirs = torch.nn.functional.interpolate(torch.tensor(x), size=out_size, mode=mode).numpy()
                assert np.array_equal(ours, theirs), (in_size, out_size, mode)
        for factor in (0.3, 0.7, 1.3, 2.1, 3.0):
            if int(in_size * factor) < 1:
                continue  # an empty output: both libraries refuse it
            x = np.arange(in_size, dtype=np.float32).reshape(1, 1, in_size)
            ours = F.interpolate(cr.tensor(x), scale_factor=factor).numpy()
            theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=factor).numpy()
            assert np.array_equal(ours, theirs), (in_size, factor)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", sorted(PAD))
def test_pad_modes_match_torch(name):
    import torch

    shape, widths, mode = PAD[name]
    _torch_compare(
        lambda t: F.pad(t, widths, mode=mode), lambda t: torch.nn.functional.pad(t, widths, mode=mode), shape
    )


def test_float32_layers_and_errors():
    x = cr.randn(2, 3, 4, 4)
    assert F.unfold(x, 2).dtype == cr.float32
    assert F.fold(F.unfold(x, 2), (4, 4), 2).dtype == cr.float32
    assert F.interpolate(x, scale_factor=2, mode="bilinear").dtype == cr.float32
    assert F.pad(x, (1, 1, 1, 1), mode="reflect").dtype == cr.float32
    assert nn.Unfold(2)(x).shape == (2, 12, 9)
    assert nn.Fold((4, 4), 2)(nn.Unfold(2)(x)).shape == (2, 3, 4, 4)
    assert nn.Upsample(scale_factor=2)(x).shape == (2, 3, 8, 8)
    assert nn.UpsamplingBilinear2d(size=(5, 6))(x).shape == (2, 3, 5, 6)
    ones = cr.ones(1, 1, 3, 3)
    overlap = F.fold(F.unfold(ones, 2), (3, 3), 2)
    assert overlap[0, 0].tolist() == [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    with pytest.raises(cr.errors.ShapeError, match="does not fit"):
        F.unfold(x, 5)
    with pytest.raises(cr.errors.ShapeError, match="blocks"):
        F.fold(cr.randn(1, 12, 5), (4, 4), 2)
    with pytest.raises(cr.errors.ShapeError, match="divisible"):
        F.fold(cr.randn(1, 7, 9), (4, 4), 2)
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)
    with pytest.raises(cr.errors.ShapeError, match="bilinear mode needs 4D"):
        F.interpolate(cr.randn(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(cr.errors.ShapeError, match="reflect"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="wrap")
