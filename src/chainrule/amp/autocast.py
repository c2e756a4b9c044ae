"""The autocast context manager; its state lives in ``autograd.mode`` and its casts in ``ops.casting``."""

from __future__ import annotations

import functools

import numpy as np

from ..autograd.mode import _AMP, AmpState, autocast_state  # noqa: F401 - autocast_state: its old home
from ..backend import Device, as_dtype
from ..ops.casting import autocast_active, cast_for_gemm, cast_to_float32  # noqa: F401 - their old home


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
    """Run the enclosed ops in mixed precision on ``device_type`` tensors (a context manager or a decorator).

    Inside it the GEMM-heavy ops (matmul, linear, convolution) cast their
    floating inputs of that device to ``dtype``, and the ops that need range
    (softmax, normalization, losses) compute in float32; the casts are
    differentiable, so float32 parameters get float32 gradients. Per thread.

    Differs from PyTorch: the CPU's default dtype is float16 too (NumPy has no
    native bfloat16), and there is no cast cache.

    Args:
        device_type: ``"cuda"`` (the default) or ``"cpu"``: only tensors on that kind of device are cast.
        dtype: the low-precision dtype: float16 (None, the default) or ``"bfloat16"`` (needs the ml_dtypes
            package).
        enabled: False makes the block a no-op (autocast off inside it, even within an outer autocast).
        cache_enabled: accepted for PyTorch's signature and ignored.

    Raises:
        TypeError: ``dtype`` is not float16 or bfloat16, or bfloat16 without ml_dtypes.
        ValueError: ``device_type`` is not "cpu" or "cuda".

    Examples:
        >>> a, b = cr.ones(2, 3), cr.ones(3, 4)
        >>> with cr.amp.autocast("cpu"):
        ...     c = a @ b
        ...     p = c.softmax(-1)
        >>> c.dtype, p.dtype
        (dtype('float16'), dtype('float32'))
    """

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True, cache_enabled=None):
        device_type = Device(device_type).type
        self.device_type = device_type
        self.dtype = _low_precision(dtype)
        self.enabled = bool(enabled)

    def __enter__(self):
        self._prev = _AMP.get()
        _AMP.set(AmpState(self.dtype, self.device_type) if self.enabled else None)
        return self

    def __exit__(self, *exc):
        _AMP.set(self._prev)
        return False

    def __call__(self, fn):
        state = AmpState(self.dtype, self.device_type) if self.enabled else None

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
    """True inside ``autocast`` (in this thread).

    Returns:
        A bool, whatever the device type autocast was entered for.

    Examples:
        >>> cr.amp.is_autocast_enabled()
        False
        >>> with cr.amp.autocast("cpu"):
        ...     cr.amp.is_autocast_enabled()
        True
    """
    return _AMP.get() is not None
