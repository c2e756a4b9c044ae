"""Fused primitives kept for numerical stability: softmax and log_softmax.

Both subtract the maximum before exponentiating, so large logits do not
overflow; log_softmax never takes the log of a rounded-to-zero probability.
Half-precision inputs are computed in float32 and rounded once (PyTorch's
kernels accumulate them in float32 too): a float16 sum of exponentials
overflows past 65504 terms, and log_softmax's backward sums the gradient.
"""

from __future__ import annotations

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import apply1, primitive
from ..autograd.mode import autocast_state
from ..backend import get_default_dtype
from ..tensor import Tensor, _wrap
from ._util import is_half, normalize_dim
from .casting import cast_to_float32, in_float32
from .registry import op


def _sums(xp, a, axis):
    """``a`` summed over ``axis``, kept as an axis of length 1.

    Over the last axis of a large C-contiguous float array this is a GEMV with
    a vector of ones (``backend.sum_last``, one BLAS thread): NumPy's reduction
    runs its inner loop once per row, 3-6x slower on rows of 64-512 (measured
    on (16384, 64): 433 vs 70 us; (1024, 512): 100 vs 36 us).  The sum's
    rounding then differs from NumPy's pairwise sum (float32 rounding).
    """
    if (
        xp is np
        and a.ndim >= 2
        and axis in (-1, a.ndim - 1)
        and a.size >= 8192
        and a.dtype.char in "fd"
        and a.flags.c_contiguous
    ):
        return backend.sum_last(np, a.reshape(-1, a.shape[-1])).reshape(a.shape[:-1] + (1,))
    return np.add.reduce(a, axis=axis, keepdims=True) if xp is np else a.sum(axis=axis, keepdims=True)


def _maxes(xp, a, axis):
    """``a.max(axis, keepdims=True)``, over the last axis of a C-contiguous NumPy float array as one ``reduceat``.

    NumPy's ``max`` over the last axis runs its inner loop once per row; ``maximum.reduceat`` over the
    flat array with one segment per row is 2-3x faster on short rows (measured on (4096, 64) float32:
    245 vs 113 us; (16384, 10): 716 vs 320 us; (1024, 512): 101 vs 59 us).  A maximum is exact and
    ``maximum`` propagates NaN as ``max`` does, so the result is bit for bit ``max``'s.
    """
    if xp is np and a.ndim >= 1 and axis in (-1, a.ndim - 1) and a.size and a.dtype.char in "fd":
        if a.flags.c_contiguous:
            width = a.shape[-1]
            starts = np.arange(0, a.size, width)
            return np.maximum.reduceat(a.reshape(-1), starts).reshape(a.shape[:-1] + (1,))
    return a.max(axis=axis, keepdims=True)


def _softmax_onednn(log, backward, a, axis, *more):
    """softmax or log_softmax (``log``), or with ``backward`` its input gradient from the output ``a`` and the
    output gradient ``more[0]``, on oneDNN (one pass, vectorized, on the OpenMP threads ``threads.omp_call``
    gives it); None where oneDNN does not take it (NumPy then runs)."""
    operands = _dnnl.eltwise_operands(a, *more) if a.ndim else None
    if operands is None:
        return None
    axis %= a.ndim
    fn = _dnnl.softmax_backward if backward else _dnnl.softmax
    return threads.omp_call(
        "eltwise",
        a.size,
        lambda n: fn(*operands, axis, log, n),
        lambda counts: _dnnl.softmax_prepare(a.shape, axis, log, backward, counts),
    )


def softmax_array(xp, x, axis):
    """softmax of a raw array along ``axis``, as a new array (oneDNN's kernel where it takes it)."""
    out = _softmax_onednn(False, False, x, axis) if xp is np else None
    if out is not None:
        return out
    with xp.errstate(invalid="ignore"):  # a row of -inf gives nan, silently (as in PyTorch)
        e = x - _maxes(xp, x, axis)
        if e.ndim:  # (0-d: a NumPy scalar)
            xp.exp(e, out=e)  # in place: one array for the whole forward
        else:
            e = xp.exp(e)
        e /= _sums(xp, e, axis)
    return e


def softmax_grad_array(y, gd, axis):
    """The input gradient of softmax, ``y * (gd - sum(gd * y))``, from its output ``y`` and the output gradient
    ``gd`` (raw arrays of one float dtype, not 0-d), as a new array."""
    out = _softmax_onednn(False, True, y, axis, gd) if type(y) is np.ndarray else None
    if out is not None:
        return out
    xp = backend.array_module(y)
    out = gd * y
    xp.subtract(gd, _sums(xp, out, axis), out=out)
    out *= y
    return out


@primitive("softmax", save_output=True)
def _softmax(xp, x, axis):
    return softmax_array(xp, x, axis)


def _softmax_rule(ctx, g):
    """``y * (g - sum(g * y))`` in Tensor ops (differentiable again)."""
    (axis,) = ctx.args
    y = ctx.output()
    return y * (g - (g * y).sum(dim=axis, keepdim=True))


