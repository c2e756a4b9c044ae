"""Transformer encoder (Vaswani et al. 2017, section 3.1): TransformerEncoderLayer and TransformerEncoder.

Parameter and sub-module names match PyTorch (``self_attn``, ``linear1``,
``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``;
``layers.0. ...`` and ``norm`` in the encoder), so state dicts move between
the two libraries unchanged.

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
from ..functional.activation import gelu, relu
from ..module import Module, ModuleList, Parameter
from . import _checks as checks
from .attention import MultiheadAttention, check_heads
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder"]


def _activation(activation):
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise checks.LayerArgumentError(
            f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}"
        )
    if not callable(activation):
        raise TypeError(f"TransformerEncoderLayer: activation must be a string or a callable, got {activation!r}")
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
