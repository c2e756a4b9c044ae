"""Layers with parameters: gradients of input and parameters against central differences (float64),
first and second order; and the two backward paths of the fused ops agree.

The fused layer ops (``ops/layers.py``) have a raw-array backward for first
order and a Tensor-op backward for ``create_graph=True``; gradgradcheck only
differentiates the second, so ``test_backward_paths_agree`` checks that both
give the same first-order gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.autograd import gradcheck, gradgradcheck

# name -> (factory, input shape, mode)
LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), (4, 3), "train"),
    "Linear_nobias_3d": (lambda: nn.Linear(3, 2, bias=False), (2, 2, 3), "train"),
    "Linear_1d_input": (lambda: nn.Linear(3, 2), (3,), "train"),
    "BatchNorm1d_2d": (lambda: nn.BatchNorm1d(3), (4, 3), "train"),
    "BatchNorm1d_3d": (lambda: nn.BatchNorm1d(2), (3, 2, 2), "train"),
    "BatchNorm1d_eval": (lambda: nn.BatchNorm1d(3), (4, 3), "eval"),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2), "train"),
    "BatchNorm2d_eval": (lambda: nn.BatchNorm2d(2), (2, 2, 2, 2), "eval"),
    "BatchNorm2d_no_affine": (lambda: nn.BatchNorm2d(2, affine=False), (3, 2, 2, 1), "train"),
    "BatchNorm2d_no_stats_eval": (lambda: nn.BatchNorm2d(2, track_running_stats=False), (2, 2, 2, 1), "eval"),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(2), (2, 2, 2, 1, 2), "train"),
    "LayerNorm": (lambda: nn.LayerNorm(4), (3, 4), "train"),
    "LayerNorm_2d_shape": (lambda: nn.LayerNorm((2, 3)), (2, 2, 3), "train"),
    "LayerNorm_no_bias": (lambda: nn.LayerNorm(3, bias=False), (2, 3), "train"),
    "LayerNorm_no_affine": (lambda: nn.LayerNorm(3, elementwise_affine=False), (2, 3), "train"),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 3), "train"),
    "GroupNorm_2d_input": (lambda: nn.GroupNorm(2, 4), (3, 4), "train"),
    "GroupNorm_no_affine": (lambda: nn.GroupNorm(1, 2, affine=False), (2, 2, 2), "train"),
}


def _setup(name, seed=0):
    factory, shape, mode = LAYERS[name]
    module = factory().double()
    module.train(mode == "train")
    rng = np.random.default_rng(seed)
    with cr.no_grad():
        for _, p in module.named_parameters():
            p.copy_(cr.tensor(rng.standard_normal(p.shape) * 0.7 + 0.3))
        for bname, b in module.named_buffers():
            if b.is_floating_point():
                b.copy_(cr.tensor(rng.uniform(0.5, 1.5, b.shape) if "var" in bname else rng.standard_normal(b.shape)))
    # spread values so no two inputs of a normalized group nearly coincide (a steep, poorly sampled Jacobian)
    values = rng.permutation(np.linspace(-2.0, 2.0, int(np.prod(shape)))).reshape(shape)
    x = cr.tensor(values + rng.uniform(-0.05, 0.05, shape), requires_grad=True)
    params = [p for _, p in sorted(module.named_parameters())]

    def fn(x, *params):
        return module(x)

    return fn, [x, *params]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_first_order(name):
    fn, inputs = _setup(name)
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_second_order(name):
    fn, inputs = _setup(name)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_paths_agree(name):
    fn, inputs = _setup(name)
    out = fn(*inputs)
    upstream = cr.tensor(np.random.default_rng(1).standard_normal(out.shape))
    fast = cr.autograd.grad(out, inputs, upstream, retain_graph=True)
    recorded = cr.autograd.grad(out, inputs, upstream, create_graph=True)
    for a, b in zip(fast, recorded):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    assert any(g.requires_grad for g in recorded), "create_graph=True gave gradients without history"


def test_embedding_gradients():
    emb = nn.Embedding(5, 3).double()
    idx = cr.tensor([[0, 4, 4], [2, 0, 1]])
    assert gradcheck(lambda w: emb(idx), [emb.weight])
    assert gradgradcheck(lambda w: emb(idx), [emb.weight])


def test_embedding_padding_row_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=4).double()
    idx = cr.tensor([[0, 4, 4], [2, 4, 1]])
    emb(idx).sum().backward()
    assert np.all(emb.weight.grad.numpy()[4] == 0)
    counts = np.bincount(idx.numpy().ravel(), minlength=5)
    expected = np.where(np.arange(5) == 4, 0, counts)[:, None] * np.ones((1, 3))
    np.testing.assert_array_equal(emb.weight.grad.numpy(), expected)


def test_embedding_scale_grad_by_freq_divides_by_count():
    emb = nn.Embedding(4, 2, scale_grad_by_freq=True).double()
    idx = cr.tensor([0, 0, 0, 2, 3, 3])
    upstream = np.random.default_rng(0).standard_normal((6, 2))
    emb(idx).backward(cr.tensor(upstream))
    expected = np.zeros((4, 2))
    counts = np.bincount(idx.numpy(), minlength=4)
    for i, row in enumerate(idx.numpy()):
        expected[row] += upstream[i] / counts[row]
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-12)


def test_dropout_is_differentiable_twice():
    cr.manual_seed(0)
    x = cr.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
    y = nn.functional.dropout(x, 0.4) * x  # d/dx = 2 x mask: second derivative 2 * mask
    (gx,) = cr.autograd.grad(y.sum(), [x], create_graph=True)
    (ggx,) = cr.autograd.grad(gx.sum(), [x])
    mask = y.numpy() / (x.numpy() ** 2)  # the scaled mask, x has no zeros
    np.testing.assert_allclose(ggx.numpy(), 2 * mask, rtol=1e-12)
