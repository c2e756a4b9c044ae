"""Shape ops: reshape, permute, expand, cat, stack, split, pad, flip, repeat and friends.

reshape, permute, expand, flip and basic slicing return views that share
memory (and the version counter) with their input, as PyTorch's views do.
``view`` is ``reshape``: it never refuses a non-contiguous input (it copies).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import apply1, applyn, primitive
from ..autograd.jvp_rules import linear_jvp, zeros_like
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import normalize_dim
from .elementwise import same_dtype as _same_dtype
from .registry import op


def _shape_arg(shape, op):
    """Accept reshape(2, 3), reshape((2, 3)) and reshape([2, 3])."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if type(s) is not int:
            break
    else:
        return shape
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: the shape must be ints, got {shape!r}") from None


@primitive("reshape", view=True)
def _reshape(xp, x, shape, in_shape):
    return x.reshape(shape)


@_reshape.defvjp
def _reshape_vjp(ctx, g):
    return g.reshape(ctx.args[1])


_reshape.defjvp(linear_jvp(_reshape))


@primitive("permute", view=True)
def _permute(xp, x, axes):
    return x.transpose(axes)


@_permute.defvjp
def _permute_vjp(ctx, g):
    return g.permute(tuple(np.argsort(ctx.args[0])))


_permute.defjvp(linear_jvp(_permute))


@primitive("expand", view=True)
def _expand(xp, x, shape):
    return xp.broadcast_to(x, shape)


@_expand.defvjp
def _expand_vjp(ctx, g):
    return g  # the engine sums it back to the input's shape


_expand.defjvp(linear_jvp(_expand))


@primitive("flip", view=True)
def _flip(xp, x, axes):
    return xp.flip(x, axis=axes)


@_flip.defvjp
def _flip_vjp(ctx, g):
    return g.flip(ctx.args[0])


_flip.defjvp(linear_jvp(_flip))


@primitive("contiguous")
def _contiguous(xp, x):
    return xp.ascontiguousarray(x)


@_contiguous.defvjp
def _contiguous_vjp(ctx, g):
    return g


_contiguous.defjvp(linear_jvp(_contiguous))


@primitive("cat")
def _cat(xp, *arrays_and_args):
    *arrays, axis, _sizes = arrays_and_args
    return xp.concatenate(arrays, axis=axis)


@_cat.defvjp
def _cat_vjp(ctx, g):
    axis, sizes = ctx.args[0], ctx.args[1]
    grads = []
    start = 0
    lead = (slice(None),) * axis
    for size, edge in zip(sizes, ctx.next):
        grads.append(g[lead + (slice(start, start + size),)] if edge is not None else None)
        start += size
    return tuple(grads)


@_cat.defjvp
def _cat_jvp(ctx, *tangents):
    parts = [t if t is not None else zeros_like(x) for t, x in zip(tangents, ctx.saved)]
    return applyn(_cat, parts, *ctx.args)


@primitive("stack")
def _stack(xp, *arrays_and_axis):
    *arrays, axis = arrays_and_axis
    return xp.stack(arrays, axis=axis)


@_stack.defvjp
def _stack_vjp(ctx, g):
    axis = ctx.args[0]
    lead = (slice(None),) * axis
    return tuple(g[lead + (i,)] if edge is not None else None for i, edge in enumerate(ctx.next))


@_stack.defjvp
def _stack_jvp(ctx, *tangents):
    parts = [t if t is not None else zeros_like(x) for t, x in zip(tangents, ctx.saved)]
    return applyn(_stack, parts, *ctx.args)


@primitive("split", multi=True, view=True)
def _split(xp, x, axis, sizes):
    bounds = np.cumsum(sizes)[:-1].tolist()
    return tuple(xp.split(x, bounds, axis=axis))


@_split.defvjp
def _split_vjp(ctx, *grads):
    return cat(grads, ctx.args[0])


_split.defjvp(linear_jvp(_split))


@primitive("pad")
def _pad(xp, x, widths, value):
    return xp.pad(x, widths, mode="constant", constant_values=value)


@_pad.defvjp
def _pad_vjp(ctx, g):
    widths = ctx.args[0]
    shape = g._data.shape
    return g[tuple(slice(lo, shape[i] - hi) for i, (lo, hi) in enumerate(widths))]


@_pad.defjvp
def _pad_jvp(ctx, tangent):
    return apply1(_pad, tangent, ctx.args[0], 0)  # the padding value is a constant


