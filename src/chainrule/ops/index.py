"""Indexing: x[...], gather/scatter_add, index_select/index_add, x[...] = v.

Basic indexing (ints, slices, None, ...) returns a view.  Integer-array and
boolean-mask indexing copy, and their gradient *accumulates* on repeated
indices: ``x[[0, 0]].sum()`` gives x.grad[0] == 2.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd.forward import linear_jvp, zeros_like
from ..autograd.graph import apply1, apply2, primitive
from ..errors import DTypeError, IndexingError, ShapeError
from ..tensor import Tensor, _wrap
from ._util import normalize_dim
from .registry import op

# ---------------------------------------------------------------------------
# x[index]


def normalize_index(index, xp=np):
    """(index tuple of ints/slices/None/Ellipsis/arrays, is_basic)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    basic = True
    for item in index:
        if isinstance(item, Tensor):
            arr = item._data
            if arr.dtype.kind in "iu" and arr.ndim == 0:
                out.append(int(arr))
                continue
            if arr.dtype.kind not in "biu":
                raise IndexingError(f"index: tensors used as indices must be integer or bool, got {arr.dtype}")
            out.append(arr)
            basic = False
        elif isinstance(item, (list, np.ndarray)) or (xp is not np and isinstance(item, xp.ndarray)):
            arr = xp.asarray(item)
            if arr.size == 0:
                arr = arr.astype(np.int64)
            if arr.dtype.kind not in "biu":
                raise IndexingError(f"index: arrays used as indices must be integer or bool, got {arr.dtype}")
            out.append(arr)
            basic = False
        elif item is None or item is Ellipsis or isinstance(item, slice):
            out.append(item)
        elif isinstance(item, (bool, np.bool_)):
            out.append(bool(item))
            basic = False
        elif isinstance(item, numbers.Integral):
            out.append(int(item))
        else:
            raise IndexingError(f"index: cannot index with a {type(item).__name__} ({item!r})")
    if basic and Ellipsis not in out:
        out.append(Ellipsis)  # so that x[0] of a 1-d tensor is a 0-d view, not a scalar copy
    return tuple(out), basic


@primitive("getitem", view=True)
def _getitem_basic(xp, x, index, in_shape):
    return x[index]


@primitive("index")
def _getitem_advanced(xp, x, index, in_shape):
    return x[index]


def _getitem_vjp(ctx, g):
    index, in_shape = ctx.args
    return apply1(_index_scatter, g, index, in_shape, ctx.prim is _getitem_basic)


_getitem_basic.defvjp(_getitem_vjp)
_getitem_advanced.defvjp(_getitem_vjp)
_getitem_basic.defjvp(linear_jvp(_getitem_basic))
_getitem_advanced.defjvp(linear_jvp(_getitem_advanced))


@primitive("index_scatter")
def _index_scatter(xp, g, index, in_shape, basic):
    """Zeros of ``in_shape`` with g written (basic) or added (advanced) at ``index``."""
    out = xp.zeros(in_shape, dtype=g.dtype)
    if basic:
        out[index] = g
    else:
        backend.scatter_add(xp, out, index, g)
    return out


@_index_scatter.defvjp
def _index_scatter_vjp(ctx, g):
    index, in_shape, basic = ctx.args
    return apply1(_getitem_basic if basic else _getitem_advanced, g, index, g._data.shape)


_index_scatter.defjvp(linear_jvp(_index_scatter))


def getitem(x: Tensor, index) -> Tensor:
    kind = type(index)
    if kind is slice or kind is int:  # x[1:3], x[0]: basic indexing, nothing to normalize (a hot path)
        return apply1(_getitem_basic, x, (index, Ellipsis), x._data.shape)
    xp = backend.array_module(x._data)
    index, basic = normalize_index(index, xp)
    return apply1(_getitem_basic if basic else _getitem_advanced, x, index, x._data.shape)


# ---------------------------------------------------------------------------
# x[index] = value  (in place)


@primitive("setitem")
def _setitem(xp, x, value, index):
    x[index] = value
    return x


