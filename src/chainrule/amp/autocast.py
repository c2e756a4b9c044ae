"""The autocast context and the two casting policies ops consult."""

from __future__ import annotations

import functools
from contextvars import ContextVar

import numpy as np

from ..backend import Device, as_dtype


class _AmpState:
    """What autocast does while it is on: the low-precision dtype and the device type it applies to."""

    __slots__ = ("dtype", "device_type")

    def __init__(self, dtype, device_type):
        self.dtype = dtype
        self.device_type = device_type


# Per thread (each thread has its own context), as PyTorch's autocast state is: None while autocast is off.
_AMP = ContextVar("chainrule.autocast", default=None)
#: ``autocast_state()``: None outside autocast in this thread, else its ``_AmpState``
autocast_state = _AMP.get


def _low_precision(dtype):
    if dtype is None:
        return np.dtype(np.float16)
    if isinstance(dtype, str) and dtype.removeprefix("chainrule.").removeprefix("torch.") == "bfloat16":
        try:
            import ml_dtypes  # noqa: PLC0415

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            raise TypeError("autocast: bfloat16 needs the ml_dtypes package (NumPy has no bfloat16)") from None
    dt = as_dtype(dtype)
    if dt not in (np.dtype(np.float16),) and dt.name != "bfloat16":
        raise TypeError(f"autocast: dtype must be float16 or bfloat16, got {dt}")
    return dt


class autocast:  # noqa: N801 - PyTorch's name
    """Run the enclosed ops in mixed precision on ``device_type`` tensors (a context manager or a decorator)."""

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True, cache_enabled=None):
        device_type = Device(device_type).type
        self.device_type = device_type
        self.dtype = _low_precision(dtype)
        self.enabled = bool(enabled)

    def __enter__(self):
        self._prev = _AMP.get()
        _AMP.set(_AmpState(self.dtype, self.device_type) if self.enabled else None)
        return self

    def __exit__(self, *exc):
        _AMP.set(self._prev)
        return False

    def __call__(self, fn):
        state = _AmpState(self.dtype, self.device_type) if self.enabled else None

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _AMP.get()  # a local, not self._prev: the function may run in several threads at once
            _AMP.set(state)
            try:
                return fn(*args, **kwargs)
            finally:
                _AMP.set(prev)

        return wrapper


def is_autocast_enabled() -> bool:
    """True inside ``autocast`` (in this thread)."""
    return _AMP.get() is not None


def autocast_active(t) -> bool:
    """True when autocast is on, in this thread, for t's device."""
    state = _AMP.get()
    return state is not None and t is not None and t.device.type == state.device_type


def cast_for_gemm(*tensors):
    """Inside autocast: the floating tensors, cast to the low-precision dtype (differentiably)."""
    state = _AMP.get()
    if state is None:
        return tensors
    from ..ops.elementwise import to_dtype  # noqa: PLC0415

    return tuple(
        to_dtype(t, state.dtype) if t is not None and t.data.dtype.kind == "f" and autocast_active(t) else t
        for t in tensors
    )


def cast_to_float32(*tensors):
    """Inside autocast: low-precision floating tensors, cast up to float32 (ops that need range)."""
    if _AMP.get() is None:
        return tensors
    from ..ops.elementwise import to_dtype  # noqa: PLC0415

    return tuple(
        to_dtype(t, np.float32) if t is not None and t.data.dtype.kind == "f" and t.data.dtype.itemsize < 4 else t
        for t in tensors
    )
