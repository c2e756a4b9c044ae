"""Fused primitives for the basic layers: linear, embedding lookup, normalization.

Each is one row of the derivative table with a hand-written vjp, added for
speed (one node instead of five to ten, and no intermediate tensors):

* ``linear``: ``x @ W.T + b`` for x of shape (*, in_features).
* ``embedding``: rows of a table picked by integer indices; its gradient
  scatters back with ``embedding_dense_backward`` (a sparse-matrix product,
  ~4x faster than ``np.add.at`` on the shapes we measured).
* ``norm_affine``: normalize over some axes, then scale and shift
  (layer norm and group norm).
* ``batch_norm_train``: the same normalization that also returns the batch
  mean and biased variance (non-differentiable outputs) so the caller can
  update running statistics without a second pass.
* ``batch_norm_eval``: ``x * scale + shift`` per channel, from fixed
  (running) statistics.

Two paths in every vjp.  In a first-order backward (``ctx.create_graph`` is
False) the rule runs on raw arrays: the formula, nothing else.  With
``create_graph=True`` the same formula is written with chainrule Tensor ops
(recomputing normalization statistics from the saved input), so the
gradient is itself differentiable.  ``tests/nn/test_layers_gradcheck.py``
checks that both paths give the same first-order gradient.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import applyn, primitive
from ..autograd.jvp_rules import add_tangents, linear_jvp
from ..backend import array_module
from ..tensor import Tensor, _wrap
from .elementwise import _relu_vjp

# ---------------------------------------------------------------------------
# linear: x (*, in) @ W.T (in, out) + b (out)


def _rows(a, features: int):
    """``a`` (*, features) as a matrix (rows, features); -1 cannot be inferred when features is 0."""
    return a.reshape(-1, features) if features else a.reshape(math.prod(a.shape[:-1]), 0)


@primitive("linear", save=(0, 1))
def _linear(xp, x, weight, bias=None):
    in_features = x.shape[-1]
    x2 = x.reshape(-1, in_features) if in_features else _rows(x, 0)  # one GEMM over all leading dims
    out = backend.matmul(xp, x2, weight.T) if bias is None else backend.addmm(xp, bias, x2, weight.T)
    return out.reshape(x.shape[:-1] + (weight.shape[0],))


@_linear.defvjp
def _linear_vjp(ctx, g):
    x, weight = ctx.saved
    need = ctx.next
    has_bias = len(need) == 3
    out_features, in_features = weight._data.shape
    if not ctx.create_graph:
        gd = g._data.reshape(-1, out_features) if out_features else _rows(g._data, 0)
        xp = array_module(gd)
        gx = _wrap(backend.matmul(xp, gd, weight._data).reshape(x._data.shape)) if need[0] is not None else None
        gw = _wrap(backend.matmul(xp, gd.T, _rows(x._data, in_features))) if need[1] is not None else None
        gb = _wrap(_bias_grad(xp, gd)) if has_bias and need[2] is not None else None
    else:
        rows = math.prod(x._data.shape[:-1])
        g2 = g.reshape(rows, out_features)
        gx = linear(g, weight.mT) if need[0] is not None else None  # g @ W, through this same primitive
        gw = g2.mT @ x.reshape(rows, in_features) if need[1] is not None else None
        gb = g2.sum(dim=0) if has_bias and need[2] is not None else None
    return (gx, gw, gb) if has_bias else (gx, gw)


# from this many rows the bias gradient is a GEMV (``backend.sum_rows``): 1.5-3.5x faster than NumPy's column
# sum at 256-2048 rows, slower below (measured: 256x256 6.2 vs 9.5 us, 1024x128 10 vs 25 us, 64x256 4.3 vs 2.8 us)
_GEMV_ROWS = 256


def _bias_grad(xp, g2):
    """The column sums of the (rows, out_features) output gradient: the bias gradient of a linear layer."""
    if xp is np and g2.shape[0] >= _GEMV_ROWS:
        return backend.sum_rows(xp, g2)
    return g2.sum(axis=0)


@_linear.defjvp
def _linear_jvp(ctx, tx, tw, tb=None):
    x, weight = ctx.saved[0], ctx.saved[1]
    return add_tangents(
        applyn(_linear, (tx, weight)) if tx is not None else None,
        applyn(_linear, (x, tw)) if tw is not None else None,
        tb,
    )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``; shapes are checked by the caller (``nn.functional.linear``)."""
    return applyn(_linear, (x, weight) if bias is None else (x, weight, bias))


