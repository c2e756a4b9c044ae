"""BERT encoders (Devlin et al. 2019) that load Hugging Face BERT-family checkpoints.

::

    model = BertModel.from_pretrained("path/to/all-MiniLM-L6-v2")     # config.json + model.safetensors
    out = model(input_ids, attention_mask)                            # (N, L) int64 each
    out.last_hidden_state                                             # (N, L, hidden_size)
    mean_pooling(out.last_hidden_state, attention_mask)               # (N, hidden_size)

The module tree and parameter names are those of ``transformers``'
``BertModel`` (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ...), so a checkpoint loads
by name and ``save_pretrained`` writes files that Hugging Face reads back.

Each layer is post-LayerNorm: ``h = LN(x + Dropout(Attn(x)))``,
``out = LN(h + Dropout(W2 act(W1 h)))``.  Padding is excluded by an
additive mask on the attention scores: 0 for real tokens, the most negative
float for padding, as in Hugging Face (so no row is ever all ``-inf``).
Outputs at padded positions are computed but meaningless; pool with the mask.

Differs from Hugging Face: ``forward`` returns a ``BertModelOutput``
named tuple (last_hidden_state, pooler_output) instead of a ModelOutput and
takes no ``head_mask``, ``position_ids``, ``inputs_embeds`` or cache
arguments; only absolute position embeddings exist; the classifier returns
logits (the loss is the caller's) and can pool by the attention-masked mean
of the tokens (``pooling="mean"``, what sentence-transformers models are
trained for) instead of the [CLS] pooler.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import nn
from .._tracing import is_exporting
from ..autograd.mode import is_grad_enabled
from ..errors import ShapeError
from ..nn import functional as F
from ..nn import init
from ..ops.shape import cat
from ..tensor import Tensor, _wrap
from ..utils.checkpoint import checkpoint
from .pretrained import (
    ConfigError,
    copy_weights,
    open_checkpoint,
    plan_weights,
    read_config,
    save_weights,
    write_config,
)

__all__ = [
    "BertConfig",
    "BertModel",
    "BertModelOutput",
    "BertForSequenceClassification",
    "mean_pooling",
]

_ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": lambda x: x.tanh(),
}
_POOLINGS = ("cls", "mean")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


# ---------------------------------------------------------------------------
# configuration


@dataclasses.dataclass
class BertConfig:
    """The shape of a BERT encoder, with Hugging Face's ``config.json`` keys and defaults (bert-base).

    ``num_labels``, ``id2label``, ``classifier_dropout`` describe a
    classification head; ``pooling`` ("cls": tanh(dense(h[CLS])), as in
    Hugging Face, or "mean": attention-masked mean of the tokens) is a
    chainrule key that Hugging Face ignores.  ``gradient_checkpointing``
    recomputes each layer's activations in backward instead of keeping them.
    Keys chainrule does not use are kept in ``extra`` and written back.
    ``from_pretrained(path)`` reads a ``config.json``; ``to_dict()`` writes one.

    Args:
        vocab_size: the number of token ids; default 30522.
        hidden_size: the width H of every token state; default 768.
        num_hidden_layers: the number of encoder layers; default 12.
        num_attention_heads: the number of attention heads; must divide ``hidden_size``; default 12.
        intermediate_size: the width of each layer's feed-forward block; default 3072.
        hidden_act: the feed-forward activation: ``"gelu"`` (the default, exact), ``"gelu_new"``/``"gelu_fast"``/
            ``"gelu_pytorch_tanh"`` (the tanh approximation), ``"relu"``, ``"silu"``/``"swish"`` or ``"tanh"``.
        hidden_dropout_prob: dropout on embeddings and layer outputs, in [0, 1); default 0.1.
        attention_probs_dropout_prob: dropout on the attention weights, in [0, 1); default 0.1.
        max_position_embeddings: the longest sequence L; default 512.
        type_vocab_size: the number of token types (segments); default 2.
        layer_norm_eps: LayerNorm's epsilon; default 1e-12.
        initializer_range: the standard deviation of the initial weights; default 0.02.
        pad_token_id: the padding token's id (its embedding row starts at 0), or None; default 0.
        position_embedding_type: must be ``"absolute"`` (the only kind chainrule implements).
        classifier_dropout: the classifier's dropout; None means ``hidden_dropout_prob``.
        num_labels: the number of classes of a classification head; default 2.
        id2label: ``{class index: name}`` for the classes 0..num_labels-1, or None.
        pooling: ``"cls"`` (the default) or ``"mean"``: the sentence vector a classifier reads.
        gradient_checkpointing: recompute each layer's activations in backward; default False.
        extra: the config keys chainrule does not use, kept to be written back.

    Raises:
        ConfigError: a value that cannot build a model (the message names the key).

    Examples:
        >>> config = cr.models.BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                               intermediate_size=16, num_labels=3)
        >>> config.labels, config.to_dict()["model_type"]
        (['LABEL_0', 'LABEL_1', 'LABEL_2'], 'bert')
        >>> cr.models.BertConfig(hidden_size=10, num_attention_heads=3)
        Traceback (most recent call last):
            ...
        chainrule.models.pretrained.ConfigError: BertConfig: hidden_size (10) must be divisible by ...
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: float | None = None
    num_labels: int = 2
    id2label: dict | None = None
    pooling: str = "cls"
    gradient_checkpointing: bool = False
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    def validate(self, source: str = "BertConfig") -> None:
        """Raise ConfigError naming the first key whose value cannot build a model."""
        positive = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
            "num_labels",
        )
        for key in positive:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{source}: {key} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"{source}: hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if not isinstance(self.hidden_act, str) or self.hidden_act not in _ACTIVATIONS:
            raise ConfigError(
                f"{source}: hidden_act {self.hidden_act!r} is not supported; use one of {', '.join(_ACTIVATIONS)}"
            )
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
            value = getattr(self, key)
            if (value is not None or key != "classifier_dropout") and not (_is_number(value) and 0.0 <= value < 1.0):
                raise ConfigError(f"{source}: {key} must be a probability in [0, 1), got {value!r}")
        if not (_is_number(self.layer_norm_eps) and 0 < self.layer_norm_eps < math.inf):
            raise ConfigError(f"{source}: layer_norm_eps must be a positive number, got {self.layer_norm_eps!r}")
        if not (_is_number(self.initializer_range) and 0 <= self.initializer_range < math.inf):
            raise ConfigError(
                f"{source}: initializer_range must be a non-negative number, got {self.initializer_range!r}"
            )
        pad = self.pad_token_id
        if pad is not None and (isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.vocab_size):
            raise ConfigError(
                f"{source}: pad_token_id must be a token id below vocab_size ({self.vocab_size}) or null, got {pad!r}"
            )
        if not isinstance(self.gradient_checkpointing, bool):
            raise ConfigError(
                f"{source}: gradient_checkpointing must be true or false, got {self.gradient_checkpointing!r}"
            )
        if self.position_embedding_type != "absolute":
            raise ConfigError(
                f"{source}: position_embedding_type {self.position_embedding_type!r} is not supported "
                f"(only 'absolute' position embeddings are)"
            )
        if self.pooling not in _POOLINGS:
            raise ConfigError(f"{source}: pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        if self.id2label is not None:
            if not isinstance(self.id2label, dict) or set(self.id2label) != set(range(len(self.id2label))):
                raise ConfigError(
                    f"{source}: id2label must map the class indices 0..num_labels-1 to names, "
                    f"got {_short(self.id2label)}"
                )
            if len(self.id2label) != self.num_labels:
                raise ConfigError(
                    f"{source}: id2label has {len(self.id2label)} labels but num_labels is {self.num_labels}"
                )

    @property
    def head_dim(self) -> int:
        """The width of one attention head: ``hidden_size // num_attention_heads``."""
        return self.hidden_size // self.num_attention_heads

    @property
    def labels(self) -> list:
        """Label names by class index ("LABEL_0", ... when the config names none)."""
        if self.id2label:
            return [str(self.id2label[i]) for i in range(self.num_labels)]
        return [f"LABEL_{i}" for i in range(self.num_labels)]

    @classmethod
    def from_dict(cls, config: dict, source: str = "config", **overrides) -> BertConfig:
        """Build from a Hugging Face config dict; unknown keys go to ``extra``; ``overrides`` win."""
        config = {**config, **overrides}
        model_type = config.get("model_type", "bert")
        if model_type != "bert":
            raise ConfigError(
                f"{source}: model_type {model_type!r} is not a BERT model; chainrule.models.bert reads "
                f"model_type 'bert' (BERT, MiniLM, ... checkpoints)"
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "id2label", "num_labels"}
        known = {k: v for k, v in config.items() if k in names}
        id2label = config.get("id2label")
        if id2label is not None:
            try:
                id2label = {int(k): str(v) for k, v in id2label.items()}
            except (AttributeError, TypeError, ValueError):
                raise ConfigError(
                    f"{source}: id2label must map class indices to names, got {_short(id2label)}"
                ) from None
        num_labels = config.get("num_labels", len(id2label) if id2label else 2)
        if "num_labels" in overrides and id2label is not None and len(id2label) != num_labels:
            id2label = None  # a new head with a different number of classes
        skip = names | {"id2label", "label2id", "num_labels", "model_type", "architectures"}
        extra = {k: v for k, v in config.items() if k not in skip}
        try:
            built = cls(**known, num_labels=num_labels, id2label=id2label, extra=extra)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except ConfigError as exc:  # raised by __post_init__ under the class's name: say which file instead
            raise ConfigError(f"{source}:{str(exc).partition(':')[2]}") from None
        built.validate(source)
        return built

    @classmethod
    def from_pretrained(cls, path, **overrides) -> BertConfig:
        """Read ``path/config.json`` (or the JSON file ``path``)."""
        source = Path(path) if Path(path).suffix == ".json" else Path(path) / "config.json"
        return cls.from_dict(read_config(path), source=str(source), **overrides)

    def describe_sizes(self) -> str:
        """The sizes that decide the shapes of the weights, for error messages."""
        keys = ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size", "max_position_embeddings")
        return ", ".join(f"{key}={getattr(self, key)}" for key in (*keys, "type_vocab_size", "num_labels"))

    def to_dict(self) -> dict:
        """A Hugging Face style config dict (``model_type`` 'bert', ``id2label``/``label2id``)."""
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name not in ("extra", "id2label"):
                out[f.name] = getattr(self, f.name)
        labels = self.labels
        out["id2label"] = {str(i): name for i, name in enumerate(labels)}
        out["label2id"] = {name: i for i, name in enumerate(labels)}
        out["model_type"] = "bert"
        return out


# ---------------------------------------------------------------------------
# layers (names follow transformers' modeling_bert so that checkpoints load by name)


class BertEmbeddings(nn.Module):
    """Token + position + token-type embeddings, then LayerNorm and dropout: (N, L) ids -> (N, L, H)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        hidden = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, hidden, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, hidden)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None) -> Tensor:
        length = input_ids.shape[1]
        x = self.word_embeddings(input_ids) + self.position_embeddings.weight[:length]
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]  # every token is of type 0
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention: (N, L, H) -> (N, L, H) before the output projection."""

    def __init__(self, config: BertConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, hidden: Tensor, mask_bias) -> Tensor:
        batch, length, width = hidden.shape
        shape = (batch, length, self.num_attention_heads, self.head_dim)
        # (N, L, H) -> (N, heads, L, head_dim)
        q, k, v = (t.reshape(*shape).permute(0, 2, 1, 3) for t in self._project(hidden))
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask_bias, dropout_p=self.dropout_p if self.training else 0.0
        )
        return context.permute(0, 2, 1, 3).reshape(batch, length, width)

    def _project(self, hidden: Tensor) -> tuple:
        """(query, key, value) projections of ``hidden``, each (N, L, H).

        Without gradients, plain Linear layers (no hooks, all with biases, one
        dtype) run as one GEMM with the three weights stacked, (N L, H) @ (H, 3H):
        24 -> 19.5 ms a layer at MiniLM's (2048, 384) against three GEMMs, one
        thread; the same products up to float32 rounding (the GEMM's blocking).
        A training step keeps three GEMMs: there the stacked weights' backward
        (the three output gradients copied into one) ate the gain.
        """
        layers = (self.query, self.key, self.value)
        if is_grad_enabled() or not all(
            type(layer) is nn.Linear
            and layer.bias is not None
            and not layer._forward_hooks
            and not layer._forward_pre_hooks
            and layer.weight._data.dtype == hidden._data.dtype
            for layer in layers
        ):
            return tuple(layer(hidden) for layer in layers)
        weight = cat([layer.weight for layer in layers])
        bias = cat([layer.bias for layer in layers])
        return F.linear(hidden, weight, bias).split([layer.weight.shape[0] for layer in layers], dim=-1)


