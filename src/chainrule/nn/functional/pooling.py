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
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "avg_pool1d", "avg_pool2d", "max_pool1d", "max_pool2d",
]

_SPATIAL = {1: "L", 2: "H, W"}


def check_pool_input(x, nd, op):
    """Accept (N, C, *spatial) or unbatched (C, *spatial), as PyTorch does."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in x.shape[-nd:]):
        raise ShapeError(f"{op}: expected input of shape (N, C, {_SPATIAL[nd]}) or (C, {_SPATIAL[nd]}) with "
                         f"non-empty spatial dims, got {tuple(x.shape)}")


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


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False):
    """Max over windows of the last dim: (N, C, L) -> (N, C, L_out); ``stride`` defaults to ``kernel_size``.

    With ``return_indices`` also returns the int64 position in L of each maximum
    (the first one on ties; padding is never chosen).
    """
    return max_pooling(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,  # noqa: A002
               return_indices: bool = False):
    """Max over (kH, kW) windows: (N, C, H, W) -> (N, C, H_out, W_out); ``stride`` defaults to ``kernel_size``.

    ``padding`` pads with -inf (at most half the kernel).  With
    ``return_indices`` also returns the int64 flat index ``h * W + w`` of each
    maximum within its (H, W) plane, the first one in row-major order on ties.
    The gradient goes to that element only, as in PyTorch.
    """
    return max_pooling(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of the last dim: (N, C, L) -> (N, C, L_out).

    ``count_include_pad`` divides by the window size including zero padding;
    otherwise by the number of input elements in the window.
    """
    return avg_pooling(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over (kH, kW) windows: (N, C, H, W) -> (N, C, H_out, W_out).

    The divisor is the window size including padding (``count_include_pad``,
    the default), the number of input elements in the window, or
    ``divisor_override``.  Windows that ceil_mode lets run past the padding are
    not counted, as in PyTorch.
    """
    return avg_pooling(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                       "avg_pool2d")


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
    return out, _wrap(array_module(x.data).zeros(shape, dtype=np.int64))


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
    if 0 in out_size or x.data.size == 0:
        return _empty_result(x, out_size, nd)
    if all(o == 1 for o in out_size):  # global average pooling
        return x.mean(dim=tuple(range(-nd, 0)), keepdim=True)
    if all(n % o == 0 for n, o in zip(in_size, out_size)):  # regular windows: kernel = stride = n / out
        kernel = tuple(n // o for n, o in zip(in_size, out_size))
        return _ops.avg_pool(x, kernel, kernel, (0,) * nd, op=op)
    # general case: windows of varying size; the mean is separable, one small GEMM per pooled dim
    xp = array_module(x.data)
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
    if 0 in out_size or x.data.size == 0:
        return _empty_result(x, out_size, nd, return_indices)
    if all(n % o == 0 for n, o in zip(in_size, out_size)):
        kernel = tuple(n // o for n, o in zip(in_size, out_size))
        return _ops.max_pool(x, kernel, kernel, (0,) * nd, (1,) * nd, False, return_indices, op)
    # general case: gather every window (padded to the longest by repeating its last element, which never
    # changes the first maximum), argmax in numpy, then a differentiable gather of the winners
    xp = array_module(x.data)
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
    windows = x.data[(Ellipsis, *index)]  # (*lead, o1, k1, o2, k2, ...)
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
    """Mean over L_out windows that cover the input: (N, C, L) -> (N, C, L_out), PyTorch's window bounds."""
    return adaptive_avg_pooling(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Mean over windows chosen to give (N, C, H_out, W_out) from (N, C, H, W) for any input size.

    ``output_size`` is an int or a pair (``None`` keeps that input size).  Window
    i along a dim of size n covers ``[floor(i*n/out), ceil((i+1)*n/out))``.
    Divisible sizes use the average-pooling kernel (1x1 output: a mean);
    others a separable averaging-matrix product.
    """
    return adaptive_avg_pooling(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max over L_out covering windows: (N, C, L) -> (N, C, L_out) (and int64 positions with return_indices)."""
    return adaptive_max_pooling(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):  # noqa: A002
    """Max over covering windows: (N, C, H, W) -> (N, C, H_out, W_out), windows as adaptive_avg_pool2d.

    With ``return_indices`` also returns the int64 flat index ``h * W + w`` of each maximum.
    """
    return adaptive_max_pooling(input, output_size, return_indices, 2, "adaptive_max_pool2d")
