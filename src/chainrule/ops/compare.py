"""Comparisons and logical ops.  They return bool tensors and have no gradient."""

from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor, _wrap
from ._util import is_scalar, scalar_value
from .registry import op


def _operand(value, like):
    if isinstance(value, Tensor):
        return value.data
    if is_scalar(value):
        return scalar_value(value)
    return array_module(like.data).asarray(value)


def _compare(name, fn):
    def compare(a, b):
        like = a if isinstance(a, Tensor) else b
        x, y = _operand(a, like), _operand(b, like)
        try:
            out = fn(x, y)
        except ValueError as exc:
            from ..errors import ShapeError  # noqa: PLC0415

            raise ShapeError(
                f"{name}: {exc} (shapes {getattr(a, 'shape', ())} and {getattr(b, 'shape', ())})"
            ) from None
        return _wrap(array_module(out).asarray(out) if not hasattr(out, "shape") else out)

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise {name}, broadcasting; a bool tensor without gradient."
    return compare


eq = op(method=True)(_compare("eq", lambda x, y: x == y))
ne = op(method=True)(_compare("ne", lambda x, y: x != y))
lt = op(method=True)(_compare("lt", lambda x, y: x < y))
le = op(method=True)(_compare("le", lambda x, y: x <= y))
gt = op(method=True)(_compare("gt", lambda x, y: x > y))
ge = op(method=True)(_compare("ge", lambda x, y: x >= y))
logical_and = op(method=True)(_compare("logical_and", lambda x, y: array_module(x).logical_and(x, y)))
logical_or = op(method=True)(_compare("logical_or", lambda x, y: array_module(x).logical_or(x, y)))
logical_xor = op(method=True)(_compare("logical_xor", lambda x, y: array_module(x).logical_xor(x, y)))
bitwise_and = op()(_compare("bitwise_and", lambda x, y: x & y))
bitwise_or = op()(_compare("bitwise_or", lambda x, y: x | y))
bitwise_xor = op()(_compare("bitwise_xor", lambda x, y: x ^ y))


@op(method=True)
def logical_not(x: Tensor) -> Tensor:
    return _wrap(array_module(x.data).logical_not(x.data))


@op()
def bitwise_not(x: Tensor) -> Tensor:
    return _wrap(~x.data)


@op(method=True)
def isnan(x: Tensor) -> Tensor:
    return _wrap(array_module(x.data).isnan(x.data))


@op(method=True)
def isinf(x: Tensor) -> Tensor:
    return _wrap(array_module(x.data).isinf(x.data))


@op(method=True)
def isfinite(x: Tensor) -> Tensor:
    return _wrap(array_module(x.data).isfinite(x.data))


@op(method=True)
def equal(a: Tensor, b: Tensor) -> bool:
    """True when a and b have the same shape and elements."""
    return a.data.shape == b.data.shape and bool((a.data == b.data).all())


@op(method=True)
def allclose(a: Tensor, b: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    xp = array_module(a.data)
    return bool(xp.allclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@op(method=True)
def isclose(a: Tensor, b: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    xp = array_module(a.data)
    return _wrap(xp.isclose(a.data, b.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@op(method=True)
def nonzero(x: Tensor, as_tuple=False):
    xp = array_module(x.data)
    idx = xp.nonzero(x.data)
    if as_tuple:
        return tuple(_wrap(i) for i in idx)
    return _wrap(xp.stack(idx, axis=1) if idx else xp.zeros((0, 0), dtype="int64"))