# linear_relu: relu(x @ W.T + b), a linear layer and the ReLU after it as one op (what ``nn.Sequential`` runs for
# an ``nn.Linear`` followed by an ``nn.ReLU``): the same kernels as the two ops, so the same bits, with one node
# and one output array fewer (the ReLU runs in place on the product) and the ReLU's mask applied to the gradient
# inside the linear's vjp.  Against the two ops, the deep workload's step (49 such pairs) took 0.97x the time,
# tiny's 0.96x, mlp's 0.99x (docs/architecture.md, "Layers and fused primitives").


@primitive("linear_relu", save=(0, 1), save_output=True)
def _linear_relu(xp, x, weight, bias=None):
    return backend.relu(xp, _linear.fwd(xp, x, weight, bias), inplace=True)


@_linear_relu.defvjp
def _linear_relu_vjp(ctx, g):
    return _linear_vjp(ctx, _relu_vjp(ctx, g))  # the ReLU's rule (its output is this op's), then the linear's


@_linear_relu.defjvp
def _linear_relu_jvp(ctx, tx, tw, tb=None):
    tangent = _linear_jvp(ctx, tx, tw, tb)
    return None if tangent is None else _relu_vjp(ctx, tangent)  # the ReLU's Jacobian is diagonal: its own adjoint


