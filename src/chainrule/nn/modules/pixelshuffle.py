"""PixelShuffle and PixelUnshuffle (PyTorch's ``torch.nn.modules.pixelshuffle``): see ``F.pixel_shuffle``."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional.pixel_shuffle import pixel_shuffle, pixel_unshuffle
from ..module import Module
from . import _checks as checks

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """``(*, C * r**2, H, W)`` to ``(*, C, H * r, W * r)``: [`F.pixel_shuffle`][chainrule.nn.functional.pixel_shuffle].

    The upsampling step of ESPCN (a convolution to ``C * r**2`` channels, then this).

    Args:
        upscale_factor: ``r``, a positive int.

    Examples:
        >>> shuffle = nn.PixelShuffle(3)
        >>> shuffle(cr.randn(1, 9, 4, 4)).shape
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = checks.size("PixelShuffle", "upscale_factor", upscale_factor, minimum=1)

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H * r, W * r)`` to ``(*, C * r**2, H, W)``, the inverse of ``PixelShuffle``.

    See [`F.pixel_unshuffle`][chainrule.nn.functional.pixel_unshuffle].

    Args:
        downscale_factor: ``r``, a positive int.

    Examples:
        >>> unshuffle = nn.PixelUnshuffle(2)
        >>> unshuffle(cr.randn(1, 1, 4, 6)).shape
        (1, 4, 2, 3)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = checks.size("PixelUnshuffle", "downscale_factor", downscale_factor, minimum=1)

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
