"""``chainrule.linalg``: PyTorch's ``torch.linalg`` names, differentiable and batched over leading dimensions.

The primitives and their gradients live in ``ops/matrix.py`` (the derivative
table); this module gathers them under PyTorch's names and adds the norms,
which are composites. Every function takes float32 or float64 tensors and
returns the input's dtype.
"""

from __future__ import annotations

from .errors import LinAlgError
from .ops.linalg import matmul
from .ops.matrix import (
    cholesky,
    det,
    eigh,
    eigvalsh,
    inverse,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    vector_norm,
)
from .tensor import Tensor

__all__ = [
    "LinAlgError",
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "norm",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]

inv = inverse

_INF = float("inf")


def _two_dims(name: str, dim, ndim: int):
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"{name}: dim must be a pair of dimensions for a matrix norm, got {dim!r}")
    d0, d1 = (d + ndim if d < 0 else d for d in dim)
    if not (0 <= d0 < ndim and 0 <= d1 < ndim) or d0 == d1:
        raise ValueError(f"{name}: dim {tuple(dim)} does not name two different dimensions of a {ndim}-d tensor")
    return d0, d1


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002, N803
    """A matrix norm of ``A`` (of each matrix in the batch), over the two dimensions ``dim``.

    ``ord``: ``'fro'`` (the Frobenius norm, the default), ``'nuc'`` (the sum of
    the singular values), ``2`` / ``-2`` (the largest / smallest singular
    value), ``1`` / ``-1`` (the largest / smallest column sum of ``|A|``) and
    ``inf`` / ``-inf`` (the largest / smallest row sum). The gradients of the
    singular-value norms come from the SVD's.

    Args:
        A: the input, shape ``(*, m, n)`` (with ``dim`` naming the matrix
            dimensions), float32 or float64.
        ord: the norm, one of the above (default ``'fro'``).
        dim: the two dimensions that hold the matrices (default ``(-2, -1)``).
        keepdim: keep them as size 1 (default False).
        dtype: if given, ``A`` is cast to it first.

    Returns:
        A tensor of ``A``'s shape without ``dim`` (size 1 with ``keepdim``).

    Raises:
        ValueError: ``ord`` is not one of the above, or ``dim`` is not two
            different dimensions.

    Examples:
        >>> A = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> cr.linalg.matrix_norm(A), cr.linalg.matrix_norm(A, 1), cr.linalg.matrix_norm(A, float("inf"))
        (tensor(5.4772), tensor(6.), tensor(7.))
        >>> cr.linalg.matrix_norm(A, "nuc")
        tensor(7.0711)
    """
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = _two_dims("matrix_norm", dim, A._data.ndim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in (1, -1, _INF, -_INF):
        summed, pick = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: column sums; inf: row sums
        sums = A.abs().sum(dim=summed, keepdim=True)
        out = sums.amax(dim=pick, keepdim=True) if ord > 0 else sums.amin(dim=pick, keepdim=True)
    elif ord in ("nuc", 2, -2):
        others = [d for d in range(A._data.ndim) if d not in (d0, d1)]
        values = svdvals(A.permute(*others, d0, d1))
        out = values.sum(-1) if ord == "nuc" else values.amax(-1) if ord == 2 else values.amin(-1)
        return out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else out
    else:
        raise ValueError(f"matrix_norm: unsupported ord={ord!r}; use 'fro', 'nuc', 2, -2, 1, -1, inf or -inf")
    return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002, N803
    """A vector or a matrix norm, chosen as ``torch.linalg.norm`` does.

    With ``dim`` an int, a vector norm over it; with ``dim`` a pair, a matrix
    norm over them. With ``dim=None``: if ``ord`` is None, the 2-norm of all
    elements; otherwise ``A`` must be 1-d (vector norm) or 2-d (matrix norm).
    ``ord`` None means 2 for vectors and ``'fro'`` for matrices. See
    ``vector_norm`` and ``matrix_norm`` for the orders and gradients.

    Args:
        A: the input, float32 or float64.
        ord: the order (default None: see above).
        dim: None, an int or a pair of ints.
        keepdim: keep the reduced dimensions as size 1 (default False).
        dtype: if given, ``A`` is cast to it first.

    Returns:
        A tensor of ``A``'s shape without the reduced dimensions.

    Raises:
        ValueError: ``ord`` is given with ``dim=None`` and ``A`` is neither 1-d
            nor 2-d, or ``ord`` does not fit the kind of norm.

    Examples:
        >>> A = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> cr.linalg.norm(A), cr.linalg.norm(A, 2), cr.linalg.norm(A, 1, dim=1)
        (tensor(5.4772), tensor(5.1167), tensor([3., 7.]))
    """
    if dtype is not None:
        A = A.to(dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim)
        if A._data.ndim not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r} and dim=None the input must be 1-d or 2-d, got shape {A.shape}")
        dim = tuple(range(A._data.ndim))
    if len(dim) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm but dim names one dimension")
        return vector_norm(A, 2 if ord is None else ord, dim[0], keepdim)
    return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim)
