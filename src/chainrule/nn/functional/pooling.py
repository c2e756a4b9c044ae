"""Pooling with PyTorch's signatures: max, average and adaptive pooling over 1 or 2 dimensions.

Shapes: the 1-d functions take (N, C, L) or (C, L), the 2-d ones (N, C, H, W)
or (C, H, W), as PyTorch does; pooling acts on the trailing dimensions.
Output sizes follow PyTorch, ``ceil_mode`` included:
``out = floor_or_ceil((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``,
and a ceil-mode window that would start in the right padding is dropped.

Differences from PyTorch: the general (non-divisible) adaptive max pooling
picks the *first* NaN of a window where PyTorch's CPU kernel picks the last
(values agree; only the routed gradient can differ, and only with NaNs).
"""

from __future__ import annotations

import math

import numpy as np

from ...backend import array_module
from ...errors import ShapeError
from ...ops import pool as _ops
from ...tensor import Tensor, _wrap
from .conv import ntuple

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "max_pool1d",
    "max_pool2d",
]

_SPATIAL = {1: "L", 2: "H, W"}


def check_pool_input(x, nd, op):
    """Accept (N, C, *spatial) or unbatched (C, *spatial), as PyTorch does."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in x.shape[-nd:]):
        raise ShapeError(
            f"{op}: expected input of shape (N, C, {_SPATIAL[nd]}) or (C, {_SPATIAL[nd]}) with "
            f"non-empty spatial dims, got {tuple(x.shape)}"
        )


def _pool_args(kernel_size, stride, padding, nd, op):
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        stride = kernel
    return kernel, ntuple(stride, nd, "stride", op), ntuple(padding, nd, "padding", op)


def max_pooling(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    """max_pool1d/2d after argument parsing; ``op`` names the layer in errors."""
    check_pool_input(x, nd, op)
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd, op)
    dilation = ntuple(dilation, nd, "dilation", op)
    return _ops.max_pool(x, kernel, stride, padding, dilation, ceil_mode, return_indices, op)


def avg_pooling(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, op):
    """avg_pool1d/2d after argument parsing; ``op`` names the layer in errors."""
    check_pool_input(x, nd, op)
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd, op)
    return _ops.avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, op)


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,  # noqa: A002
    return_indices: bool = False,
):
    """Max pooling over windows of the last dimension: ``(N, C, L)`` -> ``(N, C, L_out)``.

    ``L_out = floor_or_ceil((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``; a window that would start in the right padding is
    dropped).  Padding is -inf, so it is never chosen.  On ties the gradient goes to
    the first maximum of a window, as in PyTorch.

    Args:
        input: the input, shape ``(N, C, L)`` or unbatched ``(C, L)``.
        kernel_size (int | tuple[int]): the window length.
        stride (int | tuple[int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int]): -inf added at both ends, at most half the
            kernel (default 0).
        dilation (int | tuple[int]): the spacing between the elements of a
            window (default 1).
        ceil_mode: round the output length up instead of down (default False).
        return_indices: also return where each maximum is (default False).

    Returns:
        (Tensor | tuple[Tensor, Tensor]): The pooled tensor ``(N, C, L_out)``;
            with ``return_indices`` also the int64 position in L of each maximum
            (the first one on ties).

    Examples:
        >>> x = cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
        >>> F.max_pool1d(x, 2)
        tensor([[[3., 5.]]])
        >>> F.max_pool1d(x, 2, ceil_mode=True)
        tensor([[[3., 5., 4.]]])
        >>> F.max_pool1d(x, 2, return_indices=True)[1]
        tensor([[[1, 3]]])
    """
    return max_pooling(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,  # noqa: A002
    return_indices: bool = False,
):
    """Max pooling over (kH, kW) windows: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    ``H_out = floor_or_ceil((H + 2 * padding - dilation * (kH - 1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``; a window that would start in the padding is
    dropped), likewise ``W_out``.  ``padding`` pads with -inf (at most half the
    kernel).  The gradient goes to the first maximum of each window in
    row-major order, as in PyTorch.

    Args:
        input: the input, shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size (int | tuple[int, int]): the window size.
        stride (int | tuple[int, int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int, int]): -inf added on each side (default 0).
        dilation (int | tuple[int, int]): the spacing between the elements of a
            window (default 1).
        ceil_mode: round the output size up instead of down (default False).
        return_indices: also return where each maximum is (default False).

    Returns:
        (Tensor | tuple[Tensor, Tensor]): The pooled tensor
            ``(N, C, H_out, W_out)``; with ``return_indices`` also the int64 flat
            index ``h * W + w`` of each maximum within its (H, W) plane.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
        >>> F.max_pool2d(cr.randn(8, 3, 32, 32), kernel_size=3, stride=2, padding=1).shape
        (8, 3, 16, 16)
    """
    return max_pooling(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,  # noqa: A002
    count_include_pad: bool = True,
) -> Tensor:
    """Average pooling over windows of the last dimension: ``(N, C, L)`` -> ``(N, C, L_out)``.

    ``L_out = floor_or_ceil((L + 2 * padding - kernel_size) / stride) + 1``.

    Args:
        input: the input, shape ``(N, C, L)`` or unbatched ``(C, L)``.
        kernel_size (int | tuple[int]): the window length.
        stride (int | tuple[int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int]): zeros added at both ends, at most half the
            kernel (default 0).
        ceil_mode: round the output length up instead of down (default False).
        count_include_pad: divide by the whole window, zero padding included
            (default True); otherwise by the number of input elements in it.

    Returns:
        A tensor of shape ``(N, C, L_out)`` (or ``(C, L_out)``) in ``input``'s
        dtype.

    Examples:
        >>> x = cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
        >>> F.avg_pool1d(x, 2)
        tensor([[[2.0000, 3.5000]]])
        >>> F.avg_pool1d(x, 3, stride=1, padding=1, count_include_pad=False)
        tensor([[[2.0000, 2.0000, 3.3333, 3.6667, 4.5000]]])
    """
    return avg_pooling(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,  # noqa: A002
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Average pooling over (kH, kW) windows: ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``.

    ``H_out = floor_or_ceil((H + 2 * padding - kH) / stride) + 1``, likewise
    ``W_out``.  The divisor is the window size including padding
    (``count_include_pad``, the default), the number of input elements in the
    window, or ``divisor_override``.  Windows that ceil_mode lets run past the
    padding are not counted, as in PyTorch.

    Args:
        input: the input, shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size (int | tuple[int, int]): the window size.
        stride (int | tuple[int, int] | None): the step between windows; None
            (default) means ``kernel_size``.
        padding (int | tuple[int, int]): zeros added on each side, at most half
            the kernel (default 0).
        ceil_mode: round the output size up instead of down (default False).
        count_include_pad: count the zero padding in the divisor (default True).
        divisor_override: if given, divide every window's sum by this instead.

    Returns:
        A tensor of shape ``(N, C, H_out, W_out)`` (or ``(C, H_out, W_out)``) in
        ``input``'s dtype.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.avg_pool2d(x, 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
        >>> F.avg_pool2d(x, 2, divisor_override=1)  # window sums
        tensor([[[[10., 18.],
                  [42., 50.]]]])
    """
    return avg_pooling(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2, "avg_pool2d"
    )


# ---------------------------------------------------------------------------
# adaptive pooling


def _adaptive_size(output_size, in_size, nd, op):
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{op}: output_size must be an int or {nd} ints (None keeps a size), got {output_size!r}")
        sizes = tuple(n if o is None else int(o) for o, n in zip(output_size, in_size))
    elif output_size is None:
        sizes = tuple(in_size)
    else:
        sizes = (int(output_size),) * nd
    if any(o < 0 for o in sizes):
        raise ValueError(f"{op}: output_size must be >= 0 (None keeps the input's size), got {output_size!r}")
    return sizes


def _empty_result(x, out_size, nd, return_indices=False):
    """The (*lead, *out_size) result when it has no elements (a batch of 0, an output size of 0).

    Sliced from x, so it stays in the graph and x's gradient is zeros, as in PyTorch.
    """
    shape = (*x.shape[:-nd], *out_size)
    out = x.reshape(-1)[:0].reshape(shape)
    if not return_indices:
        return out
    return out, _wrap(array_module(x._data).zeros(shape, dtype=np.int64))


def _adaptive_bounds(n, out):
    """PyTorch's adaptive windows along one dim: [floor(i*n/out), ceil((i+1)*n/out))."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_matrix(n, out, dtype, xp):
    """(out, n) averaging matrix whose row i is the mean over window i."""
    start, end = _adaptive_bounds(n, out)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return _wrap(xp.asarray(inside / (end - start)[:, None], dtype=dtype))


def adaptive_avg_pooling(x, output_size, nd, op):
    check_pool_input(x, nd, op)
    in_size = tuple(x.shape[-nd:])
    out_size = _adaptive_size(output_size, in_size, nd, op)
    if 0 in out_size or x._data.size == 0:
        return _empty_result(x, out_size, nd)
    if all(o == 1 for o in out_size):  # global average pooling
        return x.mean(dim=tuple(range(-nd, 0)), keepdim=True)
    if all(n % o == 0 for n, o in zip(in_size, out_size)):  # regular windows: kernel = stride = n / out
        kernel = tuple(n // o for n, o in zip(in_size, out_size))
        return _ops.avg_pool(x, kernel, kernel, (0,) * nd, op=op)
    # general case: windows of varying size; the mean is separable, one small GEMM per pooled dim
    xp = array_module(x._data)
    y = x
    for axis, (n, o) in enumerate(zip(in_size, out_size)):
        if n == o:
            continue
        dim = x.ndim - nd + axis
        pool = _adaptive_matrix(n, o, x.dtype, xp)
        moved = y.movedim(dim, -1)
        y = (moved.reshape(-1, n) @ pool.T).reshape(*moved.shape[:-1], o).movedim(-1, dim)
    return y


def adaptive_max_pooling(x, output_size, return_indices, nd, op):
    check_pool_input(x, nd, op)
    in_size = tuple(x.shape[-nd:])
    out_size = _adaptive_size(output_size, in_size, nd, op)
    if 0 in out_size or x._data.size == 0:
        return _empty_result(x, out_size, nd, return_indices)
    if all(n % o == 0 for n, o in zip(in_size, out_size)):
        kernel = tuple(n // o for n, o in zip(in_size, out_size))
        return _ops.max_pool(x, kernel, kernel, (0,) * nd, (1,) * nd, False, return_indices, op)
    # general case: gather every window (padded to the longest by repeating its last element, which never
    # changes the first maximum), argmax in numpy, then a differentiable gather of the winners
    xp = array_module(x._data)
    index, lengths, starts = [], [], []
    for axis, (n, o) in enumerate(zip(in_size, out_size)):
        start, end = _adaptive_bounds(n, o)
        longest = int((end - start).max())
        positions = np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1)
        shape = [1] * (2 * nd)
        shape[2 * axis], shape[2 * axis + 1] = o, longest
        index.append(xp.asarray(positions.reshape(shape)))
        lengths.append(longest)
        starts.append((start, end))
    windows = x._data[tuple([Ellipsis, *index])]  # (*lead, o1, k1, o2, k2, ...)
    lead = x.ndim - nd
    order = (*range(lead), *range(lead, lead + 2 * nd, 2), *range(lead + 1, lead + 2 * nd, 2))
    windows = windows.transpose(order).reshape(*x.shape[:lead], *out_size, math.prod(lengths))
    best = windows.argmax(axis=-1)
    offsets = xp.unravel_index(best, lengths) if nd > 1 else (best,)
    flat = None
    for axis, ((start, end), off) in enumerate(zip(starts, offsets)):
        shape = [1] * nd
        shape[axis] = -1
        s = xp.asarray(start).reshape(shape)
        e = xp.asarray(end).reshape(shape)
        pos = xp.minimum(s + off, e - 1)
        flat = pos if flat is None else flat * in_size[axis] + pos
    flat = flat.astype(np.int64)
    plane = x.reshape(*x.shape[:lead], math.prod(in_size))
    out = plane.gather(-1, flat.reshape(*x.shape[:lead], -1)).reshape(*x.shape[:lead], *out_size)
    return (out, _wrap(flat)) if return_indices else out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Adaptive average pooling: the mean over ``output_size`` windows that cover the last dimension, for any length.

    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, PyTorch's bounds: the
    windows cover the input and differ in size by at most one.

    Args:
        input: the input, shape ``(N, C, L)`` or unbatched ``(C, L)``.
        output_size (int | tuple[int] | None): L_out; None keeps L.

    Returns:
        A tensor of shape ``(N, C, L_out)`` (or ``(C, L_out)``) in ``input``'s
        dtype.

    Examples:
        >>> x = cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
        >>> F.adaptive_avg_pool1d(x, 2)  # windows [0, 3) and [2, 5)
        tensor([[[2.0000, 3.6667]]])
        >>> F.adaptive_avg_pool1d(x, 1)
        tensor([[[3.]]])
    """
    return adaptive_avg_pooling(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Adaptive average pooling: the mean over windows chosen to give ``(H_out, W_out)`` from any ``(H, W)``.

    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, PyTorch's bounds: the windows
    cover the input and differ in size by at most one.  Divisible sizes use the
    average-pooling kernel (a 1x1 output is a mean: global average pooling); others
    a separable averaging-matrix product.

    Args:
        input: the input, shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        output_size (int | tuple[int | None, int | None]): ``(H_out, W_out)``, or
            one int for both; None in a place keeps that input size.

    Returns:
        A tensor of shape ``(N, C, H_out, W_out)`` (or ``(C, H_out, W_out)``) in
        ``input``'s dtype.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.adaptive_avg_pool2d(x, 1)
        tensor([[[[7.5000]]]])
        >>> F.adaptive_avg_pool2d(cr.randn(2, 3, 7, 5), (2, None)).shape
        (2, 3, 2, 5)
    """
    return adaptive_avg_pooling(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Adaptive max pooling: the maximum over ``output_size`` windows that cover the last dimension, for any length.

    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, PyTorch's bounds: the windows
    cover the input and differ in size by at most one.  The gradient goes to the
    first maximum of each window.

    Args:
        input: the input, shape ``(N, C, L)`` or unbatched ``(C, L)``.
        output_size (int | tuple[int] | None): L_out; None keeps L.
        return_indices: also return where each maximum is (default False).

    Returns:
        (Tensor | tuple[Tensor, Tensor]): The pooled tensor ``(N, C, L_out)``;
            with ``return_indices`` also the int64 position in L of each maximum.

    Examples:
        >>> x = cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
        >>> F.adaptive_max_pool1d(x, 2, return_indices=True)
        (tensor([[[3., 5.]]]), tensor([[[1, 3]]]))
    """
    return adaptive_max_pooling(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Adaptive max pooling: the maximum over windows chosen to give ``(H_out, W_out)`` from any ``(H, W)``.

    Window i along a dimension of size n covers
    ``[floor(i * n / out), ceil((i + 1) * n / out))``, PyTorch's bounds: the windows
    cover the input and differ in size by at most one.  The gradient goes to the
    first maximum of each window.  Differs from PyTorch only with NaNs in a
    non-divisible case: the first NaN of a window is picked where PyTorch's CPU
    kernel picks the last (same values, the gradient can go elsewhere).

    Args:
        input: the input, shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        output_size (int | tuple[int | None, int | None]): ``(H_out, W_out)``, or
            one int for both; None in a place keeps that input size.
        return_indices: also return where each maximum is (default False).

    Returns:
        (Tensor | tuple[Tensor, Tensor]): The pooled tensor
            ``(N, C, H_out, W_out)``; with ``return_indices`` also the int64 flat
            index ``h * W + w`` of each maximum within its plane.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.adaptive_max_pool2d(x, (1, 3))  # column windows [0, 2), [1, 3), [2, 4)
        tensor([[[[13., 14., 15.]]]])
    """
    return adaptive_max_pooling(input, output_size, return_indices, 2, "adaptive_max_pool2d")
