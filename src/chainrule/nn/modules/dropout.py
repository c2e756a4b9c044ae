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
    """Dropout (Srivastava et al., 2014): zero each element with probability ``p`` in training, scale the rest up.

    The survivors are multiplied by ``1 / (1 - p)``, so the expected value is
    unchanged.

    Shapes: input ``(*)``, output the same shape.  Active only in training mode
    (``module.train()``, the default); in eval mode the input is returned unchanged.
    Masks come from chainrule's default generator (``cr.manual_seed``).  No
    parameters.

    Args:
        p: the probability of zeroing an element, in [0, 1] (default 0.5).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> drop = nn.Dropout(p=0.2)
        >>> sorted(set(drop(cr.ones(1000)).tolist()))  # zeros and 1 / 0.8
        [0.0, 1.25]
        >>> drop.eval()(cr.ones(3))
        tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Channel dropout for sequences: zero whole channels with probability ``p`` in training, scale the rest up.

    One draw per (sample, channel); the kept channels are multiplied by
    ``1 / (1 - p)``.

    Shapes: input ``(N, C, L)`` or ``(C, L)``, output the same shape.  Active only
    in training mode (``module.train()``, the default); in eval mode the input is
    returned unchanged.  Masks come from chainrule's default generator
    (``cr.manual_seed``).  No parameters.

    Args:
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Dropout1d(p=0.5)(cr.randn(20, 16, 32)).shape
        (20, 16, 32)
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Channel dropout for images (Tompson et al., 2015): zero whole channels with probability ``p`` in training.

    One draw per (sample, channel); the kept channels are multiplied by
    ``1 / (1 - p)``.

    Shapes: input ``(N, C, H, W)``, output the same shape (a 3-D input is read as
    ``(N, C, L)`` with a warning, as in PyTorch).  Active only in training mode
    (``module.train()``, the default); in eval mode the input is returned unchanged.
    Masks come from chainrule's default generator (``cr.manual_seed``).  No
    parameters.

    Args:
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Dropout2d(p=0.5)(cr.randn(20, 16, 32, 32)).shape
        (20, 16, 32, 32)
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Channel dropout for volumes: zero whole channels with probability ``p`` in training, scale the rest up.

    One draw per (sample, channel); the kept channels are multiplied by
    ``1 / (1 - p)``.

    Shapes: input ``(N, C, D, H, W)`` or ``(C, D, H, W)``, output the same
    shape.  Active only in training mode (``module.train()``, the default); in eval
    mode the input is returned unchanged.  Masks come from chainrule's default
    generator (``cr.manual_seed``).  No parameters.

    Args:
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Dropout3d(p=0.5)(cr.randn(2, 4, 3, 8, 8)).shape
        (2, 4, 3, 8, 8)
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return dropout3d(input, self.p, self.training)
