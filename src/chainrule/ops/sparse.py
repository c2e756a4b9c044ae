"""Row-sparse embedding gradients: ``Embedding(sparse=True)`` and the gradient type it produces.

The dense embedding backward (``ops/layers.py``) builds a gradient the size of
the whole table, however few rows a batch looked up: on a 1,000,000-row table
that is one full-table allocation, scatter and optimizer pass per step.  The
``embedding_sparse`` primitive has the same forward, but its first-order
backward hands the table a :class:`RowSparseGrad`: the looked-up row indices
(nnz,) and one gradient row per lookup (nnz, dim), in lookup order, duplicates
not summed (PyTorch's uncoalesced sparse COO gradient).  Its cost is the size
of the batch, not of the table.  ``optim.SparseAdam`` consumes it and touches
only those rows.

Where a row-sparse gradient is not wanted, the rule falls back to the dense
``embedding_dense_backward`` (same values): with ``create_graph=True`` (a
differentiable gradient) and when the weight is not a leaf (``F.embedding(i,
w * 2, sparse=True)``: the gradient flows on through ``*`` as a dense Tensor).

How the engine treats it (``autograd/engine.py``): a leaf gradient that is not
a plain ``Tensor`` is not shape-checked or summed by the engine; it is added
with its own ``+``: sparse + sparse concatenates (still sparse), sparse +
dense gives a dense Tensor.  So ``w.grad`` is a RowSparseGrad after
``backward()``, gradients of several backward calls accumulate, and
``autograd.grad(loss, w)`` returns one.

Differs from PyTorch: the gradient is a small class of its own rather than a
sparse-layout Tensor.  Its ``.data`` is the (nnz, dim) array of coalesced
values, so norms, clipping, finiteness checks and zeroing written against
``.data`` are right for it; a dense optimizer (SGD, Adam, ...) refuses it with
a ShapeError (PyTorch's Adam raises too; its SGD and Adagrad accept sparse
gradients, chainrule's do not), so use ``optim.SparseAdam`` or ``.to_dense()``.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.graph import applyn, primitive
from ..autograd.jvp_rules import linear_jvp
from ..backend import array_module
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from .layers import embedding_dense_backward

__all__ = ["RowSparseGrad", "embedding_sparse"]


class RowSparseGrad:
    """A gradient of a (num, dim) table that is zero outside some rows: ``dense[indices[k]] += values[k]``.

    Shapes: ``indices`` (nnz,) int64, ``values`` (nnz, dim) in the table's
    dtype, ``shape`` = (num, dim).  Indices may repeat (uncoalesced) until
    :meth:`coalesce` sums them.  Immutable in the API: every method returns
    a new object.
    """

    __slots__ = ("indices", "values", "shape", "_coalesced")
    is_sparse = True
    is_leaf = True
    _edge = None

    def __init__(self, indices, values, shape, coalesced: bool = False):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2:
            raise ShapeError(f"RowSparseGrad: shape must be (num_rows, dim), got {shape}")
        if indices.ndim != 1 or values.ndim != 2 or values.shape != (indices.shape[0], shape[1]):
            raise ShapeError(
                f"RowSparseGrad: indices {indices.shape} and values {values.shape} do not fit shape {shape} "
                "(expected (nnz,) and (nnz, dim))"
            )
        if indices.dtype.kind not in "iu":
            raise DTypeError(f"RowSparseGrad: indices must be integers, got {indices.dtype}")
        self.indices = indices
        self.values = values
        self.shape = shape
        self._coalesced = bool(coalesced)

    # ------------------------------------------------------------ facts

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def device(self):
        return _wrap(self.values).device

    @property
    def ndim(self) -> int:
        return 2

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def nnz(self) -> int:
        """How many rows are stored (with repeats when not coalesced)."""
        return int(self.indices.shape[0])

    def is_coalesced(self) -> bool:
        return self._coalesced

    @property
    def data(self):
        """The (nnz, dim) values after coalescing in place (PyTorch's ``grad.coalesce()._values()``).

        Generic gradient code that works on ``.data`` stays right: norms,
        finiteness checks, clipping and zeroing in place see exactly the
        nonzero rows of the dense gradient.  A dense optimizer's shape check
        refuses it (rows != table rows); when every row is present, the
        coalesced values *are* the dense gradient (indices 0..num-1).
        """
        if not self._coalesced:
            c = self.coalesce()
            self.indices, self.values, self._coalesced = c.indices, c.values, True
        return self.values

    @data.setter
    def data(self, values) -> None:
        # ``g._data *= c`` assigns the (same, scaled) array back; anything else must keep the coalesced layout
        current = self._data
        if values is not current:
            if getattr(values, "shape", None) != current.shape:
                raise ShapeError(
                    f"RowSparseGrad: .data must keep the shape of the coalesced values {current.shape}, "
                    f"got {getattr(values, 'shape', type(values).__name__)}"
                )
            self.values = values

    # the name generic gradient code (clipping, zero_grad, optimizers' checks) reads the array by, as for a Tensor
    _data = data

    @property
    def requires_grad(self) -> bool:
        return False

    @requires_grad.setter
    def requires_grad(self, value) -> None:
        if value:
            raise TypeError("a row-sparse gradient cannot require grad")

    def detach_(self) -> RowSparseGrad:
        return self

    def _bump(self) -> None:
        """No version counter: nothing saves a gradient for backward."""

    # ------------------------------------------------------------ conversions

    def coalesce(self) -> RowSparseGrad:
        """Sorted unique indices with the values of repeated rows summed."""
        if self._coalesced:
            return self
        idx = self.indices
        if idx.shape[0] == 0:
            return RowSparseGrad(idx.astype(np.int64), self.values, self.shape, coalesced=True)
        unique, values = _sum_duplicate_rows(idx, self.values)
        return RowSparseGrad(unique, values, self.shape, coalesced=True)

    def to_dense(self) -> Tensor:
        """The (num, dim) dense gradient as a new Tensor."""
        xp = array_module(self.values)
        out = xp.zeros(self.shape, dtype=self.values.dtype)
        c = self.coalesce()
        out[c.indices] = c.values
        return _wrap(out)

    # ------------------------------------------------------------ arithmetic (what accumulation and clipping need)

    def __add__(self, other):
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ShapeError(f"RowSparseGrad +: shapes {self.shape} and {other.shape} differ")
            xp = array_module(self.values)
            return RowSparseGrad(
                xp.concatenate([self.indices, other.indices]),
                xp.concatenate([self.values, other.values]),
                self.shape,
            )
        if isinstance(other, Tensor):
            if other._data.shape != self.shape:
                raise ShapeError(f"RowSparseGrad +: dense gradient of shape {other.shape}, expected {self.shape}")
            if other.requires_grad:
                # keep the dense side's graph (create_graph): add the scattered rows as a constant
                return other + self.to_dense()
            out = other._data.astype(self.values.dtype, copy=True)
            c = self.coalesce()
            out[c.indices] += c.values
            return _wrap(out)
        return NotImplemented

    __radd__ = __add__

    def __mul__(self, scalar):
        if isinstance(scalar, (int, float, np.number)) and not isinstance(scalar, bool):
            return RowSparseGrad(
                self.indices, self.values * self.values.dtype.type(scalar), self.shape, self._coalesced
            )
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self):
        return RowSparseGrad(self.indices, -self.values, self.shape, self._coalesced)

    def __repr__(self):
        state = "coalesced" if self._coalesced else "uncoalesced"
        return f"RowSparseGrad(shape={self.shape}, nnz={self.nnz()}, dtype={self.dtype}, {state})"


def _sum_duplicate_rows(indices, values):
    """(sorted unique indices (u,), (u, dim) sums of the values rows that share an index)."""
    xp = array_module(values)
    order = xp.argsort(indices, kind="stable")
    sorted_idx = indices[order]
    first = xp.empty(sorted_idx.shape[0], dtype=bool)
    first[0] = True
    xp.not_equal(sorted_idx[1:], sorted_idx[:-1], out=first[1:])
    starts = xp.flatnonzero(first)
    unique = sorted_idx[starts].astype(np.int64, copy=False)
    n = indices.shape[0]
    if unique.shape[0] == n:
        return unique, values[order]
    if xp is not np:
        inverse = xp.cumsum(first) - 1
        out = xp.zeros((unique.shape[0], values.shape[1]), dtype=values.dtype)
        backend.scatter_add(xp, out, inverse, values[order])
        return unique, out
    from scipy import sparse  # noqa: PLC0415

    # a (unique, n) 0/1 matrix in CSR form straight from the sort, times the rows: 3-10x faster than
    # np.add.reduceat or np.add.at on 2-D rows (benchmarks/recsys.py prints the sizes measured)
    indptr = np.empty(unique.shape[0] + 1, dtype=np.int64)
    indptr[:-1] = starts
    indptr[-1] = n
    matrix = sparse.csr_array((np.ones(n, dtype=values.dtype), order, indptr), shape=(unique.shape[0], n))
    return unique, np.ascontiguousarray(matrix @ values, dtype=values.dtype)


# ---------------------------------------------------------------------------
# the primitive: weight (num, dim)[indices] -> (*indices.shape, dim), gradient row-sparse


@primitive("embedding_sparse")
def _embedding_sparse(xp, weight, indices, num, padding_idx, scale_by_freq):
    return weight.take(indices, axis=0)


@_embedding_sparse.defvjp
def _embedding_sparse_vjp(ctx, g):
    indices, num, padding_idx, scale_by_freq = ctx.args
    if ctx.create_graph or type(ctx.next[0]) is not Tensor:
        # a differentiable gradient, or one that flows on into an op rather than into a leaf: dense
        return embedding_dense_backward(g, indices, num, padding_idx, scale_by_freq)
    return (_row_sparse(g._data, indices, num, padding_idx, scale_by_freq),)


_embedding_sparse.defjvp(linear_jvp(_embedding_sparse))  # a lookup is linear in the table


def _row_sparse(grad, indices, num, padding_idx, scale_by_freq) -> RowSparseGrad:
    """One gradient row per lookup (rows of padding_idx dropped, divided by the row's count with scale_by_freq)."""
    xp = array_module(grad)
    dim = grad.shape[-1]
    flat = indices.reshape(-1).astype(np.int64, copy=False)
    values = grad.reshape(-1, dim).copy()  # never share the upstream gradient's memory
    if scale_by_freq and flat.shape[0]:
        _, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True)
        values /= counts[inverse.reshape(-1)].astype(values.dtype)[:, None]
    if padding_idx is not None:
        keep = flat != padding_idx
        if not keep.all():
            flat, values = flat[keep], values[keep]
    return RowSparseGrad(flat, values, (num, dim))


def embedding_sparse(weight: Tensor, indices, padding_idx: int | None = None, scale_grad_by_freq: bool = False):
    """``weight[indices]`` whose gradient for a leaf ``weight`` is a :class:`RowSparseGrad` (indices checked)."""
    return applyn(_embedding_sparse, (weight,), indices, weight._data.shape[0], padding_idx, bool(scale_grad_by_freq))
