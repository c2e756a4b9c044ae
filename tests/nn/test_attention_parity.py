"""scaled_dot_product_attention and MultiheadAttention equal PyTorch's: outputs, attention weights, and the
gradients of query, key, value, float masks and every parameter, in training and eval mode.

Committed fixtures (tests/fixtures/recurrent.npz, made by
tests/fixtures/make_recurrent.py with torch 2.13.0) are compared without
torch; when torch is importable each case also runs live.  One driver
(``make_recurrent.run``) runs both libraries.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.make_recurrent import CASES, CONFIGS, compare
from tests.parity import HAVE_TORCH, load

KINDS = ("sdpa", "mha", "mha_self", "mha_kv")
NAMES = sorted(n for n, c in CONFIGS.items() if c["kind"] in KINDS)
FIXTURES = load("recurrent")


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_fixture(name):
    assert name in FIXTURES, f"run tests/fixtures/make_recurrent.py: no fixture for {name}"
    compare(name, FIXTURES[name])


def test_fixtures_record_every_gradient():
    """Guard against a driver that records nothing: every input and parameter has a finite gradient of its shape,
    every input's is non-zero, and so is some parameter's."""
    for name in NAMES:
        arrays = FIXTURES[name]
        params = [k for k in arrays if k.startswith("param.")]
        inputs = [k for k in arrays if k.startswith("input.")]
        assert inputs, name
        assert params or CONFIGS[name]["kind"] == "sdpa", name
        for mode in ("train", "eval"):
            for key in params + inputs:
                grad = arrays[f"{mode}.grad.{key}"]
                assert grad.shape == arrays[key].shape and np.isfinite(grad).all(), f"{name}: {mode} grad of {key}"
            for key in inputs:
                assert (arrays[f"{mode}.grad.{key}"] != 0).any(), f"{name}: {mode} gradient of {key} is zero"
            assert not params or any((arrays[f"{mode}.grad.{k}"] != 0).any() for k in params), name


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_live(name):
    compare(name, CASES[name]())
