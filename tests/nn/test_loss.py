"""Loss behaviour beyond the PyTorch fixtures: clear errors, dtypes, modules, stability, double backward."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.parity import HAVE_TORCH


def _logits(n=4, c=3, seed=0, dtype=np.float32):
    return cr.tensor(np.random.default_rng(seed).standard_normal((n, c)).astype(dtype), requires_grad=True)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.kl_div, F.binary_cross_entropy_with_logits]
)
def test_shape_mismatch_names_loss_and_shapes(fn):
    x = cr.full((4, 1), 0.5, requires_grad=True)
    t = cr.full((4,), 0.5)
    with pytest.raises(cr.ShapeError, match=rf"{fn.__name__}: input shape \(4, 1\) and target shape \(4,\)"):
        fn(x, t)


def test_cross_entropy_target_errors():
    x = _logits(4, 3)
    with pytest.raises(cr.IndexingError, match=r"cross_entropy: target 3 is out of range for 3 classes"):
        F.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(cr.IndexingError, match="target -1 is out of range"):
        F.cross_entropy(x, np.array([0, -1, 1, 2]))
    with pytest.raises(cr.ShapeError, match=r"input of shape \(4, 3\) needs a target of shape .* \(4,\), got \(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(cr.ShapeError, match="float target holds class probabilities"):
        F.cross_entropy(x, cr.zeros(4))
    with pytest.raises(cr.ShapeError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), weight=cr.ones(4))
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        F.cross_entropy(x, cr.zeros(4, 3), ignore_index=0)
    with pytest.raises(cr.DTypeError, match="integer tensor"):
        F.nll_loss(x, cr.zeros(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=1.5)


def test_ignored_targets_may_be_out_of_range():
    x = _logits(3, 3)
    loss = F.cross_entropy(x, np.array([0, -100, 2]))
    ref = F.cross_entropy(x[[0, 2]], np.array([0, 2]))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)


def test_bad_reduction():
    x = cr.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="batchmean"):
        F.l1_loss(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match="not a valid value"):
        nn.CrossEntropyLoss(reduction="avg")


def test_binary_cross_entropy_checks_its_range():
    with pytest.raises(ValueError, match="input should be between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([0.5, 1.2]), cr.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([0.5, 0.2]), cr.tensor([0.0, 2.0]))


def test_margin_ranking_shapes():
    a = cr.zeros(3, requires_grad=True)
    with pytest.raises(cr.ShapeError, match="same number of dimensions"):
        F.margin_ranking_loss(a, a, cr.ones(1, 3))
    with pytest.raises(cr.ShapeError, match="do not broadcast"):
        F.margin_ranking_loss(a, cr.zeros(4), cr.ones(3))


def test_positional_arguments_after_weight_are_refused():
    """PyTorch's 4th positional argument is the deprecated size_average: chainrule makes the rest keyword-only."""
    x = _logits()
    with pytest.raises(TypeError):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), None, -100)


# --------------------------------------------------------------------------- values and dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_dtype_out(dtype):
    x = _logits(dtype=dtype)
    for loss in (
        F.cross_entropy(x, np.array([0, 1, 2, 0]), weight=cr.ones(3), label_smoothing=0.1),
        F.nll_loss(x.log_softmax(1), np.array([0, 1, 2, 0]), weight=cr.ones(3, dtype=cr.float64)),
        F.binary_cross_entropy_with_logits(x, cr.tensor(np.ones((4, 3), dtype)), pos_weight=cr.ones(3)),
        F.mse_loss(x, cr.tensor(np.zeros((4, 3), dtype))),
    ):
        assert loss.dtype == dtype
        x.grad = None
        loss.backward()
        assert x.grad.dtype == dtype


