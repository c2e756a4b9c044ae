"""A run's settings, resolved once: the recipe's defaults, the command line, and a checkpoint to resume.

``chainrule train`` builds every run from a ``RunSettings``: which recipe, how
many epochs, batch size, learning rate, optimizer, weight decay, seed, data
directory, gradient clipping, the non-finite policy and the learning-rate
schedule.  The Trainer writes them into each checkpoint, so
``chainrule train --resume PATH`` alone continues the same run:

* a flag that agrees with the checkpoint is accepted; one that differs is one
  error naming the flag and both values (to change a hyperparameter, start a
  new run);
* ``--epochs N`` may change: fewer than the checkpoint's total stops earlier,
  more extends the run.  The schedule is cosine annealing to zero over the
  run's epochs; extending past its end adds a new cosine cycle over the added
  epochs that restarts at the base learning rate (a warm restart, as in SGDR:
  Loshchilov and Hutter, 2017), because the first cycle ended at zero.
  ``--epochs`` at or below the epochs the checkpoint already holds is an
  error: there would be nothing to train.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..optim.lr_scheduler import LRScheduler

# the hyperparameters a resumed run must keep, with their command-line flags
_KEPT = {
    "recipe": "--recipe",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "optimizer": "--optimizer",
    "weight_decay": "--weight-decay",
    "seed": "--seed",
    "data": "--data",
    "grad_clip": "--grad-clip",
    "nonfinite": "--nonfinite",
}


_NUMBER = (int, float)
_TYPES = {
    "recipe": (str,),
    "epochs": (int,),
    "batch_size": (int,),
    "lr": _NUMBER,
    "optimizer": (str, type(None)),
    "weight_decay": _NUMBER,
    "seed": (int,),
    "data": (str, type(None)),
    "grad_clip": (*_NUMBER, type(None)),
    "nonfinite": (str,),
    "schedule": (list,),
}


class SettingsError(ValueError):
    """Settings that cannot be combined (reported as one line by the command)."""


@dataclass
class RunSettings:
    """Everything that decides what a run trains (not how it is shown: progress bars, plots)."""

    recipe: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str | None
    weight_decay: float
    seed: int = 0
    data: str | None = None
    grad_clip: float | None = None
    nonfinite: str = "skip"
    # the epochs at which the learning-rate schedule's cosine cycles end (one cycle unless the run was extended)
    schedule: list = field(default_factory=list)

    @property
    def data_dir(self) -> Path | None:
        """``data`` as a path (None: the recipe's bundled or installed data)."""
        return Path(self.data) if self.data is not None else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved) -> RunSettings:
        if not isinstance(saved, dict):
            raise SettingsError("the checkpoint's run settings are not a table")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(saved) - names)
        missing = sorted(names - set(saved))
        if unknown or missing:
            raise SettingsError(
                f"the checkpoint's run settings do not match this version (unknown {unknown}, missing {missing})"
            )
        for name, kinds in _TYPES.items():
            if type(saved[name]) not in kinds:
                raise SettingsError(f"the checkpoint's {name} is a {type(saved[name]).__name__}")
        settings = cls(**saved)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse values no run can use (a crafted or damaged checkpoint, or a bad flag)."""
        if not isinstance(self.recipe, str) or not self.recipe:
            raise SettingsError(f"recipe must be a name, got {self.recipe!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise SettingsError(f"{name} must be a positive integer, got {value!r}")
        if type(self.seed) is not int or not 0 <= self.seed < 2**63:
            raise SettingsError(f"seed must be an integer from 0 to 2**63 - 1, got {self.seed!r}")
        if not _finite_number(self.lr) or self.lr <= 0:
            raise SettingsError(f"lr must be a positive finite number, got {self.lr!r}")
        if not _finite_number(self.weight_decay) or self.weight_decay < 0:
            raise SettingsError(f"weight decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.grad_clip is not None and (not _finite_number(self.grad_clip) or self.grad_clip <= 0):
            raise SettingsError(f"grad clip must be a positive finite number, got {self.grad_clip!r}")
        if self.optimizer is not None and type(self.optimizer) is not str:
            raise SettingsError(f"optimizer must be a name, got {self.optimizer!r}")
        if self.data is not None and (type(self.data) is not str or not self.data or "\0" in self.data):
            raise SettingsError(f"data must be a path, got {self.data!r}")
        if self.nonfinite not in ("skip", "raise", "step"):
            raise SettingsError(f"nonfinite must be skip, raise or step, got {self.nonfinite!r}")
        ends = self.schedule
        if not isinstance(ends, list) or not ends or any(type(e) is not int or e < 1 for e in ends):
            raise SettingsError(f"the schedule must list positive epochs, got {ends!r}")
        if any(b <= a for a, b in zip(ends, ends[1:])):
            raise SettingsError(f"the schedule's cycles must end at increasing epochs, got {ends}")


def _finite_number(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _given(args, name):
    return getattr(args, name, None)


def resolve(args, recipe, saved: dict | None = None, done_epochs: int = 0) -> RunSettings:
    """The settings of the run ``args`` asks for: fresh (``saved`` None) or resumed from a checkpoint's settings.

    ``args`` holds the command-line values, None where a flag was not given;
    ``done_epochs`` is how many epochs the checkpoint already holds.
    """
    if saved is None:
        data = _given(args, "data")
        settings = RunSettings(
            recipe=recipe.name,
            epochs=_given(args, "epochs") or recipe.epochs,
            batch_size=_given(args, "batch_size") or recipe.batch_size,
            lr=_given(args, "lr") or recipe.lr,
            optimizer=_given(args, "optimizer") or recipe.optimizer,
            weight_decay=recipe.weight_decay if _given(args, "weight_decay") is None else args.weight_decay,
            seed=0 if _given(args, "seed") is None else args.seed,
            data=None if data is None else str(data),
            grad_clip=_given(args, "grad_clip"),
            nonfinite=_given(args, "nonfinite") or "skip",
        )
        settings.schedule = [settings.epochs]
        settings.check()
        return settings
    settings = RunSettings.from_dict(saved)
    for name, flag in _KEPT.items():
        given = _given(args, name)
        if given is None:
            continue
        if name == "data":
            given = str(given)
        if given != getattr(settings, name):
            raise SettingsError(
                f"{flag} {given} conflicts with the checkpoint's {name} {getattr(settings, name)}: a resumed run keeps "
                "its settings (drop the flag, or start a new run with --out)"
            )
    epochs = _given(args, "epochs")
    if epochs is not None:
        if epochs <= done_epochs:
            raise SettingsError(
                f"--epochs {epochs}: the checkpoint already holds {done_epochs} epoch(s), so there is nothing to "
                "train; pass a larger --epochs to train further"
            )
        if epochs > settings.schedule[-1]:
            settings.schedule = [*settings.schedule, epochs]  # a new cosine cycle over the added epochs
        settings.epochs = epochs
    elif done_epochs >= settings.epochs:
        raise SettingsError(
            f"the checkpoint already holds all {done_epochs} epoch(s) of its run; pass --epochs N with N > "
            f"{done_epochs} to train further (a new cosine cycle over the added epochs)"
        )
    return settings


class CosineCycles(LRScheduler):
    """Cosine annealing to 0 within each cycle; ``ends`` are the epochs where the cycles end.

    Within the cycle [start, end) the factor is ``(1 + cos(pi (t - start) / (end - start))) / 2``,
    so a run of one cycle of E epochs is ``CosineAnnealingLR(T_max=E)``; past the last end it is 0.
    Stepped once per epoch, after it.
    """

    _not_saved = ("optimizer", "ends")  # the cycles come from the run's settings, which may extend the saved ones

    def __init__(self, optimizer, ends, last_epoch: int = -1):
        self.ends = [int(e) for e in ends]
        super().__init__(optimizer, last_epoch)

    def factor(self, t: int) -> float:
        start = 0
        for end in self.ends:
            if t < end:
                return (1 + math.cos(math.pi * (t - start) / (end - start))) / 2
            start = end
        return 0.0

    def get_lr(self) -> list:
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]

    _closed_form_lr = get_lr

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        # the next epoch's rate under these cycles (an extended run restarts at the base rate here)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
