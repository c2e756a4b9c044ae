"""Reductions along dimensions.

Half precision (float16, bfloat16): every reduction that adds, multiplies or
divides (sum, mean, var, std, norm, logsumexp, prod, cumsum) computes in
float32 and rounds to the input's dtype once, as PyTorch accumulates them;
max/min only select and stay in the input's dtype.

``dim`` is an int, a tuple of ints, or None (all dimensions); ``keepdim``
keeps reduced dimensions as size 1, as in PyTorch.

How max and min share the gradient: ``max(x, dim)`` returns (values, indices)
and the whole gradient goes to the index it returned (the first maximum), as
in PyTorch.  ``max(x)`` without dim, ``amax`` and ``amin`` split the gradient
equally among all tied elements.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..autograd.forward import forward_levels
from ..autograd.graph import apply1, primitive
from ..autograd.jvp_rules import linear_jvp
from ..autograd.mode import grad_enabled
from ..backend import array_module, get_default_dtype
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from ._util import is_half, normalize_dim, normalize_dims
from .casting import in_float32
from .registry import op

values_indices = namedtuple("values_indices", ["values", "indices"])


def _keep_shape(in_shape, axis):
    """in_shape with the reduced axes set to 1 (axis None: all)."""
    if axis is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in axis else s for i, s in enumerate(in_shape))


def _expand_back(g: Tensor, in_shape, axis, keepdims) -> Tensor:
    """Broadcast a reduced gradient back to the input's shape (a view, no copy)."""
    kept = _keep_shape(in_shape, axis)
    if g._data.shape != kept:
        g = g.reshape(kept)
    return g.expand(in_shape)


@primitive("sum")
def _sum(xp, x, axis, keepdims, in_shape):
    # np.add.reduce is what ndarray.sum calls, minus a Python-level wrapper (about 0.5 us on tiny tensors)
    out = np.add.reduce(x, axis=axis, keepdims=keepdims) if xp is np else x.sum(axis=axis, keepdims=keepdims)
    return xp.asarray(out) if axis is None and not keepdims else out  # a 0-d array, not a NumPy scalar


@_sum.defvjp
def _sum_vjp(ctx, g):
    axis, keepdims, in_shape = ctx.args
    return _expand_back(g, in_shape, axis, keepdims)


_sum.defjvp(linear_jvp(_sum))


@primitive("mean")
def _mean(xp, x, axis, keepdims, in_shape):
    return x.mean(axis=axis, keepdims=keepdims)


@_mean.defvjp
def _mean_vjp(ctx, g):
    axis, keepdims, in_shape = ctx.args
    count = _count(in_shape, axis)
    return _expand_back(g / count if count else g, in_shape, axis, keepdims)


_mean.defjvp(linear_jvp(_mean))


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    return math.prod([shape[a] for a in axis])


@primitive("amax", save=True, save_output=True)
def _amax(xp, x, axis, keepdims):
    return x.max(axis=axis, keepdims=keepdims)


@primitive("amin", save=True, save_output=True)
def _amin(xp, x, axis, keepdims):
    return x.min(axis=axis, keepdims=keepdims)


def _extreme_vjp(ctx, g):
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    shape = x._data.shape
    out = ctx.out.reshape(_keep_shape(shape, axis))
    hit = x._data == out
    weights = hit / hit.sum(axis=axis, keepdims=True)
    return _expand_back(g, shape, axis, keepdims) * _wrap(weights.astype(g._data.dtype, copy=False))


_amax.defvjp(_extreme_vjp)
_amin.defvjp(_extreme_vjp)


def _extreme_jvp(ctx, tangent):
    # the mean of the tied maxima's tangents: the vjp's equal split, transposed
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    shape = x._data.shape
    # Tensor ops only, so that the rule also runs on vmap-batched inputs
    hit = (x == ctx.output().reshape(_keep_shape(shape, axis))).to(tangent.dtype)
    weights = hit / apply1(_sum, hit, axis, True, shape)
    return apply1(_sum, tangent * weights, axis, keepdims, shape)


