"""Mixed precision on the CPU: autocast's casting policy and GradScaler's skip/backoff/growth logic."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import amp, nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.nn import functional as F


def test_autocast_casts_gemms_down_and_sensitive_ops_up():
    lin = nn.Linear(4, 3)
    x = cr.randn(2, 4)
    with amp.autocast("cpu", dtype=cr.float16):
        h = lin(x)
        assert h.dtype == cr.float16
        assert (h @ cr.randn(3, 3)).dtype == cr.float16
        assert F.softmax(h, dim=-1).dtype == cr.float32
        assert F.layer_norm(h, (3,)).dtype == cr.float32
        assert F.cross_entropy(h, cr.tensor([0, 1])).dtype == cr.float32
        mixed = h + cr.ones(2, 3)  # float16 + float32 promotes instead of raising
        assert mixed.dtype == cr.float32
    assert lin(x).dtype == cr.float32  # off again outside the block
    with pytest.raises(cr.DTypeError):
        cr.ones(2, dtype=cr.float16) + cr.ones(2)


def test_master_weights_and_gradients_stay_float32():
    lin = nn.Linear(4, 3)
    x = cr.randn(5, 4)
    with amp.autocast("cpu"):
        loss = F.mse_loss(lin(x), cr.zeros(5, 3))
    loss.backward()
    assert lin.weight.dtype == cr.float32 and lin.weight.grad.dtype == cr.float32
    ref = nn.Linear(4, 3)
    ref.load_state_dict(lin.state_dict())
    F.mse_loss(ref(x), cr.zeros(5, 3)).backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-2, atol=1e-3)


def test_autocast_on_another_device_type_changes_nothing_here():
    with amp.autocast("cuda"):
        assert nn.Linear(2, 2)(cr.randn(1, 2)).dtype == cr.float32


def test_bfloat16_needs_ml_dtypes():
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        with pytest.raises(TypeError, match="ml_dtypes"):
            amp.autocast("cpu", dtype="bfloat16")


def _params_and_step(scaler, inject_inf=False):
    lin = nn.Linear(3, 1)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    before = lin.weight.numpy().copy()
    loss = F.mse_loss(lin(cr.randn(4, 3)), cr.zeros(4, 1))
    opt.zero_grad()
    scaler.scale(loss).backward()
    if inject_inf:
        lin.weight.grad._data[0, 0] = np.inf
    scaler.step(opt)
    scaler.update()
    return before, lin.weight.numpy().copy(), lin


def test_overflow_skips_the_step_and_backs_off():
    scaler = amp.GradScaler(init_scale=1024.0)
    before, after, _ = _params_and_step(scaler, inject_inf=True)
    np.testing.assert_array_equal(before, after)
    assert scaler.get_scale() == 512.0


def test_clean_steps_grow_the_scale_and_unscale_is_exact():
    scaler = amp.GradScaler(init_scale=8.0, growth_interval=2)
    lin = nn.Linear(3, 1)
    x = cr.randn(4, 3)
    plain = nn.Linear(3, 1)
    plain.load_state_dict(lin.state_dict())
    F.mse_loss(plain(x), cr.zeros(4, 1)).backward()
    opt = cr.optim.SGD(lin.parameters(), lr=0.0)
    for _ in range(2):
        opt.zero_grad()
        scaler.scale(F.mse_loss(lin(x), cr.zeros(4, 1))).backward()
        scaler.unscale_(opt)
        np.testing.assert_allclose(lin.weight.grad.numpy(), plain.weight.grad.numpy(), rtol=1e-6)
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 16.0
    state = scaler.state_dict()
    other = amp.GradScaler()
    other.load_state_dict(state)
    assert other.get_scale() == 16.0


def test_misuse_is_an_error():
    scaler = amp.GradScaler()
    lin = nn.Linear(2, 1)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    scaler.scale(lin(cr.randn(3, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(cr.ChainruleError, match="already"):
        scaler.unscale_(opt)


def test_disabled_scaler_is_a_passthrough():
    scaler = amp.GradScaler(enabled=False)
    before, after, _ = _params_and_step(scaler)
    assert not np.array_equal(before, after) and scaler.get_scale() == 1.0


def test_mixed_precision_training_reaches_accuracy_on_digits():
    """float16 compute with float32 master weights and loss scaling: >= 90% on held-out digits."""
    cr.manual_seed(0)
    x, y = load_digits(flatten=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = cr.optim.Adam(model.parameters(), lr=3e-3)
    scaler = amp.GradScaler(init_scale=2.0**12)
    loader = DataLoader(TensorDataset(x[:1400], y[:1400]), batch_size=64, shuffle=True)
    for _ in range(8):
        for xb, yb in loader:
            with amp.autocast("cpu", dtype=cr.float16):
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    with cr.no_grad():
        acc = (model(x[1400:]).argmax(1) == y[1400:]).float().mean().item()
    assert acc >= 0.90
    assert all(p.dtype == cr.float32 for p in model.parameters())
