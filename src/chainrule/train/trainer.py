"""The training loop: epochs, progress bar, evaluation, metrics log, plots, callbacks, checkpoints.

::

    trainer = Trainer(model, optimizer, F.cross_entropy, train_loader, val_loader,
                      metrics={"accuracy": accuracy}, run_dir="runs/digits")
    history = trainer.fit(epochs=10)

After every epoch the trainer evaluates, writes ``run_dir/checkpoint.safetensors``
(model, optimizer, scheduler, RNG state, epoch, history, callback state, and
the run's settings when given) and then rewrites ``run_dir/metrics.jsonl``
from that history (both atomically, in that order, so the log never holds an
epoch the checkpoint lacks); at the end it draws ``loss.png`` and
``accuracy.png``.  ``fit(epochs, resume=path)`` continues from
such a checkpoint and ends with bit-for-bit the weights an uninterrupted run
would have: every source of randomness (the default generator, the loader's
generator) is restored, and batches are drawn in the same order.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.mode import no_grad
from ..backend import array_module
from ..errors import GradientError
from ..io import CheckpointError
from ..optim.optimizer import _check_like
from ..tensor import Tensor
from .checkpoint import RESTORE_ERRORS, load_checkpoint, save_checkpoint
from .metrics import MetricsLog
from .plots import plot_history

NONFINITE_POLICIES = ("skip", "raise", "step")


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


class Trainer:
    """Fit ``model`` with ``optimizer`` on ``loss_fn(output, target)`` over ``train_loader``.

    ``metrics`` maps names to ``fn(output, target) -> float`` (averaged over
    batches, weighted by batch size).  ``scheduler`` steps once per epoch
    (``scheduler_interval="epoch"``) or per batch (``"batch"``);
    ReduceLROnPlateau gets the validation loss.  ``grad_clip`` clips the
    global gradient norm before each step.

    Non-finite gradients (``nonfinite``): with ``"skip"`` (the default) a
    batch whose total gradient norm is NaN or inf does not update the weights:
    the optimizer step is skipped, the first skip is logged as a warning, the
    epoch's record counts them (``skipped_steps``) and its loss and metrics
    average only the batches that were used; an epoch in which every step is
    skipped raises ``GradientError`` (training has diverged).  ``"raise"``
    raises ``GradientError`` at the first such batch, naming the parameters;
    ``"step"`` steps anyway, as a plain PyTorch loop would (with ``grad_clip``
    the gradients then become NaN, see ``clip_grad_norm_``).  The check costs
    one norm per gradient per step.

    ``monitor``: a ``chainrule.diagnostics.GradientMonitor`` stepped after
    every optimizer step (skipped ones included); each kind of problem it
    finds is logged once as a warning (unless its ``on_issue`` is None), and
    with a ``run_dir`` its report, plot and JSON are written there at the end
    of ``fit``.

    ``compile``: each batch's forward, loss, ``zero_grad`` and backward run
    through ``chainrule.compile`` (step capture: traced on the first batches of
    a shape, then replayed without the Python that chose the kernels; the same
    kernels, so the same values bit for bit).  The gradient check, clipping,
    optimizer step, scheduler and metrics stay eager.  Off with a ``monitor`` or
    ``distributed`` (their hooks would make every step eager); a batch the
    capture cannot take (see ``chainrule.compile``) runs eagerly with a
    one-time warning.

    ``distributed``: a ``chainrule.distributed.DistributedTraining`` when the
    run is data-parallel.  Only its main rank (0) logs, shows a progress bar
    and writes metrics, plots and checkpoints (the others get
    ``run_dir=None``); epoch losses and metrics are summed over ranks before
    averaging, so every rank sees (and acts on) the same global values.

    Args:
        model: the module to train.
        optimizer: its optimizer.
        loss_fn: ``loss_fn(output, target) -> Tensor``, a scalar loss.
        train_loader: an iterable of ``(inputs, target)`` batches (a ``DataLoader``).
        val_loader: batches to evaluate after every epoch, or None.
        scheduler: a learning-rate scheduler, or None.
        metrics: ``{name: fn(output, target) -> float}``.
        run_dir: a directory for ``metrics.jsonl``, plots and checkpoints, or None to write nothing.
        callbacks: ``Callback`` objects.
        progress: show a progress bar per epoch.
        grad_clip: the largest global gradient norm, or None.
        scheduler_interval: ``"epoch"`` or ``"batch"``.
        log: where messages go (a function of one string), or None for silence.
        plots: write loss and metric plots (PNG) into ``run_dir``.
        nonfinite: ``"skip"``, ``"raise"`` or ``"step"``, as above.
        monitor: a ``GradientMonitor``, or None.
        compile: capture and replay each batch's forward and backward (``chainrule.compile``), as above.
        distributed: a ``DistributedTraining``, or None.
        run_settings: the run's settings (recipe, hyperparameters), stored in its checkpoints.

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.data import DataLoader, TensorDataset
        >>> from chainrule.train import Trainer, accuracy
        >>> x = cr.randn(64, 2)
        >>> y = (x[:, 0] > 0).long()
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        >>> model = cr.nn.Linear(2, 2)
        >>> trainer = Trainer(model, cr.optim.Adam(model.parameters(), lr=0.1), cr.nn.functional.cross_entropy,
        ...                   loader, loader, metrics={"accuracy": accuracy}, progress=False, log=None, plots=False)
        >>> history = trainer.fit(20)
        >>> history[-1]["epoch"], history[-1]["val_accuracy"] > 0.9
        (20, True)
    """

    def __init__(
        self,
        model,
        optimizer,
        loss_fn,
        train_loader,
        val_loader=None,
        scheduler=None,
        metrics=None,
        run_dir=None,
        callbacks=(),
        progress: bool = True,
        grad_clip: float | None = None,
        scheduler_interval: str = "epoch",
        log=print,
        plots: bool = True,
        nonfinite: str = "skip",
        monitor=None,
        distributed=None,
        run_settings: dict | None = None,
        compile: bool = False,  # noqa: A002 - PyTorch's word for it (torch.compile)
    ):
        self.distributed = distributed
        if distributed is not None and not distributed.is_main:
            run_dir, progress, log = None, False, None  # rank 0 alone prints and writes files
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite must be one of {', '.join(NONFINITE_POLICIES)}, got {nonfinite!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.scheduler = scheduler
        self.metrics = dict(metrics or {})
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        self.progress = progress
        self.grad_clip = grad_clip
        self.scheduler_interval = scheduler_interval
        self._log = log
        self.plots = plots
        self.history: list = []
        self._device = None  # the model's device, found on the first batch
        self.epoch = 0
        self.should_stop = False
        self.metrics_log = MetricsLog(self.run_dir / "metrics.jsonl") if self.run_dir else None
        self.nonfinite = nonfinite
        self.run_settings = run_settings
        self.monitor = monitor
        if monitor is not None and monitor.on_issue is not None:
            monitor.on_issue = self._on_gradient_issue
        self._warned_nonfinite = False
        self._captured = None  # the compiled forward-backward (``compile``), or None
        self._step_fn = self._forward_backward  # what a training batch runs: it, or it captured
        if compile and monitor is None and distributed is None:
            from ..compile import compile as capture  # noqa: PLC0415

            self._step_fn = self._captured = capture(self._forward_backward)

    # ------------------------------------------------------------------ helpers

    def _reduce(self, totals: dict, count):
        """Sum an epoch's totals over ranks when data-parallel (``distributed``); unchanged otherwise."""
        if self.distributed is None:
            return totals, count
        return self.distributed.reduce_totals(totals, count)

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    @property
    def checkpoint_path(self):
        return self.run_dir / "checkpoint.safetensors" if self.run_dir else None

    def _generators(self):
        gens = []
        for loader in (self.train_loader, self.val_loader):
            g = getattr(loader, "generator", None)
            if g is not None and all(g is not h for h in gens):
                gens.append(g)
        return gens

    @staticmethod
    def _split(batch):
        if isinstance(batch, dict):
            return batch["input"], batch["target"]
        inputs, target = batch[0], batch[1]
        return inputs, target

    def _place(self, pair):
        """Move a batch to the model's device (batches come from the DataLoader on the CPU)."""
        device = self._device
        if device is None:
            first = next(iter(self.model.parameters()), None)
            device = self._device = first.device if first is not None else "cpu"
        if device == "cpu":
            return pair
        return tuple(_to(v, device) for v in pair)

    def _forward(self, inputs):
        if isinstance(inputs, (tuple, list)):
            return self.model(*inputs)
        return self.model(inputs)

    def _forward_backward(self, *tensors):
        """One batch's forward, loss, ``zero_grad`` and backward: ``tensors`` are the inputs, then the target (flat,
        so that ``chainrule.compile`` sees each as an argument).  Returns (output, loss)."""
        *inputs, target = tensors
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        self.optimizer.zero_grad()
        loss.backward()
        return output, loss

    def _is_plateau(self):
        return self.scheduler is not None and type(self.scheduler).__name__ == "ReduceLROnPlateau"

    # ------------------------------------------------------------------ loops

    def train_epoch(self, epoch: int) -> dict:
        self.model.train()
        sampler: Any = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)  # a DistributedSampler draws each epoch's order from (seed, epoch)
        totals: dict = {"loss": 0.0, **{k: 0.0 for k in self.metrics}}
        count = 0
        skipped = used = 0
        batches = _progress(self.train_loader, len(self.train_loader), f"epoch {epoch}", self.progress)
        for batch in batches:
            inputs, target = self._place(self._split(batch))
            flat = (*inputs, target) if isinstance(inputs, (tuple, list)) else (inputs, target)
            output, loss = self._step_fn(*flat)
            step = self._clip_and_check(epoch, used + skipped + 1)
            if step:
                self.optimizer.step()
            if self.monitor is not None:
                self.monitor.step()
            if self.scheduler is not None and self.scheduler_interval == "batch" and not self._is_plateau():
                self.scheduler.step()
            if not step:
                skipped += 1
                continue
            used += 1
            n = _batch_size(target)
            value = loss.item()
            totals["loss"] += value * n
            for name, fn in self.metrics.items():
                totals[name] += fn(output, target) * n
            count += n
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{value:.4f}")
        totals, count = self._reduce(totals, count)
        record = {f"train_{k}": v / max(count, 1) for k, v in totals.items()}
        if skipped:
            if not used:
                raise GradientError(
                    f"epoch {epoch}: the gradients were non-finite (NaN or inf) at every one of its {skipped} steps, "
                    "so training has diverged; lower the learning rate, clip gradients (grad_clip), and find the op "
                    "that makes them with cr.autograd.detect_anomaly()"
                )
            record["skipped_steps"] = skipped
        return record

    # ------------------------------------------------------------------ gradient checks

    def _clip_and_check(self, epoch: int, batch_index: int) -> bool:
        """Clip (``grad_clip``) and apply the ``nonfinite`` policy; False means: skip this optimizer step."""
        if self.nonfinite == "step":
            if self.grad_clip is not None:
                from ..utils.clip_grad import clip_grad_norm_  # noqa: PLC0415

                clip_grad_norm_(self.model.parameters(), self.grad_clip)
            return True
        from ..utils.clip_grad import clip_grads_with_norm_, get_total_norm  # noqa: PLC0415

        params = [p for p in self.model.parameters() if p.grad is not None]
        total = get_total_norm([p.grad for p in params])
        value = float(total.item())
        if not np.isfinite(value):
            bad = [name for name, p in self.model.named_parameters() if p.grad is not None and not _finite(p.grad)]
            where = f"epoch {epoch}, batch {batch_index}: the gradient norm is {value} (non-finite in {_names(bad)})"
            if self.nonfinite == "raise":
                raise GradientError(
                    f"{where}; find the op that makes it with cr.autograd.detect_anomaly(), lower the learning rate "
                    "or clip gradients"
                )
            if not self._warned_nonfinite:
                self._warned_nonfinite = True
                self.log(
                    f"warning: {where}; this optimizer step was skipped (nonfinite='skip'), and so will be any "
                    "later one like it (counted as skipped_steps in the epoch's metrics)"
                )
            return False
        if self.grad_clip is not None:
            clip_grads_with_norm_(params, self.grad_clip, total)
        return True

    def _on_gradient_issue(self, issue) -> None:
        self.log(f"warning: gradient monitor, step {issue.step}: {issue.message}. Hint: {issue.hint}")

    def evaluate(self, loader, prefix: str = "val") -> dict:
        """Mean loss and metrics over ``loader`` in eval mode without recording."""
        was_training = self.model.training
        self.model.eval()
        totals: dict = {"loss": 0.0, **{k: 0.0 for k in self.metrics}}
        count = 0
        batches = _progress(loader, len(loader) if hasattr(loader, "__len__") else None, prefix, self.progress)
        with no_grad():
            for batch in batches:
                inputs, target = self._place(self._split(batch))
                output = self._forward(inputs)
                n = _batch_size(target)
                totals["loss"] += self.loss_fn(output, target).item() * n
                for name, fn in self.metrics.items():
                    totals[name] += fn(output, target) * n
                count += n
        self.model.train(was_training)
        totals, count = self._reduce(totals, count)
        return {f"{prefix}_{k}": v / max(count, 1) for k, v in totals.items()}

    def fit(self, epochs: int, resume=None) -> list:
        """Train until ``epochs`` epochs are done in total (counting those of a resumed checkpoint)."""
        start = 1
        if resume is not None:
            start = self.resume(resume) + 1
        for cb in self.callbacks:
            cb.on_train_start(self)
        self.should_stop = False
        for epoch in range(start, epochs + 1):
            self.epoch = epoch
            began = time.perf_counter()
            record = {"epoch": epoch, **self.train_epoch(epoch)}
            if self.val_loader is not None:
                record.update(self.evaluate(self.val_loader))
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            record["seconds"] = round(time.perf_counter() - began, 3)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if self._is_plateau():
                    self.scheduler.step(record.get("val_loss", record["train_loss"]))
                else:
                    self.scheduler.step()
            self.history.append(record)
            self.log(_describe(record))
            for cb in self.callbacks:
                cb.on_epoch_end(self, record)
            if self.run_dir is not None:
                # the checkpoint first, then the log rewritten from the checkpoint's history: whenever the process
                # dies, the log holds no epoch the checkpoint lacks (resume rewrites it from the checkpoint)
                self.save_checkpoint(self.checkpoint_path)
                if self.metrics_log is not None:
                    self.metrics_log.write(self.history)
            if self.should_stop:
                break
        if self.run_dir is not None and self.plots:
            plot_history(self.history, self.run_dir)
        if self.run_dir is not None and self.monitor is not None:
            self.monitor.save(self.run_dir, plot=self.plots)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, path) -> Path:
        extra: dict = {"history": self.history, "callbacks": [cb.state_dict() for cb in self.callbacks]}
        if self.run_settings is not None:
            extra["run"] = self.run_settings
        return save_checkpoint(path, self.model, self.optimizer, self.scheduler, self.epoch, extra, self._generators())

    def resume(self, path) -> int:
        """Restore everything from a checkpoint; returns the epoch it was written after."""
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler, self._generators())
        extra = state.get("extra") or {}
        history = extra.get("history", []) if isinstance(extra, dict) else None
        if not isinstance(history, list) or not all(_plain_record(r) for r in history):
            raise CheckpointError(f"{path}: its training history is not a list of epoch records")
        self.history = list(history)
        try:
            for cb, cb_state in zip(self.callbacks, extra.get("callbacks", [])):
                current = cb.state_dict()
                if not isinstance(cb_state, dict) or set(cb_state) != set(current):
                    raise ValueError(f"{type(cb).__name__} keeps {sorted(current)}")
                for key, value in cb_state.items():
                    _check_like(f"{type(cb).__name__}.{key}", current[key], value)
                cb.load_state_dict(cb_state)
        except RESTORE_ERRORS as exc:
            raise CheckpointError(f"{path}: its callback state does not fit this run ({exc})") from exc
        self.epoch = int(state["epoch"])
        if self.metrics_log is not None:
            self.metrics_log.write(self.history)  # drop epochs logged after the checkpoint was written
        return self.epoch


def _plain_record(record) -> bool:
    """An epoch record as the trainer writes it: str keys, numbers/strings/None/bools as values."""
    return isinstance(record, dict) and all(
        type(k) is str and (v is None or type(v) in (bool, int, float, str)) for k, v in record.items()
    )


def _finite(t) -> bool:
    data = t._data
    return data.dtype.kind not in "fc" or bool(array_module(data).isfinite(data).all())


def _names(names, limit: int = 5) -> str:
    if len(names) <= limit:
        return ", ".join(names) or "no single parameter: the norm itself overflowed"
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def _to(value, device):
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    return value


def _batch_size(target) -> int:
    if isinstance(target, Tensor):
        return int(target.shape[0]) if target.ndim else 1
    return len(target) if hasattr(target, "__len__") else 1


def _describe(record: dict) -> str:
    parts = [f"epoch {record['epoch']}"]
    for k, v in record.items():
        if k == "epoch":
            continue
        if isinstance(v, float) and k == "lr":
            parts.append(f"lr {v:.3g}")
        elif isinstance(v, float) and k != "seconds":
            parts.append(f"{k} {v:.4f}" if np.isfinite(v) else f"{k} {v}")
        else:
            parts.append(f"{k} {v}")
    return "  ".join(parts)