def _raw_first_order(ctx, gd, y):
    """Whether softmax's or log_softmax's vjp may run on raw arrays: a first-order backward on NumPy arrays of one
    float dtype (not 0-d); otherwise the Tensor-op rule runs."""
    return (
        not ctx.create_graph
        and type(gd) is np.ndarray
        and type(y) is np.ndarray
        and gd.dtype == y.dtype
        and gd.dtype.char in "fd"
        and bool(y.ndim)
    )


@_softmax.defvjp
def _softmax_vjp(ctx, g):
    gd = g._data
    y = ctx.out
    if not _raw_first_order(ctx, gd, y):
        return _softmax_rule(ctx, g)
    # first order on raw arrays: _softmax_rule's operations, one array instead of three (and no nodes)
    (axis,) = ctx.args
    return _wrap(softmax_grad_array(y, gd, axis))


_softmax.defjvp(_softmax_rule)  # the Jacobian diag(y) - y y^T is symmetric: jvp = vjp


@primitive("log_softmax", save_output=True)
def _log_softmax(xp, x, axis):
    out = _softmax_onednn(True, False, x, axis)
    if out is not None:
        return out
    with xp.errstate(invalid="ignore", divide="ignore"):
        shifted = x - _maxes(xp, x, axis)
        if not shifted.ndim:  # (0-d: a NumPy scalar)
            return shifted - xp.log(xp.exp(shifted))
        shifted -= xp.log(_sums(xp, xp.exp(shifted), axis))
        return shifted


@_log_softmax.defvjp
def _log_softmax_vjp(ctx, g):
    (axis,) = ctx.args
    gd, y = g._data, ctx.out
    if not _raw_first_order(ctx, gd, y):
        return g - ctx.output().exp() * g.sum(dim=axis, keepdim=True)
    # first order on raw arrays: the rule's operations, one array instead of three
    out = _softmax_onednn(True, True, y, axis, gd)
    if out is not None:
        return _wrap(out)
    out = np.exp(y)
    out *= _sums(np, gd, axis)
    np.subtract(gd, out, out=out)
    return _wrap(out)


@_log_softmax.defjvp
def _log_softmax_jvp(ctx, tangent):
    (axis,) = ctx.args
    return tangent - (ctx.output().exp() * tangent).sum(dim=axis, keepdim=True)


def _float(x):
    if x._data.dtype.kind == "f":
        return x
    return x.to(get_default_dtype())


@op(method=True)
def softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably.

    The maximum along ``dim`` is subtracted before exponentiating, so large
    logits do not overflow; a slice that is all ``-inf`` gives NaN, as in
    PyTorch. The gradient is ``y * (g - sum(g * y, dim))`` with ``y`` the saved
    output. float16 inputs are computed in float32 and rounded once; inside
    ``chainrule.amp.autocast`` low-precision inputs are computed and returned in
    float32.

    Args:
        x: the input (logits), any shape ``(*)``; an integer tensor is first
            converted to the default float dtype.
        dim: the dimension to normalize along (negative counts from the end).
        dtype: if given, ``x`` is converted to this dtype first (default None:
            keep ``x``'s float dtype).

    Returns:
        A tensor of ``x``'s shape with values in [0, 1] that sum to 1 along
        ``dim``, in ``x``'s float dtype (or ``dtype``).

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.softmax(cr.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([0.0900, 0.2447, 0.6652])
        >>> cr.tensor([[1000.0, 1000.0], [0.0, -1e9]]).softmax(dim=-1)
        tensor([[0.5000, 0.5000],
                [1.0000, 0.0000]])
    """
    x = x.to(dtype) if dtype is not None else _float(x)
    if autocast_state() is not None:
        (x,) = cast_to_float32(x)
    if is_half(x._data.dtype):
        return in_float32(softmax, x, dim)
    return apply1(_softmax, x, normalize_dim(dim, x._data.ndim, "softmax"))


@op(method=True)
def log_softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, computed stably.

    The log of ``chainrule.softmax``, computed without ever taking the log of a
    probability that rounded to zero (so it stays finite where ``softmax`` gives
    0). The gradient is ``g - exp(y) * sum(g, dim)`` with ``y`` the saved output.
    Pair it with ``F.nll_loss``, or use ``F.cross_entropy``, which fuses both.
    float16 inputs are computed in float32 and rounded once; inside
    ``chainrule.amp.autocast`` low-precision inputs are computed and returned in
    float32.

    Args:
        x: the input (logits), any shape ``(*)``; an integer tensor is first
            converted to the default float dtype.
        dim: the dimension to normalize along (negative counts from the end).
        dtype: if given, ``x`` is converted to this dtype first (default None:
            keep ``x``'s float dtype).

    Returns:
        A tensor of ``x``'s shape with non-positive values whose exponentials
        sum to 1 along ``dim``, in ``x``'s float dtype (or ``dtype``).

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.log_softmax(cr.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([-2.4076, -1.4076, -0.4076])
        >>> cr.tensor([0.0, -200.0]).log_softmax(dim=0)
        tensor([   0., -200.])
    """
    x = x.to(dtype) if dtype is not None else _float(x)
    if autocast_state() is not None:
        (x,) = cast_to_float32(x)
    if is_half(x._data.dtype):
        return in_float32(log_softmax, x, dim)
    return apply1(_log_softmax, x, normalize_dim(dim, x._data.ndim, "log_softmax"))
