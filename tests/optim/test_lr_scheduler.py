"""LR scheduler behaviour beyond the parity fixtures: resuming, errors, closed forms, state of callable lambdas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched
from tests.fixtures.make_optim import SCHEDULE_CASES, _plateau_metrics


def _build(name):
    build_opt, build_sched = SCHEDULE_CASES[name]
    params = [cr.zeros(2, requires_grad=True), cr.zeros(1, requires_grad=True)]
    opt = build_opt(optim, params)
    return opt, build_sched(optim, opt)


def _advance(opt, scheduler, name, steps, start):
    metrics = _plateau_metrics()
    lrs = []
    for i in range(start, start + steps):
        if name.startswith("plateau"):
            scheduler.step(metrics[i])
        else:
            scheduler.step()
        lrs.append([g["lr"] for g in opt.param_groups] + [g.get("momentum", 0.0) for g in opt.param_groups])
    return lrs


@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
def test_resume_from_json_state_dicts(name):
    """Save optimizer and scheduler after 20 steps as JSON, rebuild both, continue: the same 30 lrs follow."""
    opt, scheduler = _build(name)
    expected = _advance(opt, scheduler, name, 50, 0)[20:]
    opt, scheduler = _build(name)
    _advance(opt, scheduler, name, 20, 0)
    saved_opt = json.loads(json.dumps(opt.state_dict()))  # no state tensors: nothing was trained
    saved_sched = json.loads(json.dumps(scheduler.state_dict()))
    opt, scheduler = _build(name)
    opt.load_state_dict(saved_opt)
    scheduler.load_state_dict(saved_sched)
    assert _advance(opt, scheduler, name, 30, 20) == expected


def test_get_last_lr_is_a_copy():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    s = sched.StepLR(opt, 2)
    last = s.get_last_lr()
    last[0] = 99.0
    assert s.get_last_lr() == [0.1]


def test_step_with_epoch_uses_the_closed_form_and_warns():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    s = sched.StepLR(opt, step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(10)
    assert opt.param_groups[0]["lr"] == 0.1 * 0.5**3
    c = sched.CosineAnnealingLR(optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0), T_max=8)
    with pytest.warns(UserWarning):
        c.step(4)
    assert c.get_last_lr() == [(1 + math.cos(math.pi * 4 / 8)) / 2]


def test_schedules_reach_their_targets():
    """Sanity of the shapes (independent of PyTorch): warm-up ends at the base lr, cosine reaches eta_min."""
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.2)
    warm = sched.LinearLR(opt, start_factor=0.25, total_iters=4)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        warm.step()
        seen.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(seen, [0.05, 0.0875, 0.125, 0.1625, 0.2, 0.2, 0.2])
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.2)
    cosine = sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    for _ in range(5):
        cosine.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_onecycle_momentum_and_limits():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(1.0 / 25) and group["momentum"] == pytest.approx(0.95)
    lrs = []
    for _ in range(9):
        s.step()
        lrs.append(group["lr"])
    assert max(lrs) == pytest.approx(1.0) and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    s.step()  # step 10 == total_steps is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        s.step()
    with pytest.raises(ValueError, match="momentum or beta1"):
        sched.OneCycleLR(optim.Adagrad([cr.zeros(1, requires_grad=True)]), max_lr=0.1, total_steps=5)
    with pytest.raises(ValueError, match="total_steps"):
        sched.OneCycleLR(opt, max_lr=0.1)


def test_argument_errors():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        sched.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="one milestone fewer"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.StepLR(opt, 3)], milestones=[])
    other = optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="same optimizer"):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2), sched.StepLR(other, 3)], milestones=[4])
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1), 2, last_epoch=5)
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(object(), 2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        sched.LinearLR(opt, start_factor=0.0)


def test_lambda_lr_saves_callable_objects_but_not_functions():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    opt = optim.SGD(
        [{"params": [cr.zeros(1, requires_grad=True)]}, {"params": [cr.zeros(1, requires_grad=True)]}], lr=1.0
    )
    s = sched.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    fresh = sched.LambdaLR(opt, [Decay(0.9), lambda e: 1.0])
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].rate == 0.5


def test_plateau_reduces_after_patience_and_respects_min_lr():
    opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=0.3)
    history = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        s.step(metric)
        history.append(opt.param_groups[0]["lr"])
    assert history == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]
    assert s.get_last_lr() == [0.3]
