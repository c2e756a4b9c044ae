"""Tensor's operators and methods, bound to the functions of the op families.

The arithmetic operators are written out (rather than routed through the
generic functions) because they are the hottest path in the library: a
tensor-with-tensor ``+`` goes straight to the primitive.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.graph import apply1, apply2
from ..autograd.mode import grad_enabled
from ..errors import DeviceError, DTypeError
from ..tensor import Tensor, _wrap
from . import compare, index, linalg, reduce, shape
from . import elementwise as ew
from .elementwise import _add, _adds, _div, _divs, _mul, _muls, _neg, _pows, _rsubs, _sub
from .registry import INPLACE, METHODS, op

_float = float
_int = int


def _is_plain_number(x):
    t = type(x)
    return t is _float or t is _int


# ---------------------------------------------------------------- arithmetic


def __add__(self, other):
    if type(other) is Tensor:
        return apply2(_add, self, other)
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_adds, self, other)
    return ew.add(self, other)


def __radd__(self, other):
    return ew.add(other, self)


def __sub__(self, other):
    if type(other) is Tensor:
        return apply2(_sub, self, other)
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_adds, self, -other)
    return ew.sub(self, other)


def __rsub__(self, other):
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_rsubs, self, other)
    return ew.sub(other, self)


def __mul__(self, other):
    if type(other) is Tensor:
        return apply2(_mul, self, other)
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_muls, self, other)
    return ew.mul(self, other)


def __rmul__(self, other):
    return ew.mul(other, self)


def __truediv__(self, other):
    if type(other) is Tensor and self.data.dtype.kind == "f" and other.data.dtype.kind == "f":
        return apply2(_div, self, other)
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_divs, self, other)
    return ew.div(self, other)


def __rtruediv__(self, other):
    return ew.div(other, self)


def __pow__(self, other):
    if _is_plain_number(other) and self.data.dtype.kind == "f":
        return apply1(_pows, self, other)
    return ew.pow(self, other)


def __rpow__(self, other):
    return ew.pow(other, self)


def __neg__(self):
    return apply1(_neg, self)


def __matmul__(self, other):
    return linalg.matmul(self, other)


def __rmatmul__(self, other):
    return linalg.matmul(ew.as_tensor_like(other, self), self)


def __floordiv__(self, other):
    return ew.floor_divide(self, other)


def __rfloordiv__(self, other):
    return ew.floor_divide(other, self)


def __mod__(self, other):
    return ew.remainder(self, other)


def __rmod__(self, other):
    return ew.remainder(other, self)


def __abs__(self):
    return ew.abs(self)


def __pos__(self):
    return self


def __invert__(self):
    if self.data.dtype == np.bool_:
        return compare.logical_not(self)
    return compare.bitwise_not(self)


# ---------------------------------------------------------------- in place


def _fast_inplace(self, op, ufunc, other):
    """``self op= other`` on the raw arrays when nothing is recorded."""
    data = self.data
    operand = other.data if type(other) is Tensor else other
    if type(other) is Tensor and type(operand) is not type(data):
        raise DeviceError(f"{op}: tensors on different devices ({self.device} and {other.device})")
    try:
        getattr(backend.array_module(data), ufunc)(data, operand, out=data)
    except TypeError as exc:
        raise DTypeError(f"{op}: cannot write the result into a {data.dtype} tensor in place ({exc})") from None
    except ValueError as exc:
        from ..errors import ShapeError  # noqa: PLC0415

        raise ShapeError(
            f"{op}: {exc} (the tensor has shape {data.shape}, the other operand "
            f"{getattr(operand, 'shape', ())}; an in-place op cannot broadcast its target)"
        ) from None
    self._bump()
    return self


def _recording(self, other):
    return grad_enabled() and (self.requires_grad or (type(other) is Tensor and other.requires_grad))


@op(export=False, method=True)
def add_(self, other, alpha=1):
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "add_", "add", other)
    return self._inplace("add_", ew.add, other)


@op(export=False, method=True)
def sub_(self, other, alpha=1):
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "sub_", "subtract", other)
    return self._inplace("sub_", ew.sub, other)


@op(export=False, method=True)
def mul_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "mul_", "multiply", other)
    return self._inplace("mul_", ew.mul, other)


@op(export=False, method=True)
def div_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "div_", "true_divide", other)
    return self._inplace("div_", ew.div, other)


@op(export=False, method=True)
def pow_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "pow_", "power", other)
    return self._inplace("pow_", ew.pow, other)


@op(export=False, method=True)
def zero_(self):
    return fill_(self, 0)


@op(export=False, method=True)
def fill_(self, value):
    if isinstance(value, Tensor):
        value = value.item()
    if grad_enabled() and self.requires_grad:
        self._check_inplace("fill_")
        return self._inplace("fill_", lambda s: s * 0.0 + value)
    self.data[...] = value
    self._bump()
    return self


@op(export=False, method=True)
def copy_(self, src):
    """Copy src's values (broadcast to self's shape) into self."""
    if not isinstance(src, Tensor):
        src = ew.as_tensor_like(src, self)
    if type(src.data) is not type(self.data):
        src_data = backend.to_device(src.data, self.device)
        src = _wrap(src_data)
    if grad_enabled() and (self.requires_grad or src.requires_grad):
        return self._inplace(
            "copy_", lambda s, o: (o.to(s.dtype) if o.dtype != s.dtype else o).expand(s.shape) + s * 0.0, src
        )
    try:
        backend.array_module(self.data).copyto(self.data, src.data, casting="unsafe")
    except ValueError as exc:
        from ..errors import ShapeError  # noqa: PLC0415

        raise ShapeError(f"copy_: cannot copy shape {src.shape} into {self.shape} ({exc})") from None
    self._bump()
    return self


def _inplace_unary(name, fn):
    def method(self, *args, **kwargs):
        return self._inplace(name, lambda s: fn(s, *args, **kwargs))

    method.__name__ = name
    return method


@op(export=False, method=True)
def uniform_(self, a=0.0, b=1.0, generator=None):
    """Fill with uniform samples from [a, b) (no history: an initialization)."""
    from ..random import numpy_rng  # noqa: PLC0415

    draw = numpy_rng(generator).uniform(a, b, self.data.shape)
    return _fill_from(self, draw)


@op(export=False, method=True)
def normal_(self, mean=0.0, std=1.0, generator=None):
    from ..random import numpy_rng  # noqa: PLC0415

    draw = numpy_rng(generator).normal(mean, std, self.data.shape)
    return _fill_from(self, draw)


def _fill_from(self, array):
    if grad_enabled() and self.requires_grad:
        self._check_inplace("init")
    self.data[...] = (
        backend.to_device(array.astype(self.data.dtype), self.device) if self.device.type != "cpu" else array
    )
    self._bump()
    return self


@op(export=False, method=True)
def masked_fill_(self, mask, value):
    return self._inplace("masked_fill_", lambda s: ew.masked_fill(s, mask, value))


@op(export=False, method=True)
def index_add_(self, dim, idx, source, alpha=1):
    return self._inplace("index_add_", lambda s, src: index.index_add(s, dim, idx, src, alpha), source)


@op(export=False, method=True)
def scatter_add_(self, dim, idx, src):
    return self._inplace("scatter_add_", lambda s, o: index.scatter_add(s, dim, idx, o), src)


# ---------------------------------------------------------------- conversion


@op(export=False, method=True)
def to(self, *args, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, backend.Device)) and (
            isinstance(a, backend.Device) or a.split(":")[0] in ("cpu", "cuda")
        ):
            device = a
        elif a is not None:
            dtype = a
    out = self
    if device is not None and backend.Device(device) != out.device:
        out = _to_device(out, device)
    if dtype is not None:
        out = ew.to_dtype(out, dtype)
    return out


def _to_device(self, device):
    return apply1(ew._to_device, self, str(backend.Device(device)), str(self.device))


@op(export=False, method=True)
def cpu(self):
    return to(self, "cpu")


@op(export=False, method=True)
def cuda(self, device=None):
    return to(self, "cuda" if device is None else f"cuda:{device}")


@op(export=False, method=True)
def type_as(self, other):
    return ew.to_dtype(self, other.dtype)


def _dtype_method(dtype):
    def method(self):
        return ew.to_dtype(self, dtype)

    return method


@op(export=False, method=True)
def new_zeros(self, *size, dtype=None):
    from ..creation import zeros  # noqa: PLC0415

    return zeros(*size, dtype=dtype or self.dtype, device=_device_arg(self))


@op(export=False, method=True)
def new_ones(self, *size, dtype=None):
    from ..creation import ones  # noqa: PLC0415

    return ones(*size, dtype=dtype or self.dtype, device=_device_arg(self))


@op(export=False, method=True)
def new_full(self, size, fill_value, dtype=None):
    from ..creation import full  # noqa: PLC0415

    return full(size, fill_value, dtype=dtype or self.dtype, device=_device_arg(self))


@op(export=False, method=True)
def new_empty(self, *size, dtype=None):
    from ..creation import empty  # noqa: PLC0415

    return empty(*size, dtype=dtype or self.dtype, device=_device_arg(self))


@op(export=False, method=True)
def new_tensor(self, data, dtype=None):
    from ..creation import tensor  # noqa: PLC0415

    return tensor(data, dtype=dtype or self.dtype, device=_device_arg(self))


def _device_arg(self):
    dev = self.device
    return None if dev.type == "cpu" else dev


@op(export=False, method=True)
def is_contiguous(self):
    return bool(self.data.flags.c_contiguous)


# ---------------------------------------------------------------- binding


@op(export=False, methods=("max",))
def _max_method(self, dim=None, keepdim=False):
    return reduce.max(self, dim, keepdim)


@op(export=False, methods=("min",))
def _min_method(self, dim=None, keepdim=False):
    return reduce.min(self, dim, keepdim)


@op(export=False, methods=("view_as", "reshape_as"))
def view_as(self, other):
    """This tensor with ``other``'s shape (a view where possible)."""
    return shape.reshape(self, other.data.shape)


