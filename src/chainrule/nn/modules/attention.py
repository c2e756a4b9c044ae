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
    """Multi-head attention (Vaswani et al., 2017, 3.2.2): attend in ``num_heads`` subspaces, concatenate, project.

    ``forward(query, key, value, ...)`` returns ``(attn_output, attn_weights)``; for
    self-attention pass the same tensor three times.  Its optional arguments are
    ``key_padding_mask=None``, ``need_weights=True``, ``attn_mask=None``,
    ``average_attn_weights=True`` (average the weights over the heads) and
    ``is_causal=False``.  See
    [`F.multi_head_attention_forward`][chainrule.nn.functional.multi_head_attention_forward].

    Shapes (L target length, S source length, N batch, E embed_dim):
    query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``
    (``(N, L, E)`` etc. with ``batch_first``; unbatched ``(L, E)`` etc.);
    ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or
    ``(N * num_heads, L, S)``, bool True = may **not** attend, float = added
    to the scores.  attn_output is shaped like query; attn_weights is
    ``(N, L, S)`` averaged over heads, ``(N, num_heads, L, S)`` with
    ``average_attn_weights=False``, or None when ``need_weights=False``.

    Parameter names match ``torch.nn.MultiheadAttention``'s, so state dicts
    move between the two.  Differs from PyTorch: no fused inference fast path
    (the result is the same); ``is_causal=True`` without ``attn_mask`` applies
    a causal mask rather than raising.

    Args:
        embed_dim: E, the features of query and output; divisible by
            ``num_heads``.
        num_heads: the number of heads, each of size ``E // num_heads``.
        dropout: the dropout probability on the attention weights, in training
            (default 0).
        bias: whether the in- and out-projections have biases (default True).
        add_bias_kv: learn an extra key and value (``bias_k``, ``bias_v``)
            appended to the sequence (default False).
        add_zero_attn: append a key and a value of zeros (default False).
        kdim: the features of key (default None: E).
        vdim: the features of value (default None: E).
        batch_first: inputs and output are ``(N, L, E)`` (default False).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        in_proj_weight (Tensor | None): the packed q, k, v projection
            ``(3 * E, E)``, xavier_uniform; None when kdim or vdim differ from E.
        q_proj_weight (Tensor | None): ``(E, E)``, used instead when kdim or vdim
            differ from E (with ``k_proj_weight (E, kdim)`` and
            ``v_proj_weight (E, vdim)``), xavier_uniform.
        in_proj_bias (Tensor | None): ``(3 * E,)``, zeros; None with
            ``bias=False``.
        out_proj (Linear): the output projection ``Linear(E, E)``, its bias zero.
        bias_k (Tensor | None): ``(1, 1, E)``, xavier_normal, with
            ``add_bias_kv`` (and ``bias_v`` likewise).

    Examples:
        >>> attention = nn.MultiheadAttention(16, num_heads=4, batch_first=True)
        >>> query, memory = cr.randn(2, 5, 16), cr.randn(2, 7, 16)
        >>> output, weights = attention(query, memory, memory)
        >>> output.shape, weights.shape
        ((2, 5, 16), (2, 5, 7))
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
            self.bias_k: Parameter | None = Parameter(empty(1, 1, embed_dim, **factory))
            self.bias_v: Parameter | None = Parameter(empty(1, 1, embed_dim, **factory))
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
        if self.bias_k is not None and self.bias_v is not None:
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
            shape = t._data.shape
            if len(shape) not in (2, 3) or shape[-1] != features:
                layout = "(N, len, {})" if self.batch_first else "(len, N, {})"
                raise ShapeError(
                    f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}): expected {name} "
                    f"of shape {layout.format(features)} or (len, {features}), got {tuple(shape)}"
                )

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
