"""TransformerDecoderLayer, TransformerDecoder and Transformer equal PyTorch's in eval mode (dropout 0), float64.

Both get the same seeded weights through their state dicts (so the parameter names must match);
outputs and the gradients of the inputs and of every parameter agree to
1e-10, with post- and pre-norm, both layouts, relu and gelu, and causal,
float and key-padding masks.  The cases live in
tests/fixtures/make_transformer_decoder.py; the committed fixture needs no
torch, and a live run also compares when torch is importable.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.fixtures.make_transformer_decoder import CASES, NAMES, run
from tests.parity import HAVE_TORCH, load

FIXTURES = load("transformer_decoder")
TOL = dict(rtol=1e-10, atol=1e-10)


def _compare(name, expected):
    actual = run(cr, name)
    assert set(actual) == set(expected), f"{name}: parameter names differ from PyTorch's"
    for key in sorted(expected):
        np.testing.assert_allclose(actual[key], expected[key], err_msg=f"{name} {key}", **TOL)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_fixture(name):
    _compare(name, FIXTURES[name])


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch_live(name):
    _compare(name, CASES[name]())


def test_shapes_errors_and_names():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=4)
    names = {name for name, _ in model.named_parameters()}
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in names and "decoder.norm.weight" in names
    assert "encoder.layers.0.norm2.bias" in names and "decoder.layers.0.norm3.weight" in names
    out = model(cr.randn(5, 2, 8), cr.randn(3, 2, 8))
    assert out.shape == (3, 2, 8) and out.dtype == cr.float32
    with pytest.raises(cr.errors.ShapeError, match="batch number"):
        model(cr.randn(5, 2, 8), cr.randn(3, 3, 8))
    with pytest.raises(cr.errors.ShapeError, match="d_model"):
        model(cr.randn(5, 2, 8), cr.randn(3, 2, 6))
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=4)
    with pytest.raises(cr.errors.ShapeError, match="memory"):
        layer(cr.randn(3, 2, 8), cr.randn(5, 2, 7))
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.tolist()[0][1] == float("-inf") and mask.tolist()[2] == [0.0, 0.0, 0.0]
