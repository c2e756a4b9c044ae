"""Casts the ops apply: autocast's two policies, and running half precision in float32.

``chainrule.amp.autocast`` switches autocast on.

Inside autocast the GEMM-heavy ops (matmul, linear, convolution) cast their
floating inputs down to the low-precision dtype, and the ops that need range
(softmax, normalization, losses) cast low-precision inputs up to float32.
Both casts are differentiable; outside autocast both are no-ops.
"""

from __future__ import annotations

import numpy as np

from ..autograd.mode import autocast_state
from .elementwise import to_dtype


def autocast_active(t) -> bool:
    """True when autocast is on, in this thread, for t's device.

    Args:
        t: a Tensor, or None (then False).

    Returns:
        A bool: autocast is on and was entered for the device type ``t`` lives on.

    Examples:
        >>> x = cr.ones(2)
        >>> with cr.amp.autocast("cpu"):
        ...     cr.amp.autocast_active(x)
        True
        >>> with cr.amp.autocast("cuda"):
        ...     cr.amp.autocast_active(x)
        False
    """
    state = autocast_state()
    return state is not None and t is not None and t.device.type == state.device_type


def cast_for_gemm(*tensors):
    """Inside autocast: the floating tensors, cast to the low-precision dtype (differentiably).

    What the GEMM-heavy ops call on their inputs. Outside autocast the tensors
    come back unchanged; inside it, floating tensors on the autocast device are
    cast and the rest (None, integer tensors, other devices) pass through.

    Args:
        tensors: Tensors or None, any shapes.

    Returns:
        A tuple with one entry per argument.

    Examples:
        >>> w = cr.ones(2, 2)
        >>> with cr.amp.autocast("cpu"):
        ...     cr.amp.cast_for_gemm(w, None)[0].dtype
        dtype('float16')
        >>> cr.amp.cast_for_gemm(w)[0] is w
        True
    """
    state = autocast_state()
    if state is None:
        return tensors
    return tuple(
        to_dtype(t, state.dtype) if t is not None and t._data.dtype.kind == "f" and autocast_active(t) else t
        for t in tensors
    )


def cast_to_float32(*tensors):
    """Inside autocast: low-precision floating tensors, cast up to float32 (ops that need range).

    Outside autocast the tensors come back unchanged; float32, float64 and
    non-floating tensors are never cast.

    Args:
        tensors: Tensors or None, any shapes.

    Returns:
        A tuple with one entry per argument.

    Examples:
        >>> h = cr.ones(2, dtype=cr.float16)
        >>> with cr.amp.autocast("cpu"):
        ...     cr.amp.cast_to_float32(h)[0].dtype
        dtype('float32')
    """
    if autocast_state() is None:
        return tensors
    return tuple(
        to_dtype(t, np.float32) if t is not None and t._data.dtype.kind == "f" and t._data.dtype.itemsize < 4 else t
        for t in tensors
    )


def in_float32(fn, x, *args, **kwargs):
    """``fn(x, ...)`` computed on x cast to float32, the result cast back to x's dtype (differentiably).

    For half-precision inputs: the forward and, through the two casts, the
    backward and any higher derivative run in float32 and round once at the end.
    """
    dtype = x._data.dtype
    return to_dtype(fn(to_dtype(x, np.float32), *args, **kwargs), dtype)
