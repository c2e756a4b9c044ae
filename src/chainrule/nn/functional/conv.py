"""Convolutions with PyTorch's signatures: conv1d, conv2d, conv_transpose1d, conv_transpose2d.

Shapes: input (N, C_in, L) or (N, C_in, H, W); conv weight (C_out, C_in / groups, *kernel);
transposed-conv weight (C_in, C_out / groups, *kernel); bias (C_out,).

Differences from PyTorch, on purpose:

* The input must be batched: an unbatched (C_in, H, W) input raises
  :class:`~chainrule.errors.ShapeError` (add the batch with ``x.unsqueeze(0)``).
* The result is an (N, C_out, *out) view of channels-last memory (see
  ``chainrule/ops/conv.py``): values and shapes are PyTorch's, only the strides
  differ, which lets the next convolution skip a transpose.
"""

from __future__ import annotations

import operator

from ...autograd.mode import autocast_state
from ...errors import ShapeError
from ...ops import conv as _ops
from ...ops.casting import cast_for_gemm
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

_SPATIAL = {1: "L", 2: "H, W"}


def ntuple(value, n: int, name: str, op: str) -> tuple:
    """An int or a sequence of n ints as an n-tuple of ints."""
    try:
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"{op}: {name} must be an int or {n} ints, got {value!r}")
            return tuple(operator.index(v) for v in value)
        if isinstance(value, bool):
            raise TypeError
        return (operator.index(value),) * n
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}") from None


def _expected(channels, nd, extra=""):
    return f"(N, {channels}, {_SPATIAL[nd]}){extra}"


def conv_padding(padding, kernel, stride, dilation, nd, op) -> tuple:
    """((low, high), ...) from an int, a tuple, 'valid' or 'same' (extra zero at the high end when odd, as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            pairs = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
    pads = ntuple(padding, nd, "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return tuple((p, p) for p in pads)


def _check_positive(op, **values):
    for name, value in values.items():
        if any(v <= 0 for v in value):
            raise ValueError(f"{op}: {name} must be positive, got {value}")


def check_conv_shapes(x, weight, bias, groups, nd, op, transposed=False):
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors, got {type(x).__name__} and {type(weight).__name__}")
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    w_shape = tuple(weight.shape)
    if weight.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-D weight, got shape {w_shape}")
    if 0 in w_shape[2:] or w_shape[1 if transposed else 0] == 0:
        # PyTorch's kernels refuse these too; a kernel of 0 would otherwise grow the image
        raise ShapeError(
            f"{op}: weight of shape {w_shape} has a kernel size or an output channel count of 0; "
            "every kernel dimension and the output channels must be at least 1"
        )
    if transposed:
        in_channels, out_channels = w_shape[0], w_shape[1] * groups
        if in_channels % groups:
            raise ValueError(f"{op}: in_channels ({in_channels}) must be divisible by groups ({groups})")
    else:
        in_channels, out_channels = w_shape[1] * groups, w_shape[0]
        if out_channels % groups:
            raise ValueError(f"{op}: out_channels ({out_channels}) must be divisible by groups ({groups})")
    if x.ndim != nd + 2 or x.shape[1] != in_channels:
        hint = " (unbatched input is not supported: add the batch dimension with x.unsqueeze(0))" \
            if x.ndim == nd + 1 else ""
        raise ShapeError(
            f"{op}: expected input of shape {_expected(in_channels, nd)} for weight {w_shape} and groups={groups}, "
            f"got {tuple(x.shape)}{hint}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ShapeError(f"{op}: expected bias of shape ({out_channels},), got {tuple(bias.shape)}")


def convolution(x, weight, bias, stride, padding, dilation, groups, nd, op):
    """conv1d/conv2d after argument parsing; ``op`` names the layer in errors."""
    if autocast_state() is not None:
        x, weight, bias = cast_for_gemm(x, weight, bias)
    check_conv_shapes(x, weight, bias, groups, nd, op)
    kernel = tuple(weight.shape[2:])
    stride = ntuple(stride, nd, "stride", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    _check_positive(op, stride=stride, dilation=dilation)
    pads = conv_padding(padding, kernel, stride, dilation, nd, op)
    return _ops.conv(x, weight, bias, stride, pads, dilation, groups, op)


def transposed_convolution(x, weight, bias, stride, padding, output_padding, groups, dilation, nd, op):
    """conv_transpose1d/2d after argument parsing; ``op`` names the layer in errors."""
    if autocast_state() is not None:
        x, weight, bias = cast_for_gemm(x, weight, bias)
    check_conv_shapes(x, weight, bias, groups, nd, op, transposed=True)
    stride = ntuple(stride, nd, "stride", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    _check_positive(op, stride=stride, dilation=dilation)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints for transposed convolutions, "
                         f"got {padding!r}")
    padding = ntuple(padding, nd, "padding", op)
    output_padding = ntuple(output_padding, nd, "output_padding", op)
    if any(p < 0 for p in padding + output_padding):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {padding}, {output_padding}")
    for o, s, d in zip(output_padding, stride, dilation):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    return _ops.conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups, op)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation): input (N, C_in, L), weight (C_out, C_in/groups, k) -> (N, C_out, L_out).

    ``padding`` is an int, a 1-tuple, ``'valid'`` (no padding) or ``'same'``
    (output length = input length; stride must be 1).
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation): input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW).

    Returns (N, C_out, H_out, W_out) with
    ``H_out = (H + 2*padding - dilation*(kH-1) - 1) // stride + 1``.  ``padding``
    is an int, a pair, ``'valid'`` or ``'same'`` (stride 1 only; an odd total
    padding puts the extra zero at the bottom/right, as PyTorch does).
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-d transposed convolution: input (N, C_in, L), weight (C_in, C_out/groups, k) -> (N, C_out, L_out).

    ``L_out = (L - 1)*stride - 2*padding + dilation*(k-1) + output_padding + 1``.
    """
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                                  "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-d transposed convolution (the gradient of conv2d with respect to its input).

    input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW) -> (N, C_out, H_out, W_out) with
    ``H_out = (H - 1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1``.
    """
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                                  "conv_transpose2d")