# ---------------------------------------------------------------------------
# public functions


@op(aliases=("view",), method=True, methods=("view",))
def reshape(x: Tensor, *shape) -> Tensor:
    """x with a new shape of the same number of elements; one dimension may be -1.

    The elements are read in row-major (C) order.  The result is a view of ``x`` when NumPy can make one
    (always for a contiguous ``x``) and a copy otherwise.  ``view`` is the same function: unlike PyTorch's
    ``view``, it never refuses a non-contiguous input.  The gradient is the incoming gradient reshaped
    back to ``x``'s shape.

    Args:
        x: the input, any shape ``(*)``.
        shape: the new shape, as separate ints (``reshape(x, 2, 3)``) or one tuple or list
            (``reshape(x, (2, 3))``); at most one entry may be -1, inferred from the number of elements.

    Returns:
        A tensor of the new shape, ``x``'s dtype (``x`` itself when the shape is unchanged).

    Raises:
        ShapeError: the shape does not hold ``x``'s number of elements, or has more than one -1.

    Examples:
        >>> x = cr.arange(6)
        >>> cr.reshape(x, 2, 3)
        tensor([[0, 1, 2],
                [3, 4, 5]])
        >>> x.view(3, -1).shape
        (3, 2)
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]  # type: ignore[assignment]  # reshape(x, (2, 3)): the one tuple or list is the shape
    data = x._data
    total = 1
    for s in shape:  # the common case (non-negative ints that fit), checked in one loop: this is a hot path
        if type(s) is not int or s < 0:
            break
        total *= s
    else:
        if total == data.size:
            shape = tuple(shape)
            if shape == data.shape:
                return x
            return apply1(_reshape, x, shape, data.shape)
    return _reshape_general(x, shape)


def _reshape_general(x: Tensor, shape) -> Tensor:
    shape = _shape_arg(shape if isinstance(shape, tuple) else (shape,), "reshape")
    in_shape = x._data.shape
    if shape == in_shape:
        return x
    size = x._data.size
    if -1 not in shape and math.prod(shape) == size and min(shape, default=0) >= 0:
        return apply1(_reshape, x, shape, in_shape)  # the common case, checked
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = -math.prod(shape)
        if known <= 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {in_shape} ({size} elements) into {shape}")
        shape = tuple([size // known if s == -1 else s for s in shape])
    total = math.prod(shape)
    if total != size or min(shape, default=0) < 0:
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {in_shape} ({size} elements) into {shape} "
            f"({total if min(shape, default=0) >= 0 else 'invalid'} elements)"
        )
    return apply1(_reshape, x, shape, in_shape)


view = reshape


@op(method=True)
def flatten(x: Tensor, start_dim=0, end_dim=-1) -> Tensor:
    """Merge the dimensions ``start_dim`` to ``end_dim`` (both included) into one.

    Args:
        x: the input, any shape ``(*)``; a 0-d tensor becomes shape ``(1,)``.
        start_dim: the first dimension to merge (default 0).
        end_dim: the last dimension to merge (default -1, the last).

    Returns:
        A tensor (a view where possible) of shape ``(*before, product of the merged sizes, *after)``.

    Raises:
        ShapeError: ``start_dim`` comes after ``end_dim``.

    Examples:
        >>> x = cr.zeros(2, 3, 4)
        >>> cr.flatten(x).shape
        (24,)
        >>> x.flatten(1).shape
        (2, 12)
    """
    nd = x._data.ndim
    if nd == 0:
        return reshape(x, 1)
    start = normalize_dim(start_dim, nd, "flatten")
    end = normalize_dim(end_dim, nd, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x._data.shape
    return reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


@op(method=True)
def unflatten(x: Tensor, dim, sizes) -> Tensor:
    """Split dimension ``dim`` into several dimensions of the given sizes (the inverse of ``flatten``).

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to split.
        sizes: the new sizes (a tuple of ints) whose product is ``x.shape[dim]``; one may be -1.

    Returns:
        A tensor (a view where possible) of shape ``(*x.shape[:dim], *sizes, *x.shape[dim + 1:])``.

    Examples:
        >>> x = cr.zeros(2, 12)
        >>> cr.unflatten(x, 1, (3, 4)).shape
        (2, 3, 4)
        >>> x.unflatten(-1, (2, -1)).shape
        (2, 2, 6)
    """
    d = normalize_dim(dim, x._data.ndim, "unflatten")
    shape = x._data.shape
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1 :])


@op(method=True)
def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove size-1 dimensions (all, or those in ``dim`` that have size 1).

    Args:
        x: the input, any shape ``(*)``.
        dim: None (the default) removes every size-1 dimension; an int or a tuple of ints removes those of
            the listed dimensions that have size 1 (the others are kept, as in PyTorch).

    Returns:
        A view of ``x`` without the removed dimensions.

    Examples:
        >>> x = cr.zeros(2, 1, 3, 1)
        >>> cr.squeeze(x).shape
        (2, 3)
        >>> x.squeeze(1).shape, x.squeeze(0).shape
        ((2, 3, 1), (2, 1, 3, 1))
    """
    shape = x._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {normalize_dim(d, x._data.ndim, "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    return reshape(x, new)


@op(method=True)
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at position ``dim``.

    Args:
        x: the input, any shape ``(*)``.
        dim: where the new dimension goes in the result, from ``-x.ndim - 1`` to ``x.ndim``.

    Returns:
        A view of ``x`` with ``x.ndim + 1`` dimensions.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> cr.unsqueeze(x, 0).shape, x.unsqueeze(-1).shape
        ((1, 3), (3, 1))
    """
    d = normalize_dim(dim, x._data.ndim + 1, "unsqueeze")
    shape = x._data.shape
    return reshape(x, shape[:d] + (1,) + shape[d:])


@op(method=True)
def permute(x: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: dimension ``i`` of the result is dimension ``dims[i]`` of ``x``.

    Args:
        x: the input, any shape ``(*)``.
        dims: a permutation of ``range(x.ndim)``, as separate ints or one tuple; negative ints count from
            the end.

    Returns:
        A view of ``x`` of shape ``tuple(x.shape[d] for d in dims)``.

    Raises:
        ShapeError: ``dims`` does not name every dimension exactly once.

    Examples:
        >>> x = cr.zeros(2, 3, 4)
        >>> cr.permute(x, 2, 0, 1).shape
        (4, 2, 3)
        >>> x.permute((1, 0, 2)).shape
        (3, 2, 4)
    """
    dims = _shape_arg(dims, "permute")
    nd = x._data.ndim
    if len(dims) != nd:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a tensor with {nd} dimensions")
    axes = tuple(normalize_dim(d, nd, "permute") for d in dims)
    if len(set(axes)) != nd:
        raise ShapeError(f"permute: repeated dimension in {dims}")
    if axes == tuple(range(nd)):
        return x
    return apply1(_permute, x, axes)


@op(method=True)
def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions.

    Args:
        x: the input, any shape ``(*)``.
        dim0: the first dimension.
        dim1: the second dimension.

    Returns:
        A view of ``x`` with sizes ``dim0`` and ``dim1`` exchanged.

    Examples:
        >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
        >>> cr.transpose(x, 0, 1)
        tensor([[1, 4],
                [2, 5],
                [3, 6]])
        >>> cr.zeros(2, 3, 4).transpose(0, -1).shape
        (4, 3, 2)
    """
    nd = x._data.ndim
    if nd < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    d0, d1 = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    if d0 == d1:
        return x
    axes = list(range(nd))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return apply1(_permute, x, tuple(axes))


@op(method=True)
def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    """Move one dimension to a new position; the others keep their order.

    Differs from PyTorch: one dimension at a time (``source`` and ``destination`` are ints, not tuples).

    Args:
        x: the input, any shape ``(*)``.
        source: the dimension to move.
        destination: its position in the result.

    Returns:
        A view of ``x`` with the dimensions reordered.

    Examples:
        >>> x = cr.zeros(2, 3, 4)
        >>> cr.movedim(x, 0, -1).shape
        (3, 4, 2)
        >>> x.movedim(2, 0).shape
        (4, 2, 3)
    """
    nd = x._data.ndim
    s, d = normalize_dim(source, nd, "movedim"), normalize_dim(destination, nd, "movedim")
    if s == d:
        return x
    axes = [i for i in range(nd) if i != s]
    axes.insert(d, s)
    return apply1(_permute, x, tuple(axes))


@op(method=True)
def expand(x: Tensor, *sizes) -> Tensor:
    """Broadcast size-1 dimensions to ``sizes`` without copying (-1 keeps a dimension).

    New dimensions may be added at the front.  The result is a read-only view whose repeated elements
    share memory; its gradient is summed back to ``x``'s shape.

    Args:
        x: the input, any shape ``(*)``.
        sizes: the target shape, as separate ints or one tuple; -1 keeps the size of that dimension of ``x``
            (not allowed for a new leading dimension).

    Returns:
        A view of ``x`` of shape ``sizes``.

    Raises:
        ShapeError: a dimension of size other than 1 would change, ``sizes`` has fewer dimensions than
            ``x``, or a new leading dimension is -1.

    Examples:
        >>> x = cr.tensor([[1.0], [2.0]])
        >>> cr.expand(x, 2, 3)
        tensor([[1., 1., 1.],
                [2., 2., 2.]])
        >>> x.expand(4, -1, 3).shape
        (4, 2, 3)
    """
    sizes = _shape_arg(sizes, "expand")
    shape = x._data.shape
    if len(sizes) < len(shape):
        raise ShapeError(f"expand: cannot expand shape {shape} to {sizes} (fewer dimensions)")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise ShapeError(f"expand: -1 is not allowed for a new leading dimension ({sizes})")
            target.append(s)
            continue
        old = shape[i - lead]
        if s == -1:
            s = old
        if old not in (s, 1):
            raise ShapeError(
                f"expand: dimension {i} has size {old} and cannot be expanded to {s} "
                f"(shape {shape} to {tuple(sizes)}); only size-1 dimensions expand"
            )
        target.append(s)
    expanded = tuple(target)
    if expanded == shape:
        return x
    return apply1(_expand, x, expanded)


@op(method=True)
def broadcast_to(x: Tensor, shape) -> Tensor:
    """Broadcast ``x`` to ``shape`` (NumPy's and PyTorch's name for ``expand`` with a tuple).

    Args:
        x: the input, any shape that broadcasts to ``shape``.
        shape: the target shape, a tuple or list of ints (-1 keeps a dimension).

    Returns:
        A view of ``x`` of shape ``shape``.

    Examples:
        >>> cr.broadcast_to(cr.tensor([1.0, 2.0]), (2, 2))
        tensor([[1., 2.],
                [1., 2.]])
    """
    return expand(x, tuple(shape))


@op(export=False, method=True)
def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """``x.expand(other.shape)``: broadcast ``x`` to the shape of another tensor (a Tensor method).

    Args:
        x: the tensor to broadcast.
        other: the tensor whose shape is the target; only its shape is read.

    Returns:
        A view of ``x`` of shape ``other.shape``.

    Examples:
        >>> cr.tensor([[1, 2]]).expand_as(cr.zeros(3, 2))
        tensor([[1, 2],
                [1, 2],
                [1, 2]])
    """
    return expand(x, other._data.shape)


@op()
def broadcast_tensors(*tensors):
    """Broadcast several tensors to their common shape (NumPy's broadcasting rules).

    Args:
        tensors: the tensors, as separate arguments.

    Returns:
        A tuple of views, one per input, all of the broadcast shape.

    Examples:
        >>> a, b = cr.broadcast_tensors(cr.tensor([[1.0], [2.0]]), cr.tensor([10.0, 20.0, 30.0]))
        >>> a.shape, b.shape
        ((2, 3), (2, 3))
        >>> a
        tensor([[1., 1., 1.],
                [2., 2., 2.]])
    """
    shape = np.broadcast_shapes(*[t._data.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


@op(method=True)
def flip(x: Tensor, dims) -> Tensor:
    """Reverse the order of the elements along ``dims``.

    Differs from PyTorch: the result is a view that shares memory with ``x`` (PyTorch's ``flip`` copies).

    Args:
        x: the input, any shape ``(*)``.
        dims: the dimension (an int) or dimensions (a tuple or list of ints) to reverse.

    Returns:
        A view of ``x``, same shape.

    Examples:
        >>> cr.flip(cr.tensor([1.0, 2.0, 3.0]), 0)
        tensor([3., 2., 1.])
        >>> cr.tensor([[1, 2], [3, 4]]).flip((0, 1))
        tensor([[4, 3],
                [2, 1]])
    """
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    axes = tuple(normalize_dim(d, x._data.ndim, "flip") for d in dims)
    return apply1(_flip, x, axes)


@op(method=True)
def contiguous(x: Tensor, memory_format=None) -> Tensor:
    """``x`` in row-major (C-contiguous) memory: ``x`` itself if it already is, else a copy.

    Args:
        x: the input, any shape ``(*)``.
        memory_format: PyTorch's ``memory_format`` (``chainrule.contiguous_format``, ``channels_last``),
            accepted and ignored: the result is always C-contiguous.

    Returns:
        A C-contiguous tensor of ``x``'s shape and dtype.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]]).t()
        >>> x.is_contiguous(), cr.contiguous(x).is_contiguous()
        (False, True)
    """
    if x._data.flags.c_contiguous:
        return x
    return apply1(_contiguous, x)


@op(aliases=("concat", "concatenate"))
def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; all other sizes must match.

    Also ``chainrule.concat`` and ``chainrule.concatenate``.  Integer or bool tensors joined with float
    ones are cast to the float dtype; two different float dtypes are an error (as everywhere in chainrule).

    Args:
        tensors: a non-empty sequence of tensors with the same number of dimensions (at least 1), of
            shapes ``(*, n_i, *)`` that agree except in dimension ``dim``.
        dim: the dimension to join along (default 0).

    Returns:
        A new tensor of shape ``(*, sum of the n_i, *)`` (the one tensor itself when there is only one;
            PyTorch copies it).

    Raises:
        ShapeError: the sequence is empty, a tensor is 0-d, or the other sizes differ.
        TypeError: an element is not a Tensor.

    Examples:
        >>> cr.cat([cr.tensor([1.0, 2.0]), cr.tensor([3.0])])
        tensor([1., 2., 3.])
        >>> cr.cat([cr.zeros(2, 3), cr.ones(2, 1)], dim=1).shape
        (2, 4)
    """
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("cat: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat: element {i} is a {type(t).__name__}, not a Tensor")
    tensors = _same_dtype(tensors, "cat")
    first = tensors[0]._data
    nd = first.ndim
    if nd == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dim(dim, nd, "cat")
    for i, t in enumerate(tensors):
        shape = t._data.shape
        if len(shape) != nd or any(s != f for j, (s, f) in enumerate(zip(shape, first.shape)) if j != axis):
            raise ShapeError(
                f"cat: tensor {i} has shape {shape} but tensor 0 has shape {first.shape}; "
                f"sizes must match except in dimension {axis}"
            )
    if len(tensors) == 1:
        return tensors[0]
    sizes = tuple(t._data.shape[axis] for t in tensors)
    return applyn(_cat, tensors, axis, sizes)


@op()
def stack(tensors, dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dimension.

    Args:
        tensors: a non-empty sequence of tensors of one shape ``(*)``.
        dim: where the new dimension goes in the result, from ``-ndim - 1`` to ``ndim`` (default 0).

    Returns:
        A new tensor with one more dimension, of size ``len(tensors)`` at ``dim``.

    Raises:
        ShapeError: the sequence is empty or the shapes differ.

    Examples:
        >>> a, b = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
        >>> cr.stack([a, b])
        tensor([[1., 2.],
                [3., 4.]])
        >>> cr.stack([a, b], dim=1).shape
        (2, 2)
    """
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: expected a non-empty sequence of tensors")
    tensors = _same_dtype(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise ShapeError(f"stack: tensor {i} has shape {t._data.shape} but tensor 0 has shape {shape}")
    axis = normalize_dim(dim, len(shape) + 1, "stack")
    return applyn(_stack, tensors, axis)


@op(method=True)
def split(x: Tensor, split_size_or_sections, dim: int = 0):
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes.

    Args:
        x: the input, any shape ``(*)``.
        split_size_or_sections: an int, the size of every piece (the last one holds what remains), or a
            list of sizes that sum to ``x.shape[dim]``.
        dim: the dimension to split (default 0).

    Returns:
        A tuple of views of ``x``, in order (``(x,)`` when there is only one piece).

    Raises:
        ShapeError: the size is not positive or the sections do not sum to ``x.shape[dim]``.

    Examples:
        >>> x = cr.arange(5)
        >>> cr.split(x, 2)
        (tensor([0, 1]), tensor([2, 3]), tensor([4]))
        >>> tuple(p.shape for p in x.split([1, 4]))
        ((1,), (4,))
    """
    axis = normalize_dim(dim, x._data.ndim, "split")
    n = x._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ShapeError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} sum to {sum(sizes)}, but dimension {dim} has size {n}")
    if len(sizes) <= 1:
        return (x,)
    return apply1(_split, x, axis, tuple(sizes))


@op(method=True)
def chunk(x: Tensor, chunks: int, dim: int = 0):
    """Split into ``chunks`` pieces of ceil(n / chunks) (fewer if n is small), as in PyTorch.

    Args:
        x: the input, any shape ``(*)``.
        chunks: the number of pieces wanted (positive).
        dim: the dimension to split (default 0).

    Returns:
        A tuple of at most ``chunks`` views of ``x``; the last may be smaller.

    Raises:
        ShapeError: ``chunks`` is not positive.

    Examples:
        >>> cr.chunk(cr.arange(5), 3)
        (tensor([0, 1]), tensor([2, 3]), tensor([4]))
        >>> len(cr.arange(6).chunk(4))
        3
    """
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    n = x._data.shape[normalize_dim(dim, x._data.ndim, "chunk")]
    size = max(-(-n // chunks), 1)
    return split(x, size, dim)


@op(method=True)
def unbind(x: Tensor, dim: int = 0):
    """The slices of ``x`` along ``dim``, as a tuple (``dim`` removed).

    Args:
        x: the input, any shape ``(*)`` with at least one dimension.
        dim: the dimension to take apart (default 0).

    Returns:
        A tuple of ``x.shape[dim]`` views of ``x``, each of ``x``'s shape without ``dim``.

    Examples:
        >>> rows = cr.unbind(cr.tensor([[1, 2], [3, 4]]))
        >>> rows
        (tensor([1, 2]), tensor([3, 4]))
        >>> tuple(c.tolist() for c in cr.tensor([[1, 2], [3, 4]]).unbind(1))
        ([1, 3], [2, 4])
    """
    axis = normalize_dim(dim, x._data.ndim, "unbind")
    lead = (slice(None),) * axis
    return tuple(x[lead + (i,)] for i in range(x._data.shape[axis]))


@op(method=True)
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start + length`` of ``x`` along ``dim``.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to slice.
        start: the first index kept.
        length: how many indices are kept.

    Returns:
        A view of ``x`` with size ``length`` in dimension ``dim``.

    Raises:
        IndexingError: ``start`` is outside the dimension or ``start + length`` runs past its end (PyTorch
            raises too).

    Examples:
        >>> cr.narrow(cr.arange(6), 0, 1, 3)
        tensor([1, 2, 3])
        >>> cr.zeros(2, 5).narrow(1, 2, 2).shape
        (2, 2)
    """
    axis = normalize_dim(dim, x._data.ndim, "narrow")
    size = x._data.shape[axis]
    start, length = int(start), int(length)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        from ..errors import IndexingError  # noqa: PLC0415

        raise IndexingError(
            f"narrow: start {start} + length {length} does not fit dimension {dim} of size {size} "
            f"(input shape {x._data.shape})"
        )
    return x[(slice(None),) * axis + (slice(start, start + length),)]


@op(method=True)
def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant, a reflection, the edge values or a wrap-around; ``pad`` lists (before, after) pairs.

    ``pad=(1, 1, 2, 0)`` pads the last dimension by 1 on each side and the one
    before it by 2 at the start, as in ``torch.nn.functional.pad``. Modes:
    ``'constant'`` fills with ``value``; ``'reflect'`` mirrors the input
    without repeating the edge (``[1, 2, 3]`` padded by 2 gives
    ``[3, 2, 1, 2, 3, 2, 1]``); ``'replicate'`` repeats the edge value;
    ``'circular'`` wraps around. The gradient of the constant mode is the
    incoming gradient with the padding cut off; the other modes gather, so
    their gradient adds each padded position's gradient to its source. Differs
    from PyTorch: no negative padding (PyTorch crops with it), and the
    non-constant modes accept any dimensions (PyTorch: the last 1-3 of a 2-D to
    5-D input).

    Args:
        x: the input, any shape ``(*)``.
        pad: a tuple of an even number of non-negative ints, (before, after) for the last dimension, then
            for the one before it, and so on, for at most ``x.ndim`` dimensions.
        mode: ``'constant'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value: the fill value of the constant mode (default 0.0).

    Returns:
        A new tensor of ``x``'s dtype, each padded dimension larger by ``before + after``.

    Raises:
        ShapeError: ``pad`` has an odd length, too many pairs or a negative entry; a reflection at least as
            wide as the dimension, a wrap-around wider than it, or an edge of an empty dimension.
        ValueError: an unknown ``mode``.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0]])
        >>> cr.pad(x, (1, 1, 1, 0))
        tensor([[0., 0., 0., 0.],
                [0., 1., 2., 0.]])
        >>> x.pad((2, 0), value=-1.0)
        tensor([[-1., -1.,  1.,  2.]])
        >>> cr.pad(cr.tensor([1.0, 2.0, 3.0]), (2, 2), mode="reflect")
        tensor([3., 2., 1., 2., 3., 2., 1.])
        >>> cr.pad(cr.tensor([1.0, 2.0, 3.0]), (1, 2), mode="circular")
        tensor([3., 1., 2., 3., 1., 2.])
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x._data.ndim:
        raise ShapeError(f"pad: {pad} must hold (before, after) pairs for at most {x._data.ndim} dimensions")
    if any(p < 0 for p in pad):
        raise ShapeError(f"pad: negative padding {pad} is not supported; slice the tensor instead")
    if mode != "constant":
        return _pad_by_gather(x, pad, mode)
    widths = [(0, 0)] * x._data.ndim
    for i in range(len(pad) // 2):
        widths[x._data.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return apply1(_pad, x, tuple(widths), value)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_by_gather(x: Tensor, pad: tuple, mode: str) -> Tensor:
    """Reflect, replicate or circular padding: one gather per padded dimension (its vjp scatter-adds)."""
    out = x
    for i in range(len(pad) // 2):
        axis = x._data.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if not before and not after:
            continue
        size = x._data.shape[axis]
        positions = np.arange(-before, size + after)
        if mode == "reflect":
            if before >= size or after >= size:
                raise ShapeError(
                    f"pad: reflect padding ({before}, {after}) must be less than the size {size} of dimension "
                    f"{axis} of an input of shape {tuple(x._data.shape)}"
                )
            index = np.abs(positions)
            index = np.where(index > size - 1, 2 * (size - 1) - index, index)
        elif mode == "replicate":
            if size == 0:
                raise ShapeError(f"pad: cannot replicate the edge of the empty dimension {axis}")
            index = np.clip(positions, 0, size - 1)
        else:
            if before > size or after > size:
                raise ShapeError(
                    f"pad: circular padding ({before}, {after}) must be at most the size {size} of dimension "
                    f"{axis} of an input of shape {tuple(x._data.shape)}"
                )
            index = positions % size
        out = out[(slice(None),) * axis + (index,)]
    return out


@op(method=True)
def repeat(x: Tensor, *sizes) -> Tensor:
    """Tile x: ``repeat(2, 3)`` repeats the last two dimensions 2 and 3 times (PyTorch's repeat).

    With more counts than ``x`` has dimensions, ``x`` is first given leading size-1 dimensions.  The whole
    tensor is tiled (NumPy's ``tile``), not each element repeated (NumPy's ``repeat``).  The gradient sums
    the incoming gradient over the copies.

    Args:
        x: the input, any shape ``(*)``.
        sizes: the repeat count of each dimension, as separate ints or one tuple; at least ``x.ndim`` of them.

    Returns:
        A new tensor of shape ``(sizes[i] * shape[i] ...)``, where ``shape`` is ``x``'s shape padded with
            leading ones to ``len(sizes)`` dimensions.

    Raises:
        ShapeError: fewer counts than ``x`` has dimensions.

    Examples:
        >>> x = cr.tensor([1, 2])
        >>> cr.repeat(x, 2)
        tensor([1, 2, 1, 2])
        >>> x.repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    sizes = _shape_arg(sizes, "repeat")
    if len(sizes) < x._data.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat counts for a tensor with {x._data.ndim} dimensions")
    shape = (1,) * (len(sizes) - x._data.ndim) + x._data.shape
    x = reshape(x, shape)
    interleaved = []
    expanded = []
    for r, s in zip(sizes, shape):
        interleaved += [1, s]
        expanded += [r, s]
    out = expand(reshape(x, tuple(interleaved)), tuple(expanded))
    return reshape(contiguous(out), tuple(r * s for r, s in zip(sizes, shape)))


@op(method=True)
def tile(x: Tensor, dims) -> Tensor:
    """Tile x, with fewer counts than dimensions allowed: ``tile(x, (2,))`` repeats the last dimension.

    ``repeat`` with ``dims`` padded with leading ones to ``x.ndim`` entries, as PyTorch's ``tile``.

    Args:
        x: the input, any shape ``(*)``.
        dims: the repeat counts, a tuple or list of ints, matched to the last dimensions of ``x``.

    Returns:
        A new tensor; each dimension is its size times its count.

    Examples:
        >>> x = cr.tensor([[1, 2], [3, 4]])
        >>> cr.tile(x, (2,))
        tensor([[1, 2, 1, 2],
                [3, 4, 3, 4]])
        >>> x.tile((2, 1)).shape
        (4, 2)
    """
    dims = tuple(dims)
    if len(dims) < x._data.ndim:
        dims = (1,) * (x._data.ndim - len(dims)) + dims
    return repeat(x, *dims)


# ---------------------------------------------------------------------------
# roll, meshgrid


@primitive("roll")
def _roll(xp, x, shifts, axes):
    return xp.roll(x, shifts, axes)


@_roll.defvjp
def _roll_vjp(ctx, g):
    shifts, axes = ctx.args
    back = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
    return apply1(_roll, g, back, axes)


_roll.defjvp(linear_jvp(_roll))


@op(method=True)
def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """Shift the elements along ``dims`` by ``shifts``, wrapping around at the end.

    With ``dims=None`` the tensor is flattened, rolled and given its shape back.  The gradient is rolled
    back by ``-shifts``.

    Args:
        x: the input, any shape ``(*)``.
        shifts: an int, or a tuple of ints with one per entry of ``dims``; positive shifts move elements
            towards higher indices.
        dims: None (the default: the flattened tensor), an int, or a tuple of ints.

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        ShapeError: ``shifts`` and ``dims`` differ in length, or a dim is out of range.

    Examples:
        >>> cr.roll(cr.tensor([1, 2, 3, 4]), 1)
        tensor([4, 1, 2, 3])
        >>> cr.arange(6).reshape(2, 3).roll((1, -1), (0, 1))
        tensor([[4, 5, 3],
                [1, 2, 0]])
    """
    many = isinstance(shifts, (tuple, list))
    shift_list = list(shifts) if many else [shifts]
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shift_list):
        raise TypeError(f"roll: shifts must be an int or a tuple of ints, got {shifts!r}")
    shift_list = [int(s) for s in shift_list]
    if dims is None:
        if len(shift_list) != 1:
            raise ShapeError(f"roll: with dims=None, shifts must be one int, got {tuple(shifts)}")
        return apply1(_roll, x, shift_list[0], None)
    dim_list = list(dims) if isinstance(dims, (tuple, list)) else [dims]
    if len(dim_list) != len(shift_list):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dim(d, x._data.ndim, "roll") for d in dim_list)
    if x._data.ndim == 0:
        return apply1(_roll, x, 0, None)
    return apply1(_roll, x, tuple(shift_list), axes)


@op()
def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-d tensors: one output per input, each of the grid's full shape.

    With ``indexing='ij'`` (the default, as in PyTorch) the grid has shape ``(n_0, n_1, ...)`` and output
    ``k`` varies along dimension ``k``; with ``'xy'`` (NumPy's default) the first two dimensions are
    swapped, ``(n_1, n_0, ...)``.  The outputs are expanded views; gradients sum back into the inputs.

    Differs from PyTorch: no warning when ``indexing`` is not given.

    Args:
        *tensors: 1-d (or 0-d) tensors, also accepted as a single list or tuple.
        indexing: ``'ij'`` (matrix indexing, default) or ``'xy'`` (Cartesian).

    Returns:
        A tuple of tensors, one per input, each of the grid's shape and its input's dtype.

    Raises:
        ShapeError: an input has more than one dimension.
        ValueError: ``indexing`` is neither ``'ij'`` nor ``'xy'``.

    Examples:
        >>> rows, cols = cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), indexing="ij")
        >>> rows
        tensor([[1, 1, 1],
                [2, 2, 2]])
        >>> cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), indexing="xy")[0].shape
        (3, 2)
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid: input {i} is a {type(t).__name__}, not a Tensor")
        if t._data.ndim > 1:
            raise ShapeError(f"meshgrid: inputs must be 0-d or 1-d, input {i} has shape {t.shape}")
    flat = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t._data.shape[0] for t in flat)
    grids = []
    for k, t in enumerate(flat):
        view = [1] * len(flat)
        view[k] = shape[k]
        grids.append(t.reshape(view).expand(shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
