"""Normalization layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm.

Batch norm keeps ``running_mean`` / ``running_var`` buffers (updated in
training with ``momentum``, unbiased variance for ``running_var``, exactly as
PyTorch) and a ``num_batches_tracked`` counter; ``momentum=None`` makes the
running statistics a cumulative average.  In eval mode the running
statistics normalize (unless ``track_running_stats=False``, where batch
statistics are always used).
"""

from __future__ import annotations

import numpy as np

from ...autograd.mode import no_grad
from ...errors import ShapeError
from ...tensor import Tensor
from .. import init
from ..functional import normalization as F
from ..module import Module
from . import _checks as checks
from .linear import new_buffer, new_parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm"]


class _BatchNorm(Module):
    _dims: tuple = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        layer = type(self).__name__
        num_features = checks.size(layer, "num_features", num_features, minimum=1)
        # PyTorch refuses eps <= 0 in a training forward ("eps must be positive during training")
        checks.nonnegative(layer, "eps", eps, strict=True)
        if momentum is not None:
            checks.real(layer, "momentum", momentum)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = new_parameter((num_features,), dtype, device)
            if bias:
                self.bias = new_parameter((num_features,), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", new_buffer("zeros", (num_features,), dtype, device))
            self.register_buffer("running_var", new_buffer("ones", (num_features,), dtype, device))
            self.register_buffer("num_batches_tracked", new_buffer("zeros", (), np.int64, device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input: Tensor) -> None:  # noqa: A002 - PyTorch's name
        shape = input.data.shape
        if len(shape) not in self._dims:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected {self._layout} input, "
                f"got {len(shape)}-D input of shape {shape}"
            )
        if shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected {self.num_features} channels in dimension 1 "
                f"(input {self._layout}), got input of shape {shape}"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            counter = self.num_batches_tracked
            counter.data += 1
            counter._bump()
            factor = 1.0 / float(counter.data) if self.momentum is None else self.momentum
        # batch statistics in training, and always when there are no running statistics
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input: statistics per channel C over N (and L).

    Parameters weight, bias (C,) initialized to 1 and 0 (``affine=False``: none;
    ``bias=False``: no bias); buffers running_mean
    (C,) = 0, running_var (C,) = 1, num_batches_tracked () = 0.
    """

    _dims = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input: statistics per channel C over N, H and W."""

    _dims = (4,)
    _layout = "4-D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input: statistics per channel C over N, D, H and W."""

    _dims = (5,)
    _layout = "5-D (N, C, D, H, W)"


class LayerNorm(Module):
    """Normalizes over the last ``len(normalized_shape)`` dimensions of each sample.

    Shapes: input (*, *normalized_shape) -> same shape.  weight
    (``normalized_shape``) = 1 and bias = 0 when ``elementwise_affine``
    (``bias=False`` drops the bias).
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if not isinstance(normalized_shape, (list, tuple)):
            normalized_shape = (normalized_shape,)
        if len(normalized_shape) == 0:
            raise checks.LayerArgumentError(
                "LayerNorm: normalized_shape must name at least one dimension, got (); e.g. LayerNorm(features)"
            )
        self.normalized_shape = tuple(checks.size("LayerNorm", "normalized_shape", s) for s in normalized_shape)
        checks.nonnegative("LayerNorm", "eps", eps, hint=" (a negative eps makes the output NaN)")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = new_parameter(self.normalized_shape, dtype, device)
            if bias:
                self.bias = new_parameter(self.normalized_shape, dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        shape = input.data.shape
        k = len(self.normalized_shape)
        if shape[len(shape) - k :] != self.normalized_shape or len(shape) < k:
            raise ShapeError(
                f"LayerNorm({self.normalized_shape}): expected input of shape "
                f"(*, {', '.join(map(str, self.normalized_shape))}), got {shape}"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalizes each sample over groups of ``num_channels // num_groups`` channels (and all positions).

    Shapes: input (N, C, *) with C == num_channels -> same shape; weight and
    bias (C,) initialized to 1 and 0 when ``affine`` (``bias=False`` drops the bias).
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        num_groups = checks.size("GroupNorm", "num_groups", num_groups, minimum=1)
        num_channels = checks.size("GroupNorm", "num_channels", num_channels)
        checks.divisible("GroupNorm", "num_channels", num_channels, "num_groups", num_groups)
        checks.nonnegative("GroupNorm", "eps", eps, hint=" (a negative eps makes the output NaN)")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = new_parameter((num_channels,), dtype, device)
            if bias:
                self.bias = new_parameter((num_channels,), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        shape = input.data.shape
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, {self.num_channels}, *), got {shape}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"affine={self.affine}, bias={self.bias is not None}"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, {affine}"
