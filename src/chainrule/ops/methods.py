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
from . import compare, index, linalg, nn, reduce, shape
from . import elementwise as ew
from .elementwise import _add, _adds, _div, _divs, _mul, _muls, _neg, _pows, _rsubs, _sub

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


def add_(self, other, alpha=1):
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "add_", "add", other)
    return self._inplace("add_", ew.add, other)


def sub_(self, other, alpha=1):
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "sub_", "subtract", other)
    return self._inplace("sub_", ew.sub, other)


def mul_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "mul_", "multiply", other)
    return self._inplace("mul_", ew.mul, other)


def div_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "div_", "true_divide", other)
    return self._inplace("div_", ew.div, other)


def pow_(self, other):
    if not _recording(self, other):
        return _fast_inplace(self, "pow_", "power", other)
    return self._inplace("pow_", ew.pow, other)


def zero_(self):
    return fill_(self, 0)


def fill_(self, value):
    if isinstance(value, Tensor):
        value = value.item()
    if grad_enabled() and self.requires_grad:
        self._check_inplace("fill_")
        return self._inplace("fill_", lambda s: s * 0.0 + value)
    self.data[...] = value
    self._bump()
    return self


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


def uniform_(self, a=0.0, b=1.0, generator=None):
    """Fill with uniform samples from [a, b) (no history: an initialization)."""
    from ..random import numpy_rng  # noqa: PLC0415

    draw = numpy_rng(generator).uniform(a, b, self.data.shape)
    return _fill_from(self, draw)


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


def masked_fill_(self, mask, value):
    return self._inplace("masked_fill_", lambda s: ew.masked_fill(s, mask, value))


def index_add_(self, dim, idx, source, alpha=1):
    return self._inplace("index_add_", lambda s, src: index.index_add(s, dim, idx, src, alpha), source)


def scatter_add_(self, dim, idx, src):
    return self._inplace("scatter_add_", lambda s, o: index.scatter_add(s, dim, idx, o), src)


# ---------------------------------------------------------------- conversion


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


def cpu(self):
    return to(self, "cpu")


def cuda(self, device=None):
    return to(self, "cuda" if device is None else f"cuda:{device}")


def type_as(self, other):
    return ew.to_dtype(self, other.dtype)


def _dtype_method(dtype):
    def method(self):
        return ew.to_dtype(self, dtype)

    return method


def new_zeros(self, *size, dtype=None):
    from ..creation import zeros  # noqa: PLC0415

    return zeros(*size, dtype=dtype or self.dtype, device=_device_arg(self))


def new_ones(self, *size, dtype=None):
    from ..creation import ones  # noqa: PLC0415

    return ones(*size, dtype=dtype or self.dtype, device=_device_arg(self))


def new_full(self, size, fill_value, dtype=None):
    from ..creation import full  # noqa: PLC0415

    return full(size, fill_value, dtype=dtype or self.dtype, device=_device_arg(self))


def new_empty(self, *size, dtype=None):
    from ..creation import empty  # noqa: PLC0415

    return empty(*size, dtype=dtype or self.dtype, device=_device_arg(self))


def new_tensor(self, data, dtype=None):
    from ..creation import tensor  # noqa: PLC0415

    return tensor(data, dtype=dtype or self.dtype, device=_device_arg(self))


def _device_arg(self):
    dev = self.device
    return None if dev.type == "cpu" else dev


def is_contiguous(self):
    return bool(self.data.flags.c_contiguous)


# ---------------------------------------------------------------- binding


def _max_method(self, dim=None, keepdim=False):
    return reduce.max(self, dim, keepdim)


def _min_method(self, dim=None, keepdim=False):
    return reduce.min(self, dim, keepdim)