class BertSelfOutput(nn.Module):
    """LayerNorm(input + Dropout(dense(attention))): the residual around attention."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, attended: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(attended)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden: Tensor, mask_bias) -> Tensor:
        return self.output(self.self(hidden, mask_bias), hidden)


class BertIntermediate(nn.Module):
    """act(dense(h)): (N, L, H) -> (N, L, intermediate_size)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = _ACTIVATIONS[config.hidden_act]

    def forward(self, hidden: Tensor) -> Tensor:
        return self.activation(self.dense(hidden))


class BertOutput(nn.Module):
    """LayerNorm(residual + Dropout(dense(h))): (N, L, intermediate_size) -> (N, L, H)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertLayer(nn.Module):
    """One post-LayerNorm transformer encoder layer: (N, L, H) -> (N, L, H)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden: Tensor, mask_bias=None) -> Tensor:
        attended = self.attention(hidden, mask_bias)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(nn.Module):
    """``num_hidden_layers`` BertLayers; with ``gradient_checkpointing`` each layer is recomputed in backward."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = config.gradient_checkpointing

    def forward(self, hidden: Tensor, mask_bias=None) -> Tensor:
        recompute = self.gradient_checkpointing and self.training and is_grad_enabled()
        for layer in self.layer:
            hidden = checkpoint(layer, hidden, mask_bias) if recompute else layer(hidden, mask_bias)
        return hidden


class BertPooler(nn.Module):
    """tanh(dense(h[:, 0])): the [CLS] token's state -> (N, H)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.dense(hidden[:, 0]).tanh()


