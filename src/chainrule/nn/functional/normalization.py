"""Functional normalization: ``F.batch_norm``, ``F.layer_norm``, ``F.group_norm``.

Each normalizes with the *biased* variance, ``(x - mean) / sqrt(var + eps)``,
then scales and shifts.  Each is one fused op (``ops/layers.py``: forward
plus a hand-written backward that is itself differentiable, so
``create_graph=True`` works): training-mode batch norm, layer norm and group
norm normalize with statistics of the input; eval-mode batch norm is the
per-channel affine map ``x * scale + shift`` built from the running
statistics, which (as in PyTorch) receive no gradient.

Half-precision inputs (float16, bfloat16) are normalized in float32 and the
result rounded to the input's dtype, as PyTorch does: a float16 sum over the
normalized elements overflows past 65504 and its variance loses every digit
long before that.  Running statistics keep their own dtype.
"""

from __future__ import annotations

import math

import numpy as np

from ...autograd.mode import autocast_state, no_grad
from ...errors import DTypeError, ShapeError
from ...ops import layers as _layers
from ...ops._util import is_half
from ...ops.casting import cast_to_float32
from ...ops.elementwise import to_dtype
from ...tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def _check_param(op: str, name: str, t, shape) -> None:
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
    if t._data.shape != tuple(shape):
        raise ShapeError(f"{op}: {name} must have shape {tuple(shape)}, got {t._data.shape}")


def _check_dtypes(op: str, x: Tensor, *params) -> None:
    dtype = x._data.dtype
    if dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got {dtype}")
    for p in params:
        if p is not None and p._data.dtype != dtype:
            raise DTypeError(
                f"{op}: input is {dtype} but a parameter is {p._data.dtype}; chainrule does not convert silently: "
                f"call .to({dtype}) on the layer or .to({p._data.dtype}) on the input"
            )


def _in_float32(fn, input, *args, weight=None, bias=None, **kwargs):  # noqa: A002
    """``fn`` on input, weight and bias cast to float32 (differentiably), the result cast back to input's dtype."""
    dtype = input._data.dtype
    input, weight, bias = (None if t is None else to_dtype(t, np.float32) for t in (input, weight, bias))
    return to_dtype(fn(input, *args, weight=weight, bias=bias, **kwargs), dtype)


def _empty_like(input, *params):  # noqa: A002
    """input's (empty) shape, built from empty slices so input and every parameter get zero gradients."""
    out = input.reshape(-1)[:0].reshape(input._data.shape)
    for p in params:
        if p is not None:
            out = out + p.reshape(-1)[:0].sum()
    return out


