"""The training loop: exact resume, callbacks, metrics log, plots."""

from __future__ import annotations

import json

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import load_digits
from chainrule.nn import functional as F
from chainrule.train import EarlyStopping, KeepBest, Trainer, accuracy


def build(seed=0, run_dir=None, callbacks=(), **options):
    """Digits, an MLP with dropout, Adam with a schedule and a seeded shuffling loader."""
    cr.manual_seed(seed)
    x, y = load_digits(flatten=True)
    train = TensorDataset(x[:1000], y[:1000])
    val = TensorDataset(x[1000:1300], y[1000:1300])
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=cr.Generator().manual_seed(seed + 1))
    return Trainer(
        model,
        opt,
        F.cross_entropy,
        loader,
        DataLoader(val, batch_size=128),
        scheduler=sched,
        metrics={"accuracy": accuracy},
        run_dir=run_dir,
        callbacks=list(callbacks),
        progress=False,
        log=None,
        **options,
    )


def weights(trainer):
    return {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_resume_is_bit_for_bit(tmp_path):
    straight = build(run_dir=tmp_path / "a")
    straight.fit(4)
    expected = weights(straight)

    first = build(run_dir=tmp_path / "b")
    first.fit(2)
    # a different process would start from other weights and another RNG state: resume must restore all
    second = build(seed=99, run_dir=tmp_path / "b")
    second.fit(4, resume=tmp_path / "b" / "checkpoint.safetensors")
    got = weights(second)
    assert expected.keys() == got.keys()
    for k in expected:
        assert np.array_equal(expected[k], got[k]), f"{k} differs after resume"
    assert [h["epoch"] for h in second.history] == [1, 2, 3, 4]
    assert second.history[-1]["train_loss"] == straight.history[-1]["train_loss"]


def test_compiled_steps_train_bit_for_bit_as_eager():
    """Trainer(compile=True): the forward and backward replayed (dropout masks drawn afresh in eager's order, the
    last short batch a second signature); weights and history equal eager's (one thread: several make the BLAS's
    thread count, and so the rounding, a measured choice)."""
    before = cr.get_num_threads()
    cr.set_num_threads(1)
    try:
        eager = build()  # (each build seeds the generator that draws the dropout masks)
        eager.fit(3)
        compiled = build(compile=True)
        compiled.fit(3)
    finally:
        cr.set_num_threads(before)
    assert eager._captured is None
    explained = compiled._captured.explain()
    assert "2 signature(s)" in explained and explained.count("replayed") == 2 and "eager 0" in explained

    def untimed(history):
        return [{k: v for k, v in record.items() if k != "seconds"} for record in history]

    assert untimed(compiled.history) == untimed(eager.history)
    for k, v in weights(eager).items():
        assert np.array_equal(v, weights(compiled)[k]), k


def test_compile_is_off_with_a_gradient_monitor():
    from chainrule.diagnostics import GradientMonitor  # noqa: PLC0415

    trainer = build(compile=True)
    assert trainer._captured is not None
    monitor = GradientMonitor(trainer.model)
    monitored = Trainer(
        trainer.model,
        trainer.optimizer,
        F.cross_entropy,
        trainer.train_loader,
        monitor=monitor,
        progress=False,
        log=None,
        compile=True,
    )
    assert monitored._captured is None  # its hooks would make every step eager
    monitored.fit(1)
    monitor.detach()
    assert monitor.history


def test_metrics_log_checkpoint_and_plots(tmp_path):
    trainer = build(run_dir=tmp_path)
    history = trainer.fit(3)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    record = json.loads(lines[-1])
    assert {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= set(record)
    assert record["val_accuracy"] == history[-1]["val_accuracy"]
    assert (tmp_path / "checkpoint.safetensors").is_file()
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "accuracy.png").is_file()
    assert history[-1]["val_accuracy"] > 0.7


def test_early_stopping_stops():
    stopper = EarlyStopping(monitor="val_loss", patience=1, mode="max")  # 'max' on a falling loss: never improves
    trainer = build(callbacks=[stopper])
    history = trainer.fit(10)
    assert len(history) == 2


def test_keep_best_saves_best_weights(tmp_path):
    keep = KeepBest(monitor="val_accuracy", mode="max")
    trainer = build(run_dir=tmp_path, callbacks=[keep])
    history = trainer.fit(3)
    best = max(h["val_accuracy"] for h in history)
    assert keep.best == best
    state = cr.io.load(tmp_path / "best.safetensors")
    assert set(state) == set(trainer.model.state_dict())
