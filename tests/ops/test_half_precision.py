"""Half precision: every reduction, normalization and loss over more than 65504 elements.

float16's largest finite value is 65504, so anything that holds an element
count, a running sum or a sum of squares in float16 breaks somewhere past it:
a mean's gradient ``g / count`` became 0, a variance inf, a softmax over
70,000 equal logits 0, a strided float16 sum stopped growing at 2048.
PyTorch accumulates these in float32 and returns float16; so does chainrule.

Each case runs on hypothesis-drawn sizes either side of 65504 and is checked
three ways: float16 in gives float16 out (value and gradient); the value and
gradient match chainrule's float64 result on the same (float16-rounded)
numbers; and, where torch is installed, they match torch's float16 result
wherever torch's own is accurate (on some cases, e.g. cross-entropy over
70,000 rows, torch's float16 loss is NaN and only the float64 check applies).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F

HAVE_TORCH = importlib.util.find_spec("torch") is not None
# torch warns about kl_div's "mean" on every call; the comparison is the point here
pytestmark = pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FLOAT16_MAX = 65504
# sizes on both sides of float16's largest value, the bug's threshold
sizes = st.one_of(st.integers(1000, 4000), st.integers(FLOAT16_MAX - 8, FLOAT16_MAX + 8), st.integers(65600, 140000))
RTOL = 4e-3  # float16 keeps 11 significant bits: one rounding is 4.9e-4, a few more stay well below this
SUBNORMAL = 2.0**-24  # float16's spacing below 6.1e-5, where the relative error of one rounding grows


def _torch():
    import torch  # noqa: PLC0415

    return torch


# ---------------------------------------------------------------------------
# the cases: name -> (inputs(rng, n) -> list of float arrays, fn(lib, *tensors), n-independent constants)
# ``lib`` is a small namespace so one function serves chainrule and torch.


class _CR:
    F = F

    @staticmethod
    def tensor(a, dtype):
        return cr.tensor(a.astype(dtype))

    @staticmethod
    def ints(a):
        return cr.tensor(a)


class _Torch:
    @property
    def F(self):  # noqa: N802 - mirrors the module name
        return _torch().nn.functional

    @staticmethod
    def tensor(a, dtype):
        return _torch().tensor(a.astype(dtype))

    @staticmethod
    def ints(a):
        return _torch().tensor(a)


def _normal(scale=1.0, loc=0.0, cols=None):
    def make(rng, n):
        shape = (n,) if cols is None else (n, cols)
        return [rng.normal(loc, scale, shape)]

    return make


def _pair(first, second):
    def make(rng, n):
        return first(rng, n) + second(rng, n)

    return make


def _probs(rng, n):
    return [rng.uniform(0.02, 0.98, n)]


def _bits(rng, n):
    return [(rng.random(n) > 0.5).astype(np.float64)]


def _log_probs(rng, n):
    return [-rng.uniform(0.1, 3.0, n)]


def _targets(rng, n, classes=4):
    return rng.integers(0, classes, n)


REDUCTIONS = {
    # strided (axis 0) float16 sums were added in float16 and stalled; the values keep the total below 65504
    "sum_axis0": (lambda rng, n: [rng.uniform(0.0, 0.4, (n, 2))], lambda lib, x: x.sum(0)),
    "sum_all": (lambda rng, n: [rng.uniform(0.0, 0.4, n)], lambda lib, x: x.sum()),
    "mean": (_normal(0.5, 1.0), lambda lib, x: x.mean()),
    "mean_axis0": (_normal(0.5, 1.0, cols=2), lambda lib, x: x.mean(0)),
    "mean_keepdim": (_normal(0.5, 1.0, cols=2), lambda lib, x: x.mean(0, keepdim=True)),
    "var": (_normal(), lambda lib, x: x.var()),
    "var_axis0": (_normal(cols=2), lambda lib, x: x.var(0)),
    "var_biased": (_normal(), lambda lib, x: x.var(unbiased=False)),
    "std": (_normal(), lambda lib, x: x.std()),
    "std_axis0": (_normal(cols=2), lambda lib, x: x.std(0)),
    "norm": (_normal(), lambda lib, x: x.norm()),
    "norm_axis0": (_normal(cols=2), lambda lib, x: x.norm(dim=0)),
    "norm_p1": (_normal(0.1), lambda lib, x: x.norm(p=1)),
    "norm_p3": (_normal(), lambda lib, x: x.norm(p=3)),
    "logsumexp": (_normal(0.1), lambda lib, x: x.logsumexp(0)),
    "logsumexp_axis0": (_normal(0.1, cols=2), lambda lib, x: x.logsumexp(0)),
    "cumsum": (lambda rng, n: [rng.uniform(0.0, 0.01, n)], lambda lib, x: x.cumsum(0)),
    "prod": (lambda rng, n: [np.exp(rng.normal(0.0, 0.002, n))], lambda lib, x: x.prod()),
    "amax": (_normal(), lambda lib, x: x.amax(0)),
    "amin_axis0": (_normal(cols=2), lambda lib, x: x.amin(0)),
    "max_dim": (_normal(cols=2), lambda lib, x: x.max(0)[0]),
    "min_all": (_normal(), lambda lib, x: x.min()),
    "softmax": (_normal(0.1), lambda lib, x: lib.F.softmax(x, 0)),
    "softmax_axis0": (_normal(0.1, cols=2), lambda lib, x: lib.F.softmax(x, 0)),
    "log_softmax": (_normal(0.1), lambda lib, x: lib.F.log_softmax(x, 0)),
    "layer_norm": (lambda rng, n: [rng.normal(0, 1, (2, n))], lambda lib, x: lib.F.layer_norm(x, (x.shape[1],))),
    "group_norm": (lambda rng, n: [rng.normal(0, 1, (2, 2, n // 2))], lambda lib, x: lib.F.group_norm(x, 1)),
    "batch_norm": (_normal(cols=2), lambda lib, x: lib.F.batch_norm(x, None, None, training=True)),
}

LOSSES = {
    "mse_loss": (_pair(_normal(), _normal()), lambda lib, x, t: lib.F.mse_loss(x, t)),
    "mse_loss_sum": (_pair(_normal(0.1), _normal(0.1)), lambda lib, x, t: lib.F.mse_loss(x, t, reduction="sum")),
    "mse_loss_none": (_pair(_normal(), _normal()), lambda lib, x, t: lib.F.mse_loss(x, t, reduction="none")),
    "l1_loss": (_pair(_normal(), _normal()), lambda lib, x, t: lib.F.l1_loss(x, t)),
    "smooth_l1_loss": (_pair(_normal(), _normal()), lambda lib, x, t: lib.F.smooth_l1_loss(x, t, beta=0.5)),
    "huber_loss": (_pair(_normal(), _normal()), lambda lib, x, t: lib.F.huber_loss(x, t, delta=0.7)),
    "binary_cross_entropy": (_pair(_probs, _bits), lambda lib, x, t: lib.F.binary_cross_entropy(x, t)),
    "bce_with_logits": (_pair(_normal(), _bits), lambda lib, x, t: lib.F.binary_cross_entropy_with_logits(x, t)),
    "kl_div": (_pair(_log_probs, _probs), lambda lib, x, t: lib.F.kl_div(x, t, reduction="mean")),
    "kl_div_batchmean": (_pair(_log_probs, _probs), lambda lib, x, t: lib.F.kl_div(x, t, reduction="batchmean")),
    "kl_div_log_target": (
        _pair(_log_probs, _log_probs),
        lambda lib, x, t: lib.F.kl_div(x, t, reduction="mean", log_target=True),
    ),
    "margin_ranking_loss": (
        lambda rng, n: [rng.normal(0, 1, n), rng.normal(0, 1, n), np.sign(rng.normal(0, 1, n))],
        lambda lib, a, b, t: lib.F.margin_ranking_loss(a, b, t, margin=0.1),
    ),
    "cross_entropy_probs": (
        lambda rng, n: [rng.normal(0, 1, (n, 4)), np.full((n, 4), 0.25)],
        lambda lib, x, t: lib.F.cross_entropy(x, t),
    ),
}

# class-index losses: the integer target is drawn with the input and is not a float tensor
INDEX_LOSSES = {
    "cross_entropy": lambda lib, x, t: lib.F.cross_entropy(x, t),
    "cross_entropy_smoothing": lambda lib, x, t: lib.F.cross_entropy(x, t, label_smoothing=0.1),
    "cross_entropy_ignore": lambda lib, x, t: lib.F.cross_entropy(x, t, ignore_index=0),
    "cross_entropy_sum": lambda lib, x, t: lib.F.cross_entropy(x, t, reduction="sum"),  # inf past ~47,000 rows
    "nll_loss": lambda lib, x, t: lib.F.nll_loss(lib.F.log_softmax(x, 1), t),
    "nll_loss_spatial": lambda lib, x, t: lib.F.nll_loss(
        lib.F.log_softmax(x.reshape(x.shape[0] // 2, 2, 4).transpose(1, 2), 1), t.reshape(-1, 2)
    ),
}


def _run(lib, fn, arrays, dtype, extra=(), upstream=None):
    """(output, gradients of every float input) with ``upstream`` as the output's gradient."""
    tensors = [lib.tensor(a, dtype) for a in arrays]
    for t in tensors:
        t.requires_grad_(True)
    out = fn(lib, *tensors, *extra)
    w = np.ones(out.shape) if upstream is None else upstream
    out.backward(lib.tensor(w, dtype))
    return _numpy(out), [_numpy(t.grad) for t in tensors]


