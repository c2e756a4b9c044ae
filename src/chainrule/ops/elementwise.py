"""Elementwise primitives and their vector-Jacobian products.

Binary ops broadcast as NumPy does; the engine sums each gradient back to its
input's shape, so no rule here thinks about broadcasting.

Subgradients at the kinks (documented choices, the same as PyTorch's):
relu'(0) = 0, leaky_relu'(0) = negative_slope, abs'(0) = sign(0) = 0,
clamp passes the gradient where min <= x <= max (ends included),
maximum/minimum split the gradient equally on ties.
floor, ceil, round, sign, trunc and floor_divide have zero gradient everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.graph import apply1, apply2, primitive
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


def select(x: Tensor, mask, keep: bool = True) -> Tensor:
    """``x`` where the constant boolean array ``mask`` is ``keep``, zero elsewhere."""
    return apply1(_select_fwd, x, mask, keep)


def _zero_grad_vjp(ctx, g):
    xp = backend.array_module(g.data)
    return _wrap(xp.zeros(ctx.saved[0].data.shape if ctx.saved else g.data.shape, dtype=g.data.dtype))


# ---------------------------------------------------------------------------
# binary ops between tensors


@primitive("add")
def _add(xp, a, b):
    return a + b


@_add.defvjp
def _add_vjp(ctx, g):
    return g, g


@primitive("sub")
def _sub(xp, a, b):
    return a - b


@_sub.defvjp
def _sub_vjp(ctx, g):
    return g, (-g if ctx.next[1] is not None else None)


@primitive("mul", save="cross")
def _mul(xp, a, b):
    return a * b


@_mul.defvjp
def _mul_vjp(ctx, g):
    a, b = ctx.saved
    n = ctx.next
    return (g * b if n[0] is not None else None), (g * a if n[1] is not None else None)


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
        zero = (a.data == 0) & (b.data >= 0)
        safe_log = log(where(_wrap(zero), 1.0, a))
        gb = select(g * ctx.output() * safe_log, zero, keep=False)
    return ga, gb


@primitive("maximum", save=True)
def _maximum(xp, a, b):
    return xp.maximum(a, b)


@_maximum.defvjp
def _maximum_vjp(ctx, g):
    a, b = ctx.saved
    return _split_tie(g, a.data > b.data, a.data == b.data, ctx)


@primitive("minimum", save=True)
def _minimum(xp, a, b):
    return xp.minimum(a, b)


@_minimum.defvjp
def _minimum_vjp(ctx, g):
    a, b = ctx.saved
    return _split_tie(g, a.data < b.data, a.data == b.data, ctx)


def _split_tie(g, wins, ties, ctx):
    weight = _wrap((wins + 0.5 * ties).astype(g.data.dtype))
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


# ---------------------------------------------------------------------------
# a tensor with a Python scalar (the scalar is weak: float32 stays float32)


@primitive("add_scalar")
def _adds(xp, x, c):
    return x + c


@_adds.defvjp
def _adds_vjp(ctx, g):
    return g


@primitive("rsub_scalar")
def _rsubs(xp, x, c):
    return c - x


@_rsubs.defvjp
def _rsubs_vjp(ctx, g):
    return -g


@primitive("mul_scalar")
def _muls(xp, x, c):
    return x * c


@_muls.defvjp
def _muls_vjp(ctx, g):
    return g * ctx.args[0]


@primitive("div_scalar")
def _divs(xp, x, c):
    return x / c


@_divs.defvjp
def _divs_vjp(ctx, g):
    return g / ctx.args[0]


@primitive("rdiv_scalar", save=True, save_output=True)
def _rdivs(xp, x, c):
    return c / x


@_rdivs.defvjp
def _rdivs_vjp(ctx, g):
    (x,) = ctx.saved
    return -(g * ctx.output()) / x


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


@primitive("rpow_scalar", save_output=True)
def _rpows(xp, x, c):
    return c**x


@_rpows.defvjp
def _rpows_vjp(ctx, g):
    c = ctx.args[0]
    if c == 0:
        return g * 0.0
    return g * ctx.output() * math.log(c)


# ---------------------------------------------------------------------------
# unary


@primitive("neg")
def _neg(xp, x):
    return -x


@_neg.defvjp
def _neg_vjp(ctx, g):
    return -g


@primitive("abs", save=True)
def _abs(xp, x):
    return xp.abs(x)


@_abs.defvjp
def _abs_vjp(ctx, g):
    return g * sign(ctx.saved[0])


@primitive("exp", save_output=True)
def _exp(xp, x):
    return xp.exp(x)


@_exp.defvjp
def _exp_vjp(ctx, g):
    return g * ctx.output()


@primitive("expm1", save_output=True)
def _expm1(xp, x):
    return xp.expm1(x)


@_expm1.defvjp
def _expm1_vjp(ctx, g):
    return g * (ctx.output() + 1.0)


@primitive("log", save=True)
def _log(xp, x):
    return xp.log(x)


@_log.defvjp
def _log_vjp(ctx, g):
    return g / ctx.saved[0]


@primitive("log1p", save=True)
def _log1p(xp, x):
    return xp.log1p(x)


@_log1p.defvjp
def _log1p_vjp(ctx, g):
    return g / (ctx.saved[0] + 1.0)


@primitive("sqrt", save_output=True)
def _sqrt(xp, x):
    return xp.sqrt(x)


@_sqrt.defvjp
def _sqrt_vjp(ctx, g):
    return g / (ctx.output() * 2.0)


@primitive("sin", save=True)
def _sin(xp, x):
    return xp.sin(x)


@_sin.defvjp
def _sin_vjp(ctx, g):
    return g * cos(ctx.saved[0])


@primitive("cos", save=True)
def _cos(xp, x):
    return xp.cos(x)


@_cos.defvjp
def _cos_vjp(ctx, g):
    return -(g * sin(ctx.saved[0]))


@primitive("tanh", save_output=True)
def _tanh(xp, x):
    return xp.tanh(x)


@_tanh.defvjp
def _tanh_vjp(ctx, g):
    y = ctx.output()
    return g * (1.0 - y * y)


@primitive("sigmoid", save_output=True)
def _sigmoid(xp, x):
    return backend.sigmoid(xp, x)


@_sigmoid.defvjp
def _sigmoid_vjp(ctx, g):
    y = ctx.output()
    return g * (y * (1.0 - y))


@primitive("erf", save=True)
def _erf(xp, x):
    return backend.erf(xp, x)


@_erf.defvjp
def _erf_vjp(ctx, g):
    (x,) = ctx.saved
    return g * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


@primitive("relu", save_output=True)
def _relu(xp, x):
    return backend.relu(xp, x)


@_relu.defvjp
def _relu_vjp(ctx, g):
    if not ctx.create_graph:
        return _wrap(backend.select_positive(backend.array_module(g.data), g.data, ctx.out))
    return select(g, ctx.out > 0)


@primitive("leaky_relu", save=True)
def _leaky_relu(xp, x, slope):
    return xp.where(x > 0, x, x * slope)


@_leaky_relu.defvjp
def _leaky_relu_vjp(ctx, g):
    positive = ctx.saved[0].data > 0
    return select(g, positive) + select(g, positive, keep=False) * ctx.args[0]


@primitive("elu", save=True)
def _elu(xp, x, alpha):
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


@_elu.defvjp
def _elu_vjp(ctx, g):
    (x,) = ctx.saved
    positive = x.data > 0
    negative_part = exp(select(x, positive, keep=False)) * ctx.args[0]
    return select(g, positive) + select(g * negative_part, positive, keep=False)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@primitive("gelu", save=True, extra=True)
def _gelu(xp, x, approximate):
    """Returns (out, factor): factor is Phi(x) (exact) or tanh(u) (tanh form), kept for the first-order vjp."""
    if approximate == "tanh":
        inner = x * x
        inner *= 0.044715
        inner += 1.0
        inner *= x
        inner *= _SQRT_2_OVER_PI
        t = xp.tanh(inner)
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
        return _wrap(_gelu_grad(x.data, g.data, ctx.extra, ctx.args[0]))
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


def _gelu_grad(x, g, factor, approximate):
    """g * GELU'(x) on raw arrays, from the factor the forward kept."""
    xp = backend.array_module(x)
    if approximate == "tanh":
        t = factor
        x2 = x * x
        du = x2 * (3 * 0.044715)
        du += 1.0
        du *= _SQRT_2_OVER_PI
        grad = t * t
        xp.subtract(1.0, grad, out=grad)
        grad *= du
        grad *= x
        grad += t
        grad += 1.0
        grad *= 0.5
    else:
        grad = x * x
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


