"""Sorting, selection, running (cumulative) reductions, counting and binary search.

``sort``, ``argsort``, ``topk``, ``kthvalue``, ``median`` (with ``dim``),
``mode``, ``cummax`` and ``cummin`` find their indices on the raw arrays (no
gradient) and take their values with ``gather``, so their derivative is
gather's: the whole gradient of an output element goes to the input element
its index names, and second order comes free.  Ties are broken as PyTorch
2.13.0 breaks them where it documents a rule: ``sort`` is stable (equal
elements keep their order, also with ``descending=True``), ``cummax`` and
``cummin`` name the *last* of equal running extremes, ``mode`` the last
occurrence of the smallest most frequent value.  ``cumprod`` and
``logcumsumexp`` are primitives with their own rules.  ``unique``,
``unique_consecutive``, ``searchsorted``, ``bucketize``, ``bincount`` and
``histc`` return integers or counts with no gradient.

Because the indices are read from the raw arrays, these ops do not run under
``vmap`` (it refuses them with a clear error).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd.graph import apply1, primitive
from ..backend import array_module
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from ._util import is_half, normalize_dim
from .casting import in_float32
from .index import gather
from .reduce import values_indices
from .registry import op

# ---------------------------------------------------------------------------
# sort, argsort, topk


def _argsort(xp, data, axis: int, descending: bool):
    """Stable sort order along ``axis``; descending keeps equal elements in their original order too."""
    if not descending:
        return xp.argsort(data, axis=axis, kind="stable")
    # a stable ascending sort of the reversed array, reversed, is a stable descending sort
    n = data.shape[axis]
    order = xp.argsort(xp.flip(data, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(order, axis)


def _sortable(x: Tensor, op_name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op_name}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind == "c":
        raise DTypeError(f"{op_name}: complex tensors have no order ({x._data.dtype})")


@op(method=True)
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sort along ``dim``: the named tuple ``(values, indices)`` with ``values == x.gather(dim, indices)``.

    The sort is always stable: equal elements keep their order, ascending or descending, so ``stable``
    changes nothing (PyTorch promises this order of ties only with ``stable=True``).  NaN counts as larger than
    every number, as in PyTorch.  The gradient of ``values`` goes back through the indices (``gather``'s
    rule): each input element gets the gradient of the place it was sorted to.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to sort along (default -1, the last).
        descending: sort from largest to smallest (default False).
        stable: accepted for PyTorch's signature; the sort is stable either way.

    Returns:
        ``values_indices(values, indices)``: ``values`` of ``x``'s shape and dtype, ``indices`` int64.

    Raises:
        DTypeError: ``x`` is complex.
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> x = cr.tensor([3.0, 1.0, 2.0, 1.0])
        >>> cr.sort(x)
        values_indices(values=tensor([1., 1., 2., 3.]), indices=tensor([1, 3, 2, 0]))
        >>> x.sort(descending=True).indices
        tensor([0, 2, 1, 3])
    """
    _sortable(x, "sort")
    if x._data.ndim == 0:
        values, indices = sort(x.reshape(1), 0)
        return values_indices(values.reshape(()), indices.reshape(()))
    axis = normalize_dim(dim, x._data.ndim, "sort")
    indices = _argsort(array_module(x._data), x._data, axis, bool(descending))
    return values_indices(gather(x, axis, indices), _wrap(indices.astype(np.int64, copy=False)))


