"""Batching rules: how each primitive carries a batch dimension (the table vmap reads).

A rule is ``rule(prim, values, bdims, args, size) -> (out, out_bdim)``:
``values`` are the primitive's tensor inputs with the batch dimension still in
them, ``bdims[i]`` where it is (None: input ``i`` is the same for every
sample), ``args`` the primitive's other arguments as the op layer passed them
(shapes and axes of *one* sample), ``size`` the batch size.  The rule applies
primitives to the whole batch at once and says where the batch dimension is in
the result (a tuple for primitives with several outputs).  The primitives it
applies are recorded by autograd as usual, so the reverse pass of a batched
computation is the reverse pass of those primitives: ``vmap(grad(f))`` runs a
batched backward without rules of its own.

Families share one rule each: elementwise ops broadcast (the batch moves to
the front and each batched input is padded to the output's rank), reductions
and shape ops shift their axes by one, convolutions fold the batch into N
(batched input) or into the groups (batched weights: per-sample weight
gradients are one grouped convolution, as torch.func does), matmul/linear fold
it into the rows of one GEMM, recurrent layers with shared weights into N.
The embedding gradients declare the loop fallback (``LOOP_FALLBACK``: one
call per sample, stacked), as do recurrent layers with per-sample weights.

The table is ``RULES`` (primitive name -> rule) and ``LOOPED``; ``rule_for``
attaches a rule to its primitive (``Primitive.batch``) on first use, so
primitives registered after this module loads are covered too, and
tests/func/test_batching_rules.py fails for a primitive with neither.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import graph
from ..autograd.graph import PRIMITIVES
from ..backend import array_module
from ._batched_array import _batch_position, _index_tuple
from ._vmap import (
    LOOPED,
    RULES,
    BatchedArray,
    VmapError,
    apply,
    expand_batch,
    loop_fallback,
    move,
    physical_raw,
    rule_level,
)

P = PRIMITIVES


def _front(v, d):
    return v if d is None or d == 0 else move(v, d, 0)


def _fronted(values, bdims, size, expand=False):
    """Every input with its batch at the front; unbatched ones expanded too when ``expand``."""
    out = []
    for v, d in zip(values, bdims):
        if d is None:
            out.append(expand_batch(v, size) if expand else v)
        else:
            out.append(_front(v, d))
    return out


def _reshape(v, shape):
    return graph.apply1(P["reshape"], v, tuple(shape), tuple(v.shape))


def _to_rank(v, rank):
    """A batch-first v padded with size-1 dims after the batch to ``rank`` logical dims."""
    missing = rank - (v.ndim - 1)
    if missing <= 0:
        return v
    shape = tuple(v.shape)
    return _reshape(v, shape[:1] + (1,) * missing + shape[1:])


def _axis(a, nd):
    """A logical axis (or tuple of axes, or None for all) as the physical axis with the batch in front."""
    if a is None:
        return tuple(range(1, nd + 1))
    if isinstance(a, (tuple, list)):
        return tuple(int(x) % max(nd, 1) + 1 for x in a)
    return int(a) % max(nd, 1) + 1


def _logical_ndim(v, d):
    return v.ndim - (d is not None)


def rule(*names):
    def register(fn):
        for name in names:
            RULES[name] = fn
        return fn

    return register


# --------------------------------------------------------------------------- elementwise

UNARY = (
    "neg abs exp expm1 log log1p sqrt sin cos tanh sigmoid erf relu silu sign floor ceil trunc round leaky_relu "
    "hardtanh elu gelu softplus clamp cast to_device clone contiguous add_scalar rsub_scalar mul_scalar div_scalar "
    "rdiv_scalar pow_scalar rpow_scalar"
).split()

BROADCAST = (
    "add sub mul div pow maximum minimum remainder fmod floor_divide where clamp_tensor select masked_fill "
    "binary_cross_entropy binary_cross_entropy_with_logits"
).split()


@rule(*UNARY)
def _unary(prim, values, bdims, args, size):
    """One input, elementwise, scalar arguments: the batch stays where it is."""
    return apply(prim, values, *args), bdims[0]


@rule(*BROADCAST)
def _broadcast(prim, values, bdims, args, size):
    """Elementwise with broadcasting: batch to the front, each batched input padded to the output's rank.

    Unbatched inputs and array arguments (masks, conditions, pos_weight) broadcast from the right as they did.
    """
    ranks = [_logical_ndim(v, d) for v, d in zip(values, bdims)]
    ranks += [a.ndim for a in args if hasattr(a, "ndim") and hasattr(a, "shape")]
    rank = max(ranks)
    new = [v if d is None else _to_rank(_front(v, d), rank) for v, d in zip(values, bdims)]
    level = rule_level()
    if any(type(a) is BatchedArray and a.level == level for a in args):  # a batched mask or condition
        args = tuple(physical_raw(a, level, rank) if type(a) is BatchedArray and a.level == level else a for a in args)
        if all(d is None for d in bdims):  # only the argument is batched: the first input follows it
            new[0] = _to_rank(expand_batch(new[0], size), rank)
    return apply(prim, new, *args), 0


# --------------------------------------------------------------------------- reductions


@rule("sum", "mean")
def _sum_like(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    axis, keepdims, _in_shape = args
    return apply(prim, [x], _axis(axis, x.ndim - 1), keepdims, tuple(x.shape)), 0


@rule("amax", "amin", "logsumexp", "prod", "norm2", "max_dim", "min_dim")
def _reduce(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    axis, keepdims = args
    return apply(prim, [x], _axis(axis, x.ndim - 1), keepdims), 0


@rule("cumsum", "cumprod", "logcumsumexp", "softmax", "log_softmax")
def _along(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    (axis,) = args
    if axis is None:
        raise VmapError(f"vmap: {prim.name} over all dimensions (axis None) is not batched; give a dim")
    return apply(prim, [x], _axis(axis, x.ndim - 1)), 0


# --------------------------------------------------------------------------- shapes


@rule("reshape")
def _reshape_rule(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    shape, _in_shape = args
    return apply(prim, [x], (size, *shape), tuple(x.shape)), 0


@rule("permute")
def _permute(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    (axes,) = args
    nd = x.ndim - 1
    return apply(prim, [x], (0, *(int(a) % max(nd, 1) + 1 for a in axes))), 0


@rule("expand")
def _expand(prim, values, bdims, args, size):
    (shape,) = args
    x = _to_rank(_front(values[0], bdims[0]), len(shape))
    return apply(prim, [x], (size, *shape)), 0


@rule("flip")
def _flip(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    (axes,) = args
    return apply(prim, [x], _axis(axes, x.ndim - 1)), 0


@rule("split")
def _split(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    axis, sizes = args
    return apply(prim, [x], _axis(axis, x.ndim - 1), sizes), 0


@rule("pad")
def _pad(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    widths, value = args
    return apply(prim, [x], ((0, 0), *widths), value), 0


@rule("cat")
def _cat(prim, values, bdims, args, size):
    axis, sizes = args
    nd = _logical_ndim(values[0], bdims[0])
    return apply(prim, _fronted(values, bdims, size, expand=True), _axis(axis, nd), sizes), 0


@rule("stack")
def _stack(prim, values, bdims, args, size):
    (axis,) = args
    nd = _logical_ndim(values[0], bdims[0]) + 1
    return apply(prim, _fronted(values, bdims, size, expand=True), _axis(axis, nd)), 0


# --------------------------------------------------------------------------- indexing


@rule("getitem", "index")
def _getitem(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    index, _in_shape = args
    full = (slice(None), *_index_tuple(index))
    return apply(prim, [x], full, tuple(x.shape)), _batch_position(index)


@rule("index_scatter")
def _index_scatter(prim, values, bdims, args, size):
    index, in_shape, basic = args
    g = move(values[0], bdims[0], _batch_position(index))
    return apply(prim, [g], (slice(None), *_index_tuple(index)), (size, *in_shape), basic), 0


def _xp_of(index):
    return array_module(index.value._data if type(index) is BatchedArray else index)


def _batched_index(xp, index, size):
    """An index array for the whole batch: a batched one's own samples, an unbatched one repeated."""
    if type(index) is BatchedArray:
        level = rule_level()
        if index.level != level:
            raise VmapError("vmap: an index array batched at another vmap level")
        return physical_raw(index, level, index.ndim)
    return xp.ascontiguousarray(xp.broadcast_to(index, (size, *index.shape)))


