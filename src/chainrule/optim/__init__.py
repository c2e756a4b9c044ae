"""Optimizers and learning-rate schedules, with PyTorch's names, options and trajectories.

``optim.SGD``, ``optim.Adam``, ``optim.AdamW``, ``optim.RMSprop``,
``optim.Adagrad``, ``optim.Adadelta``, ``optim.Adamax``, ``optim.NAdam``,
``optim.RAdam``, ``optim.LBFGS`` (closure, optional strong-Wolfe line search),
``optim.SparseAdam`` (row-sparse embedding gradients) and the schedulers in
``optim.lr_scheduler``.  Each
optimizer has one array path: the update is written into ``p._data`` in place.
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .combined import CombinedOptimizer
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = [
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "CombinedOptimizer",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "SparseAdam",
    "lr_scheduler",
]
