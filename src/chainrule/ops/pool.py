"""Pooling primitives: max and average pooling over the last 1 or 2 (or more) dimensions.

Both work on strided slices, one per kernel offset: the window element at
offset ``k`` of every output position is ``x_padded[..., k*d : k*d + s*(out-1) + 1 : s]``.
A Python loop over the ``prod(kernel)`` offsets replaces gathering windows, so
no ``np.add.at`` is ever needed, and every pass is a vectorized NumPy op.

* max pooling keeps, per output, the offset of its window's maximum (the first
  one on ties, NaN counting as a maximum, as PyTorch's CPU kernel does).  Its
  backward ``max_pool_scatter`` writes each gradient at that offset; the
  adjoint ``max_pool_gather`` reads it back, so each is the other's vjp.
* average pooling is linear: ``avg_pool`` and ``avg_pool_backward`` are each
  other's transpose.

Tiled windows (stride == kernel, no padding) take the same path: measured with
NumPy 2.4, a reshape to ``(.., out, k, ..)`` and a sum over the short window
axes is ~10x slower than ``prod(kernel)`` strided adds, and broadcasting the
gradient back through such a view ~2x slower than strided writes.  Windows
that do not overlap are written, not added, in backward.  One exception: max
pooling's forward over 2x2 windows at stride 2 (``_max_pool_2x2``) copies the
four corners out once and compares pairs on those copies (the general scan,
``_max_pool_reference``, stays for every other window and for NaN inputs).

Leading dimensions (batch, channels) are arbitrary; memory order is kept
(a channels-last input gives a channels-last output).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..autograd.graph import apply1, primitive
from ..autograd.jvp_rules import linear_jvp
from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Tensor, _wrap


class PoolGeometry(NamedTuple):
    """Sizes per pooled (trailing) dimension."""

    in_size: tuple
    kernel: tuple
    stride: tuple
    padding: tuple  # ((low, high), ...); high includes the ceil_mode overhang
    dilation: tuple
    out_size: tuple

    @property
    def disjoint(self) -> bool:
        """No input element is in two windows."""
        return all(s >= d * (k - 1) + 1 for s, d, k in zip(self.stride, self.dilation, self.kernel))


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode) -> int:
    """PyTorch's pooling output size (a window must start inside the input or its left padding)."""
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * pad - span + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_geometry(in_size, kernel, stride, padding, dilation, ceil_mode, op="pool") -> PoolGeometry:
    """Check the arguments as PyTorch does and work out the output size and padding."""
    out_size, pads = [], []
    for n, k, s, p, d in zip(in_size, kernel, stride, padding, dilation):
        if k <= 0 or s <= 0 or d <= 0 or p < 0:
            raise ValueError(
                f"{op}: kernel_size, stride and dilation must be positive and padding non-negative, "
                f"got kernel_size={tuple(kernel)}, stride={tuple(stride)}, padding={tuple(padding)}, "
                f"dilation={tuple(dilation)}"
            )
        if p > k // 2:
            raise ValueError(
                f"{op}: padding should be at most half of the kernel size, got padding={tuple(padding)} "
                f"for kernel_size={tuple(kernel)}"
            )
        o = pool_output_size(n, k, s, p, d, ceil_mode)
        if o < 1:
            raise ShapeError(
                f"{op}: input of spatial size {tuple(in_size)} is too small for kernel_size="
                f"{tuple(kernel)}, stride={tuple(stride)}, padding={tuple(padding)}, dilation="
                f"{tuple(dilation)} (output size {o})"
            )
        out_size.append(o)
        pads.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)))
    return PoolGeometry(tuple(in_size), tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), tuple(out_size))


# ---------------------------------------------------------------------------
# array helpers


def _alloc_like(xp, ref, shape, fill=0, dtype=None):
    """An array of ``shape`` filled with ``fill`` (None: left uninitialized) in ``ref``'s memory order
    (channels-last stays so)."""
    dtype = ref.dtype if dtype is None else dtype
    order = sorted(range(ref.ndim), key=lambda i: -ref.strides[i]) if ref.ndim else []
    ordered = tuple(shape[i] for i in order)
    if fill is None:
        out = xp.empty(ordered, dtype=dtype)
    else:
        out = xp.zeros(ordered, dtype=dtype) if fill == 0 else xp.full(ordered, fill, dtype=dtype)
    return out.transpose(np.argsort(order))


def _memory_order(a):
    return tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))


def _same_layout(xp, a, ref):
    """``a`` in ``ref``'s memory order (one copy when they differ): mixed layouts make every
    elementwise pass in the scatter loop stride across memory (measured 6x slower)."""
    if a.ndim < 2 or _memory_order(a) == _memory_order(ref) or a.strides == ref.strides:
        return a
    out = _alloc_like(xp, ref, a.shape, dtype=a.dtype)
    out[...] = a
    return out