def test_cross_entropy_equals_log_softmax_then_nll():
    x = _logits(5, 4, seed=2)
    t = np.array([3, 0, 1, 1, 2])
    w = cr.tensor([0.5, 1.0, 2.0, 1.5])
    for reduction in ("none", "mean", "sum"):
        a = F.cross_entropy(x, t, w, reduction=reduction)
        b = F.nll_loss(F.log_softmax(x, 1), t, w, reduction=reduction)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_label_smoothing_one_is_uniform_target():
    """label_smoothing=1 turns any class-index target into the uniform distribution."""
    x = _logits(3, 4, seed=5)
    a = F.cross_entropy(x, np.array([0, 3, 1]), label_smoothing=1.0)
    b = F.cross_entropy(x, cr.full((3, 4), 0.25))
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-6)


def test_bce_with_logits_is_stable_where_the_naive_formula_is_not():
    x = cr.tensor([200.0, -200.0, 50.0], requires_grad=True)
    t = cr.tensor([0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [200.0, 200.0, 0.0], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 0.0], atol=1e-6)


def test_kl_div_zero_target_gradient_is_finite():
    """Where target == 0 the term t log t is 0 and the target gradient is -input (PyTorch gives NaN there)."""
    x = cr.tensor(np.log([0.2, 0.3, 0.5]).astype(np.float32), requires_grad=True)
    t = cr.tensor([0.0, 0.4, 0.6], requires_grad=True)
    F.kl_div(x, t, reduction="sum").backward()
    assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_allclose(t.grad.numpy()[0], -x.numpy()[0], rtol=1e-6)
    np.testing.assert_allclose(t.grad.numpy()[1:], np.log(t.numpy()[1:]) + 1 - x.numpy()[1:], rtol=1e-6)


def test_retain_graph_backward_twice_gives_the_same_gradient():
    x = _logits()
    loss = F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=0.1)
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


# --------------------------------------------------------------------------- modules


def test_module_weights_are_buffers():
    w = cr.tensor([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    assert list(loss.state_dict()) == ["weight"]
    assert "ignore_index=1" in repr(loss) and "label_smoothing=0.1" in repr(loss)
    loss64 = loss.double()
    assert loss64.weight.dtype == cr.float64
    bce = nn.BCEWithLogitsLoss(pos_weight=cr.ones(3))
    assert sorted(bce.state_dict()) == ["pos_weight"]


def test_module_defaults_match_functional():
    x, t = _logits(), np.array([2, 1, 0, 0])
    np.testing.assert_allclose(nn.CrossEntropyLoss()(x, t).item(), F.cross_entropy(x, t).item())
    y = cr.tensor(np.linspace(-1, 1, 12).reshape(4, 3).astype(np.float32))
    assert nn.SmoothL1Loss(beta=0.5)(x, y).item() == F.smooth_l1_loss(x, y, beta=0.5).item()
    probs = y.abs() + 0.1
    kl = nn.KLDivLoss(reduction="batchmean")(x, probs).item()
    assert np.isfinite(kl) and kl == F.kl_div(x, probs, reduction="batchmean").item()


# --------------------------------------------------------------------------- second order against torch


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_cross_entropy_double_backward_matches_torch():
    """Hessian-vector product of cross-entropy (weights, ignore_index, smoothing) equals PyTorch's."""
    import torch

    rng = np.random.default_rng(7)
    x_np = rng.standard_normal((5, 4)).astype(np.float64)
    v_np = rng.standard_normal((5, 4))
    t = np.array([0, 3, -100, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    x = cr.tensor(x_np, requires_grad=True)
    (g,) = cr.autograd.grad(F.cross_entropy(x, t, cr.tensor(w), label_smoothing=0.2), [x], create_graph=True)
    (hv,) = cr.autograd.grad((g * cr.tensor(v_np)).sum(), [x])
    tx = torch.tensor(x_np, requires_grad=True)
    (tg,) = torch.autograd.grad(
        torch.nn.functional.cross_entropy(tx, torch.tensor(t), torch.tensor(w), label_smoothing=0.2),
        [tx],
        create_graph=True,
    )
    (thv,) = torch.autograd.grad((tg * torch.tensor(v_np)).sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-9, atol=1e-12)
