"""Adadelta, Adamax, NAdam, RAdam and LBFGS follow PyTorch's trajectories (float64, 20 steps, 1e-6) and resume.

The same tiny two-layer network and data run in both libraries from the same
initial weights; every step's parameters are compared.  The state-dict test
needs no torch: 10 steps, a save, a fresh optimizer that loads it and 10 more
steps land exactly where 20 uninterrupted steps do.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.parity import HAVE_TORCH

STEPS = 20
TOL = dict(rtol=1e-6, atol=1e-6)

CASES = {
    "adadelta": ("Adadelta", dict()),
    "adadelta_wd": ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    "adadelta_max": ("Adadelta", dict(maximize=True)),
    "adamax": ("Adamax", dict(lr=0.01)),
    "adamax_wd": ("Adamax", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.05)),
    "nadam": ("NAdam", dict(lr=0.01)),
    "nadam_wd": ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    "nadam_decoupled": ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "radam": ("RAdam", dict(lr=0.01)),
    "radam_wd": ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    "radam_decoupled": ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "radam_max": ("RAdam", dict(lr=0.01, maximize=True)),
    "lbfgs": ("LBFGS", dict(lr=0.5, max_iter=3, history_size=4)),
    # 40 iterations: near convergence L-BFGS amplifies rounding (1 / y.s), 100 drift past 1e-6 in both directions
    "lbfgs_wolfe": ("LBFGS", dict(max_iter=2, history_size=3, line_search_fn="strong_wolfe")),
}


def _initial():
    rng = np.random.default_rng(0)
    return dict(
        x=rng.normal(size=(16, 3)),
        y=rng.normal(size=(16, 2)),
        w1=rng.normal(size=(5, 3)) * 0.5,
        b1=rng.normal(size=5) * 0.1,
        w2=rng.normal(size=(2, 5)) * 0.5,
        b2=rng.normal(size=2) * 0.1,
    )


def _run(lib, name, init, steps=STEPS, optimizer_state=None, params=None):
    """Train with library ``lib`` (chainrule or torch); returns (trajectory (steps, P), params, optimizer)."""
    cls_name, options = CASES[name]
    x, y = (lib.tensor(init[k]) for k in ("x", "y"))
    if params is None:
        params = [lib.tensor(init[k].copy(), requires_grad=True) for k in ("w1", "b1", "w2", "b2")]
    w1, b1, w2, b2 = params
    optimizer = getattr(lib.optim, cls_name)(params, **options)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)

    def closure():
        optimizer.zero_grad()
        hidden = lib.tanh(x @ w1.T + b1)
        loss = (((hidden @ w2.T + b2) - y) ** 2).mean()
        loss.backward()
        return loss

    trajectory = []
    for _ in range(steps):
        if cls_name == "LBFGS":
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        trajectory.append(np.concatenate([p.detach().numpy().reshape(-1) for p in params]))
    return np.stack(trajectory), params, optimizer


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_torch(name):
    import torch

    init = _initial()
    ours, _, _ = _run(cr, name, init)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # PyTorch's scalar state (NAdam's mu_product) in float64 too
    try:
        theirs, _, _ = _run(torch, name, init)
    finally:
        torch.set_default_dtype(previous)
    assert ours.dtype == np.float64
    assert np.abs(theirs[-1] - theirs[0]).max() > 1e-3, "the case hardly moves: it would test nothing"
    for step in range(STEPS):
        np.testing.assert_allclose(ours[step], theirs[step], err_msg=f"{name} step {step + 1}", **TOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_resumes_exactly(name):
    init = _initial()
    straight, _, _ = _run(cr, name, init, steps=10)
    first, params, optimizer = _run(cr, name, init, steps=5)
    saved = optimizer.state_dict()
    resumed_params = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    second, _, fresh = _run(cr, name, init, steps=5, optimizer_state=saved, params=resumed_params)
    np.testing.assert_allclose(np.concatenate([first, second]), straight, rtol=0, atol=1e-13)
    assert fresh.state_dict()["param_groups"][0]["lr"] == saved["param_groups"][0]["lr"]


def test_float32_stays_float32_and_bad_options_raise():
    for cls_name, options in {v[0]: v[1] for v in CASES.values()}.items():
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
