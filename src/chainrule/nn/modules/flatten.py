"""``chainrule.nn.modules.flatten``: PyTorch's import path of Flatten and Unflatten (defined in ``linear.py``)."""

from .linear import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
