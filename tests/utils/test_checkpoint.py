"""Activation checkpointing: same gradients as the plain run, less memory kept for backward."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import GradientError
from chainrule.utils import checkpoint, checkpoint_sequential, plan_segments


def chain(depth=8, width=16, dropout=0.2):
    cr.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def grads_of(model, run):
    model.zero_grad()
    x = cr.tensor(np.random.default_rng(1).standard_normal((5, 16)).astype(np.float32), requires_grad=True)
    cr.manual_seed(7)
    out = run(x)
    (out * out).sum().backward()
    return out.numpy().copy(), x.grad.numpy().copy(), [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("segments", [1, 2, 3, 24])
def test_checkpoint_sequential_matches_plain_run(segments):
    model = chain()
    plain = grads_of(model, model)
    ckpt = grads_of(model, lambda x: checkpoint_sequential(model, segments, x))
    np.testing.assert_array_equal(plain[0], ckpt[0])  # dropout masks repeat: the RNG state is restored
    np.testing.assert_allclose(plain[1], ckpt[1], rtol=1e-6, atol=1e-7)
    for a, b in zip(plain[2], ckpt[2]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_checkpoint_function_with_several_inputs_and_a_constant():
    w = cr.randn(4, 4, requires_grad=True)

    def fn(a, b, scale):
        return ((a @ w).tanh() * b) * scale

    a = cr.randn(3, 4, requires_grad=True)
    b = cr.randn(3, 4, requires_grad=True)
    fn(a, b, 2.0).sum().backward()
    expected = [t.grad.numpy().copy() for t in (a, b, w)]
    for t in (a, b, w):
        t.grad = None
    checkpoint(fn, a, b, 2.0).sum().backward()
    for e, t in zip(expected, (a, b, w)):
        np.testing.assert_allclose(t.grad.numpy(), e, rtol=1e-6)


def test_create_graph_through_checkpoint_is_refused():
    x = cr.randn(3, requires_grad=True)
    y = checkpoint(lambda t: t.sin(), x).sum()
    with pytest.raises(GradientError, match="create_graph"):
        cr.autograd.grad(y, x, create_graph=True)


def peak_backward_bytes(model, run, x):
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = run(x)
    out.sum().backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_memory_budget_plans_and_measured_peaks():
    cr.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(48) for m in (nn.Linear(64, 64), nn.ReLU())])
    x = cr.randn(256, 64)
    full = plan_segments(model, x, memory_budget=10**12)
    assert full[0] == 0  # everything fits: nothing is recomputed
    total = full[2]
    plans = [plan_segments(model, x, memory_budget=int(total * f)) for f in (0.7, 0.45)]
    assert 0 < plans[0][0] < plans[1][0] <= 96  # a smaller budget checkpoints more of the chain
    assert all(p[2] <= total * f for p, f in zip(plans, (0.7, 0.45)))
    plain = peak_backward_bytes(model, model, x)
    tight = peak_backward_bytes(
        model, lambda t: checkpoint_sequential(model, None, t, memory_budget=int(total * 0.45)), x
    )
    assert tight < 0.6 * plain
    with pytest.raises(MemoryError, match="no plan fits"):
        plan_segments(model, x, memory_budget=1000)


def test_memory_profile_counts_what_backward_keeps():
    from chainrule.utils.checkpoint import _memory_profile

    cr.manual_seed(0)
    mods = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.BatchNorm1d(64), nn.Dropout(0.5), nn.Linear(64, 10)]
    bn = mods[3]
    x = cr.randn(32, 64)
    before = (bn.running_mean.numpy().copy(), cr.random.get_rng_state())
    outs, kept = _memory_profile(mods, x)
    one = 32 * 64 * 4
    assert outs[:5] == [one] * 5
    # Linear's output is read only by ReLU, which keeps its own output (the next Linear's input) instead
    assert kept[0] == 0 and kept[1] == one
    # the measuring pass leaves running statistics and the random state as they were
    assert (bn.running_mean.numpy() == before[0]).all()
    assert cr.random.get_rng_state() == before[1]
