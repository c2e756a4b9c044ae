"""Sliding blocks and resampling: unfold (im2col), fold (col2im) and interpolate, as PyTorch's.

All three are composites of ``index_select`` / ``index_add`` (and pad and
slicing): the index arrays are computed once in NumPy, the data moves in one
gather or one scatter-add per axis, and the gradients (of any order) come
from the derivative table. ``unfold`` and ``fold`` are each other's adjoint,
and each is one ``index_select`` or ``index_add`` over the flattened padded
image.

Source positions follow PyTorch's CPU kernels exactly: nearest modes compute
``floor(dst * scale)`` in float32 as ATen does, linear modes use
``area_pixel_compute_source_index`` (half-pixel centres, or the corners with
``align_corners=True``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import backend
from ...errors import DTypeError, ShapeError
from ...ops.index import index_add, index_select
from ...ops.shape import pad as _pad
from ...tensor import Tensor, _wrap

__all__ = ["fold", "interpolate", "unfold", "upsample"]


def _pair(name: str, value, op: str) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise ShapeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(values[0]), int(values[1])


def _block_index(channels, padded, kernel, dilation, stride, op):
    """Flat positions in the padded (C, Hp, Wp) image of every (c, ki, kj, block): shape (C*kh*kw*L,), and L."""
    (hp, wp), (kh, kw), (dh, dw), (sh, sw) = padded, kernel, dilation, stride
    blocks = []
    for size, k, d, s in ((hp, kh, dh, sh), (wp, kw, dw, sw)):
        span = d * (k - 1) + 1
        if size < span:
            return None, 0
        blocks.append((size - span) // s + 1)
    oh, ow = blocks
    rows = (np.arange(oh) * sh)[None, :] + (np.arange(kh) * dh)[:, None]  # (kh, oh)
    cols = (np.arange(ow) * sw)[None, :] + (np.arange(kw) * dw)[:, None]  # (kw, ow)
    within = rows[:, None, :, None] * wp + cols[None, :, None, :]  # (kh, kw, oh, ow)
    index = np.arange(channels)[:, None, None, None, None] * (hp * wp) + within[None]
    return index.reshape(-1), oh * ow


def _check_window(op, kernel, dilation, padding, stride):
    if min(kernel) < 1 or min(dilation) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ShapeError(
            f"{op}: kernel_size {kernel}, dilation {dilation} and stride {stride} must be positive and padding "
            f"{padding} non-negative"
        )


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks: ``(N, C, H, W)`` to ``(N, C * kh * kw, L)`` (im2col), as ``torch.nn.functional.unfold``.

    Column ``l`` holds the block at output position ``l`` (row-major over the
    ``oh x ow`` positions); its rows run over channels, then kernel rows, then
    kernel columns. ``L = oh * ow`` with ``oh = (H + 2 * ph - dh * (kh - 1) - 1)
    // sh + 1`` (and the same for the width). The gradient is ``fold``.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size: the block size, an int or ``(kh, kw)``.
        dilation: the spacing of the block's elements (default 1).
        padding: zeros added on both sides of each spatial dimension (default 0).
        stride: the step between blocks (default 1).

    Returns:
        ``(N, C * kh * kw, L)`` (``(C * kh * kw, L)`` unbatched), the input's dtype.

    Raises:
        ShapeError: the input is not 3-D or 4-D, the block does not fit, or a bad size.

    Examples:
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> cols = F.unfold(x, kernel_size=2, stride=2)
        >>> cols.shape
        (1, 4, 4)
        >>> cols[0, :, 0]
        tensor([0., 1., 4., 5.])
    """
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input._data.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    kernel, dilation, padding, stride = (
        _pair(name, v, op)
        for name, v in (("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding), ("stride", stride))
    )
    _check_window(op, kernel, dilation, padding, stride)
    unbatched = input._data.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    n, c, h, w = x._data.shape
    padded = (h + 2 * padding[0], w + 2 * padding[1])
    index, blocks = _block_index(c, padded, kernel, dilation, stride, op)
    if index is None:
        raise ShapeError(
            f"{op}: a block of kernel_size {kernel} with dilation {dilation} does not fit in the padded input "
            f"{padded} (input {tuple(input.shape)}, padding {padding})"
        )
    if any(padding):
        x = _pad(x, (padding[1], padding[1], padding[0], padding[0]))
    flat = x.reshape(n, c * padded[0] * padded[1])
    xp = backend.array_module(input._data)
    out = index_select(flat, 1, _wrap(xp.asarray(index))).reshape(n, c * kernel[0] * kernel[1], blocks)
    return out[0] if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks back into an image: ``(N, C * kh * kw, L)`` to ``(N, C, H, W)`` (col2im), as PyTorch's.

    The adjoint of ``unfold``: each column is added at its block's place, so
    where blocks overlap their values add up (``fold(unfold(x))`` is ``x``
    times the number of blocks covering each pixel). The gradient is
    ``unfold``.

    Args:
        input: ``(N, C * kh * kw, L)`` or unbatched ``(C * kh * kw, L)``, with ``L`` the number of blocks that
            fit in ``output_size``.
        output_size: ``(H, W)`` of the output (or an int for both).
        kernel_size: the block size, an int or ``(kh, kw)``.
        dilation: the spacing of the block's elements (default 1).
        padding: the padding the blocks were taken with, cut off again (default 0).
        stride: the step between blocks (default 1).

    Returns:
        ``(N, C, H, W)`` (``(C, H, W)`` unbatched), the input's dtype.

    Raises:
        ShapeError: the input is not 2-D or 3-D, its size does not match the kernel and block count, or a
            bad size.

    Examples:
        >>> cols = cr.ones(1, 4, 4)
        >>> F.fold(cols, output_size=(3, 3), kernel_size=2)  # overlapping 2x2 blocks, stride 1
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input._data.ndim not in (2, 3):
        raise ShapeError(
            f"{op}: expected a 2-D (C * kh * kw, L) or 3-D (N, C * kh * kw, L) input, got shape {input.shape}"
        )
    size, kernel, dilation, padding, stride = (
        _pair(name, v, op)
        for name, v in (
            ("output_size", output_size),
            ("kernel_size", kernel_size),
            ("dilation", dilation),
            ("padding", padding),
            ("stride", stride),
        )
    )
    _check_window(op, kernel, dilation, padding, stride)
    unbatched = input._data.ndim == 2
    cols = input.unsqueeze(0) if unbatched else input
    n, rows, length = cols._data.shape
    per_channel = kernel[0] * kernel[1]
    if rows % per_channel:
        raise ShapeError(
            f"{op}: expected size of input's dimension 1 ({rows}) to be divisible by the product of kernel_size "
            f"{kernel} = {per_channel}"
        )
    c = rows // per_channel
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    index, blocks = _block_index(c, padded, kernel, dilation, stride, op)
    if index is None or blocks != length:
        raise ShapeError(
            f"{op}: {length} blocks given, but kernel_size {kernel}, dilation {dilation}, padding {padding} and "
            f"stride {stride} make {blocks} blocks in an output of size {size}"
        )
    xp = backend.array_module(input._data)
    canvas = _wrap(xp.zeros((n, c * padded[0] * padded[1]), dtype=input._data.dtype))
    out = index_add(canvas, 1, _wrap(xp.asarray(index)), cols.reshape(n, rows * length))
    out = out.reshape(n, c, padded[0], padded[1])
    if any(padding):
        out = out[:, :, padding[0] : padding[0] + size[0], padding[1] : padding[1] + size[1]]
    return out[0] if unbatched else out


_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")


def _sizes_and_scales(op, spatial, size, scale_factor, recompute_scale_factor):
    """Output sizes, and the scale each axis's kernel divides by (None: in / out), as PyTorch computes them."""
    dims = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size or scale_factor must be given")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(sizes) != dims or not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
            raise ValueError(f"{op}: size must be {dims} positive ints for an input of {dims} spatial dims, got {size}")
        return tuple(int(s) for s in sizes), (None,) * dims
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * dims
    if len(factors) != dims or not all(isinstance(f, numbers.Real) and f > 0 for f in factors):
        raise ValueError(
            f"{op}: scale_factor must be {dims} positive numbers for an input of {dims} spatial dims, "
            f"got {scale_factor}"
        )
    sizes = tuple(math.floor(float(n) * float(f)) for n, f in zip(spatial, factors))
    if min(sizes) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor} makes an empty output from spatial size {spatial}")
    scales = (None,) * dims if recompute_scale_factor else tuple(float(f) for f in factors)
    return sizes, scales


def _nearest_index(in_size, out_size, scale, exact):
    """The source pixels of ATen's CPU nearest kernels: ``floor((dst [+ 0.5]) * scale)`` in float32, as ATen.

    No shortcut for equal sizes: with ``scale_factor=1.3`` on 2 pixels the
    output has 2 pixels, and both come from pixel 0 (``floor(1 / 1.3)``).
    """
    ratio = np.float32(1.0 / scale) if scale is not None else np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32) + (np.float32(0.5) if exact else np.float32(0.0))
    return np.minimum(np.floor(dst * ratio).astype(np.int64), in_size - 1)


