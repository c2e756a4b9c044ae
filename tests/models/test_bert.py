"""BERT: parity with sentence-transformers, masking, loading by name with named errors, checkpointing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from chainrule.models import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    ConfigError,
    WeightsError,
    mean_pooling,
)
from tests.parity import FIXTURES

from .helpers import HAVE_TRANSFORMERS, MINILM, needs_minilm, needs_safetensors, random_ids, tiny_config


@pytest.fixture(scope="module")
def minilm():
    from chainrule.text import Tokenizer

    return BertModel.from_pretrained(MINILM), Tokenizer.from_pretrained(MINILM)


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "bert.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------------------
# the real model against the committed sentence-transformers reference


@needs_minilm
def test_sentence_embeddings_match_sentence_transformers(minilm, reference):
    model, tokenizer = minilm
    batch = tokenizer(list(reference["sentences"]), max_length=256)
    np.testing.assert_array_equal(batch["input_ids"], reference["input_ids"])
    np.testing.assert_array_equal(batch["attention_mask"], reference["attention_mask"])
    with cr.no_grad():
        out = model(batch["input_ids"], batch["attention_mask"])
        embeddings = mean_pooling(out.last_hidden_state, batch["attention_mask"], normalize=True)
    assert embeddings.dtype == cr.float32 and embeddings.shape == (12, 384)
    np.testing.assert_allclose(embeddings._data, reference["embeddings"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.pooler_output._data, reference["pooler_output"], atol=1e-4, rtol=0)
    length = len(reference["hidden0"])
    np.testing.assert_allclose(out.last_hidden_state._data[0, :length], reference["hidden0"], atol=1e-4, rtol=0)
    # the embeddings carry meaning: the two glowing reviews are closer to each other than to the stock report
    sim = embeddings._data @ embeddings._data.T
    assert sim[0, 2] > sim[0, 11] and sim[1, 3] > sim[1, 11]


@needs_minilm
def test_each_sentence_alone_equals_its_row_in_a_padded_batch(minilm, reference):
    model, tokenizer = minilm
    sentences = [str(s) for s in reference["sentences"][[9, 10, 4]]]  # 3, 35 and 8 tokens: lots of padding
    with cr.no_grad():
        padded = tokenizer(sentences)
        batch = mean_pooling(model(padded["input_ids"], padded["attention_mask"])[0], padded["attention_mask"])
        for row, sentence in enumerate(sentences):
            alone = tokenizer([sentence])
            single = mean_pooling(model(alone["input_ids"], alone["attention_mask"])[0], alone["attention_mask"])
            np.testing.assert_allclose(batch._data[row], single._data[0], atol=1e-5)


# ---------------------------------------------------------------------------
# masking and shapes on a tiny random model


def test_padding_is_masked_out():
    cr.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    ids = random_ids(2, 10)
    padded = np.concatenate([ids, np.zeros((2, 5), dtype=np.int64)], axis=1)
    mask = np.concatenate([np.ones((2, 10)), np.zeros((2, 5))], axis=1).astype(np.int64)
    with cr.no_grad():
        plain = model(ids)
        masked = model(padded, mask)
        unmasked = model(padded)
    assert masked.last_hidden_state.shape == (2, 15, 32) and masked.pooler_output.shape == (2, 32)
    np.testing.assert_allclose(masked.last_hidden_state._data[:, :10], plain.last_hidden_state._data, atol=1e-5)
    np.testing.assert_allclose(masked.pooler_output._data, plain.pooler_output._data, atol=1e-5)
    # without the mask the padding is attended to and changes the real tokens' states
    assert np.abs(unmasked.last_hidden_state._data[:, :10] - plain.last_hidden_state._data).max() > 1e-3
    pooled = mean_pooling(masked.last_hidden_state, mask)
    np.testing.assert_allclose(pooled._data, plain.last_hidden_state._data.mean(axis=1), atol=1e-5)


def test_no_grad_forward_stacks_the_query_key_value_projections():
    # without gradients the three projections run as one GEMM: the same states as three, to float32 rounding;
    # a hook on one of them (or grad mode) keeps the three separate calls
    cr.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    ids = random_ids(2, 10)
    with cr.no_grad():
        stacked = model(ids).last_hidden_state._data
    reference = model(ids).last_hidden_state._data  # grad mode: three Linear calls
    np.testing.assert_allclose(stacked, reference, rtol=1e-5, atol=1e-5)
    calls = []
    model.encoder.layer[0].attention.self.key.register_forward_hook(lambda *args: calls.append(1))
    with cr.no_grad():
        hooked = model(ids).last_hidden_state._data
    assert calls == [1]
    np.testing.assert_allclose(hooked, reference, rtol=1e-5, atol=1e-5)


def test_token_types_and_activations_change_the_output():
    cr.manual_seed(0)
    ids = random_ids(2, 6)
    outputs = {}
    for act in ("gelu", "gelu_new", "relu"):
        cr.manual_seed(0)
        model = BertModel(tiny_config(hidden_act=act)).eval()
        with cr.no_grad():
            outputs[act] = model(ids).last_hidden_state._data
            types = np.zeros_like(ids)
            np.testing.assert_allclose(
                model(ids, token_type_ids=types).last_hidden_state._data, outputs[act], atol=1e-6
            )
            types[:, 3:] = 1
            assert np.abs(model(ids, token_type_ids=types).last_hidden_state._data - outputs[act]).max() > 1e-3
    assert np.abs(outputs["gelu"] - outputs["relu"]).max() > 1e-3


def test_bad_inputs_raise_clear_errors():
    model = BertModel(tiny_config())
    with pytest.raises(ShapeError, match="longer than max_position_embeddings"):
        model(random_ids(1, 30))
    with pytest.raises(ShapeError, match="attention_mask"):
        model(random_ids(2, 5), np.ones((2, 4), dtype=np.int64))
    with pytest.raises(ShapeError, match="token_type_ids"):
        model(random_ids(2, 5), token_type_ids=np.zeros((2, 6), dtype=np.int64))
    with pytest.raises(TypeError, match="input_ids must hold integers"):
        model(np.ones((2, 5), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"input_ids must have shape \(N, L\)"):
        model(np.ones(5, dtype=np.int64))
    with pytest.raises(IndexError, match="out of range"):
        model(np.array([[1, 2, 50]]))


def test_config_rejects_what_it_cannot_build(tmp_path):
    with pytest.raises(ConfigError, match="hidden_size .* divisible by num_attention_heads"):
        tiny_config(num_attention_heads=5)
    with pytest.raises(ConfigError, match="hidden_act 'mish'"):
        tiny_config(hidden_act="mish")
    with pytest.raises(ConfigError, match="num_hidden_layers must be a positive integer"):
        tiny_config(num_hidden_layers=0)
    with pytest.raises(ConfigError, match="position_embedding_type 'relative_key'"):
        tiny_config(position_embedding_type="relative_key")
    with pytest.raises(ConfigError, match="model_type 'roberta'"):
        BertConfig.from_dict({"model_type": "roberta"})
    with pytest.raises(ConfigError, match="pooling"):
        tiny_config(pooling="max")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        BertConfig.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        BertConfig.from_pretrained(tmp_path / "..")
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        BertModel.from_pretrained(tmp_path / "nowhere")


def test_config_round_trips_hugging_face_keys():
    config = BertConfig.from_dict(
        {
            "model_type": "bert",
            "hidden_size": 64,
            "num_attention_heads": 4,
            "transformers_version": "4.8.2",
            "id2label": {"0": "neg", "1": "pos"},
        }
    )
    assert config.num_labels == 2 and config.labels == ["neg", "pos"]
    out = config.to_dict()
    assert out["transformers_version"] == "4.8.2" and out["label2id"] == {"neg": 0, "pos": 1}
    assert BertConfig.from_dict(out) == config
    # a new head with another number of classes drops the old names
    assert BertConfig.from_dict(out, num_labels=3).labels == ["LABEL_0", "LABEL_1", "LABEL_2"]


# ---------------------------------------------------------------------------
# loading by name


def _save(model, directory):
    model.save_pretrained(directory)
    return directory


def _rewrite(directory, edit):
    """Apply ``edit(dict of arrays)`` to directory/model.safetensors."""
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(directory / "model.safetensors"))
    edit(arrays)
    save_file(arrays, str(directory / "model.safetensors"), metadata={"format": "pt"})


@needs_safetensors
def test_save_and_load_pretrained_round_trip(tmp_path):
    cr.manual_seed(1)
    model = BertForSequenceClassification(tiny_config(num_labels=3)).eval()
    _save(model, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["architectures"] == ["BertForSequenceClassification"] and saved["num_labels"] == 3
    loaded, info = BertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing": [], "ignored": []}
    assert not loaded.training
    ids = random_ids(3, 7)
    with cr.no_grad():
        np.testing.assert_array_equal(loaded(ids)._data, model(ids)._data)
    # the encoder alone loads from the classifier's file (its "bert." prefix is understood)
    encoder, info = BertModel.from_pretrained(tmp_path, strict=False, output_loading_info=True)
    assert info["ignored"] == ["classifier.bias", "classifier.weight"]
    with cr.no_grad():
        np.testing.assert_array_equal(encoder(ids).pooler_output._data, model.bert(ids).pooler_output._data)


@needs_safetensors
def test_missing_unexpected_and_misshaped_tensors_are_named(tmp_path):
    cr.manual_seed(0)
    _save(BertModel(tiny_config()), tmp_path)

    def drop(arrays):
        del arrays["encoder.layer.1.attention.self.key.bias"]
        arrays["encoder.layer.7.output.dense.weight"] = np.zeros((2, 2), np.float32)
        arrays["encoder.layer.0.intermediate.dense.weight"] = np.zeros((32, 32), np.float32)

    _rewrite(tmp_path, drop)
    with pytest.raises(WeightsError) as err:
        BertModel.from_pretrained(tmp_path)
    message = str(err.value)
    assert "missing from the checkpoint (1): encoder.layer.1.attention.self.key.bias" in message
    assert "not used by BertModel (1): encoder.layer.7.output.dense.weight" in message
    assert "encoder.layer.0.intermediate.dense.weight: checkpoint (32, 32), model (48, 32)" in message
    # strict=False ignores unexpected tensors, but never missing or mis-shaped ones
    with pytest.raises(WeightsError, match="missing from the checkpoint") as err:
        BertModel.from_pretrained(tmp_path, strict=False)
    assert "not used" not in str(err.value)
    # a config that disagrees with the weights names the tensors that no longer fit
    shutil.rmtree(tmp_path)
    _save(BertModel(tiny_config()), tmp_path)
    with pytest.raises(WeightsError, match=r"word_embeddings.weight: checkpoint \(50, 32\), model \(60, 32\)"):
        BertModel.from_pretrained(tmp_path, vocab_size=60)


@needs_safetensors
def test_classifier_head_starts_fresh_from_an_encoder_checkpoint(tmp_path):
    cr.manual_seed(0)
    encoder = BertModel(tiny_config())
    _save(encoder, tmp_path)
    model, info = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5, output_loading_info=True)
    assert info == {"missing": ["classifier.weight", "classifier.bias"], "ignored": []}
    assert model.classifier.weight.shape == (5, 32)
    np.testing.assert_array_equal(
        model.bert.embeddings.word_embeddings.weight._data, encoder.embeddings.word_embeddings.weight._data
    )
    # mean pooling needs no pooler: the checkpoint's pooler is skipped, and said so
    model, info = BertForSequenceClassification.from_pretrained(tmp_path, pooling="mean", output_loading_info=True)
    assert model.bert.pooler is None and info["ignored"] == ["pooler.dense.bias", "pooler.dense.weight"]
    ids, mask = random_ids(2, 6), np.array([[1] * 6, [1] * 4 + [0] * 2])
    with cr.no_grad():
        features = model.features(ids, mask)
        expected = mean_pooling(encoder.eval()(ids, mask).last_hidden_state, mask)
    np.testing.assert_allclose(features._data, expected._data, atol=1e-6)
    # a classifier checkpoint with another number of classes does not fit
    _save(model, tmp_path)
    with pytest.raises(WeightsError, match=r"classifier.weight: checkpoint \(2, 32\), model \(3, 32\)"):
        BertForSequenceClassification.from_pretrained(tmp_path, num_labels=3)


@needs_safetensors
def test_legacy_names_buffers_and_sharded_checkpoints_load(tmp_path):
    cr.manual_seed(0)
    model = BertModel(tiny_config()).eval()
    _save(model, tmp_path)

    def legacy(arrays):
        for name in list(arrays):
            if name.endswith("LayerNorm.weight"):
                arrays[name[: -len("weight")] + "gamma"] = arrays.pop(name)
            elif name.endswith("LayerNorm.bias"):
                arrays[name[: -len("bias")] + "beta"] = arrays.pop(name)
        for name in list(arrays):
            arrays["bert." + name] = arrays.pop(name)
        arrays["bert.embeddings.position_ids"] = np.arange(24, dtype=np.int64)[None]

    _rewrite(tmp_path, legacy)
    loaded, info = BertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["ignored"] == ["bert.embeddings.position_ids"]
    ids = random_ids(2, 5)
    with cr.no_grad():
        np.testing.assert_array_equal(loaded(ids).last_hidden_state._data, model(ids).last_hidden_state._data)

    # a sharded checkpoint: index + two files
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(tmp_path / "model.safetensors"))
    names = sorted(arrays)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, part in shards.items():
        save_file({n: arrays[n] for n in part}, str(tmp_path / file))
    index = {"weight_map": {n: f for f, part in shards.items() for n in part}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "model.safetensors").unlink()
    with cr.no_grad():
        np.testing.assert_array_equal(
            BertModel.from_pretrained(tmp_path)(ids).last_hidden_state._data, model(ids).last_hidden_state._data
        )
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(WeightsError, match="model-00002-of-00002.safetensors, which is missing"):
        BertModel.from_pretrained(tmp_path)


@needs_safetensors
def test_unreadable_or_pickled_weights_are_refused(tmp_path):
    _save(BertModel(tiny_config()), tmp_path)
    raw = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        BertModel.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(FileNotFoundError, match="pickle-based"):
        BertModel.from_pretrained(tmp_path)


# ---------------------------------------------------------------------------
# training pieces


def _loss_and_grads(model, ids, mask, labels, seed):
    cr.manual_seed(seed)
    model.zero_grad()
    loss = F.cross_entropy(model(ids, mask), labels)
    loss.backward()
    return loss.item(), {n: p.grad._data.copy() for n, p in model.named_parameters()}


def test_activation_checkpointing_gives_the_same_gradients():
    cr.manual_seed(0)
    model = BertForSequenceClassification(tiny_config(hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2))
    model.train()
    ids, labels = random_ids(4, 9), cr.tensor([0, 1, 1, 0])
    mask = np.ones((4, 9), dtype=np.int64)
    mask[1, 6:] = 0
    loss, grads = _loss_and_grads(model, ids, mask, labels, seed=5)
    model.gradient_checkpointing_enable()
    assert model.bert.encoder.gradient_checkpointing and model.config.gradient_checkpointing
    loss_ckpt, grads_ckpt = _loss_and_grads(model, ids, mask, labels, seed=5)
    assert loss == pytest.approx(loss_ckpt, abs=1e-6)
    assert set(grads) == set(grads_ckpt)
    for name in grads:
        np.testing.assert_allclose(grads_ckpt[name], grads[name], atol=1e-5, err_msg=name)
    # the same dropout masks were replayed: a different seed gives a different loss
    assert _loss_and_grads(model, ids, mask, labels, seed=6)[0] != pytest.approx(loss, abs=1e-6)


@pytest.mark.slow  # importing transformers alone takes ~10 s
@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TRANSFORMERS, reason="needs torch and transformers for the live comparison")
@needs_safetensors
def test_hugging_face_reads_what_we_write_and_computes_the_same(tmp_path):
    import torch
    from transformers import BertForSequenceClassification as HFBert

    cr.manual_seed(3)
    model = BertForSequenceClassification(tiny_config(num_labels=3, hidden_act="gelu")).eval()
    model.save_pretrained(tmp_path)
    hf = HFBert.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids = random_ids(3, 8)
    mask = np.ones_like(ids)
    mask[0, 5:] = 0
    mask[2, 2:] = 0
    types = np.zeros_like(ids)
    types[1, 4:] = 1
    labels = np.array([2, 0, 1])
    logits = model(ids, mask, types)
    F.cross_entropy(logits, cr.tensor(labels)).backward()
    hf_logits = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types))
    torch.nn.functional.cross_entropy(hf_logits.logits, torch.tensor(labels)).backward()
    np.testing.assert_allclose(logits._data, hf_logits.logits.detach().numpy(), atol=1e-5)
    hf_params = dict(hf.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad._data, hf_params[name].grad.numpy(), atol=1e-5, err_msg=name)