def _numpy(t):
    data = t._data if isinstance(t, cr.Tensor) else t.detach().float()
    return np.asarray(data.numpy() if hasattr(data, "numpy") else data, dtype=np.float64)


def _dtypes(fn, arrays, extra=()):
    tensors = [cr.tensor(a.astype(np.float16), requires_grad=True) for a in arrays]
    out = fn(_CR, *tensors, *extra)
    out.backward(cr.tensor(np.ones(out.shape, np.float16)))
    return out.dtype, [t.grad.dtype for t in tensors]


def _close(actual, expected, what, scale_floor=0.0, rtol=RTOL, ulps=1):
    """|actual - expected| <= rtol * (|expected| + 1% of the largest |expected|) + ``ulps`` subnormal spacings.

    Values whose float64 result is beyond float16's range are not compared
    (they are inf in PyTorch's float16 too).
    """
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    finite = np.isfinite(expected) & (np.abs(expected) <= FLOAT16_MAX)
    assert np.isfinite(actual[finite]).all(), f"{what}: non-finite where the float64 value is {expected[finite]}"
    scale = max(float(np.abs(expected[finite]).max(initial=0.0)), scale_floor)
    bound = rtol * (np.abs(expected) + 1e-2 * scale) + ulps * SUBNORMAL
    err = np.abs(actual - expected)
    bad = finite & ~(err <= bound)
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} of {bad.size} values off, worst {actual[bad].ravel()[:3]} "
        f"vs {expected[bad].ravel()[:3]}"
    )


