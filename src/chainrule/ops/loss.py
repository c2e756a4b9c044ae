"""Fused loss primitives, kept for numerical stability and speed.

Three losses get their own row in the derivative table; every other loss is a
composite of elementwise ops (see ``nn/functional/loss.py``):

``cross_entropy``
    log-softmax and the negative log-likelihood of class indices in one pass
    (with class weights, ``ignore_index`` and label smoothing).  The forward
    subtracts the row maximum before exponentiating and keeps the
    probabilities, so the first-order backward is ``p * sum(q) - q`` on arrays
    (q: the smoothed, weighted one-hot target) without a second exp.
``binary_cross_entropy``
    on probabilities, with PyTorch's clamp of each log at -100 and its
    gradient ``(x - t) / max(x (1 - x), 1e-12)``, so inputs of exactly 0 or 1
    give finite values.
``binary_cross_entropy_with_logits``
    ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)`` with
    ``softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)``: finite loss and
    gradient for any finite logit (+-100 included).

Each forward returns the *unreduced* loss; the functional layer applies the
reduction.  Class weights and ``pos_weight`` are constants (no gradient), as in
PyTorch.  The vjps are written with Tensor ops, so create_graph works.
"""

from __future__ import annotations

import numpy as np

from ..autograd.graph import apply1, apply2, primitive
from ..autograd.jvp_rules import jvp_from_vjp
from ..backend import array_module
from ..tensor import Tensor, _wrap
from .elementwise import clamp, log, log1p, sigmoid, softplus
from .index import _along_axis
from .nn import _maxes, softmax

__all__ = ["binary_cross_entropy_elementwise", "bce_with_logits_elementwise", "cross_entropy_indices"]


# ---------------------------------------------------------------------------
# cross-entropy from logits with class-index targets


def _class_shape(ndim: int, classes: int) -> tuple:
    """Shape that broadcasts a (C,) vector along axis 1 of an (N, C, d1, ...) array."""
    return (1, classes) + (1,) * (ndim - 2)


def _target_terms(xp, target, weight, ignore_index, dtype):
    """(valid mask, target with ignored entries set to class 0, per-element class weight) as arrays."""
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    if weight is None:
        coef = valid.astype(dtype)
    else:
        coef = weight[safe] * valid
    return valid, safe, coef


def _class_maxes(xp, x):
    """``x.max(axis=1, keepdims=True)``: on (N, C) logits of 4,096+ elements one ``reduceat`` (``nn._maxes``),
    the same bits, 2.2x faster ((1024, 65): 48 -> 22 us; (16384, 10): 732 -> 323 us); below, NumPy's max
    (the reduceat's setup costs a microsecond more on (32, 2))."""
    if x.ndim == 2 and x.size >= 4096:
        return _maxes(xp, x, 1)
    return x.max(axis=1, keepdims=True)


@primitive("cross_entropy", save=(0,), extra=True)
def _cross_entropy(xp, x, target, weight, ignore_index, smoothing):
    """Per-element loss of logits x (N, C, d1, ...) against class indices target (N, d1, ...)."""
    classes = x.shape[1]
    logp = x - _class_maxes(xp, x)
    probs = xp.exp(logp)
    total = probs.sum(axis=1, keepdims=True)
    logp -= xp.log(total)
    probs /= total
    valid, safe, coef = _target_terms(xp, target, weight, ignore_index, x.dtype)
    picked = logp[_along_axis(xp, safe[:, None], 1)][:, 0]
    loss = -(picked * coef)
    if smoothing:
        # PyTorch's label smoothing: (1 - eps) * nll + eps / C * (-sum_c w_c log p_c)
        if weight is None:
            spread = -logp.sum(axis=1)
        else:
            spread = -(logp * weight.reshape(_class_shape(x.ndim, classes))).sum(axis=1)
        spread = xp.where(valid, spread, 0)
        loss = loss * (1 - smoothing) + spread * (smoothing / classes)
    return loss.astype(x.dtype, copy=False), probs


@_cross_entropy.defvjp
def _cross_entropy_vjp(ctx, g):
    target, weight, ignore_index, smoothing = ctx.args
    (x,) = ctx.saved
    xp = array_module(g._data)
    shape = x._data.shape
    classes = shape[1]
    dtype = x._data.dtype
    valid, safe, coef = _target_terms(xp, target, weight, ignore_index, dtype)
    at_target = _along_axis(xp, safe[:, None], 1)
    # the loss is -sum_c q_c log p_c; its gradient is p * sum_c(q_c) - q
    hit = coef * (1 - smoothing) if smoothing else coef
    if smoothing:
        spread = (valid * (smoothing / classes)).astype(dtype)
        weight_sum = classes if weight is None else weight.sum()
        q_sum = hit + spread * weight_sum
        w_b = 1 if weight is None else weight.reshape(_class_shape(len(shape), classes))
    else:
        q_sum = hit
    if not ctx.create_graph:
        gd = g._data
        grad = ctx.extra * (gd * q_sum)[:, None]
        if smoothing:
            grad -= (gd * spread)[:, None] * w_b
        grad[at_target] -= (gd * hit)[:, None]
        return _wrap(grad.astype(dtype, copy=False))
    q = xp.zeros(shape, dtype=dtype)
    q[at_target] = hit[:, None]
    if smoothing:
        q += spread[:, None] * w_b
    p = softmax(x, 1)
    return (p * _wrap(q_sum[:, None].astype(dtype)) - _wrap(q)) * g.unsqueeze(1)


