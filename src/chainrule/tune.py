"""Hyperparameter search with Optuna: a search space, an objective, and pruning from per-epoch metrics.

::

    from chainrule.tune import choice, loguniform, report, search

    def objective(params, trial):
        model, optimizer = build(params["lr"], params["batch_size"])
        for epoch in range(1, 11):
            val_accuracy = train_one_epoch(model, optimizer)
            report(trial, val_accuracy, epoch)          # Optuna may stop a poor trial here (TrialPruned)
        return val_accuracy

    result = search(objective, {"lr": loguniform(1e-4, 1e-1), "batch_size": choice(16, 32, 64)},
                    trials=30, direction="maximize")
    print(result.best_params, result.best_value)

Optuna does the searching (``pip install 'chainrule[tune]'``): a TPE sampler
proposes each trial's parameters from the trials before it, and a median
pruner stops a trial whose intermediate value (reported after each epoch) is
worse than the median of earlier trials at the same epoch.  With a
``storage`` (an SQLite URL such as ``"sqlite:///study.db"``) the study is kept
in a file and a later ``search`` with the same ``study_name`` continues it.

With the Trainer, :class:`PruningCallback` reports a validation metric after
each epoch and, when Optuna prunes, stops the fit and raises
``optuna.TrialPruned`` from it.  ``chainrule tune`` (``chainrule.train.tune``)
runs whole ``chainrule train`` runs as trials.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

from .train.callbacks import Callback

__all__ = [
    "MissingExtraError",
    "Param",
    "PruningCallback",
    "SearchResult",
    "choice",
    "integer",
    "loguniform",
    "report",
    "require_optuna",
    "search",
    "uniform",
]


class MissingExtraError(ImportError):
    """An optional package this feature needs is not installed."""


def require_optuna():
    """The optuna module, or a MissingExtraError saying how to install it."""
    try:
        import optuna  # noqa: PLC0415
    except ImportError:
        raise MissingExtraError(
            "hyperparameter search needs Optuna, which is not installed: pip install 'chainrule[tune]'"
        ) from None
    return optuna


# ---------------------------------------------------------------------------
# the search space


@dataclass(frozen=True)
class Param:
    """One dimension of a search space; ``suggest(trial, name)`` draws it from an Optuna trial."""

    kind: str  # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    options: tuple = ()

    def suggest(self, trial, name: str):
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low or 0), int(self.high or 0), log=self.log)
        return trial.suggest_categorical(name, list(self.options))

    def __str__(self):
        if self.kind == "choice":
            return "|".join(str(o) for o in self.options)
        scale = " (log)" if self.log else ""
        return f"{self.low:g}:{self.high:g}{scale}"


def _range(kind: str, low, high, log: bool) -> Param:
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float))):
        raise TypeError(f"{kind} range: low and high must be numbers, got {low!r} and {high!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ValueError(f"{kind} range: needs finite low < high, got {low!r} and {high!r}")
    if log and low <= 0:
        raise ValueError(f"{kind} range on a log scale needs low > 0, got {low!r}")
    return Param(kind, low, high, log)


def uniform(low: float, high: float) -> Param:
    """A float drawn uniformly from [low, high]."""
    return _range("float", low, high, False)


def loguniform(low: float, high: float) -> Param:
    """A float whose logarithm is uniform on [log low, log high] (learning rates, weight decay); low > 0."""
    return _range("float", low, high, True)


def integer(low: int, high: int, log: bool = False) -> Param:
    """An integer from low to high inclusive (on a log scale with ``log``)."""
    return _range("int", int(low), int(high), log)


def choice(*options) -> Param:
    """One of ``options`` (numbers, strings, booleans or None: what Optuna stores)."""
    if not options:
        raise ValueError("choice: needs at least one option")
    for option in options:
        if option is not None and type(option) not in (bool, int, float, str):
            raise TypeError(f"choice: options must be None, bool, int, float or str, got {option!r}")
    return Param("choice", options=tuple(options))


def _check_space(space: dict) -> None:
    if not isinstance(space, dict) or not space:
        raise ValueError("search: space must be a non-empty dict of name -> Param (uniform, loguniform, ...)")
    for name, param in space.items():
        if not isinstance(param, Param):
            raise TypeError(
                f"search: space[{name!r}] is {param!r}; use chainrule.tune.uniform, loguniform, integer or choice"
            )


# ---------------------------------------------------------------------------
# pruning


def report(trial, value: float, step: int) -> None:
    """Report ``value`` after ``step`` (an epoch) to the Optuna trial; raises ``optuna.TrialPruned`` to stop it.

    Non-finite values (a diverged run) are pruned at once.
    """
    optuna = require_optuna()
    value = float(value)
    if not math.isfinite(value):
        raise optuna.TrialPruned(f"the value at step {step} is {value}")
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at step {step} with value {value:.6g}")


class PruningCallback(Callback):
    """Report ``monitor`` from each epoch's record to an Optuna trial; stop the fit when Optuna prunes.

    When the trial is pruned the Trainer finishes the epoch (checkpoint and
    metrics log written), stops, and ``fit`` raises ``optuna.TrialPruned`` at
    its end.  An epoch whose record lacks ``monitor`` is an error naming the
    keys it has.  Its state is empty: a resumed run reports again from the
    next epoch.
    """

    def __init__(self, trial, monitor: str = "val_loss"):
        require_optuna()
        self.trial, self.monitor = trial, monitor
        self.pruned_epoch: int | None = None

    def on_epoch_end(self, trainer, metrics):
        if self.monitor not in metrics:
            raise KeyError(
                f"PruningCallback: the epoch record has no {self.monitor!r} (it has {', '.join(sorted(metrics))}); "
                "pass monitor= one of those"
            )
        value = float(metrics[self.monitor])
        epoch = int(metrics["epoch"])
        if not math.isfinite(value):
            self.pruned_epoch = epoch
        else:
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                self.pruned_epoch = epoch
        if self.pruned_epoch is not None:
            trainer.should_stop = True
            trainer.log(f"pruned by Optuna after epoch {epoch}: {self.monitor} {value:.4f}")

    def on_train_end(self, trainer):
        if self.pruned_epoch is not None:
            optuna = require_optuna()
            raise optuna.TrialPruned(f"pruned after epoch {self.pruned_epoch}")


# ---------------------------------------------------------------------------
# the search


@dataclass
class SearchResult:
    """What :func:`search` found: the Optuna study, its best trial and the time it took."""

    study: Any  # an optuna.Study
    seconds: float

    @property
    def best_params(self) -> dict:
        return dict(self.study.best_trial.params)

    @property
    def best_value(self) -> float:
        return float(self.study.best_trial.value)

    @property
    def best_trial(self):
        return self.study.best_trial

    def counts(self) -> dict:
        """Trials by state: complete, pruned, failed, running."""
        out: dict = {}
        for trial in self.study.trials:
            key = trial.state.name.lower()
            out[key] = out.get(key, 0) + 1
        return out

    def importances(self) -> dict:
        """Parameter importances (Optuna's fANOVA), {} with fewer than two complete trials to compare."""
        return importances(self.study)


def importances(study) -> dict:
    """``optuna.importance.get_param_importances`` over the complete trials, {} where it cannot be computed."""
    optuna = require_optuna()
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # every trial drew the same value of a parameter, or one parameter only
        return {}


def make_study(
    direction: str = "minimize",
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = 0,
    prune: bool = True,
    startup_trials: int = 5,
    warmup_steps: int = 1,
):
    """An Optuna study with chainrule's defaults: TPE (seeded) and a median pruner (or none); resumable by name."""
    optuna = require_optuna()
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_steps)
        if prune
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=storage is not None,
    )


