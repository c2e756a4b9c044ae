"""``chainrule.nn.modules.module``: PyTorch's import path of ``Module`` (defined in ``chainrule.nn.module``)."""

from ..module import Module

__all__ = ["Module"]
