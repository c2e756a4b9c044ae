"""chainrule export RUN_DIR model.onnx: a trained run's model as ONNX, checked in onnxruntime."""

from __future__ import annotations

import re
import sys

import pytest

from chainrule.train.cli import main


def _train(tmp_path, recipe, epochs="1"):
    out = tmp_path / recipe
    assert (
        main(["train", "--recipe", recipe, "--epochs", epochs, "--no-progress", "--no-plots", "--out", str(out)]) == 0
    )
    return out


def test_export_a_trained_classifier(tmp_path, capsys):
    onnx = pytest.importorskip("onnx", reason="needs onnx: the onnx extra")
    pytest.importorskip("onnxruntime", reason="needs onnxruntime: the onnx extra")
    run = _train(tmp_path, "digits-cnn")
    capsys.readouterr()
    assert main(["export", str(run), str(tmp_path / "digits.onnx"), "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "inputs x (8, 1, 8, 8) -> output (8, 10)" in out and "best.safetensors" in out
    worst = float(re.search(r"largest difference from chainrule (\S+)", out).group(1))
    assert worst < 1e-4
    onnx.checker.check_model(str(tmp_path / "digits.onnx"))
    assert main(["export", str(run), str(tmp_path / "last.onnx"), "--weights", "last"]) == 0
    assert "checkpoint.safetensors" in capsys.readouterr().out


def test_export_a_recommender_run(tmp_path, capsys):
    pytest.importorskip("onnx", reason="needs onnx: the onnx extra")
    from chainrule.data.datasets.movielens import movielens_100k_dir

    if movielens_100k_dir() is None:
        pytest.skip("needs MovieLens-100k: pip install --no-deps recbole")
    run = _train(tmp_path, "movielens-mf")
    capsys.readouterr()
    assert main(["export", str(run), str(tmp_path / "mf.onnx"), "--batch-size", "32"]) == 0
    assert "inputs users (32,), items (32,) -> output (32,)" in capsys.readouterr().out


def test_export_a_text_run(tmp_path, capsys):
    pytest.importorskip("onnx", reason="needs onnx: the onnx extra")
    import chainrule as cr
    from chainrule.models import BertConfig, BertForSequenceClassification
    from chainrule.train.checkpoint import save_checkpoint

    config = BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
        pooling="mean",
    )
    model = BertForSequenceClassification(config)
    run = tmp_path / "text"
    model.save_pretrained(run)
    optimizer = cr.optim.AdamW(model.parameters())
    save_checkpoint(run / "checkpoint.safetensors", model, optimizer, None, 1, {"run": {"recipe": "minilm-sentiment"}})
    assert main(["export", str(run), str(tmp_path / "text.onnx"), "--batch-size", "2", "--seq-len", "12"]) == 0
    assert "inputs input_ids (2, 12), attention_mask (2, 12) -> output (2, 2)" in capsys.readouterr().out


def test_export_mistakes_are_one_line(tmp_path, capsys):
    pytest.importorskip("onnx", reason="needs onnx: the onnx extra")
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.onnx")]) == 1
    assert capsys.readouterr().err.startswith("error: run directory")
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "empty"), str(tmp_path / "m.onnx")]) == 1
    assert "holds no checkpoint.safetensors" in capsys.readouterr().err


def test_export_without_onnx_says_so_first(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'chainrule[onnx]'" in err
