"""Triangles and diagonals of matrices (batched over leading dimensions): tril, triu, diagonal, diag, trace.

Two primitives carry the diagonals: ``diagonal`` reads one out of a tensor and
``diagonal_scatter`` writes one into zeros of a given shape.  Each is the
other's adjoint, so each one's vjp is the other and higher orders come free;
``diag_embed``, ``diagflat`` and ``diag`` of a vector are ``diagonal_scatter``,
``trace`` is ``diagonal(x).sum()``, the public ``diagonal_scatter`` (writing
into a copy of a tensor) is a ``where`` over it.  ``tril_indices`` and
``triu_indices`` make index tensors (no gradient).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd.graph import apply1, primitive
from ..autograd.jvp_rules import linear_jvp
from ..backend import array_module, as_dtype, to_device
from ..errors import ShapeError
from ..tensor import Tensor, _wrap
from ._util import normalize_dim
from .registry import op

# ---------------------------------------------------------------------------
# triangles


@primitive("tril")
def _tril(xp, x, k):
    return xp.tril(x, k)


@primitive("triu")
def _triu(xp, x, k):
    return xp.triu(x, k)


# keeping a triangle is linear and self-adjoint: the gradient keeps the same triangle
_tril.defvjp(lambda ctx, g: apply1(_tril, g, *ctx.args))
_triu.defvjp(lambda ctx, g: apply1(_triu, g, *ctx.args))
_tril.defjvp(linear_jvp(_tril))
_triu.defjvp(linear_jvp(_triu))


def _triangle(x: Tensor, diagonal, prim, op_name: str) -> Tensor:
    if x._data.ndim < 2:
        raise ShapeError(f"{op_name}: the input must have at least 2 dimensions, got shape {x.shape}")
    if not isinstance(diagonal, numbers.Integral) or isinstance(diagonal, bool):
        raise TypeError(f"{op_name}: diagonal must be an int, got {type(diagonal).__name__}")
    return apply1(prim, x, int(diagonal))


@op(method=True)
def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: elements above diagonal ``diagonal`` set to 0.

    ``diagonal=0`` keeps the main diagonal, a positive value keeps that many diagonals above it too, a
    negative one removes that many below.  The gradient keeps the same triangle.  ``Tensor.tril_`` is
    the in-place form.

    Args:
        x: the input, shape ``(*, m, n)``.
        diagonal: which diagonal is the last one kept (default 0, the main one).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        ShapeError: ``x`` has fewer than 2 dimensions.

    Examples:
        >>> x = cr.ones(3, 3)
        >>> cr.tril(x)
        tensor([[1., 0., 0.],
                [1., 1., 0.],
                [1., 1., 1.]])
        >>> x.tril(-1)
        tensor([[0., 0., 0.],
                [1., 0., 0.],
                [1., 1., 0.]])
    """
    return _triangle(x, diagonal, _tril, "tril")