def linear_relu(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(x @ weight.T + bias)`` as one op; shapes are checked by the caller (``nn.Linear``)."""
    return applyn(_linear_relu, (x, weight) if bias is None else (x, weight, bias))


# ---------------------------------------------------------------------------
# embedding: weight (num, dim)[indices] -> (*indices.shape, dim)


@primitive("embedding")
def _embedding(xp, weight, indices, num, padding_idx, scale_by_freq):
    return weight.take(indices, axis=0)


@_embedding.defvjp
def _embedding_vjp(ctx, g):
    return embedding_dense_backward(g, *ctx.args)


_embedding.defjvp(linear_jvp(_embedding))


@primitive("embedding_dense_backward")
def _embedding_dense_backward(xp, grad, indices, num, padding_idx, scale_by_freq):
    dim = grad.shape[-1]
    flat_idx = indices.reshape(-1)
    rows = grad.reshape(-1, dim)
    out = _scatter_rows(xp, flat_idx, rows, num, scale_by_freq)
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


@_embedding_dense_backward.defvjp
def _embedding_dense_backward_vjp(ctx, gg):
    # the backward is linear in grad: its adjoint gathers rows again, zero at padding rows.
    # Not divided by the row counts: with scale_grad_by_freq the gradient that reaches the
    # table goes through the lookup's own (scaled) rule once more, which divides by them,
    # and each row's count is the same for all its lookups, so dividing once is the
    # derivative of the scaled gradient (PyTorch's embedding_dense_double_backward)
    indices, num, padding_idx, scale_by_freq = ctx.args
    out = applyn(_embedding, (gg,), indices, num, None, False)
    weight = _row_weights(array_module(gg._data), indices, num, padding_idx, False, gg._data.dtype)
    if weight is not None:
        out = out * _wrap(weight)
    return out


_embedding_dense_backward.defjvp(linear_jvp(_embedding_dense_backward))


def _row_weights(xp, indices, num, padding_idx, scale_by_freq, dtype):
    """Per-lookup factors (indices.shape + (1,)): 0 at padding_idx, 1/count with scale_by_freq; None if all 1."""
    if padding_idx is None and not scale_by_freq:
        return None
    weight = xp.ones(indices.shape, dtype=dtype)
    if scale_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=num)
        weight /= counts[indices]
    if padding_idx is not None:
        weight[indices == padding_idx] = 0
    return weight[..., None]


def _scatter_rows(xp, flat_idx, rows, num, scale_by_freq):
    """out[r] = sum of rows[i] with flat_idx[i] == r (divided by the count of r with scale_by_freq)."""
    n, dim = rows.shape
    if xp is not np:
        out = xp.zeros((num, dim), dtype=rows.dtype)
        if scale_by_freq:
            counts = xp.bincount(flat_idx, minlength=num)
            rows = rows / counts[flat_idx][:, None]
        backend.scatter_add(xp, out, flat_idx, rows)
        return out
    from scipy import sparse  # noqa: PLC0415 - import cost paid once

    # a (num, n) 0/1 matrix in CSR form built directly from the sorted indices, times rows
    counts = np.bincount(flat_idx, minlength=num)
    indptr = np.zeros(num + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    order = np.argsort(flat_idx, kind="stable")
    if scale_by_freq:
        values = (1.0 / counts[flat_idx[order]]).astype(rows.dtype)
    else:
        values = np.ones(n, dtype=rows.dtype)
    matrix = sparse.csr_array((values, order, indptr), shape=(num, n))
    out = matrix @ rows
    return np.ascontiguousarray(out, dtype=rows.dtype)


def embedding(weight: Tensor, indices, padding_idx: int | None = None, scale_grad_by_freq: bool = False) -> Tensor:
    """``weight[indices]`` for an integer array ``indices`` already checked to lie in range."""
    return applyn(_embedding, (weight,), indices, weight._data.shape[0], padding_idx, bool(scale_grad_by_freq))


def embedding_dense_backward(grad: Tensor, indices, num: int, padding_idx=None, scale_grad_by_freq=False) -> Tensor:
    """The (num, dim) gradient of an embedding table from the gradient of its lookups."""
    return applyn(_embedding_dense_backward, (grad,), indices, num, padding_idx, bool(scale_grad_by_freq))


# ---------------------------------------------------------------------------
# normalization: y = (x - mean) / sqrt(var + eps) * weight + bias
#
# ``spec`` = (axes, eps, view, param_axes, has_weight, has_bias, sums):
#   axes        the axes the statistics are taken over (biased variance)
#   view        the shape weight/bias are reshaped to so they broadcast against x
#   param_axes  the axes of x that weight's gradient is summed over
#   sums        einsum subscripts for the four reductions (see _spec)
# The gradient (with xhat = (x - mean) * rstd and n the number of elements in ``axes``):
#   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * weight
# Reductions of a product use einsum: one pass, no temporary array (2-3x faster than (a * b).sum()).


def _reduce(xp, subscripts, a, b=None):
    """einsum(subscripts, a[, b]) for the normalization reductions, with a fast path for batch norm.

    Summing over every axis but 1 of a 3-d or 4-d array is a matrix-vector product with a vector of
    ones once the array is seen as a (rows, C) matrix: free for channels-last memory (what conv
    produces), and (N, C, L) batched for channels-first.  numpy's einsum strides badly over these
    layouts (measured 3-6x slower).
    """
    out_letters = subscripts.split("->")[1]
    if xp is np and a.ndim in (3, 4) and out_letters == "b" and (b is None or b.shape == a.shape):
        prod = a if b is None else a * b
        channels = prod.shape[1]
        last = np.moveaxis(prod, 1, -1)
        if last.flags.c_contiguous:
            rows = last.reshape(-1, channels)
            return backend.sum_rows(np, rows)
        if prod.flags.c_contiguous:
            per_sample = prod.reshape(prod.shape[0], channels, -1)
            return backend.sum_last(np, per_sample).sum(axis=0)
    return xp.einsum(subscripts, a) if b is None else xp.einsum(subscripts, a, b)


def _stats_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


# --- batch norm on channels-last memory (what convolution produces) -----------------------------
# Seen as a (rows, C) matrix, per-channel sums are one matrix-vector product with ones, and a
# per-channel vector broadcast against it runs on a (rows / k, k * C) view with the vector tiled k
# times: numpy's inner loop is then long instead of C elements (measured 2-3x faster for C = 16).
# The elementwise passes tile to 16384 elements: a broadcast row of at least 8192 (NumPy's ufunc
# buffer size) runs 1.6x faster than one of 4096 (NumPy 2.4, 524288 float32: 68 against 111 us).
# The sums keep rows of 4096 (their order of addition, hence their bits, depends on the width).
_SUM_WIDTH = 4096
_PASS_WIDTH = 16384


def _channels_last_rows(x, axes):
    """The (rows, C) matrix view of x when the statistics are per channel and x is channels-last; else None."""
    if type(x) is not np.ndarray or x.ndim not in (3, 4) or axes != (0, *range(2, x.ndim)):
        return None
    last = np.moveaxis(x, 1, -1)
    if not last.flags.c_contiguous:
        return None
    return last.reshape(-1, x.shape[1])


def _tiling(rows, channels, width=_SUM_WIDTH):
    """k dividing rows with k * channels <= width (at least 1)."""
    k = max(1, min(rows, width // max(channels, 1)))
    while rows % k:
        k -= 1
    return k


def _per_channel(vec, k):
    return np.tile(vec, k)


def _row_dot(a, b, k):
    """Per-channel sum over rows of a * b for (rows, C) matrices, read through their (rows / k, k * C) views.

    einsum multiplies and sums in one pass without a temporary; the wide view gives it a long inner loop
    (measured 2x faster than a product followed by a matrix-vector sum at 32768 x 16).
    """
    rows, channels = a.shape
    wide = (rows // k, k * channels)
    return np.einsum("ij,ij->j", a.reshape(wide), b.reshape(wide)).reshape(k, channels).sum(axis=0)


def _cl_forward(x, m, params, spec):
    """_norm_forward for channels-last x, on its (rows, C) matrix view m; the results keep x's layout.

    Keeps the centered input ``x - mean`` for backward instead of xhat (one pass fewer: the output is
    ``centered * (weight * rstd) + bias``, and backward folds rstd into per-channel factors).
    """
    _, eps, _, _, has_weight, has_bias, _ = spec
    rows, channels = m.shape
    k = _tiling(rows, channels, _PASS_WIDTH)
    mean = backend.sum_rows(np, m) / rows
    centered = m.reshape(rows // k, k * channels) - _per_channel(mean, k)
    var = _row_dot(centered.reshape(rows, channels), centered.reshape(rows, channels), _tiling(rows, channels)) / rows
    rstd = 1.0 / np.sqrt(var + eps)
    out = centered * _per_channel(params[0] * rstd if has_weight else rstd, k)
    if has_bias:
        out += _per_channel(params[-1], k)
    shape_cl = np.moveaxis(x, 1, -1).shape
    to_x = lambda a: np.moveaxis(a.reshape(shape_cl), -1, 1)  # noqa: E731
    kept = _stats_shape(x.shape, spec[0])
    return to_x(out), mean.reshape(kept), var.reshape(kept), rstd.reshape(kept), to_x(centered)


def _norm_forward(xp, x, params, spec):
    """(out, mean, var, rstd, kept, centered): ``kept`` is what backward reads, xhat, or ``x - mean``
    where ``centered`` (the channels-last batch-norm path)."""
    m = _channels_last_rows(x, spec[0])
    if m is not None:
        return (*_cl_forward(x, m, params, spec), True)
    axes, eps, view, _, has_weight, has_bias, (stat_sum, stat_dot, _, _) = spec
    kept = _stats_shape(x.shape, axes)
    count = x.size // max(1, _prod(kept))
    mean = _reduce(xp, stat_sum, x) / count
    xhat = x - mean.reshape(kept)
    var = _reduce(xp, stat_dot, xhat, xhat) / count
    rstd = (1.0 / xp.sqrt(var + eps)).reshape(kept)
    xhat *= rstd
    weight = params[0].reshape(view) if has_weight else None
    bias = params[-1].reshape(view) if has_bias else None
    if weight is not None:
        out = xhat * weight
        if bias is not None:
            out += bias
    elif bias is not None:
        out = xhat + bias
    else:
        out = xhat.copy()  # xhat is kept for backward: never hand it out
    return out, mean, var, rstd, xhat, False


def _prod(shape):
    total = 1
    for s in shape:
        total *= s
    return total


_ONEDNN = "onednn"  # the third item of norm_affine's saved extra when its forward ran on oneDNN


def _layer_norm_shape(x, spec):
    """(rows, cols) when ``spec`` is a layer norm of x over its trailing axes (a weight and a bias of their shape,
    either, or neither) that oneDNN can take, else None."""
    axes, _, view, _, has_weight, has_bias, _ = spec
    n = len(axes)
    if not n or axes != tuple(range(x.ndim - n, x.ndim)):
        return None
    if (has_weight or has_bias) and tuple(view) != x.shape[x.ndim - n :]:
        return None
    cols = math.prod(x.shape[x.ndim - n :])
    return (x.size // cols, cols) if cols and _dnnl.eltwise_operands(x) is not None else None


def _layer_norm_onednn(x, params, spec, shape):
    """norm_affine's forward on oneDNN's layer normalization (one pass, on OpenMP's threads), or None."""
    rows, cols = shape
    eps = spec[1]
    has_weight, has_bias = spec[4], spec[5]
    weight = params[0] if has_weight else None
    bias = params[1 if has_weight else 0] if has_bias else None
    return threads.omp_call(
        "eltwise",
        x.size,
        lambda n: _dnnl.layer_norm(x.reshape(rows, cols), weight, bias, eps, n),
        lambda counts: _dnnl.layer_norm_prepare(rows, cols, eps, (has_weight, has_bias), False, counts),
    )


@primitive("norm_affine", save=True, extra=True)
def _norm_affine(xp, x, *params_and_spec):
    *params, spec = params_and_spec
    shape = _layer_norm_shape(x, spec) if type(x) is np.ndarray else None
    if shape is not None:
        result = _layer_norm_onednn(x, params, spec, shape)
        if result is not None:
            out, mean, var = result
            return out.reshape(x.shape), (mean, var, _ONEDNN)
    out, _, _, rstd, kept, centered = _norm_forward(xp, x, params, spec)
    return out, (kept, rstd, centered)


def _layer_norm_vjp_onednn(gd, x, weight, bias, spec, mean, var):
    """(gx, gw, gb) arrays of a norm_affine whose forward ran on oneDNN, from oneDNN's backward; None where oneDNN
    does not take it now (the caller's NumPy formulas then run from the statistics it kept)."""
    rows, cols = mean.size, x.size // mean.size
    eps = spec[1]
    operands = _dnnl.eltwise_operands(x, gd)
    if operands is None:
        return None
    x2, g2 = (a.reshape(rows, cols) for a in operands)
    w = weight._data.reshape(-1) if weight is not None else None
    b = bias._data.reshape(-1) if bias is not None else None
    result = threads.omp_call(
        "eltwise",
        x.size,
        lambda n: _dnnl.layer_norm_backward(x2, g2, mean, var, w, b, eps, n),
        lambda counts: _dnnl.layer_norm_prepare(rows, cols, eps, (w is not None, b is not None), True, counts),
    )
    if result is None:
        return None
    gx, gw, gb = result
    shape = (weight if weight is not None else bias)._data.shape if gw is not None or gb is not None else None
    return (
        gx.reshape(x.shape),
        (gw.reshape(shape) if gw is not None else None),
        (gb.reshape(shape) if gb is not None else None),
    )


@primitive("batch_norm_train", save=True, extra=True, multi=True, nondiff=(1, 2))
def _batch_norm_train(xp, x, *params_and_spec):
    *params, spec = params_and_spec
    out, mean, var, rstd, kept, centered = _norm_forward(xp, x, params, spec)
    return (out, mean.reshape(-1), var.reshape(-1)), (kept, rstd, centered)


def _norm_vjp(ctx, g, *_stats_grads):
    (spec,) = ctx.args
    axes, eps, view, param_axes, has_weight, has_bias, sums = spec
    x = ctx.saved[0]
    weight = ctx.saved[1] if has_weight else None
    need = ctx.next
    need_weight = has_weight and need[1] is not None
    need_bias = has_bias and need[-1] is not None
    if not ctx.create_graph:
        gx, gw, gb = _norm_vjp_arrays(ctx, g._data, x._data, weight, spec, need[0] is not None, need_weight, need_bias)
    else:
        # recompute the statistics from x with recorded ops, so the result differentiates again
        centered = x - x.mean(dim=axes, keepdim=True)
        rstd = ((centered * centered).mean(dim=axes, keepdim=True) + eps).rsqrt()
        xhat = centered * rstd
        gx = gw = gb = None
        if need_weight:
            gw = (g * xhat).sum(dim=param_axes).reshape(weight._data.shape)
        if need_bias:
            gb = g.sum(dim=param_axes).reshape(ctx.saved[-1]._data.shape)
        if need[0] is not None:
            gxhat = g * weight.reshape(view) if has_weight else g
            inner = gxhat - gxhat.mean(dim=axes, keepdim=True) - xhat * (gxhat * xhat).mean(dim=axes, keepdim=True)
            gx = inner * rstd
    grads = [gx]
    if has_weight:
        grads.append(gw)
    if has_bias:
        grads.append(gb)
    return tuple(grads)


def _cl_vjp(gd, centered, rstd, weight, spec, need_input, need_weight, need_bias, bias_shape):
    """_norm_vjp_arrays for the channels-last path (see _cl_forward), from the centered input.

    With d = x - mean, xhat = d * rstd, S_g and S_gd the per-channel sums of g and g * d over n rows:
    dweight = rstd * S_gd, dbias = S_g, and
    dx = weight * rstd * (g - S_g / n - xhat * sum(g * xhat) / n) = a * (d * b + g) + c
    with a = weight * rstd, b = -rstd**2 * S_gd / n, c = -a * S_g / n.
    """
    has_weight = spec[4]
    channels = centered.shape[1]
    dm = np.moveaxis(centered, 1, -1).reshape(-1, channels)
    rows = dm.shape[0]
    gcl = np.moveaxis(gd, 1, -1)
    gm = (gcl if gcl.flags.c_contiguous else np.ascontiguousarray(gcl)).reshape(rows, channels)
    k = _tiling(rows, channels, _PASS_WIDTH)
    rstd = rstd.reshape(-1)
    sum_g = backend.sum_rows(np, gm) if need_bias or need_input else None
    sum_gd = _row_dot(gm, dm, _tiling(rows, channels)) if need_weight or need_input else None
    gx = gw = gb = None
    if need_weight:
        gw = _wrap((rstd * sum_gd).reshape(weight._data.shape))
    if need_bias:
        gb = _wrap(sum_g.reshape(bias_shape))
    if need_input:
        wide = (rows // k, k * channels)
        a = weight._data.reshape(-1) * rstd if has_weight else rstd
        out = dm.reshape(wide) * _per_channel(-rstd * rstd * sum_gd / rows, k)
        out += gm.reshape(wide)
        out *= _per_channel(a, k)
        out -= _per_channel(a * sum_g / rows, k)
        gx = _wrap(np.moveaxis(out.reshape(np.moveaxis(centered, 1, -1).shape), -1, 1))
    return gx, gw, gb


def _norm_vjp_arrays(ctx, gd, x, weight, spec, need_input, need_weight, need_bias):
    """The first-order gradients on raw arrays (Tensors out, or None)."""
    axes, eps, view, _, has_weight, _, (stat_sum, stat_dot, param_sum, param_dot) = spec
    xp = array_module(gd)
    xhat, rstd, centered = ctx.extra
    if centered is _ONEDNN:  # the forward ran on oneDNN: ``xhat, rstd`` hold its mean and variance
        mean, var = xhat, rstd
        grads = _layer_norm_vjp_onednn(gd, x, weight, ctx.saved[-1] if spec[5] else None, spec, mean, var)
        if grads is not None:
            gx, gw, gb = grads
            return (
                _wrap(gx) if need_input else None,
                _wrap(gw) if need_weight else None,
                _wrap(gb) if need_bias else None,
            )
        # oneDNN does not take it now: the formulas below, from xhat and rstd rebuilt from its statistics
        kept = _stats_shape(x.shape, axes)
        rstd = (1.0 / np.sqrt(var + eps)).reshape(kept)
        xhat = (x - mean.reshape(kept)) * rstd
        centered = False
    if centered:  # the channels-last batch-norm path: ``xhat`` holds x - mean
        bias_shape = ctx.saved[-1]._data.shape if need_bias else None
        return _cl_vjp(gd, xhat, rstd, weight, spec, need_input, need_weight, need_bias, bias_shape)
    gx = gw = gb = None
    if need_weight:
        gw = _wrap(_reduce(xp, param_dot, gd, xhat).reshape(weight._data.shape))
    if need_bias:
        gb = _wrap(_reduce(xp, param_sum, gd).reshape(ctx.saved[-1]._data.shape))
    if need_input:
        kept = rstd.shape
        count = gd.size // max(1, _prod(kept))
        gxhat = gd * weight._data.reshape(view) if has_weight else gd
        mean_g = (_reduce(xp, stat_sum, gxhat) / count).reshape(kept)
        mean_gx = (_reduce(xp, stat_dot, gxhat, xhat) / count).reshape(kept)
        # rstd * (gxhat - mean_g - xhat * mean_gx), in place on one new array
        out = xhat * (-mean_gx)
        out += gxhat
        out -= mean_g
        out *= rstd
        gx = _wrap(out)
    return gx, gw, gb


_norm_affine.defvjp(_norm_vjp)
_batch_norm_train.defvjp(_norm_vjp)


def _norm_jvp(ctx, tx, *tparams):
    """d out = w * rstd * (dc - xhat * mean(xhat * dc)) + xhat * dw + db, with dc = dx - mean(dx)."""
    (spec,) = ctx.args
    axes, eps, view, _, has_weight, has_bias, _ = spec
    x = ctx.saved[0]
    weight = ctx.saved[1] if has_weight else None
    tw = tparams[0] if has_weight else None
    tb = tparams[-1] if has_bias else None
    centered = x - x.mean(dim=axes, keepdim=True)
    rstd = ((centered * centered).mean(dim=axes, keepdim=True) + eps).rsqrt()
    xhat = centered * rstd
    terms = []
    if tx is not None:
        tc = tx - tx.mean(dim=axes, keepdim=True)
        txhat = (tc - xhat * (xhat * tc).mean(dim=axes, keepdim=True)) * rstd
        terms.append(txhat * weight.reshape(view) if has_weight else txhat)
    if tw is not None:
        terms.append(xhat * tw.reshape(view))
    if tb is not None:
        terms.append(tb.reshape(view))
    out = add_tangents(*terms)
    return (out, None, None) if ctx.prim.multi else out  # batch statistics: no tangent (nondiff outputs)


_norm_affine.defjvp(_norm_jvp)
_batch_norm_train.defjvp(_norm_jvp)


def _spec(x: Tensor, axes, eps, view, weight, bias):
    layout = _layout(x._data.ndim, tuple(axes), tuple(view))
    return (tuple(axes), float(eps), tuple(view), layout[0], weight is not None, bias is not None, layout[1])


@functools.lru_cache(maxsize=256)
def _layout(ndim: int, axes: tuple, view: tuple):
    """(param_axes, einsum subscripts) for x of ``ndim`` dims, statistics over ``axes``, parameters of ``view``."""
    padded = (1,) * (ndim - len(view)) + view
    param_axes = tuple(i for i in range(ndim) if padded[i] == 1)
    letters = "abcdefghijklmnopqrstuvwxyz"[:ndim]
    stat_kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    param_kept = "".join(c for i, c in enumerate(letters) if i not in param_axes)
    sums = (
        f"{letters}->{stat_kept}",
        f"{letters},{letters}->{stat_kept}",
        f"{letters}->{param_kept}",
        f"{letters},{letters}->{param_kept}",
    )
    return param_axes, sums


def _params(x, weight, bias):
    return [x] + [p for p in (weight, bias) if p is not None]


def norm_affine(x: Tensor, axes, eps: float, view, weight=None, bias=None) -> Tensor:
    """Normalize x over ``axes`` (biased variance), then ``* weight.reshape(view) + bias.reshape(view)``."""
    return applyn(_norm_affine, _params(x, weight, bias), _spec(x, axes, eps, view, weight, bias))


def batch_norm_train(x: Tensor, axes, eps: float, view, weight=None, bias=None):
    """As :func:`norm_affine`, returning ``(out, batch_mean, biased_batch_var)``; the statistics are flat."""
    return applyn(_batch_norm_train, _params(x, weight, bias), _spec(x, axes, eps, view, weight, bias))


# ---------------------------------------------------------------------------
# batch norm with fixed statistics (eval mode): y = x * scale + shift per channel, where
#   scale = weight * inv_std,  shift = bias + weight * offset,  inv_std = 1 / sqrt(running_var + eps),
#   offset = -running_mean * inv_std  (inv_std and offset are constants: arrays computed at forward time)


@primitive("batch_norm_eval", save=True)
def _batch_norm_eval(xp, x, *params_and_spec):
    *params, spec = params_and_spec
    view, _, has_weight, has_bias, _, inv_std, offset = spec
    scale, shift = inv_std, offset
    if has_weight:
        scale = params[0] * inv_std
        shift = params[0] * offset
    if has_bias:
        shift = shift + params[-1]
    out = x * scale.reshape(view)
    out += shift.reshape(view)
    return out


@_batch_norm_eval.defvjp
def _batch_norm_eval_vjp(ctx, g):
    (spec,) = ctx.args
    view, param_axes, has_weight, has_bias, (param_sum, param_dot), inv_std, offset = spec
    x = ctx.saved[0]
    weight = ctx.saved[1] if has_weight else None
    need = ctx.next
    gx = gw = gb = None
    if not ctx.create_graph:
        gd = g._data
        xp = array_module(gd)
        channels = inv_std.shape  # a size-1 channel axis may be summed with the others: reshape back
        total = xp.einsum(param_sum, gd).reshape(channels) if (has_weight and need[1] is not None) or has_bias else None
        if need[0] is not None:
            scale = weight._data * inv_std if has_weight else inv_std
            gx = _wrap(gd * scale.reshape(view))
        if has_weight and need[1] is not None:
            # sum(g * (x * inv_std + offset)) per channel
            gw = _wrap(xp.einsum(param_dot, gd, x._data).reshape(channels) * inv_std + total * offset)
        if has_bias and need[-1] is not None:
            gb = _wrap(total)
    else:
        inv_view, offset_view = _wrap(inv_std.reshape(view)), _wrap(offset.reshape(view))
        if need[0] is not None:
            gx = g * (weight.reshape(view) * inv_view) if has_weight else g * inv_view
        if has_weight and need[1] is not None:
            gw = (g * (x * inv_view + offset_view)).sum(dim=param_axes).reshape(inv_std.shape)
        if has_bias and need[-1] is not None:
            gb = g.sum(dim=param_axes).reshape(inv_std.shape)
    grads = [gx]
    if has_weight:
        grads.append(gw)
    if has_bias:
        grads.append(gb)
    return tuple(grads)


@_batch_norm_eval.defjvp
def _batch_norm_eval_jvp(ctx, tx, *tparams):
    (spec,) = ctx.args
    view, _, has_weight, has_bias, _, inv_std, offset = spec
    x = ctx.saved[0]
    inv_view, offset_view = _wrap(inv_std.reshape(view)), _wrap(offset.reshape(view))
    tw = tparams[0] if has_weight else None
    tb = tparams[-1] if has_bias else None
    terms = []
    if tx is not None:
        terms.append(tx * (ctx.saved[1].reshape(view) * inv_view) if has_weight else tx * inv_view)
    if tw is not None:
        terms.append(tw.reshape(view) * (x * inv_view + offset_view))
    if tb is not None:
        terms.append(tb.reshape(view))
    return add_tangents(*terms)


def batch_norm_eval(x: Tensor, running_mean, running_var, eps: float, view, weight=None, bias=None) -> Tensor:
    """Normalize x (N, C, *) with the fixed per-channel statistics ``running_mean``/``running_var`` (arrays)."""
    xp = array_module(x._data)
    dtype = x._data.dtype
    inv_std = (1.0 / xp.sqrt(running_var.astype(dtype, copy=False) + eps)).astype(dtype, copy=False)
    offset = -(running_mean.astype(dtype, copy=False) * inv_std)
    param_axes, sums = _layout(x._data.ndim, (), tuple(view))
    spec = (tuple(view), param_axes, weight is not None, bias is not None, sums[2:], inv_std, offset)
    return applyn(_batch_norm_eval, _params(x, weight, bias), spec)
