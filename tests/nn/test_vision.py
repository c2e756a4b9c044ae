"""F.unfold / F.fold, F.interpolate, F.pad's reflect/replicate/circular modes and their layers.

Gradients are checked against central differences in float64, first and
second order; values and gradients against torch through the committed
fixture (tests/fixtures/make_vision.py) and live when torch is importable;
float32 stays float32.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from tests.fixtures.make_vision import CASES, INTERPOLATE, NAMES, PAD, UNFOLD, nearest_sweep, run
from tests.parity import HAVE_TORCH, load

FIXTURES = load("vision")
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
rng = np.random.default_rng(0)


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


def _compare(name, expected):
    actual = run(cr, name)
    for key in ("out", "grad"):
        assert actual[key].shape == expected[key].shape, f"{name} {key}"
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-12, atol=1e-12, err_msg=f"{name} {key}")


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_fixture(name):
    _compare(name, FIXTURES[name])


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_live(name):
    _compare(name, CASES[name]())


def test_nearest_source_pixels_match_torch_on_many_sizes():
    assert np.array_equal(nearest_sweep(cr), FIXTURES["nearest_sweep"]["indices"])


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
    with pytest.raises(cr.errors.DTypeError, match="floating"):
        F.interpolate(cr.arange(8).reshape(1, 1, 8), size=4, mode="linear")
    assert F.interpolate(cr.arange(4).reshape(1, 1, 4), size=8).dtype == cr.int64
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(cr.errors.ShapeError, match="reflect"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="wrap")
