"""pixel_shuffle and pixel_unshuffle: channels to space and back (Shi et al. 2016, "Real-Time Single Image and
Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", arXiv:1609.05158).

Both are a reshape, a permutation and a reshape, so their gradients (of any order) come from the derivative table;
each is the other's inverse.
"""

from __future__ import annotations

import numbers

from ...errors import ShapeError
from ...tensor import Tensor

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def _factor(value, name: str, op: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be positive, got {value}")
    return int(value)


def _check_rank(input: Tensor, op: str) -> None:
    if input.ndim < 3:
        raise ShapeError(f"{op}: expected an input of shape (*, C, H, W) with at least 3 dimensions, got {input.shape}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange ``(*, C * r**2, H, W)`` into ``(*, C, H * r, W * r)``, where ``r`` is ``upscale_factor``.

    Output channel ``c`` at ``(h * r + i, w * r + j)`` is input channel ``c * r**2 + i * r + j`` at ``(h, w)``:
    the sub-pixel convolution layer of ESPCN.

    Args:
        input: shape ``(*, C * r**2, H, W)``, any dtype.
        upscale_factor: ``r``, a positive int.

    Returns:
        A tensor of shape ``(*, C, H * r, W * r)`` and ``input``'s dtype.

    Raises:
        ShapeError: fewer than 3 dimensions, or channels not divisible by ``r**2``.

    Examples:
        >>> x = cr.arange(8.0).reshape(1, 4, 1, 2)
        >>> F.pixel_shuffle(x, 2)
        tensor([[[[0., 2., 1., 3.],
                  [4., 6., 5., 7.]]]])
    """
    r = _factor(upscale_factor, "upscale_factor", "pixel_shuffle")
    _check_rank(input, "pixel_shuffle")
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise ShapeError(
            f"pixel_shuffle: the channels ({channels}, of input shape {input.shape}) must be divisible by "
            f"upscale_factor**2 = {r * r}"
        )
    lead = len(batch)
    out = input.reshape(*batch, channels // (r * r), r, r, height, width)
    out = out.permute(*range(lead), lead, lead + 3, lead + 1, lead + 4, lead + 2)
    return out.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Rearrange ``(*, C, H * r, W * r)`` into ``(*, C * r**2, H, W)``: the inverse of ``pixel_shuffle``.

    Args:
        input: shape ``(*, C, H * r, W * r)``, any dtype.
        downscale_factor: ``r``, a positive int.

    Returns:
        A tensor of shape ``(*, C * r**2, H, W)`` and ``input``'s dtype.

    Raises:
        ShapeError: fewer than 3 dimensions, or a height or width not divisible by ``r``.

    Examples:
        >>> x = cr.arange(8.0).reshape(1, 1, 2, 4)
        >>> F.pixel_unshuffle(x, 2).shape
        (1, 4, 1, 2)
        >>> bool((F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2) == x).all())
        True
    """
    r = _factor(downscale_factor, "downscale_factor", "pixel_unshuffle")
    _check_rank(input, "pixel_unshuffle")
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise ShapeError(
            f"pixel_unshuffle: the height and width ({height}, {width}, of input shape {input.shape}) must be "
            f"divisible by downscale_factor = {r}"
        )
    lead = len(batch)
    out = input.reshape(*batch, channels, height // r, r, width // r, r)
    out = out.permute(*range(lead), lead, lead + 2, lead + 4, lead + 1, lead + 3)
    return out.reshape(*batch, channels * r * r, height // r, width // r)
