"""Pooling layers with PyTorch's arguments: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d.

Inputs are (N, C, L) or (C, L) for the 1-d layers and (N, C, H, W) or (C, H, W)
for the 2-d ones; see ``chainrule.nn.functional.pooling`` for the output sizes.
"""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import pooling as pool_f
from ..module import Module

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d",
]


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, input: Tensor):  # noqa: A002
        return pool_f.max_pooling(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                                  self.return_indices, self._nd, f"{type(self).__name__}({self.extra_repr()})")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of the last dim: (N, C, L) -> (N, C, L_out); ``stride`` defaults to ``kernel_size``.

    With ``return_indices=True`` the layer returns (values, int64 positions in L).
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max over (kH, kW) windows: (N, C, H, W) -> (N, C, H_out, W_out); ``stride`` defaults to ``kernel_size``.

    Padding is -inf; gradients go to the first maximum of each window (PyTorch's
    rule).  With ``return_indices=True`` the layer returns (values, int64 flat
    indices ``h * W + w``).
    """

    _nd = 2


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return pool_f.avg_pooling(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                  self.count_include_pad, self.divisor_override, self._nd,
                                  f"{type(self).__name__}({self.extra_repr()})")


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of the last dim: (N, C, L) -> (N, C, L_out).  See ``F.avg_pool1d``."""

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over (kH, kW) windows: (N, C, H, W) -> (N, C, H_out, W_out).  See ``F.avg_pool2d`` for the divisor."""

    _nd = 2


class _AdaptivePoolNd(Module):
    _nd = 2

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def _name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Mean over covering windows: (N, C, L) -> (N, C, output_size)."""

    _nd = 1

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return pool_f.adaptive_avg_pooling(input, self.output_size, 1, self._name())


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Mean over covering windows: (N, C, H, W) -> (N, C, *output_size); ``AdaptiveAvgPool2d(1)`` is global pooling."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return pool_f.adaptive_avg_pooling(input, self.output_size, 2, self._name())


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor):  # noqa: A002
        return pool_f.adaptive_max_pooling(input, self.output_size, self.return_indices, self._nd, self._name())


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max over covering windows: (N, C, L) -> (N, C, output_size) (and int64 positions with return_indices)."""

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max over covering windows: (N, C, H, W) -> (N, C, *output_size) (and flat int64 indices with return_indices)."""

    _nd = 2
