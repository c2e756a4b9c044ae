"""Indexing: x[...], x[...] = v, gather/scatter_add, index_select/index_add, scatter, scatter_reduce, index_put.

Basic indexing (ints, slices, None, ...) returns a view.  Integer-array and
boolean-mask indexing copy, and their gradient *accumulates* on repeated
indices: ``x[[0, 0]].sum()`` gives x.grad[0] == 2.  Writes that land twice on
one place (``scatter``, ``index_put`` without ``accumulate``) keep the last
write, and every written value still gets the gradient of its place, as in
PyTorch.  take_along_dim, masked_select, index_fill, index_copy,
masked_scatter, take and repeat_interleave are composites of these primitives.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd.forward import carry_tangents, check_view_write, forward_levels, has_tangent
from ..autograd.graph import apply1, apply2, primitive
from ..autograd.jvp_rules import linear_jvp, zeros_like
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
    dual = bool(forward_levels())  # forward mode: the write goes through the primitive, so tangents follow
    if not recording and not dual:
        data = value._data if isinstance(value, Tensor) else value
        try:
            x._data[index] = data
        except (ValueError, IndexError, TypeError) as exc:
            raise _setitem_error(x, index, value, exc) from None
        x._bump()
        return
    if recording:
        x._check_inplace("setitem")
    if dual and x._is_view:
        check_view_write("setitem", x, (value,))
    if not isinstance(value, Tensor):
        value = _wrap(xp.asarray(value, dtype=x._data.dtype))
    elif value._data.dtype != x._data.dtype:
        value = value.to(x._data.dtype)
    alias = x._alias()
    if dual:
        carry_tangents(x, alias)
    try:
        result = apply2(_setitem, alias, value, index)
    except ShapeError as exc:
        raise _setitem_error(x, index, value, exc) from None
    if recording:
        x._edge = result._edge
        x.requires_grad = True
    if dual:
        carry_tangents(result, x)
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
    arr = index._data if isinstance(index, Tensor) else index if hasattr(index, "dtype") else np.asarray(index)
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


# ---------------------------------------------------------------------------
# scatter (write along a dimension), index_put (write at advanced indices)


def _written(xp, shape, index) -> object:
    """A boolean array of ``shape``: True where ``out[index] = ...`` writes."""
    mask = xp.zeros(shape, dtype=bool)
    mask[index] = True
    return mask


@primitive("scatter")
def _scatter(xp, x, src, axis, index, src_shape):
    out = x.copy()
    out[_along_axis(xp, index, axis)] = src[tuple(slice(0, s) for s in index.shape)]
    return out


@_scatter.defvjp
def _scatter_vjp(ctx, g):
    from .elementwise import select  # noqa: PLC0415

    axis, index, src_shape = ctx.args
    n = ctx.next
    gx = gsrc = None
    if n[0] is not None:  # the written places lost x's values: no gradient there
        xp = backend.array_module(g._data)
        gx = select(g, _written(xp, g._data.shape, _along_axis(xp, index, axis)), keep=False)
    if n[1] is not None:  # every src element gets the gradient of the place it was written to
        gsrc = apply1(_gather, g, axis, index, g._data.shape)
        if gsrc._data.shape != src_shape:
            gsrc = pad_to(gsrc, src_shape)
    return gx, gsrc


@_scatter.defjvp
def _scatter_jvp(ctx, tx, tsrc):
    # linear in (x, src) together: scatter the tangents the same way
    x, src = ctx.saved
    tx = tx if tx is not None else zeros_like(x)
    return apply2(_scatter, tx, tsrc if tsrc is not None else zeros_like(src), *ctx.args)


def _scatter_args(x: Tensor, dim, index, src, op_name: str):
    """(axis, index array, src tensor) checked as PyTorch checks them."""
    idx = _check_index_tensor(index, op_name)
    ndim = x._data.ndim
    axis = normalize_dim(dim, ndim, op_name)
    xp = backend.array_module(x._data)
    if not isinstance(src, Tensor):
        src = _wrap(xp.full(idx.shape, src, dtype=x._data.dtype))
    if src._data.dtype != x._data.dtype:
        raise DTypeError(
            f"{op_name}: src has dtype {src._data.dtype} but the input has {x._data.dtype}; convert one with .to(...)"
        )
    if idx.ndim != ndim or src._data.ndim != ndim:
        raise ShapeError(
            f"{op_name}: input {x.shape}, index {idx.shape} and src {src.shape} must have the same number of dims"
        )
    for k, (i, s, t) in enumerate(zip(idx.shape, src._data.shape, x._data.shape)):
        if i > s:
            raise ShapeError(f"{op_name}: index shape {idx.shape} is larger than src {src.shape} in dimension {k}")
        if k != axis and i > t:
            raise ShapeError(
                f"{op_name}: index shape {idx.shape} is larger than the input {x.shape} in dimension {k} "
                f"(only dimension {axis}, the one indexed, may differ)"
            )
    size = x._data.shape[axis] if ndim else 1
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise IndexingError(
            f"{op_name}: index values must be in [0, {size}) for dimension {axis} of the input {x.shape}, "
            f"got values from {int(idx.min())} to {int(idx.max())}"
        )
    return axis, idx, src


@op(method=True)
def scatter(x: Tensor, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``x`` with ``src[i][j]`` written at ``x[index[i][j]][j]`` (dim=0), or ``value`` everywhere.

    For dim=1 the entry goes to ``x[i][index[i][j]]``.  Only the part of ``src`` that ``index`` covers is
    used.  ``src`` may also be a Python number (PyTorch's ``scatter(input, dim, index, value)``).  Where an
    index repeats, the last write wins (as on PyTorch's CPU).  The gradient for ``x`` is ``g`` with zeros
    at the written places; for ``src``, every element gets ``g`` gathered at its place, the overwritten
    duplicates included (as in PyTorch).  ``reduce='add'`` is ``scatter_add``; ``reduce='multiply'``
    multiplies into ``x`` and has no gradient.  ``Tensor.scatter_`` is the in-place form.

    Differs from PyTorch: ``reduce='add'`` has ``scatter_add``'s gradient (PyTorch's ``scatter`` with
    ``reduce`` has none), and a ``src`` larger than ``index`` gets zeros where it is not read (PyTorch's
    backward fails on the shape).

    Args:
        x: the input, shape ``(d_0, ..., d_{n-1})``.
        dim: the dimension the indices point along.
        index: an int tensor (or array or nested list) with ``x``'s number of dimensions, no larger than
            ``src`` in any dimension nor than ``x`` outside ``dim``; its entries index ``x.shape[dim]``.
        src: the values to write, a tensor of ``x``'s dtype with ``x``'s number of dimensions, or a number.
        value: the number to write (instead of ``src``).
        reduce: None (write), ``'add'`` or ``'multiply'``.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor, or ``src`` has another dtype than ``x``.
        ShapeError: the numbers of dimensions differ or ``index`` is too large.
        IndexingError: an index is out of range.
        ValueError: ``reduce`` is not one of the above, or both or neither of ``src`` and ``value`` given.

    Examples:
        >>> cr.scatter(cr.zeros(2, 3), 1, cr.tensor([[2], [0]]), cr.tensor([[1.0], [2.0]]))
        tensor([[0., 0., 1.],
                [2., 0., 0.]])
        >>> cr.zeros(4).scatter(0, cr.tensor([1, 3]), value=5.0)
        tensor([0., 5., 0., 5.])
    """
    if (src is None) == (value is None):
        raise ValueError("scatter: pass exactly one of src and value")
    src = value if src is None else src
    axis, idx, src = _scatter_args(x, dim, index, src, "scatter")
    if reduce is None:
        return apply2(_scatter, x, src, axis, idx, src._data.shape)
    if reduce == "add":
        return apply2(_scatter_add, x, src, axis, idx, src._data.shape)
    if reduce == "multiply":
        from ..autograd.mode import grad_enabled  # noqa: PLC0415

        if grad_enabled() and (x.requires_grad or src.requires_grad):
            raise NotImplementedError(
                "scatter: reduce='multiply' has no gradient (as in PyTorch); compute it under cr.no_grad()"
            )
        if has_tangent(x, src):
            raise NotImplementedError(
                "scatter: reduce='multiply' has no forward-mode rule (PyTorch has none either); use "
                "scatter_reduce(..., reduce='prod')"
            )
        xp = backend.array_module(x._data)
        out = x._data.copy()
        region = src._data[tuple(slice(0, s) for s in idx.shape)]
        if xp is np:
            np.multiply.at(out, _along_axis(xp, idx, axis), region)
        else:  # pragma: no cover - CuPy
            raise NotImplementedError("scatter: reduce='multiply' runs on the CPU only")
        return _wrap(out)
    raise ValueError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")


@op(export=False, method=True)
def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None):
    """In-place ``scatter``: write ``src`` (or ``value``) at ``index`` along ``dim``; returns self.

    See ``chainrule.scatter`` for the shapes, repeated indices and the gradients; recorded like the
    other in-place ops.

    Args:
        dim: the dimension the indices point along.
        index: an int tensor with this tensor's number of dimensions.
        src: the values to write (a tensor of this tensor's dtype, or a number).
        value: the number to write (instead of ``src``).
        reduce: None (write), ``'add'`` or ``'multiply'``.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.zeros(3)
        >>> x.scatter_(0, cr.tensor([2, 0]), cr.tensor([1.0, 4.0]))
        tensor([4., 0., 1.])
    """
    if isinstance(src, Tensor):
        return self._inplace("scatter_", lambda s, o: scatter(s, dim, index, o, reduce=reduce), src)
    return self._inplace("scatter_", lambda s: scatter(s, dim, index, src, value=value, reduce=reduce))


@primitive("index_put")
def _index_put(xp, x, values, index, accumulate):
    out = x.copy()
    if accumulate:
        backend.scatter_add(xp, out, index, xp.broadcast_to(values, out[index].shape))
    else:
        out[index] = values
    return out


@_index_put.defvjp
def _index_put_vjp(ctx, g):
    from .elementwise import select  # noqa: PLC0415

    index, accumulate = ctx.args
    n = ctx.next
    gx = gv = None
    if n[0] is not None:
        gx = g
        if not accumulate:
            gx = select(g, _written(backend.array_module(g._data), g._data.shape, index), keep=False)
    if n[1] is not None:  # summed down to values' shape by the engine where values was broadcast
        gv = apply1(_getitem_advanced, g, index, g._data.shape)
    return gx, gv


