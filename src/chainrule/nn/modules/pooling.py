"""Pooling layers with PyTorch's arguments: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d.

Inputs are (N, C, L) or (C, L) for the 1-d layers and (N, C, H, W) or (C, H, W)
for the 2-d ones; see ``chainrule.nn.functional.pooling`` for the output sizes.

The constructors check what PyTorch checks in its first forward: kernel
sizes, strides and dilations of at least 1, padding between 0 and half the
kernel, a divisor_override other than 0, adaptive output sizes of at least 0
(None keeps the input's size).  The arguments are kept as given, as in PyTorch.
"""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import pooling as pool_f
from ..module import Module
from . import _checks as checks

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d",
]


def _check_window(layer: str, nd: int, kernel_size, stride, padding, dilation=1) -> None:
    kernel = checks.sizes(layer, "kernel_size", kernel_size, nd, minimum=1)
    if stride is not None:
        checks.sizes(layer, "stride", stride, nd, minimum=1)
    pads = checks.sizes(layer, "padding", padding, nd, minimum=0)
    checks.sizes(layer, "dilation", dilation, nd, minimum=1)
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise checks.LayerArgumentError(
            f"{layer}: padding should be at most half of kernel_size, got padding={padding!r} for "
            f"kernel_size={kernel_size!r}"
        )


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        _check_window(type(self).__name__, self._nd, kernel_size, stride, padding, dilation)
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
        layer = type(self).__name__
        _check_window(layer, self._nd, kernel_size, stride, padding)
        if divisor_override is not None and checks.integer(layer, "divisor_override", divisor_override) == 0:
            raise checks.LayerArgumentError(f"{layer}: divisor_override must not be 0 (None divides by the window)")
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
        layer = type(self).__name__
        nd = self._nd
        items = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
        if len(items) != nd:
            raise checks.LayerArgumentError(
                f"{layer}: output_size must be an int or a tuple of {nd} ints (None keeps a size), got {output_size!r}"
            )
        for item in items:
            if item is not None:
                checks.size(layer, "output_size", item)
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
