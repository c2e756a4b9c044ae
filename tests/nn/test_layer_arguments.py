"""Every layer refuses an impossible configuration in its constructor, and accepts every possible one.

``INVALID`` lists, per layer, a configuration that works and the ways to break
one argument of it (a kernel of 0, a negative padding, channels that groups
cannot split, a probability of 2, a float where an int belongs, ...).  A
hypothesis property draws a layer, a way to break it and a bad value, and
checks that chainrule's constructor raises the expected exception type
(ValueError for a value out of range, TypeError for a value of the wrong type)
with a message naming the layer, the argument and the value.  Where torch is
installed, torch must reject the same configuration too: in its constructor,
in its first forward, or by returning non-finite numbers (e.g. a negative
LayerNorm eps); chainrule only moves the failure to the constructor.

``VALID`` draws the edge cases PyTorch accepts (Linear(0, n), in_channels=0,
padding of half the kernel, output_padding one below the stride, p = 0 or 1,
eps = 0, adaptive output size 0, ...): chainrule builds them and its forward
gives torch's output shape.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn

HAVE_TORCH = importlib.util.find_spec("torch") is not None
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

negative = st.integers(-100, -1)
non_positive = st.integers(-100, 0)
non_integer = st.sampled_from([2.5, 1.0, "3", None])
bad_probability = st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -1e-6))
big = st.integers(3, 20)


def _zeros(*shape):
    return np.zeros(shape, dtype=np.float32)


def _randn(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _ints(*shape, high=4):
    return np.random.default_rng(0).integers(0, high, shape)


# each layer: (valid kwargs, input maker(kwargs) -> list of arrays, {argument: [(strategy, exception), ...]})
# a strategy may draw a dict: several arguments set together (the first key is the one the message must name)
SPATIAL = {1: (9,), 2: (9, 9)}


def _conv_input(nd):
    def make(kw):
        channels = kw.get("in_channels", 2)
        return [_randn(2, channels if isinstance(channels, int) and channels >= 0 else 2, *SPATIAL[nd])]

    return make


def _conv_breaks(nd, transposed):
    breaks = {
        "kernel_size": [(non_positive, ValueError), (non_integer, TypeError), (st.just((3,) * (nd + 1)), ValueError)],
        "stride": [(non_positive, ValueError), (st.just(1.5), TypeError)],
        "padding": [(negative, ValueError), (st.just("foo"), ValueError), (st.just((1,) * (nd + 1)), ValueError)],
        "dilation": [(non_positive, ValueError)],
        "groups": [(non_positive, ValueError), (st.just(3), ValueError)],
        "in_channels": [(negative, ValueError), (st.just(2.5), TypeError)],
        "out_channels": [(non_positive, ValueError)],
        "padding_mode": [(st.sampled_from(["foo", "zero", ""]), ValueError)],
    }
    if transposed:
        breaks["output_padding"] = [
            (negative, ValueError),
            (st.integers(1, 5).map(lambda s: {"output_padding": s, "stride": s}), ValueError),
        ]
        breaks["padding"].append((st.just("same"), ValueError))
    else:
        breaks["padding"].append((st.integers(2, 4).map(lambda s: {"padding": "same", "stride": s}), ValueError))
    return breaks


def _pool_breaks(nd, with_dilation=True, with_divisor=False):
    breaks = {
        "kernel_size": [(non_positive, ValueError), (non_integer, TypeError), (st.just((2,) * (nd + 1)), ValueError)],
        "stride": [(non_positive, ValueError)],
        "padding": [(negative, ValueError), (big.map(lambda p: {"padding": p, "kernel_size": 2 * p - 1}), ValueError)],
    }
    if with_dilation:
        breaks["dilation"] = [(non_positive, ValueError)]
    if with_divisor:
        breaks["divisor_override"] = [(st.just(0), ValueError), (st.just(1.5), TypeError)]
    return breaks


def _adaptive_breaks(nd):
    return {"output_size": [(negative, ValueError), (st.just(2.5), TypeError), (st.just((2,) * (nd + 1)), ValueError)]}


def _norm_eps(strict):
    return [(st.floats(-1e3, -1e-3) if not strict else st.floats(-1e3, 0.0), ValueError), (st.just("1e-5"), TypeError)]


def _rnn_breaks(cell, mode):
    minimum = negative if cell else non_positive
    breaks = {
        "input_size": [(minimum, ValueError), (st.just(2.5), TypeError)],
        "hidden_size": [(minimum, ValueError), (st.just(3.5), TypeError)],
    }
    if not cell:
        breaks["num_layers"] = [(non_positive, ValueError), (st.just(1.5), TypeError)]
        breaks["dropout"] = [(bad_probability, ValueError)]
    if mode == "RNN":
        breaks["nonlinearity"] = [(st.sampled_from(["sigmoid", "Tanh", ""]), ValueError)]
    return breaks


def _heads_breaks(embed, heads):
    return {
        embed: [(non_positive, ValueError), (st.just(4.0), TypeError)],
        heads: [(non_positive, ValueError), (st.sampled_from([3, 5, 8]), ValueError)],
    }


def _rnn_input(kw):
    return [_randn(5, 2, 3)]


def _cell_input(kw):
    return [_randn(2, 3)]


def _qkv(kw):
    x = _randn(3, 2, 4)
    return [x, x, x]


def _loss_input(kw):
    return [_randn(3, 4), _ints(3)]


_TRANSFORMER = dict(d_model=4, nhead=2, dim_feedforward=8)

INVALID = {
    "Linear": (
        dict(in_features=3, out_features=2),
        lambda kw: [_randn(2, 3)],
        {
            "in_features": [(negative, ValueError), (non_integer, TypeError)],
            "out_features": [(negative, ValueError), (non_integer, TypeError)],
        },
    ),
    **{
        f"Conv{nd}d": (dict(in_channels=2, out_channels=4, kernel_size=3), _conv_input(nd), _conv_breaks(nd, False))
        for nd in (1, 2)
    },
    **{
        f"ConvTranspose{nd}d": (
            dict(in_channels=2, out_channels=4, kernel_size=3),
            _conv_input(nd),
            _conv_breaks(nd, True),
        )
        for nd in (1, 2)
    },
    **{
        f"MaxPool{nd}d": (dict(kernel_size=2), lambda kw, nd=nd: [_randn(2, 3, *SPATIAL[nd])], _pool_breaks(nd))
        for nd in (1, 2)
    },
    "AvgPool1d": (dict(kernel_size=2), lambda kw: [_randn(2, 3, 9)], _pool_breaks(1, with_dilation=False)),
    "AvgPool2d": (
        dict(kernel_size=2),
        lambda kw: [_randn(2, 3, 9, 9)],
        _pool_breaks(2, with_dilation=False, with_divisor=True),
    ),
    **{
        f"Adaptive{kind}Pool{nd}d": (
            dict(output_size=2),
            lambda kw, nd=nd: [_randn(2, 3, *SPATIAL[nd])],
            _adaptive_breaks(nd),
        )
        for kind in ("Avg", "Max")
        for nd in (1, 2)
    },
    **{
        name: (
            dict(p=0.5),
            lambda kw, shape=shape: [_randn(*shape)],
            {"p": [(bad_probability, ValueError), (st.sampled_from(["0.5", None]), TypeError)]},
        )
        for name, shape in (
            ("Dropout", (2, 3)),
            ("Dropout1d", (2, 3, 4)),
            ("Dropout2d", (2, 3, 4, 4)),
            ("Dropout3d", (2, 3, 2, 2, 2)),
        )
    },
    "Embedding": (
        dict(num_embeddings=5, embedding_dim=3),
        lambda kw: [_ints(2, 2)],
        {
            "num_embeddings": [(negative, ValueError), (st.just(5.0), TypeError)],
            "embedding_dim": [(negative, ValueError), (st.just(3.0), TypeError)],
            "padding_idx": [(st.one_of(st.integers(5, 50), st.integers(-50, -6)), ValueError)],
        },
    ),
    **{
        f"BatchNorm{nd}d": (
            dict(num_features=3),
            lambda kw, shape=shape: [_zeros(*shape)],
            {
                "num_features": [(non_positive, ValueError), (st.just(3.5), TypeError)],
                "eps": _norm_eps(strict=True),
            },
        )
        for nd, shape in ((1, (4, 3)), (2, (4, 3, 2, 2)), (3, (4, 3, 2, 2, 2)))
    },
    "LayerNorm": (
        dict(normalized_shape=4),
        lambda kw: [_zeros(2, 4)],
        {
            "normalized_shape": [(negative, ValueError), (st.just(()), ValueError), (st.just(4.0), TypeError)],
            "eps": _norm_eps(strict=False),
        },
    ),
    "GroupNorm": (
        dict(num_groups=2, num_channels=4),
        lambda kw: [_zeros(2, 4, 3)],
        {
            "num_groups": [(non_positive, ValueError), (st.just(3), ValueError), (st.just(2.0), TypeError)],
            "num_channels": [(negative, ValueError), (st.just(5), ValueError)],
            "eps": _norm_eps(strict=False),
        },
    ),
    **{
        mode: (dict(input_size=3, hidden_size=4), _rnn_input, _rnn_breaks(False, mode))
        for mode in ("RNN", "LSTM", "GRU")
    },
    **{
        f"{mode}Cell": (dict(input_size=3, hidden_size=4), _cell_input, _rnn_breaks(True, mode))
        for mode in ("RNN", "LSTM", "GRU")
    },
    "MultiheadAttention": (
        dict(embed_dim=4, num_heads=2),
        _qkv,
        {
            **_heads_breaks("embed_dim", "num_heads"),
            "dropout": [(bad_probability, ValueError)],
            "kdim": [(negative, ValueError)],
        },
    ),
    "TransformerEncoderLayer": (
        _TRANSFORMER,
        lambda kw: [_randn(3, 2, 4)],
        {
            **_heads_breaks("d_model", "nhead"),
            "dim_feedforward": [(negative, ValueError)],
            "dropout": [(bad_probability, ValueError)],
            "layer_norm_eps": [(st.floats(-1e6, -1e3), ValueError)],
            "activation": [(st.sampled_from(["foo", "Relu", "tanh"]), ValueError)],
        },
    ),
    "TransformerEncoder": (
        dict(num_layers=2),
        lambda kw: [_randn(3, 2, 4)],
        {"num_layers": [(non_positive, ValueError), (st.just(1.5), TypeError)]},
    ),
    "TransformerDecoderLayer": (
        _TRANSFORMER,
        lambda kw: [_randn(3, 2, 4), _randn(5, 2, 4)],
        {
            **_heads_breaks("d_model", "nhead"),
            "dim_feedforward": [(negative, ValueError)],
            "dropout": [(bad_probability, ValueError)],
            "layer_norm_eps": [(st.floats(-1e6, -1e3), ValueError)],
            "activation": [(st.sampled_from(["foo", "Relu", "tanh"]), ValueError)],
        },
    ),
    "TransformerDecoder": (
        dict(num_layers=2),
        lambda kw: [_randn(3, 2, 4), _randn(5, 2, 4)],
        {"num_layers": [(non_positive, ValueError), (st.just(1.5), TypeError)]},
    ),
    "Transformer": (
        dict(_TRANSFORMER, num_encoder_layers=1, num_decoder_layers=1),
        lambda kw: [_randn(5, 2, 4), _randn(3, 2, 4)],
        {
            **_heads_breaks("d_model", "nhead"),
            "num_encoder_layers": [(non_positive, ValueError), (st.just(1.5), TypeError)],
            "num_decoder_layers": [(non_positive, ValueError), (st.just(1.5), TypeError)],
            "dropout": [(bad_probability, ValueError)],
        },
    ),
    "Unfold": (
        dict(kernel_size=2),
        lambda kw: [_randn(1, 2, 4, 4)],
        {
            "kernel_size": [(non_positive, ValueError), (st.just(1.5), TypeError)],
            "dilation": [(non_positive, ValueError)],
            "padding": [(negative, ValueError)],
            "stride": [(non_positive, ValueError)],
        },
    ),
    "Fold": (
        dict(output_size=(4, 4), kernel_size=2),
        lambda kw: [_randn(1, 8, 9)],
        {
            "output_size": [(non_positive, ValueError)],
            "kernel_size": [(non_positive, ValueError)],
            "stride": [(non_positive, ValueError)],
        },
    ),
    "PixelShuffle": (
        dict(upscale_factor=2),
        lambda kw: [_randn(1, 4, 3, 3)],
        {"upscale_factor": [(non_positive, ValueError), (st.just(1.5), TypeError)]},
    ),
    "PixelUnshuffle": (
        dict(downscale_factor=2),
        lambda kw: [_randn(1, 1, 4, 4)],
        {"downscale_factor": [(non_positive, ValueError), (st.just(1.5), TypeError)]},
    ),
    "Upsample": (
        dict(scale_factor=2.0),
        lambda kw: [_randn(1, 2, 3, 3)],
        {
            "scale_factor": [(st.floats(-10, 0), ValueError)],
            "mode": [(st.sampled_from(["cubic", "Nearest", "nearest_exact"]), ValueError)],
        },
    ),
    "UpsamplingNearest2d": (
        dict(size=4),
        lambda kw: [_randn(1, 2, 3, 3)],
        {"size": [(non_positive, ValueError), (st.just(2.5), TypeError)]},
    ),
    "UpsamplingBilinear2d": (
        dict(scale_factor=2.0),
        lambda kw: [_randn(1, 2, 3, 3)],
        {"scale_factor": [(st.floats(-10, 0), ValueError)]},
    ),
    "Flatten": (
        dict(start_dim=1, end_dim=-1),
        lambda kw: [_randn(2, 3, 4, 5)],
        {
            "start_dim": [
                (st.integers(1, 3).map(lambda s: {"start_dim": s + 1, "end_dim": s}), ValueError),
                (st.integers(-4, -2).map(lambda s: {"start_dim": s, "end_dim": s - 1}), ValueError),
                (st.just(1.5), TypeError),
            ],
        },
    ),
    "Unflatten": (
        dict(dim=1, unflattened_size=(2, 2)),
        lambda kw: [_randn(2, 4, 3)],
        {
            "unflattened_size": [
                (st.just((-1, -1)), ValueError),
                (st.integers(-100, -2).map(lambda s: (s, 2)), ValueError),
                (st.just(()), ValueError),
                (st.just(4), TypeError),
                (st.just((2.0, 2)), TypeError),
            ],
            "dim": [(st.just(1.5), TypeError)],
        },
    ),
    "LeakyReLU": (dict(negative_slope=0.1), lambda kw: [_randn(2, 3)], {"negative_slope": [(st.just("a"), TypeError)]}),
    "ELU": (dict(alpha=1.0), lambda kw: [_randn(2, 3)], {"alpha": [(st.just("a"), TypeError)]}),
    "Softplus": (dict(beta=1.0), lambda kw: [_randn(2, 3)], {"beta": [(st.just(0), ValueError)]}),
    "GELU": (dict(approximate="none"), lambda kw: [_randn(2, 3)], {"approximate": [(st.just("fast"), ValueError)]}),
    "Softmax": (dict(dim=1), lambda kw: [_randn(2, 3)], {"dim": [(st.just(1.5), TypeError)]}),
    "LogSoftmax": (dict(dim=1), lambda kw: [_randn(2, 3)], {"dim": [(st.just(1.5), TypeError)]}),
    "Softmin": (dict(dim=1), lambda kw: [_randn(2, 3)], {"dim": [(st.just(1.5), TypeError)]}),
    "GLU": (dict(dim=-1), lambda kw: [_randn(2, 4)], {"dim": [(st.just(1.5), TypeError)]}),
    "Hardtanh": (
        dict(min_val=-1.0, max_val=1.0),
        lambda kw: [_randn(2, 3)],
        {"min_val": [(st.just("a"), TypeError)], "max_val": [(st.floats(-1e3, -1.01), ValueError)]},
    ),
    "CosineSimilarity": (dict(dim=1), lambda kw: [_randn(2, 3), _randn(2, 3)], {"dim": [(st.just(1.5), TypeError)]}),
    "PairwiseDistance": (dict(p=2.0), lambda kw: [_randn(2, 3), _randn(2, 3)], {"p": [(st.just("a"), TypeError)]}),
    "SmoothL1Loss": (dict(), lambda kw: [_randn(3), _randn(3)], {"beta": [(st.floats(-1e3, -1e-3), ValueError)]}),
    "HuberLoss": (dict(), lambda kw: [_randn(3), _randn(3)], {"delta": [(st.floats(-1e3, 0.0), ValueError)]}),
    "MSELoss": (dict(), lambda kw: [_randn(3), _randn(3)], {"reduction": [(st.just("avg"), ValueError)]}),
    "CrossEntropyLoss": (
        dict(),
        _loss_input,
        {"label_smoothing": [(bad_probability, ValueError)], "ignore_index": [(st.just(1.5), TypeError)]},
    ),
    "NLLLoss": (dict(), _loss_input, {"reduction": [(st.just("avg"), ValueError)]}),
    "L1Loss": (dict(), lambda kw: [_randn(3), _randn(3)], {"reduction": [(st.just("batchmean"), ValueError)]}),
    "BCELoss": (dict(), lambda kw: [_zeros(3), _zeros(3)], {"reduction": [(st.just("avg"), ValueError)]}),
    "BCEWithLogitsLoss": (dict(), lambda kw: [_randn(3), _zeros(3)], {"reduction": [(st.just("avg"), ValueError)]}),
    "KLDivLoss": (dict(), lambda kw: [_randn(3), _zeros(3)], {"reduction": [(st.just("avg"), ValueError)]}),
    "MarginRankingLoss": (
        dict(),
        lambda kw: [_randn(3), _randn(3), np.ones(3, np.float32)],
        {"reduction": [(st.just("avg"), ValueError)], "margin": [(st.just("a"), TypeError)]},
    ),
}

# layers whose constructors take nothing that can be out of range (an inplace flag at most)
NOTHING_TO_CHECK = {"Identity", "ReLU", "SiLU", "Sigmoid", "Tanh", "Hardsigmoid", "Hardswish", "LogSigmoid", "ReLU6"}


# meaningless configurations that torch 2.13 runs without a word (chainrule refuses them): a negative
# attention dropout is skipped by its kernel, a negative label smoothing on the CPU just shifts the loss
TORCH_RUNS_ANYWAY = {
    ("MultiheadAttention", "dropout"): lambda value: value < 0,
    ("CrossEntropyLoss", "label_smoothing"): lambda value: value < 0,
}


def _build(library, name, kwargs):
    """The layer ``name`` from chainrule or torch (TransformerEncoder gets a fresh encoder layer)."""
    nn_module = library.nn
    kwargs = dict(kwargs)
    if name == "TransformerEncoder":
        layer = nn_module.TransformerEncoderLayer(**_TRANSFORMER)
        return nn_module.TransformerEncoder(layer, **kwargs)
    if name == "TransformerDecoder":
        layer = nn_module.TransformerDecoderLayer(**_TRANSFORMER)
        return nn_module.TransformerDecoder(layer, **kwargs)
    return getattr(nn_module, name)(**kwargs)


def _torch_rejects(name, kwargs, inputs) -> str:
    """How torch refuses the configuration: 'constructor', 'forward', 'non-finite', or '' if it does not."""
    import torch  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            layer = _build(torch, name, kwargs)
        except Exception:  # noqa: BLE001 - any refusal counts (PyTorch raises TypeError, ValueError, ...)
            return "constructor"
        tensors = [torch.from_numpy(a) for a in inputs]
        try:
            out = layer(*tensors)
        except Exception:  # noqa: BLE001
            return "forward"
    out = out[0] if isinstance(out, tuple) else out
    return "" if bool(torch.isfinite(out).all()) else "non-finite"


def _cases():
    return [
        (name, arg, i)
        for name, (_, _, breaks) in INVALID.items()
        for arg, ways in breaks.items()
        for i in range(len(ways))
    ]


CASES = _cases()


@pytest.mark.parametrize("name,argument,way", CASES, ids=[f"{n}-{a}-{i}" for n, a, i in CASES])
@settings(max_examples=4, **SETTINGS)
@given(data=st.data())
def test_impossible_configuration_is_refused(name, argument, way, data):
    base, make_input, breaks = INVALID[name]
    strategy, expected = breaks[argument][way]
    bad = data.draw(strategy)
    kwargs = {**base, **(bad if isinstance(bad, dict) else {argument: bad})}
    value = kwargs[argument]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(expected) as caught:
            _build(cr, name, kwargs)
    message = str(caught.value)
    assert name in message or (name == "TransformerEncoder" and "TransformerEncoder" in message), message
    assert argument in message, f"{name}({kwargs}): the message does not name {argument}: {message}"
    shown = (repr(value), str(value)) if not isinstance(value, float) or math.isfinite(value) else ("nan",)
    assert any(s in message for s in shown) or expected is ValueError and "divisible" in message, (
        f"{name}({kwargs}): the message does not show the value {value!r}: {message}"
    )
    if HAVE_TORCH:
        rejected = _torch_rejects(name, kwargs, make_input(kwargs))
        silent = TORCH_RUNS_ANYWAY.get((name, argument), lambda value: False)(value)
        assert rejected or silent, f"torch accepts {name}({kwargs}) and runs it"


# ---------------------------------------------------------------------------
# the edges PyTorch accepts: chainrule builds them and gives torch's output shape


def _valid_configs():
    """(layer name, kwargs strategy, input maker) for configurations at the edge of what is allowed."""
    k = st.integers(1, 4)
    configs = [
        (
            "Linear",
            st.fixed_dictionaries(dict(in_features=st.integers(0, 3), out_features=st.integers(0, 3))),
            lambda kw: [_randn(2, kw["in_features"])],
        ),
        (
            "Conv2d",
            st.fixed_dictionaries(dict(in_channels=st.just(0), out_channels=k, kernel_size=k)),
            lambda kw: [_randn(2, 0, 6, 6)],
        ),
        (
            "Conv1d",
            k.flatmap(
                lambda kk: st.fixed_dictionaries(
                    dict(
                        in_channels=st.just(2),
                        out_channels=st.just(2),
                        kernel_size=st.just(kk),
                        padding=st.integers(0, 5),
                        dilation=st.integers(1, 3),
                        stride=st.integers(1, 3),
                    )
                )
            ),
            lambda kw: [_randn(2, 2, 12)],
        ),
        (
            "Conv2d",
            st.fixed_dictionaries(
                dict(
                    in_channels=st.just(2),
                    out_channels=st.just(2),
                    kernel_size=k,
                    padding=st.just("same"),
                    dilation=st.integers(1, 2),
                )
            ),
            lambda kw: [_randn(2, 2, 8, 8)],
        ),
        (
            "ConvTranspose2d",
            st.integers(1, 3).flatmap(
                lambda s: st.integers(1, 3).flatmap(
                    lambda d: st.fixed_dictionaries(
                        dict(
                            in_channels=st.just(2),
                            out_channels=st.just(2),
                            kernel_size=k,
                            stride=st.just(s),
                            dilation=st.just(d),
                            output_padding=st.integers(0, max(s, d) - 1),
                        )
                    )
                )
            ),
            lambda kw: [_randn(2, 2, 5, 5)],
        ),
        (
            "MaxPool2d",
            k.flatmap(
                lambda kk: st.fixed_dictionaries(
                    dict(
                        kernel_size=st.just(kk),
                        padding=st.integers(0, kk // 2),
                        dilation=st.integers(1, 2),
                        stride=st.integers(1, 3),
                    )
                )
            ),
            lambda kw: [_randn(2, 3, 9, 9)],
        ),
        (
            "AvgPool1d",
            k.flatmap(lambda kk: st.fixed_dictionaries(dict(kernel_size=st.just(kk), padding=st.integers(0, kk // 2)))),
            lambda kw: [_randn(2, 3, 9)],
        ),
        (
            "AvgPool2d",
            st.fixed_dictionaries(dict(kernel_size=k, divisor_override=st.sampled_from([-2, 1, 3]))),
            lambda kw: [_randn(2, 3, 9, 9)],
        ),
        (
            "AdaptiveAvgPool2d",
            st.fixed_dictionaries(dict(output_size=st.sampled_from([0, (0, 2), (None, 3), 12]))),
            lambda kw: [_randn(2, 3, 9, 9)],
        ),
        (
            "AdaptiveMaxPool1d",
            st.fixed_dictionaries(dict(output_size=st.integers(0, 12))),
            lambda kw: [_randn(2, 3, 9)],
        ),
        (
            "AdaptiveMaxPool2d",
            st.fixed_dictionaries(dict(output_size=st.sampled_from([0, (2, 0), (None, 3)]))),
            lambda kw: [_randn(2, 3, 9, 9)],
        ),
        ("Dropout", st.fixed_dictionaries(dict(p=st.sampled_from([0.0, 1.0, 0.25]))), lambda kw: [_randn(2, 3)]),
        (
            "Embedding",
            st.fixed_dictionaries(dict(num_embeddings=st.just(0), embedding_dim=st.integers(0, 3))),
            lambda kw: [_ints(0, 2)],
        ),
        (
            "Embedding",
            st.fixed_dictionaries(
                dict(num_embeddings=st.just(4), embedding_dim=st.integers(0, 3), padding_idx=st.integers(-4, 3))
            ),
            lambda kw: [_ints(2, 3)],
        ),
        (
            "LayerNorm",
            st.fixed_dictionaries(dict(normalized_shape=st.sampled_from([0, (2, 0), 3]), eps=st.just(0.0))),
            lambda kw: [_randn(2, *np.atleast_1d(kw["normalized_shape"]))],
        ),
        (
            "GroupNorm",
            st.fixed_dictionaries(dict(num_groups=st.integers(1, 3), num_channels=st.just(0))),
            lambda kw: [_randn(2, 0, 3)],
        ),
        (
            "GroupNorm",
            st.fixed_dictionaries(
                dict(num_groups=st.sampled_from([1, 2, 4]), num_channels=st.just(4), eps=st.just(0.0))
            ),
            lambda kw: [_randn(2, 4, 3)],
        ),
        (
            "RNNCell",
            st.fixed_dictionaries(dict(input_size=st.integers(0, 2), hidden_size=st.integers(0, 2))),
            lambda kw: [_randn(2, kw["input_size"])],
        ),
        (
            "GRUCell",
            st.fixed_dictionaries(dict(input_size=st.integers(0, 2), hidden_size=st.integers(0, 2))),
            lambda kw: [_randn(2, kw["input_size"])],
        ),
        (
            "LSTMCell",
            st.fixed_dictionaries(dict(input_size=st.integers(0, 2), hidden_size=st.integers(0, 2))),
            lambda kw: [_randn(2, kw["input_size"])],
        ),
        (
            "RNN",
            st.fixed_dictionaries(
                dict(
                    input_size=st.just(3),
                    hidden_size=st.just(2),
                    num_layers=st.just(2),
                    dropout=st.sampled_from([0.0, 1.0]),
                )
            ),
            lambda kw: [_randn(4, 2, 3)],
        ),
        (
            "MultiheadAttention",
            st.fixed_dictionaries(
                dict(embed_dim=st.just(4), num_heads=st.sampled_from([1, 2, 4]), kdim=st.just(0), vdim=st.just(0))
            ),
            lambda kw: [_randn(3, 2, 4), _randn(3, 2, 0), _randn(3, 2, 0)],
        ),
        (
            "TransformerEncoderLayer",
            st.fixed_dictionaries(
                dict(d_model=st.just(4), nhead=st.just(2), dim_feedforward=st.just(0), dropout=st.just(0.0))
            ),
            lambda kw: [_randn(3, 2, 4)],
        ),
        (
            "Flatten",
            st.fixed_dictionaries(dict(start_dim=st.integers(-4, 3), end_dim=st.integers(-4, 3))).filter(
                lambda kw: kw["start_dim"] % 4 <= kw["end_dim"] % 4
            ),
            lambda kw: [_randn(2, 3, 4, 5)],
        ),
        (
            "Unflatten",
            st.fixed_dictionaries(dict(dim=st.just(1), unflattened_size=st.sampled_from([(0, 2), (1, 0)]))),
            lambda kw: [_randn(2, 0, 3)],
        ),
        ("Softplus", st.fixed_dictionaries(dict(beta=st.sampled_from([-1.0, 0.5]))), lambda kw: [_randn(2, 3)]),
    ]
    return configs


VALID = _valid_configs()


@pytest.mark.parametrize("index", range(len(VALID)), ids=[f"{v[0]}-{i}" for i, v in enumerate(VALID)])
@settings(max_examples=6, **SETTINGS)
@given(data=st.data())
def test_possible_configuration_is_accepted(index, data):
    name, strategy, make_input = VALID[index]
    kwargs = data.draw(strategy)
    inputs = make_input(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = _build(cr, name, kwargs)
        out = layer(*[cr.tensor(a) for a in inputs])
    out = out[0] if isinstance(out, tuple) else out
    if HAVE_TORCH:
        import torch  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_out = _build(torch, name, kwargs)(*[torch.from_numpy(a) for a in inputs])
        t_out = t_out[0] if isinstance(t_out, tuple) else t_out
        if name == "Conv2d" and kwargs["in_channels"] == 0:
            # torch returns (N, 0, ...) here; chainrule returns the bias in every output channel (the sum over
            # no input channels), the shape the formula gives
            assert tuple(out.shape) == (2, kwargs["out_channels"], 7 - kwargs["kernel_size"], 7 - kwargs["kernel_size"])
        else:
            assert tuple(out.shape) == tuple(t_out.shape), f"{name}({kwargs}): {tuple(out.shape)} vs torch"


def test_every_layer_is_covered():
    exported = {
        name
        for name, obj in vars(nn).items()
        if isinstance(obj, type)
        and issubclass(obj, nn.Module)
        and name not in {"Module", "RNNBase", "RNNCellBase", "Sequential", "ModuleList", "ModuleDict", "ParameterList"}
    }
    missing = exported - set(INVALID) - NOTHING_TO_CHECK
    assert not missing, f"layers without argument checks in this test: {sorted(missing)}"


def test_errors_are_value_errors_and_runtime_errors():
    """One except clause written for PyTorch catches chainrule's: ValueError (constructors), RuntimeError (kernels)."""
    with pytest.raises(ValueError):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(RuntimeError):
        nn.Conv2d(1, 1, 3, stride=-1)
    with pytest.raises(cr.ShapeError):  # indivisible sizes were ShapeErrors before and still are
        nn.MultiheadAttention(10, 3)


def test_conv2d_kernel_zero_no_longer_grows_the_image():
    """The reported bug: nn.Conv2d(1, 1, 0) ran and returned a larger image."""
    with pytest.raises(ValueError, match=r"Conv2d: every kernel_size must be positive, got 0"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="kernel size"):
        cr.nn.functional.conv2d(cr.zeros(1, 1, 5, 5), cr.zeros(1, 1, 0, 0))


def test_functional_entry_points_check_their_arguments():
    """The F.* functions refuse what the constructors refuse (once per call, outside any inner loop)."""
    F = cr.nn.functional  # noqa: N806 - the name every PyTorch user knows
    x = cr.zeros(2, 3, 6, 6)
    with pytest.raises(ValueError, match="batch_norm: eps must be positive in training, got 0"):
        F.batch_norm(cr.zeros(4, 3), None, None, training=True, eps=0)
    with pytest.raises(ValueError, match="conv2d: stride must be positive"):
        F.conv2d(x, cr.zeros(1, 3, 3, 3), stride=0)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(x, p=2.0)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="output_size must be >= 0"):
        F.adaptive_avg_pool2d(x, -1)
    assert tuple(F.adaptive_max_pool2d(x, 0).shape) == (2, 3, 0, 0)
