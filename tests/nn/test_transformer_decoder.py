"""TransformerDecoderLayer, TransformerDecoder and Transformer equal PyTorch's in eval mode (dropout 0), float64.

Weights are copied from a torch model through its state dict (the names must
match); outputs and the gradients of the inputs and of every parameter agree
to 1e-10, with post- and pre-norm, both layouts, relu and gelu, and causal,
float and key-padding masks.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.parity import HAVE_TORCH

TOL = dict(rtol=1e-10, atol=1e-10)
E, HEADS, FF, S, T, N = 8, 2, 12, 5, 4, 3

CONFIGS = {
    "post_norm": dict(norm_first=False, batch_first=False, activation="relu"),
    "pre_norm_batch_first": dict(norm_first=True, batch_first=True, activation="gelu"),
    "post_norm_batch_first_gelu": dict(norm_first=False, batch_first=True, activation="gelu"),
}


def _inputs(batch_first, rng):
    src = rng.normal(size=(N, S, E) if batch_first else (S, N, E))
    tgt = rng.normal(size=(N, T, E) if batch_first else (T, N, E))
    src_padding = np.zeros((N, S), dtype=bool)
    src_padding[0, -2:] = True
    tgt_padding = np.zeros((N, T), dtype=bool)
    tgt_padding[1, -1] = True
    memory_mask = rng.normal(size=(T, S)) * 0.5
    return src, tgt, src_padding, tgt_padding, memory_mask


def _copy_into(ours, theirs):
    state = {k: cr.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    assert set(state) == set(ours.state_dict()), "parameter names differ from PyTorch's"
    ours.load_state_dict(state)


def _compare(ours_model, torch_model, run):
    import torch

    torch_model.eval()
    ours_model.eval()
    _copy_into(ours_model, torch_model)
    ours_out, ours_inputs = run(cr, ours_model)
    torch_out, torch_inputs = run(torch, torch_model)
    np.testing.assert_allclose(ours_out.detach().numpy(), torch_out.detach().numpy(), **TOL)
    weights = np.random.default_rng(1).normal(size=ours_out.shape)
    (ours_out * cr.tensor(weights)).sum().backward()
    (torch_out * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours_inputs, torch_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    theirs = dict(torch_model.named_parameters())
    for name, p in ours_model.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), err_msg=name, **TOL)


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch: nested-tensor and mask-type notices
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_transformer_matches_torch(config):
    import torch

    options = dict(CONFIGS[config], d_model=E, nhead=HEADS, dim_feedforward=FF, dropout=0.0)
    sizes = dict(num_encoder_layers=2, num_decoder_layers=2)
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(**options, **sizes, dtype=torch.float64)
    ours = nn.Transformer(**options, **sizes, dtype=cr.float64)
    src, tgt, src_padding, tgt_padding, memory_mask = _inputs(options["batch_first"], np.random.default_rng(0))

    def run(lib, model):
        s = lib.tensor(src, requires_grad=True)
        t = lib.tensor(tgt, requires_grad=True)
        mask = (nn.Transformer if lib is cr else torch.nn.Transformer).generate_square_subsequent_mask(T)
        out = model(
            s,
            t,
            tgt_mask=lib.tensor(mask.numpy().astype(np.float64)),
            memory_mask=lib.tensor(memory_mask),
            src_key_padding_mask=lib.tensor(src_padding),
            tgt_key_padding_mask=lib.tensor(tgt_padding),
            memory_key_padding_mask=lib.tensor(src_padding),
        )
        return out, (s, t)

    _compare(ours, theirs, run)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_decoder_stack_and_layer_match_torch(config):
    import torch

    options = dict(CONFIGS[config], d_model=E, nhead=HEADS, dim_feedforward=FF, dropout=0.0)
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(**options, dtype=torch.float64), 2, norm=torch.nn.LayerNorm(E).double()
    )
    ours = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(**options, dtype=cr.float64), 2, norm=nn.LayerNorm(E, dtype=cr.float64)
    )
    memory, tgt, _, tgt_padding, _ = _inputs(options["batch_first"], np.random.default_rng(2))
    causal = np.triu(np.ones((T, T), dtype=bool), k=1)

    def run(lib, model):
        m = lib.tensor(memory, requires_grad=True)
        t = lib.tensor(tgt, requires_grad=True)
        out = model(t, m, tgt_mask=lib.tensor(causal), tgt_key_padding_mask=lib.tensor(tgt_padding))
        return out, (m, t)

    _compare(ours, theirs, run)
    layer_theirs = torch.nn.TransformerDecoderLayer(**options, dtype=torch.float64)
    layer_ours = nn.TransformerDecoderLayer(**options, dtype=cr.float64)

    def run_unbatched(lib, model):
        m = lib.tensor(memory[0], requires_grad=True)
        t = lib.tensor(tgt[0], requires_grad=True)
        return model(t, m), (m, t)

    _compare(layer_ours, layer_theirs, run_unbatched)


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
