"""Convolution primitives: N-d convolution as one GEMM over a window view.

Three primitives share one geometry and are each other's derivatives, so
backward of backward works (``create_graph=True``).  With ``y = conv(x, w)``
(cross-correlation, as in PyTorch) and a gradient ``g`` shaped like ``y``:

* ``conv(x, w[, b])``            -> y        vjp: (conv_input_grad(g, w), conv_weight_grad(x, g), sum(g))
* ``conv_input_grad(g, w)``      -> x-shaped vjp: (conv(h, w), conv_weight_grad(h, g))
* ``conv_weight_grad(x, g)``     -> w-shaped vjp: (conv_input_grad(g, h), conv(x, h))

``conv_input_grad`` is also the transposed convolution (``conv_transpose2d``).

Layout.  The math runs channels-last: the (zero-padded) input is laid out as
``(N, *spatial, C)``, a strided window view ``(N, *out, *kernel, C)`` is
reshaped into the ``(N * out_pixels, kernel_pixels * C)`` matrix (im2col) and
multiplied by the weight reshaped to ``(kernel_pixels * C, O)``: one GEMM.  The
result is returned as an ``(N, O, *out)`` *view* of channels-last memory, so the
next convolution (or a pooling / elementwise layer in between, which keep the
memory order) reads its input without a transpose.  The input gradient is one
batched GEMM ``(M, O) @ (O, C)`` per kernel offset (contiguous results) followed
by a strided slice-add per offset (col2im); the weight gradient is one GEMM.
Grouped convolutions use a batched GEMM over groups.

Stride-1 "same" convolutions (3x3 with padding 1, the ResNet/VGG body) skip
im2col, which writes the input out once per kernel offset.  The input goes
into a zero-padded *grid* ``(N, *(S + p), C)`` flattened to rows, where each
spatial line is followed by ``p`` zeros that serve as the padding of both
neighbours.  A kernel offset is then a fixed row shift, so the convolution is
one accumulating GEMM per offset over a contiguous slice of the same buffer
(``out[rows] += X[rows + shift] @ W_k``), computed on every grid row
including the padding ones (1.06x the work at 32x32, 1.27x at 8x8), which are
dropped at the end.  The input gradient is the same with the shifts negated
(and W_k transposed), the weight gradient one GEMM per offset, ``X[rows +
shift].T @ G``.  See :func:`_use_grid`.

Convolutions of few input channels (the first layer of an image model: 1 or 3)
build the transpose of im2col's matrix instead, one ``(C * kernel_pixels, N *
out_pixels)`` row per (channel, kernel offset), each copied from whole rows of
the input (im2col's copy would read runs of ``kernel_w * C`` elements), kept
for the weight gradient.  See :func:`_use_planes`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import apply2, applyn, primitive
from ..autograd.jvp_rules import add_tangents
from ..backend import array_module
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from .layers import _PASS_WIDTH, _tiling


class ConvGeometry(NamedTuple):
    """Everything about a convolution except the arrays: sizes are per spatial dimension."""

    in_size: tuple  # spatial size of the input, before padding
    kernel: tuple
    stride: tuple
    padding: tuple  # ((low, high), ...): zeros added before and after each spatial dimension
    dilation: tuple
    groups: int
    out_size: tuple


def conv_geometry(in_size, kernel, stride, padding, dilation, groups, op="conv") -> ConvGeometry:
    """The geometry of a convolution; ShapeError when the (padded) input is smaller than the kernel's span."""
    out = []
    for size, k, s, (lo, hi), d in zip(in_size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        room = size + lo + hi - span
        if room < 0:
            raise ShapeError(
                f"{op}: the padded input size {size + lo + hi} (input {tuple(in_size)}, padding {tuple(padding)}) "
                f"is smaller than the dilated kernel size {span} (kernel {tuple(kernel)}, dilation {tuple(dilation)})"
            )
        out.append(room // s + 1)
    return ConvGeometry(
        tuple(in_size), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), groups, tuple(out)
    )


# ---------------------------------------------------------------------------
# array helpers (raw arrays of the module xp)


def _channels_last(a):
    """(N, C, *S) -> (N, *S, C) view."""
    nd = a.ndim - 2
    return a.transpose(0, *range(2, nd + 2), 1)


def _channels_first(a):
    """(N, *S, C) -> (N, C, *S) view."""
    nd = a.ndim - 2
    return a.transpose(0, nd + 1, *range(1, nd + 1))


def _padded_channels_last(xp, x, geom):
    """x (N, C, *S) as (N, *S_padded, C), zero padded; a view when there is no padding."""
    xt = _channels_last(x)
    if not any(lo or hi for lo, hi in geom.padding):
        return xt
    shape = (x.shape[0], *(s + lo + hi for s, (lo, hi) in zip(geom.in_size, geom.padding)), x.shape[1])
    out = xp.zeros(shape, dtype=x.dtype)
    out[tuple([slice(None), *(slice(lo, lo + s) for s, (lo, _) in zip(geom.in_size, geom.padding))])] = xt
    return out


def _windows(xp, xpad, geom):
    """Strided view (N, *out, *kernel, groups, C_per_group) of a padded channels-last input."""
    st = xpad.strides
    nd = len(geom.kernel)
    groups = geom.groups
    per_group = xpad.shape[-1] // groups
    shape = (xpad.shape[0], *geom.out_size, *geom.kernel, groups, per_group)
    strides = (
        st[0],
        *(st[1 + i] * geom.stride[i] for i in range(nd)),
        *(st[1 + i] * geom.dilation[i] for i in range(nd)),
        st[-1] * per_group,
        st[-1],
    )
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides)


