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
        shape = input._data.shape
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
            counter._data += 1
            counter._bump()
            factor = 1.0 / float(counter._data) if self.momentum is None else self.momentum
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
    """Batch normalization (Ioffe & Szegedy, 2015) over ``(N, C)`` or ``(N, C, L)`` input, per channel C.

    Shapes: input ``(N, C)`` or ``(N, C, L)``, output the same shape;
    statistics per channel over N (and L).

    In training, each channel is normalized with the batch's mean and biased
    variance, ``y = (x - mean) / sqrt(var + eps) * weight + bias``, and the
    running statistics move towards the batch's:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased
    variance for ``running_var``), exactly as PyTorch.  In eval mode
    (``module.eval()``) the running statistics normalize, unless
    ``track_running_stats=False``, where batch statistics are always used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance, > 0 (default 1e-5).
        momentum: the weight of each batch in the running statistics (default
            0.1); None makes them a cumulative average over all batches.
        affine: whether to learn ``weight`` and ``bias`` (default True).
        track_running_stats: whether to keep running statistics (default True).
        device (str | Device | None): where parameters and buffers live (default
            None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).
        bias: with ``affine``, whether to learn ``bias`` (default True; keyword
            only).

    Attributes:
        weight (Tensor | None): the learnable scale ``(C,)``, initialized to 1.
        bias (Tensor | None): the learnable shift ``(C,)``, initialized to 0.
        running_mean (Tensor | None): buffer ``(C,)``, starts at 0.
        running_var (Tensor | None): buffer ``(C,)``, starts at 1.
        num_batches_tracked (Tensor | None): int64 buffer ``()``, the number of
            training batches seen.

    Examples:
        >>> bn = nn.BatchNorm1d(2)
        >>> bn(cr.tensor([[1.0, 10.0], [3.0, 20.0]])).detach()
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> bn.running_mean, bn.running_var
        (tensor([0.2000, 1.5000]), tensor([1.1000, 5.9000]))
    """

    _dims = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization (Ioffe & Szegedy, 2015) over ``(N, C, H, W)`` input, per channel C.

    Shapes: input ``(N, C, H, W)``, output the same shape; statistics per
    channel over N, H and W.

    In training, each channel is normalized with the batch's mean and biased
    variance, ``y = (x - mean) / sqrt(var + eps) * weight + bias``, and the
    running statistics move towards the batch's:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased
    variance for ``running_var``), exactly as PyTorch.  In eval mode
    (``module.eval()``) the running statistics normalize, unless
    ``track_running_stats=False``, where batch statistics are always used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance, > 0 (default 1e-5).
        momentum: the weight of each batch in the running statistics (default
            0.1); None makes them a cumulative average over all batches.
        affine: whether to learn ``weight`` and ``bias`` (default True).
        track_running_stats: whether to keep running statistics (default True).
        device (str | Device | None): where parameters and buffers live (default
            None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).
        bias: with ``affine``, whether to learn ``bias`` (default True; keyword
            only).

    Attributes:
        weight (Tensor | None): the learnable scale ``(C,)``, initialized to 1.
        bias (Tensor | None): the learnable shift ``(C,)``, initialized to 0.
        running_mean (Tensor | None): buffer ``(C,)``, starts at 0.
        running_var (Tensor | None): buffer ``(C,)``, starts at 1.
        num_batches_tracked (Tensor | None): int64 buffer ``()``, the number of
            training batches seen.

    Examples:
        >>> bn = nn.BatchNorm2d(16)
        >>> bn(cr.randn(8, 16, 5, 5)).shape
        (8, 16, 5, 5)
        >>> sorted(bn.state_dict())
        ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    _dims = (4,)
    _layout = "4-D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalization (Ioffe & Szegedy, 2015) over ``(N, C, D, H, W)`` input, per channel C.

    Shapes: input ``(N, C, D, H, W)``, output the same shape; statistics per
    channel over N, D, H and W.

    In training, each channel is normalized with the batch's mean and biased
    variance, ``y = (x - mean) / sqrt(var + eps) * weight + bias``, and the
    running statistics move towards the batch's:
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased
    variance for ``running_var``), exactly as PyTorch.  In eval mode
    (``module.eval()``) the running statistics normalize, unless
    ``track_running_stats=False``, where batch statistics are always used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance, > 0 (default 1e-5).
        momentum: the weight of each batch in the running statistics (default
            0.1); None makes them a cumulative average over all batches.
        affine: whether to learn ``weight`` and ``bias`` (default True).
        track_running_stats: whether to keep running statistics (default True).
        device (str | Device | None): where parameters and buffers live (default
            None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).
        bias: with ``affine``, whether to learn ``bias`` (default True; keyword
            only).

    Attributes:
        weight (Tensor | None): the learnable scale ``(C,)``, initialized to 1.
        bias (Tensor | None): the learnable shift ``(C,)``, initialized to 0.
        running_mean (Tensor | None): buffer ``(C,)``, starts at 0.
        running_var (Tensor | None): buffer ``(C,)``, starts at 1.
        num_batches_tracked (Tensor | None): int64 buffer ``()``, the number of
            training batches seen.

    Examples:
        >>> bn = nn.BatchNorm3d(4)
        >>> bn(cr.randn(2, 4, 3, 5, 5)).shape
        (2, 4, 3, 5, 5)
    """

    _dims = (5,)
    _layout = "5-D (N, C, D, H, W)"


class LayerNorm(Module):
    """Layer normalization (Ba et al., 2016) over the last ``len(normalized_shape)`` dimensions of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with the mean and
    biased variance of each sample's trailing dimensions; the same in training
    and eval.  Shapes: input ``(*, *normalized_shape)``, output the same shape.
    See [`F.layer_norm`][chainrule.nn.functional.layer_norm].

    Args:
        normalized_shape (int | tuple[int, ...]): the trailing shape to
            normalize over, e.g. the feature size E.
        eps: added to the variance, >= 0 (default 1e-5).
        elementwise_affine: whether to learn ``weight`` and ``bias`` (default
            True).
        bias: with ``elementwise_affine``, whether to learn ``bias`` (default
            True).
        device (str | Device | None): where parameters and buffers live (default
            None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor | None): the learnable scale, shape ``normalized_shape``,
            initialized to 1.
        bias (Tensor | None): the learnable shift, shape ``normalized_shape``,
            initialized to 0.

    Examples:
        >>> norm = nn.LayerNorm(3)
        >>> norm(cr.tensor([[1.0, 2.0, 3.0]])).detach()
        tensor([[-1.2247,  0.0000,  1.2247]])
        >>> nn.LayerNorm((5, 10))(cr.randn(20, 5, 10)).shape
        (20, 5, 10)
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
        shape = input._data.shape
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
    """Group normalization (Wu & He, 2018): each sample's channels in groups, normalized over each group.

    Statistics (mean and biased variance) are taken over the
    ``num_channels // num_groups`` channels of a group and all their
    positions, then ``weight`` and ``bias`` scale and shift per channel; the
    same in training and eval, independent of the batch size.  Shapes: input
    ``(N, C, *)`` with C == ``num_channels``, output the same shape.  See
    [`F.group_norm`][chainrule.nn.functional.group_norm].

    Args:
        num_groups: the number of groups; must divide ``num_channels``.
        num_channels: C, the number of channels.
        eps: added to the variance, >= 0 (default 1e-5).
        affine: whether to learn ``weight`` and ``bias`` (default True).
        device (str | Device | None): where parameters and buffers live (default
            None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).
        bias: with ``affine``, whether to learn ``bias`` (default True; keyword
            only).

    Attributes:
        weight (Tensor | None): the learnable scale ``(C,)``, initialized to 1.
        bias (Tensor | None): the learnable shift ``(C,)``, initialized to 0.

    Examples:
        >>> norm = nn.GroupNorm(2, 4)
        >>> norm(cr.tensor([[1.0, 3.0, 10.0, 30.0]])).detach()
        tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
        >>> nn.GroupNorm(3, 6)(cr.randn(20, 6, 10, 10)).shape
        (20, 6, 10, 10)
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
        shape = input._data.shape
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input of shape "
                f"(N, {self.num_channels}, *), got {shape}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"affine={self.affine}, bias={self.bias is not None}"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, {affine}"