_amax.defjvp(_extreme_jvp)
_amin.defjvp(_extreme_jvp)


def _values_at(xp, x, idx, axis, keepdims):
    values = xp.take_along_axis(x, idx, axis=axis)
    extra = (idx, x.shape)
    if not keepdims:
        idx, values = idx.squeeze(axis), values.squeeze(axis)
    return (values, idx), extra


@primitive("max_dim", multi=True, nondiff=(1,), extra=True)
def _max_dim(xp, x, axis, keepdims):
    return _values_at(xp, x, xp.argmax(x, axis=axis, keepdims=True), axis, keepdims)


@primitive("min_dim", multi=True, nondiff=(1,), extra=True)
def _min_dim(xp, x, axis, keepdims):
    return _values_at(xp, x, xp.argmin(x, axis=axis, keepdims=True), axis, keepdims)


def _dim_vjp(ctx, g, g_indices):
    from .index import scatter_into_zeros  # noqa: PLC0415

    axis, keepdims = ctx.args
    idx, in_shape = ctx.extra
    if not keepdims:
        g = g.unsqueeze(axis)
    return scatter_into_zeros(g, idx, axis, in_shape)


_max_dim.defvjp(_dim_vjp)
_min_dim.defvjp(_dim_vjp)


def _dim_jvp(ctx, tangent):
    # the tangent at the index the forward picked
    from .index import _gather  # noqa: PLC0415

    axis, keepdims = ctx.args
    if ctx.extra is None:
        # under vmap (a batched input) the kept index array is not at hand: the first position holding the
        # extreme value, found with Tensor ops (argmax and argmin pick the first one too)
        values = ctx.output(0)
        hit = ctx.saved[0] == (values if keepdims else values.unsqueeze(axis))
        first = hit & (hit.cumsum(axis) == 1)
        return (tangent * first.to(tangent.dtype)).sum(dim=axis, keepdim=keepdims), None
    idx, in_shape = ctx.extra
    values = apply1(_gather, tangent, axis, idx, in_shape)
    return (values if keepdims else values.squeeze(axis)), None


_max_dim.defjvp(_dim_jvp)
_min_dim.defjvp(_dim_jvp)


@primitive("logsumexp", save=True, save_output=True)
def _logsumexp(xp, x, axis, keepdims):
    m = x.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=axis)


@_logsumexp.defvjp
def _logsumexp_vjp(ctx, g):
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    shape = x._data.shape
    out = ctx.output()
    kept = _keep_shape(shape, axis)
    return _expand_back(g, shape, axis, keepdims) * (x - out.reshape(kept)).exp()


@_logsumexp.defjvp
def _logsumexp_jvp(ctx, tangent):
    # sum of softmax(x) * dx along the axes
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    shape = x._data.shape
    weights = (x - ctx.output().reshape(_keep_shape(shape, axis))).exp()
    return apply1(_sum, tangent * weights, axis, keepdims, shape)


@primitive("prod", save=True)
def _prod(xp, x, axis, keepdims):
    return x.prod(axis=axis, keepdims=keepdims)


@_prod.defvjp
def _prod_vjp(ctx, g):
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    return _expand_back(g, x._data.shape, (axis,) if axis is not None else None, keepdims) * _prod_others(x, axis)


@_prod.defjvp
def _prod_jvp(ctx, tangent):
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    axes = (axis,) if axis is not None else None
    return apply1(_sum, tangent * _prod_others(x, axis), axes, keepdims, x._data.shape)