@op(export=False, method=True)
def t(self):
    """The transpose of a 2-d tensor (a 0-d or 1-d tensor is returned as it is)."""
    return shape.transpose(self, 0, 1) if self.data.ndim == 2 else self


@op(export=False, methods=("where",))
def _where_method(self, condition, other):
    """``where(condition, self, other)``."""
    return ew.where(condition, self, other)


for _name, _dtype in (
    ("float", backend.float32),
    ("double", backend.float64),
    ("half", backend.float16),
    ("long", backend.int64),
    ("int", backend.int32),
    ("bool", backend.bool_),
):
    _method = _dtype_method(_dtype)
    _method.__name__ = _method.__qualname__ = _name
    _method.__doc__ = f"This tensor converted to {_dtype} (itself when it already is)."
    op(export=False, method=True)(_method)


def _transpose_all(self):
    return shape.permute(self, *reversed(range(self.data.ndim)))


def _transpose_last(self):
    return shape.transpose(self, -2, -1)


# operators and properties: the Tensor protocol, bound here (the ops above come from the registry)
OPERATORS = {
    "__iadd__": add_,
    "__isub__": sub_,
    "__imul__": mul_,
    "__itruediv__": div_,
    "__ipow__": pow_,
    "__getitem__": index.getitem,
    "__setitem__": index.setitem,
    "__eq__": compare.eq,
    "__ne__": compare.ne,
    "__lt__": compare.lt,
    "__le__": compare.le,
    "__gt__": compare.gt,
    "__ge__": compare.ge,
    "__and__": compare.bitwise_and,
    "__or__": compare.bitwise_or,
    "__xor__": compare.bitwise_xor,
    "__rand__": lambda s, o: compare.bitwise_and(o, s),
    "__ror__": lambda s, o: compare.bitwise_or(o, s),
    "__rxor__": lambda s, o: compare.bitwise_xor(o, s),
}
PROPERTIES = {"T": property(_transpose_all), "mT": property(_transpose_last)}
BOUND: set = set()  # every name this module sets on Tensor (the stub generator reads it)


def _bind():
    T = Tensor
    skip = ("__builtins__", "__loader__", "__spec__", "__doc__", "__name__", "__package__", "__file__", "__cached__",
            "__annotations__")
    for name, fn in list(globals().items()):
        if name.startswith("__") and name.endswith("__") and callable(fn) and name not in skip:
            OPERATORS.setdefault(name, fn)
    for name, fn in {**OPERATORS, **METHODS}.items():
        setattr(T, name, fn)
    for name, fn in INPLACE.items():
        setattr(T, name, _inplace_unary(name, fn))
    for name, prop in PROPERTIES.items():
        setattr(T, name, prop)
    BOUND.update(OPERATORS, METHODS, INPLACE, PROPERTIES)