def _bind():
    T = Tensor
    for name, fn in list(globals().items()):
        if (
            name.startswith("__")
            and name.endswith("__")
            and callable(fn)
            and name
            not in (
                "__builtins__",
                "__loader__",
                "__spec__",
                "__doc__",
                "__name__",
                "__package__",
                "__file__",
                "__cached__",
                "__annotations__",
            )
        ):
            setattr(T, name, fn)
    T.__iadd__ = add_
    T.__isub__ = sub_
    T.__imul__ = mul_
    T.__itruediv__ = div_
    T.__ipow__ = pow_
    T.__getitem__ = index.getitem
    T.__setitem__ = index.setitem
    T.__eq__ = compare.eq
    T.__ne__ = compare.ne
    T.__lt__ = compare.lt
    T.__le__ = compare.le
    T.__gt__ = compare.gt
    T.__ge__ = compare.ge
    T.__and__ = compare.bitwise_and
    T.__or__ = compare.bitwise_or
    T.__xor__ = compare.bitwise_xor
    T.__rand__ = lambda s, o: compare.bitwise_and(o, s)
    T.__ror__ = lambda s, o: compare.bitwise_or(o, s)
    T.__rxor__ = lambda s, o: compare.bitwise_xor(o, s)

    for name in (
        "add_",
        "sub_",
        "mul_",
        "div_",
        "pow_",
        "zero_",
        "fill_",
        "copy_",
        "uniform_",
        "normal_",
        "masked_fill_",
        "index_add_",
        "scatter_add_",
        "to",
        "cpu",
        "cuda",
        "type_as",
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "new_tensor",
        "is_contiguous",
    ):
        setattr(T, name, globals()[name])
    T.float = _dtype_method(backend.float32)
    T.double = _dtype_method(backend.float64)
    T.half = _dtype_method(backend.float16)
    T.long = _dtype_method(backend.int64)
    T.int = _dtype_method(backend.int32)
    T.bool = _dtype_method(backend.bool_)

    for fn in (
        ew.add,
        ew.sub,
        ew.mul,
        ew.div,
        ew.pow,
        ew.neg,
        ew.abs,
        ew.exp,
        ew.expm1,
        ew.log,
        ew.log1p,
        ew.sqrt,
        ew.rsqrt,
        ew.sin,
        ew.cos,
        ew.tanh,
        ew.sigmoid,
        ew.erf,
        ew.relu,
        ew.sign,
        ew.floor,
        ew.ceil,
        ew.round,
        ew.trunc,
        ew.clamp,
        ew.clip,
        ew.maximum,
        ew.minimum,
        ew.square,
        ew.reciprocal,
        ew.masked_fill,
        ew.clone,
        ew.remainder,
        ew.floor_divide,
        reduce.sum,
        reduce.mean,
        reduce.var,
        reduce.std,
        reduce.amax,
        reduce.amin,
        reduce.argmax,
        reduce.argmin,
        reduce.logsumexp,
        reduce.prod,
        reduce.norm,
        reduce.cumsum,
        reduce.any,
        reduce.all,
        shape.flatten,
        shape.unflatten,
        shape.squeeze,
        shape.unsqueeze,
        shape.transpose,
        shape.movedim,
        shape.expand_as,
        shape.broadcast_to,
        shape.flip,
        shape.contiguous,
        shape.split,
        shape.chunk,
        shape.unbind,
        shape.narrow,
        shape.pad,
        shape.tile,
        index.gather,
        index.scatter_add,
        index.index_select,
        index.index_add,
        linalg.matmul,
        linalg.mm,
        linalg.bmm,
        linalg.dot,
        linalg.outer,
        nn.softmax,
        nn.log_softmax,
        compare.eq,
        compare.ne,
        compare.lt,
        compare.le,
        compare.gt,
        compare.ge,
        compare.logical_and,
        compare.logical_or,
        compare.logical_xor,
        compare.logical_not,
        compare.isnan,
        compare.isinf,
        compare.isfinite,
        compare.equal,
        compare.allclose,
        compare.isclose,
        compare.nonzero,
    ):
        setattr(T, fn.__name__, fn)
    T.max = _max_method
    T.min = _min_method
    T.reshape = shape.reshape
    T.view = shape.reshape
    T.permute = shape.permute
    T.expand = shape.expand
    T.repeat = shape.repeat
    T.view_as = lambda self, other: shape.reshape(self, other.data.shape)
    T.reshape_as = T.view_as
    T.t = lambda self: shape.transpose(self, 0, 1) if self.data.ndim == 2 else self
    T.T = property(lambda self: shape.permute(self, *reversed(range(self.data.ndim))))
    T.mT = property(lambda self: shape.transpose(self, -2, -1))
    T.where = lambda self, condition, other: ew.where(condition, self, other)
    T.leaky_relu = ew.leaky_relu
    T.relu_ = _inplace_unary("relu_", ew.relu)
    T.clamp_ = _inplace_unary("clamp_", ew.clamp)
    T.clip_ = T.clamp_
    T.neg_ = _inplace_unary("neg_", ew.neg)
    T.exp_ = _inplace_unary("exp_", ew.exp)
    T.sigmoid_ = _inplace_unary("sigmoid_", ew.sigmoid)
    T.tanh_ = _inplace_unary("tanh_", ew.tanh)
    T.sqrt_ = _inplace_unary("sqrt_", ew.sqrt)
    T.abs_ = _inplace_unary("abs_", ew.abs)
    T.log_ = _inplace_unary("log_", ew.log)
