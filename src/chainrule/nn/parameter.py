"""``chainrule.nn.parameter``: PyTorch's import path of ``Parameter`` and ``Buffer`` (defined in ``module.py``)."""

from .module import Buffer, Parameter

__all__ = ["Buffer", "Parameter"]