def _linear_weights(in_size, out_size, scale, align_corners, dtype):
    """(index0, index1, lambda1) of ATen's linear kernels: source = lambda0 * x[index0] + lambda1 * x[index1]."""
    calc = np.float32 if dtype == np.float32 else np.float64  # ATen's opmath type
    if align_corners:
        ratio = calc(in_size - 1) / calc(out_size - 1) if out_size > 1 else calc(0)
        source = ratio * np.arange(out_size, dtype=calc)
    else:
        ratio = calc(1.0 / scale) if scale is not None else calc(in_size) / calc(out_size)
        source = np.maximum(ratio * (np.arange(out_size, dtype=calc) + calc(0.5)) - calc(0.5), calc(0))
    index0 = source.astype(np.int64)
    index1 = index0 + (index0 < in_size - 1)
    lambda1 = np.clip(source - index0.astype(calc), 0, 1)
    return index0, index1, lambda1


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dimensions of ``(N, C, *spatial)``, as ``torch.nn.functional.interpolate``.

    Modes: ``'nearest'`` (PyTorch's: the source pixel is ``floor(dst * in / out)``,
    which is not centred), ``'nearest-exact'`` (``floor((dst + 0.5) * in / out)``,
    as PIL and OpenCV), and ``'linear'`` (3-D input), ``'bilinear'`` (4-D),
    ``'trilinear'`` (5-D), which weight the two nearest source pixels along
    each axis. With ``align_corners=True`` the corner pixels of input and output
    are aligned; otherwise (the default) pixels are squares and their centres
    are aligned. With ``scale_factor``, the output size is
    ``floor(in * scale_factor)`` and the kernel uses ``1 / scale_factor`` as the
    scale unless ``recompute_scale_factor=True``. Differs from PyTorch:
    ``'bicubic'``, ``'area'`` and ``antialias=True`` are not supported.

    Args:
        input: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        size: the output spatial size, an int or one int per spatial dimension.
        scale_factor: a multiplier of the spatial size, a number or one per spatial dimension.
        mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'``, ``'bilinear'`` or ``'trilinear'``.
        align_corners: for the linear modes only (default None: False).
        recompute_scale_factor: compute the kernel's scale from the sizes instead of ``scale_factor``.
        antialias: must be False.

    Returns:
        ``(N, C, *size)`` in the input's dtype.

    Raises:
        ValueError: both or neither of size and scale_factor, a bad mode, or align_corners with a nearest mode.
        ShapeError: an input whose number of dimensions does not fit the mode.
        DTypeError: an integer or bool input to a linear mode.
        NotImplementedError: an unsupported mode or antialias.

    Examples:
        >>> x = cr.tensor([[[1.0, 2.0], [3.0, 4.0]]]).unsqueeze(0)
        >>> F.interpolate(x, scale_factor=2, mode="nearest")
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.],
                  [3., 3., 4., 4.],
                  [3., 3., 4., 4.]]]])
        >>> F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)
        tensor([[[[1.0000, 1.5000, 2.0000],
                  [2.0000, 2.5000, 3.0000],
                  [3.0000, 3.5000, 4.0000]]]])
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode in ("bicubic", "area") or antialias:
        raise NotImplementedError(f"{op}: mode {mode!r}{' with antialias' if antialias else ''} is not supported")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    ndim = input._data.ndim
    if ndim not in (3, 4, 5):
        raise ShapeError(f"{op}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape {input.shape}")
    if mode in _LINEAR:
        if ndim - 2 != _LINEAR[mode]:
            raise ShapeError(f"{op}: got {ndim}D input, but {mode} mode needs {_LINEAR[mode] + 2}D input")
        align_corners = bool(align_corners)
        if input._data.dtype.kind != "f":
            raise DTypeError(
                f"{op}: {mode} mode needs a floating input, got {input._data.dtype} of shape {input.shape} "
                "(convert it with .float(), or use mode='nearest')"
            )
    elif align_corners is not None:
        raise ValueError(
            f"{op}: align_corners option can only be set with the interpolating modes: linear | bilinear | trilinear"
        )
    spatial = input._data.shape[2:]
    sizes, scales = _sizes_and_scales(op, spatial, size, scale_factor, recompute_scale_factor)
    xp = backend.array_module(input._data)
    dtype = input._data.dtype
    out = input
    for i, (in_size, out_size, scale) in enumerate(zip(spatial, sizes, scales)):
        axis = 2 + i
        if mode.startswith("nearest"):
            index = _nearest_index(in_size, out_size, scale, exact=mode == "nearest-exact")
            if out_size != in_size or not np.array_equal(index, np.arange(in_size)):
                out = index_select(out, axis, _wrap(xp.asarray(index)))
            continue
        index0, index1, lambda1 = _linear_weights(in_size, out_size, scale, align_corners, dtype)
        shape = [1] * ndim
        shape[axis] = out_size
        weight1 = _wrap(xp.asarray(lambda1.astype(dtype).reshape(shape)))
        weight0 = _wrap(xp.asarray((1 - lambda1).astype(dtype).reshape(shape)))
        low = index_select(out, axis, _wrap(xp.asarray(index0)))
        high = index_select(out, axis, _wrap(xp.asarray(index1)))
        out = low * weight0 + high * weight1
    return out


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """``interpolate`` under its older name (PyTorch's deprecated ``F.upsample``).

    Args:
        input: ``(N, C, *spatial)``.
        size: the output spatial size.
        scale_factor: a multiplier of the spatial size.
        mode: as ``interpolate``'s (default ``'nearest'``).
        align_corners: for the linear modes only.

    Returns:
        The resized tensor.

    Examples:
        >>> F.upsample(cr.ones(1, 1, 2), scale_factor=2).shape
        (1, 1, 4)
    """
    return interpolate(input, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners)