@op(method=True)
def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: elements below diagonal ``diagonal`` set to 0.

    ``diagonal=0`` keeps the main diagonal, a positive value removes that many above it too, a negative
    one keeps that many below.  The gradient keeps the same triangle.  ``Tensor.triu_`` is the in-place
    form; ``triu(full((n, n), -inf), 1)`` is the usual causal attention mask.

    Args:
        x: the input, shape ``(*, m, n)``.
        diagonal: which diagonal is the first one kept (default 0, the main one).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        ShapeError: ``x`` has fewer than 2 dimensions.

    Examples:
        >>> cr.triu(cr.ones(2, 3))
        tensor([[1., 1., 1.],
                [0., 1., 1.]])
        >>> cr.ones(3, 3).triu(1)
        tensor([[0., 1., 1.],
                [0., 0., 1.],
                [0., 0., 0.]])
    """
    return _triangle(x, diagonal, _triu, "triu")


@op(export=False, method=True)
def tril_(self, diagonal: int = 0):
    """In-place ``tril``: zero the elements above diagonal ``diagonal`` of the last two dimensions; returns self.

    Args:
        diagonal: which diagonal is the last one kept (default 0, the main one).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.ones(2, 2)
        >>> x.tril_()
        tensor([[1., 0.],
                [1., 1.]])
    """
    return self._inplace("tril_", lambda s: tril(s, diagonal))


@op(export=False, method=True)
def triu_(self, diagonal: int = 0):
    """In-place ``triu``: zero the elements below diagonal ``diagonal`` of the last two dimensions; returns self.

    Args:
        diagonal: which diagonal is the first one kept (default 0, the main one).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.ones(2, 2)
        >>> x.triu_(1)
        tensor([[0., 1.],
                [0., 0.]])
    """
    return self._inplace("triu_", lambda s: triu(s, diagonal))


# ---------------------------------------------------------------------------
# diagonals


def _diagonal_positions(xp, shape1: int, shape2: int, offset: int):
    """(rows, cols) of diagonal ``offset`` in a (shape1, shape2) matrix."""
    n = max(0, min(shape1 + min(offset, 0), shape2 - max(offset, 0)))
    positions = xp.arange(n)
    return positions + max(-offset, 0), positions + max(offset, 0)


@primitive("diagonal")
def _diagonal(xp, x, offset, axis1, axis2, in_shape):
    return xp.diagonal(x, offset, axis1, axis2).copy()  # NumPy's diagonal is a read-only view


@_diagonal.defvjp
def _diagonal_vjp(ctx, g):
    offset, axis1, axis2, in_shape = ctx.args
    return apply1(_diagonal_scatter, g, in_shape, offset, axis1, axis2)


@primitive("diagonal_scatter")
def _diagonal_scatter(xp, src, shape, offset, axis1, axis2):
    """Zeros of ``shape`` with ``src``'s last dimension written on diagonal ``offset`` of (axis1, axis2)."""
    out = xp.zeros(shape, dtype=src.dtype)
    moved = xp.moveaxis(out, (axis1, axis2), (-2, -1))  # a view: writing it writes out
    rows, cols = _diagonal_positions(xp, shape[axis1], shape[axis2], offset)
    moved[..., rows, cols] = src
    return out


@_diagonal_scatter.defvjp
def _diagonal_scatter_vjp(ctx, g):
    shape, offset, axis1, axis2 = ctx.args
    return apply1(_diagonal, g, offset, axis1, axis2, shape)


_diagonal.defjvp(linear_jvp(_diagonal))
_diagonal_scatter.defjvp(linear_jvp(_diagonal_scatter))


def _two_dims(dim1, dim2, ndim: int, op_name: str):
    axis1, axis2 = normalize_dim(dim1, ndim, op_name), normalize_dim(dim2, ndim, op_name)
    if axis1 == axis2:
        raise ShapeError(f"{op_name}: dim1 and dim2 name the same dimension ({dim1}, {dim2})")
    return axis1, axis2


