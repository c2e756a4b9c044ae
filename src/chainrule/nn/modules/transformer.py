"""Transformer (Vaswani et al. 2017, section 3.1): encoder and decoder layers and stacks, and the whole model.

Parameter and sub-module names match PyTorch (``self_attn``, ``linear1``,
``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``;
``multihead_attn``, ``norm3`` and ``dropout3`` in the decoder layer;
``layers.0. ...`` and ``norm`` in the stacks; ``encoder`` and ``decoder`` in
``Transformer``), so state dicts move between the two libraries unchanged.

Differs from PyTorch: there is no nested-tensor / fused inference fast path
(``enable_nested_tensor`` and ``mask_check`` are accepted and ignored), so in
eval mode the outputs at padded positions are computed like any other
position rather than zeroed; ``is_causal=True`` without a mask applies a
causal mask rather than raising.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ...backend import as_dtype, get_default_dtype, to_numpy
from ...errors import ShapeError
from ...tensor import Tensor, _wrap
from .. import init
from ..functional.activation import gelu, relu
from ..module import Module, ModuleList, Parameter
from . import _checks as checks
from .attention import MultiheadAttention, check_heads
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


def _activation(activation, layer: str = "TransformerEncoderLayer"):
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise checks.LayerArgumentError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    if not callable(activation):
        raise TypeError(f"{layer}: activation must be a string or a callable, got {activation!r}")
    return activation


class TransformerEncoderLayer(Module):
    """One Transformer encoder block (Vaswani et al., 2017, 3.1): self-attention, then a feed-forward network.

    Each of the two sub-blocks has a residual connection and a layer norm.
    Post-norm (default, the original paper): ``x = norm1(x + sa(x))``,
    ``x = norm2(x + ff(x))``.  Pre-norm (``norm_first=True``, more stable in deep
    stacks, Xiong et al., 2020): ``x = x + sa(norm1(x))``, ``x = x + ff(norm2(x))``, with
    ``ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))`` and ``sa``
    multi-head self-attention followed by ``dropout1``.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``:
    src ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``, unbatched
    ``(S, E)``), src_mask ``(S, S)`` or ``(N * nhead, S, S)``,
    src_key_padding_mask ``(N, S)``; bool masks are True where attention is
    **not** allowed, float masks are added to the scores.  Returns the shape of
    src.

    Sub-module names match PyTorch's (``self_attn``, ``linear1``, ``dropout``,
    ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``), so state
    dicts move between the two.  Differs from PyTorch: no fused inference fast
    path, so in eval mode padded positions are computed like any other rather
    than zeroed; ``is_causal=True`` without a mask applies a causal mask.

    Args:
        d_model: E, the features of each position; divisible by ``nhead``.
        nhead: the number of attention heads.
        dim_feedforward: the hidden size of the feed-forward network (default
            2048).
        dropout: the dropout probability everywhere in the block (default 0.1).
        activation (str | Callable[[Tensor], Tensor]): ``'relu'`` (default),
            ``'gelu'`` or a function of one tensor.
        layer_norm_eps: the layer norms' eps (default 1e-5).
        batch_first: src is ``(N, S, E)`` (default False).
        norm_first: pre-norm instead of post-norm (default False).
        bias: whether the linear layers and layer norms learn biases (default
            True).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        self_attn (MultiheadAttention): ``MultiheadAttention(d_model, nhead)``.
        linear1 (Linear): ``Linear(d_model, dim_feedforward)``.
        linear2 (Linear): ``Linear(dim_feedforward, d_model)``.
        norm1 (LayerNorm): ``LayerNorm(d_model)`` around the attention.
        norm2 (LayerNorm): ``LayerNorm(d_model)`` around the feed-forward network.

    Examples:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> layer(cr.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        layer = "TransformerEncoderLayer"
        check_heads(layer, d_model, nhead, "d_model", "nhead")
        checks.size(layer, "dim_feedforward", dim_feedforward)  # 0 is allowed, as in PyTorch
        checks.probability(layer, "dropout", dropout)
        checks.nonnegative(layer, "layer_norm_eps", layer_norm_eps, hint=" (a negative eps makes the output NaN)")
        activation = _activation(activation)
        factory = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.d_model = d_model

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None, is_causal: bool = False) -> Tensor:
        if not isinstance(src, Tensor):
            raise TypeError(f"TransformerEncoderLayer: src must be a Tensor, got {type(src).__name__}")
        shape = src._data.shape
        if len(shape) not in (2, 3) or shape[-1] != self.d_model:
            layout = "(N, S, {0})" if self.self_attn.batch_first else "(S, N, {0})"
            raise ShapeError(
                f"TransformerEncoderLayer(d_model={self.d_model}): expected src of shape "
                f"{layout.format(self.d_model)} or (S, {self.d_model}), got {tuple(shape)}"
            )
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, each with its own weights, then an optional ``norm``.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``:
    shapes as [`TransformerEncoderLayer`][chainrule.nn.TransformerEncoderLayer];
    returns the shape of src.  ``is_causal=None`` checks whether ``mask`` is
    the causal mask (as PyTorch does) and passes the answer to the layers as a
    hint.  ``TransformerEncoder.generate_square_subsequent_mask(S)`` makes that
    mask.  Sub-modules are ``layers.0``, ``layers.1``, ... and ``norm``, as in
    PyTorch.

    Args:
        encoder_layer: the layer to copy (its parameters are copied, not
            shared; the layer itself is not part of the stack).
        num_layers: the number of layers, >= 1.
        norm: a module applied to the output of the last layer, e.g.
            ``nn.LayerNorm(d_model)`` for pre-norm layers (default None).
        enable_nested_tensor: accepted and ignored (PyTorch's fast path).
        mask_check: accepted and ignored.

    Examples:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(16))
        >>> mask = nn.TransformerEncoder.generate_square_subsequent_mask(5)
        >>> encoder(cr.randn(2, 5, 16), mask=mask).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        # PyTorch builds an encoder of 0 layers and fails in its first forward
        num_layers = checks.size("TransformerEncoder", "num_layers", num_layers, minimum=1)
        self.layers = ModuleList([clone_module(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None, is_causal: bool | None = None) -> Tensor:
        if is_causal is None:
            is_causal = _is_causal_mask(mask, src, self.layers[0])
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output

    @staticmethod
    def generate_square_subsequent_mask(sz: int, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i attends 0..i)."""
        dtype = np.dtype(get_default_dtype() if dtype is None else as_dtype(dtype))
        above = np.triu(np.ones((sz, sz), dtype=bool), k=1)
        return _wrap(np.where(above, -np.inf, 0.0).astype(dtype))


class TransformerDecoderLayer(Module):
    """One Transformer decoder block (Vaswani et al., 2017, 3.1): self-attention, cross-attention, feed-forward.

    Each of the three sub-blocks has a residual connection and a layer norm.
    Post-norm (default): ``x = norm1(x + sa(x))``, ``x = norm2(x + mha(x,
    memory))``, ``x = norm3(x + ff(x))``. Pre-norm (``norm_first=True``):
    ``x = x + sa(norm1(x))``, ``x = x + mha(norm2(x), memory)``,
    ``x = x + ff(norm3(x))``. ``sa`` is multi-head self-attention over the
    target followed by ``dropout1``, ``mha`` attention from the target to
    ``memory`` (the encoder's output) followed by ``dropout2``, and
    ``ff(x) = dropout3(linear2(dropout(activation(linear1(x)))))``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=False, memory_is_causal=False)``: tgt ``(T, N, E)``,
    memory ``(S, N, E)`` (``(N, T, E)`` and ``(N, S, E)`` with
    ``batch_first``; unbatched ``(T, E)`` and ``(S, E)``), tgt_mask ``(T, T)``
    or ``(N * nhead, T, T)``, memory_mask ``(T, S)`` or ``(N * nhead, T, S)``,
    tgt_key_padding_mask ``(N, T)``, memory_key_padding_mask ``(N, S)``; bool
    masks are True where attention is **not** allowed, float masks are added to
    the scores. Returns the shape of tgt. ``tgt_is_causal`` and
    ``memory_is_causal`` are hints that the masks are causal; with no mask they
    apply one (PyTorch raises instead).

    Args:
        d_model: E, the features of each position; divisible by ``nhead``.
        nhead: the number of attention heads.
        dim_feedforward: the hidden size of the feed-forward network (default
            2048).
        dropout: the dropout probability everywhere in the block (default 0.1).
        activation (str | Callable[[Tensor], Tensor]): ``'relu'`` (default),
            ``'gelu'`` or a function of one tensor.
        layer_norm_eps: the layer norms' eps (default 1e-5).
        batch_first: tgt and memory are ``(N, T, E)`` and ``(N, S, E)`` (default
            False).
        norm_first: pre-norm instead of post-norm (default False).
        bias: whether the linear layers and layer norms learn biases (default
            True).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        self_attn (MultiheadAttention): attention over the target.
        multihead_attn (MultiheadAttention): attention from the target to memory.
        linear1 (Linear): ``Linear(d_model, dim_feedforward)``.
        linear2 (Linear): ``Linear(dim_feedforward, d_model)``.
        norm1 (LayerNorm), norm2 (LayerNorm), norm3 (LayerNorm): around the three sub-blocks.

    Examples:
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> memory, tgt = cr.randn(2, 7, 16), cr.randn(2, 5, 16)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(5)
        >>> layer(tgt, memory, tgt_mask=mask).shape
        (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        layer = "TransformerDecoderLayer"
        check_heads(layer, d_model, nhead, "d_model", "nhead")
        checks.size(layer, "dim_feedforward", dim_feedforward)
        checks.probability(layer, "dropout", dropout)
        checks.nonnegative(layer, "layer_norm_eps", layer_norm_eps, hint=" (a negative eps makes the output NaN)")
        factory = dict(device=device, dtype=dtype)
        attention = dict(dropout=dropout, bias=bias, batch_first=batch_first, **factory)
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, layer)
        self.d_model = d_model

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        layout = "(N, {0}, {1})" if self.self_attn.batch_first else "({0}, N, {1})"
        for name, value, length in (("tgt", tgt, "T"), ("memory", memory, "S")):
            if not isinstance(value, Tensor):
                raise TypeError(f"TransformerDecoderLayer: {name} must be a Tensor, got {type(value).__name__}")
            shape = value._data.shape
            if len(shape) not in (2, 3) or shape[-1] != self.d_model:
                raise ShapeError(
                    f"TransformerDecoderLayer(d_model={self.d_model}): expected {name} of shape "
                    f"{layout.format(length, self.d_model)} or ({length}, {self.d_model}), got {tuple(shape)}"
                )
        if tgt._data.ndim != memory._data.ndim:
            raise ShapeError(
                f"TransformerDecoderLayer: tgt {tuple(tgt._data.shape)} and memory {tuple(memory._data.shape)} "
                "must both be batched or both unbatched"
            )
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, each with its own weights, then an optional ``norm``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None,
    tgt_is_causal=None, memory_is_causal=False)``: shapes as
    [`TransformerDecoderLayer`][chainrule.nn.TransformerDecoderLayer];
    returns the shape of tgt. ``tgt_is_causal=None`` checks whether
    ``tgt_mask`` is the causal mask (as PyTorch does). Sub-modules are
    ``layers.0``, ``layers.1``, ... and ``norm``, as in PyTorch.

    Args:
        decoder_layer: the layer to copy (its parameters are copied, not
            shared).
        num_layers: the number of layers, >= 1.
        norm: a module applied to the output of the last layer (default None).

    Examples:
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2, norm=nn.LayerNorm(16))
        >>> decoder(cr.randn(5, 2, 16), cr.randn(7, 2, 16)).shape
        (5, 2, 16)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got {type(decoder_layer).__name__}")
        num_layers = checks.size("TransformerDecoder", "num_layers", num_layers, minimum=1)
        self.layers = ModuleList([clone_module(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        if tgt_is_causal is None:
            tgt_is_causal = _is_causal_mask(tgt_mask, tgt, self.layers[0])
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017): ``decoder(tgt, encoder(src))``, PyTorch's layout.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: src ``(S, N, E)``, tgt ``(T, N, E)``
    (``(N, S, E)``, ``(N, T, E)`` with ``batch_first``; unbatched ``(S, E)``,
    ``(T, E)``); src_mask ``(S, S)``, tgt_mask ``(T, T)``, memory_mask
    ``(T, S)``, key padding masks ``(N, S)``, ``(N, T)``, ``(N, S)``. Returns
    ``(T, N, E)`` (the layout of tgt). The encoder and the decoder each end
    with a ``LayerNorm(d_model)``; every parameter with more than one
    dimension is initialized xavier-uniform, as in PyTorch.
    ``Transformer.generate_square_subsequent_mask(T)`` makes the causal
    ``tgt_mask``. There is no embedding or output projection: bring your own.

    Args:
        d_model: E, the features of each position (default 512).
        nhead: the number of attention heads (default 8).
        num_encoder_layers: encoder layers (default 6).
        num_decoder_layers: decoder layers (default 6).
        dim_feedforward: the hidden size of each feed-forward network (default 2048).
        dropout: the dropout probability (default 0.1).
        activation (str | Callable[[Tensor], Tensor]): ``'relu'`` (default), ``'gelu'`` or a function.
        custom_encoder: a module to use as the encoder instead (default None).
        custom_decoder: a module to use as the decoder instead (default None).
        layer_norm_eps: the layer norms' eps (default 1e-5).
        batch_first: inputs and output are ``(N, *, E)`` (default False).
        norm_first: pre-norm layers (default False).
        bias: whether linear layers and layer norms learn biases (default True).
        device (str | Device | None): where the parameters live (default None: the CPU).
        dtype (dtype | None): their floating dtype (default None: the default dtype).

    Raises:
        ShapeError: src and tgt of different batch sizes, or of a feature size other than d_model.

    Examples:
        >>> model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
        ...                        dim_feedforward=32, batch_first=True)
        >>> src, tgt = cr.randn(3, 10, 16), cr.randn(3, 6, 16)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(6)
        >>> model(src, tgt, tgt_mask=mask).shape
        (3, 6, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if custom_encoder is None:
            checks.size("Transformer", "num_encoder_layers", num_encoder_layers, minimum=1)
        if custom_decoder is None:
            checks.size("Transformer", "num_decoder_layers", num_decoder_layers, minimum=1)
        factory = dict(device=device, dtype=dtype)
        common = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            **factory,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **common)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(d_model, nhead, **common)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, norm)
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        for name, value in (("src", src), ("tgt", tgt)):
            if not isinstance(value, Tensor):
                raise TypeError(f"Transformer: {name} must be a Tensor, got {type(value).__name__}")
        src_shape, tgt_shape = src._data.shape, tgt._data.shape
        batched = len(src_shape) == 3
        batch_axis = 0 if self.batch_first else 1
        if batched and len(tgt_shape) == 3 and src_shape[batch_axis] != tgt_shape[batch_axis]:
            raise ShapeError(
                f"Transformer: the batch number of src {tuple(src_shape)} and tgt {tuple(tgt_shape)} must be equal"
            )
        if src_shape[-1] != self.d_model or tgt_shape[-1] != self.d_model:
            raise ShapeError(
                f"Transformer(d_model={self.d_model}): the feature number of src {tuple(src_shape)} and tgt "
                f"{tuple(tgt_shape)} must be equal to d_model"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (position i attends 0..i).

        Args:
            sz: the sequence length.
            device: accepted for PyTorch's signature; the mask is made on the CPU.
            dtype: its floating dtype (default None: the default dtype).

        Returns:
            The mask, a tensor of shape (sz, sz).

        Examples:
            >>> nn.Transformer.generate_square_subsequent_mask(3)
            tensor([[  0., -inf, -inf],
                    [  0.,   0., -inf],
                    [  0.,   0.,   0.]])
        """
        return TransformerEncoder.generate_square_subsequent_mask(sz, dtype=dtype)


def _is_causal_mask(mask, src, layer) -> bool:
    """True when ``mask`` equals the causal mask for src's sequence length (PyTorch's detection)."""
    if mask is None:
        return False
    data = to_numpy(mask._data) if isinstance(mask, Tensor) else np.asarray(mask)
    if data.ndim != 2 or data.shape[0] != data.shape[1]:
        return False
    size = data.shape[0]
    batch_first = getattr(getattr(layer, "self_attn", None), "batch_first", False)
    shape = src._data.shape
    seq_len = shape[0] if len(shape) == 2 else shape[1 if batch_first else 0]
    if size != seq_len:
        return False
    above = np.triu(np.ones((size, size), dtype=bool), k=1)
    if data.dtype == np.bool_:
        return bool(np.array_equal(data, above))
    return bool(np.all(np.where(above, np.isneginf(data), data == 0)))


def clone_module(module: Module, memo: dict | None = None) -> Module:
    """A deep copy of ``module``: new parameter and buffer arrays, the same structure and settings.

    chainrule modules refuse pickling (and so ``copy.deepcopy``); this copies
    what a module holds: parameters and buffers (fresh arrays), sub-modules
    (recursively), hooks tables (shallow), and other attributes (shared if
    immutable or callable, shallow-copied if a list, dict or set).  A tensor
    or module reached twice is copied once, so tied weights stay tied.
    """
    memo = {} if memo is None else memo
    if id(module) in memo:
        return memo[id(module)]
    new = object.__new__(type(module))
    memo[id(module)] = new
    for name, value in module.__dict__.items():
        if name == "_parameters":
            value = OrderedDict((k, _clone_tensor(p, memo, param=True)) for k, p in value.items())
        elif name == "_buffers":
            value = OrderedDict((k, _clone_tensor(b, memo, param=False)) for k, b in value.items())
        elif name == "_modules":
            value = OrderedDict((k, None if m is None else clone_module(m, memo)) for k, m in value.items())
        elif isinstance(value, (list, dict, set)):
            value = type(value)(value)
        object.__setattr__(new, name, value)
    return new


def _clone_tensor(t, memo, param):
    if t is None:
        return None
    if id(t) in memo:
        return memo[id(t)]
    if param:
        new = Parameter(t._data.copy(), requires_grad=t.requires_grad)
    else:
        new = _wrap(t._data.copy())
    memo[id(t)] = new
    return new