@_setitem.defvjp
def _setitem_vjp(ctx, g):
    (index,) = ctx.args
    xp = backend.array_module(g._data)
    keep = xp.ones(g._data.shape, dtype=bool)
    keep[index] = False
    n = ctx.next
    from .elementwise import select  # noqa: PLC0415

    gx = select(g, keep) if n[0] is not None else None
    gv = g[index] if n[1] is not None else None
    return gx, gv


@_setitem.defjvp
def _setitem_jvp(ctx, tx, tv):
    # the forward writes into its first input: give it a fresh array
    x, value = ctx.saved
    tx = tx.clone() if tx is not None else zeros_like(x)
    return apply2(_setitem, tx, tv if tv is not None else zeros_like(value), *ctx.args)


def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value`` in place; recorded when x or value requires grad."""
    from ..autograd.mode import grad_enabled  # noqa: PLC0415

    xp = backend.array_module(x._data)
    index, _basic = normalize_index(index, xp)
    recording = grad_enabled() and (x.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if not recording:
        data = value._data if isinstance(value, Tensor) else value
        try:
            x._data[index] = data
        except (ValueError, IndexError, TypeError) as exc:
            raise _setitem_error(x, index, value, exc) from None
        x._bump()
        return
    x._check_inplace("setitem")
    if not isinstance(value, Tensor):
        value = _wrap(xp.asarray(value, dtype=x._data.dtype))
    elif value._data.dtype != x._data.dtype:
        value = value.to(x._data.dtype)
    try:
        result = apply2(_setitem, x._alias(), value, index)
    except ShapeError as exc:
        raise _setitem_error(x, index, value, exc) from None
    x._edge = result._edge
    x.requires_grad = True
    x._bump()


def _setitem_error(x, index, value, exc):
    vshape = getattr(value, "shape", ())
    cls = IndexingError if isinstance(exc, IndexError) else ShapeError
    return cls(f"setitem: cannot assign a value of shape {tuple(vshape)} to tensor of shape {x.shape} ({exc})")


# ---------------------------------------------------------------------------
# gather / scatter_add along a dimension


def _along_axis(xp, index, axis):
    """The full advanced index that selects index[i, j, ...] along ``axis``."""
    nd = index.ndim
    full = []
    for k in range(nd):
        if k == axis:
            full.append(index)
        else:
            shape = [1] * nd
            shape[k] = index.shape[k]
            full.append(xp.arange(index.shape[k]).reshape(shape))
    return tuple(full)


@primitive("gather")
def _gather(xp, x, axis, index, in_shape):
    return x[_along_axis(xp, index, axis)]


@_gather.defvjp
def _gather_vjp(ctx, g):
    axis, index, in_shape = ctx.args
    return scatter_into_zeros(g, index, axis, in_shape)


_gather.defjvp(linear_jvp(_gather))


@primitive("scatter_add")
def _scatter_add(xp, x, src, axis, index, src_shape):
    out = x.copy()
    region = src[tuple(slice(0, s) for s in index.shape)]
    backend.scatter_add(xp, out, _along_axis(xp, index, axis), region)
    return out


@_scatter_add.defvjp
def _scatter_add_vjp(ctx, g):
    axis, index, src_shape = ctx.args
    n = ctx.next
    gsrc = None
    if n[1] is not None:
        gsrc = apply1(_gather, g, axis, index, g._data.shape)
        if gsrc._data.shape != src_shape:
            gsrc = pad_to(gsrc, src_shape)
    return (g if n[0] is not None else None), gsrc


@_scatter_add.defjvp
def _scatter_add_jvp(ctx, tx, tsrc):
    if tsrc is None:
        return tx
    return apply2(_scatter_add, tx if tx is not None else zeros_like(ctx.saved[0]), tsrc, *ctx.args)


def pad_to(g: Tensor, shape) -> Tensor:
    """Zero-pad g at the end of each dimension up to ``shape``."""
    pads = []
    for have, want in zip(reversed(g._data.shape), reversed(shape)):
        pads += [0, want - have]
    return g.pad(tuple(pads))


def _check_index_tensor(index, op):
    arr = index._data if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an integer tensor, got {arr.dtype}")
    return arr


@op(method=True)
def gather(x: Tensor, dim: int, index) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for dim=0 (and so on); index has x's number of dimensions.

    For dim=1, ``out[i][j] = x[i][index[i][j]]``.  The gradient is scattered back with
    ``scatter_add``, so an element picked several times gets the sum of their gradients.

    Args:
        x: the input, shape ``(d_0, ..., d_{n-1})``.
        dim: the dimension to pick along.
        index: an integer tensor (or array or nested list) with ``x``'s number of dimensions, no larger than
            ``x`` in the other dimensions (any size in ``dim``); its entries index ``x.shape[dim]``.

    Returns:
        A new tensor of ``index``'s shape and ``x``'s dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        ShapeError: ``index`` has a different number of dimensions or is larger than ``x`` outside ``dim``.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.gather(x, 1, cr.tensor([[2, 0], [1, 1]]))
        tensor([[3., 1.],
                [5., 5.]])
        >>> x.gather(0, cr.tensor([[1, 0, 1]]))
        tensor([[4., 2., 6.]])
    """
    idx = _check_index_tensor(index, "gather")
    axis = normalize_dim(dim, x._data.ndim, "gather")
    if idx.ndim != x._data.ndim:
        raise ShapeError(f"gather: index has {idx.ndim} dimensions but the input has {x._data.ndim} ({x.shape})")
    for k, (i, s) in enumerate(zip(idx.shape, x._data.shape)):
        if k != axis and i > s:
            raise ShapeError(f"gather: index shape {idx.shape} exceeds input shape {x.shape} in dimension {k}")
    return apply1(_gather, x, axis, idx, x._data.shape)


