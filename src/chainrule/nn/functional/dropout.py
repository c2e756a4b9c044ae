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

from ...autograd.graph import vmap_depth
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
    data = x._data
    dtype = data.dtype
    if dtype.kind != "f":
        raise DTypeError(f"dropout: expected a floating point input, got {dtype}")
    if p == 1.0:
        return x * 0.0
    if vmap_depth() and type(data).__name__ == "BatchedArray":  # under vmap: its randomness policy draws
        from ...func._vmap import random_mask  # noqa: PLC0415

        return x * random_mask(lambda shape: _mask(shape, p, dtype), mask_shape)
    mask = _mask(mask_shape, p, dtype)
    if type(data) is not np.ndarray:
        mask = to_device(mask, x.device)
    return x * _wrap(mask)


def _mask(shape, p: float, dtype):
    # drawn on the CPU (as every chainrule random number: the same seed gives the same mask on any device)
    keep = numpy_rng().random(shape, dtype=np.float64 if dtype == np.float64 else np.float32) >= p
    return np.multiply(keep, 1.0 / (1.0 - p), dtype=dtype)  # one pass from the boolean mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (Srivastava et al., 2014).

    The expected value of every element is unchanged.  Returns ``input``
    itself when ``training`` is False or ``p`` is 0.

    Args:
        input: the input, any shape ``(*)``, floating point.
        p: the probability of zeroing an element, in [0, 1] (default 0.5);
            ``p=1`` zeroes everything.
        training: apply dropout only when True (default True: pass
            ``self.training`` from a module).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ValueError: if ``p`` is outside [0, 1].

    Examples:
        >>> y = F.dropout(cr.ones(1000), p=0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> F.dropout(cr.ones(3), p=0.5, training=False)
        tensor([1., 1., 1.])
    """
    p = _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, p, input._data.shape)


def _feature_dropout(x: Tensor, p: float) -> Tensor:
    shape = x._data.shape
    return _apply_mask(x, p, shape[:2] + (1,) * (len(shape) - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of a sequence with probability ``p``, scaling the rest by ``1 / (1 - p)``.

    One mask value is drawn per (sample, channel) and applied along the whole
    length L (Tompson et al., 2015), which suits inputs whose neighbouring
    positions are correlated.

    Args:
        input: the input, shape ``(N, C, L)`` or ``(C, L)``.
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        training: apply dropout only when True (default True).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if ``input`` is not 2-D or 3-D.

    Examples:
        >>> y = F.dropout1d(cr.ones(2, 16, 5), p=0.5)
        >>> y.shape
        (2, 16, 5)
        >>> bool((y.amax(dim=2) == y.amin(dim=2)).all())  # each channel is kept or dropped as a whole
        True
    """
    p = _check_p(p)
    ndim = input._data.ndim
    if ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected 2-D (C, L) or 3-D (N, C, L) input, got shape {input._data.shape}")
    if not training or p == 0.0:
        return input
    if ndim == 2:
        return _feature_dropout(input.unsqueeze(0), p).squeeze(0)
    return _feature_dropout(input, p)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of an image with probability ``p``, scaling the rest by ``1 / (1 - p)``.

    One mask value is drawn per (sample, channel) and applied to the whole
    (H, W) plane (Tompson et al., 2015).  As in PyTorch, a 3-D input is read as
    ``(N, C, L)`` (1-d channel dropout) with a warning, and other ranks are
    accepted with a deprecation warning.

    Args:
        input: the input, shape ``(N, C, H, W)``.
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        training: apply dropout only when True (default True).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if ``input`` has fewer than 2 dimensions.

    Examples:
        >>> y = F.dropout2d(cr.ones(2, 8, 4, 4), p=0.5)
        >>> y.shape
        (2, 8, 4, 4)
        >>> bool((y.amax(dim=(2, 3)) == y.amin(dim=(2, 3))).all())  # each channel is kept or dropped as a whole
        True
    """
    p = _check_p(p)
    ndim = input._data.ndim
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
        raise ShapeError(f"dropout2d: expected at least 2-D input (N, C, ...), got shape {input._data.shape}")
    if not training or p == 0.0:
        return input
    return _feature_dropout(input, p)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of a volume with probability ``p``, scaling the rest by ``1 / (1 - p)``.

    One mask value is drawn per (sample, channel) and applied to the whole
    (D, H, W) volume.  Other ranks than 4 and 5 are accepted with a deprecation
    warning, as in PyTorch.

    Args:
        input: the input, shape ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        p: the probability of zeroing a channel, in [0, 1] (default 0.5).
        training: apply dropout only when True (default True).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if ``input`` has fewer than 2 dimensions.

    Examples:
        >>> y = F.dropout3d(cr.ones(2, 8, 2, 3, 3), p=0.5)
        >>> y.shape
        (2, 8, 2, 3, 3)
        >>> bool((y.amax(dim=(2, 3, 4)) == y.amin(dim=(2, 3, 4))).all())  # whole channels
        True
    """
    p = _check_p(p)
    ndim = input._data.ndim
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead.",
            stacklevel=2,
        )
    if ndim < 2:
        raise ShapeError(f"dropout3d: expected at least 2-D input (N, C, ...), got shape {input._data.shape}")
    if not training or p == 0.0:
        return input
    if ndim == 4:
        return _feature_dropout(input.unsqueeze(0), p).squeeze(0)
    return _feature_dropout(input, p)
