"""Learning-rate schedules with PyTorch's names, arguments and step-by-step values.

A scheduler rewrites ``group["lr"]`` of its optimizer's parameter groups each
time ``scheduler.step()`` is called (once per epoch or per batch, after
``optimizer.step()``).  Construction performs step 0, so the optimizer starts
at the schedule's first value.

The values match PyTorch's exactly, including where PyTorch computes a
schedule *recursively* from the previous ``group["lr"]`` rather than by a
closed form (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
LinearLR): the two forms differ in the last bits, and differ a lot if
something else also changes the lr (another scheduler, or the user).  The
closed form is used where PyTorch uses it: ``step(epoch)`` (deprecated) and
SequentialLR's switch to the next scheduler.

Differences from PyTorch: no warning when ``scheduler.step()`` is called
before ``optimizer.step()`` (chainrule does not wrap the optimizer's step);
``MultiStepLR.milestones`` is a sorted list rather than a Counter, so the
state dict is plain JSON-friendly data.
"""

from __future__ import annotations

import copy
import math
import types
import warnings
from bisect import bisect_right

import numpy as np

from .optimizer import Optimizer, _check_like

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


def _lrs(optimizer) -> list:
    return [group["lr"] for group in optimizer.param_groups]


def _per_group(name: str, optimizer, value) -> list:
    """One value per parameter group: a list/tuple of the right length, or one value repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has {len(value)} values, "
                f"param_groups has {len(optimizer.param_groups)}."
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _plain(value, depth: int = 0) -> bool:
    """Numbers, strings, None and lists/tuples/dicts of them: what a scheduler's state is made of."""
    if depth > 20:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) in (list, tuple):
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) in (str, int) and _plain(v, depth + 1) for k, v in value.items())
    return isinstance(value, np.generic)


