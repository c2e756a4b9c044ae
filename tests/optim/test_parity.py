"""Optimizer trajectories and lr schedules equal PyTorch's, step by step.

Committed fixtures (tests/fixtures/optim.npz, made by tests/fixtures/make_optim.py
with torch 2.13.0) are compared without torch; when torch is importable each
case also runs live.  The same driver runs both libraries: a tiny two-layer
network trained for 20 steps per optimizer configuration (with and without
weight decay, several with a scheduler), and 50 scheduler steps per schedule.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.fixtures.make_optim import (
    CASES,
    OPTIMIZER_CASES,
    SCHEDULE_CASES,
    STEPS,
    run_optimizer_case,
    run_schedule,
)
from tests.parity import HAVE_TORCH, assert_close, load

FIXTURES = load("optim")
TRAJECTORY_TOL = dict(rtol=2e-5, atol=2e-6)
# Schedules are Python-float arithmetic on both sides: the same operations in the same order give the same bits,
# so they must agree exactly (a closed form in place of PyTorch's recursive one differs in the last bits).
LR_TOL = dict(rtol=0.0, atol=0.0)


def compare_optimizer(name: str, expected: dict) -> None:
    actual = run_optimizer_case(cr, name, given=expected)
    assert actual["trajectory"].dtype == np.float32
    assert actual["trajectory"].shape == (STEPS, expected["trajectory"].shape[1])
    for step in range(STEPS):  # report the first step that drifts
        assert_close(
            actual["trajectory"][step], expected["trajectory"][step], what=f"{name} step {step + 1}", **TRAJECTORY_TOL
        )
    assert_close(actual["lrs"], expected["lrs"], what=f"{name} lrs", **LR_TOL)


def compare_schedule(name: str, expected: dict) -> None:
    actual = run_schedule(cr.optim, cr.tensor, name)
    for key in ("lrs", "momenta", "last_lr"):
        assert_close(actual[key], expected[key], what=f"{name} {key}", **LR_TOL)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_torch_fixture(name):
    compare_optimizer(name, FIXTURES[f"opt_{name}"])


@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
def test_schedule_matches_torch_fixture(name):
    compare_schedule(name, FIXTURES[f"sched_{name}"])


def test_fixtures_cover_every_case():
    missing = sorted(set(CASES) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_optim.py: fixtures missing for {missing}"


def test_trajectories_actually_move():
    """The fixtures would be useless if a configuration left the parameters (nearly) where they started."""
    for name in OPTIMIZER_CASES:
        ref = FIXTURES[f"opt_{name}"]
        start = np.concatenate([ref[k].reshape(-1) for k in ("w1", "b1", "w2", "b2")])
        assert np.abs(ref["trajectory"][-1] - start).max() > 1e-2, name


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_torch_live(name):
    compare_optimizer(name, CASES[f"opt_{name}"]())


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(SCHEDULE_CASES))
def test_schedule_matches_torch_live(name):
    compare_schedule(name, CASES[f"sched_{name}"]())
