"""Distance layers: CosineSimilarity and PairwiseDistance (no parameters)."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import distance as F
from ..module import Module
from . import _checks as checks

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """The cosine of the angle between two inputs along ``dim``.

    Shapes: inputs ``(*, D, *)`` broadcastable to each other; output the
    broadcast shape without ``dim``. No parameters. See
    [`F.cosine_similarity`][chainrule.nn.functional.cosine_similarity].

    Args:
        dim: the dimension of the vectors (default 1).
        eps: the smallest norm (default 1e-8).

    Examples:
        >>> nn.CosineSimilarity(dim=1)(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = checks.integer(type(self).__name__, "dim", dim)
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """The ``p``-norm distance between paired rows, ``norm(x1 - x2 + eps, p)`` over the last dimension.

    Shapes: inputs ``(N, D)`` or ``(D)``, broadcastable; output ``(N)``
    (``(N, 1)`` with ``keepdim``). No parameters. See
    [`F.pairwise_distance`][chainrule.nn.functional.pairwise_distance].

    Args:
        p: the order of the norm (default 2.0).
        eps: added to the differences (default 1e-6).
        keepdim: keep the last dimension as size 1 (default False).

    Examples:
        >>> nn.PairwiseDistance(eps=0.0)(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]))
        tensor([5.])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = checks.real(type(self).__name__, "p", p)
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"
