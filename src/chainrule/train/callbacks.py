"""Callbacks: hooks the Trainer calls after every epoch.

A callback sees the trainer and the epoch's metrics and may set
``trainer.should_stop = True``.  Callbacks that keep state define
``state_dict()`` / ``load_state_dict()`` so that a resumed run behaves as an
uninterrupted one.
"""

from __future__ import annotations

import math


class Callback:
    def on_train_start(self, trainer) -> None:
        pass

    def on_epoch_end(self, trainer, metrics: dict) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _better(value, best, mode, min_delta=0.0):
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, mode: str = "min", min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best = None
        self.bad_epochs = 0

    def on_epoch_end(self, trainer, metrics):
        value = metrics.get(self.monitor)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        if _better(value, self.best, self.mode, self.min_delta):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.should_stop = True
                trainer.log(f"early stopping: {self.monitor} has not improved for {self.patience} epochs")

    def state_dict(self):
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state):
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]


class KeepBest(Callback):
    """Save the model's weights to ``best.safetensors`` whenever ``monitor`` improves."""

    def __init__(self, monitor: str = "val_loss", mode: str = "min", filename: str = "best.safetensors"):
        if mode not in ("min", "max"):
            raise ValueError(f"KeepBest: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.filename = monitor, mode, filename
        self.best = None
        self.best_epoch = None

    def on_epoch_end(self, trainer, metrics):
        value = metrics.get(self.monitor)
        if value is None:
            return
        if _better(value, self.best, self.mode):
            self.best, self.best_epoch = value, metrics["epoch"]
            if trainer.run_dir is not None:
                from ..io import save  # noqa: PLC0415

                save(trainer.model.state_dict(), trainer.run_dir / self.filename)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]
