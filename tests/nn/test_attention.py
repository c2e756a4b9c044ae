"""scaled_dot_product_attention and MultiheadAttention: gradients (first and second order, float64), mask
semantics, dropout statistics, shapes, initialization and errors.

Parity with PyTorch (values and gradients) is in test_attention_parity.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck


def _t(rng, *shape, scale=1.0):
    return cr.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def _randomize(module, rng, scale=0.5):
    with cr.no_grad():
        for _, p in module.named_parameters():
            p.copy_(cr.tensor(rng.uniform(-scale, scale, p.shape)))


# ---------------------------------------------------------------------------------------- gradcheck


SDPA_CASES = {
    "plain": dict(),
    "bool_mask": dict(attn_mask=np.array([[True, False, True], [False, True, True]])),
    "float_mask": dict(attn_mask=np.array([[0.5, -1.0, 0.0], [0.2, 0.0, -0.3]])),
    "causal": dict(is_causal=True),
    "scale": dict(scale=0.7),
}


@pytest.mark.parametrize("case", sorted(SDPA_CASES))
def test_sdpa_gradcheck_first_and_second_order(case):
    rng = np.random.default_rng(0)
    q, k, v = _t(rng, 2, 2, 2, 3), _t(rng, 2, 2, 3, 3), _t(rng, 2, 2, 3, 2)
    kwargs = dict(SDPA_CASES[case])
    if "attn_mask" in kwargs:
        kwargs["attn_mask"] = cr.tensor(kwargs["attn_mask"])

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)

    assert gradcheck(fn, (q, k, v), atol=1e-6, rtol=1e-4)
    assert gradgradcheck(fn, (q, k, v), atol=1e-6, rtol=1e-4)


def test_sdpa_gradient_reaches_a_float_mask():
    rng = np.random.default_rng(1)
    q, k, v = _t(rng, 2, 3), _t(rng, 4, 3), _t(rng, 4, 2)
    mask = _t(rng, 2, 4)
    assert gradcheck(lambda q, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), (q, mask), atol=1e-6)


MHA_CASES = {
    "self": (dict(), "self"),
    "cross_kdim_vdim": (dict(kdim=3, vdim=2), "cross"),
    "batch_first_bias_kv_zero_attn": (dict(batch_first=True, add_bias_kv=True, add_zero_attn=True), "cross"),
    "no_bias": (dict(bias=False), "kv"),
}


def _mha_inputs(module, how, rng):
    e, kd, vd = module.embed_dim, module.kdim, module.vdim
    shape = (lambda length, f: (2, length, f)) if module.batch_first else (lambda length, f: (length, 2, f))
    q = _t(rng, *shape(3, e))
    if how == "self":
        return (q,), lambda q: (q, q, q)
    if how == "kv":
        k = _t(rng, *shape(2, e))
        return (q, k), lambda q, k: (q, k, k)
    k, v = _t(rng, *shape(2, kd)), _t(rng, *shape(2, vd))
    return (q, k, v), lambda q, k, v: (q, k, v)


@pytest.mark.parametrize("case", sorted(MHA_CASES))
def test_multihead_attention_gradcheck(case):
    kwargs, how = MHA_CASES[case]
    module = nn.MultiheadAttention(4, 2, **kwargs).double()
    rng = np.random.default_rng(2)
    _randomize(module, rng)
    inputs, arrange = _mha_inputs(module, how, rng)
    src_len = inputs[-1].shape[1 if module.batch_first else 0]
    padding = np.zeros((2, src_len), dtype=bool)
    padding[0, -1] = True
    padding = cr.tensor(padding)
    params = [p for _, p in module.named_parameters()]

    def fn(*args):
        out, weights = module(*arrange(*args[: len(inputs)]), key_padding_mask=padding)
        return out, weights

    assert gradcheck(fn, (*inputs, *params), atol=1e-6, rtol=1e-4)


def test_multihead_attention_gradgradcheck():
    module = nn.MultiheadAttention(4, 2).double()
    rng = np.random.default_rng(3)
    _randomize(module, rng)
    q, k = _t(rng, 2, 1, 4), _t(rng, 3, 1, 4)
    mask = cr.tensor(np.triu(np.ones((2, 3), dtype=bool), k=2))
    fn = lambda q, k, w: module(q, k, k, attn_mask=mask)  # noqa: E731
    assert gradgradcheck(fn, (q, k, module.in_proj_weight), atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------------------- masks


def test_sdpa_bool_mask_keeps_where_true_and_float_mask_adds():
    rng = np.random.default_rng(4)
    q, k, v = cr.randn(1, 3, 4), cr.randn(1, 5, 4), cr.randn(1, 5, 2)
    keep = rng.random((3, 5)) > 0.4
    keep[:, 0] = True
    out_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(keep))
    additive = np.where(keep, 0.0, -np.inf).astype(np.float32)
    out_float = F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(additive))
    np.testing.assert_allclose(out_bool._data, out_float._data, rtol=1e-6)
    # reference: softmax over the kept keys only
    scores = (q._data @ k._data.transpose(0, 2, 1))[0] / 2.0
    scores = np.where(keep, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(out_bool._data[0], weights @ v._data[0], rtol=1e-5, atol=1e-6)


def test_causal_outputs_do_not_depend_on_later_positions():
    q, k, v = cr.randn(2, 6, 4), cr.randn(2, 6, 4), cr.randn(2, 6, 3)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    k2, v2 = k.clone(), v.clone()
    k2._data[:, 4:] += 5.0
    v2._data[:, 4:] -= 3.0
    out2 = F.scaled_dot_product_attention(q, k2, v2, is_causal=True)
    np.testing.assert_allclose(out._data[:, :4], out2._data[:, :4], rtol=1e-6)
    assert not np.allclose(out._data[:, 4:], out2._data[:, 4:])
    np.testing.assert_allclose(out._data[:, 0], v._data[:, 0], rtol=1e-6)  # the first query sees only key 0


def test_mha_bool_masks_block_where_true():
    """key_padding_mask True = ignore that key: the output equals attention over the other keys only."""
    module = nn.MultiheadAttention(4, 2, batch_first=True)
    q, kv = cr.randn(1, 3, 4), cr.randn(1, 5, 4)
    padding = np.array([[False, False, True, False, True]])
    out, weights = module(q, kv, kv, key_padding_mask=cr.tensor(padding))
    kept = kv[:, [0, 1, 3]]
    out_ref, weights_ref = module(q, kept, kept)
    np.testing.assert_allclose(out._data, out_ref._data, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(weights._data[..., [2, 4]], 0)
    np.testing.assert_allclose(weights._data[..., [0, 1, 3]], weights_ref._data, rtol=1e-5, atol=1e-7)
    # the same mask as a float mask, and as an attn_mask of (L, S)
    out_float, _ = module(q, kv, kv, key_padding_mask=cr.tensor(np.where(padding, -np.inf, 0.0).astype(np.float32)))
    out_attn, _ = module(q, kv, kv, attn_mask=cr.tensor(np.repeat(padding, 3, axis=0)))
    np.testing.assert_allclose(out_float._data, out._data, rtol=1e-6)
    np.testing.assert_allclose(out_attn._data, out._data, rtol=1e-6)


def test_mha_is_causal_without_mask_applies_the_causal_mask():
    module = nn.MultiheadAttention(4, 2)
    x = cr.randn(5, 2, 4)
    causal = cr.tensor(np.triu(np.ones((5, 5), dtype=bool), k=1))
    out_hint, w_hint = module(x, x, x, is_causal=True)
    out_mask, w_mask = module(x, x, x, attn_mask=causal)
    np.testing.assert_allclose(out_hint._data, out_mask._data, rtol=1e-6)
    np.testing.assert_array_equal(np.triu(w_hint._data[0], k=1), 0)


def test_fully_masked_query_gets_zero_output_and_zero_gradient_as_pytorch_sdpa():
    rng = np.random.default_rng(9)
    q, k, v = _t(rng, 2, 3), _t(rng, 3, 3), _t(rng, 3, 2)
    keep = np.ones((2, 3), dtype=bool)
    keep[1] = False
    for mask in (cr.tensor(keep), cr.tensor(np.where(keep, 0.0, -np.inf))):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        np.testing.assert_array_equal(out._data[1], 0)
        assert np.isfinite(out._data).all()
        q.grad = k.grad = v.grad = None
        out.sum().backward()
        np.testing.assert_array_equal(q.grad._data[1], 0)
        assert np.isfinite(k.grad._data).all() and np.isfinite(v.grad._data).all()
    # the other row is untouched by the dead one
    alone = F.scaled_dot_product_attention(q[:1], k, v)
    np.testing.assert_allclose(out._data[:1], alone._data, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_fully_masked_query_in_mha_is_nan_with_weights_and_zero_without():
    module = nn.MultiheadAttention(4, 2)
    x = cr.randn(3, 2, 4)
    padding = np.zeros((2, 3), dtype=bool)
    padding[1] = True
    out_w, weights = module(x, x, x, key_padding_mask=cr.tensor(padding))
    out_now, none = module(x, x, x, key_padding_mask=cr.tensor(padding), need_weights=False)
    assert none is None
    assert np.isnan(out_w._data[:, 1]).all() and np.isnan(weights._data[1]).all()
    np.testing.assert_allclose(out_now._data[:, 1], np.broadcast_to(module.out_proj.bias._data, (3, 4)))
    np.testing.assert_allclose(out_now._data[:, 0], out_w._data[:, 0], rtol=1e-6)


# ---------------------------------------------------------------------------------------- shapes


def test_mha_output_and_weight_shapes():
    module = nn.MultiheadAttention(6, 3, kdim=4, vdim=5)
    q, k, v = cr.randn(7, 2, 6), cr.randn(9, 2, 4), cr.randn(9, 2, 5)
    out, w = module(q, k, v)
    assert out.shape == (7, 2, 6) and w.shape == (2, 7, 9)
    _, w_heads = module(q, k, v, average_attn_weights=False)
    assert w_heads.shape == (2, 3, 7, 9)
    np.testing.assert_allclose(w_heads._data.mean(axis=1), w._data, rtol=1e-6)
    np.testing.assert_allclose(w._data.sum(-1), 1.0, rtol=1e-5)
    out_u, w_u = module(q[:, 0], k[:, 0], v[:, 0])
    assert out_u.shape == (7, 6) and w_u.shape == (7, 9)
    np.testing.assert_allclose(out_u._data, out._data[:, 0], rtol=1e-5, atol=1e-6)
    assert module(q, k, v, need_weights=False)[1] is None


def test_batch_first_is_a_transpose():
    module = nn.MultiheadAttention(4, 2)
    module_bf = nn.MultiheadAttention(4, 2, batch_first=True)
    module_bf.load_state_dict(module.state_dict())
    x = cr.randn(5, 3, 4)
    out, w = module(x, x, x)
    out_bf, w_bf = module_bf(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1))
    np.testing.assert_allclose(out_bf.transpose(0, 1)._data, out._data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_bf._data, w._data, rtol=1e-5, atol=1e-7)


def test_sdpa_float32_and_grouped_query_attention():
    q, k, v = cr.randn(2, 4, 3, 8), cr.randn(2, 2, 5, 8), cr.randn(2, 2, 5, 6)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    assert out.shape == (2, 4, 3, 6) and out.dtype == cr.float32
    # query heads 0, 1 use key/value head 0; heads 2, 3 use head 1
    ref = F.scaled_dot_product_attention(q[:, 2:], k[:, 1:].expand(2, 2, 5, 8), v[:, 1:].expand(2, 2, 5, 6))
    np.testing.assert_allclose(out._data[:, 2:], ref._data, rtol=1e-6)


def test_float32_in_float32_out_with_gradients():
    module = nn.MultiheadAttention(4, 2)
    x = cr.randn(3, 2, 4, requires_grad=True)
    out, w = module(x, x, x, key_padding_mask=cr.tensor(np.array([[False, False, True], [False, False, False]])))
    assert out.dtype == w.dtype == cr.float32
    (out.sum() + w.sum()).backward()
    assert x.grad.dtype == cr.float32
    assert all(p.grad.dtype == cr.float32 for p in module.parameters())


# ---------------------------------------------------------------------------------------- dropout


def test_sdpa_dropout_statistics():
    p = 0.25
    cr.manual_seed(0)
    q, k = cr.zeros(1, 200, 8), cr.randn(1, 50, 8)
    v = cr.eye(50).unsqueeze(0)  # the output rows are the (dropped) attention weights themselves
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    dropped = (out._data == 0).mean()
    n = out._data.size
    assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / n)
    # uniform weights 1/50 (all-zero queries): survivors are scaled by 1 / (1 - p)
    np.testing.assert_allclose(out._data[out._data != 0], 1 / 50 / (1 - p), rtol=1e-5)


def test_mha_dropout_only_in_training():
    module = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = cr.randn(6, 2, 4)
    module.eval()
    a, wa = module(x, x, x)
    b, wb = module(x, x, x)
    np.testing.assert_array_equal(a._data, b._data)
    module.train()
    cr.manual_seed(3)
    c, wc = module(x, x, x, average_attn_weights=False)
    assert (wc._data == 0).mean() > 0.3  # weights are returned after dropout, as in PyTorch
    assert not np.allclose(c._data, a._data)


# ---------------------------------------------------------------------------------------- parameters


def test_parameter_names_and_initialization():
    cr.manual_seed(0)
    module = nn.MultiheadAttention(32, 4)
    assert list(module.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bound = math.sqrt(6 / (32 + 96))  # xavier_uniform on (3E, E)
    w = module.in_proj_weight._data
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(module.in_proj_bias._data, 0)
    np.testing.assert_array_equal(module.out_proj.bias._data, 0)
    assert np.abs(module.out_proj.weight._data).max() <= 1 / math.sqrt(32)
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False, add_bias_kv=True)
    names = {n: tuple(p.shape) for n, p in separate.named_parameters()}
    assert names == {
        "q_proj_weight": (8, 8),
        "k_proj_weight": (8, 3),
        "v_proj_weight": (8, 5),
        "bias_k": (1, 1, 8),
        "bias_v": (1, 1, 8),
        "out_proj.weight": (8, 8),
    }


# ---------------------------------------------------------------------------------------- errors


def test_embed_dim_not_divisible_by_heads():
    with pytest.raises(cr.ShapeError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)


def test_wrong_input_sizes_name_the_layer():
    module = nn.MultiheadAttention(8, 2)
    with pytest.raises(cr.ShapeError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): expected query"):
        module(cr.randn(3, 2, 6), cr.randn(3, 2, 8), cr.randn(3, 2, 8))
    with pytest.raises(cr.ShapeError, match="key_padding_mask has shape"):
        x = cr.randn(3, 2, 8)
        module(x, x, x, key_padding_mask=cr.zeros(2, 4).bool())
    with pytest.raises(cr.ShapeError, match=r"the 2-d attn_mask has shape \(3, 4\), expected \(3, 3\)"):
        module(x, x, x, attn_mask=cr.zeros(3, 4))


def test_sdpa_errors():
    q = cr.randn(2, 3, 4)
    with pytest.raises(cr.ShapeError, match="same last dimension"):
        F.scaled_dot_product_attention(q, cr.randn(2, 5, 3), cr.randn(2, 5, 3))
    with pytest.raises(cr.ShapeError, match="same sequence length"):
        F.scaled_dot_product_attention(q, cr.randn(2, 5, 4), cr.randn(2, 6, 3))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.zeros(3, 3), is_causal=True)
    with pytest.raises(cr.ShapeError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.zeros(4, 3))
    with pytest.raises(cr.DTypeError, match="bool and floating point masks"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.zeros(3, 3, dtype=cr.int64))


def test_sdpa_is_one_node_where_it_can_be_and_the_composite_elsewhere():
    """float32/float64 without dropout: the fused primitive (one node); half precision, dropout or a query with every
    key masked: the ops (softmax in float32 for half, zero rows for dead queries)."""
    q, k, v = (cr.randn(2, 3, 5, 4, requires_grad=True) for _ in range(3))
    assert F.scaled_dot_product_attention(q, k, v).grad_fn.name == "attention"
    assert F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).grad_fn.name != "attention"
    half = [t.detach().to(cr.float16).requires_grad_() for t in (q, k, v)]
    assert F.scaled_dot_product_attention(*half).grad_fn.name != "attention"
    dead = np.zeros((5, 5), bool)
    dead[:, :2] = True  # query rows 0-4 may attend keys 0-1 ...
    dead[3] = False  # ... but query 3 none
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(dead))
    assert out.grad_fn.name != "attention" and not np.abs(out.numpy()[:, :, 3]).any()


def test_sdpa_on_heads_split_views_equals_the_strided_product():
    # the scores' GEMM reads the strided views a projection split into heads gives (oneDNN, in place) or
    # C-contiguous copies of them (NumPy's BLAS): the same products as on the views themselves, to rounding
    rng = np.random.default_rng(3)
    n, length, heads, d = 3, 7, 2, 4
    y = rng.standard_normal((n, length, 3 * heads * d)).astype(np.float32)
    q, k, v = (t.reshape(n, length, heads, d).permute(0, 2, 1, 3) for t in cr.tensor(y).split(heads * d, dim=-1))
    assert not q._data.flags.c_contiguous
    bias = np.where(rng.random((n, 1, 1, length)) < 0.3, -np.inf, 0.0).astype(np.float32)
    bias[..., 0] = 0.0
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(bias))
    scores = (q._data @ k._data.swapaxes(-1, -2)) * np.float32(1 / math.sqrt(d)) + bias
    expected = F.softmax(cr.tensor(scores), -1)._data @ v._data
    np.testing.assert_allclose(got._data, expected, rtol=1e-6, atol=1e-6)
