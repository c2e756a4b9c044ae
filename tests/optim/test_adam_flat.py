"""Adam's multi-tensor step (flat buffers, ``Adam._step_flat``) equals its per-parameter reference bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import adam as adam_module


class Reference(optim.Adam):
    """Adam with the multi-tensor path turned off: the per-parameter ``_update`` loop."""

    def _step_flat(self, group, pairs):
        return False


class ReferenceW(optim.AdamW):
    def _step_flat(self, group, pairs):
        return False


SHAPES = [(7, 5), (5,), (3, 4, 2), (), (300,), (1,)]


def params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for shape in SHAPES]


def set_grads(ps, step, skip=()):
    rng = np.random.default_rng(100 + step)
    for i, p in enumerate(ps):
        grad = rng.standard_normal(p.shape).astype(p.numpy().dtype)
        p.grad = None if i in skip else cr.tensor(grad)


def run_both(make, steps=5, skip_at=None, dtype=np.float32):
    ours, ref = params(dtype), params(dtype)
    opt_ours, opt_ref = make(optim.Adam, ours), make(Reference, ref)
    for step in range(steps):
        skip = (1,) if step == skip_at else ()
        set_grads(ours, step, skip)
        set_grads(ref, step, skip)
        opt_ours.step()
        opt_ref.step()
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    return opt_ours, opt_ref, ours


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"maximize": True},
        {"maximize": True, "weight_decay": 0.05},
        {"lr": 0.5, "betas": (0.5, 0.6), "eps": 1e-3},
    ],
)
def test_flat_step_equals_reference(dtype, options, monkeypatch):
    monkeypatch.setattr(adam_module, "_BUCKET", 64)  # several buckets, and a parameter larger than one
    opt, ref, _ = run_both(lambda cls, ps: cls(ps, **options), dtype=dtype)
    assert opt._flat, "the multi-tensor path did not run"
    for p_ours, p_ref in zip(opt.param_groups[0]["params"], ref.param_groups[0]["params"]):
        for name in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(opt.state[p_ours][name].numpy(), ref.state[p_ref][name].numpy())
        assert opt.state[p_ours]["step"] == ref.state[p_ref]["step"] == 5


def test_adamw_flat_equals_reference():
    ours, ref = params(np.float32), params(np.float32)
    opt, opt_ref = optim.AdamW(ours, lr=0.01), ReferenceW(ref, lr=0.01)
    for step in range(4):
        set_grads(ours, step)
        set_grads(ref, step)
        opt.step()
        opt_ref.step()
    assert opt._flat
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_missing_grad_and_amsgrad_fall_back_to_reference():
    # a parameter without a gradient at step 2: its step count lags, so the group takes the per-parameter loop
    run_both(lambda cls, ps: cls(ps, lr=0.1), steps=5, skip_at=2)
    run_both(lambda cls, ps: cls(ps, lr=0.1, amsgrad=True), steps=3)


def test_state_tensors_are_views_updated_in_place_and_survive_load():
    ps = params(np.float32)
    opt = optim.Adam(ps, lr=0.1)
    set_grads(ps, 0)
    opt.step()
    held = opt.state[ps[0]]["exp_avg"]
    before = held.numpy().copy()
    set_grads(ps, 1)
    opt.step()
    assert opt.state[ps[0]]["exp_avg"] is held and not np.array_equal(held.numpy(), before)

    # a state loaded mid-run continues exactly as an uninterrupted reference run
    saved = opt.state_dict()
    ref_ps = [cr.tensor(p.numpy().copy(), requires_grad=True) for p in ps]
    ref = Reference(ref_ps, lr=0.1)
    ref.load_state_dict(saved)
    opt.load_state_dict(saved)
    for step in (2, 3):
        set_grads(ps, step)
        set_grads(ref_ps, step)
        opt.step()
        ref.step()
    for a, b in zip(ps, ref_ps):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert len(opt._flat) == 1  # the buffers of the replaced group were let go


def test_flat_step_allocates_no_new_buffers_after_the_first():
    ps = params(np.float32)
    opt = optim.Adam(ps, lr=0.1)
    set_grads(ps, 0)
    opt.step()
    flat = next(iter(opt._flat.values()))
    set_grads(ps, 1)
    opt.step()
    assert next(iter(opt._flat.values())) is flat