def _padded_shape(shape, geom):
    nd = len(geom.kernel)
    return shape[:-nd] + tuple(n + lo + hi for n, (lo, hi) in zip(geom.in_size, geom.padding))


def _pad(xp, x, geom, fill):
    if not any(lo or hi for lo, hi in geom.padding):
        return x
    out = _alloc_like(xp, x, _padded_shape(x.shape, geom), fill)
    out[_interior(geom)] = x
    return out


def _interior(geom):
    return (Ellipsis, *(slice(lo, lo + n) for n, (lo, _) in zip(geom.in_size, geom.padding)))


def _crop(xpad, geom):
    if not any(lo or hi for lo, hi in geom.padding):
        return xpad
    return xpad[_interior(geom)]


def _offset_slices(geom):
    """[(k, slices)] for each kernel offset k (row-major, the tie order)."""
    return [
        (
            k,
            (
                Ellipsis,
                *(
                    slice(o * d, o * d + s * (n - 1) + 1, s)
                    for o, d, s, n in zip(offsets, geom.dilation, geom.stride, geom.out_size)
                ),
            ),
        )
        for k, offsets in enumerate(np.ndindex(*geom.kernel))
    ]


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# ---------------------------------------------------------------------------
# max pooling


def _is_2x2(geom) -> bool:
    """2x2 windows at stride 2 without padding or dilation (a LeNet/VGG pool): the pairwise fast path."""
    return (
        geom.kernel == (2, 2)
        and geom.stride == (2, 2)
        and geom.dilation == (1, 1)
        and not any(lo or hi for lo, hi in geom.padding)
    )


def _blocks(a):
    """a (N, C, H, W) on channels-last memory as an (N, H, W) array of one C-element block each (a void
    dtype), or None.  NumPy copies blocks of up to 64 bytes faster than strided runs of that many bytes
    (a quarter of (64, 16, 28, 28) float32: 49 against 73 us); 128 bytes and more, slower."""
    if (
        type(a) is not np.ndarray
        or a.ndim != 4
        or a.shape[1] * a.itemsize > 64
        or not a.transpose(0, 2, 3, 1).flags.c_contiguous
    ):
        return None
    return a.transpose(0, 2, 3, 1).view(np.dtype((np.void, a.shape[1] * a.itemsize)))[..., 0]