@primitive("softplus", save=True)
def _softplus(xp, x, beta, threshold):
    scaled = x * beta
    soft = xp.logaddexp(0, scaled) / beta if beta != 1 else xp.logaddexp(0, x)
    return xp.where(scaled > threshold, x, soft).astype(x.dtype, copy=False)


@_softplus.defvjp
def _softplus_vjp(ctx, g):
    (x,) = ctx.saved
    beta, threshold = ctx.args
    linear = x.data * beta > threshold
    return select(g * sigmoid(x * beta), linear, keep=False) + select(g, linear)


@primitive("clamp", save=True)
def _clamp(xp, x, lo, hi):
    return xp.clip(x, lo, hi)


@_clamp.defvjp
def _clamp_vjp(ctx, g):
    x = ctx.saved[0].data
    lo, hi = ctx.args
    inside = True
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = inside & (x <= hi)
    return select(g, inside)


def _zero_grad_primitive(name, fn):
    prim = primitive(name)(fn)
    prim.defvjp(_zero_grad_vjp)
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


@primitive("masked_fill")
def _masked_fill(xp, x, mask, value):
    return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)


@_masked_fill.defvjp
def _masked_fill_vjp(ctx, g):
    return select(g, ctx.args[0], keep=False)


@primitive("cast", save=True)
def _cast(xp, x, dtype):
    return x.astype(dtype)


