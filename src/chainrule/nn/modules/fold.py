"""Fold and Unfold as layers (PyTorch's ``torch.nn.modules.fold``): see ``chainrule.nn.functional.vision``."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import vision
from ..module import Module
from . import _checks as checks

__all__ = ["Fold", "Unfold"]


def _check_window(layer: str, kernel_size, dilation, padding, stride) -> None:
    checks.sizes(layer, "kernel_size", kernel_size, 2, minimum=1)
    checks.sizes(layer, "dilation", dilation, 2, minimum=1)
    checks.sizes(layer, "padding", padding, 2, minimum=0)
    checks.sizes(layer, "stride", stride, 2, minimum=1)


class Unfold(Module):
    """Extract sliding blocks: [`F.unfold`][chainrule.nn.functional.unfold] as a layer.

    ``(N, C, H, W)`` to ``(N, C * kh * kw, L)``.

    Args:
        kernel_size: the block size, an int or ``(kh, kw)``.
        dilation: the spacing of the block's elements (default 1).
        padding: zeros added on both sides of each spatial dimension (default 0).
        stride: the step between blocks (default 1).

    Examples:
        >>> nn.Unfold(kernel_size=(2, 3))(cr.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        _check_window("Unfold", kernel_size, dilation, padding, stride)
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return vision.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """Sum sliding blocks into an image: [`F.fold`][chainrule.nn.functional.fold] as a layer.

    ``(N, C * kh * kw, L)`` to ``(N, C, H, W)``.

    Args:
        output_size: ``(H, W)`` of the output (or an int for both).
        kernel_size: the block size, an int or ``(kh, kw)``.
        dilation: the spacing of the block's elements (default 1).
        padding: the padding the blocks were taken with (default 0).
        stride: the step between blocks (default 1).

    Examples:
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(cr.randn(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        checks.sizes("Fold", "output_size", output_size, 2, minimum=1)
        _check_window("Fold", kernel_size, dilation, padding, stride)
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return vision.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )
