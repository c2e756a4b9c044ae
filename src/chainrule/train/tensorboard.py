"""The Trainer's TensorBoard log: a callback that writes each epoch's scalars, gradient norms and histograms.

::

    from chainrule.train import TensorBoard, Trainer

    trainer = Trainer(model, optimizer, F.cross_entropy, train_loader, val_loader,
                      callbacks=[TensorBoard("runs/digits/tensorboard")])
    trainer.fit(10)                       # then: tensorboard --logdir runs/digits/tensorboard

``chainrule train --tensorboard`` adds it (``RUN_DIR/tensorboard``).  After
every epoch it writes, with the epoch as the step:

* every number in the epoch's record: ``loss/train``, ``loss/val``,
  ``accuracy/val``, ``rmse/val``, ... (``train_X`` / ``val_X`` become
  ``X/train`` / ``X/val``, so TensorBoard draws them on one chart), ``lr``
  and ``time/epoch_seconds``;
* gradient norms per layer: with a ``GradientMonitor`` on the Trainer
  (``--monitor``), each of its records (``grad_norm/LAYER``,
  ``update_ratio/LAYER`` and ``grad_norm/total``, at the optimizer step it was
  taken); without one, the norm of each parameter's gradient from the
  epoch's last step (``grad_norm/PARAM``);
* histograms of every parameter (``weights/PARAM``) and of its gradient
  from the epoch's last step (``gradients/PARAM``), unless
  ``histograms=False``.

A resumed run continues the same curves: events written after the
checkpoint the run resumed from are dropped (TensorBoard's ``purge_step``).
Needs ``pip install 'chainrule[tensorboard]'``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .callbacks import Callback

_PREFIXES = ("train_", "val_", "test_")


def scalar_tag(key: str) -> str:
    """The TensorBoard tag for an epoch record's key: ``val_accuracy`` -> ``accuracy/val``, ``lr`` -> ``lr``."""
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return f"{key[len(prefix) :]}/{prefix[:-1]}"
    if key == "seconds":
        return "time/epoch_seconds"
    return key


class TensorBoard(Callback):
    """Write the run's curves, gradient norms and weight/gradient histograms to ``log_dir`` after each epoch.

    Args:
        log_dir: the directory of the event files (created if missing); ``tensorboard --logdir`` reads it.
        histograms: also write histograms of every parameter and of its last gradient, each epoch.

    Examples:
        >>> import tempfile
        >>> import chainrule as cr
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> from chainrule.train import TensorBoard, Trainer
        >>> from chainrule.utils.tensorboard import read_scalars
        >>> model = cr.nn.Linear(4, 2)
        >>> loader = DataLoader(TensorDataset(cr.randn(32, 4), cr.randint(0, 2, (32,))), batch_size=8)
        >>> logs = tempfile.mkdtemp()
        >>> trainer = Trainer(model, cr.optim.SGD(model.parameters(), lr=0.1), cr.nn.functional.cross_entropy,
        ...                   loader, loader, callbacks=[TensorBoard(logs)], progress=False, log=None, plots=False)
        >>> _ = trainer.fit(2)
        >>> [step for step, _ in read_scalars(logs)["loss/val"]]
        [1, 2]
    """

    def __init__(self, log_dir, histograms: bool = True):
        from ..utils.tensorboard import SummaryWriter  # noqa: PLC0415, F401 - the extra's error at construction

        self.log_dir = Path(log_dir)
        self.histograms = histograms
        self.writer = None
        self._monitor_seen = 0

    def _active(self, trainer) -> bool:
        distributed = getattr(trainer, "distributed", None)
        return distributed is None or distributed.is_main  # rank 0 alone writes files

    def on_train_start(self, trainer):
        if not self._active(trainer):
            return
        from ..utils.tensorboard import SummaryWriter  # noqa: PLC0415

        resumed = trainer.epoch > 0
        # one file per (process, start): tensorboardX names files by the second, and a run resumed within
        # that second would otherwise write over the first file
        suffix = f".{os.getpid()}.from-epoch-{trainer.epoch + 1}"
        self.writer = SummaryWriter(
            self.log_dir, purge_step=trainer.epoch + 1 if resumed else None, filename_suffix=suffix
        )
        monitor = getattr(trainer, "monitor", None)
        self._monitor_seen = len(monitor.history) if monitor is not None else 0
        settings = getattr(trainer, "run_settings", None)
        if settings and not resumed:
            self.writer.add_text("run/settings", "```\n" + json.dumps(settings, indent=1, default=str) + "\n```", 0)

    def on_epoch_end(self, trainer, metrics):
        writer = self.writer
        if writer is None:
            return
        epoch = int(metrics["epoch"])
        for key, value in metrics.items():
            if key == "epoch" or type(value) not in (int, float):  # bools and strings are not curves
                continue
            writer.add_scalar(scalar_tag(key), float(value), epoch)
        monitor = getattr(trainer, "monitor", None)
        if monitor is not None:
            self._write_monitor(monitor)
        else:
            self._write_grad_norms(trainer.model, epoch)
        if self.histograms:
            self._write_histograms(trainer.model, epoch)
        writer.flush()

    def _write_monitor(self, monitor):
        for record in monitor.history[self._monitor_seen :]:
            step = int(record["step"])
            self.writer.add_scalar("grad_norm/total", float(record["total_norm"]), step)
            for layer, stats in record["layers"].items():
                self.writer.add_scalar(f"grad_norm/{layer}", float(stats["grad_norm"]), step)
                ratio = stats.get("update_ratio")
                if ratio is not None and math.isfinite(ratio):
                    self.writer.add_scalar(f"update_ratio/{layer}", float(ratio), step)
        self._monitor_seen = len(monitor.history)

    def _write_grad_norms(self, model, epoch):
        total = 0.0
        for name, p in model.named_parameters():
            if p.grad is None:
                continue
            g = _grad_array(p.grad).astype(np.float64, copy=False)
            square = float(np.dot(g.reshape(-1), g.reshape(-1)))
            total += square
            self.writer.add_scalar(f"grad_norm/{name}", math.sqrt(square), epoch)
        self.writer.add_scalar("grad_norm/total", math.sqrt(total), epoch)

    def _write_histograms(self, model, epoch):
        from ..backend import to_numpy  # noqa: PLC0415
        from ..utils.tensorboard import histogram_ready  # noqa: PLC0415

        for name, p in model.named_parameters():
            weights = histogram_ready(to_numpy(p._data))
            if weights.size:
                self.writer.add_histogram(f"weights/{name}", weights, epoch)
            if p.grad is not None:
                grads = histogram_ready(_grad_array(p.grad))  # a row-sparse gradient: the rows it touched
                if grads.size:
                    self.writer.add_histogram(f"gradients/{name}", grads, epoch)

    def on_train_end(self, trainer):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _grad_array(grad) -> np.ndarray:
    """A gradient's values as a NumPy array: a Tensor's data, or a row-sparse gradient's rows."""
    from ..backend import to_numpy  # noqa: PLC0415
    from ..tensor import Tensor  # noqa: PLC0415

    if isinstance(grad, Tensor):
        return to_numpy(grad._data)
    values = grad.coalesce().values  # row-sparse: repeated rows summed, as the dense gradient holds them
    return to_numpy(values._data if isinstance(values, Tensor) else values)
