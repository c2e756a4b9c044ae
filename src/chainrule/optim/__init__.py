"""Optimizers and learning-rate schedules, with PyTorch's names, options and trajectories.

``optim.SGD``, ``optim.Adam``, ``optim.AdamW``, ``optim.RMSprop``,
``optim.Adagrad``, ``optim.SparseAdam`` (row-sparse embedding gradients) and
the schedulers in ``optim.lr_scheduler``.  Each
optimizer has one array path: the update is written into ``p._data`` in place.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .combined import CombinedOptimizer
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CombinedOptimizer",
    "Optimizer",
    "RMSprop",
    "SparseAdam",
    "lr_scheduler",
]