def _check_case(name, fn, arrays, n, extra=(), torch_extra=()):
    rng = np.random.default_rng([n, 1])  # a stream of its own: an upstream gradient equal to x cancels in norms
    arrays = [a.astype(np.float16).astype(np.float64) for a in arrays]  # the reference sees the same numbers
    out_dtype, grad_dtypes = _dtypes(fn, arrays, extra)
    assert out_dtype == cr.float16, f"{name}: float16 in gave {out_dtype} out"
    assert all(d == cr.float16 for d in grad_dtypes), f"{name}: float16 in gave gradients {grad_dtypes}"
    ref_out, _ = _run(_CR, fn, arrays, np.float64, extra)
    upstream = rng.normal(0, 1, ref_out.shape).astype(np.float16).astype(np.float64)
    ref_out, ref_grads = _run(_CR, fn, arrays, np.float64, extra, upstream)
    out, grads = _run(_CR, fn, arrays, np.float16, extra, upstream)
    _close(out, ref_out, f"{name}(n={n}) value")
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        _close(g, r, f"{name}(n={n}) gradient of input {i}")
    if HAVE_TORCH:
        t_out, t_grads = _run(_Torch(), fn, arrays, np.float16, torch_extra, upstream)
        _agree_where_torch_is_right(out, t_out, ref_out, f"{name}(n={n}) value vs torch")
        for i, (g, t, r) in enumerate(zip(grads, t_grads, ref_grads)):
            _agree_where_torch_is_right(g, t, r, f"{name}(n={n}) gradient of input {i} vs torch")


