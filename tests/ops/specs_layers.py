"""Gradcheck specs for the layer primitives of ``ops/layers.py`` (loaded by specs.py).

linear, linear_relu, embedding (+ its dense backward, reached by second order), norm_affine
(layer norm, group norm) and batch_norm_train.  Parity with PyTorch for these
lives in tests/nn/test_layers.py (fixtures from tests/fixtures/make_layers.py).
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.attention import attention
from chainrule.ops.layers import embedding_dense_backward, linear_relu

from .specs import dims, distinct, shape_st, spec


def _linear_shapes(draw, bias=True):
    lead = draw(shape_st(min_dims=0, max_dims=2))
    n_in, n_out = draw(dims), draw(dims)
    return [lead + (n_in,), (n_out, n_in)] + ([(n_out,)] if bias else [])


spec("linear", lambda x, w, b: F.linear(x, w, b), _linear_shapes, ["linear"])
spec("linear_nobias", lambda x, w: F.linear(x, w), lambda d: _linear_shapes(d, bias=False), ["linear"])


def _torch_linear_relu(x, w, b=None):
    torch = __import__("torch")
    return torch.relu(torch.nn.functional.linear(x, w, b))


# the fused op nn.Sequential runs for an nn.Linear and the nn.ReLU after it (random inputs: no product lands on
# ReLU's kink at 0, where the central difference would read 1/2)
spec("linear_relu", linear_relu, _linear_shapes, ["linear_relu"], _torch_linear_relu)
spec("linear_relu_nobias", linear_relu, lambda d: _linear_shapes(d, bias=False), ["linear_relu"], _torch_linear_relu)

EMB_IDX = np.array([[0, 2, 2], [3, 0, 2]])


def _table(draw):
    return [(4, draw(dims))]


spec("embedding", lambda w: F.embedding(EMB_IDX, w), _table, ["embedding", "embedding_dense_backward"])
# padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the derivative), so
# first order is checked where the two agree: outputs read from the padding row are masked out...
PAD_MASK = (EMB_IDX != 2)[..., None]
spec(
    "embedding_padding",
    lambda w: F.embedding(EMB_IDX, w, padding_idx=2) * cr.tensor(PAD_MASK.astype(w.dtype)),
    _table,
    ["embedding", "embedding_dense_backward"],
)
# ... and the backward itself is a function of the upstream gradient, checked directly (first and second order).
# Not with scale_grad_by_freq: its rule gathers without dividing by the row counts (PyTorch's
# embedding_dense_double_backward), which is what makes the double backward of the scaled lookup right,
# and that is checked against PyTorch and central differences in tests/ops/test_linalg.py
spec(
    "embedding_dense_backward",
    lambda g: embedding_dense_backward(g, EMB_IDX, 4, padding_idx=2),
    lambda d: [EMB_IDX.shape + (d(dims),)],
    ["embedding_dense_backward", "embedding"],
)


def _layer_norm_shapes(draw):
    lead = draw(shape_st(min_dims=0, max_dims=2))
    normalized = tuple(draw(dims) + 1 for _ in range(draw(dims) % 2 + 1))  # 1 or 2 dims, each >= 2
    return [lead + normalized, normalized, normalized]


spec(
    "layer_norm",
    lambda x, w, b: F.layer_norm(x, w.shape, w, b),
    _layer_norm_shapes,
    ["norm_affine"],
    domains=(distinct,),
)
spec(
    "layer_norm_plain",
    lambda x: F.layer_norm(x, x.shape[-1:]),
    lambda d: _layer_norm_shapes(d)[:1],
    ["norm_affine"],
    domains=(distinct,),
)


def _group_norm_shapes(draw, groups=2):
    channels = groups * draw(dims)
    spatial = draw(shape_st(min_dims=0, max_dims=2))
    if channels // groups * int(np.prod(spatial)) < 2:  # at least two values per group
        spatial = (2,) + spatial
    return [(draw(dims), channels) + spatial, (channels,), (channels,)]


def _per_channel_shapes(draw):
    channels = draw(dims)
    return [(draw(dims), channels, draw(dims) + 1), (channels,), (channels,)]


spec("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), _group_norm_shapes, ["norm_affine"], domains=(distinct,))
spec(
    "group_norm_per_channel",
    lambda x, w, b: F.group_norm(x, x.shape[1], w, b),
    _per_channel_shapes,
    ["norm_affine"],
    domains=(distinct,),
)


def _batch_norm_shapes(draw):
    channels = draw(dims)
    spatial = draw(shape_st(min_dims=0, max_dims=2))
    return [(draw(dims) + 1, channels) + spatial, (channels,), (channels,)]


spec(
    "batch_norm_train",
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    _batch_norm_shapes,
    ["batch_norm_train"],
    domains=(distinct,),
)
spec(
    "batch_norm_train_plain",
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda d: _batch_norm_shapes(d)[:1],
    ["batch_norm_train"],
    domains=(distinct,),
)


def _running_stats(channels):
    return cr.tensor(np.linspace(-0.5, 0.5, channels)), cr.tensor(np.linspace(0.5, 1.5, channels))


spec(
    "batch_norm_eval",
    lambda x, w, b: F.batch_norm(x, *_running_stats(x.shape[1]), w, b, training=False),
    _batch_norm_shapes,
    ["batch_norm_eval"],
)
spec(
    "batch_norm_eval_plain",
    lambda x: F.batch_norm(x, *_running_stats(x.shape[1]), training=False),
    lambda d: _batch_norm_shapes(d)[:1],
    ["batch_norm_eval"],
)
spec(
    "layer_norm_bias_only",
    lambda x, b: F.layer_norm(x, b.shape, None, b),
    lambda d: _layer_norm_shapes(d)[::2],
    ["norm_affine"],
    domains=(distinct,),
)
spec(
    "batch_norm_train_bias_only",
    lambda x, b: F.batch_norm(x, None, None, None, b, training=True),
    lambda d: _batch_norm_shapes(d)[::2],
    ["batch_norm_train"],
    domains=(distinct,),
)
spec(
    "group_norm_bias_only",
    lambda x, b: F.group_norm(x, 2, None, b),
    lambda d: _group_norm_shapes(d)[::2],
    ["norm_affine"],
    domains=(distinct,),
)


# ------------------------------------------------------------------ attention (ops/attention.py)


def _attention_shapes(draw, bias=True, broadcast=False):
    """q (..., L, E), k (..., S, E), v (..., S, Ev) and a bias (L, S) or (lead, 1, S): every input differentiable.
    ``broadcast``: k and v with a leading axis of 1 against q's."""
    lead = draw(shape_st(min_dims=0, max_dims=2))
    length, source, width, out_width = (draw(dims) for _ in range(4))
    kv_lead = (1,) + lead[1:] if broadcast and lead else lead
    shapes = [lead + (length, width), kv_lead + (source, width), kv_lead + (source, out_width)]
    if bias:
        shapes.append((length, source) if draw(dims) % 2 or not lead else lead[:1] + (1,) * len(lead[1:]) + (1, source))
    return shapes


spec("attention", lambda q, k, v, b: attention(q, k, v, b, 0.7), _attention_shapes, ["attention"])
spec(
    "attention_no_bias_broadcast",
    lambda q, k, v: attention(q, k, v, None, 1.3),
    lambda d: _attention_shapes(d, bias=False, broadcast=True),
    ["attention"],
)
spec(
    "scaled_dot_product_attention",
    lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    lambda d: _attention_shapes(d, bias=False),
    ["attention"],
)
