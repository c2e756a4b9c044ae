"""Model directories from elsewhere: files stay inside, sizes are checked before allocating, bad input is one error.

Each property test builds a small but real model directory (a 2-layer BERT
classifier, a word-level tokenizer) and searches one class of bad input:
file names that lead out of the directory, config sizes that disagree with
the weights, and malformed, truncated or corrupted files.  The loaders may
either load the directory (when the change left it valid) or raise one error
of their own class; anything else (a KeyError, a RecursionError, a
MemoryError, a file outside the directory that loads) fails the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.models import BertConfig, BertForSequenceClassification, BertModel, ConfigError, WeightsError
from chainrule.train.cli import main

from ..limits import memory_cap, needs_cap, outcome
from .helpers import HAVE_SAFETENSORS, HAVE_TOKENIZERS, tiny_config

pytestmark = pytest.mark.skipif(not HAVE_SAFETENSORS, reason="needs safetensors (pip install safetensors)")
needs_tokenizers = pytest.mark.skipif(not HAVE_TOKENIZERS, reason="needs tokenizers (pip install tokenizers)")

SEARCH = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "warm", "funny", "film", "dull", "tedious", "mess"]
SIZE_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "num_labels",
)


def _write_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(path))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """config.json + model.safetensors of a tiny classifier (+ tokenizer.json when tokenizers is installed)."""
    directory = tmp_path_factory.mktemp("tiny-classifier")
    cr.manual_seed(0)
    BertForSequenceClassification(
        tiny_config(vocab_size=len(WORDS) + 5, id2label={0: "neg", 1: "pos"})
    ).save_pretrained(directory)
    if HAVE_TOKENIZERS:
        _write_tokenizer(directory / "tokenizer.json")
    return directory


def _copy(template: Path, into: Path) -> Path:
    shutil.copytree(template, into)
    return into


def _sizes_of(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.is_file())


def _run_cli(argv) -> tuple:
    """(exit status, stdout, stderr) of ``chainrule ARGV`` (capsys is not reset between hypothesis examples)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _load(directory):
    return BertForSequenceClassification.from_pretrained(directory)


# ---------------------------------------------------------------------------
# paths: every file a loader opens is inside the directory it was given

