"""chainrule.linalg, cdist, the distance and hard activation functionals, fmod and clamp's tensor bounds.

Parity with PyTorch (float64): committed fixtures from tests/fixtures/make_linalg.py, and live when torch
is importable; the same function drives both libraries. Gradchecks (first and second order) are the
specs in tests/ops/specs_linalg.py and specs_fmod_clamp.py. Here also: errors, dtypes, and the bugs of
issue 17 (fmod's sign, clamp's ties, the embedding's double backward with scale_grad_by_freq).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import DTypeError, LinAlgError, ShapeError
from tests.fixtures.make_linalg import ALL_CASES, CASES, run
from tests.parity import HAVE_TORCH, assert_close, load

FIXTURES = load("linalg")
RTOL = {"hardsigmoid_ties": 1e-7, "hardswish_ties": 1e-7}  # PyTorch's 1/6 is rounded to float32


def _compare(name: str, ref: dict) -> None:
    ours = run(cr, name)
    assert set(ours) == set(ref), f"{name}: arrays {sorted(ours)} != {sorted(ref)}"
    for key, expected in ref.items():
        assert_close(ours[key], expected, rtol=RTOL.get(name, 1e-9), atol=1e-10, what=f"{name} {key}")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_matches_torch_fixture(name):
    _compare(name, FIXTURES[name])


def test_fixtures_cover_every_case():
    missing = sorted(set(ALL_CASES) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_linalg.py: fixtures missing for {missing}"


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_live(name):
    _compare(name, CASES[name]())


# --------------------------------------------------------------------------- dtypes


FLOAT32_CASES = ["inv", "det", "slogdet", "solve_matrix", "svd_tall", "eigh", "cholesky", "qr", "cdist_2"]
FLOAT32_CASES += ["matrix_norm_nuc", "normalize", "cosine_similarity", "logsigmoid", "glu", "hardswish_ties"]


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_in_float32_out(name):
    fn, make_inputs = ALL_CASES[name]
    inputs = [
        cr.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in make_inputs(np.random.default_rng(0))
    ]
    out = fn(cr, *inputs)
    outs = out if isinstance(out, tuple) else (out,)
    assert all(o.dtype == cr.float32 for o in outs), [o.dtype for o in outs]
    sum(o.sum() for o in outs).backward()
    assert all(x.grad is None or x.grad.dtype == cr.float32 for x in inputs)


# --------------------------------------------------------------------------- errors


def test_singular_inverse_names_the_op():
    with pytest.raises(LinAlgError, match=r"inverse: .*singular.*\(3, 3\)"):
        cr.linalg.inv(cr.ones(3, 3, dtype=cr.float64))
    assert isinstance(LinAlgError("x"), RuntimeError) and cr.linalg.LinAlgError is LinAlgError


def test_singular_solve_names_the_op():
    with pytest.raises(LinAlgError, match="solve: .*singular"):
        cr.linalg.solve(cr.zeros(2, 2), cr.ones(2))


def test_cholesky_not_positive_definite():
    with pytest.raises(LinAlgError, match="cholesky: .*positive-definite"):
        cr.linalg.cholesky(cr.tensor([[1.0, 2.0], [2.0, 1.0]]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: cr.linalg.inv(cr.ones(2, 3)),
        lambda: cr.det(cr.ones(3)),
        lambda: cr.linalg.slogdet(cr.ones(2, 3, 4)),
        lambda: cr.linalg.eigh(cr.ones(2, 3)),
        lambda: cr.linalg.cholesky(cr.ones(3, 2)),
        lambda: cr.linalg.svd(cr.ones(3)),
    ],
)
def test_not_square_is_a_shape_error(call):
    with pytest.raises(ShapeError, match=r"(inverse|det|slogdet|eigh|cholesky|svd): expected .*shape"):
        call()


def test_solve_shape_errors():
    with pytest.raises(ShapeError, match=r"solve: A of shape \(3, 3\) needs B with 3 rows"):
        cr.linalg.solve(cr.eye(3), cr.ones(4, 2))
    with pytest.raises(ShapeError, match=r"solve: batch dimensions .*\(2, 3, 3\).*\(4, 3, 1\)"):
        cr.linalg.solve(cr.eye(3).expand(2, 3, 3), cr.ones(4, 3, 1))


def test_integer_input_is_a_dtype_error():
    with pytest.raises(DTypeError, match=r"det: expected a float32 or float64 tensor, got int64"):
        cr.det(cr.tensor([[1, 2], [3, 4]]))


def test_cdist_errors():
    with pytest.raises(ShapeError, match=r"cdist: x1 \(2, 3\) and x2 \(2, 4\)"):
        cr.cdist(cr.ones(2, 3), cr.ones(2, 4))
    with pytest.raises(ValueError, match="cdist: p must be non-negative"):
        cr.cdist(cr.ones(2, 3), cr.ones(2, 3), p=-1)


def test_glu_odd_size():
    with pytest.raises(ShapeError, match=r"glu: .*even.*\(2, 3\)"):
        F.glu(cr.ones(2, 3))


def test_matrix_norm_bad_ord_and_dim():
    with pytest.raises(ValueError, match="matrix_norm: unsupported ord=3"):
        cr.linalg.matrix_norm(cr.ones(2, 2), 3)
    with pytest.raises(ValueError, match="matrix_norm: dim"):
        cr.linalg.matrix_norm(cr.ones(2, 2), dim=(0, 0))


def test_qr_wide_backward_not_implemented():
    a = cr.randn(2, 3, dtype=cr.float64, requires_grad=True)
    q, r = cr.linalg.qr(a)
    with pytest.raises(NotImplementedError, match="qr: .*wide"):
        (q.sum() + r.sum()).backward()


# --------------------------------------------------------------------------- the bugs of issue 17


def test_fmod_keeps_the_dividends_sign():
    a, b = cr.tensor([-7.0, 7.0, -7.0, 7.0]), cr.tensor([3.0, 3.0, -3.0, -3.0])
    assert cr.fmod(a, b).tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert cr.remainder(a, b).tolist() == [2.0, 1.0, -1.0, -2.0]
    assert cr.fmod(cr.tensor([-7, 7]), 3).tolist() == [-1, 1]
    assert cr.fmod is not cr.remainder


def test_clamp_ties_give_the_whole_gradient_to_x():
    x = cr.tensor([0.0, 1.0, 0.5], requires_grad=True)
    lo = cr.tensor([0.0, 0.0, 0.5], requires_grad=True)
    hi = cr.tensor([1.0, 1.0, 0.5], requires_grad=True)
    cr.clamp(x, lo, hi).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    assert lo.grad.tolist() == [0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 0.0]


def test_clamp_tensor_bounds_second_order():
    x = cr.tensor([-2.0, 0.5, 3.0], dtype=cr.float64, requires_grad=True)
    lo = cr.tensor([-1.0, -1.0, -1.0], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad((cr.clamp(x, lo, 1.0) ** 2).sum(), [x], create_graph=True)
    assert g.tolist() == [0.0, 1.0, 0.0]
    (gg,) = cr.autograd.grad(g.sum(), [x])
    assert gg.tolist() == [0.0, 2.0, 0.0]


def _embedding_second_order(lib, weight0, idx, padding_idx, sparse):
    weight = lib.tensor(weight0, requires_grad=True)
    table = weight * 1.0 if sparse else weight
    out = lib.nn.functional.embedding(
        lib.tensor(idx), table, padding_idx=padding_idx, scale_grad_by_freq=True, sparse=sparse
    )
    (g,) = lib.autograd.grad((out**3).sum(), [weight], create_graph=True)
    coefficient = lib.tensor(np.arange(weight0.size, dtype=np.float64).reshape(weight0.shape))
    (gg,) = lib.autograd.grad((g * g * coefficient).sum(), [weight])
    return g.detach().numpy(), gg.numpy()


@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_scale_grad_by_freq_double_backward(padding_idx, sparse):
    idx = np.array([[0, 2, 2], [3, 0, 2]])
    weight0 = np.random.default_rng(1).standard_normal((4, 3))
    g, gg = _embedding_second_order(cr, weight0, idx, padding_idx, sparse)

    # central differences of the (scaled) first-order gradient, the function create_graph differentiates
    def first(w):
        return _embedding_second_order(cr, w, idx, padding_idx, sparse)[0]

    coefficient = np.arange(weight0.size, dtype=np.float64).reshape(weight0.shape)
    numerical = np.zeros_like(weight0)
    for i in np.ndindex(weight0.shape):
        step = np.zeros_like(weight0)
        step[i] = 1e-6
        plus, minus = first(weight0 + step), first(weight0 - step)
        numerical[i] = ((plus * plus - minus * minus) * coefficient).sum() / 2e-6
    np.testing.assert_allclose(gg, numerical, rtol=1e-6, atol=1e-6)
    if HAVE_TORCH:
        import torch

        tg, tgg = _embedding_second_order(torch, weight0, idx, padding_idx, False)
        np.testing.assert_allclose(g, tg, rtol=1e-12)
        np.testing.assert_allclose(gg, tgg, rtol=1e-10)


def test_embedding_module_scale_grad_by_freq_gradgradcheck():
    idx = cr.tensor([[1, 1, 2], [0, 1, 3]])
    layer = nn.Embedding(4, 2, scale_grad_by_freq=True).double()
    (g,) = cr.autograd.grad(layer(idx).pow(2).sum(), [layer.weight], create_graph=True)
    counts = np.bincount(idx.numpy().ravel(), minlength=4)[:, None]
    used = np.isin(np.arange(4), idx.numpy())[:, None]
    np.testing.assert_allclose(g.detach().numpy(), 2 * layer.weight.detach().numpy() * used, rtol=1e-12)
    (gg,) = cr.autograd.grad(g.sum(), [layer.weight])
    np.testing.assert_allclose(gg.numpy(), np.broadcast_to(2.0 * used, (4, 2)), rtol=1e-12)
    assert counts.max() == 3  # the row counts that the old double backward divided by a second time


# --------------------------------------------------------------------------- modules and aliases


def test_modules_match_functionals():
    x = cr.tensor([[-4.0, -3.0, -0.5, 0.0, 0.5, 3.0, 4.0, 7.0]])
    assert cr.equal(nn.Hardtanh(-0.5, 0.5)(x), F.hardtanh(x, -0.5, 0.5))
    assert cr.equal(nn.ReLU6()(x), F.relu6(x))
    assert cr.equal(nn.Hardsigmoid()(x), F.hardsigmoid(x))
    assert cr.equal(nn.Hardswish()(x), F.hardswish(x))
    assert cr.equal(nn.LogSigmoid()(x), F.logsigmoid(x))
    assert cr.equal(nn.Softmin(dim=1)(x), F.softmin(x, dim=1))
    assert cr.equal(nn.GLU()(x), F.glu(x))
    y = cr.ones(1, 8)
    assert cr.equal(nn.CosineSimilarity()(x, y), F.cosine_similarity(x, y))
    assert cr.equal(nn.PairwiseDistance(p=1)(x, y), F.pairwise_distance(x, y, p=1))
    with pytest.raises(ValueError, match="Hardtanh: max_val"):
        nn.Hardtanh(1.0, -1.0)


def test_aliases():
    a = cr.tensor([[2.0, 1.0], [1.0, 3.0]])
    assert cr.equal(a.inverse(), cr.linalg.inv(a)) and cr.equal(cr.inverse(a), cr.linalg.inv(a))
    assert a.det().item() == cr.det(a).item() == cr.linalg.det(a).item()
    assert cr.slogdet(a).logabsdet.item() == a.slogdet()[1].item()
    assert cr.linalg.matmul is cr.matmul


def test_qr_complete_of_a_tall_matrix_is_not_differentiable():
    a = cr.randn(3, 2, dtype=cr.float64, requires_grad=True)
    q, r = cr.linalg.qr(a, mode="complete")
    assert q.shape == (3, 3) and r.shape == (3, 2)
    assert cr.allclose(q @ r, a)
    with pytest.raises(NotImplementedError, match="qr: mode='complete'"):
        (q.sum() + r.sum()).backward()


def test_onnx_export_of_fmod_clamp_det_and_the_activations(tmp_path):
    pytest.importorskip("onnxruntime")

    class Model(nn.Module):
        def forward(self, x, lo):
            acts = F.hardswish(x) + F.hardtanh(x) + F.relu6(x) + F.hardsigmoid(x) + F.logsigmoid(x) + F.softmin(x, -1)
            return cr.fmod(x, 1.5) + cr.clamp(x, lo, lo + 1.0) + acts, cr.det(x), F.glu(x, dim=1)

    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((2, 4, 4)).astype(np.float32) * 3)
    lo = cr.tensor(rng.standard_normal((4,)).astype(np.float32))
    path = tmp_path / "model.onnx"
    cr.onnx.export(Model(), (x, lo), path)
    got = cr.onnx.run(path, {"x": x.numpy(), "lo": lo.numpy()})
    expected = Model()(x, lo)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5)