def _prod_others(x: Tensor, axis):
    """For each element, the product of the others along ``axis`` (None: all), exact with zeros."""
    if axis is None:
        flat = x.reshape(-1)
        return _prod_others(flat, 0).reshape(x._data.shape)
    if grad_enabled() or forward_levels():
        # differentiable form for create_graph and forward mode (tangents go through it):
        # mask the diagonal of an (n, n) expansion
        moved = x.movedim(axis, -1)
        n = moved._data.shape[-1]
        xp = array_module(x._data)
        eye = xp.eye(n, dtype=bool)
        square = moved.unsqueeze(-2).expand((*moved._data.shape[:-1], n, n))
        others = square.masked_fill(eye, 1.0).prod(-1)
        return others.movedim(-1, axis)
    data = x._data
    xp = array_module(data)
    moved = xp.moveaxis(data, axis, -1)
    ones = xp.ones(moved.shape[:-1] + (1,), dtype=data.dtype)
    left = xp.cumprod(xp.concatenate([ones, moved[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(moved, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return _wrap(xp.moveaxis(left * right, -1, axis))


@primitive("norm2", save=True, save_output=True)
def _norm2(xp, x, axis, keepdims):
    return xp.sqrt((x * x).sum(axis=axis, keepdims=keepdims))


@_norm2.defvjp
def _norm2_vjp(ctx, g):
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    shape = x._data.shape
    kept = _keep_shape(shape, axis)
    out = ctx.output().reshape(kept)
    zero = out._data == 0
    safe = out.masked_fill(zero, 1.0)  # the subgradient at 0 is 0, as in PyTorch
    scale = (_expand_back(g, shape, axis, keepdims) / safe.expand(shape)).masked_fill(
        np.broadcast_to(zero, shape) if array_module(zero) is np else zero, 0.0
    )
    return x * scale


@_norm2.defjvp
def _norm2_jvp(ctx, tangent):
    # d|x| = <x, dx> / |x|, and 0 where |x| = 0 (the vjp's subgradient)
    (x,) = ctx.saved
    axis, keepdims = ctx.args
    out = ctx.output()
    zero = (out == 0).to(out.dtype)  # Tensor ops only, so that the rule also runs on vmap-batched inputs
    dot = apply1(_sum, x * tangent, axis, keepdims, x._data.shape)
    return dot / (out + zero) * (1.0 - zero)


@primitive("cumsum")
def _cumsum(xp, x, axis):
    return xp.cumsum(x, axis=axis)


@_cumsum.defvjp
def _cumsum_vjp(ctx, g):
    (axis,) = ctx.args
    return g.flip(axis).cumsum(axis).flip(axis)


_cumsum.defjvp(linear_jvp(_cumsum))


# ---------------------------------------------------------------------------
# public functions


def _float(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "f":
        return x
    from .elementwise import to_dtype  # noqa: PLC0415

    return to_dtype(x, get_default_dtype())


@op(method=True)
def sum(x: Tensor, dim=None, keepdim=False, dtype=None):  # noqa: A001 - PyTorch's name
    """Sum over ``dim`` (all by default).  Integer and bool tensors sum to int64.

    The gradient of every input element is the gradient of the sum it went into.
    float16 and bfloat16 inputs are summed in float32 and rounded once.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        dtype: if given, ``x`` is cast to this dtype before summing (for example ``chainrule.float64``
            to accumulate in double precision).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``); ``x``'s dtype (int64 for
            integer and bool inputs, ``dtype`` when given).

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.sum(x)
        tensor(21.)
        >>> x.sum(dim=0)
        tensor([5., 7., 9.])
        >>> x.sum(1, keepdim=True).shape
        (2, 1)
        >>> cr.tensor([True, False, True]).sum()
        tensor(2)
    """
    data = x._data
    axis = normalize_dims(dim, data.ndim, "sum")
    if dtype is not None:
        x = x.to(dtype)
        data = x._data
    dt = data.dtype
    if dt.kind in "biu":
        if dtype is None:
            x = _wrap(data.astype(np.int64))
    elif dt.itemsize == 2 and is_half(dt):  # the size test first: one attribute read on the float32 path
        return in_float32(sum, x, dim, keepdim)
    return apply1(_sum, x, axis, bool(keepdim), data.shape)


@op(method=True)
def mean(x: Tensor, dim=None, keepdim=False, dtype=None):
    """Arithmetic mean over ``dim`` (all by default).

    The gradient of each element is the incoming gradient divided by the number of elements averaged.
    As in PyTorch, an integer or bool input is refused: convert it first (``x.float().mean()``) or pass
    ``dtype=``.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        dtype: if given, ``x`` is cast to this (floating point) dtype before averaging.

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s dtype (or
            ``dtype``).

    Raises:
        DTypeError: the input (or ``dtype``) is not floating point.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> cr.mean(x)
        tensor(3.5000)
        >>> x.mean(dim=1)
        tensor([2., 5.])
        >>> cr.tensor([1, 2]).mean(dtype=cr.float32)
        tensor(1.5000)
    """
    data = x._data
    axis = normalize_dims(dim, data.ndim, "mean")
    if dtype is not None:
        x = x.to(dtype)
        data = x._data
    dt = data.dtype
    if dt.kind != "f":
        raise DTypeError(
            f"mean(): the input is {dt}; mean needs a floating point tensor (PyTorch refuses integers too): "
            "use x.float().mean() or x.mean(dtype=chainrule.float32)"
        )
    if dt.itemsize == 2:  # float16: 1 / count is not a float16 past 65504 elements
        return in_float32(mean, x, dim, keepdim)
    return apply1(_mean, x, axis, bool(keepdim), data.shape)


@op(method=True)
def var(x: Tensor, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance with Bessel's correction (``correction=1``) by default, as in PyTorch.

    ``var = sum((x - mean(x))**2) / (N - correction)`` over the ``N`` elements of the reduced dimensions.
    Where ``N - correction <= 0`` the result is nan, as in PyTorch.  Integer inputs are computed in the
    default float dtype; float16 and bfloat16 in float32.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        unbiased: PyTorch's older switch: True (the default) is ``correction=1``, False is ``correction=0``.
            Ignored when ``correction`` is given.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        correction: the number subtracted from ``N`` in the denominator (0: the population variance,
            1: the sample variance).  Default: from ``unbiased``, so 1.

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s float dtype.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]])
        >>> cr.var(x, dim=1)
        tensor([1., 4.])
        >>> x.var(dim=1, correction=0)
        tensor([0.6667, 2.6667])
    """
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    x = _float(x)
    if is_half(x._data.dtype):
        return in_float32(var, x, dim, unbiased, keepdim, correction)
    axis = normalize_dims(dim, x._data.ndim, "var")
    n = _count(x._data.shape, axis)
    centered = x - mean(x, dim=axis, keepdim=True)
    total = (centered * centered).sum(dim=axis, keepdim=keepdim)
    denominator = n - correction
    if denominator <= 0:
        return total * float("nan")  # PyTorch returns nan here too
    return total / denominator


@op(method=True)
def std(x: Tensor, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation; where the variance is 0 its subgradient is 0, as in PyTorch (not sqrt's inf * 0 = NaN).

    ``std = sqrt(var(x, dim, correction))``; see ``chainrule.var`` for the correction.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        unbiased: PyTorch's older switch: True (the default) is ``correction=1``, False is ``correction=0``.
            Ignored when ``correction`` is given.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        correction: the number subtracted from ``N`` in the variance's denominator (default 1).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s float dtype.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]])
        >>> cr.std(x, dim=1)
        tensor([1., 2.])
        >>> y = cr.tensor([5.0, 5.0], requires_grad=True)
        >>> y.std().backward()
        >>> y.grad
        tensor([0., 0.])
    """
    if is_half(x._data.dtype):
        return in_float32(std, x, dim, unbiased, keepdim, correction)
    v = var(x, dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)
    zero = array_module(v._data).asarray(v._data == 0)
    if not zero.any():
        return v.sqrt()
    return v.masked_fill(zero, 1.0).sqrt().masked_fill(zero, 0.0)


@op()
def var_mean(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """The variance and the mean over ``dim``, as a pair: ``(var(x, ...), mean(x, ...))``.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        unbiased: PyTorch's older switch: True (the default) is ``correction=1``, False is ``correction=0``.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        correction: the number subtracted from ``N`` in the variance's denominator (default 1).

    Returns:
        A tuple ``(var, mean)`` of two tensors of ``x``'s shape without the reduced dimensions.

    Examples:
        >>> v, m = cr.var_mean(cr.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]]), dim=1)
        >>> v, m
        (tensor([1., 4.]), tensor([2., 6.]))
    """
    return var(x, dim, unbiased, keepdim, correction), mean(x, dim, keepdim)


@op()
def std_mean(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """The standard deviation and the mean over ``dim``, as a pair: ``(std(x, ...), mean(x, ...))``.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        unbiased: PyTorch's older switch: True (the default) is ``correction=1``, False is ``correction=0``.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).
        correction: the number subtracted from ``N`` in the variance's denominator (default 1).

    Returns:
        A tuple ``(std, mean)`` of two tensors of ``x``'s shape without the reduced dimensions.

    Examples:
        >>> s, m = cr.std_mean(cr.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 8.0]]), dim=1)
        >>> s, m
        (tensor([1., 2.]), tensor([2., 6.]))
    """
    return std(x, dim, unbiased, keepdim, correction), mean(x, dim, keepdim)


def _check_nonempty(x, op, axis):
    if x._data.size == 0 or (axis is not None and 0 in [x._data.shape[a] for a in axis]):
        raise ShapeError(f"{op}: cannot reduce an empty dimension (shape {x.shape})")


@op(method=True)
def amax(x: Tensor, dim=None, keepdim=False):
    """Maximum over ``dim``; tied maxima share the gradient equally.

    Unlike ``max(x, dim)``, which returns indices and gives the whole gradient to the first maximum, the
    gradient here is split equally among all elements equal to the maximum (PyTorch's ``amax`` too).

    Args:
        x: the input, any shape ``(*)``; its reduced dimensions must not be empty.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s dtype.

    Raises:
        ShapeError: a reduced dimension has size 0.

    Examples:
        >>> x = cr.tensor([[1.0, 3.0, 3.0], [4.0, 0.0, 2.0]], requires_grad=True)
        >>> y = cr.amax(x, dim=1)
        >>> y
        tensor([3., 4.], grad_fn=<amax>)
        >>> y.sum().backward()
        >>> x.grad
        tensor([[0.0000, 0.5000, 0.5000],
                [1.0000, 0.0000, 0.0000]])
    """
    axis = normalize_dims(dim, x._data.ndim, "amax")
    _check_nonempty(x, "amax", axis)
    return apply1(_amax, x, axis, bool(keepdim))


@op(method=True)
def amin(x: Tensor, dim=None, keepdim=False):
    """Minimum over ``dim``; tied minima share the gradient equally.

    The counterpart of ``chainrule.amax``: the gradient is split equally among all elements equal to
    the minimum.

    Args:
        x: the input, any shape ``(*)``; its reduced dimensions must not be empty.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s dtype.

    Raises:
        ShapeError: a reduced dimension has size 0.

    Examples:
        >>> x = cr.tensor([[1.0, 3.0, 1.0], [4.0, 0.0, 2.0]])
        >>> cr.amin(x, dim=1)
        tensor([1., 0.])
        >>> x.amin()
        tensor(0.)
    """
    axis = normalize_dims(dim, x._data.ndim, "amin")
    _check_nonempty(x, "amin", axis)
    return apply1(_amin, x, axis, bool(keepdim))


def _max_min(x, dim, keepdim, prim, reduce_all, op):
    if dim is None:
        return reduce_all(x)
    if isinstance(dim, Tensor):
        from .elementwise import maximum, minimum  # noqa: PLC0415

        return (maximum if op == "max" else minimum)(x, dim)
    axis = normalize_dim(dim, x._data.ndim, op)
    _check_nonempty(x, op, (axis,) if x._data.ndim else None)
    if x._data.ndim == 0:
        return values_indices(x, _wrap(array_module(x._data).zeros((), dtype=np.int64)))
    values, indices = apply1(prim, x, axis, bool(keepdim))
    return values_indices(values, indices)


@op()
def max(x: Tensor, dim=None, keepdim=False):  # noqa: A001
    """``max(x)``: the largest value.  ``max(x, dim)``: (values, indices).  ``max(x, other)``: maximum.

    With ``dim``, the result is a named tuple ``(values, indices)`` and the whole gradient goes to the
    element whose index is returned (the first maximum), as in PyTorch.  Without ``dim``, tied maxima share
    the gradient equally (as ``chainrule.amax``).  With a tensor as second argument it is the elementwise
    ``chainrule.maximum``.

    Args:
        x: the input, any shape ``(*)``; the reduced dimension must not be empty.
        dim: None (the default) for the maximum of all elements; an int for the maximum along that
            dimension with its index; or a Tensor ``other`` for the elementwise maximum of ``x`` and ``other``.
        keepdim: with an int ``dim``, keep it as size 1 (default False: drop it).

    Returns:
        Without ``dim``: a 0-d tensor of ``x``'s dtype.  With an int ``dim``: ``values_indices(values,
            indices)``, both of ``x``'s shape without ``dim``, the indices int64.  With a tensor: the broadcast
            shape of both.

    Raises:
        ShapeError: the reduced dimension has size 0.

    Examples:
        >>> x = cr.tensor([[1.0, 5.0, 2.0], [4.0, 3.0, 4.0]])
        >>> cr.max(x)
        tensor(5.)
        >>> values, indices = cr.max(x, dim=1)
        >>> values, indices
        (tensor([5., 4.]), tensor([1, 0]))
        >>> x.max(0).indices
        tensor([1, 0, 1])
    """
    return _max_min(x, dim, keepdim, _max_dim, amax, "max")


@op()
def min(x: Tensor, dim=None, keepdim=False):  # noqa: A001
    """``min(x)``: the smallest value.  ``min(x, dim)``: (values, indices).  ``min(x, other)``: minimum.

    With ``dim``, the result is a named tuple ``(values, indices)`` and the whole gradient goes to the
    element whose index is returned (the first minimum), as in PyTorch.  Without ``dim``, tied minima share
    the gradient equally (as ``chainrule.amin``).  With a tensor as second argument it is the elementwise
    ``chainrule.minimum``.

    Args:
        x: the input, any shape ``(*)``; the reduced dimension must not be empty.
        dim: None (the default) for the minimum of all elements; an int for the minimum along that
            dimension with its index; or a Tensor ``other`` for the elementwise minimum of ``x`` and ``other``.
        keepdim: with an int ``dim``, keep it as size 1 (default False: drop it).

    Returns:
        Without ``dim``: a 0-d tensor of ``x``'s dtype.  With an int ``dim``: ``values_indices(values,
            indices)``, both of ``x``'s shape without ``dim``, the indices int64.  With a tensor: the broadcast
            shape of both.

    Raises:
        ShapeError: the reduced dimension has size 0.

    Examples:
        >>> x = cr.tensor([[1.0, 5.0, 2.0], [4.0, 3.0, 4.0]])
        >>> cr.min(x)
        tensor(1.)
        >>> cr.min(x, dim=1)
        values_indices(values=tensor([1., 3.]), indices=tensor([0, 1]))
        >>> cr.min(x, cr.tensor(2.0))
        tensor([[1., 2., 2.],
                [2., 2., 2.]])
    """
    return _max_min(x, dim, keepdim, _min_dim, amin, "min")


@op(method=True)
def argmax(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index of the first maximum (flattened when dim is None); int64, no gradient.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to search along; None (the default) searches the flattened tensor.
        keepdim: keep the searched dimension as size 1 (with ``dim=None``: every dimension as size 1).

    Returns:
        An int64 tensor: 0-d with ``dim=None``, else ``x``'s shape without ``dim``.

    Examples:
        >>> x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 3.0, 7.0]])
        >>> cr.argmax(x)
        tensor(3)
        >>> x.argmax(dim=1)
        tensor([1, 0])
    """
    xp = array_module(x._data)
    if dim is None:
        out = xp.argmax(x._data)
        return _wrap(xp.asarray(out).reshape((1,) * x._data.ndim) if keepdim else xp.asarray(out))
    axis = normalize_dim(dim, x._data.ndim, "argmax")
    return _wrap(xp.asarray(xp.argmax(x._data, axis=axis, keepdims=bool(keepdim))))


@op(method=True)
def argmin(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index of the first minimum (flattened when dim is None); int64, no gradient.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to search along; None (the default) searches the flattened tensor.
        keepdim: keep the searched dimension as size 1 (with ``dim=None``: every dimension as size 1).

    Returns:
        An int64 tensor: 0-d with ``dim=None``, else ``x``'s shape without ``dim``.

    Examples:
        >>> x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 3.0, 3.0]])
        >>> cr.argmin(x)
        tensor(0)
        >>> x.argmin(dim=1, keepdim=True)
        tensor([[0],
                [1]])
    """
    xp = array_module(x._data)
    if dim is None:
        out = xp.argmin(x._data)
        return _wrap(xp.asarray(out).reshape((1,) * x._data.ndim) if keepdim else xp.asarray(out))
    axis = normalize_dim(dim, x._data.ndim, "argmin")
    return _wrap(xp.asarray(xp.argmin(x._data, axis=axis, keepdims=bool(keepdim))))


@op(method=True)
def logsumexp(x: Tensor, dim, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed without overflow.

    Computed as ``m + log(sum(exp(x - m)))`` with ``m`` the maximum over ``dim`` (0 where it is not finite).
    The gradient is ``softmax(x)`` along ``dim`` times the incoming gradient.  Integer inputs are computed in
    the default float dtype; float16 and bfloat16 in float32.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce (required, as in PyTorch).
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s float dtype.

    Examples:
        >>> x = cr.tensor([[0.0, 0.0], [1000.0, 1000.0]])
        >>> cr.logsumexp(x, dim=1)
        tensor([   0.6931, 1000.6932])
    """
    axis = normalize_dims(dim, x._data.ndim, "logsumexp")
    x = _float(x)
    if is_half(x._data.dtype):
        # PyTorch sums exp(x - max) in the input's dtype, so 70,000 equal float16 logits give inf there
        return in_float32(logsumexp, x, dim, keepdim)
    return apply1(_logsumexp, x, axis, bool(keepdim))


@op(method=True)
def prod(x: Tensor, dim=None, keepdim=False):
    """Product over one dimension (or all).  The gradient is exact even with zeros.

    The gradient of each element is the product of the other elements (computed from prefix and suffix
    products, not by dividing the result by the element).  Integer inputs are computed in the default
    float dtype; float16 and bfloat16 in float32.

    Args:
        x: the input, any shape ``(*)``.
        dim: the one dimension (an int) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimension as size 1 (default False: drop it).

    Returns:
        ``x``'s shape without ``dim`` (size 1 with ``keepdim``; 0-d with ``dim=None``), in ``x``'s float dtype.

    Examples:
        >>> x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> y = cr.prod(x)
        >>> y.backward()
        >>> y.item(), x.grad
        (0.0, tensor([0., 6., 0.]))
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(dim=1)
        tensor([ 2., 12.])
    """
    axis = None if dim is None else normalize_dim(dim, x._data.ndim, "prod")
    x = _float(x)
    if is_half(x._data.dtype):
        return in_float32(prod, x, dim, keepdim)
    return apply1(_prod, x, axis, bool(keepdim))


@op(method=True)
def norm(x: Tensor, p="fro", dim=None, keepdim=False):
    """Vector p-norm over ``dim`` (all elements by default): p = 2/'fro', 1, inf, -inf, 0 or any float.

    ``norm = sum(|x|**p) ** (1/p)``; ``p=inf`` is ``max(|x|)``, ``p=-inf`` is ``min(|x|)`` and ``p=0`` counts
    the nonzero elements (no gradient).  A matrix is treated as a vector of its elements (the Frobenius
    norm for ``p='fro'``), not as an operator.  The 2-norm's subgradient at zero is zero.

    Args:
        x: the input, any shape ``(*)``.
        p: the order: ``'fro'`` (the default) or 2, 1, ``float('inf')``, ``float('-inf')``, 0 or any float.
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        ``x``'s shape without the reduced dimensions (size 1 with ``keepdim``), in ``x``'s float dtype.

    Raises:
        ValueError: ``p`` is a string other than ``'fro'``.

    Examples:
        >>> x = cr.tensor([[3.0, 4.0], [-1.0, 0.0]])
        >>> cr.norm(x[0]), x.norm(0)
        (tensor(5.), tensor(3.))
        >>> x.norm(1, dim=1)
        tensor([7., 1.])
        >>> x.norm(float("inf"))
        tensor(4.)
    """
    x = _float(x)
    if is_half(x._data.dtype):
        return in_float32(norm, x, p, dim, keepdim)  # x * x overflows float16 from |x| = 256
    axis = normalize_dims(dim, x._data.ndim, "norm")
    if p in ("fro", 2, 2.0):
        return apply1(_norm2, x, axis, bool(keepdim))
    if p in (1, 1.0):
        return x.abs().sum(dim=axis, keepdim=keepdim)
    if p == float("inf"):
        return x.abs().amax(dim=axis, keepdim=keepdim)
    if p == float("-inf"):
        return x.abs().amin(dim=axis, keepdim=keepdim)
    if p == 0:
        return _wrap(array_module(x._data).asarray((x._data != 0).sum(axis=axis, keepdims=keepdim), x._data.dtype))
    if isinstance(p, str):
        raise ValueError(f"norm: unsupported p={p!r}")
    return (x.abs() ** float(p)).sum(dim=axis, keepdim=keepdim) ** (1.0 / float(p))


@op(method=True)
def cumsum(x: Tensor, dim: int, dtype=None):
    """Cumulative sum along ``dim``: ``out[i] = x[0] + ... + x[i]``.

    The gradient is the reversed cumulative sum of the incoming gradient.  float16 and bfloat16 inputs are
    summed in float32 and rounded once.

    Args:
        x: the input, any shape ``(*)``.
        dim: the dimension to accumulate along (required).
        dtype: if given, ``x`` is cast to this dtype first.

    Returns:
        ``x``'s shape, in ``x``'s dtype (``dtype`` when given; int64 for smaller integer and bool types).

    Examples:
        >>> cr.cumsum(cr.tensor([1.0, 2.0, 3.0, 4.0]), dim=0)
        tensor([ 1.,  3.,  6., 10.])
        >>> cr.tensor([[1, 2], [3, 4]]).cumsum(1)
        tensor([[1, 3],
                [3, 7]])
    """
    axis = normalize_dim(dim, x._data.ndim, "cumsum")
    if dtype is not None:
        x = x.to(dtype)
    if is_half(x._data.dtype):
        return in_float32(cumsum, x, dim)  # a float16 running sum stops growing once a step is below its spacing
    return apply1(_cumsum, x, axis)


@op(method=True)
def any(x: Tensor, dim=None, keepdim=False) -> Tensor:  # noqa: A001
    """True where any element over ``dim`` is nonzero (no gradient).

    Args:
        x: the input, any shape ``(*)`` and dtype (nonzero counts as True).
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        A bool tensor of ``x``'s shape without the reduced dimensions.

    Examples:
        >>> x = cr.tensor([[0.0, 1.0], [0.0, 0.0]])
        >>> cr.any(x)
        tensor(True)
        >>> x.any(dim=1)
        tensor([ True, False])
    """
    axis = normalize_dims(dim, x._data.ndim, "any")
    return _wrap(array_module(x._data).asarray(x._data.any(axis=axis, keepdims=keepdim)))


@op(method=True)
def all(x: Tensor, dim=None, keepdim=False) -> Tensor:  # noqa: A001
    """True where every element over ``dim`` is nonzero (no gradient).

    Args:
        x: the input, any shape ``(*)`` and dtype (nonzero counts as True).
        dim: the dimension (int) or dimensions (tuple of ints) to reduce; None (the default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False: drop them).

    Returns:
        A bool tensor of ``x``'s shape without the reduced dimensions.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [0.0, 3.0]])
        >>> cr.all(x)
        tensor(False)
        >>> (x >= 0).all(dim=1)
        tensor([True, True])
    """
    axis = normalize_dims(dim, x._data.ndim, "all")
    return _wrap(array_module(x._data).asarray(x._data.all(axis=axis, keepdims=keepdim)))