@_index_put.defjvp
def _index_put_jvp(ctx, tx, tv):
    x, values = ctx.saved
    tx = tx if tx is not None else zeros_like(x)
    return apply2(_index_put, tx, tv if tv is not None else zeros_like(values), *ctx.args)


@op(method=True)
def index_put(x: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[indices] = values`` (or ``+= values`` with ``accumulate=True``).

    ``indices`` is a tuple of index tensors (int or bool), one per leading dimension, as in ``x[i, j]``.
    ``values`` broadcasts to the shape ``x[indices]`` has.  With ``accumulate=True`` repeated indices add
    up; without, the last write wins.  The gradient for ``x`` is ``g`` (zero at the written places unless
    accumulating); for ``values`` it is ``g[indices]``, summed where ``values`` was broadcast.
    ``Tensor.index_put_`` is the in-place form.

    Args:
        x: the input, any shape ``(*)``.
        indices: a tuple (or list) of int or bool tensors (arrays and lists work too).
        values: a tensor (or number) broadcastable to ``x[indices].shape``, in ``x``'s dtype.
        accumulate: add into ``x`` instead of writing (default False).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        IndexingError: an index is out of range or of the wrong kind.
        ShapeError: ``values`` does not broadcast to ``x[indices].shape``.
        DTypeError: ``values`` has another float dtype than ``x``.

    Examples:
        >>> x = cr.zeros(3)
        >>> cr.index_put(x, (cr.tensor([0, 2]),), cr.tensor([1.0, 2.0]))
        tensor([1., 0., 2.])
        >>> x.index_put((cr.tensor([1, 1]),), cr.tensor(1.0), accumulate=True)
        tensor([0., 2., 0.])
    """
    if isinstance(indices, Tensor) or not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    xp = backend.array_module(x._data)
    index, _basic = normalize_index(tuple(indices), xp)
    if not isinstance(values, Tensor):
        values = _wrap(xp.asarray(values, dtype=x._data.dtype))
    elif values._data.dtype != x._data.dtype:
        if values._data.dtype.kind == "f" and x._data.dtype.kind == "f":
            raise DTypeError(
                f"index_put: values have dtype {values._data.dtype} but the input has {x._data.dtype}; "
                "convert one with .to(...)"
            )
        values = values.to(x._data.dtype)
    try:
        target = x._data[index].shape
    except IndexError as exc:
        raise IndexingError(f"index_put: {exc} (input {x.shape})") from None
    try:
        fits = np.broadcast_shapes(values._data.shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"index_put: values of shape {values.shape} do not broadcast to the indexed shape {target}")
    return apply2(_index_put, x, values, index, bool(accumulate))


@op(export=False, method=True)
def index_put_(self, indices, values, accumulate: bool = False):
    """In-place ``index_put``: ``self[indices] = values`` (or ``+=``); returns self.

    Args:
        indices: a tuple of int or bool tensors, one per leading dimension.
        values: a tensor (or number) broadcastable to ``self[indices].shape``.
        accumulate: add instead of writing; repeated indices add up (default False).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.zeros(2, 2)
        >>> x.index_put_((cr.tensor([0, 1]), cr.tensor([1, 0])), cr.tensor(3.0))
        tensor([[0., 3.],
                [3., 0.]])
    """
    if isinstance(values, Tensor):
        return self._inplace("index_put_", lambda s, v: index_put(s, indices, v, accumulate), values)
    return self._inplace("index_put_", lambda s: index_put(s, indices, values, accumulate))


# ---------------------------------------------------------------------------
# take_along_dim, masked_select


@op(method=True)
def take_along_dim(x: Tensor, indices, dim=None) -> Tensor:
    """The elements of ``x`` at ``indices`` along ``dim`` (``numpy.take_along_axis``), as a copy.

    With ``dim=None`` both are flattened first.  Otherwise ``x`` and ``indices`` have the same number of
    dimensions and broadcast against each other in every dimension but ``dim``; it is then ``gather``
    (so ``x.take_along_dim(x.argsort(1), 1)`` sorts ``x``).  Gradients of repeated indices accumulate.

    Args:
        x: the input, any shape ``(*)``.
        indices: an int tensor (or array or nested list) of indices into ``x.shape[dim]``.
        dim: the dimension to pick along, or None (the default) for the flattened tensors.

    Returns:
        A tensor in ``x``'s dtype: ``indices``'s shape with ``dim=None``, else the broadcast shape with
        ``indices``'s size in ``dim``.

    Raises:
        DTypeError: ``indices`` is not an integer tensor.
        ShapeError: the numbers of dimensions differ or the shapes do not broadcast.

    Examples:
        >>> x = cr.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
        >>> cr.take_along_dim(x, x.argsort(1), 1)
        tensor([[10., 20., 30.],
                [40., 50., 60.]])
        >>> x.take_along_dim(cr.tensor([5, 0]))
        tensor([50., 10.])
    """
    idx = _check_index_tensor(indices, "take_along_dim")
    if dim is None:
        return gather(x.reshape(-1), 0, idx.reshape(-1))
    ndim = x._data.ndim
    axis = normalize_dim(dim, ndim, "take_along_dim")
    if idx.ndim != ndim:
        raise ShapeError(
            f"take_along_dim: input {x.shape} and indices {tuple(idx.shape)} must have the same number of dims"
        )
    if ndim == 0:
        return gather(x.reshape(1), 0, idx.reshape(1)).reshape(())
    size = x._data.shape[axis]
    if idx.size and (int(idx.max()) >= size or int(idx.min()) < -size):
        raise IndexingError(f"take_along_dim: index out of range for dimension {dim} of size {size} (input {x.shape})")
    try:
        shape = list(np.broadcast_shapes(_with(x._data.shape, axis, 1), _with(idx.shape, axis, 1)))
    except ValueError:
        raise ShapeError(
            f"take_along_dim: input {x.shape} and indices {tuple(idx.shape)} do not broadcast outside dim {axis}"
        ) from None
    if _with(x._data.shape, axis, 1) != tuple(shape):
        x = x.expand(_with(shape, axis, x._data.shape[axis]))
    xp = backend.array_module(x._data)
    idx = xp.broadcast_to(idx, _with(shape, axis, idx.shape[axis]))
    return gather(x, axis, idx)


def _with(shape, axis: int, size: int) -> tuple:
    """``shape`` with ``size`` in dimension ``axis``."""
    return tuple(size if k == axis else s for k, s in enumerate(shape))


@op(method=True)
def masked_select(x: Tensor, mask) -> Tensor:
    """The elements of ``x`` where the boolean ``mask`` is true, as a 1-d tensor (row-major order).

    ``x`` and ``mask`` broadcast against each other.  The gradient goes back to the selected places
    (summed over any broadcasting of ``x``).

    Args:
        x: the input, any shape ``(*)``.
        mask: a bool tensor (or array) broadcastable with ``x``.

    Returns:
        A 1-d tensor of ``x``'s dtype, one element per true entry of the broadcast mask.

    Raises:
        DTypeError: ``mask`` is not boolean.
        ShapeError: ``x`` and ``mask`` do not broadcast.

    Examples:
        >>> x = cr.tensor([[1.0, -2.0], [3.0, -4.0]])
        >>> cr.masked_select(x, x > 0)
        tensor([1., 3.])
        >>> x.masked_select(cr.tensor([False, True]))
        tensor([-2., -4.])
    """
    xp = backend.array_module(x._data)
    keep = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if keep.dtype != bool:
        raise DTypeError(f"masked_select: mask must be a bool tensor, got {keep.dtype}")
    try:
        shape = np.broadcast_shapes(x._data.shape, keep.shape)
    except ValueError:
        raise ShapeError(f"masked_select: input {x.shape} and mask {tuple(keep.shape)} do not broadcast") from None
    if x._data.shape != shape:
        x = x.expand(shape)
    return apply1(_getitem_advanced, x, (xp.broadcast_to(keep, shape),), shape)


# ---------------------------------------------------------------------------
# scatter_reduce: sum, prod, mean, amax, amin into the places index names

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _reduce_at(xp, reduce: str, target, index, values) -> None:
    """``target[index] (op)= values`` for every element, repeated indices included (unbuffered)."""
    if reduce in ("sum", "mean"):
        backend.scatter_add(xp, target, index, values)
        return
    if reduce in ("amax", "amin"):
        backend.scatter_extreme(xp, target, index, values, largest=reduce == "amax")
        return
    if xp is not np:  # CuPy scatters a maximum, a minimum and a sum, not a product
        raise NotImplementedError("scatter_reduce: reduce='prod' runs on the CPU only")
    np.multiply.at(target, index, values)


def _identity(dtype, reduce: str):
    """The value a reduction starts from (for include_self=False)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if reduce == "amax" else info.max
    return reduce == "amin"  # bool: False is the smallest, True the largest


def _reduce_counts(xp, shape, index, include_self: bool):
    """How many values meet at each place: the scattered ones, plus x's own where it takes part."""
    counts = xp.zeros(shape, dtype=np.int64)
    backend.scatter_add(xp, counts, index, xp.ones(np.broadcast_shapes(*[i.shape for i in index]), np.int64))
    if include_self:
        counts += 1
    return xp.maximum(counts, 1)  # places nothing was scattered to keep x: divide by 1


@primitive("scatter_reduce", save=True, save_output=True)
def _scatter_reduce(xp, x, src, axis, index, reduce, include_self, src_shape):
    full = _along_axis(xp, index, axis)
    out = x.copy()
    if not include_self:
        out[full] = _identity(x.dtype, reduce)
    _reduce_at(xp, reduce, out, full, src[tuple(slice(0, s) for s in index.shape)])
    if reduce == "mean":
        counts = _reduce_counts(xp, x.shape, full, include_self)
        out = out / counts.astype(x.dtype) if x.dtype.kind == "f" else out // counts
    return out


@_scatter_reduce.defvjp
def _scatter_reduce_vjp(ctx, g):
    from .elementwise import select  # noqa: PLC0415

    x, src = ctx.saved
    axis, index, reduce, include_self, src_shape = ctx.args
    xp = backend.array_module(g._data)
    full = _along_axis(xp, index, axis)
    written = _written(xp, g._data.shape, full)
    region = tuple(slice(0, s) for s in index.shape)
    if reduce in ("sum", "mean"):
        if reduce == "mean":  # linear: each value contributes 1 / count of its place
            counts = _reduce_counts(xp, g._data.shape, full, include_self)
            g = g / _wrap(counts.astype(g._data.dtype))
        gx = g if include_self else select(g, written, keep=False)
        gsrc = apply1(_gather, g, axis, index, g._data.shape)
    elif reduce in ("amax", "amin"):
        # the gradient of a place is split evenly among the values that equal its result (as PyTorch)
        result = ctx.out
        self_hit = x._data == result
        if not include_self:
            self_hit &= ~written
        src_hit = src._data[region] == result[full]
        ties = self_hit.astype(np.int64)
        backend.scatter_add(xp, ties, full, src_hit.astype(np.int64))
        shared = g / _wrap(xp.maximum(ties, 1).astype(g._data.dtype))
        gx = select(shared, self_hit)
        gsrc = select(apply1(_gather, shared, axis, index, g._data.shape), src_hit)
    else:
        gx, gsrc = _scatter_prod_grads(ctx, g, x, src, full, written, region)
    if gsrc is not None and gsrc._data.shape != src_shape:
        gsrc = pad_to(gsrc, src_shape)
    return gx, gsrc


def _scatter_prod_grads(ctx, g, x, src, full, written, region):
    """reduce='prod': each value's gradient is g times the product of the others at its place."""
    from .elementwise import select  # noqa: PLC0415

    axis, index, _reduce, include_self, _src_shape = ctx.args
    xp = backend.array_module(g._data)
    values = src._data[region]
    self_zero = (x._data == 0) & written if include_self else xp.zeros(x._data.shape, dtype=bool)
    if not (self_zero.any() or (values == 0).any()):
        result = ctx.output()
        unchanged = select(g, written, keep=False)  # where nothing was scattered the result is x itself
        if include_self:
            gx = select(g * result / x.masked_fill(~written, 1.0), written) + unchanged
        else:
            gx = unchanged
        gsrc = apply1(_gather, g * result, axis, index, g._data.shape) / src[region]
        return gx, gsrc
    if ctx.create_graph:
        raise NotImplementedError(
            "scatter_reduce: the second derivative of reduce='prod' with zeros among the values is not supported"
        )
    # with zeros: count them per place and multiply the nonzero values, then each value's "others" product
    zeros = self_zero.astype(np.int64)
    backend.scatter_add(xp, zeros, full, (values == 0).astype(np.int64))
    nonzero = xp.where(self_zero, 1, x._data) if include_self else xp.ones_like(x._data)
    _reduce_at(xp, "prod", nonzero, full, xp.where(values == 0, 1, values))

    def others(value, place_zeros, place_nonzero):
        safe = xp.where(value == 0, 1, value)
        return xp.where(value == 0, (place_zeros == 1) * place_nonzero, (place_zeros == 0) * place_nonzero / safe)

    graw = g._data
    if include_self:
        gx_raw = xp.where(written, graw * others(x._data, zeros, nonzero), graw)
    else:
        gx_raw = xp.where(written, 0, graw)
    gsrc_raw = graw[full] * others(values, zeros[full], nonzero[full])
    return _wrap(gx_raw.astype(graw.dtype)), _wrap(gsrc_raw.astype(graw.dtype))


@_scatter_reduce.defjvp
def _scatter_reduce_jvp(ctx, tx, tsrc):
    x, src = ctx.saved
    axis, index, reduce, include_self, src_shape = ctx.args
    tx = tx if tx is not None else zeros_like(x)
    tsrc = tsrc if tsrc is not None else zeros_like(src)
    if reduce in ("sum", "mean"):  # linear in (x, src)
        return apply2(_scatter_reduce, tx, tsrc, *ctx.args)
    xp = backend.array_module(x._data)
    full = _along_axis(xp, index, axis)
    written = _written(xp, x._data.shape, full)
    region = tuple(slice(0, s) for s in index.shape)
    result = ctx.out
    if reduce in ("amax", "amin"):  # the mean of the tangents of the values that reach the result
        self_hit = x._data == result
        if not include_self:
            self_hit &= ~written
        src_hit = src._data[region] == result[full]
        ties = self_hit.astype(np.int64)
        backend.scatter_add(xp, ties, full, src_hit.astype(np.int64))
        from .elementwise import select  # noqa: PLC0415

        picked = apply2(_scatter_add, select(tx, self_hit), select(tsrc[region], src_hit), axis, index, index.shape)
        return picked / _wrap(xp.maximum(ties, 1).astype(x._data.dtype))
    # prod: d result = result * (tx / x + sum of tsrc / src), where no value is zero
    if ((x._data == 0) & written).any() or (src._data[region] == 0).any():
        raise NotImplementedError(
            "scatter_reduce: the jvp of reduce='prod' with zeros among the values is not supported"
        )
    relative = apply2(_scatter_reduce, tx / x, tsrc / src, axis, index, "sum", include_self, src_shape)
    return ctx.output() * relative


@op(method=True)
def scatter_reduce(x: Tensor, dim: int, index, src: Tensor, reduce: str, *, include_self: bool = True) -> Tensor:
    """Reduce ``src`` into a copy of ``x`` at ``index`` along ``dim``: ``'sum'``, ``'prod'``, ``'mean'``,
    ``'amax'`` or ``'amin'``.

    For dim=0, ``src[i][j]`` meets ``x[index[i][j]][j]`` (dim=1: ``x[i][index[i][j]]``) and all the values
    that meet at one place are reduced together, ``x``'s own value included unless ``include_self=False``
    (then a place nothing is scattered to keeps ``x``'s value).  ``'mean'`` divides by the number of values
    at the place (floor division for integers).  Gradients, as PyTorch's: ``'sum'`` and ``'mean'`` pass
    ``g`` (divided by the count for the mean); ``'amax'``/``'amin'`` split ``g`` evenly among the values equal
    to the result; ``'prod'`` gives each value ``g`` times the product of the others (exact with zeros;
    a second derivative through zeros is not supported).  ``Tensor.scatter_reduce_`` is the in-place form.

    Differs from PyTorch: with ``include_self=False``, ``'amax'`` and ``'amin'`` split a place's gradient
    only among the scattered values equal to its result; PyTorch also counts ``x``'s value there when it
    happens to be equal (though it takes no part), so its gradients are smaller at such ties.

    Args:
        x: the input, shape ``(d_0, ..., d_{n-1})``.
        dim: the dimension the indices point along.
        index: an int tensor (or array or nested list) with ``x``'s number of dimensions, no larger than
            ``src`` in any dimension nor than ``x`` outside ``dim``; its entries index ``x.shape[dim]``.
        src: the values to reduce in, a tensor of ``x``'s dtype with ``x``'s number of dimensions.
        reduce: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.
        include_self: whether ``x``'s values take part (default True).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor, or ``src`` has another dtype than ``x``.
        ShapeError: the numbers of dimensions differ or ``index`` is too large.
        IndexingError: an index is out of range.
        ValueError: ``reduce`` is not one of the five.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> cr.scatter_reduce(x, 0, cr.tensor([0, 0, 2]), cr.tensor([5.0, 7.0, 1.0]), "amax")
        tensor([7., 2., 3.])
        >>> x.scatter_reduce(0, cr.tensor([1, 1]), cr.tensor([4.0, 6.0]), "mean", include_self=False)
        tensor([1., 5., 3.])
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {_REDUCTIONS}, got {reduce!r}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce: src must be a Tensor, got {type(src).__name__}")
    axis, idx, src = _scatter_args(x, dim, index, src, "scatter_reduce")
    return apply2(_scatter_reduce, x, src, axis, idx, reduce, bool(include_self), src._data.shape)


@op(export=False, method=True)
def scatter_reduce_(self, dim: int, index, src: Tensor, reduce: str, *, include_self: bool = True):
    """In-place ``scatter_reduce``: reduce ``src`` into this tensor at ``index`` along ``dim``; returns self.

    Args:
        dim: the dimension the indices point along.
        index: an int tensor with this tensor's number of dimensions.
        src: the values to reduce in, a tensor of this tensor's dtype.
        reduce: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.
        include_self: whether this tensor's values take part (default True).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.ones(3)
        >>> x.scatter_reduce_(0, cr.tensor([2, 2]), cr.tensor([2.0, 3.0]), "prod")
        tensor([1., 1., 6.])
    """
    # the rule reads the input's values, which the write-back replaces: it gets a copy of them
    return self._inplace(
        "scatter_reduce_",
        lambda s, o: scatter_reduce(s.clone(), dim, index, o, reduce, include_self=include_self),
        src,
    )


# ---------------------------------------------------------------------------
# index_fill, index_copy, take, masked_scatter, repeat_interleave (composites of the primitives above)


def _dim_index(x: Tensor, dim, index, op_name: str):
    """(axis, 1-d index array) for the ops that address whole slices along ``dim``."""
    idx = _check_index_tensor(index, op_name)
    if idx.ndim > 1:
        raise ShapeError(f"{op_name}: index must be 0-d or 1-d, got shape {idx.shape}")
    axis = normalize_dim(dim, x._data.ndim, op_name)
    size = x._data.shape[axis] if x._data.ndim else 1
    if idx.size and (int(idx.max()) >= size or int(idx.min()) < -size):
        raise IndexingError(f"{op_name}: index out of range for dimension {dim} of size {size} (input {x.shape})")
    return axis, idx.reshape(-1)


@op(method=True)
def index_fill(x: Tensor, dim: int, index, value) -> Tensor:
    """A copy of ``x`` with the slices at ``index`` along ``dim`` set to ``value``.

    The gradient for ``x`` is 0 on the filled slices; a 0-d tensor ``value`` gets the sum of their
    gradients.  ``Tensor.index_fill_`` is the in-place form.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension the indices point along.
        index: a 1-d int tensor (or array or list) of indices into ``x.shape[dim]``.
        value: a number or a 0-d tensor.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        ShapeError: ``index`` has more than one dimension.
        IndexingError: an index is out of range.

    Examples:
        >>> cr.index_fill(cr.zeros(2, 3), 1, cr.tensor([0, 2]), -1.0)
        tensor([[-1.,  0., -1.],
                [-1.,  0., -1.]])
    """
    from .elementwise import where  # noqa: PLC0415

    axis, idx = _dim_index(x, dim, index, "index_fill")
    xp = backend.array_module(x._data)
    mask = xp.zeros(x._data.shape[axis] if x._data.ndim else 1, dtype=bool)
    mask[idx] = True
    shape = [1] * x._data.ndim
    if x._data.ndim:
        shape[axis] = mask.size
    mask = mask.reshape(shape)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise ShapeError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.to(x._data.dtype) if value._data.dtype != x._data.dtype else value
    return where(mask, value, x)


@op(export=False, method=True)
def index_fill_(self, dim: int, index, value):
    """In-place ``index_fill``: set the slices at ``index`` along ``dim`` to ``value``; returns self.

    Args:
        dim: the dimension the indices point along.
        index: a 1-d int tensor of indices.
        value: a number or a 0-d tensor.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> cr.ones(3).index_fill_(0, cr.tensor([1]), 0.0)
        tensor([1., 0., 1.])
    """
    if isinstance(value, Tensor):
        return self._inplace("index_fill_", lambda s, v: index_fill(s, dim, index, v), value)
    return self._inplace("index_fill_", lambda s: index_fill(s, dim, index, value))


@op(method=True)
def index_copy(x: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """A copy of ``x`` with slice ``i`` of ``source`` written at slice ``index[i]`` along ``dim``.

    The gradient for ``x`` is 0 on the written slices; ``source`` gets the gradient of the slice it was
    written to.  With a repeated index the last write wins.  ``Tensor.index_copy_`` is the in-place form.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension the indices point along.
        index: a 1-d int tensor (or array or list) of ``k`` indices into ``x.shape[dim]``.
        source: ``x``'s shape with ``k`` in dimension ``dim``, in ``x``'s dtype.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor, or ``source`` has another float dtype.
        ShapeError: ``source`` does not have the expected shape.
        IndexingError: an index is out of range.

    Examples:
        >>> cr.index_copy(cr.zeros(3, 2), 0, cr.tensor([2, 0]), cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([[3., 4.],
                [0., 0.],
                [1., 2.]])
    """
    axis, idx = _dim_index(x, dim, index, "index_copy")
    expected = x._data.shape[:axis] + (idx.size,) + x._data.shape[axis + 1 :]
    if not isinstance(source, Tensor) or source._data.shape != expected:
        raise ShapeError(f"index_copy: source has shape {getattr(source, 'shape', None)}, expected {expected}")
    if source._data.dtype != x._data.dtype:
        if source._data.dtype.kind == "f" and x._data.dtype.kind == "f":
            raise DTypeError(f"index_copy: source is {source._data.dtype} but the input is {x._data.dtype}")
        source = source.to(x._data.dtype)
    return apply2(_index_put, x, source, (slice(None),) * axis + (idx,), False)


@op(export=False, method=True)
def index_copy_(self, dim: int, index, source: Tensor):
    """In-place ``index_copy``: write the slices of ``source`` at ``index`` along ``dim``; returns self.

    Args:
        dim: the dimension the indices point along.
        index: a 1-d int tensor of ``k`` indices.
        source: this tensor's shape with ``k`` in dimension ``dim``.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> cr.zeros(3).index_copy_(0, cr.tensor([1]), cr.tensor([5.0]))
        tensor([0., 5., 0.])
    """
    return self._inplace("index_copy_", lambda s, src: index_copy(s, dim, index, src), source)


@op(method=True)
def take(x: Tensor, index) -> Tensor:
    """The elements of ``x`` at ``index`` as if ``x`` were 1-d (row-major); the result has ``index``'s shape.

    Negative indices count from the end.  Gradients of repeated indices accumulate.

    Args:
        x: the input, any shape ``(*)``.
        index: an int tensor (or array or list) of indices into ``x.numel()``.

    Returns:
        A tensor of ``index``'s shape and ``x``'s dtype.

    Raises:
        DTypeError: ``index`` is not an integer tensor.
        IndexingError: an index is out of range.

    Examples:
        >>> cr.take(cr.tensor([[4, 3], [5, 6]]), cr.tensor([0, -1]))
        tensor([4, 6])
    """
    idx = _check_index_tensor(index, "take")
    n = x._data.size
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        raise IndexingError(f"take: index out of range for a tensor of {n} elements (shape {x.shape})")
    flat = x.reshape(-1)
    return apply1(_getitem_advanced, flat, (idx,), flat._data.shape)


@op(method=True)
def masked_scatter(x: Tensor, mask, source: Tensor) -> Tensor:
    """A copy of ``x`` with the first elements of ``source`` (row-major) written where ``mask`` is true.

    ``mask`` broadcasts to ``x``'s shape; ``source`` needs at least as many elements as ``mask`` has true
    entries.  The gradient for ``x`` is 0 where ``mask`` is true; ``source`` gets the gradient of the
    place each of its used elements went to (0 for the unused ones).  ``Tensor.masked_scatter_`` is the
    in-place form.

    Args:
        x: the input, any shape ``(*)``.
        mask: a bool tensor (or array) broadcastable to ``x``'s shape.
        source: a tensor of ``x``'s dtype with at least ``mask.sum()`` elements.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``mask`` is not boolean, or ``source`` has another dtype.
        ShapeError: ``mask`` does not broadcast to ``x`` or ``source`` is too small.

    Examples:
        >>> x = cr.zeros(2, 3)
        >>> x.masked_scatter(cr.tensor([[True, False, True], [False, True, False]]), cr.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor([[1., 0., 2.],
                [0., 3., 0.]])
    """
    xp = backend.array_module(x._data)
    keep = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if keep.dtype != bool:
        raise DTypeError(f"masked_scatter: mask must be a bool tensor, got {keep.dtype}")
    try:
        keep = xp.broadcast_to(keep, x._data.shape)
    except ValueError:
        raise ShapeError(
            f"masked_scatter: mask {tuple(keep.shape)} does not broadcast to the input {x.shape}"
        ) from None
    if source._data.dtype != x._data.dtype:
        raise DTypeError(f"masked_scatter: source is {source._data.dtype} but the input is {x._data.dtype}")
    count = int(keep.sum())
    if source._data.size < count:
        raise ShapeError(
            f"masked_scatter: source has {source._data.size} elements but the mask selects {count} (input {x.shape})"
        )
    return apply2(_index_put, x, source.reshape(-1)[:count], (keep,), False)


@op(export=False, method=True)
def masked_scatter_(self, mask, source: Tensor):
    """In-place ``masked_scatter``: write the first elements of ``source`` where ``mask`` is true; returns self.

    Args:
        mask: a bool tensor broadcastable to this tensor's shape.
        source: a tensor of this tensor's dtype with at least ``mask.sum()`` elements.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> cr.zeros(3).masked_scatter_(cr.tensor([False, True, True]), cr.tensor([7.0, 8.0]))
        tensor([0., 7., 8.])
    """
    return self._inplace("masked_scatter_", lambda s, src: masked_scatter(s, mask, src), source)


@op(method=True)
def repeat_interleave(x: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, keeping repeats together.

    ``repeat_interleave(tensor([1, 2]), 2)`` is ``[1, 1, 2, 2]`` (``repeat`` would give ``[1, 2, 1, 2]``).
    With ``dim=None`` the input is flattened first.  ``repeats`` may be a 1-d tensor with one count per
    element (slice).  Called with one int tensor and no ``repeats``, it returns ``arange(len(x))`` with
    entry ``i`` repeated ``x[i]`` times.  It is ``index_select`` with repeated indices, so gradients of the
    copies add up.

    Args:
        x: the input, any shape ``(*)``; or, alone, a 1-d int tensor of counts.
        repeats: an int, or a 1-d int tensor of counts (one per element along ``dim``).
        dim: the dimension to repeat along, or None (the default) for the flattened tensor.
        output_size: the total length along ``dim``, if known (checked, not needed).

    Returns:
        A tensor of ``x``'s dtype; ``x``'s shape with ``dim`` multiplied out (1-d with ``dim=None``).

    Raises:
        ShapeError: ``repeats`` has the wrong length, or ``output_size`` disagrees.
        ValueError: a count is negative.

    Examples:
        >>> cr.repeat_interleave(cr.tensor([1, 2, 3]), 2)
        tensor([1, 1, 2, 2, 3, 3])
        >>> cr.tensor([[1, 2], [3, 4]]).repeat_interleave(cr.tensor([1, 2]), dim=0)
        tensor([[1, 2],
                [3, 4],
                [3, 4]])
        >>> cr.repeat_interleave(cr.tensor([2, 0, 1]))
        tensor([0, 0, 2])
    """
    xp = backend.array_module(x._data)
    if repeats is None:
        counts = x._data.reshape(-1)
        if counts.dtype.kind not in "iu" or x._data.ndim > 1:
            raise ShapeError(f"repeat_interleave: alone, the input must be a 1-d int tensor, got {x.shape}")
        return _wrap(xp.repeat(xp.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = normalize_dim(dim, x._data.ndim, "repeat_interleave")
        if x._data.ndim == 0:
            x = x.reshape(1)
    n = x._data.shape[axis]
    counts = repeats._data if isinstance(repeats, Tensor) else xp.asarray(repeats)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat_interleave: repeats must be an int or an int tensor, got {counts.dtype}")
    if counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
        raise ShapeError(f"repeat_interleave: repeats must be an int or hold {n} counts, got shape {counts.shape}")
    if counts.size and int(counts.min()) < 0:
        raise ValueError("repeat_interleave: repeats must not be negative")
    idx = xp.repeat(xp.arange(n, dtype=np.int64), counts.reshape(-1) if counts.ndim else int(counts))
    if output_size is not None and output_size != idx.size:
        raise ShapeError(f"repeat_interleave: output_size={output_size} but the repeats give {idx.size}")
    return apply1(_index_select, x, axis, idx, x._data.shape)
