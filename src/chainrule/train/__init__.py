"""Training: a Trainer with progress, metrics, plots, callbacks and exact resume; recipes; the CLI."""

from .callbacks import Callback, EarlyStopping, KeepBest
from .checkpoint import load_checkpoint, save_checkpoint
from .metrics import accuracy
from .tensorboard import TensorBoard
from .trainer import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "KeepBest",
    "TensorBoard",
    "Trainer",
    "accuracy",
    "load_checkpoint",
    "save_checkpoint",
]
