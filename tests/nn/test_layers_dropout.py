"""Dropout: statistics, scaling, eval identity, channel masks, seeding (masks differ from PyTorch's RNG)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.parity import HAVE_TORCH


def _binomial_ok(count, n, p, sigmas=5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_and_scaling(p):
    cr.manual_seed(0)
    x = cr.tensor(np.random.default_rng(0).uniform(0.5, 1.5, (200, 100)).astype(np.float32), requires_grad=True)
    y = F.dropout(x, p, training=True)
    assert y.dtype == cr.float32
    dropped = y.numpy() == 0
    assert _binomial_ok(dropped.sum(), dropped.size, p)
    kept = ~dropped
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / (1 - p), rtol=1e-6)
    # the expected value is kept: the mean of y estimates the mean of x
    assert abs(y.numpy().mean() - x.numpy().mean()) < 6 * y.numpy().std() / math.sqrt(y.numpy().size)
    y.backward(cr.ones(*y.shape))
    assert x.grad.dtype == cr.float32
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-6)


def test_eval_mode_and_p_zero_are_the_identity():
    x = cr.randn(4, 5, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    layer = nn.Dropout(0.5)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    assert np.any(layer(x).numpy() == 0)


def test_p_one_zeroes_everything():
    x = cr.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert np.all(y.numpy() == 0)
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)


def test_invalid_probability():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(cr.randn(3), p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)


def test_integer_input_is_refused():
    with pytest.raises(cr.DTypeError, match="floating point"):
        F.dropout(cr.tensor([1, 2, 3]), 0.5)


def test_seeded_masks_repeat():
    x = cr.ones(50, 20)
    cr.manual_seed(3)
    a = F.dropout(x, 0.5).numpy().copy()
    cr.manual_seed(3)
    b = F.dropout(x, 0.5).numpy().copy()
    c = F.dropout(x, 0.5).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Dropout2d, (40, 30, 3, 4)),
        (nn.Dropout1d, (40, 30, 5)),
        (nn.Dropout1d, (30, 5)),
        (nn.Dropout3d, (20, 30, 2, 2, 2)),
        (nn.Dropout3d, (30, 2, 2, 2)),
    ],
)
def test_channel_dropout_zeroes_whole_channels(layer, shape):
    cr.manual_seed(1)
    p = 0.4
    x = cr.tensor(np.random.default_rng(2).uniform(1, 2, shape).astype(np.float32), requires_grad=True)
    y = layer(p)(x)
    batched = len(shape) == {nn.Dropout1d: 3, nn.Dropout2d: 4, nn.Dropout3d: 5}[layer]
    channels = y.numpy().reshape((shape[0] * shape[1] if batched else shape[0]), -1)
    ratio = channels / x.numpy().reshape(channels.shape)
    per_channel = ratio[:, :1]
    assert np.all((per_channel == 0) | np.isclose(per_channel, 1 / (1 - p))), "scaling is 0 or 1/(1-p)"
    np.testing.assert_allclose(ratio, np.broadcast_to(per_channel, ratio.shape), rtol=1e-6)  # whole channels
    assert _binomial_ok((per_channel == 0).sum(), per_channel.size, p)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().reshape(ratio.shape), ratio, rtol=1e-6)


def test_dropout2d_rank_warnings_and_errors():
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(cr.randn(2, 3, 4))
    with pytest.warns(UserWarning, match="5-D input to dropout2d"):
        F.dropout2d(cr.randn(2, 3, 4, 2, 2))
    with pytest.raises(cr.ShapeError, match="dropout1d"):
        F.dropout1d(cr.randn(2, 3, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(cr.randn(2, 3, 4, 4))  # the normal case is silent


def test_inplace_flag_is_accepted_and_input_is_kept():
    """Documented difference from PyTorch: inplace=True returns a new tensor and leaves the input alone."""
    cr.manual_seed(0)
    x = cr.ones(10, 10)
    y = nn.Dropout(0.5, inplace=True)(x)
    assert np.all(x.numpy() == 1)
    assert np.any(y.numpy() == 0)
    assert repr(nn.Dropout(0.5, inplace=True)) == "Dropout(p=0.5, inplace=True)"


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_statistics_match_torch():
    """Same p: the same set of output values (0 and 1/(1-p)) and drop fractions within binomial noise."""
    import torch

    torch.manual_seed(0)
    cr.manual_seed(0)
    p = 0.3
    ours = F.dropout(cr.ones(300, 100), p).numpy()
    theirs = torch.nn.functional.dropout(torch.ones(300, 100), p).numpy()
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-6)
    n = ours.size
    assert abs((ours == 0).sum() - (theirs == 0).sum()) <= 5 * math.sqrt(2 * n * p * (1 - p))
    ours2 = F.dropout2d(cr.ones(200, 50, 2, 2), p).numpy()
    theirs2 = torch.nn.functional.dropout2d(torch.ones(200, 50, 2, 2), p).numpy()
    np.testing.assert_allclose(np.unique(ours2), np.unique(theirs2), rtol=1e-6)
