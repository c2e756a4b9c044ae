"""The autocast context and the two casting policies ops consult."""

from __future__ import annotations

import functools

import numpy as np

from ..backend import Device, as_dtype


class _AmpState:
    __slots__ = ("enabled", "dtype", "device_type")

    def __init__(self):
        self.enabled = False
        self.dtype = None
        self.device_type = None


AMP = _AmpState()


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
        self._prev = (AMP.enabled, AMP.dtype, AMP.device_type)
        if self.enabled:
            AMP.enabled, AMP.dtype, AMP.device_type = True, self.dtype, self.device_type
        else:
            AMP.enabled = False
        return self

    def __exit__(self, *exc):
        AMP.enabled, AMP.dtype, AMP.device_type = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_enabled() -> bool:
    return AMP.enabled


def autocast_active(t) -> bool:
    """True when autocast is on for t's device."""
    return AMP.enabled and t is not None and t.device.type == AMP.device_type


def cast_for_gemm(*tensors):
    """Inside autocast: the floating tensors, cast to the low-precision dtype (differentiably)."""
    if not AMP.enabled:
        return tensors
    from ..ops.elementwise import to_dtype  # noqa: PLC0415

    return tuple(
        to_dtype(t, AMP.dtype) if t is not None and t.data.dtype.kind == "f" and autocast_active(t) else t
        for t in tensors
    )


def cast_to_float32(*tensors):
    """Inside autocast: low-precision floating tensors, cast up to float32 (ops that need range)."""
    if not AMP.enabled:
        return tensors
    from ..ops.elementwise import to_dtype  # noqa: PLC0415

    return tuple(
        to_dtype(t, np.float32) if t is not None and t.data.dtype.kind == "f" and t.data.dtype.itemsize < 4 else t
        for t in tensors
    )