def _agree_where_torch_is_right(ours, theirs, ref, what):
    """Where torch's float16 value is within tolerance of float64, ours is within two such tolerances of it.

    (Both are one rounding of nearly the same float32 number, from either side.)
    """
    with np.errstate(invalid="ignore"):
        right = np.abs(theirs - ref) <= RTOL * np.abs(ref) + SUBNORMAL
    if right.any():
        _close(ours[right], theirs[right], what, scale_floor=float(np.abs(ref).max()), rtol=2 * RTOL, ulps=2)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@settings(max_examples=3, **SETTINGS)
@given(n=sizes)
def test_reduction_in_float16(name, n):
    make, fn = REDUCTIONS[name]
    _check_case(name, fn, make(np.random.default_rng(n), n), n)


@pytest.mark.parametrize("name", sorted(LOSSES))
@settings(max_examples=3, **SETTINGS)
@given(n=sizes)
def test_loss_in_float16(name, n):
    make, fn = LOSSES[name]
    _check_case(name, fn, make(np.random.default_rng(n), n), n)


@pytest.mark.parametrize("name", sorted(INDEX_LOSSES))
@settings(max_examples=3, **SETTINGS)
@given(n=sizes)
def test_class_index_loss_in_float16(name, n):
    rng = np.random.default_rng(n)
    n -= n % 2  # the spatial case pairs rows
    logits = rng.normal(0, 1, (n, 4))
    target = _targets(rng, n)
    fn = INDEX_LOSSES[name]
    torch_extra = (_Torch.ints(target),) if HAVE_TORCH else ()
    _check_case(name, fn, [logits], n, extra=(_CR.ints(target),), torch_extra=torch_extra)


def test_mean_gradient_past_65504_is_one_over_n():
    """The reported bug: mean() and mse_loss over 70,000 float16 elements gave a zero gradient."""
    n = 70_000
    x = cr.ones(n, dtype=cr.float16, requires_grad=True)
    x.mean().backward()
    assert x.grad.dtype == cr.float16
    np.testing.assert_allclose(x.grad._data.astype(np.float64), 1 / n, rtol=RTOL)
    x.grad = None
    F.mse_loss(x, cr.zeros(n, dtype=cr.float16)).backward()
    np.testing.assert_allclose(x.grad._data.astype(np.float64), 2 / n, rtol=RTOL)


def test_softmax_of_equal_logits_past_65504_is_uniform():
    n = 70_000
    y = F.softmax(cr.zeros(n, dtype=cr.float16), 0)
    assert y.dtype == cr.float16
    np.testing.assert_allclose(y._data.astype(np.float64), 1 / n, rtol=RTOL)
    lse = cr.zeros(n, dtype=cr.float16).logsumexp(0)
    np.testing.assert_allclose(float(lse.item()), np.log(n), rtol=RTOL)


