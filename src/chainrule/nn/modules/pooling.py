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
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool1d",
    "MaxPool2d",
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

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False
    ):
        super().__init__()
        _check_window(type(self).__name__, self._nd, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Tensor):  # noqa: A002
        return pool_f.max_pooling(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
            self._nd,
            f"{type(self).__name__}({self.extra_repr()})",
        )


class MaxPool1d(_MaxPoolNd):
    """Max pooling over windows of the last dimension.

    Shapes: input ``(N, C, L)`` or ``(C, L)``, output ``(N, C, L_out)`` with
    ``L_out = floor_or_ceil((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    Padding is -inf; the gradient goes to the first maximum of each window. See
    [`F.max_pool1d`][chainrule.nn.functional.max_pool1d].  No parameters.  The
    constructor checks what PyTorch checks in its first forward (sizes of at least
    1, padding at most half the kernel).

    Args:
        kernel_size (int | tuple[int]): the window length.
        stride (int | tuple[int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int]): -inf added at both ends (default 0).
        dilation (int | tuple[int]): the spacing inside a window (default 1).
        return_indices: also return the int64 position in L of each maximum
            (default False).
        ceil_mode: round the output length up instead of down (default False).

    Examples:
        >>> pool = nn.MaxPool1d(3, stride=2)
        >>> pool(cr.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over (kH, kW) windows of images.

    Shapes: input ``(N, C, H, W)`` or ``(C, H, W)``, output ``(N, C, H_out, W_out)``
    with
    ``H_out = floor_or_ceil((H + 2 * padding - dilation * (kH - 1) - 1) / stride) + 1``,
    likewise ``W_out``.  Padding is -inf; the gradient goes to the first maximum of
    each window in row-major order (PyTorch's rule).  See
    [`F.max_pool2d`][chainrule.nn.functional.max_pool2d].  No parameters.  The
    constructor checks what PyTorch checks in its first forward (sizes of at least
    1, padding at most half the kernel).

    Args:
        kernel_size (int | tuple[int, int]): the window size.
        stride (int | tuple[int, int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int, int]): -inf added on each side (default 0).
        dilation (int | tuple[int, int]): the spacing inside a window (default 1).
        return_indices: also return the int64 flat index ``h * W + w`` of each
            maximum (default False).
        ceil_mode: round the output size up instead of down (default False).

    Examples:
        >>> pool = nn.MaxPool2d(3, stride=2, padding=1)
        >>> pool(cr.randn(8, 64, 112, 112)).shape
        (8, 64, 56, 56)
        >>> nn.MaxPool2d(2, return_indices=True)(cr.arange(16.0).reshape(1, 1, 4, 4))[1]
        tensor([[[[ 5,  7],
                  [13, 15]]]])
    """

    _nd = 2


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
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
        return pool_f.avg_pooling(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            self._nd,
            f"{type(self).__name__}({self.extra_repr()})",
        )


