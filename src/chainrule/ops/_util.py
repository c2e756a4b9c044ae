"""Small helpers shared by the op families (argument checking, constants)."""

from __future__ import annotations

import numbers

import numpy as np

from ..backend import array_module, get_default_dtype
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap


def as_tensor_like(value, like: Tensor) -> Tensor:
    """A constant Tensor for ``value`` (list, array, scalar) on like's device and in a fitting dtype."""
    if isinstance(value, Tensor):
        return value
    xp = array_module(like._data)
    dtype = like._data.dtype
    if type(value) is int and dtype.kind in "iu":
        # a Python int is weak, as in PyTorch: an int32 tensor // 2 stays int32 (one out of the dtype's range
        # makes an int64 operand, and the result is promoted, rather than an overflow)
        limits = np.iinfo(dtype)
        if limits.min <= value <= limits.max:
            return _wrap(xp.asarray(value, dtype=dtype))
    arr = xp.asarray(value)
    if arr.dtype.kind == "f" and dtype.kind == "f":
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind == "f":
        arr = arr.astype(get_default_dtype(), copy=False)
    return _wrap(arr)


def is_scalar(value) -> bool:
    return isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, Tensor)


def scalar_value(value):
    """A Python number from a number-like value (NumPy scalars are strong types; Python's are weak)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dimension index in [0, ndim), accepting negative values as PyTorch does."""
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise ShapeError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % size


def normalize_dims(dim, ndim: int, op: str):
    """A sorted tuple of dimensions, or None for 'all'."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
        if len(dims) != len(dim):
            raise ShapeError(f"{op}: dim {tuple(dim)} names a dimension twice")
        return dims
    return (normalize_dim(dim, ndim, op),)


def check_float(x: Tensor, op: str) -> None:
    if x._data.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point tensor, got {x._data.dtype}")


def is_half(dtype) -> bool:
    """float16 (or ml_dtypes' bfloat16): reductions and losses over it run in float32, as PyTorch's do.

    PyTorch accumulates half-precision reductions in float32 and forms divisors
    (element counts, weight sums) in float32 too; float16 itself overflows past
    65504, so a sum of 70,000 ones or a mean's ``1 / count`` cannot be held in it.
    """
    return dtype.itemsize == 2 and (dtype.kind == "f" or dtype.name == "bfloat16")