@op(method=True)
def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (``sort(x, dim, descending).indices``); int64, no gradient.

    Stable: equal elements keep their order (ascending or descending).

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to sort along (default -1, the last).
        descending: order from largest to smallest (default False).
        stable: accepted for PyTorch's signature; the order is stable either way.

    Returns:
        An int64 tensor of ``x``'s shape.

    Raises:
        DTypeError: ``x`` is complex.
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.argsort(cr.tensor([[2.0, 0.5, 1.0]]))
        tensor([[1, 2, 0]])
        >>> cr.tensor([1, 3, 3, 2]).argsort(descending=True)
        tensor([1, 2, 3, 0])
    """
    _sortable(x, "argsort")
    if x._data.ndim == 0:
        return _wrap(array_module(x._data).zeros((), dtype=np.int64))
    axis = normalize_dim(dim, x._data.ndim, "argsort")
    return _wrap(_argsort(array_module(x._data), x._data, axis, bool(descending)).astype(np.int64, copy=False))


@op(method=True)
def msort(x: Tensor) -> Tensor:
    """``x`` sorted along its first dimension: ``sort(x, dim=0).values``.

    Args:
        x: the input, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.msort(cr.tensor([[2.0, 1.0], [0.0, 3.0]]))
        tensor([[0., 1.],
                [2., 3.]])
    """
    return sort(x, 0).values


@op(method=True)
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``: the named tuple ``(values, indices)``.

    The values come out sorted (largest first, or smallest first with ``largest=False``) whatever
    ``sorted`` says.  The gradient of each value goes to the element its index names.

    Differs from PyTorch: among equal elements the one seen first is taken first; PyTorch does not specify
    which of the tied elements it returns (its CPU kernel often picks later ones), so ``indices`` can
    differ on ties while ``values`` agree.

    Args:
        x: the input, any shape ``(*)``.
        k: how many elements to take, ``0 <= k <= x.shape[dim]``.
        dim: the dimension to search along (default -1, the last; None means the last too).
        largest: take the largest elements (default True) or the smallest (False).
        sorted: accepted for PyTorch's signature; the result is sorted either way.

    Returns:
        ``values_indices(values, indices)``, both of ``x``'s shape with ``k`` in dimension ``dim``;
        ``values`` in ``x``'s dtype, ``indices`` int64.

    Raises:
        ShapeError: ``k`` is out of range or ``dim`` is out of range.
        TypeError: ``k`` is not an integer.

    Examples:
        >>> x = cr.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
        >>> cr.topk(x, 2)
        values_indices(values=tensor([[5., 3.],
                [6., 4.]]), indices=tensor([[1, 2],
                [2, 0]]))
        >>> x.topk(1, dim=0, largest=False).values
        tensor([[1., 2., 3.]])
    """
    _sortable(x, "topk")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__}")
    dim = -1 if dim is None else dim  # PyTorch's signature says dim=None for the last dimension
    size = x._data.shape[normalize_dim(dim, x._data.ndim, "topk")] if x._data.ndim else 1
    if not 0 <= k <= size:
        raise ShapeError(f"topk: k={k} is out of range for dimension {dim} of size {size} (input {x.shape})")
    if x._data.ndim == 0:
        return sort(x)
    axis = normalize_dim(dim, x._data.ndim, "topk")
    indices = _topk_indices(array_module(x._data), x._data, axis, int(k), bool(largest))
    return values_indices(gather(x, axis, indices), _wrap(indices.astype(np.int64, copy=False)))


def _topk_indices(xp, data, axis: int, k: int, largest: bool):
    """The first ``k`` of the stable sort order along ``axis``, without sorting everything when k is small."""
    n = data.shape[axis]
    if 8 * k > n or n < 256 or (data.dtype.kind == "f" and bool(xp.isnan(data).any())):
        return _argsort(xp, data, axis, largest)[(slice(None),) * axis + (slice(0, k),)]
    # partition for the k-th value t: everything beyond t is in, and of the elements equal to t the first
    # ones by position (what the stable sort would take); then sort only those k
    rows = xp.moveaxis(data, axis, -1)
    kth = n - k if largest else k - 1
    threshold = xp.partition(rows, kth, axis=-1)[..., kth : kth + 1]
    beyond = rows > threshold if largest else rows < threshold
    tied = rows == threshold
    room = k - beyond.sum(axis=-1, keepdims=True)
    chosen = beyond | (tied & (xp.cumsum(tied, axis=-1) <= room))
    positions = xp.nonzero(chosen)[-1].reshape(rows.shape[:-1] + (k,))  # exactly k per row, in position order
    order = _argsort(xp, xp.take_along_axis(rows, positions, axis=-1), -1, largest)
    return xp.moveaxis(xp.take_along_axis(positions, order, axis=-1), -1, axis)


# ---------------------------------------------------------------------------
# kthvalue, median


def _kth_indices(xp, data, axis: int, position: int):
    """Indices (keepdims) of the element at ``position`` of the stable ascending order along ``axis``."""
    order = _argsort(xp, data, axis, False)
    return order[(slice(None),) * axis + (slice(position, position + 1),)]


