"""Adadelta, Adamax, NAdam, RAdam and LBFGS follow PyTorch's trajectories (float64, 20 steps, 1e-6) and resume.

The same tiny two-layer network and data run in both libraries from the same
initial weights (tests/fixtures/make_optim_more.py); every step's parameters
are compared with the committed fixture and, when torch is importable, with
a live run.  The state-dict test needs no torch: 5 steps, a save through
safetensors, a fresh optimizer that loads it and 5 more steps land exactly
where 10 uninterrupted steps do.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.fixtures.make_optim_more import CASES, OPTIMIZERS, STEPS, run
from tests.parity import HAVE_TORCH, load

FIXTURES = load("optim_more")
TOL = dict(rtol=1e-6, atol=1e-6)


def _compare(name, expected):
    ours, _, _ = run(cr, name)
    assert ours.dtype == np.float64 and ours.shape == expected.shape
    assert np.abs(expected[-1] - expected[0]).max() > 1e-3, "the case hardly moves: it would test nothing"
    for step in range(STEPS):
        np.testing.assert_allclose(ours[step], expected[step], err_msg=f"{name} step {step + 1}", **TOL)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_matches_torch_fixture(name):
    _compare(name, FIXTURES[name]["trajectory"])


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_matches_torch_live(name):
    _compare(name, CASES[name]()["trajectory"])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_resumes_exactly(name, tmp_path):
    straight, _, _ = run(cr, name, steps=10)
    first, params, optimizer = run(cr, name, steps=5)
    cr.io.save(optimizer.state_dict(), tmp_path / "optimizer.safetensors")
    saved = cr.io.load(tmp_path / "optimizer.safetensors")
    resumed_params = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    second, _, fresh = run(cr, name, steps=5, optimizer_state=saved, params=resumed_params)
    np.testing.assert_allclose(np.concatenate([first, second]), straight, rtol=0, atol=1e-13)
    assert fresh.state_dict()["param_groups"][0]["lr"] == saved["param_groups"][0]["lr"]


def test_float32_stays_float32_and_bad_options_raise():
    for cls_name, options in {v[0]: v[1] for v in OPTIMIZERS.values()}.items():
        w = cr.tensor([1.0, -2.0], requires_grad=True)
        optimizer = getattr(cr.optim, cls_name)([w], **options)

        def closure(w=w, optimizer=optimizer):
            optimizer.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        assert w.dtype == cr.float32, cls_name
        assert np.all(np.isfinite(w.numpy())), cls_name
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="rho"):
        cr.optim.Adadelta([w], rho=1.5)
    with pytest.raises(ValueError, match="beta"):
        cr.optim.NAdam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="learning rate"):
        cr.optim.RAdam([w], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn"):
        cr.optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        cr.optim.LBFGS([{"params": [w]}, {"params": [cr.zeros(1, requires_grad=True)]}])
