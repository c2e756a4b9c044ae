"""Upsample and its fixed-mode variants (PyTorch's ``torch.nn.modules.upsampling``): see ``F.interpolate``."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import vision
from ..module import Module

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class Upsample(Module):
    """Resize the spatial dimensions of ``(N, C, *spatial)``: [`F.interpolate`][chainrule.nn.functional.interpolate].

    Args:
        size: the output spatial size, an int or one per spatial dimension.
        scale_factor: a multiplier of the spatial size, a number or one per spatial dimension.
        mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'``, ``'bilinear'`` or ``'trilinear'``.
        align_corners: for the linear modes only (default None: False).
        recompute_scale_factor: compute the kernel's scale from the sizes instead of ``scale_factor``.

    Examples:
        >>> up = nn.Upsample(scale_factor=2, mode="bilinear")
        >>> up(cr.randn(1, 3, 4, 5)).shape
        (1, 3, 8, 10)
    """

    def __init__(
        self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None, recompute_scale_factor=None
    ):
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return vision.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for ``(N, C, H, W)`` (PyTorch's older name).

    Args:
        size: the output ``(H, W)``, or an int for both.
        scale_factor: a multiplier of H and W.

    Examples:
        >>> nn.UpsamplingNearest2d(scale_factor=3)(cr.randn(1, 2, 2, 2)).shape
        (1, 2, 6, 6)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's older name).

    Args:
        size: the output ``(H, W)``, or an int for both.
        scale_factor: a multiplier of H and W.

    Examples:
        >>> nn.UpsamplingBilinear2d(size=(3, 5))(cr.randn(1, 2, 2, 2)).shape
        (1, 2, 3, 5)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
