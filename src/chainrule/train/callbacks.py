"""Callbacks: hooks the Trainer calls after every epoch.

A callback sees the trainer and the epoch's metrics and may set
``trainer.should_stop = True``.  Callbacks that keep state define
``state_dict()`` / ``load_state_dict()`` so that a resumed run behaves as an
uninterrupted one.
"""

from __future__ import annotations

import math


class Callback:
    """The base of the Trainer's hooks: subclass it and override the methods you need.

    ``on_train_start(trainer)`` runs when ``fit`` starts (after a resume has
    restored ``trainer.epoch``), ``on_epoch_end(trainer, metrics)`` after every
    epoch with that epoch's record (``epoch``, ``loss``, ``val_loss``, the
    metrics), and ``on_train_end(trainer)`` when ``fit`` returns.  Set
    ``trainer.should_stop = True`` to end training after the current epoch.
    A callback that keeps state returns it from ``state_dict()`` and takes it
    back in ``load_state_dict(state)``: the checkpoint stores it, so a resumed
    run behaves as an uninterrupted one.

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> from chainrule.train import Callback, Trainer
        >>> class StopAfterOne(Callback):
        ...     def on_epoch_end(self, trainer, metrics):
        ...         trainer.should_stop = metrics["epoch"] >= 1
        >>> model = cr.nn.Linear(4, 2)
        >>> loader = DataLoader(TensorDataset(cr.randn(16, 4), cr.randint(0, 2, (16,))), batch_size=8)
        >>> trainer = Trainer(model, cr.optim.SGD(model.parameters(), lr=0.1), cr.nn.functional.cross_entropy,
        ...                   loader, callbacks=[StopAfterOne()], progress=False, log=None, plots=False)
        >>> len(trainer.fit(5))
        1
    """

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
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Epochs whose record lacks ``monitor`` (or holds NaN) are not counted.

    Args:
        monitor: the key of the epoch record to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: how many epochs in a row without improvement end training.
        mode: ``"min"`` when smaller is better (losses), ``"max"`` when larger is (accuracies).
        min_delta: the least change that counts as an improvement.

    Examples:
        >>> from chainrule.train import EarlyStopping
        >>> class Run:  # stands in for the Trainer
        ...     should_stop = False
        ...     def log(self, message): print(message)
        >>> stop, run = EarlyStopping(patience=2), Run()
        >>> for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7], start=1):
        ...     stop.on_epoch_end(run, {"epoch": epoch, "val_loss": loss})
        early stopping: val_loss has not improved for 2 epochs
        >>> run.should_stop, stop.best
        (True, 0.5)
    """

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
    """Save the model's weights to ``run_dir/filename`` whenever ``monitor`` improves.

    Nothing is written when the trainer has no ``run_dir``; ``best`` and
    ``best_epoch`` record the best value and its epoch either way.

    Args:
        monitor: the key of the epoch record to watch, e.g. ``"val_loss"``.
        mode: ``"min"`` when smaller is better, ``"max"`` when larger is.
        filename: the weights file (safetensors) inside the run directory.

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> from chainrule.train import KeepBest, Trainer
        >>> model = cr.nn.Linear(4, 2)
        >>> loader = DataLoader(TensorDataset(cr.randn(16, 4), cr.randint(0, 2, (16,))), batch_size=8)
        >>> best = KeepBest(monitor="val_loss")
        >>> trainer = Trainer(model, cr.optim.SGD(model.parameters(), lr=0.1), cr.nn.functional.cross_entropy,
        ...                   loader, loader, callbacks=[best], run_dir="run", progress=False, log=None, plots=False)
        >>> _ = trainer.fit(3)
        >>> sorted(cr.io.load("run/best.safetensors")) == sorted(model.state_dict())
        True
    """

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
