"""``chainrule.utils.data.distributed``: PyTorch's import path of ``DistributedSampler``."""

from ...distributed.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
