"""Tokenization, padding, truncation and masks; length-grouped batches; the Rotten Tomatoes reader."""

from __future__ import annotations

import bz2

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets.rotten_tomatoes import (
    LABELS,
    load_rotten_tomatoes,
    rotten_tomatoes_available,
    rotten_tomatoes_file,
)
from chainrule.text import LengthGroupedSampler, TextClassificationDataset, pad_sequences, sorted_by_length

from .helpers import MINILM, needs_corpus, needs_tokenizers

CLS, SEP, PAD = 101, 102, 0


@pytest.fixture(scope="module")
def tokenizer():
    from chainrule.text import Tokenizer

    return Tokenizer.from_pretrained(MINILM)


@needs_tokenizers
def test_the_files_padding_to_128_is_off_and_batches_pad_to_the_longest(tokenizer):
    assert tokenizer.backend.padding is None and tokenizer.backend.truncation is None
    assert tokenizer.max_length == 128 and tokenizer.pad_token_id == PAD
    batch = tokenizer(["a warm, funny film", "dull"])
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask"}
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.dtype == np.int64 and ids.shape == (2, 7)  # [CLS] a warm , funny film [SEP]
    assert tokenizer.decode(ids[0]) == "a warm, funny film"
    np.testing.assert_array_equal(mask, [[1] * 7, [1, 1, 1, 0, 0, 0, 0]])
    assert ids[1, :3].tolist() == [CLS, tokenizer.backend.token_to_id("dull"), SEP]
    assert (ids[1, 3:] == PAD).all() and (batch["token_type_ids"] == 0).all()
    assert tokenizer("ok", padding="max_length", max_length=16)["input_ids"].shape == (1, 16)
    assert tokenizer(["ab", "cde fgh"], pad_to_multiple_of=8)["input_ids"].shape == (2, 8)
    tensors = tokenizer("ok", return_tensors="cr")
    assert isinstance(tensors["input_ids"], cr.Tensor) and tensors["input_ids"].dtype == cr.int64


@needs_tokenizers
def test_truncation_keeps_the_special_tokens(tokenizer):
    text = "one two three four five six seven eight nine ten"
    full = tokenizer(text)["input_ids"][0]
    assert len(full) == 12
    cut = tokenizer([text, "short one"], max_length=8)
    ids = cut["input_ids"]
    assert ids.shape == (2, 8)
    assert ids[0].tolist() == full[:7].tolist() + [SEP]
    assert cut["attention_mask"][1].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    # a pair is truncated longest-first and its second segment has token type 1
    pair = tokenizer(["one two three four five six"], ["seven eight nine ten"], max_length=9)
    tokens = [tokenizer.backend.id_to_token(int(i)) for i in pair["input_ids"][0]]
    assert tokens == ["[CLS]", "one", "two", "three", "[SEP]", "seven", "eight", "nine", "[SEP]"]
    assert pair["token_type_ids"][0].tolist() == [0] * 5 + [1] * 4
    # truncation is per call: the next call without max_length sees the whole text again
    assert tokenizer(text)["input_ids"].shape == (1, 12)


@needs_tokenizers
def test_tokenizer_mistakes_raise_clear_errors(tokenizer, tmp_path):
    from chainrule.text import Tokenizer

    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        tokenizer(["fine", 3])
    with pytest.raises(ValueError, match="max_length 2 leaves no room"):
        tokenizer("text", max_length=2)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        tokenizer("text", max_length=0)
    with pytest.raises(ValueError, match="padding must be"):
        tokenizer("text", padding="right")
    with pytest.raises(ValueError, match="2 texts but 1 text_pairs"):
        tokenizer(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="no texts"):
        tokenizer([])
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer.json"):
        Tokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="not a readable tokenizer.json"):
        Tokenizer.from_pretrained(tmp_path)


@needs_tokenizers
def test_saved_tokenizer_truncates_at_its_max_length_and_never_pads(tmp_path):
    from chainrule.text import Tokenizer

    Tokenizer.from_pretrained(MINILM, max_length=16).save(tmp_path)
    again = Tokenizer.from_pretrained(tmp_path)
    assert again.max_length == 16
    assert again(["word " * 40, "hi"])["input_ids"].shape == (2, 16)