@_cross_entropy.defjvp
def _cross_entropy_jvp(ctx, tangent):
    # each loss reads one row of logits: its tangent is that row's gradient (the vjp of ones) dotted with dx
    xp = array_module(tangent._data)
    ones = _wrap(xp.ones(ctx.out.shape, dtype=tangent._data.dtype))
    return (_cross_entropy_vjp(ctx, ones) * tangent).sum(dim=1)


# the common case as one node: mean over (N, C) logits, class indices, no weight, smoothing or ignored targets
# (the general path above is an unreduced loss plus a weighted mean: four more nodes on a small batch)


@primitive("cross_entropy_mean", save=(0,), extra=True)
def _cross_entropy_mean(xp, x, target):
    n = x.shape[0]
    logp = x - _class_maxes(xp, x)
    probs = xp.exp(logp)
    total = probs.sum(axis=1, keepdims=True)
    picked = logp[xp.arange(n), target] - xp.log(total[:, 0])
    probs /= total
    loss = xp.asarray(-(picked.sum() / n), dtype=x.dtype)
    return loss, probs


@_cross_entropy_mean.defvjp
def _cross_entropy_mean_vjp(ctx, g):
    (target,) = ctx.args
    (x,) = ctx.saved
    xp = array_module(g._data)
    n = x._data.shape[0]
    rows = xp.arange(n)
    if not ctx.create_graph:
        scale = g._data / n
        grad = ctx.extra * scale
        grad[rows, target] -= scale
        return _wrap(grad.astype(x._data.dtype, copy=False))
    onehot = xp.zeros(x._data.shape, dtype=x._data.dtype)
    onehot[rows, target] = 1
    return (softmax(x, 1) - _wrap(onehot)) * (g / n)


@_cross_entropy_mean.defjvp
def _cross_entropy_mean_jvp(ctx, tangent):
    # a scalar loss: its tangent is <gradient, dx>
    xp = array_module(tangent._data)
    one = _wrap(xp.ones((), dtype=tangent._data.dtype))
    return (_cross_entropy_mean_vjp(ctx, one) * tangent).sum()


def cross_entropy_mean(x: Tensor, target) -> Tensor:
    """Mean cross-entropy of (N, C) logits against int array ``target`` (N,), N > 0, no target ignored.

    Arguments are checked by the caller (``nn.functional.cross_entropy``).
    """
    return apply1(_cross_entropy_mean, x, target)


def cross_entropy_indices(x: Tensor, target, weight, ignore_index: int, smoothing: float) -> Tensor:
    """Unreduced cross-entropy of logits ``x`` (N, C, d1, ...) and int array ``target`` (N, d1, ...).

    ``weight`` is None or a (C,) array in x's dtype.  Arguments are checked by
    the caller (``nn.functional.cross_entropy``).
    """
    return apply1(_cross_entropy, x, target, weight, int(ignore_index), float(smoothing))


# ---------------------------------------------------------------------------
# binary cross-entropy on probabilities


@primitive("binary_cross_entropy", save=True)
def _binary_cross_entropy(xp, x, t):
    with np.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(x), -100)
        log_rest = xp.maximum(xp.log1p(-x), -100)
    return (t - 1) * log_rest - t * log_x


@_binary_cross_entropy.defvjp
def _binary_cross_entropy_vjp(ctx, g):
    x, t = ctx.saved
    n = ctx.next
    gx = gt = None
    if n[0] is not None:
        # PyTorch's rule: the denominator is kept away from zero at x = 0 and x = 1
        gx = g * (x - t) / clamp((1.0 - x) * x, min=1e-12)
    if n[1] is not None:
        with np.errstate(divide="ignore"):
            gt = g * (log1p(-x) - log(x))
    return gx, gt


_binary_cross_entropy.defjvp(jvp_from_vjp(_binary_cross_entropy_vjp))


def binary_cross_entropy_elementwise(x: Tensor, t: Tensor) -> Tensor:
    """-(t log x + (1 - t) log(1 - x)) elementwise, each log clamped to >= -100 (PyTorch's rule)."""
    return apply2(_binary_cross_entropy, x, t)


# ---------------------------------------------------------------------------
# binary cross-entropy on logits


@primitive("binary_cross_entropy_with_logits", save=True)
def _bce_with_logits(xp, x, t, pos_weight):
    softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)  # log(1 + exp(-x)), never overflows
    if pos_weight is None:
        return (1 - t) * x + softplus_neg
    return (1 - t) * x + ((pos_weight - 1) * t + 1) * softplus_neg


@_bce_with_logits.defvjp
def _bce_with_logits_vjp(ctx, g):
    x, t = ctx.saved
    (pos_weight,) = ctx.args
    n = ctx.next
    gx = gt = None
    if pos_weight is None:
        if n[0] is not None:
            gx = g * (sigmoid(x) - t)
        if n[1] is not None:
            gt = -(g * x)
        return gx, gt
    pw = _wrap(pos_weight)
    if n[0] is not None:
        pwt = pw * t
        gx = g * ((pwt + 1.0 - t) * sigmoid(x) - pwt)
    if n[1] is not None:
        gt = g * (pw * softplus(-x) - softplus(x))
    return gx, gt


_bce_with_logits.defjvp(jvp_from_vjp(_bce_with_logits_vjp))


def bce_with_logits_elementwise(x: Tensor, t: Tensor, pos_weight=None) -> Tensor:
    """Elementwise binary cross-entropy of logits x and targets t; ``pos_weight`` is None or an array."""
    return apply2(_bce_with_logits, x, t, pos_weight)