@op(method=True)
def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` of the matrices spanned by ``dim1`` and ``dim2``, as the last dimension.

    ``offset=0`` is the main diagonal, positive offsets lie above it and negative ones below.  The
    gradient writes ``g`` back onto that diagonal of zeros.

    Differs from PyTorch: the result is a copy, not a view; writing into it leaves ``x`` unchanged.

    Args:
        x: the input, at least 2-d, shape ``(*)``.
        offset: which diagonal (default 0).
        dim1: the first dimension of the matrices (default 0).
        dim2: the second dimension of the matrices (default 1).

    Returns:
        ``x``'s shape without ``dim1`` and ``dim2``, plus a last dimension of the diagonal's length; in
        ``x``'s dtype.

    Raises:
        ShapeError: ``x`` has fewer than 2 dimensions, or ``dim1`` and ``dim2`` are the same.

    Examples:
        >>> x = cr.arange(12.0).reshape(3, 4)
        >>> cr.diagonal(x)
        tensor([ 0.,  5., 10.])
        >>> x.diagonal(1), x.diagonal(-1)
        (tensor([ 1.,  6., 11.]), tensor([4., 9.]))
        >>> cr.ones(5, 2, 3).diagonal(dim1=-2, dim2=-1).shape
        (5, 2)
    """
    if x._data.ndim < 2:
        raise ShapeError(f"diagonal: the input must have at least 2 dimensions, got shape {x.shape}")
    axis1, axis2 = _two_dims(dim1, dim2, x._data.ndim, "diagonal")
    return _diagonal_of(x, int(offset), axis1, axis2)


def _diagonal_of(x: Tensor, offset: int, axis1: int, axis2: int) -> Tensor:
    return apply1(_diagonal, x, offset, axis1, axis2, x._data.shape)


@op(method=True)
def diag_embed(x: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices with the last dimension of ``x`` on diagonal ``offset`` and zeros elsewhere.

    The result has one more dimension than ``x``: the last dimension of ``x`` (length ``n``) becomes two
    dimensions of length ``n + abs(offset)`` at ``dim1`` and ``dim2`` (counted in the result).  The
    gradient is the same diagonal of ``g``.

    Args:
        x: the input, at least 1-d, shape ``(*, n)``.
        offset: which diagonal to fill (default 0, the main one; positive above).
        dim1: the result's dimension for the rows (default -2).
        dim2: the result's dimension for the columns (default -1).

    Returns:
        A tensor with ``x.ndim + 1`` dimensions, in ``x``'s dtype.

    Raises:
        ShapeError: ``x`` is 0-d, or ``dim1`` and ``dim2`` are the same.

    Examples:
        >>> cr.diag_embed(cr.tensor([1.0, 2.0]))
        tensor([[1., 0.],
                [0., 2.]])
        >>> cr.diag_embed(cr.ones(4, 2), offset=1).shape
        (4, 3, 3)
    """
    if x._data.ndim < 1:
        raise ShapeError("diag_embed: the input must have at least 1 dimension, got a 0-d tensor")
    ndim = x._data.ndim + 1
    axis1, axis2 = _two_dims(dim1, dim2, ndim, "diag_embed")
    offset = int(offset)
    size = x._data.shape[-1] + abs(offset)
    rest = iter(x._data.shape[:-1])
    shape = tuple(size if k in (axis1, axis2) else next(rest) for k in range(ndim))
    return apply1(_diagonal_scatter, x, shape, offset, axis1, axis2)


@op(method=True)
def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's diagonal matrix, or a matrix's diagonal, as ``numpy.diag`` and PyTorch's ``diag``.

    For a 1-d ``x`` of length ``n``: the square matrix of size ``n + abs(diagonal)`` with ``x`` on
    diagonal ``diagonal``.  For a 2-d ``x``: its diagonal ``diagonal`` as a 1-d tensor (a copy).

    Args:
        x: the input, 1-d ``(n)`` or 2-d ``(m, n)``.
        diagonal: which diagonal (default 0, the main one; positive above, negative below).

    Returns:
        A 2-d tensor for a 1-d ``x``, a 1-d tensor for a 2-d one; in ``x``'s dtype.

    Raises:
        ShapeError: ``x`` is not 1-d or 2-d.

    Examples:
        >>> cr.diag(cr.tensor([1.0, 2.0]), 1)
        tensor([[0., 1., 0.],
                [0., 0., 2.],
                [0., 0., 0.]])
        >>> cr.diag(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([1., 4.])
    """
    if x._data.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x._data.ndim == 2:
        return _diagonal_of(x, int(diagonal), 0, 1)
    raise ShapeError(f"diag: the input must be 1-d or 2-d, got shape {x.shape}")


@op(method=True)
def trace(x: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal.

    Args:
        x: a 2-d tensor ``(m, n)``.

    Returns:
        A 0-d tensor: ``x``'s dtype for floats, int64 for integers (as ``sum``).

    Raises:
        ShapeError: ``x`` is not 2-d.

    Examples:
        >>> cr.trace(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(5.)
        >>> cr.arange(6).reshape(2, 3).trace()
        tensor(4)
    """
    if x._data.ndim != 2:
        raise ShapeError(f"trace: expected a 2-d tensor, got shape {x.shape}")
    return _diagonal_of(x, 0, 0, 1).sum()


# ---------------------------------------------------------------------------
# indices of a triangle


def _triangle_indices(row, col, offset, dtype, device, lower: bool, op_name: str) -> Tensor:
    for name, value in (("row", row), ("col", col), ("offset", offset)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{op_name}: {name} must be an int, got {type(value).__name__}")
    if row < 0 or col < 0:
        raise ShapeError(f"{op_name}: row and col must not be negative, got {row} and {col}")
    keep = np.tri(row, col, offset, dtype=bool) if lower else ~np.tri(row, col, offset - 1, dtype=bool)
    out = np.stack(np.nonzero(keep)).astype(np.int64 if dtype is None else as_dtype(dtype))
    if device is not None:
        out = to_device(out, device)
    return _wrap(out)


@op()
def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The coordinates of the lower triangle of a ``(row, col)`` matrix, as a ``(2, N)`` tensor.

    Row ``0`` holds the row indices and row ``1`` the column indices, in row-major order; ``offset``
    moves the diagonal as in ``tril``.  ``x[tuple(tril_indices(n, n))]`` reads the lower triangle.

    Args:
        row: the number of rows.
        col: the number of columns.
        offset: the last diagonal included (default 0, the main one; positive above, negative below).
        dtype: the integer dtype of the result (default int64).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.

    Returns:
        An integer tensor of shape ``(2, N)``.

    Raises:
        TypeError: an argument is not an int.
        ShapeError: ``row`` or ``col`` is negative.

    Examples:
        >>> cr.tril_indices(3, 3)
        tensor([[0, 1, 1, 2, 2, 2],
                [0, 0, 1, 0, 1, 2]])
    """
    return _triangle_indices(row, col, offset, dtype, device, True, "tril_indices")


@op()
def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The coordinates of the upper triangle of a ``(row, col)`` matrix, as a ``(2, N)`` tensor.

    Row ``0`` holds the row indices and row ``1`` the column indices, in row-major order; ``offset``
    moves the diagonal as in ``triu``.

    Args:
        row: the number of rows.
        col: the number of columns.
        offset: the first diagonal included (default 0, the main one; positive above, negative below).
        dtype: the integer dtype of the result (default int64).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.

    Returns:
        An integer tensor of shape ``(2, N)``.

    Raises:
        TypeError: an argument is not an int.
        ShapeError: ``row`` or ``col`` is negative.

    Examples:
        >>> cr.triu_indices(2, 3, 1)
        tensor([[0, 0, 1],
                [1, 2, 2]])
    """
    return _triangle_indices(row, col, offset, dtype, device, False, "triu_indices")


# ---------------------------------------------------------------------------
# diagflat, diagonal_scatter


@op()
def diagflat(x: Tensor, offset: int = 0) -> Tensor:
    """The square matrix with the flattened ``x`` on diagonal ``offset``: ``diag(x.flatten(), offset)``.

    Args:
        x: the input, any shape ``(*)``.
        offset: which diagonal (default 0, the main one; positive above, negative below).

    Returns:
        A 2-d tensor of size ``x.numel() + abs(offset)``, in ``x``'s dtype.

    Examples:
        >>> cr.diagflat(cr.tensor([[1.0, 2.0]]))
        tensor([[1., 0.],
                [0., 2.]])
    """
    return diag_embed(x.reshape(-1), offset, 0, 1)


@op()
def diagonal_scatter(x: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of ``x`` with ``src`` written on the diagonal that ``diagonal(x, offset, dim1, dim2)`` reads.

    The gradient for ``x`` is 0 on that diagonal; ``src`` gets the gradient's diagonal.

    Args:
        x: the input, at least 2-d.
        src: the new diagonal: the shape ``diagonal(x, offset, dim1, dim2)`` has, in ``x``'s dtype.
        offset: which diagonal (default 0).
        dim1: the first dimension of the matrices (default 0).
        dim2: the second dimension of the matrices (default 1).

    Returns:
        A new tensor of ``x``'s shape and dtype.

    Raises:
        ShapeError: ``x`` has fewer than 2 dimensions, the dims are the same, or ``src`` has the wrong shape.

    Examples:
        >>> cr.diagonal_scatter(cr.zeros(2, 3), cr.tensor([1.0, 2.0]), 1)
        tensor([[0., 1., 0.],
                [0., 0., 2.]])
    """
    from .elementwise import where  # noqa: PLC0415

    if x._data.ndim < 2:
        raise ShapeError(f"diagonal_scatter: the input must have at least 2 dimensions, got shape {x.shape}")
    axis1, axis2 = _two_dims(dim1, dim2, x._data.ndim, "diagonal_scatter")
    shape = x._data.shape
    rest = tuple(s for k, s in enumerate(shape) if k not in (axis1, axis2))
    expected = (*rest, len(_diagonal_positions(np, shape[axis1], shape[axis2], int(offset))[0]))
    if src._data.shape != expected:
        raise ShapeError(f"diagonal_scatter: src has shape {src.shape}, the diagonal has shape {expected}")
    xp = array_module(x._data)
    on_diagonal = _diagonal_scatter.fwd(xp, xp.ones(expected, dtype=bool), shape, int(offset), axis1, axis2)
    return where(on_diagonal, apply1(_diagonal_scatter, src, shape, int(offset), axis1, axis2), x)