@op(method=True)
def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """A copy of x with ``src[i][j]`` added at ``x[index[i][j]][j]`` (dim=0); repeated indices accumulate.

    For dim=1 the entry goes to ``x[i][index[i][j]]``.  Only the part of ``src`` that ``index`` covers
    (its first ``index.shape`` elements) is used.  The gradient for ``x`` is the incoming gradient; for
    ``src`` it is the incoming gradient gathered at ``index`` (zero where ``src`` is not used).
    ``Tensor.scatter_add_`` is the in-place form.

    Args:
        x: the input, shape ``(d_0, ..., d_{n-1})``.
        dim: the dimension the indices point along.
        index: an integer tensor (or array or nested list) with ``x``'s number of dimensions, no larger than
            ``src`` in any dimension; its entries index ``x.shape[dim]``.
        src: the values to add, with ``x``'s number of dimensions.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        ShapeError: the numbers of dimensions differ or ``index`` is larger than ``src``.

    Examples:
        >>> cr.scatter_add(cr.zeros(3), 0, cr.tensor([0, 2, 0]), cr.tensor([1.0, 2.0, 3.0]))
        tensor([4., 0., 2.])
        >>> cr.zeros(2, 3).scatter_add(1, cr.tensor([[0, 0], [2, 1]]), cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([[3., 0., 0.],
                [0., 4., 3.]])
    """
    idx = _check_index_tensor(index, "scatter_add")
    axis = normalize_dim(dim, x._data.ndim, "scatter_add")
    if idx.ndim != x._data.ndim or src._data.ndim != x._data.ndim:
        raise ShapeError(
            f"scatter_add: input {x.shape}, index {idx.shape} and src {src.shape} must have the same number of dims"
        )
    if any(i > s for i, s in zip(idx.shape, src._data.shape)):
        raise ShapeError(f"scatter_add: index shape {idx.shape} is larger than src shape {src.shape}")
    return apply2(_scatter_add, x, src, axis, idx, src._data.shape)


def scatter_into_zeros(g: Tensor, index, axis: int, shape) -> Tensor:
    """Zeros of ``shape`` with g added at ``index`` along ``axis`` (the adjoint of gather)."""
    xp = backend.array_module(g._data)
    zeros = _wrap(xp.zeros(shape, dtype=g._data.dtype))
    return scatter_add(zeros, axis, index, g)


# ---------------------------------------------------------------------------
# index_select / index_add along a dimension


@primitive("index_select")
def _index_select(xp, x, axis, index, in_shape):
    return xp.take(x, index, axis=axis)


