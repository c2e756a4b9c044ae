"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, with PyTorch's arguments and init.

Weights start as in PyTorch: ``kaiming_uniform_(a=sqrt(5))``, which is
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias U(-1/sqrt(fan_in),
1/sqrt(fan_in)), with ``fan_in = weight.shape[1] * prod(kernel_size)`` (for
transposed convolutions that is ``out_channels / groups * prod(kernel_size)``,
PyTorch's convention), via ``chainrule.nn.init``.  Numbers come from
chainrule's default generator (``cr.manual_seed``): reproducible, but not
torch's draws.

Differences from PyTorch: only ``padding_mode='zeros'`` (others raise
NotImplementedError), and inputs must be batched: (N, C, L) / (N, C, H, W).
Arguments PyTorch only rejects in its first forward (a kernel, stride or
dilation below 1, negative padding, an output_padding not below the stride or
dilation, a kernel tuple of the wrong length, out_channels = 0) fail in the
constructor.
"""

from __future__ import annotations

import math

from ... import backend, creation
from ...tensor import Tensor
from .. import init
from ..functional import conv as conv_f
from ..module import Module, Parameter
from . import _checks as checks

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        in_channels = checks.size(name, "in_channels", in_channels)  # 0 is allowed, as in PyTorch: the bias
        out_channels = checks.size(name, "out_channels", out_channels, minimum=1)
        groups = checks.size(name, "groups", groups, minimum=1)
        checks.divisible(name, "in_channels", in_channels, "groups", groups)
        checks.divisible(name, "out_channels", out_channels, "groups", groups)
        if padding_mode != "zeros":
            checks.choice(name, "padding_mode", padding_mode, ("zeros", "reflect", "replicate", "circular"))
            raise NotImplementedError(
                f"{name}: padding_mode={padding_mode!r} is not implemented yet; "
                "only 'zeros' is (pad the input yourself with F.pad)"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = checks.sizes(name, "kernel_size", kernel_size, nd, minimum=1)
        self.stride = checks.sizes(name, "stride", stride, nd, minimum=1)
        if isinstance(padding, str):
            if self._transposed:
                raise checks.LayerArgumentError(
                    f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r}"
                )
            checks.choice(name, "padding", padding, ("valid", "same"))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise checks.LayerArgumentError(
                    f"{name}: padding='same' is not supported for strided convolutions "
                    f"(stride={self.stride}); pad explicitly or use stride 1"
                )
            self.padding: str | tuple = padding
        else:
            self.padding = checks.sizes(name, "padding", padding, nd, minimum=0)
        self.dilation = checks.sizes(name, "dilation", dilation, nd, minimum=1)
        self.output_padding = checks.sizes(name, "output_padding", output_padding, nd, minimum=0)
        for extra, s, d in zip(self.output_padding, self.stride, self.dilation):
            if extra >= s and extra >= d:
                raise checks.LayerArgumentError(
                    f"{name}: output_padding must be smaller than either stride or dilation, got "
                    f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation}"
                )
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = backend.as_dtype(dtype) if dtype is not None else backend.get_default_dtype()
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias again, as PyTorch's ``reset_parameters`` (kaiming_uniform_(a=sqrt(5)))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _layer_name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        zeros, ones = (0,) * self._nd, (1,) * self._nd
        if self.padding != zeros:
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != ones:
            text += f", dilation={self.dilation}"
        if self.output_padding != zeros:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvForward(_ConvNd):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            0,
            device,
            dtype,
        )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return conv_f.convolution(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self._nd,
            self._layer_name(),
        )


class Conv1d(_ConvForward):
    """1-d convolution layer (a cross-correlation, as in PyTorch) over sequences.

    Shapes: input ``(N, C_in, L)``, output ``(N, C_out, L_out)`` with
    ``L_out = (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1``.
    See [`F.conv1d`][chainrule.nn.functional.conv1d].  Differs from PyTorch: only
    ``padding_mode='zeros'`` (the others raise NotImplementedError), the input must
    be batched, and arguments PyTorch rejects only in its first forward fail in the
    constructor.

    Args:
        in_channels: the channels C_in of the input.
        out_channels: the channels C_out of the output.
        kernel_size (int | tuple[int]): the size of the kernel.
        stride (int | tuple[int]): the step between windows (default 1).
        padding (int | tuple[int] | str): zeros added on each side (default 0);
            ``'valid'`` is no padding, ``'same'`` keeps the size (stride 1 only).
        dilation (int | tuple[int]): the spacing between kernel taps (default 1).
        groups: independent channel groups; C_in and C_out must be divisible by
            it (default 1).
        bias: whether to learn an additive bias (default True).
        padding_mode: only ``'zeros'`` (default) is implemented.
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): shape ``(C_out, C_in / groups, kernel_size)``, initialized as
            in PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-k, k) with
            ``k = 1 / sqrt(fan_in)``, ``fan_in = C_in / groups * kernel_size``.
        bias (Tensor | None): shape ``(C_out,)``, from U(-k, k); None with
            ``bias=False``.

    Examples:
        >>> conv = nn.Conv1d(16, 33, kernel_size=3, stride=2)
        >>> conv(cr.randn(20, 16, 50)).shape
        (20, 33, 24)
    """

    _nd = 1


class Conv2d(_ConvForward):
    """2-d convolution layer (a cross-correlation, as in PyTorch) over images.

    Shapes: input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1`` and
    likewise ``W_out``.  A 3-D (unbatched) input or a channel mismatch raises
    ShapeError naming this layer.  See [`F.conv2d`][chainrule.nn.functional.conv2d].
    Differs from PyTorch: only ``padding_mode='zeros'`` (the others raise
    NotImplementedError), the input must be batched, and arguments PyTorch rejects
    only in its first forward fail in the constructor.

    Args:
        in_channels: the channels C_in of the input.
        out_channels: the channels C_out of the output.
        kernel_size (int | tuple[int, int]): the size of the kernel.
        stride (int | tuple[int, int]): the step between windows (default 1).
        padding (int | tuple[int, int] | str): zeros added on each side (default 0);
            ``'valid'`` is no padding, ``'same'`` keeps the size (stride 1 only).
        dilation (int | tuple[int, int]): the spacing between kernel taps
            (default 1).
        groups: independent channel groups; C_in and C_out must be divisible by
            it (default 1; ``groups=C_in`` is a depthwise convolution).
        bias: whether to learn an additive bias (default True).
        padding_mode: only ``'zeros'`` (default) is implemented.
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): shape ``(C_out, C_in / groups, kH, kW)``, initialized as in
            PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-k, k) with
            ``k = 1 / sqrt(fan_in)``, ``fan_in = C_in / groups * kH * kW``.
        bias (Tensor | None): shape ``(C_out,)``, from U(-k, k); None with
            ``bias=False``.

    Examples:
        >>> conv = nn.Conv2d(16, 33, kernel_size=3, stride=2, padding=1)
        >>> conv(cr.randn(20, 16, 50, 100)).shape
        (20, 33, 25, 50)
        >>> conv.weight.shape
        (33, 16, 3, 3)
    """

    _nd = 2


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
            device,
            dtype,
        )

    def _output_padding(self, x, output_size):
        """output_padding that makes the output ``output_size`` (PyTorch's rule; None keeps the set one)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = list(output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(
                f"{self._layer_name()}: output_size must have {nd} or {nd + 2} elements, got {tuple(output_size)}"
            )
        pads = []
        for i in range(nd):
            smallest = (
                (x.shape[i + 2] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            largest = smallest + self.stride[i] - 1
            if not smallest <= size[i] <= largest:
                raise ValueError(
                    f"{self._layer_name()}: requested an output size of {tuple(size)}, but valid sizes "
                    f"range from {smallest} to {largest} in dimension {i + 2} for input "
                    f"{tuple(x.shape)}"
                )
            pads.append(size[i] - smallest)
        return tuple(pads)

    def forward(self, input: Tensor, output_size=None) -> Tensor:  # noqa: A002
        name = self._layer_name()
        output_padding = self.output_padding
        if output_size is not None:
            conv_f.check_conv_shapes(input, self.weight, self.bias, self.groups, self._nd, name, transposed=True)
            output_padding = self._output_padding(input, output_size)
        return conv_f.transposed_convolution(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
            self._nd,
            name,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution layer: the gradient of ``Conv1d`` with respect to its input, used to upsample.

    Shapes: input ``(N, C_in, L)``, output ``(N, C_out, L_out)`` with
    ``L_out = (L - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``.
    ``forward(input, output_size=None)``: ``output_size`` (the spatial size, or the
    full shape) picks the ``output_padding`` that reaches it, for the sizes a
    strided convolution maps to the same input size.  See
    [`F.conv_transpose1d`][chainrule.nn.functional.conv_transpose1d]. Differs from
    PyTorch: only ``padding_mode='zeros'`` (the others raise NotImplementedError),
    the input must be batched, and arguments PyTorch rejects only in its first
    forward fail in the constructor.

    Args:
        in_channels: the channels C_in of the input.
        out_channels: the channels C_out of the output.
        kernel_size (int | tuple[int]): the size of the kernel.
        stride (int | tuple[int]): the step between windows (default 1).
        padding (int | tuple[int]): removes this many elements from each side of
            the full output (default 0).
        output_padding (int | tuple[int]): extra length at the end of the
            output, smaller than stride or dilation (default 0).
        groups: independent channel groups (default 1).
        bias: whether to learn an additive bias (default True).
        dilation (int | tuple[int]): the spacing between kernel taps (default 1).
        padding_mode: only ``'zeros'`` (default) is implemented.
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): shape ``(C_in, C_out / groups, kernel_size)`` (C_in first),
            initialized as in PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-k, k)
            with ``k = 1 / sqrt(fan_in)``, ``fan_in = C_out / groups * kernel_size``
            (PyTorch's convention).
        bias (Tensor | None): shape ``(C_out,)``, from U(-k, k); None with
            ``bias=False``.

    Examples:
        >>> up = nn.ConvTranspose1d(16, 8, kernel_size=4, stride=2, padding=1)
        >>> up(cr.randn(2, 16, 10)).shape
        (2, 8, 20)
    """

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution layer: the gradient of ``Conv2d`` with respect to its input, used to upsample.

    Shapes: input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``
    and likewise ``W_out``.  ``forward(input, output_size=None)``: ``output_size``
    (the spatial size, or the full shape) picks the ``output_padding`` that reaches
    it, for the sizes a strided convolution maps to the same input size.  See
    [`F.conv_transpose2d`][chainrule.nn.functional.conv_transpose2d]. Differs from
    PyTorch: only ``padding_mode='zeros'`` (the others raise NotImplementedError),
    the input must be batched, and arguments PyTorch rejects only in its first
    forward fail in the constructor.

    Args:
        in_channels: the channels C_in of the input.
        out_channels: the channels C_out of the output.
        kernel_size (int | tuple[int, int]): the size of the kernel.
        stride (int | tuple[int, int]): the step between windows (default 1).
        padding (int | tuple[int, int]): removes this many elements from each side of
            the full output (default 0).
        output_padding (int | tuple[int, int]): extra rows/columns at the
            bottom/right of the output, smaller than stride or dilation
            (default 0).
        groups: independent channel groups (default 1).
        bias: whether to learn an additive bias (default True).
        dilation (int | tuple[int, int]): the spacing between kernel taps
            (default 1).
        padding_mode: only ``'zeros'`` (default) is implemented.
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): shape ``(C_in, C_out / groups, kH, kW)`` (C_in first),
            initialized as in PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-k, k)
            with ``k = 1 / sqrt(fan_in)``, ``fan_in = C_out / groups * kH * kW``
            (PyTorch's convention).
        bias (Tensor | None): shape ``(C_out,)``, from U(-k, k); None with
            ``bias=False``.

    Examples:
        >>> up = nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1)
        >>> x = cr.randn(1, 16, 12, 12)
        >>> up(x).shape, up(x, output_size=(24, 24)).shape
        ((1, 8, 23, 23), (1, 8, 24, 24))
    """

    _nd = 2
