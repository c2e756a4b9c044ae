"""SyncBatchNorm: batch normalization with statistics over the global batch, across all ranks.

Plain ``BatchNorm`` under data parallelism normalizes each rank's batch with
that rank's own mean and variance: with a global batch B over N ranks, the
statistics come from B/N samples, the gradients differ from a single process
with batch B, and small per-rank batches make the estimates noisy.
``SyncBatchNorm`` all-reduces the statistics instead, so N ranks compute
exactly what one process with the whole batch would (up to float rounding).

It is written from differentiable ops around one differentiable all-reduce,
two passes for numerical stability (as the single-process layer)::

    count = sum_r n_r                                   (int64 all-reduce, no gradient)
    mean  = all_reduce(sum(x)) / count
    var   = all_reduce(sum((x - mean)^2)) / count       (biased, used to normalize)
    y     = (x - mean) / sqrt(var + eps) * weight + bias

so autograd derives the backward, whose two all-reduces (the adjoints of the
forward's) every rank runs in the same order.  Cost: three small all-reduces
(C values) in forward and two in backward per layer; the latency of those is
why it is opt-in (convert with :meth:`SyncBatchNorm.convert_sync_batchnorm`).
Running statistics use the global mean and the unbiased global variance, so
they are identical on every rank.  In eval mode, and with one rank, it is
plain batch normalization.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..nn.functional.normalization import _update_running
from ..nn.module import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from .collectives import differentiable_all_reduce
from .comm import ReduceOp, world


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, *) input whose training statistics span every rank's batch (PyTorch's name).

    Parameters and buffers as ``BatchNorm2d``; ``process_group`` (default:
    the world) says which ranks share statistics. In eval mode, and with one
    rank, it is plain batch normalization. ``convert_sync_batchnorm(model)``
    replaces a model's BatchNorm layers.

    Args:
        num_features: the number of channels C.
        eps: added to the variance for stability; default 1e-5.
        momentum: the running statistics' update factor; None means a cumulative average; default 0.1.
        affine: learn a per-channel scale and shift; default True.
        track_running_stats: keep running mean and variance for eval mode; default True.
        process_group: the ``ProcessGroup`` sharing statistics; None means the world.
        device: the device of the parameters and buffers; None means the CPU.
        dtype: their dtype; None means the default dtype.

    Examples:
        >>> import chainrule.distributed as dist
        >>> model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
        >>> model = dist.SyncBatchNorm.convert_sync_batchnorm(model)
        >>> type(model[1]).__name__, model(cr.randn(4, 1, 5, 5)).shape
        ('SyncBatchNorm', (4, 3, 3, 3))
    """

    _dims = (2, 3, 4, 5)
    _layout = "(N, C, *) with 2 to 5 dimensions"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,
        device=None,
        dtype=None,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        group = self.process_group if self.process_group is not None else world()
        if not self.training or group.size == 1:
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        tracking = self.track_running_stats and self.running_mean is not None
        if tracking and self.num_batches_tracked is not None:
            counter = self.num_batches_tracked
            counter._data += 1
            counter._bump()
            factor = 1.0 / float(counter._data) if self.momentum is None else self.momentum
        return sync_batch_norm(
            input,
            self.running_mean if tracking else None,
            self.running_var if tracking else None,
            self.weight,
            self.bias,
            factor,
            self.eps,
            group,
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every BatchNorm layer in ``module`` by a SyncBatchNorm sharing its parameters and buffers.

        Returns the converted module (``module`` itself, changed in place,
        unless ``module`` is itself a BatchNorm layer).
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
            )
            for name in ("weight", "bias"):
                converted.register_parameter(name, module._parameters.get(name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                converted.register_buffer(name, module._buffers.get(name))
            converted.train(module.training)
            return converted
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    module._modules[name] = new
        return module


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group=None):  # noqa: A002
    """Training-mode batch norm of ``input`` (N, C, *) with statistics over all ranks of ``group``.

    ``running_mean`` / ``running_var`` (C,), when given, are updated in place
    with the global statistics (unbiased variance), exactly as batch norm
    over the concatenated batch would.
    """
    group = world() if group is None else group
    shape = input._data.shape
    channels = shape[1]
    axes = (0, *range(2, len(shape)))
    view = (1, channels) + (1,) * (len(shape) - 2)
    count = np.array([input._data.size // max(channels, 1)], dtype=np.int64)
    group.all_reduce(count, ReduceOp.SUM, "the sample count all-reduce of SyncBatchNorm")
    total = int(count[0])
    if total <= 1:
        raise ShapeError(
            f"SyncBatchNorm: expected more than 1 value per channel across all ranks when training, got {total} "
            f"(local input of shape {shape})"
        )
    mean = differentiable_all_reduce(input.sum(dim=axes), group) / total
    centered = input - mean.reshape(view)
    var = differentiable_all_reduce((centered * centered).sum(dim=axes), group) / total
    out = centered * (var + eps).rsqrt().reshape(view)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + bias.reshape(view)
    _update_running(running_mean, running_var, mean, var, total, momentum)
    return out