def test_sums_past_65504_still_overflow_like_pytorch():
    """A result beyond float16's range is inf, as in PyTorch: the fix is in accumulation, not in the dtype."""
    x = cr.ones(70_000, dtype=cr.float16)
    assert np.isinf(float(x.sum().item()))
    assert float(x.mean().item()) == 1.0


@pytest.mark.parametrize(
    "name",
    ["mean", "var", "std", "norm", "logsumexp", "softmax", "log_softmax", "mse_loss", "cross_entropy"],
)
@settings(max_examples=2, **SETTINGS)
@given(n=st.integers(65600, 90000))
def test_second_order_in_float16(name, n):
    """create_graph through the float32 computation: the gradient of <grad, v> matches float64."""
    rng = np.random.default_rng(n)
    cols = 4 if name == "cross_entropy" else None
    values = rng.normal(0, 0.5, (n,) if cols is None else (n, cols)).astype(np.float16).astype(np.float64)
    target = rng.integers(0, 4, n)
    v = rng.normal(0, 1, values.shape).astype(np.float16).astype(np.float64)

    def loss(x):
        if name == "mse_loss":
            return F.mse_loss(x, x.detach() * 0.5)
        if name == "cross_entropy":
            return F.cross_entropy(x, cr.tensor(target))
        if name in ("softmax", "log_softmax"):
            return (getattr(F, name)(x, 0) * cr.tensor(np.linspace(-1, 1, n).astype(x._data.dtype))).sum()
        if name == "logsumexp":
            return x.logsumexp(0)
        if name == "mean":
            return (x * x).mean()  # mean's own gradient is a constant; through x * x it has a second derivative
        return getattr(x, name)()

    results = {}
    for dtype in (np.float16, np.float64):
        x = cr.tensor(values.astype(dtype), requires_grad=True)
        (g,) = cr.autograd.grad(loss(x), [x], create_graph=True)
        (g * cr.tensor(v.astype(dtype))).sum().backward()
        assert x.grad.dtype == dtype
        results[dtype] = (g._data.astype(np.float64), x.grad._data.astype(np.float64))
    _close(results[np.float16][0], results[np.float64][0], f"{name}(n={n}) first derivative")
    # second derivatives that are ~0 in float64 come out as float32 roundoff, a few float16 subnormal spacings:
    # measured up to 7 for log_softmax (n=66280: 4.2e-7 where float64 gives 1.6e-15; PyTorch's float16 gives 0 there)
    _close(results[np.float16][1], results[np.float64][1], f"{name}(n={n}) second derivative", scale_floor=1e-6, ulps=8)


@pytest.mark.parametrize("name", sorted(REDUCTIONS) + sorted(LOSSES))
def test_float32_stays_float32(name):
    """The half-precision path must not touch float32: float32 in, float32 out, float32 gradients."""
    make, fn = {**REDUCTIONS, **LOSSES}[name]
    tensors = [cr.tensor(a.astype(np.float32), requires_grad=True) for a in make(np.random.default_rng(0), 50)]
    out = fn(_CR, *tensors)
    out.backward(cr.ones(*out.shape))
    assert out.dtype == cr.float32
    assert all(t.grad.dtype == cr.float32 for t in tensors)


def test_mixed_half_and_float32_loss_is_still_refused():
    """The float32 path for float16 losses converts only tensors of the input's own dtype."""
    x = cr.zeros(4, dtype=cr.float16)
    t = cr.zeros(4, dtype=cr.float32)
    with pytest.raises(cr.errors.DTypeError):
        F.mse_loss(x, t)


def test_autocast_losses_stay_float32():
    """Under autocast a loss returns float32 (its own rule), not the input's float16."""
    x = cr.zeros(8, dtype=cr.float16)
    with cr.amp.autocast("cpu", dtype=cr.float16):
        assert F.mse_loss(x, x).dtype == cr.float32