@_cast.defvjp
def _cast_vjp(ctx, g):
    return to_dtype(g, ctx.saved[0].data.dtype)


@primitive("to_device")
def _to_device(xp, x, device, source_device):
    return backend.to_device(x, device)


@_to_device.defvjp
def _to_device_vjp(ctx, g):
    device, source_device = ctx.args
    return apply1(_to_device, g, source_device, device)


@primitive("clone")
def _clone(xp, x):
    return x.copy()


@_clone.defvjp
def _clone_vjp(ctx, g):
    return g


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
    if type(c) is float and t.data.dtype.kind != "f":
        return to_dtype(t, get_default_dtype())
    return t


@op(method=True)
def add(a, b, alpha=1):
    """a + alpha * b, broadcasting."""
    if alpha != 1:
        b = b * alpha if is_scalar(b) else mul(b, alpha)
    return _binary(_add, _adds, _adds, a, b)


@op(aliases=("subtract",), method=True)
def sub(a, b, alpha=1):
    """a - alpha * b, broadcasting."""
    if alpha != 1:
        b = b * alpha if is_scalar(b) else mul(b, alpha)
    if type(a) is Tensor and is_scalar(b):
        return apply1(_adds, _float_for_scalar(a, scalar_value(b)), -scalar_value(b))
    return _binary(_sub, None, _rsubs, a, b)


@op(aliases=("multiply",), method=True)
def mul(a, b):
    return _binary(_mul, _muls, _muls, a, b)


