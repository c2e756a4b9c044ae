"""Every layer runs on a batch of 0, as PyTorch's do: an empty output of the right shape and dtype, and a
backward that gives the input an empty gradient and every parameter a zero (not a missing) one.

A data loader's last batch, a filter that keeps nothing, a bucket with no
sequences of some length: a zero-size batch reaches layers in real code.
Before, Conv1d/2d and their transposes, BatchNorm in training, LSTM/GRU and
their cells, and adaptive max pooling raised on it.

CASES names every layer class that ``chainrule.nn`` exports (a test checks
that none is missing) with an input of batch size 0 and the output shape
PyTorch gives; where torch is installed the same layer runs in torch and the
shapes, dtypes, values (for losses: NaN for a mean over nothing, 0 for a sum)
and parameter gradients are compared live.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _f(*shape):
    return np.zeros(shape, dtype=np.float32)


def _i(*shape):
    return np.zeros(shape, dtype=np.int64)


# name -> (constructor kwargs, input arrays (batch 0), expected output shape, train mode)
CASES = {
    "Linear": (dict(in_features=3, out_features=4), [_f(0, 3)], (0, 4)),
    "Linear-3d": (dict(in_features=3, out_features=4), [_f(2, 0, 3)], (2, 0, 4)),
    "Identity": (dict(), [_f(0, 3)], (0, 3)),
    "Flatten": (dict(), [_f(0, 3, 4)], (0, 12)),
    "Unflatten": (dict(dim=1, unflattened_size=(2, 2)), [_f(0, 4)], (0, 2, 2)),
    "Conv1d": (dict(in_channels=2, out_channels=3, kernel_size=3), [_f(0, 2, 8)], (0, 3, 6)),
    "Conv2d": (dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), [_f(0, 2, 9, 9)], (0, 3, 4, 4)),
    "Conv2d-grid": (dict(in_channels=8, out_channels=8, kernel_size=3, padding=1), [_f(0, 8, 6, 6)], (0, 8, 6, 6)),
    "Conv2d-groups": (dict(in_channels=4, out_channels=6, kernel_size=1, groups=2), [_f(0, 4, 3, 3)], (0, 6, 3, 3)),
    "ConvTranspose1d": (dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), [_f(0, 2, 5)], (0, 3, 11)),
    "ConvTranspose2d": (dict(in_channels=2, out_channels=4, kernel_size=3, groups=2), [_f(0, 2, 5, 5)], (0, 4, 7, 7)),
    "MaxPool1d": (dict(kernel_size=2), [_f(0, 3, 8)], (0, 3, 4)),
    "MaxPool2d": (dict(kernel_size=2, return_indices=True), [_f(0, 3, 8, 8)], (0, 3, 4, 4)),
    "AvgPool1d": (dict(kernel_size=3, padding=1), [_f(0, 3, 8)], (0, 3, 3)),
    "AvgPool2d": (dict(kernel_size=2), [_f(0, 3, 8, 8)], (0, 3, 4, 4)),
    "AdaptiveAvgPool1d": (dict(output_size=3), [_f(0, 3, 8)], (0, 3, 3)),
    "AdaptiveAvgPool2d": (dict(output_size=(3, 1)), [_f(0, 3, 8, 8)], (0, 3, 3, 1)),
    "AdaptiveMaxPool1d": (dict(output_size=3), [_f(0, 3, 8)], (0, 3, 3)),
    "AdaptiveMaxPool2d": (dict(output_size=3, return_indices=True), [_f(0, 3, 8, 8)], (0, 3, 3, 3)),
    "BatchNorm1d": (dict(num_features=3), [_f(0, 3)], (0, 3)),
    "BatchNorm1d-3d": (dict(num_features=3), [_f(0, 3, 5)], (0, 3, 5)),
    "BatchNorm2d": (dict(num_features=3), [_f(0, 3, 4, 4)], (0, 3, 4, 4)),
    "BatchNorm3d": (dict(num_features=3), [_f(0, 3, 2, 2, 2)], (0, 3, 2, 2, 2)),
    "LayerNorm": (dict(normalized_shape=4), [_f(0, 4)], (0, 4)),
    "GroupNorm": (dict(num_groups=2, num_channels=4), [_f(0, 4, 3)], (0, 4, 3)),
    "Dropout": (dict(p=0.5), [_f(0, 3)], (0, 3)),
    "Dropout1d": (dict(p=0.5), [_f(0, 3, 4)], (0, 3, 4)),
    "Dropout2d": (dict(p=0.5), [_f(0, 3, 4, 4)], (0, 3, 4, 4)),
    "Dropout3d": (dict(p=0.5), [_f(0, 3, 2, 2, 2)], (0, 3, 2, 2, 2)),
    "Embedding": (dict(num_embeddings=5, embedding_dim=3), [_i(0, 4)], (0, 4, 3)),
    "Embedding-padding": (dict(num_embeddings=5, embedding_dim=3, padding_idx=0), [_i(0)], (0, 3)),
    "RNN": (dict(input_size=3, hidden_size=4, batch_first=True), [_f(0, 5, 3)], (0, 5, 4)),
    "RNN-relu-2-layers": (
        dict(input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu"),
        [_f(5, 0, 3)],
        (5, 0, 4),
    ),
    "LSTM": (dict(input_size=3, hidden_size=4, batch_first=True), [_f(0, 5, 3)], (0, 5, 4)),
    "LSTM-bidirectional": (
        dict(input_size=3, hidden_size=4, bidirectional=True, num_layers=2),
        [_f(5, 0, 3)],
        (5, 0, 8),
    ),
    "GRU": (dict(input_size=3, hidden_size=4, batch_first=True), [_f(0, 5, 3)], (0, 5, 4)),
    "GRU-no-bias": (dict(input_size=3, hidden_size=4, bias=False), [_f(5, 0, 3)], (5, 0, 4)),
    "RNNCell": (dict(input_size=3, hidden_size=4), [_f(0, 3)], (0, 4)),
    "LSTMCell": (dict(input_size=3, hidden_size=4), [_f(0, 3)], (0, 4)),
    "GRUCell": (dict(input_size=3, hidden_size=4), [_f(0, 3)], (0, 4)),
    "MultiheadAttention": (dict(embed_dim=4, num_heads=2, batch_first=True), [_f(0, 5, 4)] * 3, (0, 5, 4)),
    "MultiheadAttention-seq-first": (
        dict(embed_dim=4, num_heads=2, kdim=3, vdim=2),
        [_f(5, 0, 4), _f(6, 0, 3), _f(6, 0, 2)],
        (5, 0, 4),
    ),
    "TransformerEncoderLayer": (
        dict(d_model=4, nhead=2, dim_feedforward=8, batch_first=True),
        [_f(0, 5, 4)],
        (0, 5, 4),
    ),
    "TransformerEncoder": (dict(num_layers=2), [_f(5, 0, 4)], (5, 0, 4)),
    "TransformerDecoderLayer": (
        dict(d_model=4, nhead=2, dim_feedforward=8, batch_first=True),
        [_f(0, 5, 4), _f(0, 6, 4)],
        (0, 5, 4),
    ),
    "TransformerDecoder": (dict(num_layers=2), [_f(5, 0, 4), _f(6, 0, 4)], (5, 0, 4)),
    "Transformer": (
        dict(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8),
        [_f(6, 0, 4), _f(5, 0, 4)],
        (5, 0, 4),
    ),
    "Unfold": (dict(kernel_size=2), [_f(0, 3, 4, 4)], (0, 12, 9)),
    "Fold": (dict(output_size=(3, 3), kernel_size=2), [_f(0, 12, 4)], (0, 3, 3, 3)),
    "Upsample": (dict(scale_factor=2), [_f(0, 3, 2, 2)], (0, 3, 4, 4)),
    "Upsample-bilinear": (dict(size=(3, 5), mode="bilinear"), [_f(0, 3, 2, 2)], (0, 3, 3, 5)),
    "UpsamplingNearest2d": (dict(scale_factor=2), [_f(0, 2, 2, 2)], (0, 2, 4, 4)),
    "UpsamplingBilinear2d": (dict(size=3), [_f(0, 2, 2, 2)], (0, 2, 3, 3)),
    "PixelShuffle": (dict(upscale_factor=2), [_f(0, 4, 2, 2)], (0, 1, 4, 4)),
    "PixelUnshuffle": (dict(downscale_factor=2), [_f(0, 1, 4, 4)], (0, 4, 2, 2)),
    "ReLU": (dict(), [_f(0, 3)], (0, 3)),
    "ReLU6": (dict(), [_f(0, 3)], (0, 3)),
    "Hardtanh": (dict(min_val=-0.5, max_val=2.0), [_f(0, 3)], (0, 3)),
    "Hardsigmoid": (dict(), [_f(0, 3)], (0, 3)),
    "Hardswish": (dict(), [_f(0, 3)], (0, 3)),
    "LogSigmoid": (dict(), [_f(0, 3)], (0, 3)),
    "Softmin": (dict(dim=1), [_f(0, 3)], (0, 3)),
    "GLU": (dict(dim=-1), [_f(0, 4)], (0, 2)),
    "CosineSimilarity": (dict(dim=1), [_f(0, 3), _f(0, 3)], (0,)),
    "PairwiseDistance": (dict(), [_f(0, 3), _f(0, 3)], (0,)),
    "LeakyReLU": (dict(negative_slope=0.2), [_f(0, 3)], (0, 3)),
    "ELU": (dict(), [_f(0, 3)], (0, 3)),
    "GELU": (dict(approximate="tanh"), [_f(0, 3)], (0, 3)),
    "SiLU": (dict(), [_f(0, 3)], (0, 3)),
    "Sigmoid": (dict(), [_f(0, 3)], (0, 3)),
    "Tanh": (dict(), [_f(0, 3)], (0, 3)),
    "Softplus": (dict(), [_f(0, 3)], (0, 3)),
    "Softmax": (dict(dim=1), [_f(0, 3)], (0, 3)),
    "LogSoftmax": (dict(dim=1), [_f(0, 3)], (0, 3)),
    "MSELoss": (dict(), [_f(0, 3), _f(0, 3)], ()),
    "MSELoss-sum": (dict(reduction="sum"), [_f(0, 3), _f(0, 3)], ()),
    "L1Loss": (dict(), [_f(0, 3), _f(0, 3)], ()),
    "SmoothL1Loss": (dict(reduction="none"), [_f(0, 3), _f(0, 3)], (0, 3)),
    "HuberLoss": (dict(reduction="sum"), [_f(0, 3), _f(0, 3)], ()),
    "CrossEntropyLoss": (dict(), [_f(0, 4), _i(0)], ()),
    "CrossEntropyLoss-sum": (dict(reduction="sum", label_smoothing=0.1), [_f(0, 4), _i(0)], ()),
    "NLLLoss": (dict(reduction="none"), [_f(0, 4, 2), _i(0, 2)], (0, 2)),
    "BCELoss": (dict(), [_f(0, 3), _f(0, 3)], ()),
    "BCEWithLogitsLoss": (dict(reduction="sum"), [_f(0, 3), _f(0, 3)], ()),
    "KLDivLoss": (dict(reduction="batchmean"), [_f(0, 3), _f(0, 3)], ()),
    "MarginRankingLoss": (dict(), [_f(0), _f(0), _f(0)], ()),
}

_NOT_LAYERS = {"Module", "RNNBase", "RNNCellBase"}  # bases, not layers one builds

# torch 2.13 gets these empty batches wrong, so they are checked against the shape formula only: PixelShuffle's
# backward returns a gradient of the output's shape (an error), PixelUnshuffle returns its input's shape unchanged
TORCH_WRONG = {"PixelShuffle", "PixelUnshuffle"}


def _class_name(case: str) -> str:
    return case.split("-", maxsplit=1)[0]


def _build(library, case):
    kwargs, _, _ = CASES[case]
    name = _class_name(case)
    if name == "TransformerEncoder":
        layer = library.nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8)
        return library.nn.TransformerEncoder(layer, **kwargs)
    if name == "TransformerDecoder":
        layer = library.nn.TransformerDecoderLayer(d_model=4, nhead=2, dim_feedforward=8)
        return library.nn.TransformerDecoder(layer, **kwargs)
    return getattr(library.nn, name)(**kwargs)


def _run(library, case, tensor):
    """(layer, inputs, first output, its dtype name) with the layer in training mode and a backward done."""
    _, arrays, _ = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Initializing zero-element tensors", "mean of empty slice"
        layer = _build(library, case)
        layer.train()
        inputs = [tensor(a) for a in arrays]
        out = layer(*inputs)
        first = out[0] if isinstance(out, tuple) else out
        first.sum().backward()
    return layer, inputs, first


def _cr_tensor(a):
    return cr.tensor(a, requires_grad=a.dtype.kind == "f")


def _numpy(t):
    data = t._data if isinstance(t, cr.Tensor) else t.detach()
    return np.asarray(data.numpy() if hasattr(data, "numpy") else data)


def test_every_layer_is_covered():
    exported = {
        name
        for name, obj in vars(nn).items()
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and name not in _NOT_LAYERS
    }
    exported -= {"Sequential", "ModuleList", "ModuleDict", "ParameterList"}  # containers: nothing of their own
    covered = {_class_name(c) for c in CASES}
    assert not exported - covered, f"layers without a zero-batch case: {sorted(exported - covered)}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_empty_batch_gives_an_empty_output_and_zero_gradients(case):
    _, arrays, expected = CASES[case]
    layer, inputs, out = _run(cr, case, _cr_tensor)
    assert tuple(out.shape) == expected, f"{case}: output {tuple(out.shape)}, expected {expected}"
    assert out.dtype == cr.float32, f"{case}: float32 in gave {out.dtype}"
    for x, a in zip(inputs, arrays):
        if a.dtype.kind == "f":
            assert x.grad is not None and tuple(x.grad.shape) == a.shape, f"{case}: input gradient {x.grad}"
    for name, p in layer.named_parameters():
        assert p.grad is not None, f"{case}: {name} got no gradient"
        assert p.grad.dtype == p.dtype and not np.any(_numpy(p.grad)), f"{case}: {name} gradient {p.grad}"
    if HAVE_TORCH and _class_name(case) not in TORCH_WRONG:
        import torch  # noqa: PLC0415

        t_layer, _, t_out = _run(torch, case, lambda a: torch.tensor(a, requires_grad=a.dtype.kind == "f"))
        assert tuple(t_out.shape) == tuple(out.shape)
        assert str(t_out.dtype).removeprefix("torch.") == str(out.dtype).removeprefix("chainrule.")
        # the values of losses over nothing: NaN for a mean, 0 for a sum, as torch
        np.testing.assert_array_equal(_numpy(out), _numpy(t_out))
        t_grads = {n: p.grad for n, p in t_layer.named_parameters()}
        for name, p in layer.named_parameters():
            t_grad = t_grads.get(name)
            if t_grad is not None:
                np.testing.assert_array_equal(_numpy(p.grad), _numpy(t_grad), err_msg=f"{case}: {name}")


@pytest.mark.parametrize("case", ["BatchNorm1d", "BatchNorm2d"])
def test_batch_norm_on_an_empty_batch_leaves_running_statistics(case):
    layer, _, _ = _run(cr, case, _cr_tensor)
    np.testing.assert_array_equal(layer.running_mean._data, 0.0)
    np.testing.assert_array_equal(layer.running_var._data, 1.0)
    assert int(layer.num_batches_tracked.item()) == 1  # the batch is counted, as in PyTorch
    layer.eval()
    assert tuple(layer(cr.zeros(0, *CASES[case][1][0].shape[1:])).shape) == CASES[case][1][0].shape


def test_empty_batch_second_order():
    """create_graph through the empty outputs: gradients of gradients are empty or zero, never an error."""
    for case in ("Conv2d", "LSTM", "GRU", "BatchNorm1d", "Linear"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = _build(cr, case)
            x = _cr_tensor(CASES[case][1][0])
            out = layer(x)
            out = out[0] if isinstance(out, tuple) else out
            params = [p for _, p in layer.named_parameters()]
            grads = cr.autograd.grad(out.sum(), [x, *params], create_graph=True, allow_unused=True)
        assert tuple(grads[0].shape) == x.shape
        assert all(g is None or not np.any(g._data) for g in grads[1:])
