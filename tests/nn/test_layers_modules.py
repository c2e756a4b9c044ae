"""Layer behaviour beyond the numbers: shape errors, repr, state, modes, dtypes, PyTorch's argument names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from tests.parity import HAVE_TORCH

# ------------------------------------------------------------------ errors name the layer and both shapes


@pytest.mark.parametrize(
    ("layer", "x", "words"),
    [
        (lambda: nn.Linear(5, 3), (2, 4), ["Linear", "(*, 5)", "(2, 4)"]),
        (lambda: nn.Linear(5, 3), (), ["Linear", "(*, 5)", "()"]),
        (lambda: nn.BatchNorm2d(3), (2, 3, 4), ["BatchNorm2d", "4-D", "(2, 3, 4)"]),
        (lambda: nn.BatchNorm2d(3), (2, 4, 5, 5), ["BatchNorm2d", "3 channels", "(2, 4, 5, 5)"]),
        (lambda: nn.BatchNorm1d(3), (2, 3, 4, 5), ["BatchNorm1d", "(N, C)", "(2, 3, 4, 5)"]),
        (lambda: nn.BatchNorm3d(3), (2, 3, 4, 5), ["BatchNorm3d", "5-D", "(2, 3, 4, 5)"]),
        (lambda: nn.LayerNorm((4, 5)), (2, 5, 4), ["LayerNorm", "(*, 4, 5)", "(2, 5, 4)"]),
        (lambda: nn.LayerNorm(4), (), ["LayerNorm", "(*, 4)"]),
        (lambda: nn.GroupNorm(2, 4), (2, 6, 3), ["GroupNorm", "(N, 4, *)", "(2, 6, 3)"]),
        (lambda: nn.Unflatten(1, (2, 4)), (3, 6), ["Unflatten", "(2, 4)", "(3, 6)"]),
    ],
)
def test_wrong_shapes_raise_shape_error(layer, x, words):
    with pytest.raises(cr.ShapeError) as info:
        layer()(cr.randn(*x))
    for w in words:
        assert w in str(info.value), f"{w!r} missing from: {info.value}"


def test_functional_shape_errors():
    x = cr.randn(2, 3)
    with pytest.raises(cr.ShapeError, match=r"weight must be 2-D"):
        F.linear(x, cr.randn(3))
    with pytest.raises(cr.ShapeError, match=r"expected input of shape \(\*, 4\)"):
        F.linear(x, cr.randn(5, 4))
    with pytest.raises(cr.ShapeError, match=r"bias must have shape \(5,\)"):
        F.linear(x, cr.randn(5, 3), cr.randn(4))
    with pytest.raises(cr.ShapeError, match="normalized_shape"):
        F.layer_norm(x, (4,))
    with pytest.raises(cr.ShapeError, match="weight must have shape"):
        F.layer_norm(x, (3,), cr.ones(4))
    with pytest.raises(cr.ShapeError, match="cannot be split into 2 groups"):
        F.group_norm(x, 2)
    with pytest.raises(cr.ShapeError, match="running_mean must have shape"):
        F.batch_norm(x, cr.zeros(2), cr.ones(3))
    with pytest.raises(ValueError, match="must be given when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Linear(3, 2)(np.ones((2, 3), dtype=np.float32))


def test_batch_norm_needs_more_than_one_value_per_channel_in_training():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(cr.ShapeError, match="more than 1 value per channel"):
        bn(cr.randn(1, 3))
    bn.eval()
    assert bn(cr.randn(1, 3)).shape == (1, 3)  # eval mode uses running statistics: fine


def test_dtype_mismatch_is_an_error_not_a_silent_upcast():
    with pytest.raises(cr.DTypeError, match="float64"):
        nn.Linear(3, 2)(cr.randn(4, 3, dtype=cr.float64))
    with pytest.raises(cr.DTypeError):
        nn.LayerNorm(3)(cr.randn(4, 3, dtype=cr.float64))
    with pytest.raises(cr.DTypeError):
        F.linear(cr.randn(2, 3), cr.randn(4, 3, dtype=cr.float64))


def test_embedding_index_errors():
    emb = nn.Embedding(5, 2)
    with pytest.raises(cr.IndexingError, match="index 5 is out of range"):
        emb(cr.tensor([0, 5]))
    with pytest.raises(cr.IndexingError, match="index -1 is out of range"):
        emb(cr.tensor([-1, 2]))
    with pytest.raises(cr.DTypeError, match="integer"):
        emb(cr.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


# ------------------------------------------------------------------ repr and state


def _reprs():
    return [
        ("Linear(3, 4)", "Linear(in_features=3, out_features=4, bias=True)"),
        ("Linear(3, 4, bias=False)", "Linear(in_features=3, out_features=4, bias=False)"),
        ("Identity()", "Identity()"),
        ("Flatten()", "Flatten(start_dim=1, end_dim=-1)"),
        ("Unflatten(1, (2, 3))", "Unflatten(dim=1, unflattened_size=(2, 3))"),
        ("ReLU()", "ReLU()"),
        ("ReLU(inplace=True)", "ReLU(inplace=True)"),
        ("LeakyReLU(0.2)", "LeakyReLU(negative_slope=0.2)"),
        ("ELU(alpha=0.5)", "ELU(alpha=0.5)"),
        ("GELU(approximate='tanh')", "GELU(approximate='tanh')"),
        ("SiLU()", "SiLU()"),
        ("Sigmoid()", "Sigmoid()"),
        ("Tanh()", "Tanh()"),
        ("Softmax(dim=1)", "Softmax(dim=1)"),
        ("LogSoftmax(dim=-1)", "LogSoftmax(dim=-1)"),
        ("Softplus(beta=2.0, threshold=5.0)", "Softplus(beta=2.0, threshold=5.0)"),
        ("Dropout(0.3)", "Dropout(p=0.3, inplace=False)"),
        ("Dropout2d()", "Dropout2d(p=0.5, inplace=False)"),
        ("BatchNorm1d(4)", "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"),
        (
            "BatchNorm2d(4, momentum=None, affine=False)",
            "BatchNorm2d(4, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)",
        ),
        (
            "BatchNorm3d(2, bias=False)",
            "BatchNorm3d(2, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)",
        ),
        ("LayerNorm(4)", "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
        ("LayerNorm((2, 3), bias=False)", "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True, bias=False)"),
        ("GroupNorm(2, 4)", "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
        ("GroupNorm(2, 4, bias=False)", "GroupNorm(2, 4, eps=1e-05, affine=True, bias=False)"),
        ("Embedding(10, 3, padding_idx=0)", "Embedding(10, 3, padding_idx=0)"),
        ("Embedding(10, 3, max_norm=1.0)", "Embedding(10, 3, max_norm=1.0)"),
    ]


@pytest.mark.parametrize(("expr", "expected"), _reprs())
def test_repr(expr, expected):
    assert repr(eval(f"nn.{expr}", {"nn": nn})) == expected


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize(("expr", "expected"), _reprs())
def test_repr_matches_torch(expr, expected):
    import torch

    assert repr(eval(f"nn.{expr}", {"nn": nn})) == repr(eval(f"nn.{expr}", {"nn": torch.nn}))


def test_batch_norm_state_dict_and_buffers():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    plain = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert list(plain.state_dict()) == [] and list(plain.parameters()) == []
    assert plain.running_mean is None and plain.num_batches_tracked is None


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_state_dict_from_torch_loads_and_gives_the_same_output():
    import torch

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.LayerNorm(6),
        torch.nn.GroupNorm(2, 6),
        torch.nn.Embedding(6, 3),
    )
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.LayerNorm(6), nn.GroupNorm(2, 6), nn.Embedding(6, 3))
    theirs[1].train()(torch.randn(8, 4) @ torch.randn(4, 6))  # move the running statistics
    state = {k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    ours.load_state_dict(state)
    theirs.eval()
    ours.eval()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    want = theirs[:4](torch.tensor(x)).detach().numpy()
    got = ours[:4](cr.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert ours[1].num_batches_tracked.item() == 1


# ------------------------------------------------------------------ batch norm modes


def _x(*shape, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 2 + 1)


def test_batch_norm_running_statistics_follow_momentum():
    bn = nn.BatchNorm1d(3, momentum=0.25)
    x = _x(8, 3, 5)
    bn(x)
    data = x.numpy().transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.25 * data.mean(1), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.75 + 0.25 * data.var(1, ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [_x(6, 2, seed=s) for s in range(4)]
    for b in batches:
        bn(b)
    means = [b.numpy().mean(0) for b in batches]
    variances = [b.numpy().var(0, ddof=1) for b in batches]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, 0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean(variances, 0), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 4


def test_batch_norm_eval_uses_running_statistics_and_does_not_update_them():
    bn = nn.BatchNorm2d(2)
    with cr.no_grad():
        bn.running_mean.copy_(cr.tensor([0.5, -1.0]))
        bn.running_var.copy_(cr.tensor([4.0, 0.25]))
        bn.weight.copy_(cr.tensor([2.0, 3.0]))
        bn.bias.copy_(cr.tensor([0.1, 0.2]))
    bn.eval()
    x = _x(3, 2, 2, 2)
    y = bn(x).numpy()
    rm, rv = np.array([0.5, -1.0]), np.array([4.0, 0.25])
    expected = (x.numpy() - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5) * np.array([2.0, 3.0])[
        :, None, None
    ] + np.array([0.1, 0.2])[:, None, None]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm.astype(np.float32))
    assert bn.num_batches_tracked.item() == 0


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False).eval()
    y = bn(_x(10, 3)).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1, rtol=1e-3)


def test_reset_running_stats():
    bn = nn.BatchNorm1d(3)
    bn(_x(4, 3))
    bn.reset_running_stats()
    assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    assert bn.num_batches_tracked.item() == 0


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize(
    "factory",
    [
        lambda d: nn.Linear(3, 4, dtype=d),
        lambda d: nn.BatchNorm1d(3, dtype=d),
        lambda d: nn.LayerNorm(3, dtype=d),
        lambda d: nn.GroupNorm(1, 3, dtype=d),
        lambda d: nn.Embedding(5, 3, dtype=d),
    ],
)
def test_dtype_argument_and_double(factory):
    for dtype in (cr.float32, cr.float64):
        layer = factory(dtype)
        assert all(p.dtype == dtype for p in layer.parameters())
        x = cr.tensor([[0, 1, 4]]) if isinstance(layer, nn.Embedding) else _x(2, 3).to(dtype)
        assert layer(x).dtype == dtype
    layer = factory(None).double()
    assert all(p.dtype == cr.float64 for p in layer.parameters())


def test_float32_stays_float32_for_every_layer():
    layers = [
        nn.Linear(3, 3),
        nn.ReLU(),
        nn.LeakyReLU(),
        nn.ELU(),
        nn.GELU(),
        nn.GELU("tanh"),
        nn.SiLU(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Softmax(-1),
        nn.LogSoftmax(-1),
        nn.Softplus(),
        nn.Dropout(),
        nn.BatchNorm1d(3),
        nn.LayerNorm(3),
        nn.GroupNorm(3, 3),
        nn.Identity(),
        nn.Flatten(),
    ]
    for mode in (True, False):
        for layer in layers:
            layer.train(mode)
            x = cr.randn(4, 3, requires_grad=True)
            y = layer(x)
            assert y.dtype == cr.float32, f"{layer}: {y.dtype}"
            y.sum().backward()
            assert x.grad.dtype == cr.float32, f"{layer}: grad {x.grad.dtype}"
            for p in layer.parameters():
                assert p.grad.dtype == cr.float32
                p.grad = None


# ------------------------------------------------------------------ activations' arguments


def test_inplace_activation_flags_are_accepted_and_compute_out_of_place():
    x = cr.tensor([-1.0, 2.0])
    for layer in (nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ELU(inplace=True), nn.SiLU(True)):
        y = layer(x)
        assert y is not x
        np.testing.assert_array_equal(x.numpy(), [-1.0, 2.0])
    assert F.relu(x, inplace=True).numpy().tolist() == [0.0, 2.0]


def test_softmax_without_dim_uses_the_legacy_choice_with_a_warning():
    x = cr.randn(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        y = nn.Softmax()(x)
    np.testing.assert_allclose(y.numpy().sum(0), 1, rtol=1e-6)  # 3-d: dim 0, as PyTorch
    with pytest.warns(UserWarning):
        y = F.log_softmax(cr.randn(2, 3))
    np.testing.assert_allclose(np.exp(y.numpy()).sum(1), 1, rtol=1e-6)  # 2-d: dim 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax(dim=1)(x)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("sigmoid")


# ------------------------------------------------------------------ embedding extras


def test_embedding_from_pretrained():
    table = cr.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(cr.tensor([3, 1])).numpy(), table.numpy()[[3, 1]])
    emb.weight._data[0, 0] = 100.0
    assert table.numpy()[0, 0] == 100.0  # the weight shares the given tensor's memory, as in PyTorch
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1


def test_embedding_max_norm_renormalizes_only_looked_up_rows():
    emb = nn.Embedding(4, 2, max_norm=1.0)
    with cr.no_grad():
        emb.weight.copy_(cr.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 0.0]]))
    out = emb(cr.tensor([0, 1, 0]))
    norms = np.linalg.norm(emb.weight.numpy(), axis=1)
    np.testing.assert_allclose(norms[:2], [1.0, 0.5], rtol=1e-5)
    assert norms[2] == pytest.approx(10.0)  # not looked up: untouched
    np.testing.assert_allclose(out.numpy()[0], [0.6, 0.8], rtol=1e-5)


def test_one_hot():
    y = F.one_hot(cr.tensor([[0, 2], [1, 2]]))
    assert y.dtype == cr.int64 and y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.numpy().argmax(-1), [[0, 2], [1, 2]])
    assert F.one_hot(cr.tensor([1]), num_classes=4).shape == (1, 4)
    with pytest.raises(cr.IndexingError):
        F.one_hot(cr.tensor([4]), num_classes=3)


def test_linear_on_higher_rank_and_non_contiguous_input():
    layer = nn.Linear(4, 3)
    base = cr.randn(2, 4, 5)
    x = base.transpose(1, 2)  # (2, 5, 4), not contiguous
    y = layer(x)
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ functional forms with every parameter combination


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
def test_functional_norms_match_torch_for_each_parameter_combination(use_weight, use_bias):
    import torch

    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w6, b6 = (rng.standard_normal(6).astype(np.float32) for _ in range(2))
    w3, b3 = (rng.standard_normal(3).astype(np.float32) for _ in range(2))
    rm, rv = rng.standard_normal(6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)

    def calls(lib, fn):
        def opt(a):
            return lib.tensor(a, requires_grad=True) if a is not None else None

        cases = {
            "layer_norm": lambda t: fn.layer_norm(
                t, (3,), opt(w3 if use_weight else None), opt(b3 if use_bias else None)
            ),
            "group_norm": lambda t: fn.group_norm(t, 3, opt(w6 if use_weight else None), opt(b6 if use_bias else None)),
            "batch_norm_train": lambda t: fn.batch_norm(
                t,
                lib.tensor(rm),
                lib.tensor(rv),
                opt(w6 if use_weight else None),
                opt(b6 if use_bias else None),
                training=True,
                momentum=0.2,
            ),
            "batch_norm_eval": lambda t: fn.batch_norm(
                t,
                lib.tensor(rm),
                lib.tensor(rv),
                opt(w6 if use_weight else None),
                opt(b6 if use_bias else None),
            ),
        }
        if use_bias and not use_weight:
            # torch 2.13's group_norm backward fails with a bias and no weight ("tensor does not have a
            # device"); ours is gradchecked in tests/ops (spec group_norm*) instead
            del cases["group_norm"]
        results = {}
        for name, call in cases.items():
            t = lib.tensor(x, requires_grad=True)
            y = call(t)
            y.backward(lib.tensor(g))
            results[name] = (y.detach().numpy(), t.grad.numpy())
        return results

    ours, theirs = calls(cr, F), calls(torch, torch.nn.functional)
    for name in ours:
        for a, b, what in zip(ours[name], theirs[name], ("output", "input grad")):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5, err_msg=f"{name} {what}")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_functional_embedding_options_match_torch():
    import torch

    rng = np.random.default_rng(6)
    table = rng.standard_normal((7, 3)).astype(np.float32) * 2
    idx = rng.integers(0, 7, (4, 5))
    g = rng.standard_normal((4, 5, 3)).astype(np.float32)
    for kwargs in (dict(max_norm=1.5, norm_type=1.0), dict(padding_idx=3, scale_grad_by_freq=True), dict()):
        results = []
        for lib, fn in ((cr, F), (torch, torch.nn.functional)):
            w = lib.tensor(table.copy(), requires_grad=True)
            y = fn.embedding(lib.tensor(idx), w, **kwargs)
            y.backward(lib.tensor(g))
            results.append((y.detach().numpy(), w.grad.numpy(), w.detach().numpy()))
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=str(kwargs))


@pytest.mark.parametrize("shape", [(4, 16, 5, 6), (3, 8, 7), (8, 16, 16, 16)])  # the last: two tilings differ
def test_batch_norm_on_channels_last_memory_matches_the_contiguous_path(shape):
    """Convolutions hand batch norm channels-last memory; that fast path must agree with the general one."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal(shape).astype(np.float64)
    order = (0, *range(2, len(shape)), 1)
    channels_last = np.moveaxis(np.ascontiguousarray(np.transpose(data, order)), -1, 1)
    assert not channels_last.flags.c_contiguous
    weight = rng.standard_normal(shape[1])
    results = []
    for arr in (np.ascontiguousarray(data), channels_last):
        cr.manual_seed(0)
        bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], dtype=cr.float64)
        with cr.no_grad():
            bn.weight.copy_(cr.tensor(weight))
        x = cr.from_numpy(arr).requires_grad_()
        g = cr.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape) % 7)
        out = bn(x)
        out.backward(g)
        results.append(
            (
                out.numpy().copy(),
                x.grad.numpy(),
                bn.weight.grad.numpy(),
                bn.bias.grad.numpy(),
                bn.running_var.numpy().copy(),
            )
        )
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