def batch_norm(
    input: Tensor,  # noqa: A002 - PyTorch's names
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over every dimension but the channel dimension 1 (Ioffe & Szegedy, 2015).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel, with the
    biased variance.  With ``training=True`` the batch statistics normalize,
    and ``running_mean`` / ``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch``, with the
    unbiased batch variance for ``running_var``.  With ``training=False`` the
    running statistics normalize (then they receive no gradient, as in
    PyTorch).

    Args:
        input: the input, shape ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or
            ``(N, C, D, H, W)``, floating point.
        running_mean: the running mean, shape ``(C,)``, updated in place in
            training; None is allowed with ``training=True`` (nothing tracked).
        running_var: the running variance, shape ``(C,)``, updated in place in
            training; None is allowed with ``training=True``.
        weight: the scale, shape ``(C,)``, or None (default) for 1.
        bias: the shift, shape ``(C,)``, or None (default) for 0.
        training: normalize with the batch's statistics (and update the running
            ones) instead of the running ones (default False).
        momentum: the weight of the batch in the running-statistics update
            (default 0.1).
        eps: added to the variance; must be positive in training (default 1e-5).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if a statistic or parameter is not ``(C,)``, or training
            sees only one value per channel.
        ValueError: if ``training=False`` and a running statistic is None.

    Examples:
        >>> x = cr.tensor([[1.0, 10.0], [3.0, 20.0]])
        >>> running_mean, running_var = cr.zeros(2), cr.ones(2)
        >>> F.batch_norm(x, running_mean, running_var, training=True)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> running_mean, running_var  # moved 0.1 of the way to the batch's
        (tensor([0.2000, 1.5000]), tensor([1.1000, 5.9000]))
    """
    if autocast_state() is not None:
        input, weight, bias = cast_to_float32(input, weight, bias)
    op = "batch_norm"
    shape = input._data.shape
    if len(shape) < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C, *), got {shape}")
    channels = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_param(op, name, t, (channels,))
    _check_dtypes(op, input, weight, bias)
    if is_half(input._data.dtype):
        return _in_float32(
            batch_norm,
            input,
            running_mean,
            running_var,
            weight=weight,
            bias=bias,
            training=training,
            momentum=momentum,
            eps=eps,
        )
    view = (channels,) + (1,) * (len(shape) - 2)
    if training:
        if not eps > 0:  # also NaN; PyTorch's rule in training (rsqrt(var + eps) of a constant channel is inf)
            raise ValueError(f"{op}: eps must be positive in training, got {eps!r}")
        count = input._data.size // max(channels, 1)
        if count == 0:
            # an empty batch: an empty output, zero gradients, running statistics untouched (as PyTorch)
            return _empty_like(input, weight, bias)
        if count == 1:
            raise ShapeError(f"{op}: expected more than 1 value per channel when training, got input of shape {shape}")
        axes = (0,) + tuple(range(2, len(shape)))
        out, mean, var = _layers.batch_norm_train(input, axes, eps, view, weight, bias)
        if running_mean is not None or running_var is not None:
            _update_running(running_mean, running_var, mean, var, count, momentum)
        return out
    if running_mean is None or running_var is None:
        raise ValueError(f"{op}: running_mean and running_var must be given when training=False")
    # eval: y = x * scale + shift with per-channel constants from the running statistics (one fused op)
    return _layers.batch_norm_eval(input, running_mean._data, running_var._data, eps, view, weight, bias)


def _update_running(running_mean, running_var, mean, var, count, momentum) -> None:
    """running = (1 - momentum) * running + momentum * batch (unbiased variance), in place."""
    momentum = float(momentum)
    with no_grad():
        if running_mean is not None:
            rm = running_mean._data
            rm *= 1.0 - momentum
            rm += momentum * mean._data.astype(rm.dtype, copy=False)
            running_mean._bump()
        if running_var is not None:
            rv = running_var._data
            rv *= 1.0 - momentum
            rv += (momentum * count / (count - 1)) * var._data.astype(rv.dtype, copy=False)
            running_var._bump()


def layer_norm(
    input: Tensor,  # noqa: A002
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dimensions of each sample (Ba et al., 2016).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and the
    biased variance taken over those dimensions.

    Args:
        input: the input, shape ``(*, *normalized_shape)``.
        normalized_shape (int | tuple[int, ...]): the trailing shape to normalize
            over, e.g. ``(E,)`` or ``E`` for features of size E.
        weight: the scale, shape ``normalized_shape``, or None (default) for 1.
        bias: the shift, shape ``normalized_shape``, or None (default) for 0.
        eps: added to the variance (default 1e-5).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if ``input`` does not end with ``normalized_shape``, or a
            parameter does not have that shape.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0, 3.0]])
        >>> F.layer_norm(x, (3,))
        tensor([[-1.2247,  0.0000,  1.2247]])
        >>> F.layer_norm(x, 3, weight=cr.tensor([1.0, 1.0, 2.0]), bias=cr.tensor([0.0, 0.0, 1.0]))
        tensor([[-1.2247,  0.0000,  3.4495]])
    """
    if autocast_state() is not None:
        input, weight, bias = cast_to_float32(input, weight, bias)
    op = "layer_norm"
    norm_shape = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = input._data.shape
    k = len(norm_shape)
    if k == 0 or len(shape) < k or shape[len(shape) - k :] != norm_shape:
        raise ShapeError(
            f"{op}: input of shape {shape} does not end with normalized_shape {norm_shape}: "
            f"expected input of shape (*, {', '.join(map(str, norm_shape))})"
        )
    _check_param(op, "weight", weight, norm_shape)
    _check_param(op, "bias", bias, norm_shape)
    _check_dtypes(op, input, weight, bias)
    if is_half(input._data.dtype):
        return _in_float32(layer_norm, input, norm_shape, weight=weight, bias=bias, eps=eps)
    axes = tuple(range(len(shape) - k, len(shape)))
    return _layers.norm_affine(input, axes, eps, norm_shape, weight, bias)


def group_norm(
    input: Tensor,  # noqa: A002
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization: each sample's channels in ``num_groups`` groups, normalized over each group (Wu & He, 2018).

    Statistics (mean and biased variance) are taken over the
    ``C / num_groups`` channels of a group and all their positions, then
    ``weight`` and ``bias`` scale and shift per channel.  ``num_groups=1`` is a
    layer norm over ``(C, *)``; ``num_groups=C`` is instance normalization.

    Args:
        input: the input, shape ``(N, C, *)`` with C divisible by ``num_groups``.
        num_groups: the number of groups.
        weight: the scale, shape ``(C,)``, or None (default) for 1.
        bias: the shift, shape ``(C,)``, or None (default) for 0.
        eps: added to the variance (default 1e-5).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ShapeError: if C is not divisible by ``num_groups``, or a parameter is
            not ``(C,)``.

    Examples:
        >>> F.group_norm(cr.tensor([[1.0, 3.0, 10.0, 30.0]]), num_groups=2)
        tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
        >>> F.group_norm(cr.randn(2, 6, 4, 4), 3).shape
        (2, 6, 4, 4)
    """
    if autocast_state() is not None:
        input, weight, bias = cast_to_float32(input, weight, bias)
    op = "group_norm"
    shape = input._data.shape
    if len(shape) < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C, *), got {shape}")
    channels = shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ShapeError(f"{op}: the {channels} channels of input {shape} cannot be split into {num_groups} groups")
    _check_param(op, "weight", weight, (channels,))
    _check_param(op, "bias", bias, (channels,))
    _check_dtypes(op, input, weight, bias)
    if is_half(input._data.dtype):
        return _in_float32(group_norm, input, num_groups, weight=weight, bias=bias, eps=eps)
    per_group = channels // num_groups
    positions = math.prod(shape[2:])
    grouped = input.reshape(shape[0], num_groups, per_group, positions)
    out = _layers.norm_affine(grouped, (2, 3), eps, (num_groups, per_group, 1), weight, bias)
    return out.reshape(shape)
