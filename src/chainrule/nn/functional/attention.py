"""Functional attention: ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

Both are composites of differentiable ops (matmul, softmax, dropout), so
gradients of any order come from the op table.  Masks are turned into one
additive float array (0 where attention is allowed, -inf where it is not) and
added to the scores in a single op; a float mask that requires grad is added
as a tensor and gets its gradient.

Mask conventions follow PyTorch, and they differ between the two functions:

* ``scaled_dot_product_attention``: a bool ``attn_mask`` is True where a
  query **may** attend (keep).
* ``multi_head_attention_forward`` / ``nn.MultiheadAttention``: a bool
  ``attn_mask`` or ``key_padding_mask`` is True where attention is **not**
  allowed (masked out).

Float masks are added to the scores in both.  A query whose keys are all
masked (-inf) gets, as in PyTorch 2.13, zero weights and a zero output from
``scaled_dot_product_attention`` (and so from multi-head attention with
``need_weights=False``), but NaN from multi-head attention with
``need_weights=True``.
"""

from __future__ import annotations

import math

import numpy as np

from ...autograd.mode import autocast_state
from ...backend import array_module, to_device
from ...errors import DTypeError, ShapeError
from ...ops.attention import attention
from ...ops.nn import softmax
from ...ops.shape import cat
from ...tensor import Tensor, _wrap
from .dropout import dropout as _dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ---------------------------------------------------------------------------
# masks


def _as_mask(mask, name, like: Tensor):
    """A mask as (array, tensor-or-None): the tensor is kept when it is a float mask that needs its gradient."""
    if isinstance(mask, Tensor):
        if mask.requires_grad:
            return None, mask
        array = mask._data
    else:
        array = np.asarray(mask)
    kind = array.dtype.kind
    if kind not in "bf":
        raise DTypeError(f"{name}: only bool and floating point masks are supported, got {array.dtype}")
    if type(array) is not type(like._data):
        array = to_device(array, like.device)
    return array, None


def _additive(array, masked_where, dtype):
    """Bool -> 0 / -inf (``masked_where`` says which bool value blocks); float -> itself, in ``dtype``."""
    xp = array_module(array)
    if array.dtype.kind == "b":
        blocked = array if masked_where else ~array
        return xp.where(blocked, xp.asarray(-np.inf, dtype=dtype), xp.asarray(0, dtype=dtype))
    return array.astype(dtype, copy=False)


def _causal(xp, tgt_len, src_len, dtype):
    """(L, S) additive mask: -inf above the diagonal (query i sees keys 0..i), as ``torch.ones(L, S).tril()``."""
    blocked = xp.triu(xp.ones((tgt_len, src_len), dtype=bool), k=1)
    return xp.where(blocked, xp.asarray(-np.inf, dtype=dtype), xp.asarray(0, dtype=dtype))


def _add_bias(scores: Tensor, bias_array, bias_tensor) -> Tensor:
    if bias_array is not None:
        scores = scores + _wrap(bias_array)
    if bias_tensor is not None:
        scores = scores + bias_tensor
    return scores


def _merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# ---------------------------------------------------------------------------
# scaled dot-product attention


def _fusable(query, key, value, bias_array, bias_tensor):
    """Whether ops/attention.py's primitive computes this attention as the separate ops would: one float32 or
    float64 dtype throughout (half precision and autocast keep the ops, which compute softmax in float32)."""
    if autocast_state() is not None:
        return False
    dtype = query._data.dtype
    if dtype.char not in "fd":
        return False
    biases = (bias_array, None if bias_tensor is None else bias_tensor._data)
    others = [key._data, value._data] + [b for b in biases if b is not None]
    return all(a.dtype == dtype for a in others)