def _corner(xp, x, i, j):
    """x[..., i::2, j::2] as a new array in x's memory order."""
    blocks = _blocks(x)
    if blocks is None:
        return x[..., i::2, j::2].copy(order="K")
    out = _alloc_like(xp, x, x.shape[:-2] + (x.shape[-2] // 2, x.shape[-1] // 2), fill=None)
    _blocks(out)[...] = blocks[:, i::2, j::2]
    return out


def _max_pool_2x2(xp, x, geom):
    """max_pool for :func:`_is_2x2` windows of NaN-free x: the reference's values and offsets in fewer passes.

    The four window corners are copied out once each (on channels-last memory a strided pass reads
    runs of only C elements, so each costs 4-7x a contiguous one); everything after runs on those
    copies.  Width pairs first (``right > left``: the first maximum of each row pair), then the two row
    maxima of each window (``bottom > top``): the first maximum in row-major order, as the reference's
    scan, and the maxima paired in the same order of arguments.  Measured (NumPy 2.4, one thread, the
    cnn workload's channels-last (64, 16, 28, 28) and (64, 32, 14, 14)): 715 -> 485 and 307 -> 198 us.
    """
    h, w = geom.out_size
    x = x[..., : 2 * h, : 2 * w]
    top_left, top_right, bottom_left, bottom_right = (_corner(xp, x, i, j) for i in (0, 1) for j in (0, 1))
    right_wins_top = top_right > top_left
    right_wins_bottom = bottom_right > bottom_left
    top = xp.maximum(top_left, top_right, out=top_left)
    bottom = xp.maximum(bottom_left, bottom_right, out=bottom_left)
    bottom_wins = bottom > top
    best = xp.maximum(top, bottom, out=top)
    # the right column wins: right_wins_bottom where bottom_wins, else right_wins_top (xor-select: np.where
    # on these channels-last views was measured 10x slower)
    column = right_wins_top ^ right_wins_bottom
    column &= bottom_wins
    column ^= right_wins_top
    index = bottom_wins.view(np.uint8) * np.uint8(2)
    index += column
    return best, index


@primitive("max_pool", multi=True, nondiff=(1,), extra=True)
def _max_pool(xp, x, geom):
    """(values, window offset of each maximum); the offsets are int (uint8 for windows of <= 256)."""
    if _is_2x2(geom) and x.size:
        best, index = _max_pool_2x2(xp, x, geom)
        if x.dtype.kind != "f" or not bool(xp.isnan(best.max())):  # maximum propagates NaN: none reached best
            return (best, index), index
    with_nan = x.dtype.kind == "f" and x.size and bool(xp.isnan(x.max()))
    return _max_pool_reference(xp, x, geom, with_nan)


def _max_pool_reference(xp, x, geom, with_nan):
    """The general max_pool: one strided slice per window offset (any window, NaN rules included)."""
    xpad = _pad(xp, x, geom, _lowest(x.dtype))
    slices = _offset_slices(geom)
    best = xpad[slices[0][1]].copy(order="K")
    index = _alloc_like(xp, best, best.shape, dtype=np.uint8 if len(slices) <= 256 else np.int32)
    for k, sl in slices[1:]:
        v = xpad[sl]
        take = v > best
        if with_nan:  # PyTorch: a NaN is a maximum and the last NaN wins
            take |= xp.isnan(v)
            best = xp.where(take, v, best)
        else:
            xp.maximum(best, v, out=best)
        index += take * (index.dtype.type(k) - index)  # index = k where take (no masked writes: they are slow)
    return (best, index), index


@_max_pool.defvjp
def _max_pool_vjp(ctx, g, _g_index):
    (geom,) = ctx.args
    return apply1(_max_pool_scatter, g, ctx.extra, geom)


@_max_pool.defjvp
def _max_pool_jvp(ctx, tangent):
    # the tangent at each window's maximum (the offsets the forward kept)
    (geom,) = ctx.args
    if ctx.extra is None:
        raise NotImplementedError(
            "max_pool: its jvp under vmap with a batched input is not supported (the window offsets the "
            "forward keeps are not at hand there); vmap over the tangents only (jacfwd does), or use jacrev"
        )
    return apply1(_max_pool_gather, tangent, ctx.extra, geom), None


def _select(xp, values, mask, finite):
    """values where mask, else 0.  A multiply when values are finite (2x faster than where; inf * 0 would be NaN)."""
    return values * mask if finite else xp.where(mask, values, values.dtype.type(0))


def _all_finite(xp, a):
    # one cheap reduction; a sum that overflows only sends us down the exact (slower) path
    return bool(xp.isfinite(a.sum()))


@primitive("max_pool_scatter")
def _max_pool_scatter(xp, g, index, geom):
    """Each output gradient written at its window's maximum: (*lead, *out) -> (*lead, *in)."""
    g = _same_layout(xp, g, index)
    finite = _all_finite(xp, g)
    if _is_2x2(geom) and finite and _blocks(index) is not None and _blocks(g) is not None:
        result = _max_pool_scatter_blocks(xp, g, index, geom)
        if result is not None:
            return result
    gpad = _alloc_like(xp, index, _padded_shape(g.shape, geom), dtype=g.dtype)  # the forward's memory order
    for k, sl in _offset_slices(geom):
        if geom.disjoint and finite:  # every input element in at most one window: write, do not add
            xp.multiply(g, index == k, out=gpad[sl])
        elif geom.disjoint:
            gpad[sl] = _select(xp, g, index == k, finite)
        else:
            gpad[sl] += _select(xp, g, index == k, finite)
    return _crop(gpad, geom)


def _max_pool_scatter_blocks(xp, g, index, geom):
    """max_pool_scatter for :func:`_is_2x2` windows, a finite g and channels-last memory of narrow
    channels (see :func:`_blocks`): each corner's product computed contiguous, then copied block by block
    (the cnn workload's (64, 16, 28, 28): 560 -> 420 us); the general loop writes the product straight
    into the strided corner.  None where a layout turns out not to be channels-last after all (a 1x1 output
    is both C- and channels-last-contiguous, and the arrays made from it may take either order)."""
    h, w = geom.out_size
    covered = geom.in_size == (2 * h, 2 * w)  # every input element in a window: nothing to zero
    gx = _alloc_like(xp, index, g.shape[:-2] + geom.in_size, fill=None if covered else 0, dtype=g.dtype)
    blocks = _blocks(gx)
    if blocks is None:
        return None
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        part = _blocks(g * (index == k))
        if part is None:
            return None
        blocks[:, i : 2 * h : 2, j : 2 * w : 2] = part
    return gx


@_max_pool_scatter.defvjp
def _max_pool_scatter_vjp(ctx, h):
    index, geom = ctx.args
    return apply1(_max_pool_gather, h, index, geom)


_max_pool_scatter.defjvp(linear_jvp(_max_pool_scatter))


@primitive("max_pool_gather")
def _max_pool_gather(xp, h, index, geom):
    """h read at each window's maximum: (*lead, *in) -> (*lead, *out); the adjoint of max_pool_scatter."""
    hpad = _pad(xp, h, geom, 0)
    finite = _all_finite(xp, h)
    out = None
    for k, sl in _offset_slices(geom):
        part = _select(xp, hpad[sl], index == k, finite)
        out = part if out is None else out + part
    return out


@_max_pool_gather.defvjp
def _max_pool_gather_vjp(ctx, g):
    index, geom = ctx.args
    return apply1(_max_pool_scatter, g, index, geom)


_max_pool_gather.defjvp(linear_jvp(_max_pool_gather))


def flat_indices(index, geom, xp=np):
    """Window offsets -> PyTorch's indices: the flat position in the (unpadded) pooled dims of each maximum."""
    offsets = xp.unravel_index(index, geom.kernel) if len(geom.kernel) > 1 else (index,)
    nd = len(geom.kernel)
    flat = None
    for i in range(nd):
        shape = [1] * nd
        shape[i] = -1
        lo = geom.padding[i][0]
        base = (xp.arange(geom.out_size[i]) * geom.stride[i] - lo).reshape(shape)
        pos = base + offsets[i].astype(np.int64) * geom.dilation[i]
        flat = pos if flat is None else flat * geom.in_size[i] + pos
    return flat.astype(np.int64)


def max_pool(x: Tensor, kernel, stride, padding, dilation, ceil_mode=False, return_indices=False, op="max_pool"):
    """Max pooling over the last ``len(kernel)`` dims of x (per-dimension int tuples; arguments already parsed).

    Returns the pooled tensor, and with ``return_indices`` also an int64 tensor
    of PyTorch's indices (flat positions within each pooled plane).
    """
    nd = len(kernel)
    geom = pool_geometry(x._data.shape[-nd:], kernel, stride, padding, dilation, ceil_mode, op)
    out, window = apply1(_max_pool, x, geom)
    if not return_indices:
        return out
    xp = array_module(x._data)
    return out, _wrap(flat_indices(window._data, geom, xp))


# ---------------------------------------------------------------------------
# average pooling


@primitive("avg_pool")
def _avg_pool(xp, x, geom, scale):
    """Window sums times ``scale`` (a number, or an array over the output positions)."""
    # one strided add per kernel offset: for tiled windows this beats a reshape and sum
    # over the small window axes (NumPy's reductions over short inner axes are slow)
    xpad = _pad(xp, x, geom, 0)
    slices = _offset_slices(geom)
    total = xpad[slices[0][1]].copy(order="K")
    for _, sl in slices[1:]:
        total += xpad[sl]
    total *= scale
    return total


@_avg_pool.defvjp
def _avg_pool_vjp(ctx, g):
    geom, scale = ctx.args
    return apply1(_avg_pool_backward, g, geom, scale)


_avg_pool.defjvp(linear_jvp(_avg_pool))


@primitive("avg_pool_backward")
def _avg_pool_backward(xp, g, geom, scale):
    """The transpose of avg_pool: each output gradient spread, times ``scale``, over its window."""
    scaled = g * scale
    gpad = _alloc_like(xp, g, _padded_shape(g.shape, geom))
    # strided writes (or adds, when windows overlap) beat broadcasting into a (.., out, k, ..) view and reshaping
    for _, sl in _offset_slices(geom):
        if geom.disjoint:
            gpad[sl] = scaled
        else:
            gpad[sl] += scaled
    return _crop(gpad, geom)


@_avg_pool_backward.defvjp
def _avg_pool_backward_vjp(ctx, h):
    geom, scale = ctx.args
    return apply1(_avg_pool, h, geom, scale)


_avg_pool_backward.defjvp(linear_jvp(_avg_pool_backward))


def _window_counts(n, k, s, p, out, include_pad):
    """Per output position along one dim: how many elements PyTorch divides by."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def avg_pool(
    x: Tensor, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None, op="avg_pool"
):
    """Average pooling over the last ``len(kernel)`` dims of x (per-dimension int tuples).

    The divisor follows PyTorch: the window size including padding (but not
    the ceil_mode overhang) when ``count_include_pad``, the number of input
    elements in the window otherwise, or ``divisor_override``.
    """
    nd = len(kernel)
    geom = pool_geometry(x._data.shape[-nd:], kernel, stride, padding, (1,) * nd, ceil_mode, op)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
        scale = 1.0 / divisor_override
    else:
        counts = [
            _window_counts(n, k, s, p, o, count_include_pad)
            for n, k, s, p, o in zip(geom.in_size, kernel, stride, padding, geom.out_size)
        ]
        if all((c == c[0]).all() for c in counts):
            scale = 1.0 / math.prod(int(c[0]) for c in counts)
        else:
            divisor = counts[0].astype(np.float64)
            for c in counts[1:]:
                divisor = np.multiply.outer(divisor, c)
            xp = array_module(x._data)
            scale = xp.asarray(1.0 / divisor, dtype=x._data.dtype)
    return apply1(_avg_pool, x, geom, scale)