# shard names an index may hold; the world around the model directory:
#   world/model/{model-00001.safetensors, sub/inside.safetensors, link_out -> ../outside,
#                link_file_out -> ../outside/x.safetensors, link_in.safetensors -> model-00001.safetensors, loop -> loop}
#   world/outside/x.safetensors   (present in one world, absent in its twin)
SHARD_NAMES = st.one_of(
    st.sampled_from(
        [
            "model-00001.safetensors",
            "./model-00001.safetensors",
            "sub/inside.safetensors",
            "sub/../model-00001.safetensors",
            "missing.safetensors",
            "../outside/x.safetensors",
            "../model/model-00001.safetensors",
            "{world}/outside/x.safetensors",
            "{world}/model/model-00001.safetensors",
            "link_out/x.safetensors",
            "link_file_out",
            "link_in.safetensors",
            "loop",
            "loop/x",
            "sub",
            ".",
            "",
            "/",
            "a\x00b",
        ]
    ),
    st.lists(
        st.sampled_from(["..", ".", "sub", "link_out", "outside", "x.safetensors", "model"]), min_size=1, max_size=5
    ).map("/".join),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


def _world(base: Path, template: Path, outside_exists: bool) -> Path:
    world = base
    model = world / "model"
    model.mkdir(parents=True)
    shutil.copy(template / "config.json", model / "config.json")
    shutil.copy(template / "model.safetensors", model / "model-00001.safetensors")
    (model / "sub").mkdir()
    shutil.copy(template / "model.safetensors", model / "sub" / "inside.safetensors")
    (world / "outside").mkdir()
    if outside_exists:
        shutil.copy(template / "model.safetensors", world / "outside" / "x.safetensors")
    os.symlink(world / "outside", model / "link_out")
    os.symlink(world / "outside" / "x.safetensors", model / "link_file_out")
    os.symlink(model / "model-00001.safetensors", model / "link_in.safetensors")
    os.symlink(model / "loop", model / "loop")
    return model


def _allowed(model: Path, name) -> bool:
    """The reference: a non-empty relative name without '..' whose real path is a regular file inside ``model``."""
    if not isinstance(name, str) or not name or "\x00" in name or os.path.isabs(name) or ".." in Path(name).parts:
        return False
    real, root = os.path.realpath(model / name), os.path.realpath(model)
    return os.path.commonpath([real, root]) == root and os.path.isfile(real)


@SEARCH
@given(name=SHARD_NAMES, which=st.integers(0, 10**6))
def test_shard_names_from_an_index_never_lead_out_of_the_directory(template, name, which):
    names = [n for n, _ in BertForSequenceClassification._parameter_shapes(BertConfig.from_pretrained(template))]
    messages = {}
    with tempfile.TemporaryDirectory() as tmp:
        for exists in (True, False):
            base = Path(tmp) / ("with" if exists else "sans")  # equal lengths: the messages compare as text
            model = _world(base, template, exists)
            shard = name.format(world=base) if isinstance(name, str) else name
            weight_map = dict.fromkeys(names, "model-00001.safetensors")
            weight_map[names[which % len(names)]] = shard
            (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
            kind, result = outcome(lambda model=model: _load(model), WeightsError)
            if _allowed(model, shard):
                assert kind == "ok", result
            else:
                assert kind == "error", f"{shard!r} loaded from outside {model}"
                messages[exists] = str(result).replace(str(base), "<world>")
    if messages:  # whether the outside file exists changes nothing in what the user is told
        assert messages[True] == messages[False]


@needs_tokenizers
@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_a_fixed_file_that_is_a_symlink_out_is_refused_the_same_whether_or_not_its_target_exists(
    template, tmp_path, name, capsys
):
    from chainrule.text import Tokenizer, TokenizerError

    said = {}
    for exists in (True, False):
        world = tmp_path / ("with" if exists else "sans")
        model = _copy(template, world / "model")
        (world / "outside").mkdir()
        if exists:
            shutil.copy(model / name, world / "outside" / name)
        (model / name).unlink()
        os.symlink(world / "outside" / name, model / name)
        load = Tokenizer.from_pretrained if name == "tokenizer.json" else _load
        with pytest.raises((ConfigError, WeightsError, TokenizerError), match="not a file inside") as refused:
            load(model)
        assert main(["predict", str(model), "a warm film"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "not a file inside" in err
        said[exists] = (str(refused.value) + err).replace(str(world), "<world>")
    assert said[True] == said[False]


# ---------------------------------------------------------------------------
# memory: the sizes a config declares are checked against the checkpoint before anything is allocated


@needs_cap
@SEARCH
@given(key=st.sampled_from(SIZE_KEYS), value=st.integers(1, 2**44), classifier=st.booleans())
def test_config_sizes_are_checked_against_the_weights_before_allocating(template, key, value, classifier):
    config = json.loads((template / "config.json").read_text())
    assume(value != config[key])
    config[key] = value
    if key == "num_labels":
        config.pop("id2label"), config.pop("label2id")
    if key == "hidden_size":
        config["num_attention_heads"] = 1
    with tempfile.TemporaryDirectory() as tmp:
        model = _copy(template, Path(tmp) / "model")
        if not classifier:  # an encoder checkpoint: the classifier head is new and may be missing
            arrays = cr.io.load_file(model / "model.safetensors")
            cr.io.save_file(
                {k: v for k, v in arrays.items() if not k.startswith("classifier.")}, model / "model.safetensors"
            )
        (model / "config.json").write_text(json.dumps(config))
        on_disk = _sizes_of(model)
        with memory_cap() as used:
            kind, result = outcome(lambda: _load(model), WeightsError, ConfigError)
    new_head = key == "num_labels" and not classifier and value * 33 <= 1 << 20
    if new_head:  # a small new head on an encoder checkpoint is what fine-tuning starts from
        assert kind == "ok" and result.classifier.weight.shape == (value, 32)
    else:
        assert kind == "error", f"{key}={value} loaded"
        assert key in str(result) and "config" in str(result)
    assert used.peak < 8 * on_disk + (8 << 20), f"{key}={value}: peak {used.peak:,} bytes for {on_disk:,} on disk"


@needs_cap
def test_a_config_asking_for_terabytes_is_refused_under_a_memory_cap(template, tmp_path):
    """The tester's example, each size at once: vocab 2^40, a million layers, a billion labels."""
    for key, value in (("vocab_size", 2**40), ("num_hidden_layers", 10**6), ("num_labels", 10**9)):
        model = _copy(template, tmp_path / key)
        config = json.loads((model / "config.json").read_text())
        config[key] = value
        config.pop("id2label"), config.pop("label2id")
        (model / "config.json").write_text(json.dumps(config))
        with memory_cap() as used:
            with pytest.raises(WeightsError, match=f"{key}={value}"):
                _load(model)
        assert used.peak < 8 << 20


# ---------------------------------------------------------------------------
# malformed files: one ConfigError / WeightsError / TokenizerError naming the file

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
CONFIG_KEYS = st.sampled_from(
    [
        *SIZE_KEYS,
        "num_attention_heads",
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "layer_norm_eps",
        "initializer_range",
        "pad_token_id",
        "position_embedding_type",
        "classifier_dropout",
        "id2label",
        "label2id",
        "pooling",
        "gradient_checkpointing",
        "model_type",
    ]
)


@SEARCH
@given(edits=st.lists(st.tuples(CONFIG_KEYS, st.one_of(JSON, st.just("<drop>"))), min_size=1, max_size=3))
def test_wrong_types_missing_keys_and_odd_values_in_config_json_are_one_config_error(template, edits):
    config = json.loads((template / "config.json").read_text())
    for key, value in edits:
        if value == "<drop>":
            config.pop(key, None)
        else:
            config[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        model = _copy(template, Path(tmp) / "model")
        (model / "config.json").write_text(json.dumps(config))
        kind, result = outcome(lambda: _load(model), ConfigError, WeightsError)
    if kind == "error":
        assert str(model) in str(result)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hidden_dropout_prob", None),  # found by tests/untrusted_attempts.py: a TypeError from Dropout before
        ("attention_probs_dropout_prob", "0.1"),
        ("hidden_act", ["gelu"]),  # unhashable: a TypeError from the lookup before
        ("pad_token_id", 10**6),
        ("initializer_range", "0.02"),
        ("id2label", {"3": "a", "7": "b"}),  # the right count, the wrong indices: a KeyError at predict before
        ("gradient_checkpointing", "yes"),
    ],
)
def test_each_config_value_that_cannot_build_the_model_is_named(template, tmp_path, key, value):
    model = _copy(template, tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    config[key] = value
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=key) as err:
        _load(model)
    assert str(model / "config.json") in str(err.value)


def _corrupt(raw: bytes, how: str, at: int, byte: int) -> bytes:
    at = at % (len(raw) + 1)
    if how == "truncate":
        return raw[:at]
    if how == "flip":
        return raw[:at] + bytes([byte]) + raw[at + 1 :]
    if how == "not-utf8":
        return raw[:at] + b"\xff\xfe\xc3" + raw[at:]
    if how == "nest":
        return b"[" * 100_000 + b"]" * 100_000
    return raw + raw[:at]  # "append"


@needs_tokenizers
@SEARCH
@given(
    name=st.sampled_from(["config.json", "model.safetensors", "tokenizer.json", "model.safetensors.index.json"]),
    how=st.sampled_from(["truncate", "flip", "not-utf8", "nest", "append"]),
    at=st.integers(0, 2**20),
    byte=st.integers(0, 255),
)
def test_truncated_or_corrupted_files_are_one_error_of_the_loader(template, name, how, at, byte):
    from chainrule.text import Tokenizer, TokenizerError

    with tempfile.TemporaryDirectory() as tmp:
        model = _copy(template, Path(tmp) / "model")
        if name == "model.safetensors.index.json":  # a sharded checkpoint: corrupt its index
            names = [n for n, _ in BertForSequenceClassification._parameter_shapes(BertConfig.from_pretrained(model))]
            (model / "model.safetensors").rename(model / "model-00001.safetensors")
            index = {"metadata": {}, "weight_map": dict.fromkeys(names, "model-00001.safetensors")}
            (model / name).write_text(json.dumps(index))
        (model / name).write_bytes(_corrupt((model / name).read_bytes(), how, at, byte))
        kind, result = outcome(lambda: _load(model), ConfigError, WeightsError)
        if kind == "error":
            assert str(model) in str(result) or name in str(result)
        kind, result = outcome(lambda: Tokenizer.from_pretrained(model), TokenizerError)
        status, _, err = _run_cli(["predict", str(model), "a warm film"])
        assert status in (0, 1)
        if status:
            assert err.startswith("error: ") and err.count("\n") == 1, err


@needs_tokenizers
def test_predict_refuses_a_tokenizer_that_does_not_fit_the_model(template, tmp_path, capsys):
    model = _copy(template, tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    assert main(["predict", str(model), "a warm funny film", "dull"]) == 0
    assert {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()} <= {"neg", "pos"}
    # a tokenizer with more tokens than the embedding table: refused before any text is encoded
    config["vocab_size"] = len(WORDS) - 1
    (model / "config.json").write_text(json.dumps(config))
    cr.manual_seed(0)
    BertForSequenceClassification(BertConfig.from_dict(config)).save_pretrained(model)
    assert main(["predict", str(model), "mess"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and f"has {len(WORDS)} tokens" in err and "vocab_size" in err


@needs_tokenizers
@pytest.mark.parametrize("where", ["single", "pair", "ids"])
def test_a_template_naming_a_missing_special_token_is_one_error_not_a_rust_panic(template, tmp_path, capsys, where):
    """The tokenizers library loads such a file, then panics (a BaseException) on the first text it encodes."""
    from chainrule.text import Tokenizer, TokenizerError

    model = _copy(template, tmp_path / "model")
    spec = json.loads((model / "tokenizer.json").read_text())
    processor = spec["post_processor"]
    if where == "ids":
        processor["special_tokens"]["[SEP]"]["ids"] = []
    else:
        processor[where][-1]["SpecialToken"]["id"] = "[SEQ]"  # one byte off, as a corrupted file has it
    (model / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(TokenizerError, match="special token"):
        Tokenizer.from_pretrained(model)
    assert main(["predict", str(model), "a warm film"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "special token" in err


@needs_tokenizers
def test_a_rust_panic_while_encoding_is_one_tokenizer_error(template):
    """A backend built from such a file directly (not through from_file's check) panics on a pair; the wrapper
    turns the panic (a BaseException) into a TokenizerError."""
    from tokenizers import Tokenizer as Backend

    from chainrule.text import Tokenizer, TokenizerError

    spec = json.loads((template / "tokenizer.json").read_text())
    spec["post_processor"]["pair"][-1]["SpecialToken"]["id"] = "[SEQ]"
    tok = Tokenizer(Backend.from_str(json.dumps(spec)), max_length=16)  # the single template is fine
    assert tok(["a warm film"])["input_ids"].shape == (1, 5)
    with pytest.raises(TokenizerError, match="failed on these texts"):
        tok(["a warm film"], ["dull"])


@needs_tokenizers
def test_labels_from_a_config_are_printed_without_control_characters(template, tmp_path, capsys):
    model = _copy(template, tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    config["id2label"] = {"0": "neg\x1b[2J\x1b[31m", "1": "pos\u202e"}
    (model / "config.json").write_text(json.dumps(config))
    assert main(["predict", str(model), "a warm film", "dull"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out or "\\u202e" in out


# ---------------------------------------------------------------------------
# the shapes the checks rely on are the shapes the models build


@settings(max_examples=30, deadline=None)
@given(
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 4),
    layers=st.integers(1, 3),
    vocab=st.integers(1, 20),
    inner=st.integers(1, 9),
    positions=st.integers(1, 9),
    types=st.integers(1, 3),
    labels=st.integers(1, 4),
    pooling=st.sampled_from(["cls", "mean"]),
)
def test_parameter_shapes_are_those_of_the_built_models(
    heads, head_dim, layers, vocab, inner, positions, types, labels, pooling
):
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=heads * head_dim,
        num_attention_heads=heads,
        num_hidden_layers=layers,
        intermediate_size=inner,
        max_position_embeddings=positions,
        type_vocab_size=types,
        num_labels=labels,
        pooling=pooling,
        pad_token_id=0,
    )
    for cls, shapes in (
        (BertModel, BertModel._parameter_shapes(config)),
        (BertForSequenceClassification, BertForSequenceClassification._parameter_shapes(config)),
    ):
        built = {k: tuple(v.shape) for k, v in cls(config).state_dict().items()}
        assert list(shapes) == list(built.items())
    total = sum(math.prod(s) for _, s in BertModel._parameter_shapes(config))
    assert total == sum(p.numel() for p in BertModel(config).parameters())


def test_sizes_in_an_error_name_the_config_keys(template, tmp_path):
    model = _copy(template, tmp_path / "model")
    with pytest.raises(WeightsError, match=r"vocab_size=99") as err:
        BertForSequenceClassification.from_pretrained(model, vocab_size=99)
    assert "embeddings.word_embeddings.weight: checkpoint (16, 32), model (99, 32)" in str(err.value)
    assert np.isfinite(_load(model).classifier.weight._data).all()
