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
        hint = (
            " (unbatched input is not supported: add the batch dimension with x.unsqueeze(0))"
            if x.ndim == nd + 1
            else ""
        )
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
        raise ValueError(
            f"{op}: padding must be an int or a tuple of ints for transposed convolutions, got {padding!r}"
        )
    padding = ntuple(padding, nd, "padding", op)
    output_padding = ntuple(output_padding, nd, "output_padding", op)
    if any(p < 0 for p in padding + output_padding):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {padding}, {output_padding}")
    for o, s, d in zip(output_padding, stride, dilation):
        if o >= s and o >= d:
            raise ValueError(
                f"{op}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    return _ops.conv_transpose(x, weight, bias, stride, padding, output_padding, dilation, groups, op)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,  # noqa: A002
    groups: int = 1,
) -> Tensor:
    """1-d convolution (a cross-correlation, as in PyTorch) over the last dimension.

    With ``groups=1``,
    ``out[n, o, l] = bias[o] + sum over c, k of weight[o, c, k] * x[n, c, l * stride + k * dilation]``
    with x zero-padded; the output length is
    ``L_out = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1``.
    Unlike PyTorch, the input must be batched (add the batch with
    ``x.unsqueeze(0)``), and the result is an ``(N, C_out, ...)`` view of
    channels-last memory: PyTorch's values and shape, other strides.

    Args:
        input: the input, shape ``(N, C_in, L)``.
        weight: the filters, shape ``(C_out, C_in / groups, k)``.
        bias: shape ``(C_out,)``, or None (default) for no bias.
        stride (int | tuple[int]): the step between windows (default 1).
        padding (int | tuple[int] | str): zeros added at both ends (default 0);
            ``'valid'`` is 0 and ``'same'`` pads so that ``L_out == L`` (stride 1
            only; an odd total puts the extra zero at the end, as PyTorch).
        dilation (int | tuple[int]): the spacing between kernel taps (default 1).
        groups: split the channels into this many independent groups; C_in and
            C_out must be divisible by it (default 1).

    Returns:
        A tensor of shape ``(N, C_out, L_out)`` in ``input``'s dtype.

    Raises:
        ShapeError: if the input is not ``(N, C_in, L)`` for this weight, or the
            bias does not have C_out elements.

    Examples:
        >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> F.conv1d(x, cr.tensor([[[1.0, 0.0, -1.0]]]))
        tensor([[[-2., -2.]]])
        >>> F.conv1d(x, cr.tensor([[[1.0, 0.0, -1.0]]]), padding="same")
        tensor([[[-2., -2., -2.,  3.]]])
        >>> F.conv1d(cr.randn(8, 3, 20), cr.randn(16, 3, 5), stride=2).shape
        (8, 16, 8)
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,  # noqa: A002
    groups: int = 1,
) -> Tensor:
    """2-d convolution (cross-correlation) over the last two dimensions.

    With ``groups=1``,
    ``out[n, o, i, j] = bias[o] + sum over c, p, q of weight[o, c, p, q] * x[n, c, i * sH + p * dH, j * sW + q * dW]``
    with x zero-padded, (sH, sW) the stride and (dH, dW) the dilation;
    ``H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1`` and
    likewise ``W_out``.  Unlike PyTorch, the input must be batched (add the
    batch with ``x.unsqueeze(0)``), and the result is an ``(N, C_out, ...)``
    view of channels-last memory: PyTorch's values and shape, other strides.

    Args:
        input: the input, shape ``(N, C_in, H, W)``.
        weight: the filters, shape ``(C_out, C_in / groups, kH, kW)``.
        bias: shape ``(C_out,)``, or None (default) for no bias.
        stride (int | tuple[int, int]): the step between windows (default 1).
        padding (int | tuple[int, int] | str): zeros added on each side (default
            0); ``'valid'`` is 0 and ``'same'`` keeps H and W (stride 1 only; an
            odd total padding puts the extra zero at the bottom/right, as
            PyTorch does).
        dilation (int | tuple[int, int]): the spacing between kernel taps
            (default 1).
        groups: split the channels into this many independent groups; C_in and
            C_out must be divisible by it (default 1; ``groups=C_in`` is a
            depthwise convolution).

    Returns:
        A tensor of shape ``(N, C_out, H_out, W_out)`` in ``input``'s dtype.

    Raises:
        ShapeError: if the input is not ``(N, C_in, H, W)`` for this weight
            (e.g. unbatched), or the bias does not have C_out elements.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.conv2d(x, cr.ones(1, 1, 2, 2))  # sums of 2x2 windows
        tensor([[[[10., 14., 18.],
                  [26., 30., 34.],
                  [42., 46., 50.]]]])
        >>> F.conv2d(cr.randn(2, 3, 32, 32), cr.randn(8, 3, 3, 3), padding=1).shape
        (2, 8, 32, 32)
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,  # noqa: A002
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """1-d transposed convolution: the gradient of ``conv1d`` with respect to its input, used to upsample.

    Each input position adds ``x[n, c, l] * weight[c, :, :]`` into the output
    starting at ``l * stride - padding``;
    ``L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    Unlike PyTorch, the input must be batched.

    Args:
        input: the input, shape ``(N, C_in, L)``.
        weight: the filters, shape ``(C_in, C_out / groups, k)`` (note: C_in first).
        bias: shape ``(C_out,)``, or None (default) for no bias.
        stride (int | tuple[int]): the upsampling factor (default 1).
        padding (int | tuple[int]): removes this many elements from each end of
            the full output (default 0).
        output_padding (int | tuple[int]): extra length added at the end of the
            output, smaller than stride or dilation: of the lengths that a
            strided ``conv1d`` maps to L, it picks which one (default 0).
        groups: split the channels into this many independent groups (default 1).
        dilation (int | tuple[int]): the spacing between kernel taps (default 1).

    Returns:
        A tensor of shape ``(N, C_out, L_out)`` in ``input``'s dtype.

    Raises:
        ShapeError: if the input is not ``(N, C_in, L)`` for this weight.

    Examples:
        >>> x, weight = cr.tensor([[[1.0, 2.0]]]), cr.tensor([[[1.0, 1.0, 1.0]]])
        >>> F.conv_transpose1d(x, weight)
        tensor([[[1., 3., 3., 2.]]])
        >>> F.conv_transpose1d(x, weight, stride=2)
        tensor([[[1., 1., 3., 2., 2.]]])
    """
    return transposed_convolution(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,  # noqa: A002
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """2-d transposed convolution: the gradient of ``conv2d`` with respect to its input, used to upsample.

    ``H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``
    and likewise ``W_out``.  Unlike PyTorch, the input must be batched.

    Args:
        input: the input, shape ``(N, C_in, H, W)``.
        weight: the filters, shape ``(C_in, C_out / groups, kH, kW)`` (note: C_in
            first).
        bias: shape ``(C_out,)``, or None (default) for no bias.
        stride (int | tuple[int, int]): the upsampling factor (default 1).
        padding (int | tuple[int, int]): removes this many rows/columns from each
            side of the full output (default 0).
        output_padding (int | tuple[int, int]): extra rows/columns added at the
            bottom/right, smaller than stride or dilation (default 0).
        groups: split the channels into this many independent groups (default 1).
        dilation (int | tuple[int, int]): the spacing between kernel taps
            (default 1).

    Returns:
        A tensor of shape ``(N, C_out, H_out, W_out)`` in ``input``'s dtype.

    Raises:
        ShapeError: if the input is not ``(N, C_in, H, W)`` for this weight.

    Examples:
        >>> F.conv_transpose2d(cr.ones(1, 1, 2, 2), cr.ones(1, 1, 2, 2), stride=2)
        tensor([[[[1., 1., 1., 1.],
                  [1., 1., 1., 1.],
                  [1., 1., 1., 1.],
                  [1., 1., 1., 1.]]]])
        >>> x = cr.randn(2, 8, 7, 7)
        >>> F.conv_transpose2d(x, cr.randn(8, 4, 3, 3), stride=2, padding=1, output_padding=1).shape
        (2, 4, 14, 14)
    """
    return transposed_convolution(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )
