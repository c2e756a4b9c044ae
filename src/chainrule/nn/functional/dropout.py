"""Functional dropout: ``F.dropout`` (elements) and ``F.dropout1d/2d/3d`` (whole channels).

In training, each element (or channel) is zeroed with probability ``p`` and the
survivors are scaled by 1 / (1 - p), so the expected value is unchanged; with
``training=False`` the input is returned as it is.  The mask comes from
chainrule's default generator (``chainrule.manual_seed`` makes it repeat), so
masks differ from PyTorch's for the same seed.  The result is ``input * mask``
(one recorded multiplication): differentiable to any order.

Differs from PyTorch: ``inplace=True`` is accepted but a new tensor is returned
and the input is left unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...backend import to_device
from ...errors import DTypeError, ShapeError
from ...random import numpy_rng
from ...tensor import Tensor, _wrap

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


def _check_p(p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return p


def _apply_mask(x: Tensor, p: float, mask_shape) -> Tensor:
    """x * (keep / (1 - p)) with keep ~ Bernoulli(1 - p) of ``mask_shape`` (broadcast against x)."""
    data = x.data
    dtype = data.dtype
    if dtype.kind != "f":
        raise DTypeError(f"dropout: expected a floating point input, got {dtype}")
    if p == 1.0:
        return x * 0.0
    # drawn on the CPU (as every chainrule random number: the same seed gives the same mask on any device)
    keep = numpy_rng().random(mask_shape, dtype=np.float64 if dtype == np.float64 else np.float32) >= p
    mask = np.multiply(keep, 1.0 / (1.0 - p), dtype=dtype)  # one pass from the boolean mask
    if type(data) is not np.ndarray:
        mask = to_device(mask, x.device)
    return x * _wrap(mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p).  Any shape."""
    p = _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, p, input.data.shape)


def _feature_dropout(x: Tensor, p: float) -> Tensor:
    shape = x.data.shape
    return _apply_mask(x, p, shape[:2] + (1,) * (len(shape) - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels: input (N, C, L) or (C, L); the mask is drawn per (sample, channel)."""
    p = _check_p(p)
    ndim = input.data.ndim
    if ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected 2-D (C, L) or 3-D (N, C, L) input, got shape {input.data.shape}")
    if not training or p == 0.0:
        return input
    if ndim == 2:
        return _feature_dropout(input.unsqueeze(0), p).squeeze(0)
    return _feature_dropout(input, p)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, H, W) input; the mask is drawn per (sample, channel).

    As in PyTorch, a 3-D input is read as (N, C, L) (1-d channel dropout) with a
    warning, and other ranks are accepted with a deprecation warning.
    """
    p = _check_p(p)
    ndim = input.data.ndim
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead.",
            stacklevel=2,
        )
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. Use dropout1d instead.",
            stacklevel=2,
        )
    if ndim < 2:
        raise ShapeError(f"dropout2d: expected at least 2-D input (N, C, ...), got shape {input.data.shape}")
    if not training or p == 0.0:
        return input
    return _feature_dropout(input, p)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    p = _check_p(p)
    ndim = input.data.ndim
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead.",
            stacklevel=2,
        )
    if ndim < 2:
        raise ShapeError(f"dropout3d: expected at least 2-D input (N, C, ...), got shape {input.data.shape}")
    if not training or p == 0.0:
        return input
    if ndim == 4:
        return _feature_dropout(input.unsqueeze(0), p).squeeze(0)
    return _feature_dropout(input, p)