def _attend(query, key, value, bias_array, bias_tensor, dropout_p, scale, safe, need_weights=True):
    """softmax(q k^T * scale + bias) [dropout] @ v; returns (output, weights) (weights None without
    ``need_weights``).

    ``safe``: a query whose keys are all masked (-inf) gets zero weights instead of NaN (PyTorch's SDPA).
    Without the weights, without dropout and without such queries it is one primitive (``ops/attention.py``).
    """
    dead = None
    if safe and bias_array is not None:
        xp = array_module(bias_array)
        blocked = xp.isneginf(bias_array).all(axis=-1, keepdims=True)
        if blocked.any():
            # a finite row keeps softmax (and its backward) free of NaN; its weights are zeroed below
            dead = blocked
            bias_array = xp.where(blocked, xp.zeros((), dtype=bias_array.dtype), bias_array)
    if not need_weights and dropout_p == 0.0 and dead is None and _fusable(query, key, value, bias_array, bias_tensor):
        bias = _merge(None if bias_array is None else _wrap(bias_array), bias_tensor)
        return attention(query, key, value, bias, scale), None
    # both operands of the scores' batched GEMM C-contiguous: on the heads-split views of a projection (strided
    # rows, keys transposed) NumPy's matmul ran 1.6x slower than copying both first and multiplying (MiniLM's
    # (32, 12, 64, 32): 3.16 -> 1.92 ms with the copies, one thread); the same products, same bits
    scores = (query.contiguous() * scale) @ key.mT.contiguous()
    scores = _add_bias(scores, bias_array, bias_tensor)
    weights = softmax(scores, -1)
    if dead is not None:
        weights = weights.masked_fill(dead, 0.0)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    return weights @ value, weights


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """Scaled dot-product attention, ``softmax(query @ key^T * scale + mask) @ value`` (Vaswani et al., 2017, eq. 1).

    A composite of differentiable ops, so gradients of every order exist.  A
    query whose keys are all masked gets zero weights and a zero output (as
    PyTorch 2.13's), not NaN.

    Args:
        query: shape ``(N, ..., L, E)``: L queries of size E.
        key: shape ``(N, ..., S, E)``: S keys; leading dimensions broadcast with
            ``query``'s.
        value: shape ``(N, ..., S, Ev)``.
        attn_mask (Tensor | None): broadcasts to ``(N, ..., L, S)``: bool, True
            where a query **may** attend (PyTorch's convention here, the opposite
            of ``nn.MultiheadAttention``'s), or float, added to the scores (a
            float mask that requires grad gets its gradient).  Default None.
        dropout_p: the probability of dropping an attention weight, applied
            whenever > 0 (the caller decides about training mode, as in PyTorch;
            default 0).
        is_causal: let query i attend keys 0..i only; not together with
            ``attn_mask`` (default False).
        scale: the factor on the scores; None (default) means ``1 / sqrt(E)``.
        enable_gqa: grouped-query attention: key and value may have fewer heads
            (dim -3) than query, a divisor of it; each key/value head then serves
            a group of query heads (default False).

    Returns:
        A tensor of shape ``(N, ..., L, Ev)`` in ``query``'s dtype.

    Raises:
        ShapeError: if the shapes do not fit together or the mask does not
            broadcast to the scores.
        ValueError: if both ``attn_mask`` and ``is_causal`` are given, or
            ``dropout_p`` is outside [0, 1].

    Examples:
        >>> q = cr.tensor([[[0.0, 0.0], [10.0, 0.0]]])
        >>> k = cr.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> v = cr.tensor([[[1.0, 2.0], [3.0, 4.0]]])
        >>> F.scaled_dot_product_attention(q, k, v)  # query 0 averages, query 1 picks key 0
        tensor([[[2.0000, 3.0000],
                 [1.0017, 2.0017]]])
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True)[0, 0]
        tensor([1., 2.])
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got {type(t).__name__}")
        if t._data.ndim < 2:
            raise ShapeError(f"scaled_dot_product_attention: {name} needs at least 2 dimensions, got {tuple(t.shape)}")
    qs, ks, vs = query._data.shape, key._data.shape, value._data.shape
    if qs[-1] != ks[-1]:
        raise ShapeError(f"scaled_dot_product_attention: query {qs} and key {ks} must have the same last dimension (E)")
    if ks[-2] != vs[-2]:
        raise ShapeError(
            f"scaled_dot_product_attention: key {ks} and value {vs} must have the same sequence length (dim -2)"
        )
    if enable_gqa and len(qs) >= 3 and len(ks) >= 3 and ks[-3] != qs[-3]:
        key, value = _repeat_heads(key, qs[-3]), _repeat_heads(value, qs[-3])
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p}")
    dtype = query._data.dtype
    tgt_len, src_len = qs[-2], ks[-2]
    bias_array = bias_tensor = None
    if is_causal:
        bias_array = _causal(array_module(query._data), tgt_len, src_len, dtype)
    elif attn_mask is not None:
        array, bias_tensor = _as_mask(attn_mask, "scaled_dot_product_attention: attn_mask", query)
        if array is not None:
            bias_array = _additive(array, masked_where=False, dtype=dtype)
        mask_shape = (bias_tensor if array is None else array).shape
        try:
            np.broadcast_shapes(tuple(mask_shape), qs[:-1] + (src_len,))
        except ValueError:
            raise ShapeError(
                f"scaled_dot_product_attention: attn_mask of shape {tuple(mask_shape)} does not broadcast to "
                f"the scores' shape {qs[:-1] + (src_len,)}"
            ) from None
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    out, _ = _attend(query, key, value, bias_array, bias_tensor, dropout_p, scale, safe=True, need_weights=False)
    return out


def _repeat_heads(t: Tensor, heads: int) -> Tensor:
    """(..., Hk, S, E) -> (..., heads, S, E): each of the Hk heads repeated heads // Hk times (grouped-query)."""
    shape = t._data.shape
    kv_heads = shape[-3]
    if heads % kv_heads:
        raise ShapeError(f"scaled_dot_product_attention: {heads} query heads are not a multiple of {kv_heads} kv heads")
    group = heads // kv_heads
    expanded = t.unsqueeze(-3).expand(*shape[:-2], group, *shape[-2:])
    return expanded.reshape(*shape[:-3], heads, *shape[-2:])