def search(
    objective,
    space: dict,
    trials: int = 20,
    direction: str = "minimize",
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = 0,
    prune: bool = True,
    verbose: bool = False,
) -> SearchResult:
    """Run ``trials`` trials of ``objective(params, trial) -> float`` over ``space``; returns a SearchResult.

    ``params`` is a dict drawn from ``space`` (name -> :func:`uniform`,
    :func:`loguniform`, :func:`integer`, :func:`choice`); ``trial`` is the
    Optuna trial, for :func:`report` after each epoch (pruning) and
    ``trial.set_user_attr``.  ``direction`` is "minimize" (a loss) or
    "maximize" (an accuracy).  ``timeout`` (seconds) stops starting new
    trials.  With ``storage`` (e.g. ``"sqlite:///runs/study.db"``) and a
    ``study_name`` the trials are kept, and ``trials`` counts the finished
    trials already there: an interrupted search continues where it stopped.
    ``seed`` seeds the TPE sampler.  ``prune=False`` runs every trial to the
    end.  An objective that returns NaN marks its trial failed and the
    search goes on; one that raises (other than ``TrialPruned``) stops it.
    """
    optuna = require_optuna()
    _check_space(space)
    if int(trials) < 1:
        raise ValueError(f"search: trials must be a positive integer, got {trials}")
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = make_study(direction, storage, study_name, seed, prune)

    def run(trial):
        params = {name: param.suggest(trial, name) for name, param in space.items()}
        return objective(params, trial)

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = int(trials) - sum(t.state in finished for t in study.trials)
    began = time.perf_counter()
    if remaining > 0:
        study.optimize(
            run,
            n_trials=remaining,
            timeout=timeout,
            callbacks=[optuna.study.MaxTrialsCallback(int(trials), states=finished)],
        )
    return SearchResult(study, time.perf_counter() - began)
