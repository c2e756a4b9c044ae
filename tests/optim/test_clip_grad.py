"""nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
from tests.parity import HAVE_TORCH


def _params_with_grads(seed=0, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    params = []
    for shape in shapes:
        p = cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        p.grad = cr.tensor((rng.standard_normal(shape) * scale).astype(dtype))
        params.append(p)
    return params


def _flat_grads(params):
    return np.concatenate([p.grad.numpy().astype(np.float64).ravel() for p in params])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_scales_to_max_norm(norm_type):
    params = _params_with_grads(scale=3.0)
    before = _flat_grads(params)
    expected_norm = np.linalg.norm(before, ord=norm_type)
    total = clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    assert total.dtype == cr.float32 and total.shape == ()
    np.testing.assert_allclose(float(total), expected_norm, rtol=1e-5)
    after = _flat_grads(params)
    np.testing.assert_allclose(after, before * 1.5 / (expected_norm + 1e-6), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(after, ord=norm_type), 1.5, rtol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = _params_with_grads(scale=0.01)
    arrays = [p.grad._data for p in params]
    before = _flat_grads(params)
    total = clip_grad_norm_(params, max_norm=10.0)
    np.testing.assert_array_equal(_flat_grads(params), before)
    assert all(p.grad._data is a for p, a in zip(params, arrays))  # in place, never replaced
    assert float(total) == pytest.approx(np.linalg.norm(before), rel=1e-5)


def test_clip_grad_norm_single_tensor_and_no_grads():
    p = cr.tensor([3.0, 4.0], requires_grad=True)
    assert float(clip_grad_norm_(p, 1.0)) == 0.0  # no gradient yet
    p.grad = cr.tensor([3.0, 4.0])
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_nonfinite_norm_raises_when_asked_and_leaves_gradients():
    params = _params_with_grads()
    params[1].grad._data[2] = np.inf
    before = _flat_grads(params)
    with pytest.raises(cr.GradientError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(_flat_grads(params), before)


def test_nonfinite_norm_without_error_follows_pytorch():
    """inf norm: the scale is 0 (finite entries become 0, the inf entry NaN); NaN norm: everything NaN."""
    params = _params_with_grads()
    params[1].grad._data[2] = np.inf
    total = clip_grad_norm_(params, 1.0)
    assert math.isinf(float(total))
    after = _flat_grads(params)
    assert np.isnan(after).sum() == 1 and (after[~np.isnan(after)] == 0).all()
    params = _params_with_grads()
    params[0].grad._data[0, 0] = np.nan
    total = clip_grad_norm_(params, 1.0)
    assert math.isnan(float(total)) and np.isnan(_flat_grads(params)).all()


def test_clip_grad_value():
    params = _params_with_grads(scale=2.0)
    before = _flat_grads(params)
    clip_grad_value_(params, 0.5)
    np.testing.assert_allclose(_flat_grads(params), np.clip(before, -0.5, 0.5), rtol=1e-6)


def test_float64_gradients_give_a_float64_norm():
    params = _params_with_grads(dtype=np.float64)
    assert clip_grad_norm_(params, 1.0).dtype == cr.float64


def test_parameters_to_vector_and_back():
    params = _params_with_grads()
    vec = parameters_to_vector(params)
    assert vec.shape == (12 + 4 + 8,)
    np.testing.assert_array_equal(vec.numpy(), np.concatenate([p.numpy().ravel() for p in params]))
    # differentiable: d(sum(vec * c)) / dp = c in p's shape
    weights = cr.arange(24, dtype=cr.float32)
    for p in params:
        p.grad = None
    (vec * weights).sum().backward()
    np.testing.assert_array_equal(params[2].grad.numpy().ravel(), np.arange(16, 24))
    arrays = [p._data for p in params]
    with cr.no_grad():
        vector_to_parameters(vec.detach() * 2.0, params)
    for p, a in zip(params, arrays):
        assert p._data is a
    np.testing.assert_allclose(parameters_to_vector(params).numpy(), vec.numpy() * 2.0)
    with pytest.raises(cr.ShapeError, match="25 elements"):
        vector_to_parameters(cr.zeros(25), params)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 2.5, math.inf])
@pytest.mark.parametrize("scale", [0.1, 5.0])
def test_clip_grad_norm_matches_torch_live(norm_type, scale):
    import torch

    params = _params_with_grads(seed=3, scale=scale)
    tparams = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    for p, t in zip(params, tparams):
        t.grad = torch.tensor(p.grad.numpy())
    total = clip_grad_norm_(params, 2.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 2.0, norm_type=norm_type)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=2e-6)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=2e-6, atol=1e-7)