def test_pad_sequences():
    ids, mask = pad_sequences([[5, 6, 7], [8]], pad_value=0)
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0]])
    assert pad_sequences([[1]], length=4)[0].shape == (1, 4)
    with pytest.raises(ValueError, match="does not fit length 2"):
        pad_sequences([[1, 2, 3]], length=2)


def test_length_grouped_batches_cover_everything_with_little_padding():
    lengths = np.random.default_rng(0).integers(3, 60, size=1000)
    sampler = LengthGroupedSampler(lengths, batch_size=32, generator=cr.Generator().manual_seed(1), group_batches=10)
    order = list(sampler)
    assert sorted(order) == list(range(1000)) and len(sampler) == 1000
    batches = [order[i : i + 32] for i in range(0, 1000, 32)]
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    random_spread = np.mean([lengths[b].max() - lengths[b].min() for b in np.array_split(np.arange(1000), 32)])
    assert spread < random_spread / 4
    assert len(batches[-1]) == 1000 % 32  # the short batch stays last
    # the generator decides: same seed, same order; next epoch, another order
    again = LengthGroupedSampler(lengths, batch_size=32, generator=cr.Generator().manual_seed(1), group_batches=10)
    assert list(again) == order and list(again) != order


@needs_tokenizers
def test_text_dataset_collates_padded_batches(tokenizer):
    ds = TextClassificationDataset(["a warm, funny film", "dull", "not good at all"], [1, 0, 0], tokenizer)
    assert len(ds) == 3 and ds.lengths.tolist() == [7, 3, 6]
    assert sorted_by_length(ds) == [1, 2, 0]
    loader = cr.data.DataLoader(ds, batch_size=2, collate_fn=ds.collate)
    (ids, mask), labels = next(iter(loader))
    assert ids.shape == mask.shape == (2, 7) and labels.tolist() == [1, 0]
    assert mask._data.sum(axis=1).tolist() == [7, 3]
    with pytest.raises(ValueError, match="3 texts need 3 labels"):
        TextClassificationDataset(["a", "b", "c"], [1, 0], tokenizer)
    with pytest.raises(TypeError, match="class indices"):
        TextClassificationDataset(["a"], [0.5], tokenizer)


@needs_corpus
def test_rotten_tomatoes_reader():
    texts, labels = load_rotten_tomatoes()
    assert len(texts) == len(labels) == 12752 and len(set(texts)) == len(texts)
    assert labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert 0.55 < labels.mean() < 0.6  # 58% fresh
    assert LABELS == ("rotten", "fresh")
    small_texts, small_labels = load_rotten_tomatoes(version="small")
    assert len(small_texts) == len(small_labels) == 4863
    assert all(isinstance(t, str) and t for t in texts[:100])


def test_rotten_tomatoes_missing_or_broken_files_are_reported(tmp_path):
    ok, reason = rotten_tomatoes_available(tmp_path)
    assert not ok and "rotten_tomatoes_corpus_full.csv.bz2" in reason
    with pytest.raises(ValueError, match="version must be one of"):
        rotten_tomatoes_file("huge", tmp_path)
    (tmp_path / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(b"not bz2")
    with pytest.raises(ValueError, match="not a readable bz2-compressed CSV"):
        load_rotten_tomatoes(tmp_path)
    (tmp_path / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(bz2.compress(b"label,review\nfresh,good\n"))
    with pytest.raises(ValueError, match="expected the columns 'category' and 'text', found label, review"):
        load_rotten_tomatoes(tmp_path)
    csv = b"category,text,movie_name\nfresh,Great fun.,x\nplot,A man walks.,x\nrotten,Dull.,x\nfresh,Great fun.,y\n"
    (tmp_path / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(bz2.compress(csv))
    texts, labels = load_rotten_tomatoes(tmp_path)
    assert texts == ["Great fun.", "Dull."] and labels.tolist() == [1, 0]
