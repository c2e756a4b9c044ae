"""The learning-rate range test (L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", 2017).

::

    result = cr.diagnostics.lr_finder(model, optimizer, F.cross_entropy, train_loader)
    result.suggestion          # a learning rate to train with
    result.plot("lr_finder.png")

Train for ``steps`` mini-batches while the learning rate grows exponentially
from ``start_lr`` to ``end_lr``, recording the loss; stop early once the
smoothed loss exceeds ``diverge`` times its best value (or is not finite).
The loss falls while the rate is useful and blows up once it is too large.
The suggestion is the rate at the smoothed loss's minimum divided by ten
(``min_loss_lr / 10``), a rule of thumb that stays on the safe side of the
blow-up; ``steepest_lr``, where the loss fell fastest, is reported too.

Afterwards the model's parameters and buffers, the optimizer's state and
options and the random generators (the default one and the loader's) are
restored, so training after the test runs exactly as it would have without
it (``restore=False`` keeps the swept weights).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import random as cr_random
from ..backend import to_numpy
from ..errors import ChainruleError
from ..io import atomic_write
from ..tensor import Tensor, _wrap
from ._plot import pyplot, save_figure

__all__ = ["LRFinderResult", "lr_finder"]


@dataclass
class LRFinderResult:
    """What the range test found.  ``lrs``/``losses``/``smoothed`` have one entry per step taken.

    ``plot(path)`` draws the loss against the learning rate (log scale) with
    the suggestion marked (None without matplotlib); ``save(directory)`` writes
    ``lr_finder.json`` and ``lr_finder.png``; ``to_dict()`` gives JSON-ready
    data (non-finite losses as strings).

    Args:
        lrs: the learning rate of each step, rising exponentially.
        losses: the training loss of each step.
        smoothed: the bias-corrected exponential moving average of the loss at each step (NaN once the loss was not
            finite).
        suggestion: the learning rate to train with: ``min_loss_lr / 10``.
        min_loss_lr: the learning rate at the smoothed loss's minimum.
        steepest_lr: the learning rate where the smoothed loss fell fastest.
        stopped_early: whether the sweep stopped before its last step because the loss diverged.

    Examples:
        >>> result = cr.diagnostics.LRFinderResult(
        ...     lrs=[0.01, 0.1, 1.0], losses=[1.0, 0.5, 3.0], smoothed=[1.0, 0.7, 1.5],
        ...     suggestion=0.01, min_loss_lr=0.1, steepest_lr=0.1, stopped_early=False)
        >>> result.save(".", plot=False)
        {'json': PosixPath('lr_finder.json')}
    """

    lrs: list
    losses: list
    smoothed: list
    suggestion: float
    min_loss_lr: float
    steepest_lr: float
    stopped_early: bool

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("losses", "smoothed"):
            data[key] = [v if math.isfinite(v) else str(v) for v in data[key]]
        return data

    def plot(self, path):
        """Loss versus learning rate (log scale) with the suggestion marked; None without matplotlib."""
        plt = pyplot()
        if plt is None or not self.lrs:
            return None
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        losses = np.array(self.losses, dtype=np.float64)
        ax.plot(self.lrs, np.where(np.isfinite(losses), losses, np.nan), alpha=0.3, label="loss")
        ax.plot(self.lrs, self.smoothed, label="smoothed loss")
        ax.axvline(self.suggestion, color="green", linestyle="--", label=f"suggestion {self.suggestion:.2e}")
        ax.axvline(self.min_loss_lr, color="gray", linestyle=":", label=f"minimum {self.min_loss_lr:.2e}")
        ax.set_xscale("log")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:
            low, first = min(finite), finite[0]
            ax.set_ylim(low - 0.1 * abs(first - low + 1e-12), max(first, low) + 0.5 * abs(first - low + 1e-12))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("learning-rate range test")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return save_figure(plt, fig, path)

    def save(self, directory, plot: bool = True) -> dict:
        """Write ``lr_finder.json`` and (``plot``, with matplotlib) ``lr_finder.png`` into ``directory``, atomically."""
        directory = Path(directory)
        written = {"json": atomic_write(directory / "lr_finder.json", json.dumps(self.to_dict(), indent=1).encode())}
        png = self.plot(directory / "lr_finder.png") if plot else None
        if png is not None:
            written["plot"] = png
        return written


def _split(batch):
    if isinstance(batch, dict):
        return batch["input"], batch["target"]
    return batch[0], batch[1]


def _forward(model, inputs):
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def lr_finder(
    model,
    optimizer,
    loss_fn,
    loader,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 200,
    smoothing: float = 0.98,
    diverge: float = 4.0,
    restore: bool = True,
) -> LRFinderResult:
    """Sweep the learning rate of every parameter group from ``start_lr`` to ``end_lr`` over ``steps`` batches.

    ``loss_fn(output, target)`` gives a scalar loss; batches are
    ``(input, target)`` pairs or ``{"input": ..., "target": ...}`` dicts, and
    the loader is cycled if it has fewer than ``steps`` batches.
    ``smoothing`` is the factor of the (bias-corrected) exponential moving
    average of the loss.  Returns an :class:`LRFinderResult`.

    The range test of L. N. Smith (2017): the rate grows exponentially, the
    sweep stops once the smoothed loss exceeds ``diverge`` times its best, and
    the suggestion is the rate at the minimum divided by ten. With ``restore``
    the model, the optimizer and the random generators are put back afterwards,
    so training runs as if the test had not happened.

    Args:
        model: the Module to train (put in training mode during the sweep).
        optimizer: its optimizer; every group's ``"lr"`` is set at each step.
        loss_fn: ``loss_fn(output, target)`` -> a scalar tensor, e.g. ``F.cross_entropy``.
        loader: an iterable of batches (a DataLoader).
        start_lr: the first learning rate, > 0; default 1e-7.
        end_lr: the last learning rate, > ``start_lr``; default 10.
        steps: the number of batches, at least 2; default 200.
        smoothing: the moving average's factor, in [0, 1); default 0.98.
        diverge: stop once the smoothed loss exceeds this multiple of its best (after 10 steps); default 4.
        restore: restore the parameters, buffers, optimizer state and random generators afterwards; default True.

    Returns:
        An ``LRFinderResult``.

    Raises:
        ValueError: a bad range, ``steps`` or ``smoothing``, or a loader with no batches.
        ChainruleError: the loss was not finite from the first step.

    Examples:
        >>> x = cr.randn(64, 4)
        >>> y = (x.sum(1) > 0).long()
        >>> loader = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=16)
        >>> model = nn.Linear(4, 2)
        >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
        >>> result = cr.diagnostics.lr_finder(model, optimizer, F.cross_entropy, loader, start_lr=1e-4, steps=30)
        >>> len(result.lrs) <= 30, result.suggestion == result.min_loss_lr / 10, optimizer.param_groups[0]["lr"]
        (True, True, 0.1)
    """
    if not (0 < start_lr < end_lr):
        raise ValueError(f"lr_finder: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if int(steps) < 2:
        raise ValueError(f"lr_finder: steps must be at least 2, got {steps}")
    if not (0 <= smoothing < 1):
        raise ValueError(f"lr_finder: smoothing must be in [0, 1), got {smoothing}")
    steps = int(steps)
    saved = _save_state(model, optimizer, loader) if restore else None
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    stopped_early = False
    was_training = model.training
    model.train()
    try:
        batches = iter(loader)
        for i in range(steps):
            lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                try:
                    batch = next(batches)
                except StopIteration:
                    raise ValueError("lr_finder: the loader yields no batches") from None
            inputs, target = _split(batch)
            loss = loss_fn(_forward(model, inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            lrs.append(lr)
            losses.append(value)
            if not math.isfinite(value):
                smoothed.append(math.nan)
                stopped_early = i < steps - 1
                break
            average = smoothing * average + (1 - smoothing) * value
            smooth = average / (1 - smoothing ** (i + 1))
            smoothed.append(smooth)
            best = min(best, smooth)
            if i >= 10 and smooth > diverge * best:
                stopped_early = i < steps - 1
                break
    finally:
        model.train(was_training)
        if saved is not None:
            _restore_state(model, optimizer, loader, saved)
    values = np.array(smoothed, dtype=np.float64)
    if not np.isfinite(values).any():
        raise ChainruleError(
            f"lr_finder: the loss was not finite from the first step (start_lr {start_lr}); check the model and data"
        )
    best_index = int(np.nanargmin(values))
    min_loss_lr = lrs[best_index]
    steepest_lr = min_loss_lr
    if best_index >= 2:
        slope = np.gradient(values[: best_index + 1], np.log(lrs[: best_index + 1]))
        steepest_lr = lrs[int(np.nanargmin(slope))]
    return LRFinderResult(lrs, losses, smoothed, min_loss_lr / 10, min_loss_lr, steepest_lr, stopped_early)


def _save_state(model, optimizer, loader) -> dict:
    generator = getattr(loader, "generator", None)
    return {
        "model": {k: _wrap(to_numpy(v._data).copy()) for k, v in model.state_dict().items() if isinstance(v, Tensor)},
        "optimizer": optimizer.state_dict(),
        "rng": cr_random.get_rng_state(),
        "loader_rng": generator.get_state() if generator is not None else None,
    }


def _restore_state(model, optimizer, loader, saved) -> None:
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    cr_random.set_rng_state(saved["rng"])
    generator = getattr(loader, "generator", None)
    if generator is not None and saved["loader_rng"] is not None:
        generator.set_state(saved["loader_rng"])