class AvgPool1d(_AvgPoolNd):
    """Average pooling over windows of the last dimension.

    Shapes: input ``(N, C, L)`` or ``(C, L)``, output ``(N, C, L_out)`` with
    ``L_out = floor_or_ceil((L + 2 * padding - kernel_size) / stride) + 1``. See
    [`F.avg_pool1d`][chainrule.nn.functional.avg_pool1d].  No parameters.  The
    constructor checks what PyTorch checks in its first forward (sizes of at least
    1, padding at most half the kernel).

    Args:
        kernel_size (int | tuple[int]): the window length.
        stride (int | tuple[int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int]): zeros added at both ends (default 0).
        ceil_mode: round the output length up instead of down (default False).
        count_include_pad: count the zero padding in the divisor (default True).

    Examples:
        >>> pool = nn.AvgPool1d(3, stride=2)
        >>> pool(cr.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]]))
        tensor([[[2., 4., 6.]]])
    """

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average pooling over (kH, kW) windows of images.

    Shapes: input ``(N, C, H, W)`` or ``(C, H, W)``, output
    ``(N, C, H_out, W_out)`` with
    ``H_out = floor_or_ceil((H + 2 * padding - kH) / stride) + 1``, likewise
    ``W_out``.  See [`F.avg_pool2d`][chainrule.nn.functional.avg_pool2d] for
    the divisor.  No parameters.  The constructor checks what PyTorch checks in its first
    forward (sizes of at least 1, padding at most half the kernel).

    Args:
        kernel_size (int | tuple[int, int]): the window size.
        stride (int | tuple[int, int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int, int]): zeros added on each side (default 0).
        ceil_mode: round the output size up instead of down (default False).
        count_include_pad: count the zero padding in the divisor (default True).
        divisor_override: if given (not 0), divide every window's sum by this
            instead.

    Examples:
        >>> pool = nn.AvgPool2d(2)
        >>> pool(cr.arange(16.0).reshape(1, 1, 4, 4))
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """

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
    """Adaptive average pooling: the mean over ``output_size`` windows that cover the last dimension, for any length.

    Shapes: input ``(N, C, L)`` or ``(C, L)``, output ``(N, C, output_size)``.
    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, as in PyTorch.  No parameters.

    Args:
        output_size (int | tuple[int] | None): L_out; None keeps L.

    Examples:
        >>> pool = nn.AdaptiveAvgPool1d(5)
        >>> pool(cr.randn(1, 64, 8)).shape
        (1, 64, 5)
    """

    _nd = 1

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return pool_f.adaptive_avg_pooling(input, self.output_size, 1, self._name())


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Adaptive average pooling: the mean over windows chosen to give ``output_size`` from any (H, W).

    Shapes: input ``(N, C, H, W)`` or ``(C, H, W)``, output
    ``(N, C, H_out, W_out)``.  ``AdaptiveAvgPool2d(1)`` is global average
    pooling.  Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, as in PyTorch.  No parameters.

    Args:
        output_size (int | tuple[int | None, int | None]): ``(H_out, W_out)``,
            or one int for both; None in a place keeps that input size.

    Examples:
        >>> pool = nn.AdaptiveAvgPool2d((5, 7))
        >>> pool(cr.randn(1, 64, 8, 9)).shape
        (1, 64, 5, 7)
        >>> nn.AdaptiveAvgPool2d(1)(cr.randn(2, 64, 7, 7)).shape
        (2, 64, 1, 1)
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return pool_f.adaptive_avg_pooling(input, self.output_size, 2, self._name())


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor):  # noqa: A002
        return pool_f.adaptive_max_pooling(input, self.output_size, self.return_indices, self._nd, self._name())


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling: the maximum over ``output_size`` windows that cover the last dimension, for any length.

    Shapes: input ``(N, C, L)`` or ``(C, L)``, output ``(N, C, output_size)``.
    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, as in PyTorch.  The gradient
    goes to the first maximum of each window.  No parameters.

    Args:
        output_size (int | tuple[int] | None): L_out; None keeps L.
        return_indices: also return the int64 position in L of each maximum
            (default False).

    Examples:
        >>> pool = nn.AdaptiveMaxPool1d(2)
        >>> pool(cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]))  # windows [0, 3) and [2, 5)
        tensor([[[3., 5.]]])
    """

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling: the maximum over windows chosen to give ``output_size`` from any (H, W).

    Shapes: input ``(N, C, H, W)`` or ``(C, H, W)``, output
    ``(N, C, H_out, W_out)``.  Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, as in PyTorch.  The gradient
    goes to the first maximum of each window.  No parameters.

    Args:
        output_size (int | tuple[int | None, int | None]): ``(H_out, W_out)``,
            or one int for both; None in a place keeps that input size.
        return_indices: also return the int64 flat index ``h * W + w`` of each
            maximum (default False).

    Examples:
        >>> pool = nn.AdaptiveMaxPool2d((5, 7))
        >>> pool(cr.randn(1, 64, 8, 9)).shape
        (1, 64, 5, 7)
    """

    _nd = 2