@op(aliases=("divide",), method=True)
def div(a, b, rounding_mode=None):
    """True division (``rounding_mode=None``), or 'floor' / 'trunc' (zero gradient)."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        return trunc(div(a, b))
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    if type(a) is Tensor and a.data.dtype.kind != "f":
        a = to_dtype(a, get_default_dtype())
    if type(b) is Tensor and b.data.dtype.kind != "f" and type(a) is not Tensor:
        b = to_dtype(b, get_default_dtype())
    return _binary(_div, _divs, _rdivs, a, b)


@op(method=True)
def pow(a, b):  # noqa: A001 - PyTorch's name
    return _binary(_pow, _pows, _rpows, a, b)


@op(method=True)
def floor_divide(a, b):
    if type(a) is not Tensor:
        a = as_tensor_like(a, b)
    if type(b) is not Tensor:
        b = as_tensor_like(b, a)
    return apply2(_floordiv, a, b)


@op(aliases=("fmod",), method=True)
def remainder(a, b):
    if type(a) is not Tensor:
        a = as_tensor_like(a, b)
    if type(b) is not Tensor:
        b = as_tensor_like(b, a)
    return apply2(_remainder, a, b)


fmod = remainder


@op(method=True)
def maximum(a, b):
    """Elementwise max; on ties each input gets half the gradient."""
    return _binary(_maximum, None, None, a, b)


@op(method=True)
def minimum(a, b):
    """Elementwise min; on ties each input gets half the gradient."""
    return _binary(_minimum, None, None, a, b)


def _unary(prim, x, *args):
    if type(x) is not Tensor:
        raise TypeError(f"{prim.name}: expected a Tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        x = to_dtype(x, get_default_dtype())
    return apply1(prim, x, *args)


@op(aliases=("negative",), method=True, inplace=True)
def neg(x):
    return apply1(_neg, x)


@op(aliases=("absolute",), method=True, inplace=True)
def abs(x):  # noqa: A001
    return apply1(_abs, x)


@op(method=True, inplace=True)
def exp(x):
    return _unary(_exp, x)


@op(method=True)
def expm1(x):
    return _unary(_expm1, x)


@op(method=True, inplace=True)
def log(x):
    return _unary(_log, x)


@op(method=True)
def log1p(x):
    return _unary(_log1p, x)


@op(method=True, inplace=True)
def sqrt(x):
    return _unary(_sqrt, x)


@op(method=True)
def rsqrt(x):
    """1 / sqrt(x)."""
    return apply1(_pows, _unary_float(x), -0.5)


def _unary_float(x):
    return x if x.data.dtype.kind == "f" else to_dtype(x, get_default_dtype())


@op(method=True)
def sin(x):
    return _unary(_sin, x)


@op(method=True)
def cos(x):
    return _unary(_cos, x)


@op(method=True, inplace=True)
def tanh(x):
    return _unary(_tanh, x)


@op(method=True, inplace=True)
def sigmoid(x):
    return _unary(_sigmoid, x)


@op(method=True)
def erf(x):
    return _unary(_erf, x)


@op(method=True, inplace=True)
def relu(x):
    return apply1(_relu, x)


@op(method=True)
def leaky_relu(x, negative_slope=0.01):
    return _unary(_leaky_relu, x, float(negative_slope))


@op()
def elu(x, alpha=1.0):
    return _unary(_elu, x, float(alpha))


@op()
def gelu(x, approximate="none"):
    """Gaussian error linear unit: exact (``approximate='none'``, with erf) or 'tanh'."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _unary(_gelu, x, approximate)


@op()
def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return _unary(_silu, x)


@op()
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta; linear where beta x > threshold (as in PyTorch)."""
    return _unary(_softplus, x, float(beta), float(threshold))


@op(method=True)
def square(x):
    return apply1(_pows, x, 2)


@op(method=True)
def reciprocal(x):
    return apply1(_rdivs, _unary_float(x), 1.0)


@op(aliases=("clip",), method=True, methods=("clip",), inplace=("clamp_", "clip_"))
def clamp(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Limit x to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    lo = None if min is None else scalar_value(min)
    hi = None if max is None else scalar_value(max)
    if x.data.dtype.kind != "f" and (type(lo) is float or type(hi) is float):
        x = to_dtype(x, get_default_dtype())
    return apply1(_clamp, x, lo, hi)


clip = clamp


@op(method=True)
def sign(x):
    return apply1(_sign, x)


@op(method=True)
def floor(x):
    return apply1(_floor, x)


@op(method=True)
def ceil(x):
    return apply1(_ceil, x)


@op(method=True)
def round(x, decimals=0):  # noqa: A001
    return apply1(_round, x, decimals)


@op(method=True)
def trunc(x):
    return apply1(_trunc, x)


@op()
def where(condition, input, other):  # noqa: A002
    """``input`` where condition is true, else ``other``; either may be a Python scalar."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
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
    """x with ``value`` where ``mask`` (broadcast to x) is true."""
    if isinstance(value, Tensor):
        if value.data.ndim != 0:
            raise ValueError(f"masked_fill: value must be a scalar or 0-d tensor, got shape {value.shape}")
        return where(mask, value.to(x.dtype) if value.dtype != x.dtype else value, x)
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"masked_fill: mask must be bool, got {m.dtype}")
    return apply1(_masked_fill, _float_for_scalar(x, scalar_value(value)), m, scalar_value(value))


def to_dtype(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; differentiable between float dtypes."""
    dtype = backend.as_dtype(dtype)
    if x.data.dtype == dtype:
        return x
    if dtype.kind == "f" and x.data.dtype.kind == "f":
        return apply1(_cast, x, dtype)
    return _wrap(x.data.astype(dtype))


@op(method=True)
def clone(x: Tensor) -> Tensor:
    return apply1(_clone, x)