@_index_select.defvjp
def _index_select_vjp(ctx, g):
    axis, index, in_shape = ctx.args
    xp = backend.array_module(g._data)
    zeros = _wrap(xp.zeros(in_shape, dtype=g._data.dtype))
    return index_add(zeros, axis, index, g)


_index_select.defjvp(linear_jvp(_index_select))


@primitive("index_add")
def _index_add(xp, x, src, axis, index, alpha):
    out = x.copy()
    values = src if alpha == 1 else src * alpha
    backend.scatter_add(xp, out, (slice(None),) * axis + (index,), values)
    return out


@_index_add.defvjp
def _index_add_vjp(ctx, g):
    axis, index, alpha = ctx.args
    n = ctx.next
    gsrc = None
    if n[1] is not None:
        gsrc = apply1(_index_select, g, axis, index, g._data.shape)
        if alpha != 1:
            gsrc = gsrc * alpha
    return (g if n[0] is not None else None), gsrc


@_index_add.defjvp
def _index_add_jvp(ctx, tx, tsrc):
    if tsrc is None:
        return tx
    return apply2(_index_add, tx if tx is not None else zeros_like(ctx.saved[0]), tsrc, *ctx.args)


@op(method=True)
def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The entries of ``x`` at ``index`` along ``dim`` (``x[:, index]`` for dim=1), as a copy.

    Indices may repeat; their gradients accumulate (through ``index_add``).

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to select along.
        index: a 1-d (or 0-d) integer tensor, array or list of indices into ``x.shape[dim]``; negative
            indices count from the end.

    Returns:
        A new tensor of ``x``'s shape with ``len(index)`` in dimension ``dim``, in ``x``'s dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        ShapeError: ``index`` has more than one dimension.
        IndexingError: an index is out of range.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.index_select(x, 0, cr.tensor([1, 1, 0]))
        tensor([[4., 5., 6.],
                [4., 5., 6.],
                [1., 2., 3.]])
        >>> x.index_select(1, cr.tensor([2])).shape
        (2, 1)
    """
    idx = _check_index_tensor(index, "index_select")
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-d, got shape {idx.shape}")
    axis = normalize_dim(dim, x._data.ndim, "index_select")
    n = x._data.shape[axis]
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        raise IndexingError(f"index_select: index out of range for dimension {dim} of size {n}")
    return apply1(_index_select, x, axis, idx.reshape(-1), x._data.shape)


@op(method=True)
def index_add(x: Tensor, dim: int, index, source: Tensor, alpha=1) -> Tensor:
    """A copy of x with ``alpha * source`` added at ``index`` along ``dim``; repeats accumulate.

    For dim=0, row ``i`` of ``source`` is added to row ``index[i]`` of ``x``.  The gradient for ``x`` is
    the incoming gradient; for ``source`` it is ``alpha`` times the incoming gradient selected at
    ``index``.  ``Tensor.index_add_`` is the in-place form.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension the indices point along.
        index: a 1-d integer tensor, array or list of ``k`` indices into ``x.shape[dim]``.
        source: the values to add: ``x``'s shape with ``k`` in dimension ``dim``.
        alpha: a scalar multiplier for ``source`` (default 1).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        ShapeError: ``source`` does not have the expected shape.

    Examples:
        >>> cr.index_add(cr.zeros(3, 2), 0, cr.tensor([0, 2, 0]), cr.ones(3, 2))
        tensor([[2., 2.],
                [0., 0.],
                [1., 1.]])
        >>> cr.zeros(3).index_add(0, cr.tensor([1]), cr.tensor([5.0]), alpha=2)
        tensor([ 0., 10.,  0.])
    """
    idx = _check_index_tensor(index, "index_add").reshape(-1)
    axis = normalize_dim(dim, x._data.ndim, "index_add")
    expected = x._data.shape[:axis] + (idx.size,) + x._data.shape[axis + 1 :]
    if source._data.shape != expected:
        raise ShapeError(f"index_add: source has shape {source.shape}, expected {expected}")
    return apply2(_index_add, x, source, axis, idx, alpha)
