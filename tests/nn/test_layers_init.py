"""nn.init and the layers' default initialization: distributions, bounds, seeding, in-place semantics.

Distributions are checked with Kolmogorov-Smirnov tests against the exact
distribution (scipy.stats), at a fixed seed; when torch is importable, the
same draws are also compared with torch's own initializer (two-sample KS).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init
from tests.parity import HAVE_TORCH

P_MIN = 1e-3  # KS p-value below which a distribution is rejected (fixed seeds: no flakiness)


def _ks(sample, dist) -> float:
    return stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), dist.cdf).pvalue


def _fresh(*shape, dtype=cr.float32):
    return cr.empty(*shape, dtype=dtype)


@pytest.fixture(autouse=True)
def _seed():
    cr.manual_seed(1234)


# ------------------------------------------------------------------ fans and gains


def test_fans_follow_pytorch_convention():
    assert init._calculate_fan_in_and_fan_out(_fresh(7, 3)) == (3, 7)
    assert init._calculate_fan_in_and_fan_out(_fresh(8, 4, 3, 2)) == (4 * 3 * 2, 8 * 3 * 2)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_fresh(5))
    assert init._calculate_correct_fan(_fresh(8, 4, 3), "fan_out") == 24
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init._calculate_correct_fan(_fresh(8, 4), "fan_sideways")


def test_calculate_gain_formulas():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "sigmoid"):
        assert init.calculate_gain(name) == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    for slope in (None, 0.2, 1, math.sqrt(5)):
        s = 0.01 if slope is None else slope
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(math.sqrt(2 / (1 + s * s)))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_calculate_gain_matches_torch():
    import torch

    for name, param in [
        ("linear", None),
        ("tanh", None),
        ("relu", None),
        ("selu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.3),
        ("sigmoid", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


# ------------------------------------------------------------------ distributions


def test_uniform_and_normal():
    t = init.uniform_(_fresh(200, 100), -0.5, 2.0)
    assert t.numpy().min() >= -0.5 and t.numpy().max() < 2.0
    assert _ks(t.numpy(), stats.uniform(-0.5, 2.5)) > P_MIN
    t = init.normal_(_fresh(200, 100), 1.5, 0.3)
    assert _ks(t.numpy(), stats.norm(1.5, 0.3)) > P_MIN


def test_constant_ones_zeros_eye():
    assert np.all(init.constant_(_fresh(3, 4), 2.5).numpy() == 2.5)
    assert np.all(init.ones_(_fresh(3)).numpy() == 1)
    assert np.all(init.zeros_(_fresh(3, 2)).numpy() == 0)
    np.testing.assert_array_equal(init.eye_(_fresh(3, 4)).numpy(), np.eye(3, 4))
    with pytest.raises(ValueError):
        init.eye_(_fresh(2, 2, 2))


def test_dirac_keeps_the_input_of_a_convolution():
    w = init.dirac_(_fresh(4, 2, 3, 3), groups=2)
    values = w.numpy()
    assert values.sum() == 4  # one 1 per output channel
    for out_channel in range(4):
        in_channel = out_channel % 2
        assert values[out_channel, in_channel, 1, 1] == 1


def test_xavier():
    t = init.xavier_uniform_(_fresh(300, 200), gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(t.numpy()).max() <= bound
    assert _ks(t.numpy(), stats.uniform(-bound, 2 * bound)) > P_MIN
    t = init.xavier_normal_(_fresh(300, 200, 2), gain=0.5)
    std = 0.5 * math.sqrt(2 / (200 * 2 + 300 * 2))
    assert _ks(t.numpy(), stats.norm(0, std)) > P_MIN


def test_kaiming():
    t = init.kaiming_uniform_(_fresh(300, 150), a=0.2)
    bound = math.sqrt(2 / (1 + 0.04)) * math.sqrt(3 / 150)
    assert np.abs(t.numpy()).max() <= bound
    assert _ks(t.numpy(), stats.uniform(-bound, 2 * bound)) > P_MIN
    t = init.kaiming_normal_(_fresh(120, 50, 3), mode="fan_out", nonlinearity="relu")
    assert _ks(t.numpy(), stats.norm(0, math.sqrt(2) / math.sqrt(120 * 3))) > P_MIN


@pytest.mark.parametrize(("mean", "std", "a", "b"), [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 0.6), (0.0, 1.0, 1.5, 4.0)])
def test_trunc_normal(mean, std, a, b):
    t = init.trunc_normal_(_fresh(200, 100, dtype=cr.float64), mean, std, a, b)
    values = t.numpy()
    assert values.min() >= a and values.max() <= b
    assert _ks(values, stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)) > P_MIN


def test_trunc_normal_warns_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(_fresh(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (4, 2, 3)])
def test_orthogonal(shape):
    gain = 1.7
    t = init.orthogonal_(_fresh(*shape, dtype=cr.float64), gain=gain)
    flat = t.numpy().reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)
    with pytest.raises(ValueError):
        init.orthogonal_(_fresh(5))


def test_orthogonal_is_uniformly_distributed():
    """Entries of a Haar-random orthogonal n x n matrix times sqrt(n) are close to N(0, 1) (sign-fixed QR)."""
    n = 200
    t = init.orthogonal_(_fresh(n, n, dtype=cr.float64))
    assert _ks(t.numpy()[:, 0] * math.sqrt(n), stats.norm()) > P_MIN
    # the diagonal of a Haar matrix has mean 0 and variance 1/n; without the sign fix by diag(R),
    # LAPACK's QR leaves it biased (about -0.03 at n = 200, more than 6 standard errors)
    assert abs(np.diag(t.numpy()).mean()) < 4 / n


def test_sparse():
    t = init.sparse_(_fresh(10, 300), sparsity=0.3, std=0.5)
    zeros_per_column = (t.numpy() == 0).sum(axis=0)
    assert np.all(zeros_per_column == 3)
    nonzero = t.numpy()[t.numpy() != 0]
    assert _ks(nonzero, stats.norm(0, 0.5)) > P_MIN


# ------------------------------------------------------------------ semantics


def test_in_place_without_history_and_version_bump():
    p = nn.Parameter(cr.zeros(4, 3))
    before = p._version[0] if p._version is not None else 0
    out = init.kaiming_uniform_(p, a=math.sqrt(5))
    assert out is p
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p._version[0] == before + 1
    assert np.any(p.numpy() != 0)


def test_init_of_a_saved_tensor_makes_backward_fail():
    w = nn.Parameter(cr.ones(3))
    y = (w * w).sum()
    init.normal_(w)
    with pytest.raises(cr.GradientError):
        y.backward()


def test_seeded_reproducibility():
    cr.manual_seed(7)
    a = init.normal_(_fresh(5, 5)).numpy().copy()
    cr.manual_seed(7)
    b = init.normal_(_fresh(5, 5)).numpy().copy()
    c = init.normal_(_fresh(5, 5)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_explicit_generator_is_used_and_leaves_the_default_alone():
    state = cr.get_rng_state()
    a = init.xavier_uniform_(_fresh(4, 6), generator=cr.Generator(seed=3)).numpy().copy()
    b = init.xavier_uniform_(_fresh(4, 6), generator=cr.Generator(seed=3)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert cr.get_rng_state() == state
    for fn in (
        init.uniform_,
        init.normal_,
        init.trunc_normal_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
        init.orthogonal_,
    ):
        x = fn(_fresh(3, 4), generator=cr.Generator(seed=5)).numpy().copy()
        y = fn(_fresh(3, 4), generator=cr.Generator(seed=5)).numpy().copy()
        np.testing.assert_array_equal(x, y, err_msg=fn.__name__)
    assert cr.get_rng_state() == state


def test_dtype_is_kept():
    for dtype in (cr.float32, cr.float64):
        assert init.normal_(_fresh(3, 2, dtype=dtype)).dtype == dtype
        assert init.trunc_normal_(_fresh(3, 2, dtype=dtype)).dtype == dtype
        assert init.orthogonal_(_fresh(3, 2, dtype=dtype)).dtype == dtype


def test_zero_element_tensor_is_a_no_op_with_a_warning():
    with pytest.warns(UserWarning, match="zero-element"):
        init.normal_(_fresh(0, 3))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_fresh(0, 3))


def test_integer_tensor_is_refused():
    with pytest.raises(TypeError, match="floating point"):
        init.normal_(cr.zeros(3, dtype=cr.int64))


# ------------------------------------------------------------------ layer defaults


def test_linear_default_init():
    fan_in = 400
    layer = nn.Linear(fan_in, 300)
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert _ks(w, stats.uniform(-bound, 2 * bound)) > P_MIN
    assert _ks(b, stats.uniform(-bound, 2 * bound)) > P_MIN
    assert nn.Linear(3, 2, bias=False).bias is None


def test_embedding_default_init():
    emb = nn.Embedding(500, 40, padding_idx=3)
    w = emb.weight.numpy()
    assert np.all(w[3] == 0)
    assert _ks(np.delete(w, 3, axis=0), stats.norm()) > P_MIN


def test_norm_layers_default_init():
    for layer in (nn.BatchNorm2d(5), nn.LayerNorm(5), nn.GroupNorm(1, 5)):
        assert np.all(layer.weight.numpy() == 1) and np.all(layer.bias.numpy() == 0)
    bn = nn.BatchNorm1d(5)
    assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    assert bn.num_batches_tracked.dtype == cr.int64 and bn.num_batches_tracked.item() == 0


def test_layers_are_reproducible_under_a_seed():
    cr.manual_seed(11)
    a = [p.numpy().copy() for p in nn.Sequential(nn.Linear(4, 3), nn.Embedding(6, 2)).parameters()]
    cr.manual_seed(11)
    b = [p.numpy().copy() for p in nn.Sequential(nn.Linear(4, 3), nn.Embedding(6, 2)).parameters()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_default_init_distributions_match_torch():
    import torch

    torch.manual_seed(0)
    pairs = [
        (nn.Linear(300, 200).weight, torch.nn.Linear(300, 200).weight),
        (nn.Linear(300, 400).bias, torch.nn.Linear(300, 400).bias),
        (nn.Embedding(300, 100).weight, torch.nn.Embedding(300, 100).weight),
        (init.kaiming_normal_(_fresh(200, 100), a=0.1), torch.nn.init.kaiming_normal_(torch.empty(200, 100), a=0.1)),
        (init.xavier_uniform_(_fresh(200, 100)), torch.nn.init.xavier_uniform_(torch.empty(200, 100))),
        (init.trunc_normal_(_fresh(200, 100), std=0.5), torch.nn.init.trunc_normal_(torch.empty(200, 100), std=0.5)),
        (init.orthogonal_(_fresh(100, 150)), torch.nn.init.orthogonal_(torch.empty(100, 150))),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs in pairs:
            p = stats.ks_2samp(ours.numpy().ravel(), theirs.detach().numpy().ravel()).pvalue
            assert p > P_MIN, f"distributions differ (KS p={p:.2g}), shape {ours.shape}"
