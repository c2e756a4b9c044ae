"""F.pixel_shuffle / F.pixel_unshuffle and their layers (the ESPCN super-resolution model of pytorch/examples).

Gradients against central differences in float64, first and second order; values and gradients against torch;
float32 stays float32; bad input is a clear error.
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

# (input shape, factor): no batch, a batch, two batch dimensions
SHUFFLE = [((8, 2, 3), 2), ((2, 9, 2, 1), 3), ((2, 1, 4, 3, 2), 2)]
UNSHUFFLE = [((2, 4, 6), 2), ((2, 1, 3, 6), 3), ((2, 1, 2, 4, 2), 2)]


@pytest.mark.parametrize(
    ("fn", "shape", "factor"), [(F.pixel_shuffle, *c) for c in SHUFFLE] + [(F.pixel_unshuffle, *c) for c in UNSHUFFLE]
)
def test_gradients_first_and_second_order(fn, shape, factor):
    x = cr.tensor(rng.normal(size=shape), requires_grad=True)
    assert cr.autograd.gradcheck(lambda a: fn(a, factor), (x,))
    assert cr.autograd.gradgradcheck(lambda a: fn(a, factor), (x,))


@needs_torch
@pytest.mark.parametrize(
    ("name", "shape", "factor"),
    [("pixel_shuffle", *c) for c in SHUFFLE] + [("pixel_unshuffle", *c) for c in UNSHUFFLE],
)
def test_values_and_gradients_match_torch(name, shape, factor):
    import torch

    data = rng.normal(size=shape)
    weights = rng.normal(size=getattr(torch.nn.functional, name)(torch.tensor(data), factor).shape)
    x = cr.tensor(data, requires_grad=True)
    ours = getattr(F, name)(x, factor)
    (ours * cr.tensor(weights)).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    theirs = getattr(torch.nn.functional, name)(tx, factor)
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_unshuffle_inverts_shuffle_and_dtypes_stay():
    x = cr.randn(2, 8, 3, 5)  # float32
    up = F.pixel_shuffle(x, 2)
    assert up.shape == (2, 2, 6, 10) and up.dtype == cr.float32
    assert (F.pixel_unshuffle(up, 2) == x).all()
    ints = cr.arange(16).reshape(1, 4, 2, 2)
    assert F.pixel_shuffle(ints, 2).dtype == cr.int64


def test_layers():
    shuffle, unshuffle = nn.PixelShuffle(2), nn.PixelUnshuffle(2)
    assert repr(shuffle) == "PixelShuffle(upscale_factor=2)"
    assert repr(unshuffle) == "PixelUnshuffle(downscale_factor=2)"
    assert list(shuffle.parameters()) == []
    x = cr.randn(1, 4, 3, 3)
    assert (unshuffle(shuffle(x)) == x).all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: F.pixel_shuffle(cr.zeros(1, 3, 2, 2), 2),
            cr.ShapeError,
            r"channels \(3, of input shape \(1, 3, 2, 2\)\)",
        ),
        (lambda: F.pixel_unshuffle(cr.zeros(1, 1, 3, 4), 2), cr.ShapeError, r"height and width \(3, 4"),
        (lambda: F.pixel_shuffle(cr.zeros(4, 2), 2), cr.ShapeError, "at least 3 dimensions"),
        (lambda: F.pixel_shuffle(cr.zeros(1, 4, 2, 2), 0), ValueError, "upscale_factor must be positive"),
        (lambda: F.pixel_unshuffle(cr.zeros(1, 4, 2, 2), 1.5), TypeError, "downscale_factor must be an int"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
