"""Upsample and its fixed-mode variants (PyTorch's ``torch.nn.modules.upsampling``): see ``F.interpolate``."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import vision
from ..module import Module
from . import _checks as checks

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")


def _check_options(layer: str, size, scale_factor, mode, align_corners) -> None:
    if (size is None) == (scale_factor is None):
        raise checks.LayerArgumentError(
            f"{layer}: give exactly one of size or scale_factor, got {size!r} and {scale_factor!r}"
        )
    if size is not None:
        for value in size if isinstance(size, (tuple, list)) else (size,):
            checks.size(layer, "size", value, minimum=1)
    else:
        for value in scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,):
            checks.nonnegative(layer, "scale_factor", value, strict=True)
    if mode not in _MODES + ("bicubic", "area"):  # PyTorch's modes; these two fail in forward (not supported)
        raise checks.LayerArgumentError(f"{layer}: mode must be one of {_MODES}, got {mode!r}")
    if align_corners is not None and not mode.endswith("linear"):
        raise checks.LayerArgumentError(
            f"{layer}: align_corners={align_corners!r} applies to the linear modes only, not mode {mode!r}"
        )


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
        _check_options(type(self).__name__, size, scale_factor, mode, align_corners)
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
