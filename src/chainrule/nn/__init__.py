"""Layers, losses and containers, with PyTorch's names and defaults (``import chainrule.nn as nn``)."""

from . import functional, init, utils  # noqa: F401
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterList, Sequential  # noqa: F401
from .modules import *  # noqa: F401,F403
