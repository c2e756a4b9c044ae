"""Functional embedding lookup (``F.embedding``) and ``F.one_hot``."""

from __future__ import annotations

import numpy as np

from ...autograd.mode import no_grad
from ...backend import array_module
from ...errors import DTypeError, IndexingError, ShapeError
from ...ops import layers as _layers
from ...ops import sparse as _sparse
from ...tensor import Tensor, _wrap

__all__ = ["embedding", "one_hot"]


def _index_array(indices, op: str, xp):
    """The raw integer array of ``indices`` (Tensor, array or nested list)."""
    data = indices._data if isinstance(indices, Tensor) else xp.asarray(indices)
    if data.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be an integer tensor (int64 or int32), got {data.dtype}")
    return data


def _check_range(idx, num: int, op: str, what: str) -> None:
    if idx.size:
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= num:
            bad = low if low < 0 else high
            raise IndexingError(f"{op}: index {bad} is out of range for {what} (valid indices are 0 to {num - 1})")


def embedding(
    input,  # noqa: A002 - PyTorch's name
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``: a lookup table, the function behind ``nn.Embedding``.

    The gradient of ``weight`` adds up the gradients of every lookup of a row
    (dense, ``weight``'s shape); the row ``padding_idx`` gets no gradient.
    ``scale_grad_by_freq`` divides each row's gradient by how often it occurs
    in ``input``.  ``max_norm`` rescales, in place and without history, the
    looked-up rows whose ``norm_type``-norm exceeds it (as PyTorch does).

    ``sparse=True`` makes the gradient of a leaf ``weight`` a row-sparse
    ``RowSparseGrad`` (one row per lookup; see ``ops/sparse.py``) that
    ``optim.SparseAdam`` steps touching only those rows.

    Differs from PyTorch: the sparse gradient is a ``RowSparseGrad``, not a
    sparse-layout Tensor; with ``create_graph=True`` or a non-leaf weight it
    is dense.

    Args:
        input (Tensor): the indices, any shape ``(*)``, int64 or int32 (a NumPy
            array or a nested list also works), each in ``[0, num_embeddings)``.
        weight: the table, shape ``(num_embeddings, embedding_dim)``.
        padding_idx: a row (negative counts from the end) that receives no
            gradient; None (default) for none.
        max_norm: if given, looked-up rows with a larger norm are scaled down to
            this norm in ``weight`` itself before the lookup.
        norm_type: the p of the p-norm for ``max_norm`` (default 2).
        scale_grad_by_freq: divide each row's gradient by the number of times the
            row occurs in ``input`` (default False).
        sparse: give a leaf ``weight`` a row-sparse gradient (default False).

    Returns:
        A tensor of shape ``(*, embedding_dim)`` in ``weight``'s dtype.

    Raises:
        IndexingError: if an index or ``padding_idx`` is out of range.
        DTypeError: if ``input`` is not an integer tensor.

    Examples:
        >>> weight = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> F.embedding(cr.tensor([2, 1, 1]), weight).detach()
        tensor([[3., 4.],
                [1., 2.],
                [1., 2.]])
        >>> F.embedding(cr.tensor([2, 1, 1]), weight).sum().backward()
        >>> weight.grad  # row 1 was looked up twice
        tensor([[0., 0.],
                [2., 2.],
                [1., 1.]])
    """
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor, got {type(weight).__name__}")
    if weight._data.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    num = weight._data.shape[0]
    idx = _index_array(input, "embedding", array_module(weight._data))
    _check_range(idx, num, "embedding", f"an embedding table of {num} rows")
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise IndexingError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({num})")
        padding_idx %= num
    if max_norm is not None:
        _renorm_rows(weight, idx, float(max_norm), float(norm_type))
    if sparse:
        return _sparse.embedding_sparse(weight, idx, padding_idx, scale_grad_by_freq)
    return _layers.embedding(weight, idx, padding_idx, scale_grad_by_freq)


def _renorm_rows(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Scale the rows ``idx`` of ``weight`` whose norm exceeds max_norm down to max_norm (in place)."""
    xp = array_module(weight._data)
    rows = xp.unique(idx.reshape(-1))
    with no_grad():
        table = weight._data
        picked = table[rows]
        norms = xp.linalg.norm(picked.astype(np.float64), ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(table.dtype)
            table[rows[over]] = picked[over] * scale[:, None]
            weight._bump()


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """One-hot encoding of class indices: ``(*)`` -> ``(*, num_classes)``, int64.

    Not differentiable (the result is an integer tensor); convert it with
    ``.float()`` to use it as a target or a weight.

    Args:
        tensor (Tensor): the class indices, any shape ``(*)``, int64 or int32 (a
            NumPy array or a nested list also works).
        num_classes: the length of the last dimension; -1 (default) uses the
            largest index + 1, as in PyTorch.

    Returns:
        An int64 tensor of shape ``(*, num_classes)`` with one 1 per row.

    Raises:
        IndexingError: if an index is negative or not below ``num_classes``.

    Examples:
        >>> F.one_hot(cr.tensor([0, 2, 1]))
        tensor([[1, 0, 0],
                [0, 0, 1],
                [0, 1, 0]])
        >>> F.one_hot(cr.tensor([[0], [3]]), num_classes=5).shape
        (2, 1, 5)
    """
    xp = array_module(tensor._data) if isinstance(tensor, Tensor) else np
    idx = _index_array(tensor, "one_hot", xp)
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    _check_range(idx, num_classes, "one_hot", f"num_classes={num_classes}")
    out = xp.zeros(idx.shape + (num_classes,), dtype=np.int64)
    xp.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return _wrap(out)
