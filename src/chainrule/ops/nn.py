"""Fused primitives kept for numerical stability: softmax and log_softmax.

Both subtract the maximum before exponentiating, so large logits do not
overflow; log_softmax never takes the log of a rounded-to-zero probability.
Half-precision inputs are computed in float32 and rounded once (PyTorch's
kernels accumulate them in float32 too): a float16 sum of exponentials
overflows past 65504 terms, and log_softmax's backward sums the gradient.
"""

from __future__ import annotations

from ..autograd.graph import apply1, primitive
from ..autograd.mode import autocast_state
from ..backend import get_default_dtype
from ..tensor import Tensor
from ._util import is_half, normalize_dim
from .casting import cast_to_float32, in_float32
from .registry import op


@primitive("softmax", save_output=True)
def _softmax(xp, x, axis):
    with xp.errstate(invalid="ignore"):  # a row of -inf gives nan, silently (as in PyTorch)
        shifted = x - x.max(axis=axis, keepdims=True)
        e = xp.exp(shifted)
        e /= e.sum(axis=axis, keepdims=True)
    return e


@_softmax.defvjp
def _softmax_vjp(ctx, g):
    (axis,) = ctx.args
    y = ctx.output()
    return y * (g - (g * y).sum(dim=axis, keepdim=True))


@primitive("log_softmax", save_output=True)
def _log_softmax(xp, x, axis):
    with xp.errstate(invalid="ignore", divide="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


@_log_softmax.defvjp
def _log_softmax_vjp(ctx, g):
    (axis,) = ctx.args
    return g - ctx.output().exp() * g.sum(dim=axis, keepdim=True)


def _float(x):
    if x.data.dtype.kind == "f":
        return x
    return x.to(get_default_dtype())


@op(method=True)
def softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    x = x.to(dtype) if dtype is not None else _float(x)
    if autocast_state() is not None:
        (x,) = cast_to_float32(x)
    if is_half(x.data.dtype):
        return in_float32(softmax, x, dim)
    return apply1(_softmax, x, normalize_dim(dim, x.data.ndim, "softmax"))


@op(method=True)
def log_softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``, computed stably."""
    x = x.to(dtype) if dtype is not None else _float(x)
    if autocast_state() is not None:
        (x,) = cast_to_float32(x)
    if is_half(x.data.dtype):
        return in_float32(log_softmax, x, dim)
    return apply1(_log_softmax, x, normalize_dim(dim, x.data.ndim, "log_softmax"))
