"""cr.utils.tensorboard.SummaryWriter writes event files that read back; the Trainer and chainrule train log to it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("tensorboardX", reason="needs tensorboardX: the tensorboard extra")

import chainrule as cr  # noqa: E402
from chainrule.data import DataLoader, TensorDataset  # noqa: E402
from chainrule.diagnostics import GradientMonitor  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.train import TensorBoard, Trainer, accuracy  # noqa: E402
from chainrule.train.cli import main  # noqa: E402
from chainrule.utils.tensorboard import SummaryWriter, read_histograms, read_scalars  # noqa: E402


def test_summary_writer_takes_chainrule_tensors(tmp_path):
    weights = cr.randn(100, 3)
    with SummaryWriter(tmp_path) as writer:  # torch.utils.tensorboard's name and arguments
        for step in range(3):
            writer.add_scalar("loss/train", cr.tensor(1.0 / (step + 1)), step)
        writer.add_scalars("pair", {"a": 1.0, "b": cr.tensor(2.0)}, 0)
        writer.add_histogram("w", weights, 5)
        writer.add_image("img", cr.rand(3, 8, 8), 0)
        writer.add_text("note", "hello", 0)
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["loss/train"]] == [0, 1, 2]
    assert np.allclose([v for _, v in scalars["loss/train"]], [1.0, 0.5, 1 / 3])
    histogram = read_histograms(tmp_path)["w"][0]
    assert histogram[0] == 5 and histogram[1]["num"] == 300
    assert histogram[1]["min"] == pytest.approx(float(weights.min().item()))


def test_add_graph_logs_the_onnx_export(tmp_path):
    pytest.importorskip("onnx", reason="add_graph exports with chainrule.onnx: the onnx extra")
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(model, cr.randn(2, 4))
    assert any(p.stat().st_size > 200 for p in tmp_path.glob("events.out.tfevents.*"))


def _trainer(run_dir, callbacks, monitor=None):
    cr.manual_seed(0)
    x, y = cr.randn(96, 6), cr.randint(0, 3, (96,))
    model = cr.nn.Sequential(cr.nn.Linear(6, 16), cr.nn.ReLU(), cr.nn.Linear(16, 3))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=cr.Generator().manual_seed(1))
    monitor = GradientMonitor(model, every=1, on_issue=None) if monitor else None
    return Trainer(
        model,
        cr.optim.Adam(model.parameters(), lr=1e-2),
        F.cross_entropy,
        loader,
        loader,
        metrics={"accuracy": accuracy},
        run_dir=run_dir,
        callbacks=callbacks,
        progress=False,
        log=None,
        plots=False,
        monitor=monitor,
    )


def test_trainer_writes_curves_norms_and_histograms(tmp_path):
    logs = tmp_path / "tb"
    trainer = _trainer(tmp_path / "run", [TensorBoard(logs)])
    trainer.fit(3)
    scalars = read_scalars(logs)
    for tag in ("loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "grad_norm/0.weight"):
        assert [step for step, _ in scalars[tag]] == [1, 2, 3], tag
    assert scalars["loss/val"][-1][1] == pytest.approx(trainer.history[-1]["val_loss"])
    histograms = read_histograms(logs)
    assert {"weights/0.weight", "gradients/0.weight", "weights/2.bias", "gradients/2.bias"} <= set(histograms)
    assert histograms["weights/0.weight"][-1][1]["num"] == 6 * 16


def test_trainer_writes_the_monitors_per_layer_norms(tmp_path):
    logs = tmp_path / "tb"
    trainer = _trainer(None, [TensorBoard(logs, histograms=False)], monitor=True)
    trainer.fit(2)
    scalars = read_scalars(logs)
    steps = [record["step"] for record in trainer.monitor.history]
    assert [s for s, _ in scalars["grad_norm/0"]] == steps and len(steps) == 6
    assert scalars["grad_norm/2"][0][1] == pytest.approx(trainer.monitor.history[0]["layers"]["2"]["grad_norm"])
    assert "update_ratio/0" in scalars and not read_histograms(logs)


def test_a_resumed_run_continues_the_curves(tmp_path):
    logs = tmp_path / "tb"
    _trainer(tmp_path / "run", [TensorBoard(logs)]).fit(2)
    trainer = _trainer(tmp_path / "run", [TensorBoard(logs)])
    trainer.fit(4, resume=tmp_path / "run" / "checkpoint.safetensors")
    steps = sorted(step for step, _ in read_scalars(logs)["loss/train"])
    assert steps == [1, 2, 3, 4]


def test_chainrule_train_tensorboard(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--recipe", "digits-mlp", "--epochs", "2", "--no-progress", "--no-plots", "--out", str(out)]
    assert main([*args, "--tensorboard"]) == 0
    scalars = read_scalars(out / "tensorboard")
    assert [s for s, _ in scalars["accuracy/val"]] == [1, 2]
    assert "weights/1.weight" in read_histograms(out / "tensorboard")
    assert main([*args[:-1], str(tmp_path / "other"), "--tensorboard", str(tmp_path / "logs")]) == 0
    assert "loss/train" in read_scalars(tmp_path / "logs")


def test_tensorboard_flag_without_the_extra_is_one_line(tmp_path, capsys, monkeypatch):
    import importlib.util  # noqa: PLC0415

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboardX" else real(name, *a)
    )
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    out = tmp_path / "run"
    assert main(["train", "--recipe", "digits-mlp", "--out", str(out), "--tensorboard"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'chainrule[tensorboard]'" in err
    assert not out.exists()