@rule("gather")
def _gather(prim, values, bdims, args, size):
    (x,) = _fronted(values, bdims, size, expand=True)  # (expanded when only the index is batched)
    axis, index, _in_shape = args
    index = _batched_index(_xp_of(index), index, size)
    return apply(prim, [x], _axis(axis, x.ndim - 1), index, tuple(x.shape)), 0


@rule("scatter_add")
def _scatter_add(prim, values, bdims, args, size):
    x, src = _fronted(values, bdims, size, expand=True)
    axis, index, src_shape = args
    index = _batched_index(_xp_of(index), index, size)
    return apply(prim, [x, src], _axis(axis, x.ndim - 1), index, (size, *src_shape)), 0


@rule("index_select")
def _index_select(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    axis, index, _in_shape = args
    return apply(prim, [x], _axis(axis, x.ndim - 1), index, tuple(x.shape)), 0


@rule("index_add")
def _index_add(prim, values, bdims, args, size):
    x, src = _fronted(values, bdims, size, expand=True)
    axis, index, alpha = args
    return apply(prim, [x, src], _axis(axis, x.ndim - 1), index, alpha), 0


# --------------------------------------------------------------------------- linear algebra


@rule("matmul")
def _matmul(prim, values, bdims, args, size):
    (a, b), (da, db) = values, bdims
    nda, ndb = args
    a = _front(a, da)
    b = _front(b, db)
    if nda == 1:  # (k) -> (1, k): a vector is a one-row matrix, then the row is dropped again
        a = a.unsqueeze(-2)
    if ndb == 1:
        b = b.unsqueeze(-1)
    ra, rb = max(nda, 2), max(ndb, 2)
    if db is None and rb == 2:
        # batched (B, ..., n, k) @ (k, m): one GEMM over all the rows
        shape = tuple(a.shape)
        out = _reshape(_reshape(a, (-1, shape[-1])) @ b, (*shape[:-1], b.shape[-1]))
    else:
        rank = max(ra, rb)
        if da is not None:
            a = _to_rank(a, rank)
        if db is not None:
            b = _to_rank(b, rank)
        out = a @ b
    if nda == 1:
        out = out.squeeze(-2)
    if ndb == 1:
        out = out.squeeze(-1)
    return out, 0


@rule("einsum")
def _einsum(prim, values, bdims, args, size):
    inputs, output = args[0]
    used = set("".join(inputs) + output)
    letter = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    new_inputs = [s if d is None else letter + s for s, d in zip(inputs, bdims)]
    operands = [_front(v, d) for v, d in zip(values, bdims)]
    return apply(prim, operands, (tuple(new_inputs), letter + output)), 0


_FEW_ROWS = 8


@rule("linear")
def _linear(prim, values, bdims, args, size):
    x, w = values[0], values[1]
    b = values[2] if len(values) == 3 else None
    dx, dw = bdims[0], bdims[1]
    dbias = bdims[2] if b is not None else None
    if dw is None and dbias is None:
        if dx == x.ndim - 1:  # the batch is where the features must be
            x, dx = move(x, dx, 0), 0
        return apply(prim, [x, *values[1:]], *args), dx
    x = _front(x, dx)
    if dw is None:  # only the bias is batched
        out = apply(prim, [x, w])
        lead = out.ndim - (1 if dx is None else 2)
    else:  # per-sample weights (B, out, in): one batched GEMM
        lead_shape = tuple(x.shape)[1:-1] if dx is not None else tuple(x.shape)[:-1]
        rows = _reshape(x, (size, -1, x.shape[-1])) if dx is not None else _reshape(x, (-1, x.shape[-1]))
        wf = move(w, dw, 0)
        if rows.shape[-2] <= _FEW_ROWS:
            # a few rows per sample (per-sample gradients: one row): as einsum, the weight gradient is a batch
            # of outer products, which a batched GEMM with an inner size of 1 computes about 4x slower
            spec = ("bmi", "boi") if dx is not None else ("mi", "boi")
            out = graph.applyn(P["einsum"], [rows, wf], (spec, "bmo"))
        else:
            out = rows @ wf.transpose(1, 2)
        out = _reshape(out, (size, *lead_shape, wf.shape[1]))
        lead = len(lead_shape)
        if dx is None:
            dx = 0
    if b is not None:
        if dbias is None:
            out = out + b
        else:
            bias = _front(b, dbias)
            out = (out if dx is not None else expand_batch(out, size)) + _reshape(
                bias, (size,) + (1,) * lead + (bias.shape[-1],)
            )
    return out, 0


@rule("linear_relu")
def _linear_relu(prim, values, bdims, args, size):
    """The linear rule, then the ReLU: the fused op itself where only the input is batched (the linear rule applies
    ``prim``), else the linear's batched products and a ReLU after them."""
    if bdims[1] is None and (len(values) < 3 or bdims[2] is None):
        return _linear(prim, values, bdims, args, size)
    out, bdim = _linear(P["linear"], values, bdims, args, size)
    return apply(P["relu"], [out]), bdim


# --------------------------------------------------------------------------- convolution


def _fold_n(v):
    """(B, N, ...) -> (B * N, ...)."""
    shape = tuple(v.shape)
    return _reshape(v, (shape[0] * shape[1], *shape[2:]))


def _into_channels(v, size):
    """Batch-first (B, N, C, ...) -> (N, B * C, ...): the batch becomes channel groups."""
    v = move(v, 0, 1)
    shape = tuple(v.shape)
    return _reshape(v, (shape[0], shape[1] * shape[2], *shape[3:]))


def _out_of_channels(v, size):
    """(N, B * O, ...) -> (N, B, O, ...), batch at dim 1."""
    shape = tuple(v.shape)
    return _reshape(v, (shape[0], size, shape[1] // size, *shape[2:]))


def _weights_as_groups(w, dw, size):
    w = expand_batch(w, size) if dw is None else _front(w, dw)
    return _reshape(w, (size * w.shape[1], *tuple(w.shape)[2:]))


@rule("conv")
def _conv(prim, values, bdims, args, size):
    (geom,) = args
    x, w = values[0], values[1]
    b = values[2] if len(values) == 3 else None
    dx, dw = bdims[0], bdims[1]
    dbias = bdims[2] if b is not None else None
    if dw is None:
        # shared weights: the batch joins N (one convolution of B * N images)
        if dx is None:
            out, dout = apply(prim, [x, w], geom), None
        else:
            xf = _front(x, dx)
            n = xf.shape[1]
            folded = apply(prim, [_fold_n(xf), w] + ([b] if b is not None and dbias is None else []), geom)
            out, dout = _reshape(folded, (size, n, *tuple(folded.shape)[1:])), 0
            if dbias is None:
                return out, 0
        if b is not None:
            bias = _front(b, dbias)  # (B, O)
            nd = len(geom.kernel)
            if dout is None:
                out, dout = expand_batch(out, size), 0
            out = out + _reshape(bias, (size, 1, bias.shape[-1]) + (1,) * nd)
        return out, dout
    # per-sample weights: B groups (times the layer's own groups) over the channels, the bias (B * O,) fused
    xs = _front(x, dx) if dx is not None else expand_batch(x, size)
    inputs = [_into_channels(xs, size), _weights_as_groups(w, dw, size)]
    if b is not None:
        bias = _front(b, dbias) if dbias is not None else expand_batch(b, size)
        inputs.append(_reshape(bias, (size * bias.shape[-1],)))
    folded = apply(prim, inputs, geom._replace(groups=geom.groups * size))
    return _out_of_channels(folded, size), 1  # (N, B, O, ...)


@rule("conv_input_grad")
def _conv_input_grad(prim, values, bdims, args, size):
    geom = args[0]
    (g, w), (dg, dw) = values, bdims
    if dw is None:
        gf = _front(g, dg)
        n = gf.shape[1]
        out = apply(prim, [_fold_n(gf), w], geom, None)
        return _reshape(out, (size, n, *tuple(out.shape)[1:])), 0
    gs = _front(g, dg) if dg is not None else expand_batch(g, size)
    folded = apply(
        prim,
        [_into_channels(gs, size), _weights_as_groups(w, dw, size)],
        geom._replace(groups=geom.groups * size),
        None,
    )
    return _out_of_channels(folded, size), 1


@rule("conv_weight_grad")
def _conv_weight_grad(prim, values, bdims, args, size):
    geom = args[0]
    x, g = _fronted(values, bdims, size, expand=True)
    out = apply(
        prim, [_into_channels(x, size), _into_channels(g, size)], geom._replace(groups=geom.groups * size), None, None
    )
    return _reshape(out, (size, out.shape[0] // size, *tuple(out.shape)[1:])), 0


# --------------------------------------------------------------------------- pooling (trailing dims; any leading)


@rule("max_pool", "avg_pool", "avg_pool_backward")
def _pool(prim, values, bdims, args, size):
    return apply(prim, [_front(values[0], bdims[0])], *args), 0


@rule("max_pool_scatter", "max_pool_gather")
def _pool_index(prim, values, bdims, args, size):
    index, geom = args
    g = _front(values[0], bdims[0])
    xp = array_module(index)
    return apply(prim, [g], _batched_index(xp, index, size), geom), 0


# --------------------------------------------------------------------------- losses


@rule("cross_entropy")
def _cross_entropy(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])  # (B, N, C, ...)
    target, *rest = args
    n = x.shape[1]
    flat_target = _batched_index(array_module(target), target, size).reshape(size * n, *target.shape[1:])
    out = apply(prim, [_fold_n(x)], flat_target, *rest)
    return _reshape(out, (size, n, *tuple(out.shape)[1:])), 0


@rule("cross_entropy_mean")
def _cross_entropy_mean(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])  # (B, N, C)
    (target,) = args
    n = x.shape[1]
    flat_target = _batched_index(array_module(target), target, size).reshape(size * n)
    per_element = apply(P["cross_entropy"], [_fold_n(x)], flat_target, None, -100, 0.0)
    return _reshape(per_element, (size, n)).mean(1), 0


# --------------------------------------------------------------------------- normalization


@rule("norm_affine")
def _norm_affine(prim, values, bdims, args, size):
    from ..ops import layers  # noqa: PLC0415

    if any(d is not None for d in bdims[1:]):
        return loop_fallback(prim, values, bdims, args, size)
    (spec,) = args
    axes, eps, view, _, has_weight, has_bias, _ = spec
    x = _front(values[0], bdims[0])
    params = values[1:]
    weight = params[0] if has_weight else None
    bias = params[-1] if has_bias else None
    new_spec = layers._spec(x, tuple(a + 1 for a in axes), eps, view, weight, bias)
    return apply(prim, [x, *params], new_spec), 0


@rule("batch_norm_train")
def _batch_norm_train(prim, values, bdims, args, size):
    from ..ops import layers  # noqa: PLC0415

    (spec,) = args
    axes, eps, view, _, has_weight, has_bias, _ = spec
    x = values[0]
    nd = _logical_ndim(x, bdims[0])
    kept = [i for i in range(nd) if i not in axes]
    if any(d is not None for d in bdims[1:]) or len(kept) != 1 or len(view) != nd - kept[0]:
        return loop_fallback(prim, values, bdims, args, size)
    channel = kept[0]
    # per-sample statistics: the batch joins the channels, (..., B * C, ...)
    xs = move(x, bdims[0], channel)
    shape = tuple(xs.shape)
    merged = _reshape(xs, shape[:channel] + (shape[channel] * shape[channel + 1],) + shape[channel + 2 :])
    params = []
    for p in values[1:]:
        params.append(_reshape(expand_batch(p, size), (size * p.shape[0],)))
    new_view = (view[0] * size, *view[1:])
    weight = params[0] if has_weight else None
    bias = params[-1] if has_bias else None
    new_spec = layers._spec(merged, axes, eps, new_view, weight, bias)
    out, mean, var = apply(prim, [merged, *params], new_spec)
    out = _reshape(out, shape)
    return (out, _reshape(mean, (size, -1)), _reshape(var, (size, -1))), (channel, 0, 0)


@rule("batch_norm_eval")
def _batch_norm_eval(prim, values, bdims, args, size):
    from ..ops import layers  # noqa: PLC0415

    if any(d is not None for d in bdims[1:]):
        return loop_fallback(prim, values, bdims, args, size)
    (spec,) = args
    view, _, has_weight, has_bias, _, inv_std, offset = spec
    x = _front(values[0], bdims[0])
    param_axes, sums = layers._layout(x.ndim, (), tuple(view))
    new_spec = (view, param_axes, has_weight, has_bias, sums[2:], inv_std, offset)
    return apply(prim, [x, *values[1:]], new_spec), 0


# --------------------------------------------------------------------------- matrices (the last two dims)


@rule("inv", "det", "slogdet", "svd", "eigh", "cholesky", "qr", "tril", "triu")
def _matrices(prim, values, bdims, args, size):
    """Ops on the last two dimensions that take any leading ones: the batch leads."""
    return apply(prim, [_front(values[0], bdims[0])], *args), 0


@rule("solve")
def _solve(prim, values, bdims, args, size):
    (a, b), (da, db) = values, bdims
    vector = _logical_ndim(b, db) == 1
    a = _front(a, da)
    b = _front(b, db)
    if vector:  # (M,) -> (M, 1): a batch of vectors is a batch of one-column matrices
        b = b.unsqueeze(-1)
    rank = max(_logical_ndim(a, da), _logical_ndim(b, db) + vector)
    if da is not None:
        a = _to_rank(a, rank)
    if db is not None:
        b = _to_rank(b, rank)
    out = apply(prim, [a, b], *args)
    return (out.squeeze(-1) if vector else out), 0


@rule("diagonal")
def _diagonal(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    offset, axis1, axis2, _in_shape = args
    nd = x.ndim - 1
    return apply(prim, [x], offset, _axis(axis1, nd), _axis(axis2, nd), tuple(x.shape)), 0


@rule("diagonal_scatter")
def _diagonal_scatter(prim, values, bdims, args, size):
    src = _front(values[0], bdims[0])
    shape, offset, axis1, axis2 = args
    nd = len(shape)
    return apply(prim, [src], (size, *shape), offset, _axis(axis1, nd), _axis(axis2, nd)), 0


@rule("roll")
def _roll(prim, values, bdims, args, size):
    x = _front(values[0], bdims[0])
    shifts, axes = args
    if axes is None:  # over the flattened sample
        shape = tuple(x.shape)
        flat = apply(prim, [_reshape(x, (size, -1))], shifts, 1)
        return _reshape(flat, shape), 0
    return apply(prim, [x], shifts, _axis(axes, x.ndim - 1)), 0


@rule("scatter")
def _scatter(prim, values, bdims, args, size):
    x, src = _fronted(values, bdims, size, expand=True)
    axis, index, src_shape = args
    index = _batched_index(_xp_of(index), index, size)
    return apply(prim, [x, src], _axis(axis, x.ndim - 1), index, (size, *src_shape)), 0


@rule("scatter_reduce")
def _scatter_reduce(prim, values, bdims, args, size):
    x, src = _fronted(values, bdims, size, expand=True)
    axis, index, reduce, include_self, src_shape = args
    index = _batched_index(_xp_of(index), index, size)
    return apply(prim, [x, src], _axis(axis, x.ndim - 1), index, reduce, include_self, (size, *src_shape)), 0


@rule("index_put")
def _index_put(prim, values, bdims, args, size):
    index, accumulate = args
    where = _batch_position(index)
    (x, v), (dx, dv) = values, bdims
    if where != 0 and dv is not None:
        return loop_fallback(prim, values, bdims, args, size)
    x = _front(x, dx) if dx is not None else expand_batch(x, size)
    if dv is not None:
        region = len(np.empty(tuple(x.shape)[1:], dtype=np.bool_)[_index_tuple(index)].shape)
        v = _to_rank(_front(v, dv), region)
    return apply(prim, [x, v], (slice(None), *_index_tuple(index)), accumulate), 0


@rule("setitem")
def _setitem(prim, values, bdims, args, size):
    """x[index] = value on a copy of the batch; vmap then rebinds x's batched array to the result.

    Differs from PyTorch: views of x taken before the write do not see it (the batch is copied, so that
    arrays saved for backward are never overwritten).
    """
    (x, v), (dx, dv) = values, bdims
    (index,) = args
    if dx is None:
        raise VmapError(
            "vmap: x[index] = value writes a batched value into a tensor that is the same for every sample; "
            "make x batched first (for example x = x.expand(...) inside the function, or pass it batched)"
        )
    where = _batch_position(index)
    if where != 0 and dv is not None:
        raise VmapError("vmap: x[index] = value with separated advanced indices and a batched value")
    xf = _front(x, dx).clone()
    if dv is not None:
        region = len(np.empty(tuple(xf.shape)[1:], dtype=np.bool_)[_index_tuple(index)].shape)
        v = _to_rank(_front(v, dv), region)
    return apply(prim, [xf, v], (slice(None), *_index_tuple(index))), 0


# --------------------------------------------------------------------------- embedding


@rule("embedding")
def _embedding(prim, values, bdims, args, size):
    """A batched table: one advanced index per sample; batched indices: the lookup of all of them at once."""
    indices, num, padding_idx, scale_by_freq = args
    level = rule_level()
    idx_batched = type(indices) is BatchedArray and indices.level == level
    if idx_batched:
        indices = physical_raw(indices, level, indices.ndim)  # (B, ...)
    if bdims[0] is None:
        if scale_by_freq:  # the frequencies are per sample
            return loop_fallback(prim, values, bdims, args, size)
        return apply(prim, values, indices, num, padding_idx, scale_by_freq), 0
    if padding_idx is not None or scale_by_freq:
        return loop_fallback(prim, values, bdims, args, size)
    w = _front(values[0], bdims[0])  # (B, num, dim)
    if idx_batched:
        xp = array_module(indices)
        rows = xp.arange(size).reshape((size,) + (1,) * (indices.ndim - 1))
        index = (rows, indices)
    else:
        index = (slice(None), indices)
    return graph.apply1(P["index"], w, index, tuple(w.shape)), 0


# --------------------------------------------------------------------------- attention


@rule("attention")
def _attention(prim, values, bdims, args, size):
    """The batch in front of every batched input, padded to the logical rank: the primitive's leading axes
    broadcast as matmul's, so the unbatched inputs broadcast along the batch."""
    rank = max(v.ndim - (d is not None) for v, d in zip(values, bdims))
    inputs = [v if d is None else _to_rank(_front(v, d), rank) for v, d in zip(values, bdims)]
    return apply(prim, inputs, *args), 0


# --------------------------------------------------------------------------- recurrent layers


@rule("rnn_layer", "lstm_layer", "gru_layer")
def _recurrent(prim, values, bdims, args, size):
    """Shared weights: the batch joins N, (L, B * N, in), one layer over all sequences; else once per sample."""
    states = 2 if prim.name == "lstm_layer" else 1
    if any(d is not None for d in bdims[1 + states :]):
        return loop_fallback(prim, values, bdims, args, size)
    x = move(values[0], bdims[0], 1) if bdims[0] is not None else expand_batch(values[0], size, 1)
    length, _, n, features = x.shape
    inputs = [_reshape(x, (length, size * n, features))]
    for v, d in zip(values[1 : 1 + states], bdims[1 : 1 + states]):
        v = _front(v, d) if d is not None else expand_batch(v, size)
        inputs.append(_reshape(v, (size * n, v.shape[-1])))
    out, *final = apply(prim, inputs + list(values[1 + states :]), *args)
    hidden = out.shape[-1]
    out = _reshape(out, (length, size, n, hidden))
    return (out, *(_reshape(h, (size, n, h.shape[-1])) for h in final)), (1,) + (0,) * states


LOOPED.update(("embedding_dense_backward", "embedding_sparse"))


# --------------------------------------------------------------------------- class-index targets


def class_index_loss(name, input, target, weight, ignore_index, reduction, smoothing, log_probs=False):  # noqa: A002
    """cross_entropy / nll_loss with a batched class-index target (F.cross_entropy calls this under vmap).

    The target's values pick the classes, so they are read here, where every vmap level is peeled off
    (:func:`physical`), and turned into a batched one-hot tensor; the loss is then written with ops
    that batch: ``-(w_y * log p_y)``, label smoothing ``-(sum_c w_c log p_c) / C``, and PyTorch's
    ``mean`` (divided by the summed weights of the non-ignored targets).
    """
    from ..errors import IndexingError, ShapeError  # noqa: PLC0415
    from ..ops.nn import log_softmax  # noqa: PLC0415
    from ._vmap import batched, physical  # noqa: PLC0415

    if input.ndim == 0:
        raise ShapeError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    class_dim = 0 if input.ndim == 1 else 1
    classes = input.shape[class_dim]
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ShapeError(
            f"{name}: input of shape {tuple(input.shape)} needs a target of shape {expected}, got {target.shape}"
        )
    raw = physical(target)._data
    xp = array_module(raw)
    if raw.dtype.kind not in "iu":
        raise VmapError(f"{name}: class-index targets must be an integer tensor, got {raw.dtype}")
    bad = ((raw < 0) | (raw >= classes)) & (raw != ignore_index)
    if bad.any():
        raise IndexingError(f"{name}: target {int(raw[bad].reshape(-1)[0])} is out of range for {classes} classes")
    dtype = input._data.dtype
    if not log_probs and class_dim == 1 and (weight is None or type(weight._data) is not BatchedArray):
        return _fused_cross_entropy(input, raw, weight, ignore_index, reduction, smoothing)
    valid_raw = (raw != ignore_index).astype(dtype)
    onehot_raw = (raw[..., None] == xp.arange(classes)).astype(dtype) * valid_raw[..., None]
    onehot = batched(_wrap_array(onehot_raw))  # logical (*target, C)
    valid = batched(_wrap_array(valid_raw))
    if class_dim == 1:
        onehot = onehot.movedim(-1, 1)
    logp = input if log_probs else log_softmax(input, class_dim)
    view = (classes,) + (1,) * (input.ndim - class_dim - 1)
    w = None if weight is None else weight.reshape(view)
    w_target = valid if w is None else (onehot * w).sum(class_dim)
    loss = -(logp * onehot * (1.0 if w is None else w)).sum(class_dim)
    if smoothing:
        spread = -((logp if w is None else logp * w).sum(class_dim)) / classes
        loss = loss * (1.0 - smoothing) + spread * valid * smoothing
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w_target.sum()


def _fused_cross_entropy(input, raw_target, weight, ignore_index, reduction, smoothing):  # noqa: A002
    """The fused cross_entropy primitive over every sample at once: the levels and N fold into its rows."""
    from ._vmap import active_levels, batched, physical  # noqa: PLC0415

    levels = active_levels()
    logits = physical(input, levels)  # (*levels, N, C, d...)
    lead = tuple(logits.shape)[: len(levels)]
    rows = tuple(logits.shape)[len(levels) :]  # (N, C, d...)
    count = math.prod(lead) * rows[0]
    flat_target = raw_target.reshape((count, *rows[2:]))
    weight_arr = None if weight is None else weight._data
    per_element = apply(
        P["cross_entropy"], [_reshape(logits, (count, *rows[1:]))], flat_target, weight_arr, ignore_index, smoothing
    )
    loss = batched(_reshape(per_element, (*lead, rows[0], *rows[2:])), levels)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    # PyTorch's mean: divided by the summed weights of each sample's non-ignored targets
    xp = array_module(raw_target)
    valid = raw_target != ignore_index
    coef = valid if weight_arr is None else weight_arr[xp.where(valid, raw_target, 0)] * valid
    total = coef.reshape(*lead, -1).sum(-1).astype(input._data.dtype)
    return loss.sum() / batched(_wrap_array(xp.asarray(total)), levels)


def _wrap_array(array):
    from ..tensor import _wrap  # noqa: PLC0415

    return _wrap(array)
