"""``chainrule.nn.modules.container``: PyTorch's import path of the containers (defined in ``chainrule.nn.module``)."""

from ..module import ModuleDict, ModuleList, ParameterList, Sequential

__all__ = ["ModuleDict", "ModuleList", "ParameterList", "Sequential"]
