"""TransformerEncoderLayer and TransformerEncoder: gradients (float64), the two norm placements, masks,
dropout statistics, layer copies, state-dict names and errors.

Parity with PyTorch (values and gradients) is in test_transformer_parity.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.modules.transformer import clone_module


def _randomize(module, rng, scale=0.5):
    with cr.no_grad():
        for name, p in module.named_parameters():
            values = rng.uniform(-scale, scale, p.shape)
            if name.endswith("norm1.weight") or name.endswith("norm2.weight"):
                values += 1.0
            p.copy_(cr.tensor(values))


def _layer(**kwargs):
    defaults = dict(dim_feedforward=6, dropout=0.0)
    defaults.update(kwargs)
    return nn.TransformerEncoderLayer(4, 2, **defaults).double()


CASES = {
    "post_norm_relu_padding": (dict(), "padding"),
    "pre_norm_gelu_causal_batch_first": (dict(norm_first=True, activation="gelu", batch_first=True), "causal"),
    "callable_activation_float_mask": (dict(activation=F.silu), "float"),
}


def _masks(kind, batch, length):
    if kind == "padding":
        padding = np.zeros((batch, length), dtype=bool)
        padding[0, -1] = True
        return dict(src_key_padding_mask=cr.tensor(padding))
    if kind == "causal":
        return dict(src_mask=nn.TransformerEncoder.generate_square_subsequent_mask(length, dtype=cr.float64))
    return dict(src_mask=cr.tensor(np.random.default_rng(0).uniform(-1, 0, (length, length))))


@pytest.mark.parametrize("case", sorted(CASES))
def test_encoder_layer_gradcheck(case):
    kwargs, mask_kind = CASES[case]
    layer = _layer(**kwargs)
    rng = np.random.default_rng(1)
    _randomize(layer, rng)
    batch, length = 2, 3
    x = cr.tensor(
        rng.standard_normal((batch, length, 4) if layer.self_attn.batch_first else (length, batch, 4)),
        requires_grad=True,
    )
    masks = _masks(mask_kind, batch, length)
    params = [p for _, p in layer.named_parameters()]
    assert gradcheck(lambda x, *ps: layer(x, **masks), (x, *params), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradgradcheck(norm_first):
    layer = _layer(norm_first=norm_first, activation="gelu")
    rng = np.random.default_rng(2)
    _randomize(layer, rng)
    x = cr.tensor(rng.standard_normal((2, 1, 4)), requires_grad=True)
    assert gradgradcheck(lambda x, w: layer(x), (x, layer.linear1.weight), atol=1e-6, rtol=1e-4)


def test_encoder_stack_gradcheck_with_final_norm():
    encoder = nn.TransformerEncoder(_layer(), 2, norm=nn.LayerNorm(4).double())
    rng = np.random.default_rng(3)
    _randomize(encoder, rng)
    x = cr.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    some = [encoder.layers[0].self_attn.in_proj_weight, encoder.layers[1].linear2.bias, encoder.norm.weight]
    assert gradcheck(lambda x, *ps: encoder(x), (x, *some), atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------------------- structure


def _manual_layer(layer, x, norm_first):
    """The encoder layer written out with the building blocks (no dropout)."""

    def sa(y):
        return layer.self_attn(y, y, y, need_weights=False)[0]

    def ff(y):
        return layer.linear2(layer.activation(layer.linear1(y)))

    if norm_first:
        x = x + sa(layer.norm1(x))
        return x + ff(layer.norm2(x))
    x = layer.norm1(x + sa(x))
    return layer.norm2(x + ff(x))


@pytest.mark.parametrize("norm_first", [False, True])
def test_norm_placement(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first)
    _randomize(layer, np.random.default_rng(4))
    x = cr.randn(5, 2, 8)
    np.testing.assert_allclose(layer(x)._data, _manual_layer(layer, x, norm_first)._data, rtol=1e-6)
    if not norm_first:  # post-norm output is normalized: zero mean, unit variance times the norm's affine
        y = (layer(x) - layer.norm2.bias) / layer.norm2.weight
        np.testing.assert_allclose(y._data.mean(-1), 0, atol=1e-5)


def test_activation_choices():
    assert nn.TransformerEncoderLayer(4, 2, activation="gelu").activation is F.gelu
    assert nn.TransformerEncoderLayer(4, 2).activation is F.relu
    module_act = nn.GELU()
    layer = nn.TransformerEncoderLayer(4, 2, activation=module_act)
    assert layer.activation is module_act and "activation" in dict(layer.named_children())


def test_encoder_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    encoder = nn.TransformerEncoder(layer, 3)
    first, second = encoder.layers[0], encoder.layers[1]
    np.testing.assert_array_equal(first.linear1.weight._data, layer.linear1.weight._data)
    assert first.linear1.weight is not layer.linear1.weight
    with cr.no_grad():
        first.linear1.weight.mul_(2.0)
    np.testing.assert_array_equal(second.linear1.weight._data, layer.linear1.weight._data)
    assert first.activation is layer.activation and first.norm_first == layer.norm_first
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


def test_clone_module_keeps_tied_weights_tied():
    block = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    block[1].weight = block[0].weight
    copy = clone_module(block)
    assert copy[1].weight is copy[0].weight and copy[0].weight is not block[0].weight
    assert copy[0].weight.requires_grad and isinstance(copy[0].weight, nn.Parameter)


def test_state_dict_names_follow_pytorch():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2, norm=nn.LayerNorm(4))
    names = list(encoder.state_dict())
    per_layer = [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
        "linear1.weight",
        "linear1.bias",
        "linear2.weight",
        "linear2.bias",
        "norm1.weight",
        "norm1.bias",
        "norm2.weight",
        "norm2.bias",
    ]
    assert names == [f"layers.{i}.{n}" for i in range(2) for n in per_layer] + ["norm.weight", "norm.bias"]


# ---------------------------------------------------------------------------------------- masks


def test_causal_hint_and_causal_mask_agree():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2)
    x = cr.randn(6, 2, 8)
    mask = nn.TransformerEncoder.generate_square_subsequent_mask(6)
    assert mask.dtype == cr.float32 and mask.shape == (6, 6)
    np.testing.assert_array_equal(np.isneginf(mask._data), np.triu(np.ones((6, 6), dtype=bool), k=1))
    with_mask = encoder(x, mask=mask)
    with_hint = encoder(x, is_causal=True)
    with_bool = encoder(x, mask=cr.tensor(np.triu(np.ones((6, 6), dtype=bool), k=1)))
    np.testing.assert_allclose(with_hint._data, with_mask._data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(with_bool._data, with_mask._data, rtol=1e-5, atol=1e-6)
    # earlier positions do not see later ones
    x2 = x.clone()
    x2._data[4:] += 1.0
    np.testing.assert_allclose(encoder(x2, mask=mask)._data[:4], with_mask._data[:4], rtol=1e-5, atol=1e-6)


def test_padding_mask_hides_padded_positions_from_the_others():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    x = cr.randn(1, 5, 8)
    padding = cr.tensor(np.array([[False, False, False, True, True]]))
    out = layer(x, src_key_padding_mask=padding)
    x2 = x.clone()
    x2._data[0, 3:] = 7.0
    out2 = layer(x2, src_key_padding_mask=padding)
    np.testing.assert_allclose(out._data[0, :3], out2._data[0, :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out._data[0, :3], layer(x[:, :3])._data[0], rtol=1e-5, atol=1e-6)


def test_unbatched_equals_batch_of_one():
    layer = nn.TransformerEncoderLayer(6, 3, 8, dropout=0.0)
    x = cr.randn(4, 6)
    np.testing.assert_allclose(layer(x)._data, layer(x.unsqueeze(1))._data[:, 0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------- dropout


def test_dropout_statistics_and_eval_mode():
    """norm_first with a zero feed-forward: out - x = dropout1(self-attention); its zeros are dropout1's."""
    p = 0.3
    layer = nn.TransformerEncoderLayer(16, 2, 8, dropout=p, norm_first=True)
    with cr.no_grad():
        layer.linear2.weight.zero_()
        layer.linear2.bias.zero_()
        layer.self_attn.out_proj.bias.fill_(0.5)  # self-attention output far from exact zeros
    x = cr.randn(40, 30, 16)
    cr.manual_seed(0)
    delta = (layer(x) - x)._data
    dropped = (delta == 0).mean()
    assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / delta.size)
    layer.eval()
    delta_eval = (layer(x) - x)._data
    assert (delta_eval == 0).mean() < 0.01
    np.testing.assert_array_equal(layer(x)._data, layer(x)._data)  # eval is deterministic
    layer.train()
    cr.manual_seed(5)
    a = layer(x)
    cr.manual_seed(5)
    np.testing.assert_array_equal(a._data, layer(x)._data)


# ---------------------------------------------------------------------------------------- errors and dtypes


def test_float32_in_float32_out():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    x = cr.randn(3, 2, 8, requires_grad=True)
    out = encoder(x)
    assert out.dtype == cr.float32
    out.sum().backward()
    assert x.grad.dtype == cr.float32 and all(p.grad.dtype == cr.float32 for p in encoder.parameters())


def test_errors():
    layer = nn.TransformerEncoderLayer(8, 2)
    with pytest.raises(cr.ShapeError, match=r"TransformerEncoderLayer\(d_model=8\): expected src of shape"):
        layer(cr.randn(3, 2, 6))
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(cr.ShapeError, match="divisible"):
        nn.TransformerEncoderLayer(8, 3)
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(layer, 0)
