"""The learning-rate range test on the bundled digits: a usable suggestion, and nothing changed afterwards."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import lr_finder
from chainrule.nn import functional as F


def setup(seed=0, optimizer="adam"):
    cr.manual_seed(seed)
    x, y = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(y))
    train = TensorDataset(x[order[:1400]], y[order[:1400]])
    test = TensorDataset(x[order[1400:]], y[order[1400:]])
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    if optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    return model, opt, loader, test


def fit(model, opt, loader, epochs):
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def test_suggestion_trains_and_the_curve_has_the_expected_shape(tmp_path):
    model, opt, loader, test = setup()
    result = lr_finder(model, opt, F.cross_entropy, loader, steps=120)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) <= 120
    assert np.all(np.diff(result.lrs) > 0)
    finite = [v for v in result.smoothed if math.isfinite(v)]
    assert min(finite) < finite[0] - 0.5  # the loss fell a lot ...
    assert finite[-1] > min(finite) + 1.0  # ... and rose again once the rate was too large
    assert 1e-4 <= result.suggestion <= 0.1
    assert result.suggestion == pytest.approx(result.min_loss_lr / 10)
    assert result.steepest_lr <= result.min_loss_lr
    for group in opt.param_groups:
        assert group["lr"] == 1e-3  # the optimizer's options are back
        group["lr"] = result.suggestion
    fit(model, opt, loader, 4)
    model.eval()
    x, y = test.tensors
    with cr.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy >= 0.93

    written = result.save(tmp_path)
    assert json.loads((tmp_path / "lr_finder.json").read_text())["suggestion"] == result.suggestion
    assert written["plot"].read_bytes()[:4] == b"\x89PNG"


def test_afterwards_training_is_exactly_as_without_the_test():
    model, opt, loader, _ = setup(optimizer="sgd")
    lr_finder(model, opt, F.cross_entropy, loader, steps=40)
    fit(model, opt, loader, 1)
    after = [p.numpy().copy() for p in model.parameters()]

    model, opt, loader, _ = setup(optimizer="sgd")
    fit(model, opt, loader, 1)
    for a, b in zip(after, [p.numpy() for p in model.parameters()]):
        assert np.array_equal(a, b)


def test_divergence_stops_the_sweep_early():
    model, opt, loader, _ = setup(optimizer="sgd")
    result = lr_finder(model, opt, F.cross_entropy, loader, start_lr=1e-4, end_lr=1e3, steps=100)
    assert result.stopped_early and len(result.lrs) < 100
    assert result.suggestion < 1.0


def test_restore_false_keeps_the_swept_weights():
    model, opt, loader, _ = setup()
    before = [p.numpy().copy() for p in model.parameters()]
    lr_finder(model, opt, F.cross_entropy, loader, steps=20, end_lr=1e-2, restore=False)
    assert any(not np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))


def test_mistakes():
    model, opt, loader, _ = setup()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_finder(model, opt, F.cross_entropy, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        lr_finder(model, opt, F.cross_entropy, loader, steps=1)
    with pytest.raises(ValueError, match="no batches"):
        lr_finder(model, opt, F.cross_entropy, [], steps=5)