@op(method=True)
def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim`` (``k`` counts from 1) and its index: ``(values, indices)``.

    The gradient of each value goes to the element its index names.  NaN counts as larger than every
    number.  Among equal elements the index is the one a stable sort puts at place ``k`` (PyTorch does not
    specify which; its indices can differ on ties while the values agree).

    Args:
        x: the input, any shape ``(*)``.
        k: which order statistic, ``1 <= k <= x.shape[dim]``.
        dim: the dimension to search along (default -1, the last).
        keepdim: keep ``dim`` as size 1 (default False: drop it).

    Returns:
        ``values_indices(values, indices)``: ``x``'s shape without ``dim`` (size 1 with ``keepdim``);
        ``values`` in ``x``'s dtype, ``indices`` int64.

    Raises:
        ShapeError: ``k`` or ``dim`` is out of range.
        TypeError: ``k`` is not an int.

    Examples:
        >>> x = cr.tensor([[3.0, 1.0, 2.0], [6.0, 5.0, 4.0]])
        >>> cr.kthvalue(x, 2)
        values_indices(values=tensor([2., 5.]), indices=tensor([2, 1]))
        >>> x.kthvalue(1, dim=0, keepdim=True).values
        tensor([[3., 1., 2.]])
    """
    _sortable(x, "kthvalue")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"kthvalue: k must be an int, got {type(k).__name__}")
    if x._data.ndim == 0:
        values, indices = kthvalue(x.reshape(1), k, 0)
        return values_indices(values.reshape(()), indices.reshape(()))
    axis = normalize_dim(dim, x._data.ndim, "kthvalue")
    size = x._data.shape[axis]
    if not 1 <= k <= size:
        raise ShapeError(f"kthvalue: k={k} is out of range for dimension {dim} of size {size} (input {x.shape})")
    indices = _kth_indices(array_module(x._data), x._data, axis, int(k) - 1)
    return _picked(x, axis, indices, keepdim)


def _picked(x: Tensor, axis: int, indices, keepdim: bool):
    values = gather(x, axis, indices)
    indices = indices.astype(np.int64, copy=False)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return values_indices(values, _wrap(indices))


@op(method=True)
def median(x: Tensor, dim=None, keepdim: bool = False):
    """The median: the lower of the two middle elements for an even count (no averaging), as PyTorch's.

    Without ``dim``: a 0-d tensor, and the gradient is split evenly among all elements equal to the median
    (as PyTorch does).  With ``dim``: ``(values, indices)``, the gradient of each value going to the element
    its index names.  A NaN makes the median NaN (its index is the first NaN's; without ``dim``, PyTorch may
    send the gradient to another of several NaNs).

    Args:
        x: the input, any shape ``(*)``, not empty.
        dim: None (the default) for the median of all elements, or the dimension to take it along.
        keepdim: with ``dim``, keep it as size 1 (default False: drop it).

    Returns:
        Without ``dim``: a 0-d tensor of ``x``'s dtype.  With ``dim``: ``values_indices(values, indices)``,
        ``x``'s shape without ``dim``; ``indices`` int64.

    Raises:
        ShapeError: ``x`` is empty or ``dim`` is out of range.

    Examples:
        >>> x = cr.tensor([[1.0, 4.0, 2.0, 3.0], [0.0, 9.0, 5.0, 6.0]])
        >>> cr.median(x)
        tensor(3.)
        >>> x.median(dim=1)
        values_indices(values=tensor([2., 5.]), indices=tensor([2, 2]))
    """
    _sortable(x, "median")
    xp = array_module(x._data)
    if dim is None:
        flat = x.reshape(-1)
        n = flat._data.shape[0]
        if n == 0:
            raise ShapeError(f"median: the input is empty (shape {x.shape})")
        data = flat._data
        index = int(_median_index(xp, data[None], 1)[0, 0])
        value = _wrap(xp.asarray(data[index]).copy())
        if data.dtype.kind != "f":
            return value  # no gradient for integers
        if data.dtype.kind == "f" and bool(xp.isnan(data[index])):  # NaN: all of it to the first NaN
            weights = xp.zeros(n, dtype=data.dtype)
            weights[index] = 1
        else:
            tied = data == data[index]
            weights = (tied / tied.sum()).astype(data.dtype, copy=False)
        # the value exactly, and the gradient split among the tied elements (piecewise linear: no 2nd order)
        return value + ((flat - flat.detach()) * _wrap(weights)).sum()
    if x._data.ndim == 0:
        values, indices = median(x.reshape(1), 0)
        return values_indices(values.reshape(()), indices.reshape(()))
    axis = normalize_dim(dim, x._data.ndim, "median")
    if x._data.shape[axis] == 0:
        raise ShapeError(f"median: dimension {dim} of the input {x.shape} is empty")
    return _picked(x, axis, _median_index(xp, x._data, axis), keepdim)


def _median_index(xp, data, axis: int):
    """Indices (keepdims) of the lower median along ``axis``, or of the first NaN where there is one."""
    n = data.shape[axis]
    indices = _kth_indices(xp, data, axis, (n - 1) // 2)
    if data.dtype.kind == "f":
        nan = xp.isnan(data)
        has_nan = nan.any(axis=axis, keepdims=True)
        if bool(has_nan.any()):
            first_nan = xp.argmax(nan, axis=axis, keepdims=True)
            indices = xp.where(has_nan, first_nan, indices)
    return indices


# ---------------------------------------------------------------------------
# unique


@op(method=True)
def unique(
    x: Tensor,
    sorted: bool = True,  # noqa: A002 - PyTorch's name
    return_inverse: bool = False,
    return_counts: bool = False,
    dim=None,
):
    """The distinct elements of ``x`` (or distinct slices along ``dim``), sorted; no gradient.

    As in PyTorch, the result carries no gradient (``unique`` is not differentiable there either).

    Args:
        x: the input, any shape ``(*)``.
        sorted: accepted for PyTorch's signature; the result is sorted either way (so is PyTorch's on CPU).
        return_inverse: also return, for each element of ``x`` (each slice along ``dim``), the index of its
            value in the result.
        return_counts: also return how often each distinct value occurs.
        dim: None (the default) to flatten ``x`` first; an int to find the distinct slices along it.

    Returns:
        The distinct values (1-d, or ``x``'s shape with the number of distinct slices in ``dim``);
        with ``return_inverse`` and/or ``return_counts``, a tuple ``(values, inverse, counts)`` holding
        the ones asked for.  ``inverse`` has ``x``'s shape (``(x.shape[dim],)`` with ``dim``); ``inverse``
        and ``counts`` are int64.

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> x = cr.tensor([3, 1, 3, 2, 1])
        >>> cr.unique(x)
        tensor([1, 2, 3])
        >>> values, inverse, counts = x.unique(return_inverse=True, return_counts=True)
        >>> inverse, counts
        (tensor([2, 0, 2, 1, 0]), tensor([2, 1, 2]))
        >>> cr.unique(cr.tensor([[1, 2], [1, 2], [0, 5]]), dim=0)
        tensor([[0, 5],
                [1, 2]])
    """
    data = x._data
    xp = array_module(data)
    axis = None if dim is None else normalize_dim(dim, data.ndim, "unique")
    if axis is not None and data.ndim == 0:
        raise ShapeError("unique: a 0-d tensor has no dimension to take slices along")
    values, inverse, counts = xp.unique(data, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(data.shape if axis is None else (data.shape[axis],))
    if not (return_inverse or return_counts):
        return _wrap(values)
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap(inverse.astype(np.int64, copy=False)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64, copy=False)))
    return tuple(out)


@op(method=True)
def unique_consecutive(x: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along ``dim``) to one; no gradient.

    Unlike ``unique`` nothing is sorted: ``[1, 1, 2, 1]`` gives ``[1, 2, 1]``.

    Args:
        x: the input, any shape ``(*)``.
        return_inverse: also return, for each element (slice), the index of its run in the result.
        return_counts: also return the length of each run.
        dim: None (the default) to flatten ``x`` first; an int to compare whole slices along it.

    Returns:
        The values, 1-d (or ``x``'s shape with the number of runs in ``dim``); with ``return_inverse``
        and/or ``return_counts``, a tuple ``(values, inverse, counts)`` of the ones asked for (int64).

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.unique_consecutive(cr.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
        (tensor([1, 2, 3, 1]), tensor([2, 2, 1, 2]))
    """
    data = x._data
    xp = array_module(data)
    if dim is None:
        moved, shape = data.reshape(-1, 1), data.shape
    else:
        axis = normalize_dim(dim, data.ndim, "unique_consecutive")
        if data.ndim == 0:
            raise ShapeError("unique_consecutive: a 0-d tensor has no dimension to take slices along")
        moved = xp.moveaxis(data, axis, 0)
        shape = (data.shape[axis],)
        moved = moved.reshape(moved.shape[0], -1)
    n = moved.shape[0]
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (moved[1:] != moved[:-1]).any(axis=1)
    first = xp.nonzero(starts)[0]
    if dim is None:
        values = data.reshape(-1)[first]
    else:
        values = xp.take(data, first, axis=axis)
    out = [_wrap(values)]
    if return_inverse:
        out.append(_wrap((xp.cumsum(starts) - 1).astype(np.int64).reshape(shape)))
    if return_counts:
        out.append(_wrap(xp.diff(xp.append(first, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@op(method=True)
def mode(x: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` and where it occurs: the named tuple ``(values, indices)``.

    Among equally frequent values the smallest is taken, and the index is that of its *last* occurrence
    (both as PyTorch).  The gradient of each value goes to the element its index names.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to search along (default -1, the last).
        keepdim: keep ``dim`` as size 1 (default False: drop it).

    Returns:
        ``values_indices(values, indices)``: ``x``'s shape without ``dim``; ``indices`` int64.

    Raises:
        ShapeError: ``dim`` is out of range or empty.

    Examples:
        >>> cr.mode(cr.tensor([[1.0, 2.0, 2.0, 3.0, 3.0], [5.0, 4.0, 4.0, 5.0, 1.0]]), 1)
        values_indices(values=tensor([2., 4.]), indices=tensor([2, 2]))
    """
    _sortable(x, "mode")
    if x._data.ndim == 0:
        values, indices = mode(x.reshape(1), 0)
        return values_indices(values.reshape(()), indices.reshape(()))
    axis = normalize_dim(dim, x._data.ndim, "mode")
    xp = array_module(x._data)
    rows = xp.moveaxis(x._data, axis, -1)
    n = rows.shape[-1]
    if n == 0:
        raise ShapeError(f"mode: dimension {dim} of the input {x.shape} is empty")
    order = xp.argsort(rows, axis=-1, kind="stable")  # equal values together, in position order
    ranked = xp.take_along_axis(rows, order, axis=-1)
    starts = xp.ones(rows.shape, dtype=bool)
    starts[..., 1:] = ranked[..., 1:] != ranked[..., :-1]
    run_start = xp.maximum.accumulate(xp.where(starts, xp.arange(n), 0), axis=-1)
    length = xp.arange(n) - run_start + 1  # elements so far in this run: the run's last element has its length
    best = xp.argmax(length, axis=-1, keepdims=True)  # the first (smallest) value among the longest runs
    ends = xp.take_along_axis(order, best, axis=-1)  # its last occurrence: the run's end in position order
    indices = xp.moveaxis(ends, -1, axis)
    return _picked(x, axis, indices, keepdim)


@op()
def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value ``0, 1, ..., max`` occurs in a 1-d int tensor (or the sum of its weights).

    Args:
        input: a 1-d tensor of non-negative integers.
        weights: optional tensor of ``input``'s shape; each occurrence adds its weight instead of 1.
        minlength: the least length of the result (default 0).

    Returns:
        A 1-d tensor of length ``max(input.max() + 1, minlength)``: int64 counts, or the weights' dtype
        (float64 for integer weights).  No gradient, as in PyTorch.

    Raises:
        ShapeError: ``input`` is not 1-d or ``weights`` has another shape.
        DTypeError: ``input`` is not an integer tensor.
        ValueError: ``input`` holds a negative value.

    Examples:
        >>> cr.bincount(cr.tensor([0, 2, 2]), minlength=4)
        tensor([1, 0, 2, 0])
        >>> cr.bincount(cr.tensor([0, 2, 2]), cr.tensor([0.5, 1.0, 2.0]))
        tensor([0.5000, 0.0000, 3.0000])
    """
    data = input._data
    xp = array_module(data)
    if data.ndim != 1:
        raise ShapeError(f"bincount: the input must be 1-d, got shape {input.shape}")
    if data.dtype.kind not in "iub":
        raise DTypeError(f"bincount: the input must hold integers, got {data.dtype}")
    if data.size and int(data.min()) < 0:
        raise ValueError("bincount: the input must not hold negative values")
    if weights is None:
        return _wrap(xp.bincount(data, minlength=minlength).astype(np.int64, copy=False))
    w = weights._data if isinstance(weights, Tensor) else xp.asarray(weights)
    if w.shape != data.shape:
        raise ShapeError(f"bincount: weights have shape {tuple(w.shape)}, the input {input.shape}")
    dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return _wrap(xp.bincount(data, weights=w, minlength=minlength).astype(dtype, copy=False))


@op(method=True)
def histc(x: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``x`` with ``bins`` equal bins over ``[min, max]``; no gradient.

    With ``min == max`` (the default 0 and 0) the data's own minimum and maximum are used.  Elements
    outside the range are ignored; ``max`` itself falls into the last bin.

    Args:
        x: a floating point tensor of any shape.
        bins: the number of bins (default 100).
        min: the lower end of the range.
        max: the upper end of the range.

    Returns:
        A 1-d tensor of ``bins`` counts in ``x``'s dtype.

    Raises:
        DTypeError: ``x`` is not a floating point tensor.
        ValueError: ``bins`` is not positive or ``min > max``.

    Examples:
        >>> cr.histc(cr.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    data = x._data
    xp = array_module(data)
    if data.dtype.kind != "f":
        raise DTypeError(f"histc: expected a floating point tensor, got {data.dtype}")
    if bins <= 0:
        raise ValueError(f"histc: bins must be positive, got {bins}")
    low, high = float(min), float(max)
    if low > high:
        raise ValueError(f"histc: min ({low}) must not exceed max ({high})")
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1  # one value (or none): PyTorch widens the range by 1 each side
    counts, _ = xp.histogram(data.reshape(-1), bins=bins, range=(low, high))
    return _wrap(counts.astype(data.dtype))


# ---------------------------------------------------------------------------
# running reductions: cumprod, cummax, cummin, logcumsumexp


@primitive("cumprod", save=True, save_output=True)
def _cumprod(xp, x, axis):
    return xp.cumprod(x, axis=axis)


@_cumprod.defvjp
def _cumprod_vjp(ctx, g):
    (x,) = ctx.saved
    (axis,) = ctx.args
    if not (x._data == 0).any():
        # d out[j] / d x[i] = out[j] / x[i] for j >= i: a reversed cumulative sum, divided
        return (g * ctx.output()).flip(axis).cumsum(axis).flip(axis) / x
    return _cumprod_grad_with_zeros(x, g, axis)


@_cumprod.defjvp
def _cumprod_jvp(ctx, t):
    (x,) = ctx.saved
    (axis,) = ctx.args
    if not (x._data == 0).any():
        return ctx.output() * (t / x).cumsum(axis)
    # d out[j] = sum_{i <= j} t[i] * prod_{k <= j, k != i} x[k]
    weights = _cumprod_weights(x, axis)
    return (weights * t.movedim(axis, -1).unsqueeze(-1)).sum(-2).movedim(-1, axis)


def _cumprod_weights(x: Tensor, axis: int) -> Tensor:
    """weights[..., i, j] = prod_{k <= j, k != i} x[k] for j >= i, else 0 (``axis`` moved last, then (i, j))."""
    xp = array_module(x._data)
    moved = x.movedim(axis, -1)
    n = moved._data.shape[-1]
    square = moved.unsqueeze(-2).expand((*moved._data.shape[:-1], n, n))  # square[..., i, k] = x[k]
    others = square.masked_fill(xp.eye(n, dtype=bool), 1.0).cumprod(-1)  # prod_{k <= j, k != i} x[k]
    return others.masked_fill(~xp.triu(xp.ones((n, n), dtype=bool)), 0.0)


def _cumprod_grad_with_zeros(x: Tensor, g: Tensor, axis: int) -> Tensor:
    """sum_{j >= i} g[j] * prod_{k <= j, k != i} x[k], exact with zeros (an (n, n) expansion along ``axis``)."""
    weights = _cumprod_weights(x, axis)
    return (weights * g.movedim(axis, -1).unsqueeze(-2)).sum(-1).movedim(-1, axis)


@op(method=True)
def cumprod(x: Tensor, dim: int, dtype=None) -> Tensor:
    """Cumulative product along ``dim``: ``out[i] = x[0] * x[1] * ... * x[i]``.

    The gradient is ``reversed_cumsum(g * out) / x`` when ``x`` has no zeros, and the exact product of
    the other factors where it has (as PyTorch computes it).  float16 and bfloat16 are multiplied in
    float32 and rounded once.  ``Tensor.cumprod_`` is the in-place form.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to accumulate along (required).
        dtype: if given, ``x`` is cast to this dtype first.

    Returns:
        ``x``'s shape, in ``x``'s dtype (``dtype`` when given; int64 for integer and bool inputs).

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.cumprod(cr.tensor([1.0, 2.0, 3.0, 4.0]), dim=0)
        tensor([ 1.,  2.,  6., 24.])
        >>> x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> x.cumprod(0).sum().backward()
        >>> x.grad
        tensor([1., 8., 0.])
    """
    axis = normalize_dim(dim, x._data.ndim, "cumprod")
    if dtype is not None:
        x = x.to(dtype)
    if is_half(x._data.dtype):
        return in_float32(cumprod, x, dim)
    if x._data.dtype.kind in "biu" and x._data.dtype != np.int64:
        x = x.to(np.int64)
    if x._data.ndim == 0:
        return apply1(_cumprod, x.reshape(1), 0).reshape(())
    return apply1(_cumprod, x, axis)


@op(export=False, method=True)
def cumprod_(self, dim: int, dtype=None):
    """In-place ``cumprod``: the cumulative product along ``dim`` written into this tensor; returns self.

    Args:
        dim: the dimension to accumulate along.
        dtype: accepted for PyTorch's signature; it must be this tensor's dtype (or None).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.cumprod_(0)
        tensor([1., 2., 6.])
    """
    # the rule reads the input's values, which the write-back replaces: it gets a copy of them
    return self._inplace("cumprod_", lambda s: cumprod(s.clone(), dim, dtype))


def _running_extreme(xp, data, axis, largest: bool):
    """Indices of the running maximum (or minimum) along ``axis``: the last of equal extremes, NaN sticks."""
    moved = xp.moveaxis(data, axis, -1)
    if largest:
        running = xp.maximum.accumulate(moved, axis=-1)
        hit = moved >= running
    else:
        running = xp.minimum.accumulate(moved, axis=-1)
        hit = moved <= running
    if moved.dtype.kind == "f":
        hit |= xp.isnan(moved)
    positions = xp.arange(moved.shape[-1], dtype=np.int64)
    index = xp.maximum.accumulate(xp.where(hit, positions, 0), axis=-1)
    return xp.moveaxis(index, -1, axis)


def _cum_extreme(x: Tensor, dim: int, largest: bool, op_name: str):
    _sortable(x, op_name)
    if x._data.ndim == 0:
        values, indices = _cum_extreme(x.reshape(1), 0, largest, op_name)
        return values_indices(values.reshape(()), indices.reshape(()))
    axis = normalize_dim(dim, x._data.ndim, op_name)
    indices = _running_extreme(array_module(x._data), x._data, axis, largest)
    return values_indices(gather(x, axis, indices), _wrap(indices))


@op(method=True)
def cummax(x: Tensor, dim: int):
    """Running maximum along ``dim`` and where it was found: the named tuple ``(values, indices)``.

    ``values[i] = max(x[0], ..., x[i])`` and ``indices[i]`` is the position of that maximum; among equal
    maxima it is the *last* one, and a NaN, once seen, is the maximum from then on (both as in PyTorch).
    The gradient of each value goes to the element its index names.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to run along.

    Returns:
        ``values_indices(values, indices)``, both of ``x``'s shape; ``indices`` int64.

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.cummax(cr.tensor([1.0, 3.0, 2.0, 3.0]), dim=0)
        values_indices(values=tensor([1., 3., 3., 3.]), indices=tensor([0, 1, 1, 3]))
    """
    return _cum_extreme(x, dim, True, "cummax")


@op(method=True)
def cummin(x: Tensor, dim: int):
    """Running minimum along ``dim`` and where it was found: the named tuple ``(values, indices)``.

    ``values[i] = min(x[0], ..., x[i])`` and ``indices[i]`` is the position of that minimum; among equal
    minima it is the *last* one, and a NaN, once seen, is the minimum from then on (both as in PyTorch).
    The gradient of each value goes to the element its index names.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to run along.

    Returns:
        ``values_indices(values, indices)``, both of ``x``'s shape; ``indices`` int64.

    Raises:
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.cummin(cr.tensor([[3, 1, 2, 1]]), dim=1).indices
        tensor([[0, 1, 1, 3]])
    """
    return _cum_extreme(x, dim, False, "cummin")


@primitive("logcumsumexp", save=True, save_output=True)
def _logcumsumexp(xp, x, axis):
    if xp is np:
        return np.logaddexp.accumulate(x, axis=axis)
    top = xp.max(x, axis=axis, keepdims=True)  # CuPy has no ufunc.accumulate: shift by the maximum
    top = xp.where(xp.isfinite(top), top, 0)
    return xp.log(xp.cumsum(xp.exp(x - top), axis=axis)) + top


@_logcumsumexp.defvjp
def _logcumsumexp_vjp(ctx, g):
    # grad[i] = sum_{j >= i} g[j] exp(x[i] - out[j]).  g has either sign, so (as PyTorch does) split it into
    # its positive and negative parts and sum each in log space: both sums stay finite however far x spreads.
    (x,) = ctx.saved
    (axis,) = ctx.args
    out = ctx.output()
    out = out.masked_fill(out._data == -np.inf, 0.0)  # an all -inf prefix: every term is exp(-inf) = 0

    def reversed_log_sum(part: Tensor, keep) -> Tensor:
        logs = part.masked_fill(~keep, 1.0).log().masked_fill(~keep, -np.inf) - out
        return logcumsumexp(logs.flip(axis), axis).flip(axis)

    positive, negative = g._data > 0, g._data < 0
    grad = (reversed_log_sum(g, positive) + x).exp()
    if negative.any():
        grad = grad - (reversed_log_sum(-g, negative) + x).exp()
    return grad


@_logcumsumexp.defjvp
def _logcumsumexp_jvp(ctx, t):
    # d out[j] = sum_{i <= j} t[i] exp(x[i] - out[j]), in log space by the signs of t as the vjp does
    (x,) = ctx.saved
    (axis,) = ctx.args
    out = ctx.output()
    out = out.masked_fill(out._data == -np.inf, 0.0)

    def log_sum(part: Tensor, keep) -> Tensor:
        return logcumsumexp(part.masked_fill(~keep, 1.0).log().masked_fill(~keep, -np.inf) + x, axis)

    positive, negative = t._data > 0, t._data < 0
    tangent = (log_sum(t, positive) - out).exp()
    if negative.any():
        tangent = tangent - (log_sum(-t, negative) - out).exp()
    return tangent


@op(method=True)
def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """``out[i] = log(exp(x[0]) + ... + exp(x[i]))`` along ``dim``, computed without overflow.

    The gradient is ``sum_{j >= i} g[j] * exp(x[i] - out[j])``, summed in log space (positive and
    negative parts of ``g`` apart) so it stays finite however far apart the inputs are.  float16 and
    bfloat16 are computed in float32 and rounded once.

    Differs from PyTorch: where a whole prefix is ``-inf`` (so the output is ``-inf`` there), the gradient
    for those elements is 0; PyTorch's is ``nan``.

    Args:
        x: the input, a floating point tensor of any shape ``(*)``.
        dim: the dimension to accumulate along.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Raises:
        DTypeError: ``x`` is not a floating point tensor.
        ShapeError: ``dim`` is out of range.

    Examples:
        >>> cr.logcumsumexp(cr.tensor([0.0, 0.0, 1000.0]), dim=0)
        tensor([   0.0000,    0.6931, 1000.0000])
    """
    if x._data.dtype.kind != "f" and not is_half(x._data.dtype):
        raise DTypeError(f"logcumsumexp: expected a floating point tensor, got {x._data.dtype} (shape {x.shape})")
    axis = normalize_dim(dim, x._data.ndim, "logcumsumexp")
    if is_half(x._data.dtype):
        return in_float32(logcumsumexp, x, dim)
    if x._data.ndim == 0:
        return apply1(_logcumsumexp, x.reshape(1), 0).reshape(())
    return apply1(_logcumsumexp, x, axis)


# ---------------------------------------------------------------------------
# binary search


def _search_side(right: bool, side, op_name: str) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise ValueError(f"{op_name}: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError(f"{op_name}: side='left' and right=True contradict each other; pass one of them")
    return side


@op()
def searchsorted(
    sorted_sequence: Tensor,
    values,
    *,
    out_int32: bool = False,
    right: bool = False,
    side=None,
    sorter=None,
) -> Tensor:
    """Where each of ``values`` would go in ``sorted_sequence`` to keep it sorted; no gradient.

    With ``side='left'`` (``right=False``, the default) the index ``i`` satisfies
    ``sorted_sequence[i - 1] < v <= sorted_sequence[i]``; with ``side='right'`` (``right=True``)
    ``sorted_sequence[i - 1] <= v < sorted_sequence[i]``.  An N-d ``sorted_sequence`` searches each of
    its last-dimension rows for the matching row of ``values``.

    Args:
        sorted_sequence: a tensor sorted in ascending order along its last dimension (unless ``sorter``
            is given), shape ``(M)`` or ``(*, M)``.
        values: a tensor of any shape (with ``(*, K)`` when ``sorted_sequence`` is ``(*, M)``), or a
            Python scalar.
        out_int32: return int32 indices instead of int64.
        right: search from the right (see above).
        side: ``'left'`` or ``'right'``; the same as ``right`` (they must not contradict).
        sorter: optional int tensor of ``sorted_sequence``'s shape whose entries sort it ascending
            along the last dimension.

    Returns:
        An int64 (or int32) tensor of ``values``'s shape (0-d for a scalar).

    Raises:
        ShapeError: the leading dimensions of the two tensors differ, or ``sorter`` has the wrong shape.
        ValueError: ``side`` is not ``'left'``/``'right'`` or contradicts ``right``.

    Examples:
        >>> seq = cr.tensor([1.0, 3.0, 5.0, 7.0])
        >>> cr.searchsorted(seq, cr.tensor([3.0, 6.0, 9.0]))
        tensor([1, 3, 4])
        >>> cr.searchsorted(seq, 3.0, right=True)
        tensor(2)
    """
    side = _search_side(right, side, "searchsorted")
    seq = sorted_sequence._data
    xp = array_module(seq)
    scalar = not isinstance(values, Tensor)
    vals = xp.asarray(values if scalar else values._data)
    if seq.ndim == 0:
        raise ShapeError("searchsorted: sorted_sequence must have at least one dimension, got a 0-d tensor")
    if sorter is not None:
        order = sorter._data if isinstance(sorter, Tensor) else xp.asarray(sorter)
        if order.shape != seq.shape:
            raise ShapeError(f"searchsorted: sorter has shape {order.shape}, sorted_sequence {seq.shape}")
        seq = xp.take_along_axis(seq, order.astype(np.int64, copy=False), axis=-1)
    if seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side=side)
    else:
        if scalar or vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]:
            raise ShapeError(
                f"searchsorted: values must have shape {seq.shape[:-1]} + (K,) to search a sorted_sequence of "
                f"shape {seq.shape}, got {tuple(vals.shape)}"
            )
        out = xp.empty(vals.shape, dtype=np.int64)
        for row in np.ndindex(*seq.shape[:-1]):
            out[row] = xp.searchsorted(seq[row], vals[row], side=side)
    return _wrap(xp.asarray(out).astype(np.int32 if out_int32 else np.int64, copy=False))


@op()
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:  # noqa: A002
    """The bucket of each element of ``input`` among the sorted ``boundaries``; no gradient.

    With ``right=False`` (the default) the index ``i`` satisfies ``boundaries[i - 1] < v <= boundaries[i]``;
    with ``right=True``, ``boundaries[i - 1] <= v < boundaries[i]``.  It is
    ``searchsorted(boundaries, input, right=right)``.

    Args:
        input: a tensor of any shape, or a Python scalar.
        boundaries: a 1-d tensor sorted in ascending order.
        out_int32: return int32 indices instead of int64.
        right: which side of a boundary equal values go to (see above).

    Returns:
        An int64 (or int32) tensor of ``input``'s shape.

    Raises:
        ShapeError: ``boundaries`` is not 1-d.

    Examples:
        >>> cr.bucketize(cr.tensor([0.5, 1.0, 2.5]), cr.tensor([1.0, 2.0]))
        tensor([0, 0, 2])
        >>> cr.bucketize(cr.tensor([0.5, 1.0, 2.5]), cr.tensor([1.0, 2.0]), right=True)
        tensor([0, 1, 2])
    """
    if boundaries._data.ndim != 1:
        raise ShapeError(f"bucketize: boundaries must be 1-d, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
