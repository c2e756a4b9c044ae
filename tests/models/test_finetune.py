"""Fine-tuning: a few steps on MiniLM improve held-out snippets; the recipe trains, saves, resumes and predicts.

The full runs (all 8,926 training snippets) take far too long for the suite;
their commands and measured accuracies are in the docstring of
chainrule/train/recipes_text.py.
The recipe tests here run on a tiny random BERT that uses MiniLM's tokenizer.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.models import BertForSequenceClassification, BertModel
from chainrule.train.callbacks import Callback
from chainrule.train.cli import main
from chainrule.train.metrics import accuracy
from chainrule.train.recipes_text import fine_tune, predict, rotten_tomatoes_splits

from .helpers import MINILM, needs_corpus, needs_minilm, tiny_config


def _short(texts, labels, n):
    keep = [i for i, t in enumerate(texts) if len(t) < 90][:n]
    return [texts[i] for i in keep], cr.tensor(labels[keep])


@needs_minilm
@needs_corpus
def test_a_few_fine_tuning_steps_improve_minilm_on_held_out_snippets():
    from chainrule.text import Tokenizer

    cr.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(MINILM, pooling="mean")
    tokenizer = Tokenizer.from_pretrained(MINILM, max_length=32)
    (train_texts, train_labels), (val_texts, val_labels), _ = rotten_tomatoes_splits(seed=0)
    train_texts, train_labels = _short(train_texts, train_labels, 32)
    val_texts, val_labels = _short(val_texts, val_labels, 64)
    train, held_out = tokenizer(train_texts), tokenizer(val_texts)

    def evaluate():
        model.eval()
        with cr.no_grad():
            a = model(train["input_ids"], train["attention_mask"])
            b = model(held_out["input_ids"], held_out["attention_mask"])
        return F.cross_entropy(a, train_labels).item(), F.cross_entropy(b, val_labels).item(), accuracy(b, val_labels)

    train_before, held_before, acc_before = evaluate()
    assert train_before == pytest.approx(np.log(2), abs=0.05)  # the new head starts near chance
    optimizer = cr.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for _ in range(6):
        loss = F.cross_entropy(model(train["input_ids"], train["attention_mask"]), train_labels)
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    train_after, held_after, acc_after = evaluate()
    assert train_after < 0.6 * train_before
    assert held_after < held_before - 0.08
    assert acc_after >= 0.7 and acc_after > acc_before + 0.1


# ---------------------------------------------------------------------------
# the recipe, on a tiny random BERT with MiniLM's tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-bert")
    cr.manual_seed(0)
    BertModel(tiny_config(vocab_size=30522, max_position_embeddings=64)).save_pretrained(directory)
    shutil.copy(MINILM / "tokenizer.json", directory / "tokenizer.json")
    return directory


def _tune(run_dir, model_dir, **kwargs):
    options = {"epochs": 2, "batch_size": 16, "lr": 1e-3, "limit": 96, "progress": False, "plots": False}
    options.update(kwargs)
    return fine_tune(run_dir, model_dir=model_dir, log=None, **options)


@needs_minilm
@needs_corpus
def test_recipe_saves_a_model_that_reloads_and_predicts(tiny_dir, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    summary = _tune(run, tiny_dir)
    assert summary["train_size"] == summary["test_size"] == 96 and summary["best_epoch"] in (1, 2)
    assert json.loads((run / "result.json").read_text()) == summary
    for name in ("config.json", "model.safetensors", "tokenizer.json", "checkpoint.safetensors", "metrics.jsonl"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["id2label"] == {"0": "rotten", "1": "fresh"} and config["pooling"] == "mean"

    # the saved files reproduce the reported test accuracy
    from chainrule.text import TextClassificationDataset, Tokenizer

    model = BertForSequenceClassification.from_pretrained(run)
    tokenizer = Tokenizer.from_pretrained(run)
    assert tokenizer.max_length == 64
    _, _, (texts, labels) = rotten_tomatoes_splits(seed=0, limit=96)
    ds = TextClassificationDataset(texts, labels, tokenizer)
    (ids, mask), target = ds.collate([ds[i] for i in range(len(ds))])
    with cr.no_grad():
        logits = model(ids, mask)
    assert accuracy(logits, target) == pytest.approx(summary["test_accuracy"])

    rows = predict(run, texts[:3])
    probs = F.softmax(logits, dim=-1)._data[:3]
    assert [r[0] for r in rows] == [("rotten", "fresh")[int(p.argmax())] for p in probs]
    np.testing.assert_allclose([r[1] for r in rows], probs.max(axis=1), atol=1e-5)

    assert main(["predict", str(run), "a warm, funny film", "a tedious mess"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith("\ta warm, funny film")
    label, probability, _ = lines[1].split("\t")
    assert label in ("rotten", "fresh") and 0.5 <= float(probability) <= 1.0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("first line\n\nsecond line\n"))
    assert main(["predict", str(run)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


@needs_minilm
@needs_corpus
def test_resumed_fine_tuning_ends_with_the_same_weights(tiny_dir, tmp_path):
    from safetensors.numpy import load_file

    class Interrupt(Callback):
        def on_epoch_end(self, trainer, metrics):
            trainer.should_stop = True

    _tune(tmp_path / "whole", tiny_dir, epochs=2, limit=48)
    _tune(tmp_path / "part", tiny_dir, epochs=2, limit=48, callbacks=[Interrupt()])
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 1
    _tune(tmp_path / "part", tiny_dir, epochs=2, limit=48, resume=tmp_path / "part" / "checkpoint.safetensors")
    whole = load_file(str(tmp_path / "whole" / "checkpoint.safetensors"))
    resumed = load_file(str(tmp_path / "part" / "checkpoint.safetensors"))
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_array_equal(whole[name], resumed[name], err_msg=name)


@needs_minilm
@needs_corpus
def test_probe_trains_only_the_head(tiny_dir, tmp_path):
    from safetensors.numpy import load_file

    summary = _tune(tmp_path / "probe", tiny_dir, freeze_encoder=True, epochs=5, lr=1e-2, limit=64)
    assert summary["recipe"] == "minilm-sentiment-probe" and summary["trainable_parameters"] == 32 * 2 + 2
    before = load_file(str(tiny_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "probe" / "model.safetensors"))
    for name, array in before.items():
        if not name.startswith("pooler."):
            np.testing.assert_array_equal(after["bert." + name], array, err_msg=name)
    assert np.abs(after["classifier.weight"]).max() > 0


def test_predict_and_train_report_mistakes_in_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nowhere"), "text"]) == 1
    assert "error: run directory" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert main(["predict", str(tmp_path), "text"]) == 1
    assert "has no model.safetensors" in capsys.readouterr().err
    assert main(["train", "--recipe", "minilm-sentiment", "--optimizer", "sgd", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "AdamW" in err or "not installed" in err
    assert main(["train", "--recipe", "minilm-sentiment", "--data", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["recipes"]) == 0
    listing = capsys.readouterr().out
    assert "minilm-sentiment " in listing and "minilm-sentiment-probe" in listing


_MEMORY_SCRIPT = """
import sys
import numpy as np
import chainrule as cr
import chainrule.nn.functional as F
from chainrule.models import BertForSequenceClassification
model = BertForSequenceClassification.from_pretrained(sys.argv[1], pooling="mean")
if sys.argv[2] == "1":
    model.gradient_checkpointing_enable()
model.train()
ids = np.random.default_rng(0).integers(1000, 29000, size=(32, 64))
optimizer = cr.optim.AdamW(model.parameters(), lr=5e-5)
for _ in range(2):
    loss = F.cross_entropy(model(ids, np.ones_like(ids)), cr.tensor(np.arange(32) % 2))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


@pytest.mark.slow
@needs_minilm
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="reads the peak RSS from /proc")
def test_fine_tuning_at_batch_32_and_length_64_fits_in_4_gb():
    import subprocess
    import sys

    peaks = []
    for checkpointing in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT, str(MINILM), checkpointing], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        peaks.append(int(out.stdout.strip().splitlines()[-1]))
    plain, checkpointed = peaks
    assert plain < 4 * 2**30
    assert checkpointed < plain - 200 * 2**20  # per-layer recomputation frees most activations
