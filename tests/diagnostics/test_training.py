"""The Trainer's non-finite-gradient policy and its GradientMonitor hook-up."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import GradientMonitor
from chainrule.nn import functional as F
from chainrule.nn.utils import clip_grad_norm_
from chainrule.train import Trainer


class Batches:
    """A DataLoader whose batch number ``poison`` (in every epoch) has NaN inputs, or is left out (``drop``)."""

    def __init__(self, loader, poison=None, drop=None):
        self.loader, self.poison, self.drop = loader, set(poison or ()), set(drop or ())
        self.generator = loader.generator

    def __len__(self):
        return len(self.loader) - len(self.drop)

    def __iter__(self):
        for i, (x, y) in enumerate(self.loader):
            if i in self.drop:
                continue
            yield (x * math.nan if i in self.poison else x), y


def build(poison=(), drop=(), nonfinite="skip", grad_clip=None, monitor=False, run_dir=None, log=None, depth=1):
    cr.manual_seed(0)
    x, y = load_digits(flatten=True)
    layers = [nn.Linear(64, 32), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(
        TensorDataset(x[:640], y[:640]), batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(1)
    )
    mon = GradientMonitor(model, every=2) if monitor else None
    trainer = Trainer(
        model,
        opt,
        F.cross_entropy,
        Batches(loader, poison, drop),
        DataLoader(TensorDataset(x[640:900], y[640:900]), batch_size=128),
        progress=False,
        log=log,
        nonfinite=nonfinite,
        grad_clip=grad_clip,
        monitor=mon,
        run_dir=run_dir,
        plots=run_dir is not None,
    )
    return trainer


def weights(trainer):
    return [p.numpy().copy() for p in trainer.model.parameters()]


def test_skip_is_the_same_as_leaving_the_batch_out_and_warns_once():
    lines = []
    skipped = build(poison=[3, 7], log=lines.append)
    history = skipped.fit(2)
    dropped = build(drop=[3, 7])
    dropped.fit(2)
    for a, b in zip(weights(skipped), weights(dropped)):
        assert np.array_equal(a, b)
    assert [h["skipped_steps"] for h in history] == [2, 2]
    assert history[0]["train_loss"] == dropped.history[0]["train_loss"]  # averaged over the used batches
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "epoch 1, batch 4" in warnings[0] and "skipped" in warnings[0] and "0.weight" in warnings[0]


def test_raise_names_the_parameters():
    trainer = build(poison=[2], nonfinite="raise")
    with pytest.raises(cr.GradientError, match=r"epoch 1, batch 3: the gradient norm is nan \(non-finite in 0.weight"):
        trainer.fit(1)


def test_step_behaves_like_a_plain_loop():
    trainer = build(poison=[2], nonfinite="step")
    history = trainer.fit(1)
    assert any(np.isnan(w).any() for w in weights(trainer))  # Adam turned NaN gradients into NaN weights
    assert "skipped_steps" not in history[0]


def test_an_epoch_of_only_bad_steps_is_divergence():
    trainer = build(poison=range(10))
    with pytest.raises(cr.GradientError, match="every one of its 10 steps.*diverged"):
        trainer.fit(1)


def test_clipping_is_unchanged_by_the_check():
    trainer = build(grad_clip=0.5)
    trainer.fit(1)

    cr.manual_seed(0)
    reference = build()
    model, opt = reference.model, reference.optimizer
    for x, y in reference.train_loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
    for a, b in zip(weights(trainer), weights(reference)):
        assert np.array_equal(a, b)


def test_the_monitor_warns_once_and_writes_its_report(tmp_path):
    lines = []
    trainer = build(monitor=True, run_dir=tmp_path, log=lines.append, depth=16)
    trainer.fit(2)
    warnings = [line for line in lines if line.startswith("warning: gradient monitor")]
    assert len(warnings) == 1 and "vanish" in warnings[0] and "Hint:" in warnings[0]
    assert "VANISHING" in (tmp_path / "gradient_report.txt").read_text()
    assert (tmp_path / "gradients.png").is_file() and (tmp_path / "gradients.json").is_file()
    assert len(trainer.monitor.history) == 10  # 2 epochs x 10 batches, every 2 steps
