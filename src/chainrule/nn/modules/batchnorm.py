"""``chainrule.nn.modules.batchnorm``: PyTorch's import path of the batch norms (defined in ``normalization.py``)."""

from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "_BatchNorm"]
