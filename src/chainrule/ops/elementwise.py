"""Elementwise primitives and their vector-Jacobian products.

Binary ops broadcast as NumPy does; the engine sums each gradient back to its
input's shape, so no rule here thinks about broadcasting.

Subgradients at the kinks (documented choices, the same as PyTorch's):
relu'(0) = 0, leaky_relu'(0) = negative_slope, abs'(0) = sign(0) = 0,
clamp passes the gradient where min <= x <= max (ends included, tensor bounds too),
maximum/minimum split the gradient equally on ties.
floor, ceil, round, sign, trunc and floor_divide have zero gradient everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dnnl, backend, threads
from ..autograd.graph import apply1, apply2, applyn, primitive, promote_pair
from ..autograd.jvp_rules import add_tangents, jvp_from_vjp, linear_jvp
from ..backend import get_default_dtype
from ..errors import DTypeError
from ..tensor import Tensor, _wrap
from ._util import as_tensor_like, is_scalar, scalar_value
from .registry import op

# ---------------------------------------------------------------------------
# helpers used by the vjps


@primitive("select")
def _select_fwd(xp, x, mask, keep):
    """x where mask == keep, else 0 (mask is a constant array)."""
    return backend.select(xp, x, mask, keep)


@_select_fwd.defvjp
def _select_vjp(ctx, g):
    mask, keep = ctx.args
    return apply1(_select_fwd, g, mask, keep)


_select_fwd.defjvp(linear_jvp(_select_fwd))


def select(x: Tensor, mask, keep: bool = True) -> Tensor:
    """``x`` where the constant boolean array ``mask`` is ``keep``, zero elsewhere."""
    return apply1(_select_fwd, x, mask, keep)


def _zero_grad_vjp(ctx, g):
    xp = backend.array_module(g._data)
    return _wrap(xp.zeros(ctx.saved[0]._data.shape if ctx.saved else g._data.shape, dtype=g._data.dtype))


def _zero_jvp(ctx, *tangents):
    return None  # piecewise constant: a zero tangent


def _identity_jvp(ctx, tangent):
    return tangent


# ---------------------------------------------------------------------------
# binary ops between tensors


@primitive("add")
def _add(xp, a, b):
    return a + b


@_add.defvjp
def _add_vjp(ctx, g):
    return g, g


@_add.defjvp
def _add_jvp(ctx, ta, tb):
    return add_tangents(ta, tb)


@primitive("sub")
def _sub(xp, a, b):
    return a - b


@_sub.defvjp
def _sub_vjp(ctx, g):
    return g, (-g if ctx.next[1] is not None else None)


@_sub.defjvp
def _sub_jvp(ctx, ta, tb):
    return add_tangents(ta, -tb if tb is not None else None)


@primitive("mul", save="cross")
def _mul(xp, a, b):
    return a * b


@_mul.defvjp
def _mul_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    return (g * b if n[0] is not None else None), (g * a if n[1] is not None else None)


@_mul.defjvp
def _mul_jvp(ctx, ta, tb):
    a, b = ctx.saved
    return add_tangents(ta * b if ta is not None else None, a * tb if tb is not None else None)


@primitive("div", save=True)
def _div(xp, a, b):
    return a / b


@_div.defvjp
def _div_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    ga = g / b if n[0] is not None else None
    gb = -(g * a) / (b * b) if n[1] is not None else None
    return ga, gb


@_div.defjvp
def _div_jvp(ctx, ta, tb):
    # d(a / b) = (da - (a / b) db) / b
    return add_tangents(ta, -(tb * ctx.output()) if tb is not None else None) / ctx.saved[1]


@primitive("pow", save=True, save_output=True)
def _pow(xp, a, b):
    return a**b


@_pow.defvjp
def _pow_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    ga = g * b * a ** (b - 1) if n[0] is not None else None
    gb = None
    if n[1] is not None:
        # d(a^b)/db = a^b log a; PyTorch's convention: 0 where a == 0 and b >= 0
        zero = (a._data == 0) & (b._data >= 0)
        safe_log = log(where(_wrap(zero), 1.0, a))
        gb = select(g * ctx.output() * safe_log, zero, keep=False)
    return ga, gb


_pow.defjvp(jvp_from_vjp(_pow_vjp))


@primitive("maximum", save=True)
def _maximum(xp, a, b):
    return xp.maximum(a, b)


@_maximum.defvjp
def _maximum_vjp(ctx, g):
    a, b = ctx.saved
    return _split_tie(g, a._data > b._data, a._data == b._data, ctx)


@_maximum.defjvp
def _maximum_jvp(ctx, ta, tb):
    a, b = ctx.saved
    return _extremum_tangent(ctx, ta, tb, a > b, a == b)


@primitive("minimum", save=True)
def _minimum(xp, a, b):
    return xp.minimum(a, b)


@_minimum.defvjp
def _minimum_vjp(ctx, g):
    a, b = ctx.saved
    return _split_tie(g, a._data < b._data, a._data == b._data, ctx)


@_minimum.defjvp
def _minimum_jvp(ctx, ta, tb):
    a, b = ctx.saved
    return _extremum_tangent(ctx, ta, tb, a < b, a == b)


def _extremum_tangent(ctx, ta, tb, wins, ties):
    # the vjp's split (half each on ties), in Tensor ops so that it also runs on vmap-batched inputs
    dtype = ctx.out.dtype
    weight = wins.to(dtype) + ties.to(dtype) * 0.5
    return add_tangents(ta * weight if ta is not None else None, tb * (1.0 - weight) if tb is not None else None)


def _split_tie(g, wins, ties, ctx):
    weight = _wrap((wins + 0.5 * ties).astype(g._data.dtype))
    n = ctx.next
    ga = g * weight if n[0] is not None else None
    gb = g * (1.0 - weight) if n[1] is not None else None
    return ga, gb


@primitive("remainder", save=True)
def _remainder(xp, a, b):
    return xp.remainder(a, b)


@_remainder.defvjp
def _remainder_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    gb = -g * floor(a / b) if n[1] is not None else None
    return (g if n[0] is not None else None), gb


_remainder.defjvp(jvp_from_vjp(_remainder_vjp))


@primitive("fmod", save=True)
def _fmod(xp, a, b):
    return xp.fmod(a, b)


@_fmod.defvjp
def _fmod_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    gb = -g * trunc(a / b) if n[1] is not None else None  # fmod(a, b) = a - trunc(a / b) * b
    return (g if n[0] is not None else None), gb


_fmod.defjvp(jvp_from_vjp(_fmod_vjp))


@primitive("clamp_tensor", save=True)
def _clamp_tensor(xp, *arrays_and_bounds):
    *arrays, (has_min, has_max) = arrays_and_bounds
    out = arrays[0]
    if has_min:
        out = xp.maximum(out, arrays[1])
    if has_max:
        out = xp.minimum(out, arrays[-1])
    return out


@_clamp_tensor.defvjp
def _clamp_tensor_vjp(ctx, g):
    # PyTorch's rule (clamp_backward, clamp_backward_min_max): x takes the whole gradient where
    # min <= x <= max, ties included; a bound takes it only where it is the value that was chosen
    has_min, has_max = ctx.args[0]
    x = ctx.saved[0]._data
    lo = ctx.saved[1]._data if has_min else None
    hi = ctx.saved[-1]._data if has_max else None
    if has_min and has_max:
        inside = (x >= lo) & (x <= hi)
        below = (x < lo) & (lo < hi)
        above = (x > hi) | (hi < lo)
    elif has_min:
        inside, below, above = x >= lo, x < lo, None
    else:
        inside, below, above = x <= hi, None, x > hi
    grads = [select(g, inside) if ctx.next[0] is not None else None]
    if has_min:
        grads.append(select(g, below) if ctx.next[1] is not None else None)
    if has_max:
        grads.append(select(g, above) if ctx.next[-1] is not None else None)
    return tuple(grads)


_clamp_tensor.defjvp(jvp_from_vjp(_clamp_tensor_vjp))


# ---------------------------------------------------------------------------
# a tensor with a Python scalar (the scalar is weak: float32 stays float32)


@primitive("add_scalar")
def _adds(xp, x, c):
    return x + c


@_adds.defvjp
def _adds_vjp(ctx, g):
    return g


_adds.defjvp(_identity_jvp)


@primitive("rsub_scalar")
def _rsubs(xp, x, c):
    return c - x


@_rsubs.defvjp
def _rsubs_vjp(ctx, g):
    return -g


@_rsubs.defjvp
def _rsubs_jvp(ctx, tangent):
    return -tangent


@primitive("mul_scalar")
def _muls(xp, x, c):
    return x * c


@_muls.defvjp
def _muls_vjp(ctx, g):
    return g * ctx.args[0]


_muls.defjvp(linear_jvp(_muls))


@primitive("div_scalar")
def _divs(xp, x, c):
    return x / c


@_divs.defvjp
def _divs_vjp(ctx, g):
    return g / ctx.args[0]


_divs.defjvp(linear_jvp(_divs))


@primitive("rdiv_scalar", save=True, save_output=True)
def _rdivs(xp, x, c):
    return c / x


@_rdivs.defvjp
def _rdivs_vjp(ctx, g):
    (x,) = ctx.saved
    return -(g * ctx.output()) / x


_rdivs.defjvp(jvp_from_vjp(_rdivs_vjp))


@primitive("pow_scalar", save=True)
def _pows(xp, x, c):
    if c == 2:
        return x * x
    return x**c


@_pows.defvjp
def _pows_vjp(ctx, g):
    (x,) = ctx.saved
    c = ctx.args[0]
    if c == 0:
        return g * 0.0
    if c == 1:
        return g
    if c == 2:
        return g * (x * 2.0)
    return g * (c * x ** (c - 1))


_pows.defjvp(jvp_from_vjp(_pows_vjp))


@primitive("rpow_scalar", save_output=True)
def _rpows(xp, x, c):
    return c**x


@_rpows.defvjp
def _rpows_vjp(ctx, g):
    c = ctx.args[0]
    if c == 0:
        return g * 0.0
    return g * ctx.output() * math.log(c)


_rpows.defjvp(jvp_from_vjp(_rpows_vjp))


# ---------------------------------------------------------------------------
# unary


@primitive("neg")
def _neg(xp, x):
    return -x


@_neg.defvjp
def _neg_vjp(ctx, g):
    return -g


_neg.defjvp(linear_jvp(_neg))


@primitive("abs", save=True)
def _abs(xp, x):
    return xp.abs(x)


@_abs.defvjp
def _abs_vjp(ctx, g):
    return g * sign(ctx.saved[0])


_abs.defjvp(jvp_from_vjp(_abs_vjp))


@primitive("exp", save_output=True)
def _exp(xp, x):
    return xp.exp(x)


@_exp.defvjp
def _exp_vjp(ctx, g):
    return g * ctx.output()


_exp.defjvp(jvp_from_vjp(_exp_vjp))


@primitive("expm1", save_output=True)
def _expm1(xp, x):
    return xp.expm1(x)


@_expm1.defvjp
def _expm1_vjp(ctx, g):
    return g * (ctx.output() + 1.0)


_expm1.defjvp(jvp_from_vjp(_expm1_vjp))


@primitive("log", save=True)
def _log(xp, x):
    return xp.log(x)


@_log.defvjp
def _log_vjp(ctx, g):
    return g / ctx.saved[0]


_log.defjvp(jvp_from_vjp(_log_vjp))


@primitive("log1p", save=True)
def _log1p(xp, x):
    return xp.log1p(x)


@_log1p.defvjp
def _log1p_vjp(ctx, g):
    return g / (ctx.saved[0] + 1.0)


_log1p.defjvp(jvp_from_vjp(_log1p_vjp))


@primitive("sqrt", save_output=True)
def _sqrt(xp, x):
    return xp.sqrt(x)


@_sqrt.defvjp
def _sqrt_vjp(ctx, g):
    return g / (ctx.output() * 2.0)


_sqrt.defjvp(jvp_from_vjp(_sqrt_vjp))


@primitive("sin", save=True)
def _sin(xp, x):
    return xp.sin(x)


@_sin.defvjp
def _sin_vjp(ctx, g):
    return g * cos(ctx.saved[0])


_sin.defjvp(jvp_from_vjp(_sin_vjp))


@primitive("cos", save=True)
def _cos(xp, x):
    return xp.cos(x)


@_cos.defvjp
def _cos_vjp(ctx, g):
    return -(g * sin(ctx.saved[0]))


_cos.defjvp(jvp_from_vjp(_cos_vjp))


@primitive("tanh", save_output=True)
def _tanh(xp, x):
    return xp.tanh(x)


@_tanh.defvjp
def _tanh_vjp(ctx, g):
    y = ctx.output()
    return g * (1.0 - y * y)


_tanh.defjvp(jvp_from_vjp(_tanh_vjp))


@primitive("sigmoid", save_output=True)
def _sigmoid(xp, x):
    return backend.sigmoid(xp, x)


@_sigmoid.defvjp
def _sigmoid_vjp(ctx, g):
    y = ctx.output()
    return g * (y * (1.0 - y))


_sigmoid.defjvp(jvp_from_vjp(_sigmoid_vjp))


@primitive("erf", save=True)
def _erf(xp, x):
    return backend.erf(xp, x)


@_erf.defvjp
def _erf_vjp(ctx, g):
    (x,) = ctx.saved
    return g * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


_erf.defjvp(jvp_from_vjp(_erf_vjp))


@primitive("relu", save_output=True)
def _relu(xp, x):
    return backend.relu(xp, x)


@_relu.defvjp
def _relu_vjp(ctx, g):
    if not ctx.create_graph:
        return _wrap(backend.select_positive(backend.array_module(g._data), g._data, ctx.out))
    return select(g, ctx.out > 0)


_relu.defjvp(jvp_from_vjp(_relu_vjp))


@primitive("leaky_relu", save=True)
def _leaky_relu(xp, x, slope):
    return xp.where(x > 0, x, x * slope)


@_leaky_relu.defvjp
def _leaky_relu_vjp(ctx, g):
    positive = ctx.saved[0]._data > 0
    return select(g, positive) + select(g, positive, keep=False) * ctx.args[0]


_leaky_relu.defjvp(jvp_from_vjp(_leaky_relu_vjp))


@primitive("elu", save=True)
def _elu(xp, x, alpha):
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


@_elu.defvjp
def _elu_vjp(ctx, g):
    (x,) = ctx.saved
    positive = x._data > 0
    negative_part = exp(select(x, positive, keep=False)) * ctx.args[0]
    return select(g, positive) + select(g * negative_part, positive, keep=False)


_elu.defjvp(jvp_from_vjp(_elu_vjp))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# GELU's forward is some thirty NumPy passes (25 for erf). On a large array each pass streams its operands
# through memory and each temporary is a fresh allocation; run block by block, a block's temporaries stay in
# cache and are reused. The same operations on the same elements: bit for bit the one-call result.
_GELU_BLOCK = 1 << 17  # elements: 512 KiB of float32 per temporary
_GELU_BLOCKED_FROM = 1 << 20  # below this the arrays already stay in cache (no gain measured at 524,288)


def _gelu_blocks(size):
    """(start, stop) of equal blocks of at least _GELU_BLOCK elements: no short last block, so a size-dependent
    path (MKL's erf, from 1,024 elements) takes the same branch for every block as for the whole array."""
    count = max(1, size // _GELU_BLOCK)
    step = -(-size // count)
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def _gelu_onednn(approximate, backward, x, *more):
    """GELU (or, ``backward``, g * GELU'(x) for ``more == (g,)``) on oneDNN's vectorized kernel, on the
    OpenMP threads ``threads.omp_call`` gives it; None where oneDNN does not take it (NumPy then runs).

    NumPy's exact GELU is some thirty passes (25 for erf): MiniLM's (32, 64, 1536) block took 9.7 ms forward
    and 4.8 backward on one thread, oneDNN's 1.5 and 5.3 (it recomputes Phi rather than reading a saved one;
    two threads: 1.0 and 2.9).
    """
    operands = _dnnl.eltwise_operands(x, *more)
    if operands is None:
        return None
    fn = _dnnl.gelu_backward if backward else _dnnl.gelu
    return threads.omp_call(
        "eltwise",
        x.size,
        lambda n: fn(*operands, approximate, n),
        lambda counts: _dnnl.eltwise_prepare(approximate, backward, x.size, counts),
    )


@primitive("gelu", save=True, extra=True)
def _gelu(xp, x, approximate):
    """Returns (out, factor): factor is Phi(x) (exact) or tanh(u) (tanh form), kept for the first-order vjp;
    None where oneDNN computed the output (its backward recomputes the factor)."""
    out = _gelu_onednn(approximate, False, x)
    if out is not None:
        return out, None
    if type(x) is not np.ndarray or x.size < _GELU_BLOCKED_FROM or not x.flags.c_contiguous:
        return _gelu_arrays(xp, x, approximate)
    flat = x.reshape(-1)
    out, factor = np.empty_like(flat), np.empty_like(flat)
    for start, stop in _gelu_blocks(flat.size):
        _gelu_into(flat[start:stop], out[start:stop], factor[start:stop], approximate)
    return out.reshape(x.shape), factor.reshape(x.shape)


def _gelu_tanh_argument(x):
    """u = sqrt(2/pi) (x + 0.044715 x^3), the tanh form's argument, in the same operations for every caller."""
    inner = x * x
    inner *= 0.044715
    inner += 1.0
    inner *= x
    inner *= _SQRT_2_OVER_PI
    return inner


def _gelu_into(x, out, factor, approximate):
    """_gelu_arrays on one block of NumPy arrays, written into ``out`` and ``factor`` (slices of the results):
    the same operations in the same order, so the same bits, without a copy of each block's two results
    (MiniLM's (2048, 1536) forward 7.0 -> 6.0 ms, one thread, MKL's erf)."""
    if approximate == "tanh":
        np.tanh(_gelu_tanh_argument(x), out=factor)
        np.add(factor, 1.0, out=out)
        out *= x
        out *= 0.5
        return
    np.add(backend.erf(np, x * _INV_SQRT_2), 1.0, out=factor)
    factor *= 0.5
    np.multiply(x, factor, out=out)


def _gelu_arrays(xp, x, approximate):
    """_gelu on raw arrays, in one call (the reference, and one block of a large array)."""
    if approximate == "tanh":
        t = xp.tanh(_gelu_tanh_argument(x))
        out = t + 1.0
        out *= x
        out *= 0.5
        return out, t
    cdf = backend.erf(xp, x * _INV_SQRT_2)
    cdf += 1.0
    cdf *= 0.5
    return x * cdf, cdf


@_gelu.defvjp
def _gelu_vjp(ctx, g):
    (x,) = ctx.saved
    if not ctx.create_graph:
        factor = ctx.extra
        if factor is None:  # the forward ran on oneDNN
            grad = _gelu_onednn(ctx.args[0], True, x._data, g._data)
            if grad is not None:
                return _wrap(grad)
            factor = _gelu_arrays(backend.array_module(x._data), x._data, ctx.args[0])[1]
        return _wrap(_gelu_grad_blocked(x._data, g._data, factor, ctx.args[0]))
    if ctx.args[0] == "tanh":
        # d/dx [x/2 (1 + tanh u)], u = sqrt(2/pi)(x + 0.044715 x^3)
        x2 = x * x
        t = tanh((x + x2 * x * 0.044715) * _SQRT_2_OVER_PI)
        du = (x2 * (3 * 0.044715) + 1.0) * _SQRT_2_OVER_PI
        return g * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * du)
    # d/dx [x Phi(x)] = Phi(x) + x phi(x)
    cdf = (erf(x * _INV_SQRT_2) + 1.0) * 0.5
    pdf = exp(x * x * -0.5) * _INV_SQRT_2PI
    return g * (cdf + x * pdf)


_gelu.defjvp(jvp_from_vjp(_gelu_vjp))


def _gelu_grad_blocked(x, g, factor, approximate):
    """_gelu_grad block by block on large contiguous NumPy arrays of one shape and dtype (as _gelu's forward)."""
    arrays = (x, g, factor)
    if (
        type(x) is not np.ndarray
        or x.size < _GELU_BLOCKED_FROM
        or any(type(a) is not np.ndarray or a.shape != x.shape or a.dtype != x.dtype for a in arrays)
        or not all(a.flags.c_contiguous for a in arrays)
    ):
        return _gelu_grad(x, g, factor, approximate)
    xf, gf, ff = (a.reshape(-1) for a in arrays)
    out = np.empty_like(xf)
    for start, stop in _gelu_blocks(xf.size):
        _gelu_grad(xf[start:stop], gf[start:stop], ff[start:stop], approximate, out=out[start:stop])
    return out.reshape(x.shape)


def _gelu_grad(x, g, factor, approximate, out=None):
    """g * GELU'(x) on raw arrays, from the factor the forward kept; into ``out`` when given (a block of the
    blocked path's result: no copy of the block afterwards, the same bits)."""
    xp = backend.array_module(x)
    if approximate == "tanh":
        t = factor
        x2 = x * x
        du = x2 * (3 * 0.044715)
        du += 1.0
        du *= _SQRT_2_OVER_PI
        grad = xp.multiply(t, t, out=out)
        xp.subtract(1.0, grad, out=grad)
        grad *= du
        grad *= x
        grad += t
        grad += 1.0
        grad *= 0.5
    else:
        grad = xp.multiply(x, x, out=out)
        grad *= -0.5
        xp.exp(grad, out=grad)
        grad *= x
        grad *= _INV_SQRT_2PI
        grad += factor
    grad *= g
    return grad


@primitive("silu", save=True)
def _silu(xp, x):
    return x * backend.sigmoid(xp, x)


@_silu.defvjp
def _silu_vjp(ctx, g):
    (x,) = ctx.saved
    s = sigmoid(x)
    return g * (s * (x * (1.0 - s) + 1.0))


_silu.defjvp(jvp_from_vjp(_silu_vjp))


@primitive("softplus", save=True)
def _softplus(xp, x, beta, threshold):
    scaled = x * beta
    soft = xp.logaddexp(0, scaled) / beta if beta != 1 else xp.logaddexp(0, x)
    return xp.where(scaled > threshold, x, soft).astype(x.dtype, copy=False)


@_softplus.defvjp
def _softplus_vjp(ctx, g):
    (x,) = ctx.saved
    beta, threshold = ctx.args
    linear = x._data * beta > threshold
    return select(g * sigmoid(x * beta), linear, keep=False) + select(g, linear)


@_softplus.defjvp
def _softplus_jvp(ctx, tangent):
    # sigmoid(beta x) dx, and dx where beta x > threshold (the linear part); Tensor ops only (vmap-batched inputs)
    (x,) = ctx.saved
    beta, threshold = ctx.args
    scaled = x * beta
    linear = (scaled > threshold).to(ctx.out.dtype)
    return tangent * (linear + (1.0 - linear) * sigmoid(scaled))


@primitive("clamp", save=True)
def _clamp(xp, x, lo, hi):
    return xp.clip(x, lo, hi)


@_clamp.defvjp
def _clamp_vjp(ctx, g):
    x = ctx.saved[0]._data
    lo, hi = ctx.args
    inside = True
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = inside & (x <= hi)
    return select(g, inside)


_clamp.defjvp(jvp_from_vjp(_clamp_vjp))


@primitive("hardtanh", save=True)
def _hardtanh(xp, x, lo, hi):
    return xp.clip(x, lo, hi)


@_hardtanh.defvjp
def _hardtanh_vjp(ctx, g):
    # clamp's value with PyTorch's hardtanh gradient: open bounds, 0 at min_val and max_val
    x = ctx.saved[0]._data
    lo, hi = ctx.args
    return select(g, (x > lo) & (x < hi))


_hardtanh.defjvp(jvp_from_vjp(_hardtanh_vjp))


def hardtanh(x: Tensor, lo: float, hi: float) -> Tensor:
    """``clamp(x, lo, hi)`` whose gradient is 0 at the bounds (``nn.functional.hardtanh``, ``relu6``)."""
    return apply1(_hardtanh, _unary_float(x), float(lo), float(hi))


def _zero_grad_primitive(name, fn):
    prim = primitive(name)(fn)
    prim.defvjp(_zero_grad_vjp)
    prim.defjvp(_zero_jvp)
    return prim


_sign = _zero_grad_primitive("sign", lambda xp, x: xp.sign(x))
_floor = _zero_grad_primitive("floor", lambda xp, x: xp.floor(x))
_ceil = _zero_grad_primitive("ceil", lambda xp, x: xp.ceil(x))
_round = _zero_grad_primitive("round", lambda xp, x, decimals: xp.round(x, decimals))
_trunc = _zero_grad_primitive("trunc", lambda xp, x: xp.trunc(x))
_floordiv = _zero_grad_primitive("floor_divide", lambda xp, a, b: xp.floor_divide(a, b))


@primitive("where")
def _where(xp, a, b, cond):
    return xp.where(cond, a, b)


@_where.defvjp
def _where_vjp(ctx, g):
    cond = ctx.args[0]
    n = ctx.next
    return (select(g, cond) if n[0] is not None else None), (select(g, cond, keep=False) if n[1] is not None else None)


_where.defjvp(jvp_from_vjp(_where_vjp))


@primitive("masked_fill")
def _masked_fill(xp, x, mask, value):
    return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)


@_masked_fill.defvjp
def _masked_fill_vjp(ctx, g):
    return select(g, ctx.args[0], keep=False)


_masked_fill.defjvp(jvp_from_vjp(_masked_fill_vjp))


@primitive("cast", save=True)
def _cast(xp, x, dtype):
    return x.astype(dtype)


@_cast.defvjp
def _cast_vjp(ctx, g):
    return to_dtype(g, ctx.saved[0]._data.dtype)


_cast.defjvp(linear_jvp(_cast))


@primitive("to_device")
def _to_device(xp, x, device, source_device):
    return backend.to_device(x, device)


@_to_device.defvjp
def _to_device_vjp(ctx, g):
    device, source_device = ctx.args
    return apply1(_to_device, g, source_device, device)


_to_device.defjvp(linear_jvp(_to_device))


@primitive("clone")
def _clone(xp, x):
    return x.copy()


@_clone.defvjp
def _clone_vjp(ctx, g):
    return g


_clone.defjvp(linear_jvp(_clone))


# ---------------------------------------------------------------------------
# public functions


def _binary(prim, scalar_prim, rscalar_prim, a, b):
    """Dispatch a binary op on (Tensor|scalar, Tensor|scalar)."""
    if type(a) is Tensor:
        if type(b) is Tensor:
            return apply2(prim, a, b)
        if is_scalar(b):
            b = scalar_value(b)
            if scalar_prim is not None:
                a = _float_for_scalar(a, b)
                return apply1(scalar_prim, a, b)
        return apply2(prim, a, as_tensor_like(b, a))
    if type(b) is Tensor:
        if is_scalar(a):
            a = scalar_value(a)
            if rscalar_prim is not None:
                b = _float_for_scalar(b, a)
                return apply1(rscalar_prim, b, a)
        return apply2(prim, as_tensor_like(a, b), b)
    raise TypeError(f"{prim.name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")


def _float_for_scalar(t: Tensor, c) -> Tensor:
    """An integer tensor meeting a float scalar becomes the default float dtype (as in PyTorch)."""
    if type(c) is float and t._data.dtype.kind != "f":
        return to_dtype(t, get_default_dtype())
    return t


@op(method=True)
def add(a, b, alpha=1):
    """Add ``alpha * b`` to ``a``, elementwise with broadcasting: ``a + alpha * b``.

    Either operand may be a Python scalar, which is weak (NEP 50): a float32
    tensor plus ``0.5`` stays float32, and an integer tensor meeting a float
    scalar becomes the default float dtype, as in PyTorch. Two tensors of
    different float dtypes are an error rather than a silent upcast. The
    gradient is ``g`` for ``a`` and ``alpha * g`` for ``b``, each summed back to
    its operand's shape. Also the ``+`` operator.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.
        alpha: the multiplier of ``b`` (default 1).

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Raises:
        ShapeError: the shapes do not broadcast.
        DTypeError: two tensors of different float dtypes.

    Examples:
        >>> cr.add(cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0]), alpha=2)
        tensor([21., 42.])
        >>> cr.tensor([1, 2]) + 0.5
        tensor([1.5000, 2.5000])
        >>> (cr.ones(2, 1) + cr.ones(3)).shape
        (2, 3)
    """
    if alpha != 1:
        b = b * alpha if is_scalar(b) else mul(b, alpha)
    return _binary(_add, _adds, _adds, a, b)


@op(aliases=("subtract",), method=True)
def sub(a, b, alpha=1):
    """Subtract ``alpha * b`` from ``a``, elementwise with broadcasting: ``a - alpha * b``.

    Scalars and dtypes follow ``chainrule.add``. The gradient is ``g`` for ``a``
    and ``-alpha * g`` for ``b``. Also the ``-`` operator and
    ``chainrule.subtract``.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.
        alpha: the multiplier of ``b`` (default 1).

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.sub(cr.tensor([10.0, 20.0]), cr.tensor([1.0, 2.0]))
        tensor([ 9., 18.])
        >>> cr.sub(cr.tensor([10.0, 20.0]), 1.0, alpha=3)
        tensor([ 7., 17.])
        >>> 1 - cr.tensor([0.25, 1.0])
        tensor([0.7500, 0.0000])
    """
    if alpha != 1:
        b = b * alpha if is_scalar(b) else mul(b, alpha)
    if type(a) is Tensor and is_scalar(b):
        return apply1(_adds, _float_for_scalar(a, scalar_value(b)), -scalar_value(b))
    return _binary(_sub, None, _rsubs, a, b)


@op(aliases=("multiply",), method=True)
def mul(a, b):
    """Multiply ``a`` by ``b``, elementwise with broadcasting.

    Scalars and dtypes follow ``chainrule.add``. The gradient is ``g * b`` for
    ``a`` and ``g * a`` for ``b`` (each operand is saved only when the other
    needs a gradient). Also the ``*`` operator and ``chainrule.multiply``.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.mul(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([2.0, 2.0, 0.5]))
        tensor([2.0000, 4.0000, 1.5000])
        >>> cr.mul(cr.tensor([[1.0], [2.0]]), cr.tensor([1.0, 10.0]))
        tensor([[ 1., 10.],
                [ 2., 20.]])
    """
    return _binary(_mul, _muls, _muls, a, b)


@op(aliases=("divide",), method=True)
def div(a, b, rounding_mode=None):
    """Divide ``a`` by ``b``, elementwise with broadcasting.

    With ``rounding_mode=None`` this is true division: integer tensors are
    converted to the default float dtype first, so ``int / int`` gives floats, as
    in PyTorch. ``'floor'`` rounds the quotient down (``chainrule.floor_divide``)
    and ``'trunc'`` rounds it toward zero; both have zero gradient. The gradient
    of true division is ``g / b`` for ``a`` and ``-g * a / b**2`` for ``b``. Also
    the ``/`` operator and ``chainrule.divide``.

    Differs from PyTorch: ``rounding_mode='trunc'`` on integer tensors returns
    the default float dtype (PyTorch keeps the integer dtype).

    Args:
        a: the dividend, a tensor of any shape ``(*)`` or a Python scalar.
        b: the divisor, a tensor broadcastable with ``a`` or a Python scalar.
        rounding_mode: None (the default: true division), ``'floor'`` or ``'trunc'``.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``: floating for true
        division; with ``'floor'``, in the operands' common dtype.

    Raises:
        ValueError: ``rounding_mode`` is not None, ``'floor'`` or ``'trunc'``.

    Examples:
        >>> a = cr.tensor([-7.0, 7.0])
        >>> cr.div(a, 2)
        tensor([-3.5000,  3.5000])
        >>> cr.div(a, 2, rounding_mode="floor"), cr.div(a, 2, rounding_mode="trunc")
        (tensor([-4.,  3.]), tensor([-3.,  3.]))
        >>> cr.div(cr.tensor([1, 2]), 4)
        tensor([0.2500, 0.5000])
        >>> cr.div(cr.tensor([-7, 7]), 2, rounding_mode="trunc")
        tensor([-3,  3])
    """
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        if _integral(a) and _integral(b):
            return _trunc_divide_integers(a, b)
        return trunc(div(a, b))
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    if type(a) is Tensor and a._data.dtype.kind != "f":
        a = to_dtype(a, get_default_dtype())
    if type(b) is Tensor and b._data.dtype.kind != "f" and type(a) is not Tensor:
        b = to_dtype(b, get_default_dtype())
    return _binary(_div, _divs, _rdivs, a, b)


def _integral(value) -> bool:
    if type(value) is Tensor:
        return value._data.dtype.kind in "iu"
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _trunc_divide_integers(a, b):
    """``a / b`` rounded toward zero, computed in integers (PyTorch keeps the integer dtype; no float rounding)."""
    quotient = floor_divide(a, b)
    # floor rounds a negative inexact quotient one further from zero than trunc does
    adjust = (quotient < 0) & (quotient * b != a)
    return quotient + adjust.to(quotient.dtype)


@op(method=True)
def pow(a, b):  # noqa: A001 - PyTorch's name
    """Raise ``a`` to the power ``b``, elementwise with broadcasting: ``a ** b``.

    Either the base or the exponent may be a Python scalar (``x ** 2`` and
    ``2 ** x`` are each one primitive). The gradient is ``g * b * a**(b - 1)``
    for the base and ``g * a**b * log(a)`` for the exponent, which is taken as 0
    where ``a == 0`` and ``b >= 0`` (PyTorch's convention; ``log(0)`` would make it
    NaN). Also the ``**`` operator.

    Args:
        a: the base, a tensor of any shape ``(*)`` or a Python scalar.
        b: the exponent, a tensor broadcastable with ``a`` or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype
        (an integer tensor to a float power gives the default float dtype).

    Examples:
        >>> cr.pow(cr.tensor([2.0, 3.0]), 2)
        tensor([4., 9.])
        >>> cr.pow(2, cr.tensor([0.0, 3.0]))
        tensor([1., 8.])
        >>> a = cr.tensor([0.0, 2.0], requires_grad=True)
        >>> e = cr.tensor([2.0, 3.0], requires_grad=True)
        >>> cr.pow(a, e).sum().backward()
        >>> a.grad, e.grad
        (tensor([ 0., 12.]), tensor([0.0000, 5.5452]))
    """
    return _binary(_pow, _pows, _rpows, a, b)


@op(method=True)
def floor_divide(a, b):
    """Divide ``a`` by ``b`` and round down, elementwise with broadcasting: ``floor(a / b)``.

    Rounds toward negative infinity (Python's ``//``, and PyTorch's since 1.13);
    integer operands give an integer result. Piecewise constant, so the gradient
    is zero everywhere. Also ``chainrule.div(a, b, rounding_mode='floor')``.

    Args:
        a: the dividend, a tensor of any shape ``(*)`` or a Python scalar.
        b: the divisor, a tensor broadcastable with ``a`` or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.floor_divide(cr.tensor([-7, 7]), 2)
        tensor([-4,  3])
        >>> cr.floor_divide(cr.tensor([7.5]), cr.tensor([2.0]))
        tensor([3.])
    """
    if type(a) is not Tensor:
        a = as_tensor_like(a, b)
    if type(b) is not Tensor:
        b = as_tensor_like(b, a)
    return apply2(_floordiv, a, b)


@op(method=True)
def remainder(a, b):
    """The remainder of ``a / b``, elementwise with broadcasting: ``a - floor(a / b) * b``.

    The result has the sign of the divisor ``b``, like Python's ``%``. The
    gradient is ``g`` for ``a`` and ``-g * floor(a / b)`` for ``b``. Also the
    ``%`` operator.

    ``chainrule.fmod`` is the remainder with the dividend's sign instead.

    Args:
        a: the dividend, a tensor of any shape ``(*)`` or a Python scalar.
        b: the divisor, a tensor broadcastable with ``a`` or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.remainder(cr.tensor([-7, 7]), 3)
        tensor([2, 1])
        >>> cr.remainder(cr.tensor([5.5, -0.5]), 2.0)
        tensor([1.5000, 1.5000])
    """
    if type(a) is not Tensor:
        a = as_tensor_like(a, b)
    if type(b) is not Tensor:
        b = as_tensor_like(b, a)
    return apply2(_remainder, a, b)


@op(method=True)
def fmod(a, b):
    """The remainder of ``a / b`` with the sign of the dividend ``a``, elementwise: ``a - trunc(a / b) * b``.

    C's ``fmod`` (and PyTorch's): ``fmod(-7, 3)`` is -1 where ``remainder(-7, 3)``
    is 2. The gradient is ``g`` for ``a`` and ``-g * trunc(a / b)`` for ``b``.
    An integer ``a`` with a float ``b`` gives a float result.

    Args:
        a: the dividend, a tensor of any shape ``(*)`` or a Python scalar.
        b: the divisor, a tensor broadcastable with ``a`` or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.fmod(cr.tensor([-7, 7]), 3)
        tensor([-1,  1])
        >>> cr.fmod(cr.tensor([5.5, -0.5]), 2.0)
        tensor([ 1.5000, -0.5000])
    """
    if type(a) is not Tensor:
        a = as_tensor_like(a, b)
    if type(b) is not Tensor:
        b = as_tensor_like(b, a)
    return apply2(_fmod, a, b)


@op(method=True)
def maximum(a, b):
    """The larger of ``a`` and ``b``, elementwise with broadcasting.

    The gradient goes to the larger input; on ties each input gets half of it,
    as in PyTorch.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.maximum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0]))
        tensor([3., 5.])
        >>> a = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> cr.maximum(a, cr.tensor([2.0, 2.0])).sum().backward()
        >>> a.grad
        tensor([0.0000, 0.5000])
    """
    return _binary(_maximum, None, None, a, b)


@op(method=True)
def minimum(a, b):
    """The smaller of ``a`` and ``b``, elementwise with broadcasting.

    The gradient goes to the smaller input; on ties each input gets half of it,
    as in PyTorch.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A tensor of the broadcast shape of ``a`` and ``b``, in their common dtype.

    Examples:
        >>> cr.minimum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0]))
        tensor([1., 2.])
        >>> cr.minimum(cr.tensor([[1.0], [4.0]]), cr.tensor([2.0, 3.0]))
        tensor([[1., 1.],
                [2., 3.]])
    """
    return _binary(_minimum, None, None, a, b)


def _unary(prim, x, *args):
    if type(x) is not Tensor:
        raise TypeError(f"{prim.name}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        x = to_dtype(x, get_default_dtype())
    return apply1(prim, x, *args)


@op(aliases=("negative",), method=True, inplace=True)
def neg(x):
    """Negate ``x``, elementwise: ``-x``.

    Also the unary ``-`` operator and ``chainrule.negative``.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.neg(cr.tensor([1.0, -2.0]))
        tensor([-1.,  2.])
        >>> -cr.tensor([3, -4])
        tensor([-3,  4])
    """
    return apply1(_neg, x)


@op(aliases=("absolute",), method=True, inplace=True)
def abs(x):  # noqa: A001
    """The absolute value ``|x|``, elementwise.

    The gradient is ``g * sign(x)``, so 0 at ``x == 0`` (PyTorch's choice too).
    Also ``chainrule.absolute``.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.abs(cr.tensor([-1.5, 0.0, 2.0]))
        tensor([1.5000, 0.0000, 2.0000])
        >>> x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> cr.abs(x).sum().backward()
        >>> x.grad
        tensor([-1.,  0.,  1.])
    """
    return apply1(_abs, x)


@op(method=True, inplace=True)
def exp(x):
    """The exponential ``e ** x``, elementwise.

    The gradient is ``g * exp(x)``, from the saved output.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with positive values.

    Examples:
        >>> cr.exp(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0.3679, 1.0000, 7.3891])
        >>> cr.exp(cr.tensor([0, 1]))
        tensor([1.0000, 2.7183])
    """
    return _unary(_exp, x)


@op(method=True)
def expm1(x):
    """``exp(x) - 1``, elementwise, accurate for small ``|x|``.

    Computing ``exp(x) - 1`` directly loses the digits of a small ``x`` to
    rounding; this does not. The gradient is ``g * (expm1(x) + 1)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.expm1(cr.tensor([0.0, 1.0]))
        tensor([0.0000, 1.7183])
        >>> cr.expm1(cr.tensor([1e-10])).item() > 0
        True
    """
    return _unary(_expm1, x)


@op(method=True, inplace=True)
def log(x):
    """The natural logarithm, elementwise.

    ``log(0)`` is ``-inf`` and a negative input gives NaN (NumPy warns). The
    gradient is ``g / x``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.log(cr.tensor([1.0, 100.0]))
        tensor([0.0000, 4.6052])
    """
    return _unary(_log, x)


@op(method=True)
def log1p(x):
    """``log(1 + x)``, elementwise, accurate for small ``|x|``.

    Forming ``1 + x`` first rounds a small ``x`` away; this does not. The
    gradient is ``g / (1 + x)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.log1p(cr.tensor([0.0, 1.0]))
        tensor([0.0000, 0.6931])
        >>> cr.log1p(cr.tensor([1e-10])).item() > 0
        True
    """
    return _unary(_log1p, x)


@op(method=True, inplace=True)
def sqrt(x):
    """The square root, elementwise.

    A negative input gives NaN (NumPy warns). The gradient is
    ``g / (2 * sqrt(x))``, infinite at 0.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.sqrt(cr.tensor([0.0, 4.0, 2.0]))
        tensor([0.0000, 2.0000, 1.4142])
    """
    return _unary(_sqrt, x)


@op(method=True)
def rsqrt(x):
    """The reciprocal square root ``1 / sqrt(x)``, elementwise.

    Computed as ``x ** -0.5``; its gradient is ``-0.5 * g * x ** -1.5``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.rsqrt(cr.tensor([4.0, 0.25]))
        tensor([0.5000, 2.0000])
    """
    return apply1(_pows, _unary_float(x), -0.5)


def _unary_float(x):
    return x if x._data.dtype.kind == "f" else to_dtype(x, get_default_dtype())


@op(method=True)
def sin(x):
    """The sine (of ``x`` in radians), elementwise.

    The gradient is ``g * cos(x)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with values in [-1, 1].

    Examples:
        >>> cr.sin(cr.tensor([0.0, np.pi / 2]))
        tensor([0., 1.])
    """
    return _unary(_sin, x)


@op(method=True)
def cos(x):
    """The cosine (of ``x`` in radians), elementwise.

    The gradient is ``-g * sin(x)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with values in [-1, 1].

    Examples:
        >>> cr.cos(cr.tensor([0.0, np.pi]))
        tensor([ 1., -1.])
    """
    return _unary(_cos, x)


@op(method=True, inplace=True)
def tanh(x):
    """The hyperbolic tangent, elementwise.

    The gradient is ``g * (1 - tanh(x)**2)``, from the saved output.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with values in [-1, 1].

    Examples:
        >>> cr.tanh(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.7616,  0.0000,  0.7616])
    """
    return _unary(_tanh, x)


@op(method=True, inplace=True)
def sigmoid(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Computed without overflow for large ``|x|``: ``exp(-x)`` is clamped below
    the dtype's overflow, so below ``x = -88`` (float32) the result stays at
    about 6e-39 instead of falling further toward 0. The gradient is
    ``g * s * (1 - s)`` with ``s`` the saved output.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with values in [0, 1].

    Examples:
        >>> cr.sigmoid(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([0.2689, 0.5000, 0.7311])
        >>> x = cr.tensor([0.0], requires_grad=True)
        >>> cr.sigmoid(x).sum().backward()
        >>> x.grad
        tensor([0.2500])
    """
    return _unary(_sigmoid, x)


@op(method=True)
def erf(x):
    """The Gauss error function ``erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t**2) dt``, elementwise.

    The gradient is ``g * 2/sqrt(pi) * exp(-x**2)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with values in [-1, 1].

    Examples:
        >>> cr.erf(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.8427,  0.0000,  0.8427])
    """
    return _unary(_erf, x)


@op(method=True, inplace=True)
def relu(x):
    """The rectified linear unit ``max(x, 0)``, elementwise.

    The gradient passes where the output is positive, so the subgradient at 0
    is 0, as in PyTorch.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.relu(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
        >>> x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> cr.relu(x).sum().backward()
        >>> x.grad
        tensor([0., 0., 1.])
    """
    return apply1(_relu, x)


@op(method=True)
def leaky_relu(x, negative_slope=0.01):
    """The leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``, elementwise.

    At 0 the gradient is ``negative_slope`` (0 counts as negative, as in PyTorch).

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.
        negative_slope: the slope for non-positive inputs (default 0.01).

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.leaky_relu(cr.tensor([-2.0, 0.0, 3.0]), negative_slope=0.1)
        tensor([-0.2000,  0.0000,  3.0000])
        >>> x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> cr.leaky_relu(x, 0.1).sum().backward()
        >>> x.grad
        tensor([0.1000, 0.1000, 1.0000])
    """
    return _unary(_leaky_relu, x, float(negative_slope))


@op()
def elu(x, alpha=1.0):
    """The exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``, elementwise.

    From Clevert et al., 2015. At 0 the gradient is ``alpha`` (0 counts as
    negative, as in PyTorch).

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.
        alpha: the output tends to ``-alpha`` for large negative inputs (default 1.0).

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.elu(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.6321,  0.0000,  1.0000])
        >>> cr.elu(cr.tensor([-100.0]), alpha=2.0)
        tensor([-2.])
    """
    return _unary(_elu, x, float(alpha))


@op()
def gelu(x, approximate="none"):
    """The Gaussian error linear unit ``x * Phi(x)``, with ``Phi`` the standard normal CDF, elementwise.

    From Hendrycks & Gimpel, 2016. ``approximate='none'`` computes
    ``Phi(x) = (1 + erf(x / sqrt(2))) / 2`` exactly; ``approximate='tanh'``
    uses ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``, as BERT
    and GPT-2 did. Smooth everywhere.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.
        approximate: ``'none'`` (the default, exact) or ``'tanh'``.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Raises:
        ValueError: ``approximate`` is neither ``'none'`` nor ``'tanh'``.

    Examples:
        >>> cr.gelu(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
        >>> cr.gelu(cr.tensor([-1.0, 0.0, 1.0]), approximate="tanh")
        tensor([-0.1588,  0.0000,  0.8412])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary(_gelu, x, approximate)


@op()
def silu(x):
    """The sigmoid linear unit ``x * sigmoid(x)`` (also called swish), elementwise.

    The gradient is ``g * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.silu(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.2689,  0.0000,  0.7311])
    """
    return _unary(_silu, x)


@op()
def softplus(x, beta=1.0, threshold=20.0):
    """The softplus ``log(1 + exp(beta * x)) / beta``, a smooth ReLU, elementwise.

    Where ``beta * x > threshold`` it returns ``x`` itself (and passes the
    gradient unchanged), as PyTorch does, since the two agree to float precision
    there. Elsewhere the gradient is ``g * sigmoid(beta * x)``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.
        beta: the sharpness (default 1.0); larger values approach ``relu``.
        threshold: where ``beta * x`` exceeds it the function is linear (default 20.0).

    Returns:
        A tensor of ``x``'s shape, in its float dtype, with positive values.

    Examples:
        >>> cr.softplus(cr.tensor([-1.0, 0.0, 30.0]))
        tensor([ 0.3133,  0.6931, 30.0000])
        >>> cr.softplus(cr.tensor([-1.0, 0.0, 1.0]), beta=2.0)
        tensor([0.0635, 0.3466, 1.0635])
    """
    return _unary(_softplus, x, float(beta), float(threshold))


@op(method=True)
def square(x):
    """The square ``x * x``, elementwise.

    The gradient is ``2 * g * x``. An integer tensor stays integer (as in PyTorch).

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.square(cr.tensor([-2.0, 0.5]))
        tensor([4.0000, 0.2500])
        >>> cr.square(cr.tensor([3]))
        tensor([9])
    """
    return apply1(_pows, x, 2)


@op(method=True)
def reciprocal(x):
    """The reciprocal ``1 / x``, elementwise.

    ``1 / 0`` is ``inf``. The gradient is ``-g / x**2``.

    Args:
        x: the input tensor, any shape ``(*)``; an integer or bool tensor is
            first converted to the default float dtype.

    Returns:
        A tensor of ``x``'s shape, in its float dtype.

    Examples:
        >>> cr.reciprocal(cr.tensor([2.0, -0.5]))
        tensor([ 0.5000, -2.0000])
        >>> cr.reciprocal(cr.tensor([4]))
        tensor([0.2500])
    """
    return apply1(_rdivs, _unary_float(x), 1.0)


@op(aliases=("clip",), method=True, methods=("clip",), inplace=("clamp_", "clip_"))
def clamp(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Limit ``x`` to ``[min, max]``, elementwise: ``minimum(maximum(x, min), max)``.

    Either bound may be left out (None), not both. With scalar bounds the
    gradient passes where ``min <= x <= max``, ends included, and is 0 outside,
    as in PyTorch. An integer ``x`` with a float bound becomes the default float
    dtype. Also ``chainrule.clip``.

    Bounds given as tensors broadcast against ``x`` and get gradients too, with
    PyTorch's rule: where ``min <= x <= max`` (ties included) all of it goes to
    ``x``; a bound gets it where it is the value chosen (``min`` where
    ``x < min < max``, ``max`` where ``x > max`` or ``max < min``, in which
    case the result is ``max``).

    Args:
        x: the input tensor, any shape ``(*)``.
        min: the lower bound: a Python scalar, a tensor broadcastable with ``x``,
            or None (the default: no lower bound).
        max: the upper bound: a Python scalar, a tensor broadcastable with ``x``,
            or None (the default: no upper bound).

    Returns:
        A tensor of ``x``'s shape (broadcast with tensor bounds), in ``x``'s dtype.

    Raises:
        ValueError: both ``min`` and ``max`` are None.

    Examples:
        >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
        tensor([0.0000, 0.5000, 1.0000])
        >>> x = cr.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
        >>> cr.clamp(x, max=1.0).sum().backward()
        >>> x.grad
        tensor([1., 1., 1., 0.])
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [as_tensor_like(b, x) for b in (min, max) if b is not None]
        tensors = same_dtype([x, *bounds], "clamp")
        return applyn(_clamp_tensor, tensors, (min is not None, max is not None))
    lo = None if min is None else scalar_value(min)
    hi = None if max is None else scalar_value(max)
    if x._data.dtype.kind != "f" and (type(lo) is float or type(hi) is float):
        x = to_dtype(x, get_default_dtype())
    return apply1(_clamp, x, lo, hi)


clip = clamp


@op(method=True)
def sign(x):
    """The sign of ``x``, elementwise: -1, 0 or 1.

    ``sign(0)`` is 0. The gradient is zero everywhere.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.sign(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.,  0.,  1.])
    """
    return apply1(_sign, x)


@op(method=True)
def floor(x):
    """Round ``x`` down to the nearest integer, elementwise.

    The gradient is zero everywhere (as in PyTorch). An integer tensor is
    returned unchanged in value and dtype.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.floor(cr.tensor([-1.5, 1.5, 2.0]))
        tensor([-2.,  1.,  2.])
    """
    return apply1(_floor, x)


@op(method=True)
def ceil(x):
    """Round ``x`` up to the nearest integer, elementwise.

    The gradient is zero everywhere (as in PyTorch).

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.ceil(cr.tensor([-1.5, 1.5, 2.0]))
        tensor([-1.,  2.,  2.])
    """
    return apply1(_ceil, x)


@op(method=True)
def round(x, decimals=0):  # noqa: A001
    """Round ``x`` to ``decimals`` decimal places, elementwise; halves go to the even neighbour.

    Ties round to even (``round(0.5) == 0``, ``round(1.5) == 2``), as in
    PyTorch and NumPy. The gradient is zero everywhere.

    Args:
        x: the input tensor, any shape ``(*)``.
        decimals: the number of decimal places to keep (default 0); negative
            values round to tens, hundreds, ...

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.round(cr.tensor([0.5, 1.5, 2.5, -1.7]))
        tensor([ 0.,  2.,  2., -2.])
        >>> cr.round(cr.tensor([1.2345]), decimals=2)
        tensor([1.2300])
    """
    return apply1(_round, x, decimals)


@op(method=True)
def trunc(x):
    """Round ``x`` toward zero, elementwise (drop the fractional part).

    The gradient is zero everywhere.

    Args:
        x: the input tensor, any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype.

    Examples:
        >>> cr.trunc(cr.tensor([-1.7, 1.7]))
        tensor([-1.,  1.])
    """
    return apply1(_trunc, x)


@op()
def where(condition, input, other):  # noqa: A002
    """Pick ``input`` where ``condition`` is true and ``other`` elsewhere, with broadcasting.

    The gradient of ``g`` goes to ``input`` where ``condition`` is true and to
    ``other`` where it is false (zero elsewhere); ``condition`` gets none. Either
    ``input`` or ``other`` may be a Python scalar (a weak scalar: a float32
    tensor stays float32); when both are, the result is a constant tensor in the
    default float dtype for floats.

    Args:
        condition: a bool tensor, array or nested list broadcastable with
            ``input`` and ``other``; other dtypes are converted to bool (non-zero is true).
        input: the values where ``condition`` is true: a tensor or a Python scalar.
        other: the values where ``condition`` is false: a tensor or a Python scalar.

    Returns:
        A tensor of the broadcast shape of the three arguments, in the common
        dtype of ``input`` and ``other``.

    Raises:
        DTypeError: ``input`` and ``other`` are tensors of different float dtypes.

    Examples:
        >>> cond = cr.tensor([True, False, True])
        >>> cr.where(cond, cr.tensor([1.0, 2.0, 3.0]), cr.tensor([-1.0, -2.0, -3.0]))
        tensor([ 1., -2.,  3.])
        >>> x = cr.tensor([-1.0, 2.0])
        >>> cr.where(x > 0, x, 0.0)
        tensor([0., 2.])
    """
    cond = condition._data if isinstance(condition, Tensor) else condition
    cond = cond if hasattr(cond, "dtype") else np.asarray(cond)  # (a vmap-batched raw array stays as it is)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a_t, b_t = isinstance(input, Tensor), isinstance(other, Tensor)
    if a_t and b_t:
        return apply2(_where, input, other, cond)
    if a_t:
        return apply1(_masked_fill, _float_for_scalar(input, scalar_value(other)), ~cond, scalar_value(other))
    if b_t:
        return apply1(_masked_fill, _float_for_scalar(other, scalar_value(input)), cond, scalar_value(input))
    out = np.where(cond, input, other)
    if out.dtype == np.float64:
        out = out.astype(get_default_dtype())
    return _wrap(out)


@op(method=True)
def masked_fill(x, mask, value):
    """``x`` with ``value`` written where ``mask`` is true (a new tensor; ``x`` is unchanged).

    The gradient passes to ``x`` where ``mask`` is false and is 0 where it is
    true. ``Tensor.masked_fill_`` is the in-place form. Filling an attention
    score matrix with ``-inf`` before a softmax is the usual use.

    Args:
        x: the input tensor, any shape ``(*)``.
        mask: a bool tensor or array broadcastable to ``x``'s shape.
        value: the fill value: a Python scalar or a 0-d tensor (which is cast to
            ``x``'s dtype and receives the gradient of the filled places).

    Returns:
        A tensor of ``x``'s shape and dtype (an integer ``x`` with a float
        ``value`` gives the default float dtype).

    Raises:
        DTypeError: ``mask`` is not bool.
        ValueError: ``value`` is a tensor with dimensions.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.masked_fill(x, cr.tensor([[False, True], [False, False]]), -1.0)
        tensor([[ 1., -1.],
                [ 3.,  4.]])
        >>> cr.masked_fill(x, cr.tensor([True, False]), 0.0)
        tensor([[0., 2.],
                [0., 4.]])
    """
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise ValueError(f"masked_fill: value must be a scalar or 0-d tensor, got shape {value.shape}")
        return where(mask, value.to(x.dtype) if value.dtype != x.dtype else value, x)
    m = mask._data if isinstance(mask, Tensor) else mask if hasattr(mask, "dtype") else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"masked_fill: mask must be bool, got {m.dtype}")
    return apply1(_masked_fill, _float_for_scalar(x, scalar_value(value)), m, scalar_value(value))


def to_dtype(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; differentiable between float dtypes."""
    dtype = backend.as_dtype(dtype)
    if x._data.dtype == dtype:
        return x
    if dtype.kind == "f" and x._data.dtype.kind == "f":
        return apply1(_cast, x, dtype)
    return _wrap(x._data.astype(dtype))


@op(method=True)
def clone(x: Tensor, memory_format=None) -> Tensor:
    """A copy of ``x`` with its own memory, recorded in the graph.

    Unlike ``detach()``, the copy stays connected: the gradient passes through
    unchanged. Changing the copy in place leaves ``x`` untouched.

    Args:
        x: the tensor to copy, any shape ``(*)``.
        memory_format: PyTorch's ``memory_format`` (``chainrule.preserve_format`` ...), accepted and ignored:
            the copy is always C-contiguous.

    Returns:
        A new tensor of ``x``'s shape, dtype and device.

    Examples:
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = cr.clone(x)
        >>> y
        tensor([1., 2.], grad_fn=<clone>)
        >>> (y * 3).sum().backward()
        >>> x.grad
        tensor([3., 3.])
    """
    return apply1(_clone, x)


def same_dtype(tensors, op):
    """The tensors in one dtype, promoted as a binary op would promote them (cat, stack, clamp, einsum)."""
    first = tensors[0]
    out = []
    for t in tensors:
        if t._data.dtype != first._data.dtype:
            a, b = promote_pair(op, first, t)
            target = a.dtype
            if first._data.dtype != target:
                # an integer first tensor meets a float: everything goes to the float dtype
                return same_dtype([to_dtype(u, target) for u in tensors], op)
            t = to_dtype(t, target)
        out.append(t)
    return out