# ---------------------------------------------------------------------------
# models


class BertModelOutput(NamedTuple):
    """What ``BertModel`` returns: the token states and the pooled [CLS] vector.

    Attributes:
        last_hidden_state: the last layer's token states, (N, L, H).
        pooler_output: ``tanh(dense(last_hidden_state[:, 0]))``, (N, H); None when the model has no pooling layer.

    Examples:
        >>> config = cr.models.BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                               intermediate_size=16)
        >>> out = cr.models.BertModel(config)(cr.tensor([[5, 6, 7]]))
        >>> out._fields, out.last_hidden_state.shape, out.pooler_output.shape
        (('last_hidden_state', 'pooler_output'), (1, 3, 8), (1, 8))
    """

    last_hidden_state: Tensor  # (N, L, H)
    pooler_output: Tensor | None  # (N, H), None without a pooling layer


def _as_int_array(value, name: str) -> np.ndarray:
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"BertModel: {name} must hold integers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ShapeError(f"BertModel: {name} must have shape (N, L), got {tuple(array.shape)}")
    return array


def _init_weights(module: nn.Module, std: float) -> None:
    """Hugging Face's BERT initialization: N(0, std) weights, zero biases, unit LayerNorm, zero padding row."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                m.weight._data[m.padding_idx] = 0
        elif isinstance(m, nn.LayerNorm):
            init.ones_(m.weight)
            init.zeros_(m.bias)


def _rename_legacy(name: str) -> str:
    """Old TensorFlow-converted checkpoints call LayerNorm's parameters gamma and beta."""
    if name.endswith(".gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith(".beta"):
        return name[: -len("beta")] + "bias"
    return name


class _Pretrained:
    """from_pretrained / save_pretrained for models with a ``config``."""

    config: BertConfig

    @classmethod
    def from_pretrained(cls: Any, path, *, strict: bool = True, output_loading_info: bool = False, **overrides):
        """Build from ``path/config.json`` and load ``path/model.safetensors`` by name.

        ``overrides`` replace config values (``num_labels=3``,
        ``hidden_dropout_prob=0.0``, ``pooling="mean"``,
        ``gradient_checkpointing=True``).  Tensors that are missing,
        unexpected (``strict=False`` ignores these) or mis-shaped raise
        ``WeightsError`` naming them.  With ``output_loading_info`` returns
        ``(model, {"missing": [...], "ignored": [...]})``: the tensors left
        at their initial values (a new classifier head) and the checkpoint
        tensors not used.  The model is returned in eval mode, as Hugging
        Face does: call ``model.train()`` before fine-tuning.

        The directory may come from anyone: every file read must resolve
        inside it, and the shapes the config implies are matched against the
        checkpoint's headers before the model is built, so a config.json
        that declares a huge vocabulary or a million layers is refused
        without allocating them.
        """
        config = BertConfig.from_pretrained(path, **overrides)
        reader = open_checkpoint(path)
        rename, ignore, may_be_missing = cls._loading_rules(config)
        # shapes first, from the config and the checkpoint's headers: nothing is allocated for a
        # config that does not describe these weights (a huge vocab_size would ask for terabytes)
        source, info = plan_weights(
            cls._parameter_shapes(config),
            reader,
            cls.__name__,
            rename,
            ignore,
            may_be_missing,
            strict,
            hint=f" (the model's shapes come from its config: {config.describe_sizes()})",
        )
        model = cls(config)
        copy_weights(model, reader, source)
        model.eval()
        return (model, info) if output_loading_info else model

    def save_pretrained(self, directory) -> None:
        """Write ``config.json`` and ``model.safetensors`` (Hugging Face names) into ``directory``."""
        config = self.config.to_dict()
        config["architectures"] = [type(self).__name__]
        save_weights(self, directory)
        write_config(config, directory)

    def gradient_checkpointing_enable(self: Any) -> None:
        """Recompute each layer's activations in backward (less memory, about one more forward of time)."""
        self._encoder().gradient_checkpointing = True
        self.config.gradient_checkpointing = True

    def gradient_checkpointing_disable(self: Any) -> None:
        """Keep each layer's activations for backward again (the default)."""
        self._encoder().gradient_checkpointing = False
        self.config.gradient_checkpointing = False


class BertModel(_Pretrained, nn.Module):
    """The BERT encoder: embeddings, ``num_hidden_layers`` layers and (optionally) the [CLS] pooler.

    ``forward(input_ids, attention_mask=None, token_type_ids=None)``:
    input_ids (N, L) int64 with L <= max_position_embeddings; attention_mask
    (N, L), 1 (or True) for real tokens and 0 for padding, all ones when
    None; token_type_ids (N, L), all zeros when None.  Returns
    ``BertModelOutput(last_hidden_state (N, L, H), pooler_output (N, H) or None)``.

    ``BertModel.from_pretrained(directory)`` builds one from a Hugging Face
    checkpoint (``config.json`` and ``model.safetensors``); ``save_pretrained``
    writes one. Weights start as Hugging Face initializes them.

    Args:
        config: the ``BertConfig`` giving the sizes.
        add_pooling_layer: include the [CLS] pooler (``pooler_output``); default True.

    Examples:
        >>> config = cr.models.BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                               intermediate_size=16)
        >>> model = cr.models.BertModel(config)
        >>> ids, mask = cr.tensor([[5, 6, 7, 0], [8, 9, 0, 0]]), cr.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
        >>> out = model(ids, mask)
        >>> out.last_hidden_state.shape, out.pooler_output.shape
        ((2, 4, 8), (2, 8))
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        _init_weights(self, config.initializer_range)

    def _encoder(self):
        return self.encoder

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> BertModelOutput:
        ids = _as_int_array(input_ids, "input_ids")
        batch, length = ids.shape
        if length > self.config.max_position_embeddings:
            raise ShapeError(
                f"BertModel: sequences of {length} tokens are longer than max_position_embeddings "
                f"({self.config.max_position_embeddings}); truncate them (Tokenizer max_length)"
            )
        if token_type_ids is not None:
            token_type_ids = _as_int_array(token_type_ids, "token_type_ids")
            if token_type_ids.shape != ids.shape:
                raise ShapeError(
                    f"BertModel: token_type_ids {token_type_ids.shape} must have the shape of input_ids {ids.shape}"
                )
        hidden = self.embeddings(ids, token_type_ids)
        hidden = self.encoder(hidden, self._mask_bias(attention_mask, ids.shape, hidden._data.dtype))
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BertModelOutput(hidden, pooled)

    @staticmethod
    def _mask_bias(attention_mask, shape, dtype):
        """(N, L) 1/0 mask -> (N, 1, 1, L) additive array (0 keep, most negative float drop), or None."""
        if attention_mask is None:
            return None
        mask = _as_int_array(attention_mask, "attention_mask")
        if mask.shape != shape:
            raise ShapeError(f"BertModel: attention_mask {mask.shape} must have the shape of input_ids {shape}")
        if is_exporting():  # the same values from chainrule's ops, so that an exported graph takes the mask as input:
            # a lookup in the table [most negative, 0] by the 0/1 mask (int -> float casts are not in the op table)
            table = _wrap(np.array([[np.finfo(dtype).min], [0]], dtype=dtype))
            return F.embedding(_wrap(mask), table).reshape(shape[0], 1, 1, shape[1])
        if mask.all():
            return None
        blocked = (mask == 0)[:, None, None, :]
        return np.where(blocked, np.finfo(dtype).min, 0).astype(dtype)

    # loading: the checkpoint may come from BertModel or from a BertFor... model ("bert." prefix)
    @staticmethod
    def _checkpoint_name(name: str) -> str:
        name = _rename_legacy(name)
        return name[len("bert.") :] if name.startswith("bert.") else name

    @staticmethod
    def _ignorable_name(name: str, has_pooler: bool) -> bool:
        name = BertModel._checkpoint_name(name)
        return name == "embeddings.position_ids" or (not has_pooler and name.startswith("pooler."))

    @classmethod
    def _loading_rules(cls, config: BertConfig, add_pooling_layer: bool = True) -> tuple:
        """(rename, ignore, may_be_missing) for a checkpoint, decided from the config alone."""
        return cls._checkpoint_name, lambda name: cls._ignorable_name(name, add_pooling_layer), lambda name: False

    @staticmethod
    def _parameter_shapes(config: BertConfig, add_pooling_layer: bool = True, prefix: str = ""):
        """(name, shape) of every tensor of ``BertModel(config)``, in ``state_dict`` order, without building it.

        A generator, so a config that asks for a million layers can be
        refused after the first few hundred names.
        """
        hidden, inner = config.hidden_size, config.intermediate_size

        def linear(name, rows, cols):
            yield f"{prefix}{name}.weight", (rows, cols)
            yield f"{prefix}{name}.bias", (rows,)

        def norm(name):
            yield f"{prefix}{name}.weight", (hidden,)
            yield f"{prefix}{name}.bias", (hidden,)

        yield f"{prefix}embeddings.word_embeddings.weight", (config.vocab_size, hidden)
        yield f"{prefix}embeddings.position_embeddings.weight", (config.max_position_embeddings, hidden)
        yield f"{prefix}embeddings.token_type_embeddings.weight", (config.type_vocab_size, hidden)
        yield from norm("embeddings.LayerNorm")
        for i in range(config.num_hidden_layers):
            layer = f"encoder.layer.{i}."
            for part in ("query", "key", "value"):
                yield from linear(f"{layer}attention.self.{part}", hidden, hidden)
            yield from linear(f"{layer}attention.output.dense", hidden, hidden)
            yield from norm(f"{layer}attention.output.LayerNorm")
            yield from linear(f"{layer}intermediate.dense", inner, hidden)
            yield from linear(f"{layer}output.dense", hidden, inner)
            yield from norm(f"{layer}output.LayerNorm")
        if add_pooling_layer:
            yield from linear("pooler.dense", hidden, hidden)


def mean_pooling(last_hidden_state: Tensor, attention_mask=None, normalize: bool = False) -> Tensor:
    """Mean of the token states over the real tokens: (N, L, H), (N, L) -> (N, H).

    With ``normalize`` each row is divided by its L2 norm (sentence-transformers'
    Normalize module), so dot products are cosine similarities.

    Args:
        last_hidden_state: token states, (N, L, H).
        attention_mask: (N, L), nonzero for real tokens and 0 for padding (a Tensor or an array); None averages
            over all L positions.
        normalize: divide each sentence vector by its L2 norm; default False.

    Returns:
        A tensor of shape (N, H), differentiable with respect to ``last_hidden_state``.

    Examples:
        >>> states = cr.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # the third token is padding
        >>> cr.models.mean_pooling(states, cr.tensor([[1, 1, 0]]))
        tensor([[2., 3.]])
    """
    if attention_mask is None:
        pooled = last_hidden_state.mean(dim=1)
    elif is_exporting():  # chainrule's ops only, so that an exported graph takes the mask as input (a 0/1 mask)
        mask = _as_int_array(attention_mask, "attention_mask")
        weights = F.embedding(_wrap(mask), _wrap(np.array([[0], [1]], dtype=last_hidden_state._data.dtype)))
        pooled = (last_hidden_state * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    else:
        mask = _as_int_array(attention_mask, "attention_mask")
        weights = _wrap((mask != 0).astype(last_hidden_state._data.dtype)[:, :, None])
        count = np.maximum(mask.astype(np.float64).sum(axis=1, keepdims=True), 1e-9)
        pooled = (last_hidden_state * weights).sum(dim=1) * _wrap((1.0 / count).astype(weights._data.dtype))
    if normalize:
        pooled = pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return pooled


class BertForSequenceClassification(_Pretrained, nn.Module):
    """BERT with a linear classifier on the pooled output: -> logits (N, num_labels).

    ``forward(input_ids, attention_mask=None, token_type_ids=None)`` as
    ``BertModel``.  ``config.pooling`` chooses the sentence vector: "cls"
    (Hugging Face's pooler) or "mean" (masked mean of the token states; the
    encoder then has no pooler and a checkpoint's pooler weights are
    skipped).  The classifier is Dropout(``classifier_dropout``, else
    ``hidden_dropout_prob``) then Linear(H, num_labels); loading a plain
    encoder checkpoint leaves it at its initial N(0, initializer_range).

    Differs from Hugging Face: returns the logits only (pass them to
    ``F.cross_entropy``); ``pooling="mean"`` is a chainrule option that a
    Hugging Face reader of the saved files would not apply.

    Args:
        config: the ``BertConfig`` giving the sizes, ``num_labels`` and ``pooling``.

    Examples:
        >>> config = cr.models.BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                               intermediate_size=16, num_labels=3, pooling="mean")
        >>> model = cr.models.BertForSequenceClassification(config)
        >>> model(cr.tensor([[5, 6, 7, 0]]), cr.tensor([[1, 1, 1, 0]])).shape
        (1, 3)
        >>> model.save_pretrained("tiny-bert")  # config.json and model.safetensors, Hugging Face's names
        >>> classifier = cr.models.BertForSequenceClassification
        >>> loaded, info = classifier.from_pretrained("tiny-bert", output_loading_info=True)
        >>> info, loaded.training
        ({'missing': [], 'ignored': []}, False)
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=config.pooling == "cls")
        rate = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(rate)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        _init_weights(self.classifier, config.initializer_range)

    def _encoder(self):
        return self.bert.encoder

    def features(self, input_ids, attention_mask=None, token_type_ids=None) -> Tensor:
        """The pooled sentence vectors the classifier reads: (N, H)."""
        hidden, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        if self.config.pooling == "mean":
            return mean_pooling(hidden, attention_mask)
        return pooled

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> Tensor:
        return self.classifier(self.dropout(self.features(input_ids, attention_mask, token_type_ids)))

    # loading: from a classifier checkpoint ("bert." prefix) or from a bare encoder (no prefix)
    @staticmethod
    def _checkpoint_name(name: str) -> str:
        name = _rename_legacy(name)
        if name.startswith(("bert.", "classifier.")):
            return name
        return "bert." + name

    @classmethod
    def _loading_rules(cls, config: BertConfig) -> tuple:
        """(rename, ignore, may_be_missing): a new classifier head may be missing from an encoder checkpoint."""
        has_pooler = config.pooling == "cls"

        def ignore(name):
            name = cls._checkpoint_name(name)
            return name.startswith("bert.") and BertModel._ignorable_name(name[len("bert.") :], has_pooler)

        return cls._checkpoint_name, ignore, lambda name: name.startswith("classifier.")

    @staticmethod
    def _parameter_shapes(config: BertConfig):
        """(name, shape) of every tensor of ``BertForSequenceClassification(config)``, without building it."""
        yield from BertModel._parameter_shapes(config, config.pooling == "cls", prefix="bert.")
        yield "classifier.weight", (config.num_labels, config.hidden_size)
        yield "classifier.bias", (config.num_labels,)