class LRScheduler:
    """Base class: subclasses define :meth:`get_lr` (the recursive form) and may define ``_closed_form_lr``.

    ``last_epoch`` is the index of the last step taken (-1 before the first);
    pass a non-default value only when resuming, after the optimizer's state
    (which holds ``initial_lr``) has been loaded. Construction takes step 0;
    ``step()`` takes the next one and writes the lrs into the optimizer's
    groups; ``get_last_lr()`` reads them; ``state_dict``/``load_state_dict``
    save and restore the schedule as plain data.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        TypeError: ``optimizer`` is not an Optimizer.
        KeyError: resuming (``last_epoch`` >= 0) before the optimizer's state dict was loaded.

    Examples:
        >>> class Halving(optim.lr_scheduler.LRScheduler):
        ...     def get_lr(self):
        ...         return [base * 0.5 ** self.last_epoch for base in self.base_lrs]
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = Halving(optimizer)
        >>> scheduler.step()
        >>> scheduler.get_last_lr(), optimizer.param_groups[0]["lr"]
        ([0.5], 0.5)
    """

    _is_initial = False

    def __init__(self, optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a scheduler with "
                        "last_epoch >= 0: load the optimizer's state dict first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take step 0."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The lrs for ``last_epoch`` (already advanced), usually computed from the current ``group["lr"]``."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The lrs set by the latest step, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and write the new lrs into the optimizer (call after ``optimizer.step()``).

        ``epoch`` (deprecated, as in PyTorch) jumps to that step using the closed form where there is one.
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                "passing an epoch to scheduler.step() is deprecated (as in PyTorch); call step() once per step",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch=None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    # ------------------------------------------------------------ state

    _not_saved: tuple = ("optimizer",)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (numbers, lists, strings: no pickle needed)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._not_saved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict`.

        Only attributes this scheduler has are restored, and only as plain data
        (numbers, strings, lists, dicts): a state from another scheduler, or a
        crafted one, cannot replace a method or the optimizer.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        restored = {k: v for k, v in state_dict.items() if k not in self._not_saved}  # subclasses restore those
        unknown = [k for k in restored if k not in self.__dict__]
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys {sorted(map(str, unknown))[:5]}")
        for key, value in restored.items():
            if not _plain(value):
                raise TypeError(f"{type(self).__name__}.load_state_dict: '{key}' holds a {type(value).__name__}")
            current = self.__dict__[key]
            if type(current) is list and type(value) is list and key in ("base_lrs", "_last_lr"):
                if len(current) != len(value):
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: '{key}' has {len(value)} entries, "
                        f"this scheduler's optimizer {len(current)} groups"
                    )
            _check_like(f"{type(self).__name__}.{key}", current, value)
        self.__dict__.update({k: copy.deepcopy(v) for k, v in restored.items()})

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(step)``; one function, or a list with one per parameter group.

    ``state_dict`` saves the attributes of callable objects, not plain functions (as in PyTorch).

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        lr_lambda: a function of the step index (an int from 0) returning the factor, or a list of such
            functions, one per parameter group.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        ValueError: a list of ``lr_lambda`` whose length is not the number of groups.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (step + 1))
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
        ...     scheduler.step()
        >>> lrs
        [1.0, 0.5, 0.3333, 0.25]
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state_dict.get("lr_lambdas", ())):
            if saved is not None:
                fn.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        step_size: the number of steps between two decays, a positive int.
        gamma: the factor; default 0.1.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        ValueError: ``step_size`` is not positive.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(optimizer.param_groups[0]["lr"])
        ...     scheduler.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if int(step_size) <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone (a milestone listed twice multiplies by gamma**2).

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        milestones: the step indices at which to decay, ints in any order (kept as a sorted list; PyTorch keeps a
            Counter).
        gamma: the factor; default 0.1.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4], gamma=0.1)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
        ...     scheduler.step()
        >>> lrs
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return _lrs(self.optimizer)
        return [lr * self.gamma**hits for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list:
        return [base * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every step.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        gamma: the factor per step.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(optimizer.param_groups[0]["lr"])
        ...     scheduler.step()
        >>> lrs
        [1.0, 0.5, 0.25, 0.125]
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [lr * self.gamma for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to ``eta_min`` over ``T_max`` steps (SGDR without restarts).

    ``lr_t = eta_min + (initial_lr - eta_min) (1 + cos(pi t / T_max)) / 2``
    (Loshchilov & Hutter, 2017, equation 5), applied recursively as PyTorch
    does; past ``T_max`` the lr rises again (a cosine period of 2 T_max).

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        T_max: the number of steps from the initial lr to ``eta_min``.
        eta_min: the lowest lr; default 0.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
        ...     scheduler.step()
        >>> lrs
        [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.1464]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        t, t_max, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and t > 0:  # the first step after resuming at last_epoch > 0
            return [low + (base - low) * (1 + math.cos(t * math.pi / t_max)) / 2 for base in self.base_lrs]
        if (t - 1 - t_max) % (2 * t_max) == 0:  # leaving the bottom of the cosine
            return [
                lr + (base - low) * (1 - math.cos(math.pi / t_max)) / 2
                for lr, base in zip(_lrs(self.optimizer), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max))
        return [ratio * (lr - low) + low for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list:
        t = self.last_epoch
        return [
            self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scale the lr linearly from ``start_factor`` to ``end_factor`` times the initial lr over ``total_iters`` steps.

    The usual warm-up: ``LinearLR(opt, start_factor=0.1, total_iters=5)``.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the schedule sets.
        start_factor: the factor at step 0, in (0, 1]; default 1/3.
        end_factor: the factor from step ``total_iters`` on, in [0, 1]; default 1.
        total_iters: the number of steps the change takes; default 5.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        ValueError: a factor outside its range.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(optimizer.param_groups[0]["lr"])
        ...     scheduler.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in _lrs(self.optimizer)]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        span = self.end_factor - self.start_factor
        factor = 1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span)
        return [lr * factor for lr in _lrs(self.optimizer)]

    def _closed_form_lr(self) -> list:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * done) for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching to the next at each of ``milestones``.

    E.g. warm-up then decay: ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5),
    CosineAnnealingLR(opt, 45)], milestones=[5])``.  At a milestone the next
    scheduler starts from its step 0 (closed form), as in PyTorch.

    Args:
        optimizer: the ``Optimizer`` all the schedulers belong to.
        schedulers: the schedulers, in order (not ``ReduceLROnPlateau``), built on ``optimizer``.
        milestones: the step indices at which the next scheduler takes over, one fewer than the schedulers.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        ValueError: no scheduler, a ``ReduceLROnPlateau``, a scheduler of another optimizer, or the wrong number of
            milestones.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> warmup = optim.lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=2)
        >>> decay = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        >>> scheduler = optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], milestones=[2])
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(optimizer.param_groups[0]["lr"])
        ...     scheduler.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    _not_saved = ("optimizer", "_schedulers")

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        _check_optimizer(optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR does not support ReduceLROnPlateau (index {i}): its step() needs a metric"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"SequentialLR expects all schedulers to belong to the same optimizer, but the scheduler "
                    f"at index {i} ({type(scheduler).__name__}) has another one"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects one milestone fewer than schedulers, got {len(schedulers)} schedulers and "
                f"{len(milestones)} milestones"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # each scheduler took its step 0 when it was built: undo that, then restart only the first one
        for scheduler in self._schedulers:
            _undo_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]  # PyTorch's SequentialLR.step takes no epoch
        """Step the scheduler that owns the next step; at a milestone, start the next one from step 0."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state_dict["_schedulers"]):
            scheduler.load_state_dict(saved)


def _undo_step(scheduler) -> None:
    inner = getattr(scheduler, "_schedulers", None)
    if inner is not None:
        for s in inner:
            _undo_step(s)
    elif hasattr(scheduler, "last_epoch"):
        scheduler.last_epoch -= 1


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017): warm up to ``max_lr``, then anneal far below the start.

    Step once per batch, ``total_steps`` times (or ``epochs * steps_per_epoch``).
    The lr starts at ``max_lr / div_factor``, reaches ``max_lr`` after
    ``pct_start`` of the steps, and ends at ``initial_lr / final_div_factor``;
    ``anneal_strategy`` is 'cos' or 'linear'; ``three_phase`` goes back to the
    initial lr before the final annealing.  With ``cycle_momentum`` the
    momentum (SGD's ``momentum``, or Adam's ``betas[0]``) moves inversely
    between ``max_momentum`` and ``base_momentum``.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` (and momentum) the schedule sets; its own lr is
            replaced.
        max_lr: the peak lr, one value or a list with one per parameter group.
        total_steps: the number of steps in the cycle; None: ``epochs * steps_per_epoch``.
        epochs: the number of epochs, with ``steps_per_epoch``, when ``total_steps`` is None.
        steps_per_epoch: the number of steps (batches) per epoch.
        pct_start: the fraction of the steps spent warming up, a float in [0, 1]; default 0.3.
        anneal_strategy: ``"cos"`` (the default) or ``"linear"``.
        cycle_momentum: move the momentum inversely to the lr; default True (the optimizer needs a momentum or
            betas option).
        base_momentum: the lowest momentum (at the peak lr), one value or one per group; default 0.85.
        max_momentum: the highest momentum (at the start and end), one value or one per group; default 0.95.
        div_factor: the initial lr is ``max_lr / div_factor``; default 25.
        final_div_factor: the final lr is ``initial_lr / final_div_factor``; default 1e4.
        three_phase: anneal back to the initial lr, then far below it (fast.ai's schedule); default False.
        last_epoch: the index of the last step taken; -1 (the default) starts a new schedule.

    Raises:
        ValueError: neither ``total_steps`` nor ``epochs`` and ``steps_per_epoch``, a value out of range, or
            (from ``step``) more steps than ``total_steps``.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
        >>> scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=6)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
        ...     scheduler.step()
        >>> lrs
        [0.04, 0.9944, 0.8117, 0.4626, 0.1335, 0.0]
    """

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps=None,
        epochs=None,
        steps_per_epoch=None,
        pct_start=0.3,
        anneal_strategy="cos",
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        last_epoch=-1,
    ):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self.anneal_strategy = anneal_strategy
        warm_end = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if three_phase:
            self._phases = [
                (warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (last, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (warm_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (last, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            highs = _per_group("max_momentum", optimizer, max_momentum)
            lows = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            begin = 0.0
            for i, (end, lr_from, lr_to, mom_from, mom_to) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - begin) / (end - begin)
                    lr = self._anneal(group[lr_from], group[lr_to], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[mom_from], group[mom_to], pct)
                    break
                begin = end
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _set_momentum(group, value, use_beta1):
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


class ReduceLROnPlateau(LRScheduler):
    """Divide the lr by ``1/factor`` when a metric stops improving for more than ``patience`` steps.

    Call ``scheduler.step(metric)`` after each validation.  ``mode`` 'min'
    (lower is better) or 'max'; an improvement must beat the best value by
    ``threshold``, relative (``threshold_mode='rel'``: best * (1 - threshold)
    in 'min' mode) or absolute ('abs').  After a reduction, ``cooldown`` steps
    pass before bad steps count again; the lr never goes below ``min_lr``
    (one value or one per group), and changes smaller than ``eps`` are skipped.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``"lr"`` the scheduler lowers.
        mode: ``"min"`` (the default: lower is better, a loss) or ``"max"`` (an accuracy).
        factor: the factor the lr is multiplied by, < 1; default 0.1.
        patience: how many steps without improvement are tolerated; default 10.
        threshold: how much better a value must be to count as an improvement; default 1e-4.
        threshold_mode: ``"rel"`` (the default: relative to the best value) or ``"abs"``.
        cooldown: steps after a reduction during which bad steps are not counted; default 0.
        min_lr: the lowest lr, one value or a list with one per group; default 0.
        eps: a reduction smaller than this is skipped; default 1e-8.

    Raises:
        ValueError: ``factor`` >= 1, an unknown mode, or a ``min_lr`` list of the wrong length.

    Examples:
        >>> optimizer = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1, factor=0.5)
        >>> for val_loss in [1.0, 0.5, 0.6, 0.7]:  # two steps without improvement
        ...     scheduler.step(val_loss)
        >>> optimizer.param_groups[0]["lr"]
        0.5
    """

    def __init__(
        self,
        optimizer,
        mode="min",
        factor=0.1,
        patience=10,
        threshold=1e-4,
        threshold_mode="rel",
        cooldown=0,
        min_lr=0,
        eps=1e-8,
    ):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        _check_optimizer(optimizer)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._reset()

    @property
    def mode_worse(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, value, best) -> bool:
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics, epoch=None) -> None:  # type: ignore[override]  # the monitored value, as in PyTorch
        """Record one value of the monitored metric and reduce the lr if it has stalled."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn("passing an epoch to ReduceLROnPlateau.step() is deprecated", UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {len(groups)} parameter groups but ReduceLROnPlateau was given "
                    f"{len(self.min_lrs)} min_lrs; update scheduler.min_lrs after add_param_group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new