# ---------------------------------------------------------------------------
# multi-head attention


def _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate):
    """q, k, v after the input projection (same layout as the inputs)."""
    embed_dim = query._data.shape[-1]
    if separate is not None:
        q_w, k_w, v_w = separate
        if in_proj_bias is None:
            b_q = b_k = b_v = None
        else:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        return linear(query, q_w, b_q), linear(key, k_w, b_k), linear(value, v_w, b_v)
    if query is key and key is value:  # self-attention: one GEMM for q, k and v
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
    w_q, w_kv = in_proj_weight.split([embed_dim, 2 * embed_dim])
    b_q = b_kv = None
    if in_proj_bias is not None:
        b_q, b_kv = in_proj_bias.split([embed_dim, 2 * embed_dim])
    q = linear(query, w_q, b_q)
    if key is value:
        k, v = linear(key, w_kv, b_kv).chunk(2, dim=-1)
        return q, k, v
    w_k, w_v = w_kv.chunk(2)
    b_k, b_v = (None, None) if b_kv is None else b_kv.chunk(2)
    return q, linear(key, w_k, b_k), linear(value, w_v, b_v)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask=None,
    need_weights: bool = True,
    attn_mask=None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    batch_first: bool = False,
):
    """Multi-head attention with PyTorch's arguments (Vaswani et al., 2017, 3.2.2); behind ``nn.MultiheadAttention``.

    Projects query, key and value (``in_proj_weight``, or the three separate
    weights), splits them into ``num_heads`` heads of size
    ``E / num_heads``, attends in each head with scaled dot-product attention,
    concatenates the heads and applies the output projection.

    Shapes (L target length, S source length, N batch, E embed_dim): query
    ``(L, N, E)``, key ``(S, N, E_k)``, value ``(S, N, E_v)``, or unbatched
    ``(L, E)`` / ``(S, E_k)`` / ``(S, E_v)``; with ``batch_first`` (a chainrule
    extension used by ``nn.MultiheadAttention``) ``(N, L, E)`` etc.  A query
    whose keys are all masked gets NaN with ``need_weights=True`` and zeros
    without, as in PyTorch 2.13.

    Differs from PyTorch: ``is_causal=True`` without ``attn_mask`` applies a
    causal mask instead of raising; ``static_k`` and ``static_v`` are not
    supported.

    Args:
        query: the queries, shape ``(L, N, E)`` (see above).
        key: the keys, shape ``(S, N, E_k)``.
        value: the values, shape ``(S, N, E_v)``.
        embed_dim_to_check: E; the query's last dimension must equal it.
        num_heads: the number of heads; must divide E.
        in_proj_weight: the packed q, k, v projection ``(3 * E, E)``, or None with
            ``use_separate_proj_weight``.
        in_proj_bias: the packed bias ``(3 * E,)``, or None.
        bias_k: a learned key ``(1, 1, E)`` appended to the keys, or None.
        bias_v: a learned value ``(1, 1, E)`` appended to the values, or None
            (given together with ``bias_k``).
        add_zero_attn: append a key and a value of zeros (after the projection).
        dropout_p: the dropout probability on the attention weights, applied
            only when ``training``.
        out_proj_weight: the output projection ``(E, E)``.
        out_proj_bias: its bias ``(E,)``, or None.
        training: apply ``dropout_p`` (default True).
        key_padding_mask (Tensor | None): ``(N, S)`` (unbatched ``(S,)``): bool,
            True where a key is padding and must **not** be attended, or float,
            added to the scores.
        need_weights: also return the attention weights (default True).
        attn_mask (Tensor | None): ``(L, S)`` or ``(N * num_heads, L, S)``: bool,
            True where attention is **not** allowed, or float, added to the
            scores.
        use_separate_proj_weight: project with ``q_proj_weight``,
            ``k_proj_weight`` and ``v_proj_weight`` instead of ``in_proj_weight``
            (needed when E_k or E_v differ from E; default False).
        q_proj_weight: ``(E, E)``, with ``use_separate_proj_weight``.
        k_proj_weight: ``(E, E_k)``, with ``use_separate_proj_weight``.
        v_proj_weight: ``(E, E_v)``, with ``use_separate_proj_weight``.
        static_k: not supported (must be None).
        static_v: not supported (must be None).
        average_attn_weights: average the returned weights over the heads
            (default True).
        is_causal: apply a causal mask (query i attends keys 0..i) when
            ``attn_mask`` is None (default False).
        batch_first: inputs and output are ``(N, L, E)`` (default False).

    Returns:
        (tuple[Tensor, Tensor | None]): ``(attn_output, attn_weights)``: the
            output shaped like query; the weights ``(N, L, S)`` averaged over
            heads (``(N, num_heads, L, S)`` with ``average_attn_weights=False``;
            unbatched without N) when ``need_weights``, else None.  As in
            PyTorch the returned weights are those after dropout.

    Examples:
        >>> E, heads = 4, 2
        >>> x = cr.randn(5, 3, E)  # (L, N, E)
        >>> out, weights = F.multi_head_attention_forward(
        ...     x, x, x, E, heads, cr.randn(3 * E, E), cr.zeros(3 * E), None, None, False, 0.0,
        ...     cr.randn(E, E), cr.zeros(E), training=False)
        >>> out.shape, weights.shape
        ((5, 3, 4), (3, 5, 5))
    """
    op = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    qdim = query._data.ndim
    if qdim not in (2, 3):
        raise ShapeError(f"{op}: query must be 2-d (unbatched) or 3-d, got shape {tuple(query.shape)}")
    if key._data.ndim != qdim or value._data.ndim != qdim:
        raise ShapeError(
            f"{op}: query, key and value must all be {qdim}-d, got {tuple(query.shape)}, {tuple(key.shape)} "
            f"and {tuple(value.shape)}"
        )
    batched = qdim == 3
    if not batched:  # add a batch dimension in the position the layout expects
        dim = 0 if batch_first else 1
        query, key, value = query.unsqueeze(dim), key.unsqueeze(dim), value.unsqueeze(dim)
        if key_padding_mask is not None:
            key_padding_mask = _unsqueeze_mask(key_padding_mask, 0)
        # a 3-d attn_mask is (num_heads, L, S) here: (N * num_heads, L, S) with N = 1
    if batch_first:
        batch, tgt_len, embed_dim = query._data.shape
        src_len = key._data.shape[1]
    else:
        tgt_len, batch, embed_dim = query._data.shape
        src_len = key._data.shape[0]
    if embed_dim != embed_dim_to_check:
        raise ShapeError(f"{op}: expected query with embed_dim={embed_dim_to_check} features, got {tuple(query.shape)}")
    if num_heads <= 0 or embed_dim % num_heads:
        raise ShapeError(f"{op}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    head_dim = embed_dim // num_heads
    seq_axis = 1 if batch_first else 0
    if key._data.shape[seq_axis] != value._data.shape[seq_axis] or key._data.shape[1 - seq_axis] != batch:
        raise ShapeError(
            f"{op}: key {tuple(key.shape)} and value {tuple(value.shape)} must share the sequence length and "
            f"batch size of query {tuple(query.shape)}"
        )
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{op}: static_k and static_v are not supported by chainrule")
    separate = None
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight, v_proj_weight")
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    elif in_proj_weight is None:
        raise ValueError(f"{op}: in_proj_weight is None and use_separate_proj_weight is False")
    elif key._data.shape[-1] != embed_dim or value._data.shape[-1] != embed_dim:
        raise ShapeError(
            f"{op}: with a packed in_proj_weight, key {tuple(key.shape)} and value {tuple(value.shape)} must have "
            f"embed_dim={embed_dim} features (use kdim/vdim for other sizes)"
        )
    q, k, v = _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate)

    dtype = query._data.dtype
    xp = array_module(query._data)
    # masks -> one additive array (or tensor) broadcastable to the scores (N, num_heads, L, S)
    attn_array = attn_tensor = kpm_array = kpm_tensor = None
    if attn_mask is not None:
        array, attn_tensor = _as_mask(attn_mask, f"{op}: attn_mask", query)
        shape = tuple((attn_tensor if array is None else array).shape)
        if len(shape) == 2:
            if shape != (tgt_len, src_len):
                raise ShapeError(f"{op}: the 2-d attn_mask has shape {shape}, expected {(tgt_len, src_len)}")
        elif len(shape) == 3:
            if shape != (batch * num_heads, tgt_len, src_len):
                raise ShapeError(
                    f"{op}: the 3-d attn_mask has shape {shape}, expected {(batch * num_heads, tgt_len, src_len)}"
                )
        else:
            raise ShapeError(f"{op}: attn_mask must be 2-d or 3-d, got shape {shape}")
        new_shape = (1, 1, tgt_len, src_len) if len(shape) == 2 else (batch, num_heads, tgt_len, src_len)
        if array is not None:
            attn_array = _additive(array, masked_where=True, dtype=dtype).reshape(new_shape)
        else:
            attn_tensor = attn_tensor.reshape(new_shape)
    elif is_causal:
        attn_array = _causal(xp, tgt_len, src_len, dtype)[None, None]
    if key_padding_mask is not None:
        array, kpm_tensor = _as_mask(key_padding_mask, f"{op}: key_padding_mask", query)
        shape = tuple((kpm_tensor if array is None else array).shape)
        if shape != (batch, src_len):
            raise ShapeError(f"{op}: key_padding_mask has shape {shape}, expected {(batch, src_len)}")
        if array is not None:
            kpm_array = _additive(array, masked_where=True, dtype=dtype).reshape(batch, 1, 1, src_len)
        else:
            kpm_tensor = kpm_tensor.reshape(batch, 1, 1, src_len)

    if bias_k is not None or bias_v is not None:
        if bias_k is None or bias_v is None:
            raise ValueError(f"{op}: bias_k and bias_v must be given together")
        extra = (batch, 1, embed_dim) if batch_first else (1, batch, embed_dim)
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(*extra)], seq_axis)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(*extra)], seq_axis)
        attn_array, attn_tensor, kpm_array, kpm_tensor = _pad_masks(attn_array, attn_tensor, kpm_array, kpm_tensor)

    q, k, v = (_split_heads(t, num_heads, batch_first) for t in (q, k, v))  # (N, heads, len, head_dim)
    if add_zero_attn:
        zeros = _wrap(xp.zeros((batch, num_heads, 1, head_dim), dtype=dtype))
        k = cat([k, zeros], 2)
        v = cat([v, zeros], 2)
        attn_array, attn_tensor, kpm_array, kpm_tensor = _pad_masks(attn_array, attn_tensor, kpm_array, kpm_tensor)

    bias_array = _merge(attn_array, kpm_array)
    bias_tensor = _merge(attn_tensor, kpm_tensor)
    if not training:
        dropout_p = 0.0
    # PyTorch runs SDPA (zero rows for fully masked queries) without weights, plain softmax (NaN) with them
    out, weights = _attend(
        q, k, v, bias_array, bias_tensor, dropout_p, 1.0 / math.sqrt(head_dim), not need_weights, need_weights
    )
    # (N, heads, L, head_dim) -> the input layout, then the output projection
    if batch_first:
        out = out.permute(0, 2, 1, 3).reshape(batch, tgt_len, embed_dim)
    else:
        out = out.permute(2, 0, 1, 3).reshape(tgt_len, batch, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not batched:
        out = out.squeeze(0 if batch_first else 1)
    if not need_weights:
        return out, None
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights


def _unsqueeze_mask(mask, dim):
    return mask.unsqueeze(dim) if isinstance(mask, Tensor) else np.expand_dims(np.asarray(mask), dim)


def _pad_masks(attn_array, attn_tensor, kpm_array, kpm_tensor):
    """One more key column that every query may attend (for bias_k/bias_v or add_zero_attn)."""

    def pad_array(a):
        if a is None:
            return None
        xp = array_module(a)
        return xp.concatenate([a, xp.zeros(a.shape[:-1] + (1,), dtype=a.dtype)], axis=-1)

    def pad_tensor(t):
        return None if t is None else t.pad((0, 1))

    return pad_array(attn_array), pad_tensor(attn_tensor), pad_array(kpm_array), pad_tensor(kpm_tensor)


def _split_heads(t: Tensor, num_heads: int, batch_first: bool) -> Tensor:
    """(L, N, E) or (N, L, E) -> (N, num_heads, L, head_dim) (a view)."""
    if batch_first:
        batch, length, embed = t._data.shape
        return t.reshape(batch, length, num_heads, embed // num_heads).permute(0, 2, 1, 3)
    length, batch, embed = t._data.shape
    return t.reshape(length, batch, num_heads, embed // num_heads).permute(1, 2, 0, 3)
