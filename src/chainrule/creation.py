"""Functions that make tensors: tensor, zeros, ones, full, arange, rand, ..."""

from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .backend import as_dtype, get_default_dtype
from .random import numpy_rng
from .tensor import Tensor, _wrap, as_array  # noqa: F401 - as_array: its old home


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays).

    Python floats give the default dtype (float32), ints int64, bools bool;
    NumPy arrays keep their dtype.
    """
    t = _wrap(as_array(data, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but without copying a NumPy array or Tensor that already fits."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == as_dtype(dtype)) and device in (None, "cpu"):
        return _wrap(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _wrap(array)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"sizes must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _make(arr, device, requires_grad):
    if device is not None:
        arr = backend.to_device(arr, device)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    return np if device is None else backend.module_for_device(device)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make_direct("zeros", _size(size), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make_direct("ones", _size(size), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make_direct("empty", _size(size), dtype, device, requires_grad)


def _make_direct(kind, size, dtype, device, requires_grad):
    xp = _xp(device)
    arr = getattr(xp, kind)(size, dtype=as_dtype(dtype))
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = np.int64
    xp = _xp(device)
    size = _size((size,) if isinstance(size, numbers.Integral) else tuple(size))
    return _make(xp.full(size, fill_value, dtype=as_dtype(dtype)), None, requires_grad)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like("zeros", x, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like("ones", x, dtype, device, requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like("empty", x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.array_module(x.data) if device is None else _xp(device)
    arr = xp.full(x.data.shape, fill_value, dtype=x.data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def _like(kind, x, dtype, device, requires_grad):
    xp = backend.array_module(x.data) if device is None else _xp(device)
    arr = getattr(xp, kind)(x.data.shape, dtype=x.data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from start (default 0) up to, not including, end; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if is_int else get_default_dtype()
    return _make(np.arange(start, end, step, dtype=as_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.linspace(start, end, int(steps), dtype=as_dtype(dtype)), device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.logspace(start, end, int(steps), base=base, dtype=as_dtype(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.eye(n, m, dtype=as_dtype(dtype)), device, requires_grad)


# ---------------------------------------------------------------------------
# random


def _float_dtype(dtype):
    dt = as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"expected a floating dtype, got {dt}")
    return dt


def _draw_float(method, size, dtype, generator):
    dt = _float_dtype(dtype)
    rng = numpy_rng(generator)
    if dt in (np.float32, np.float64):
        return getattr(rng, method)(size, dtype=dt)
    return getattr(rng, method)(size, dtype=np.float32).astype(dt)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    return _make(_draw_float("random", _size(size), dtype, generator), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    return _make(_draw_float("standard_normal", _size(size), dtype, generator), device, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` as in PyTorch)."""
    if high is None:
        low, high = 0, low
    arr = numpy_rng(generator).integers(low, high, size=tuple(size), dtype=np.int64)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype))
    return _make(arr, device, False)


def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    arr = numpy_rng(generator).permutation(int(n)).astype(np.int64 if dtype is None else as_dtype(dtype))
    return _make(arr, device, False)


def rand_like(x: Tensor, generator=None, dtype=None) -> Tensor:
    return rand(*x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def randn_like(x: Tensor, generator=None, dtype=None) -> Tensor:
    return randn(*x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def randint_like(x: Tensor, low, high=None, generator=None, dtype=None) -> Tensor:
    return randint(low, high, x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def _dev(x):
    dev = x.device
    return None if dev.type == "cpu" else dev


def bernoulli(p: Tensor, generator=None) -> Tensor:
    """1 with probability p, else 0, elementwise (no gradient)."""
    probs = backend.to_numpy(p.data)
    draw = numpy_rng(generator).random(probs.shape, dtype=np.float32 if probs.dtype == np.float32 else np.float64)
    return _make((draw < probs).astype(probs.dtype), _dev(p), False)


def multinomial(probs: Tensor, num_samples: int, replacement=False, generator=None) -> Tensor:
    rng = numpy_rng(generator)
    p = backend.to_numpy(probs.data).astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _make(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64), _dev(probs), False)
