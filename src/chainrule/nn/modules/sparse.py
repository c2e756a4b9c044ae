"""Embedding: a lookup table of learned vectors indexed by integers."""

from __future__ import annotations

from ...autograd.mode import no_grad
from ...errors import ShapeError
from ...tensor import Tensor
from .. import init
from ..functional import sparse as F
from ..module import Module, Parameter
from . import _checks as checks
from .linear import new_parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``, looked up by integer index.

    Shapes: input ``(*)`` of int64/int32 indices in ``[0, num_embeddings)``,
    output ``(*, embedding_dim)``.  The row ``padding_idx`` (if any) starts at
    zero and never receives a gradient.  ``Embedding.from_pretrained(table)``
    wraps an existing table.  See
    [`F.embedding`][chainrule.nn.functional.embedding] for ``max_norm`` and
    ``scale_grad_by_freq``.

    ``sparse=True``: the weight's gradient is a row-sparse ``RowSparseGrad``
    (one row per lookup), stepped by ``optim.SparseAdam`` touching only those
    rows (PyTorch gives a sparse-layout tensor instead).

    Args:
        num_embeddings: the number of rows (the vocabulary size).
        embedding_dim: the size of each vector.
        padding_idx: a row that stays zero and gets no gradient (negative counts
            from the end); None (default) for none.
        max_norm: if given, looked-up rows whose norm exceeds it are rescaled to
            it, in place, at each forward.
        norm_type: the p of the p-norm for ``max_norm`` (default 2).
        scale_grad_by_freq: divide each row's gradient by its count in the batch
            (default False).
        sparse: make the weight's gradient row-sparse (default False).
        _weight: an existing ``(num_embeddings, embedding_dim)`` table to use as
            the weight (shared, not copied; used by ``from_pretrained``).
        _freeze: make the weight not require grad (used by ``from_pretrained``).
        device (str | Device | None): where the weight lives (default None: the
            CPU).
        dtype (dtype | None): its floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): the learnable table ``(num_embeddings, embedding_dim)``,
            initialized from N(0, 1), with the ``padding_idx`` row zero.

    Examples:
        >>> embedding = nn.Embedding(10, 3)
        >>> embedding(cr.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        (2, 4, 3)
        >>> table = cr.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
        >>> nn.Embedding.from_pretrained(table)(cr.tensor([1]))
        tensor([[4.0000, 5.1000, 6.3000]])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        num_embeddings = checks.size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = checks.size("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            padding_idx = checks.integer("Embedding", "padding_idx", padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise checks.LayerArgumentError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings}): "
                    f"in [{-num_embeddings}, {num_embeddings - 1}]"
                )
            padding_idx %= num_embeddings
        if max_norm is not None:
            checks.real("Embedding", "max_norm", max_norm)
        checks.real("Embedding", "norm_type", norm_type)
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = new_parameter((num_embeddings, embedding_dim), dtype, device)
            if _freeze:
                self.weight.requires_grad_(False)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(
                    f"Embedding: _weight has shape {tuple(_weight.shape)}, expected ({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._bump()

    def forward(self, input) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is the 2-D ``embeddings`` (sharing its memory, as in PyTorch); frozen unless
        ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(
            rows,
            cols,
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=embeddings,
            _freeze=freeze,
        )