def _im2col(xp, xpad, geom):
    """(groups, N * out_pixels, kernel_pixels * C_per_group): the windows as GEMM rows (one copy)."""
    win = _windows(xp, xpad, geom)
    rows = win.shape[0] * math.prod(geom.out_size)
    if geom.groups == 1:
        return xp.ascontiguousarray(win.reshape(1, rows, -1))  # (a no-op unless reshape made a strided view)
    nd = len(geom.kernel)
    by_group = win.transpose(2 * nd + 1, *range(2 * nd + 1), 2 * nd + 2)
    return xp.ascontiguousarray(by_group.reshape(geom.groups, rows, -1))


def _weight_matrix(w, groups):
    """w (O, C_per_group, *K) -> (groups, kernel_pixels * C_per_group, O_per_group), rows ordered as im2col's."""
    out_channels, per_group = w.shape[:2]
    nd = w.ndim - 2
    wg = w.reshape(groups, out_channels // groups, per_group, *w.shape[2:])
    return wg.transpose(0, *range(3, 3 + nd), 2, 1).reshape(groups, -1, out_channels // groups)


def _grad_matrix(xp, g):
    """g (N, O, *out) -> contiguous (N * out_pixels, O): free when g is channels-last in memory.

    Contiguous on purpose: a broadcast gradient (from ``.sum()``) reshapes to a
    zero-stride view, which would make matmul skip BLAS (about 3x slower).
    """
    return xp.ascontiguousarray(_channels_last(g).reshape(-1, g.shape[1]))


def _add_bias(xp, out, b):
    """``out += b`` for a (..., O) result; when contiguous, through an (M / k, k * O) view with b tiled k
    times (NumPy broadcasting a row of O elements: 336 against 81 us for 50,176 x 16)."""
    o = out.shape[-1]
    if not out.flags.c_contiguous or out.size == 0:
        out += b
        return
    m = out.size // o
    k = _tiling(m, o, _PASS_WIDTH)  # batch norm's tiling of a per-channel row
    wide = out.reshape(m // k, k * o)
    wide += xp.tile(b, k)


def _offset_slices(geom, offsets):
    """Slices of the padded input read by kernel offset ``offsets`` for every output position."""
    return tuple(
        slice(o * d, o * d + s * (n - 1) + 1, s)
        for o, d, s, n in zip(offsets, geom.dilation, geom.stride, geom.out_size)
    )


# --- the grid path (stride 1, output the size of the input) ------------------------------------

# below this many input channels the per-offset GEMMs are too thin; im2col is faster (measured: 4 -> 16)
_GRID_MIN_CHANNELS = 8
# above this ratio of grid rows to real positions the wasted work outweighs im2col (measured with NumPy's
# OpenBLAS, one thread, batch 32: 16x16 at 1.13 is faster on the grid (64 channels: 7.6 against 9.2 ms for
# forward and both gradients), 8x8 at 1.27 slower from 32 channels on (64: 6.5 against 5.5 ms), 4x4 at 1.56
# slower)
_GRID_MAX_WASTE = 1.25


class _Grid(NamedTuple):
    shape: tuple  # (N, *(S + p)): every spatial line followed by p zeros
    rows: int  # prod(shape)
    lead: int  # zero rows before the grid (and after it): the largest shift
    shifts: tuple  # row shift of each kernel offset, in the weight's kernel order


def _use_grid(xp, geom, in_channels) -> bool:
    """Whether the convolution runs on the grid: NumPy, one group, stride 1, padding that keeps the size."""
    return (
        xp is np
        and geom.groups == 1
        and in_channels >= _GRID_MIN_CHANNELS
        and math.prod(geom.kernel) > 1
        and all(s == 1 for s in geom.stride)
        and geom.out_size == geom.in_size
        and all(lo == hi and 2 * lo == d * (k - 1) for (lo, hi), d, k in zip(geom.padding, geom.dilation, geom.kernel))
        and math.prod((s + lo) / s for s, (lo, _) in zip(geom.in_size, geom.padding)) <= _GRID_MAX_WASTE
    )


def _grid(n, geom) -> _Grid:
    pads = [lo for lo, _ in geom.padding]
    shape = (n, *(s + p for s, p in zip(geom.in_size, pads)))
    line = [math.prod(shape[2 + i :]) for i in range(len(pads))]  # rows between neighbours along each dimension
    shifts = tuple(
        sum((o * d - p) * st for o, d, p, st in zip(offsets, geom.dilation, pads, line))
        for offsets in np.ndindex(*geom.kernel)
    )
    return _Grid(shape, math.prod(shape), sum(p * st for p, st in zip(pads, line)), shifts)


def _to_grid(xp, a, grid, geom):
    """a (N, C, *S) -> the (lead + rows + lead, C) zero-padded grid buffer."""
    channels = a.shape[1]
    buf = xp.zeros((grid.rows + 2 * grid.lead, channels), dtype=a.dtype)
    inner = buf[grid.lead : grid.lead + grid.rows].reshape(*grid.shape, channels)
    inner[tuple([slice(None), *(slice(0, s) for s in geom.in_size)])] = _channels_last(a)
    return buf


def _from_grid(xp, rows, grid, geom):
    """(rows, C) grid values -> the (N, *S, C) contiguous array of the real positions."""
    full = rows.reshape(*grid.shape, rows.shape[1])
    return xp.ascontiguousarray(full[tuple([slice(None), *(slice(0, s) for s in geom.in_size)])])


def _grid_taps(xp, buf, mats, starts, grid):
    """sum over offsets k of buf[starts[k] : starts[k] + rows] @ mats[k]: one GEMM per offset, accumulated."""
    out = backend.matmul(xp, buf[starts[0] : starts[0] + grid.rows], mats[0])
    for start, mat in zip(starts[1:], mats[1:]):
        backend.matmul_add(xp, buf[start : start + grid.rows], mat, out)
    return out


def _offset_weights(w):
    """w (O, C, *K) -> (K, C, O): one (C, O) matrix per kernel offset."""
    return w.reshape(w.shape[0], w.shape[1], -1).transpose(2, 1, 0)


def _grid_forward(xp, buf, grid, w, b, geom):
    """(N, *S, O) contiguous, from the grid buffer of the input."""
    mats = xp.ascontiguousarray(_offset_weights(w))
    out = _from_grid(xp, _grid_taps(xp, buf, mats, [grid.lead + s for s in grid.shifts], grid), grid, geom)
    if b is not None:
        _add_bias(xp, out, b)
    return out


# --- the planes path (few input channels, a channels-first input: an image batch) ------------------

# at most this many input channels (the first layer of an image model: 1 or 3)
_PLANES_MAX_CHANNELS = 4


def _use_planes(xp, geom, x) -> bool:
    """Whether the convolution builds its GEMM operand plane by plane: NumPy, one group, few channels
    (im2col's copy of the windows view would read runs of only ``kernel_w * C`` elements).  Whatever
    the input's memory layout, so that the result does not depend on it."""
    return xp is np and geom.groups == 1 and 0 < x.shape[1] <= _PLANES_MAX_CHANNELS and math.prod(geom.kernel) > 1


def _planes(xp, x, geom):
    """(C * kernel_pixels, N * out_pixels): row (c, k) holds input channel c read at kernel offset k for
    every output position; the transpose of im2col's matrix in the weight's own (c, k) order.

    One copy per (channel, offset) pair, each reading whole rows of the (padded) input.
    """
    n, channels = x.shape[:2]
    if any(lo or hi for lo, hi in geom.padding):
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(geom.in_size, geom.padding))
        xpad = xp.zeros((n, channels, *padded), dtype=x.dtype)
        interior = [slice(lo, lo + s) for s, (lo, _) in zip(geom.in_size, geom.padding)]
        xpad[tuple([slice(None), slice(None), *interior])] = x
    else:
        xpad = x
    planes = xp.empty((channels, math.prod(geom.kernel), n, *geom.out_size), dtype=x.dtype)
    for k, offsets in enumerate(np.ndindex(*geom.kernel)):
        planes[:, k] = xpad[tuple([slice(None), slice(None), *_offset_slices(geom, offsets)])].swapaxes(0, 1)
    return planes.reshape(channels * math.prod(geom.kernel), -1)


def _planes_forward(xp, planes, w, b, geom, n):
    """(N, *out, O) contiguous from the planes: one GEMM with the planes as its transposed left operand."""
    out = backend.matmul(xp, planes.T, w.reshape(w.shape[0], -1).T)
    if b is not None:
        _add_bias(xp, out, b)
    return out.reshape(n, *geom.out_size, w.shape[0])


def _conv_forward(xp, xpad, w, b, geom):
    """(N, *out, O) contiguous, from a padded channels-last input."""
    cols = _im2col(xp, xpad, geom)
    wm = _weight_matrix(w, geom.groups)
    if geom.groups == 1:
        out = backend.matmul(xp, cols[0], wm[0])
    else:
        out = backend.matmul(xp, cols, wm)  # (groups, M, O_per_group)
        out = out.transpose(1, 0, 2).reshape(cols.shape[1], -1)
    if b is not None:
        _add_bias(xp, out, b)
    return out.reshape(xpad.shape[0], *geom.out_size, w.shape[0])


def _onednn(kind, x_shape, w_shape, geom, bias, run):
    """``run(threads)``, one of oneDNN's three convolution products (``_dnnl``), on the thread count
    ``threads.omp_call`` chooses; None where oneDNN has no kernel for the shape (the NumPy path runs)."""
    return threads.omp_call(
        "conv",
        _dnnl.work(x_shape, w_shape, geom),
        run,
        lambda counts: _dnnl.prepare(kind, x_shape, w_shape, geom, bias, counts),
    )


# ---------------------------------------------------------------------------
# primitives


@primitive("conv", save=True, extra=True)
def _conv(xp, *arrays_and_geom):
    *arrays, geom = arrays_and_geom
    x, w = arrays[0], arrays[1]
    b = arrays[2] if len(arrays) == 3 else None
    if _dnnl.supports(geom, *arrays):
        y = _onednn("forward", x.shape, w.shape, geom, b is not None, lambda n: _dnnl.forward(x, w, b, geom, n))
        if y is not None:
            return _channels_first(y), None  # nothing kept: the weight gradient reads x itself
    if _use_grid(xp, geom, x.shape[1]):
        grid = _grid(x.shape[0], geom)
        buf = _to_grid(xp, x, grid, geom)  # kept for the weight gradient
        return _channels_first(_grid_forward(xp, buf, grid, w, b, geom)), buf
    if _use_planes(xp, geom, x):
        planes = _planes(xp, x, geom)  # kept for the weight gradient
        return _channels_first(_planes_forward(xp, planes, w, b, geom, x.shape[0])), planes
    xpad = _padded_channels_last(xp, x, geom)
    # the padded channels-last input is kept for the weight gradient (no second pad / transpose)
    return _channels_first(_conv_forward(xp, xpad, w, b, geom)), xpad


@_conv.defvjp
def _conv_vjp(ctx, g):
    x, w = ctx.saved[0], ctx.saved[1]
    (geom,) = ctx.args
    need = ctx.next
    # on the grid path both gradients read the output gradient laid out on the grid: build it once
    gbuf = None
    xp = array_module(g._data)
    if (
        _use_grid(xp, geom, x._data.shape[1])
        and need[0] is not None
        and need[1] is not None
        and not _dnnl.supports(geom, x._data, w._data, g._data)
    ):
        gbuf = _to_grid(xp, g._data, _grid(g._data.shape[0], geom), geom)
    grads = [
        apply2(_conv_input_grad, g, w, geom, gbuf) if need[0] is not None else None,
        apply2(_conv_weight_grad, x, g, geom, ctx.extra, gbuf) if need[1] is not None else None,
    ]
    if len(need) == 3:
        grads.append(_bias_grad(g, ctx.create_graph) if need[2] is not None else None)
    return tuple(grads)


@_conv.defjvp
def _conv_jvp(ctx, tx, tw, tb=None):
    # bilinear in (x, w), plus the bias
    x, w = ctx.saved[0], ctx.saved[1]
    (geom,) = ctx.args
    return add_tangents(
        applyn(_conv, (tx, w), geom) if tx is not None else None,
        applyn(_conv, (x, tw), geom) if tw is not None else None,
        tb.reshape((1, -1) + (1,) * (x._data.ndim - 2)) if tb is not None else None,
    )


def _bias_grad(g, create_graph):
    """Sum of g over every axis but the channels.  First order: one GEMV over the (M, O) gradient matrix,
    about 8x faster than numpy's sum over the leading axes of a narrow array."""
    if create_graph:
        return g.sum(dim=(0, *range(2, g._data.ndim)))
    xp = array_module(g._data)
    gm = _grad_matrix(xp, g._data)
    return _wrap(backend.sum_rows(xp, gm))


@primitive("conv_input_grad", save=True)
def _conv_input_grad(xp, g, w, geom, gbuf=None):
    """The transposed convolution: (N, O, *out) -> (N, C, *in); ``gbuf``: g on the grid, or None."""
    n = g.shape[0]
    if _dnnl.supports(geom, g, w):
        x_shape = (n, w.shape[1] * geom.groups, *geom.in_size)
        dx = _onednn("data", x_shape, w.shape, geom, False, lambda t: _dnnl.backward_data(g, w, geom, x_shape, t))
        if dx is not None:
            return _channels_first(dx)
    if _use_grid(xp, geom, w.shape[1]):
        grid = _grid(n, geom)
        if gbuf is None:
            gbuf = _to_grid(xp, g, grid, geom)
        mats = xp.ascontiguousarray(_offset_weights(w).transpose(0, 2, 1))  # (K, O, C)
        dx = _grid_taps(xp, gbuf, mats, [grid.lead - s for s in grid.shifts], grid)
        return _channels_first(_from_grid(xp, dx, grid, geom))
    nd = len(geom.kernel)
    groups = geom.groups
    out_channels, per_group = w.shape[:2]
    out_per_group = out_channels // groups
    kernel_pixels = math.prod(geom.kernel)
    gm = _grad_matrix(xp, g)  # (M, O)
    # w (O, Cg, *K) -> (groups, K, O_per_group, Cg): one (O_per_group, Cg) block per kernel offset
    # (contiguous: a strided operand would make matmul skip BLAS)
    wt = xp.ascontiguousarray(w.reshape(groups, out_per_group, per_group, kernel_pixels).transpose(0, 3, 1, 2))
    if groups == 1:
        cols = backend.matmul(xp, gm, wt[0])  # (K, M, Cg), each offset's block contiguous
        cols = cols.reshape(kernel_pixels, n, *geom.out_size, 1, per_group)
    else:
        gmg = gm.reshape(-1, groups, out_per_group).transpose(1, 0, 2)[:, None]  # (groups, 1, M, Og)
        cols = backend.matmul(xp, gmg, wt)  # (groups, K, M, Cg)
        cols = cols.reshape(groups, kernel_pixels, n, *geom.out_size, per_group)
        cols = xp.moveaxis(cols, 0, -2)  # (K, N, *out, groups, Cg)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(geom.in_size, geom.padding))
    dxpad = xp.zeros((n, *padded, groups, per_group), dtype=g.dtype)
    for k, offsets in enumerate(np.ndindex(*geom.kernel)):
        dxpad[tuple([slice(None), *_offset_slices(geom, offsets)])] += cols[k]
    if any(lo or hi for lo, hi in geom.padding):
        dxpad = dxpad[tuple([slice(None), *(slice(lo, lo + s) for s, (lo, _) in zip(geom.in_size, geom.padding))])]
    dx = dxpad.reshape(n, *geom.in_size, groups * per_group)
    return dx.transpose(0, nd + 1, *range(1, nd + 1))


@_conv_input_grad.defvjp
def _conv_input_grad_vjp(ctx, h):
    g, w = ctx.saved
    geom = ctx.args[0]
    need = ctx.next
    return (
        applyn(_conv, (h, w), geom) if need[0] is not None else None,
        apply2(_conv_weight_grad, h, g, geom, None) if need[1] is not None else None,
    )


@_conv_input_grad.defjvp
def _conv_input_grad_jvp(ctx, tg, tw):
    g, w = ctx.saved
    geom = ctx.args[0]
    return add_tangents(
        apply2(_conv_input_grad, tg, w, geom, None) if tg is not None else None,
        apply2(_conv_input_grad, g, tw, geom, None) if tw is not None else None,
    )


@primitive("conv_weight_grad", save=True)
def _conv_weight_grad(xp, x, g, geom, xpad, gbuf=None):
    """dL/dw (O, C_per_group, *K) from the input and the output gradient.

    ``xpad`` is the forward's cache (the padded input, its grid or its planes) or None; ``gbuf`` g on the
    grid or None.
    """
    if _dnnl.supports(geom, x, g):
        w_shape = (g.shape[1], x.shape[1] // geom.groups, *geom.kernel)
        dw = _onednn("weights", x.shape, w_shape, geom, False, lambda t: _dnnl.backward_weights(x, g, w_shape, geom, t))
        if dw is not None:
            return dw
    if _use_grid(xp, geom, x.shape[1]):
        grid = _grid(x.shape[0], geom)
        xbuf = xpad if xpad is not None else _to_grid(xp, x, grid, geom)
        if gbuf is None:
            gbuf = _to_grid(xp, g, grid, geom)
        gm = gbuf[grid.lead : grid.lead + grid.rows]  # zero on the padding rows, so they add nothing
        gw = xp.empty((len(grid.shifts), x.shape[1], g.shape[1]), dtype=g.dtype)
        for k, shift in enumerate(grid.shifts):
            start = grid.lead + shift
            backend.matmul(xp, xbuf[start : start + grid.rows].T, gm, out=gw[k])
        return xp.ascontiguousarray(gw.transpose(2, 1, 0)).reshape(g.shape[1], x.shape[1], *geom.kernel)
    if _use_planes(xp, geom, x):
        planes = xpad if xpad is not None else _planes(xp, x, geom)
        gw = backend.matmul(xp, planes, _grad_matrix(xp, g))  # (C * K, O)
        return xp.ascontiguousarray(gw.T).reshape(g.shape[1], x.shape[1], *geom.kernel)
    if xpad is None:
        xpad = _padded_channels_last(xp, x, geom)
    nd = len(geom.kernel)
    groups = geom.groups
    cols = _im2col(xp, xpad, geom)  # (groups, M, K * Cg)
    gm = _grad_matrix(xp, g)  # (M, O)
    out_channels = gm.shape[1]
    per_group = x.shape[1] // groups
    if groups == 1:
        gw = backend.matmul(xp, cols[0].T, gm)  # (K * Cg, O)
    else:
        gw = backend.matmul(
            xp, cols.transpose(0, 2, 1), gm.reshape(-1, groups, out_channels // groups).transpose(1, 0, 2)
        )
    gw = gw.reshape(groups, *geom.kernel, per_group, out_channels // groups)
    gw = gw.transpose(0, nd + 2, nd + 1, *range(1, nd + 1))  # (groups, Og, Cg, *K)
    return xp.ascontiguousarray(gw).reshape(out_channels, per_group, *geom.kernel)


@_conv_weight_grad.defvjp
def _conv_weight_grad_vjp(ctx, h):
    x, g = ctx.saved
    geom = ctx.args[0]
    need = ctx.next
    return (
        apply2(_conv_input_grad, g, h, geom) if need[0] is not None else None,
        applyn(_conv, (x, h), geom) if need[1] is not None else None,
    )


@_conv_weight_grad.defjvp
def _conv_weight_grad_jvp(ctx, tx, tg):
    x, g = ctx.saved
    geom = ctx.args[0]
    return add_tangents(
        apply2(_conv_weight_grad, tx, g, geom, None) if tx is not None else None,
        apply2(_conv_weight_grad, x, tg, geom, None) if tg is not None else None,
    )


# ---------------------------------------------------------------------------
# public (ops-level) functions: arguments already normalized to per-dimension tuples


def _check_dtypes(op, tensors):
    dtypes = {t._data.dtype for t in tensors if t is not None}
    if len(dtypes) > 1 or any(d.kind != "f" for d in dtypes):
        names = ", ".join(f"{t._data.dtype}" for t in tensors if t is not None)
        raise DTypeError(f"{op}: input, weight and bias must share one floating dtype, got {names}")


def conv(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation, groups: int, op: str = "conv"
) -> Tensor:
    """N-d convolution (cross-correlation) of x (N, C, *S) with weight (O, C/groups, *K) and bias (O,) or None.

    ``stride`` and ``dilation`` are tuples with one entry per spatial dimension,
    ``padding`` a tuple of (low, high) zero-padding pairs.  Shapes are assumed
    checked (see ``chainrule.nn.functional.conv``).  Returns (N, O, *out), a
    view of channels-last memory.
    """
    _check_dtypes(op, (x, weight, bias))
    geom = conv_geometry(x._data.shape[2:], weight._data.shape[2:], stride, padding, dilation, groups, op)
    if x._data.shape[0] == 0:
        return empty_batch_result(x, weight, bias, (0, weight._data.shape[0], *geom.out_size))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return applyn(_conv, inputs, geom)


def empty_batch_result(x: Tensor, weight: Tensor, bias: Tensor | None, shape) -> Tensor:
    """The empty (0, C_out, *out) output of a layer on a batch of 0, as PyTorch returns it.

    Built from empty slices of x, weight and bias, so all three stay in the
    graph and get zero gradients (not None), as in PyTorch.
    """
    out = x.reshape(-1)[:0].reshape(shape) + weight.reshape(-1)[:0].sum()
    if bias is not None:
        out = out + bias.reshape(-1, *([1] * (len(shape) - 2)))
    return out


def conv_transpose(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride,
    padding,
    output_padding,
    dilation,
    groups: int,
    op: str = "conv_transpose",
) -> Tensor:
    """Transposed convolution of x (N, C_in, *S) with weight (C_in, C_out/groups, *K): the gradient of ``conv``.

    ``padding`` is one int per dimension (PyTorch's ``dilation * (k - 1) - padding``
    zeros of the equivalent direct convolution), ``output_padding`` adds size to
    the high end of each output dimension.
    """
    _check_dtypes(op, (x, weight, bias))
    kernel = weight._data.shape[2:]
    in_size = x._data.shape[2:]
    out_size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
        for n, s, p, d, k, op_ in zip(in_size, stride, padding, dilation, kernel, output_padding)
    )
    if any(o <= 0 for o in out_size):
        raise ShapeError(
            f"{op}: the output size {out_size} would not be positive (input {tuple(x.shape)}, "
            f"kernel {tuple(kernel)}, stride {tuple(stride)}, padding {tuple(padding)})"
        )
    if x._data.shape[0] == 0:
        return empty_batch_result(x, weight, bias, (0, weight._data.shape[1] * groups, *out_size))
    # the direct convolution this is the gradient of: input size out_size, output size in_size.  Its windows
    # need not reach the high end of the output: output_padding rows (and the rows a stride skips) get zeros
    geom = ConvGeometry(
        out_size, tuple(kernel), tuple(stride), tuple((p, p) for p in padding), tuple(dilation), groups, tuple(in_size)
    )
    out = apply2(_conv_input_grad, x, weight, geom)
    if bias is not None:
        out = out + bias.reshape(-1, *([1] * len(kernel)))
    return out
