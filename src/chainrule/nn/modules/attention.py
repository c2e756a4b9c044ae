"""Multi-head attention (Vaswani et al. 2017, section 3.2.2) with PyTorch's parameters and calling convention.

Parameter names match ``torch.nn.MultiheadAttention`` (``in_proj_weight``,
``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``; ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight`` when kdim or vdim differ from
embed_dim; ``bias_k``, ``bias_v`` with ``add_bias_kv``), so state dicts move
between the two libraries unchanged.

Differs from PyTorch: there is no fused inference fast path (the result is
the same); ``is_causal=True`` without ``attn_mask`` applies a causal mask
rather than raising; ``static_k``/``static_v`` are not supported.
"""

from __future__ import annotations

from ...creation import empty
from ...errors import ShapeError
from ...tensor import Tensor
from .. import init
from ..functional.attention import multi_head_attention_forward
from ..module import Module, Parameter
from . import _checks as checks
from .linear import Linear

__all__ = ["MultiheadAttention"]


def check_heads(layer: str, embed_dim, num_heads, embed_name: str, heads_name: str) -> None:
    """embed_dim and num_heads positive, and the heads splitting embed_dim evenly."""
    embed_dim = checks.size(layer, embed_name, embed_dim, minimum=1)
    num_heads = checks.size(layer, heads_name, num_heads, minimum=1)
    checks.divisible(layer, embed_name, embed_dim, heads_name, num_heads)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of size ``embed_dim // num_heads``, concatenated and projected.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns
    ``(attn_output, attn_weights)``.

    Shapes (L target length, S source length, N batch, E embed_dim):
    query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``
    (``(N, L, E)`` etc. with ``batch_first``; unbatched ``(L, E)`` etc.);
    ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or
    ``(N * num_heads, L, S)``, bool True = may **not** attend, float = added
    to the scores.  attn_output is shaped like query; attn_weights is
    ``(N, L, S)`` averaged over heads, ``(N, num_heads, L, S)`` with
    ``average_attn_weights=False``, or None when ``need_weights=False``.

    Initialization as PyTorch: in-projection weights xavier_uniform, biases
    zero, ``out_proj`` like ``nn.Linear`` but with a zero bias, ``bias_k``
    and ``bias_v`` xavier_normal.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        check_heads("MultiheadAttention", embed_dim, num_heads, "embed_dim", "num_heads")
        checks.probability("MultiheadAttention", "dropout", dropout)
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value is not None:
                checks.size("MultiheadAttention", name, value)  # 0 is allowed, as in PyTorch
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        factory = dict(dtype=dtype, device=device)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    reset_parameters = _reset_parameters

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        self._check(query, key, value)
        separate = not self._qkv_same_embed_dim
        return multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            batch_first=self.batch_first,
        )

    def _check(self, query, key, value):
        for name, t, features in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(t).__name__}")
            shape = t.data.shape
            if len(shape) not in (2, 3) or shape[-1] != features:
                layout = "(N, len, {})" if self.batch_first else "(len, N, {})"
                raise ShapeError(
                    f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}): expected {name} "
                    f"of shape {layout.format(features)} or (len, {features}), got {tuple(shape)}"
                )

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
