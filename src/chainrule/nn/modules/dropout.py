"""Dropout layers: Dropout (elements), Dropout1d/2d/3d (whole channels).

Active only in training mode (``module.train()``); in eval mode they return
the input unchanged.  Masks come from chainrule's default generator.
``inplace=True`` is accepted but a new tensor is returned (see
``nn.functional.dropout``).
"""

from __future__ import annotations

from ...tensor import Tensor
from ..functional.dropout import dropout, dropout1d, dropout2d, dropout3d
from ..module import Module
from . import _checks as checks

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        checks.probability(type(self).__name__, "p", p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p, scale the rest by 1 / (1 - p).  Input (*), output (*)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels.  Input (N, C, L) or (C, L)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels.  Input (N, C, H, W) (a 3-D input is read as (N, C, L), as in PyTorch)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Zero whole channels.  Input (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout3d(input, self.p, self.training)
