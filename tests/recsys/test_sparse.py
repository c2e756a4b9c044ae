"""Row-sparse embedding gradients (ops/sparse.py), SparseAdam and CombinedOptimizer.

Gradients are checked against central differences in float64 and against
PyTorch 2.13.0 (live when torch is importable, else the committed fixture
tests/recsys/sparse.npz written by tests/recsys/make_fixtures.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import GradientError, ShapeError
from chainrule.ops.sparse import RowSparseGrad
from chainrule.optim.combined import CombinedOptimizer
from chainrule.optim.sparse_adam import SparseAdam

from . import make_fixtures

IDX = np.array([[1, 4, 4, 0], [6, 1, 4, 2]])


def _table(rows=7, dim=3, dtype=np.float64, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal((rows, dim)).astype(dtype), requires_grad=True)


def _numerical_grad(fn, w, eps=1e-6):
    out = np.zeros_like(w._data)
    for flat in range(w._data.size):
        i = np.unravel_index(flat, w._data.shape)
        orig = w._data[i]
        w._data[i] = orig + eps
        plus = fn().item()
        w._data[i] = orig - eps
        minus = fn().item()
        w._data[i] = orig
        out[i] = (plus - minus) / (2 * eps)
    return out


def test_sparse_gradient_matches_central_differences():
    w = _table()
    weights = cr.tensor(np.random.default_rng(1).standard_normal(IDX.shape + (3,)))

    def loss():
        return (F.embedding(IDX, w, sparse=True) ** 2 * weights).sum()

    loss().backward()
    g = w.grad
    assert isinstance(g, RowSparseGrad)
    assert g.nnz() == IDX.size and not g.is_coalesced()  # one row per lookup, duplicates kept
    np.testing.assert_allclose(g.to_dense()._data, _numerical_grad(loss, w), rtol=1e-6, atol=1e-8)
    c = g.coalesce()
    np.testing.assert_array_equal(c.indices, np.unique(IDX))
    assert c.is_coalesced()


@pytest.mark.parametrize("padding_idx,scale", [(None, False), (4, False), (None, True), (1, True)])
def test_sparse_equals_dense_path(padding_idx, scale):
    g_out = cr.tensor(np.random.default_rng(2).standard_normal(IDX.shape + (3,)))
    grads = []
    for sparse in (False, True):
        w = _table()
        out = F.embedding(IDX, w, padding_idx=padding_idx, scale_grad_by_freq=scale, sparse=sparse)
        out.backward(g_out)
        grads.append(w.grad.to_dense()._data if sparse else w.grad._data)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)
    if padding_idx is not None:
        assert not grads[1][padding_idx].any()


def test_embedding_module_sparse_and_float32():
    emb = nn.Embedding(10, 4, sparse=True)
    out = emb(cr.tensor([[1, 2], [2, 9]]))
    out.sum().backward()
    g = emb.weight.grad
    assert g.dtype == cr.float32 and g.shape == (10, 4)
    np.testing.assert_array_equal(g.to_dense()._data.sum(axis=1), np.array([0, 4, 8, 0, 0, 0, 0, 0, 0, 4]))


def test_accumulation_sparse_then_dense_and_autograd_grad():
    w = _table()
    F.embedding(IDX, w, sparse=True).sum().backward()
    F.embedding(np.array([3]), w, sparse=True).sum().backward()
    assert isinstance(w.grad, RowSparseGrad) and w.grad.nnz() == IDX.size + 1  # sparse + sparse stays sparse
    counts = np.bincount(np.append(IDX.ravel(), 3), minlength=7)
    np.testing.assert_allclose(w.grad.to_dense()._data, np.repeat(counts[:, None], 3, axis=1).astype(float))
    # the same table used densely as well: the sum is a dense Tensor, in either order
    (F.embedding(IDX, w, sparse=True).sum() + (w * 2).sum()).backward()
    assert type(w.grad) is cr.Tensor
    np.testing.assert_allclose(
        w.grad._data, 2 * np.repeat(counts[:, None], 3, axis=1) + 2 - (np.arange(7) == 3)[:, None]
    )
    (g,) = cr.autograd.grad(F.embedding(IDX, w, sparse=True).sum(), w)
    assert isinstance(g, RowSparseGrad)


def test_non_leaf_weight_and_create_graph_get_dense_gradients():
    w = _table()
    (g,) = cr.autograd.grad(F.embedding(IDX, w * 3.0, sparse=True).sum(), w)
    assert type(g) is cr.Tensor
    # second order: d/dw sum(grad_w(sum(emb(w)^2))^2) with the gradient kept differentiable
    (g1,) = cr.autograd.grad((F.embedding(IDX, w, sparse=True) ** 2).sum(), w, create_graph=True)
    assert type(g1) is cr.Tensor and g1.requires_grad
    (g2,) = cr.autograd.grad((g1**2).sum(), w)
    counts = np.bincount(IDX.ravel(), minlength=7)[:, None]
    np.testing.assert_allclose(g2._data, 8 * counts**2 * w._data, rtol=1e-12)


def test_data_is_coalesced_values_so_clipping_and_zeroing_work():
    w = _table()
    F.embedding(IDX, w, sparse=True).sum().backward()
    dense = w.grad.to_dense()._data
    assert w.grad._data.shape == (len(np.unique(IDX)), 3) and w.grad.is_coalesced()
    total = cr.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    assert float(total) == pytest.approx(np.linalg.norm(dense))
    np.testing.assert_allclose(w.grad.to_dense()._data, dense / (np.linalg.norm(dense) + 1e-6), rtol=1e-6)
    w.grad._data[...] = 0
    assert not w.grad.to_dense()._data.any()


def test_dense_optimizer_refuses_a_row_sparse_gradient():
    w = _table()
    F.embedding(IDX, w, sparse=True).sum().backward()
    with pytest.raises(ShapeError, match="gradient shape"):
        cr.optim.Adam([w]).step()


# ---------------------------------------------------------------------------- SparseAdam


def _adam_run(lib, w0, batches, dtype, maximize=False):
    """Parameters after SparseAdam steps on (sum of squares weighted) losses; lib is chainrule or torch."""
    if lib == "torch":
        import torch

        w = torch.tensor(w0.astype(dtype), requires_grad=True)
        opt = torch.optim.SparseAdam([w], lr=0.05, betas=(0.8, 0.95), eps=1e-6, maximize=maximize)
        for idx in batches:
            out = torch.nn.functional.embedding(torch.as_tensor(idx), w, sparse=True)
            opt.zero_grad()
            (out**2 * 0.5 + out).sum().backward()
            opt.step()
        return w.detach().numpy()
    w = cr.tensor(w0.astype(dtype), requires_grad=True)
    opt = SparseAdam([w], lr=0.05, betas=(0.8, 0.95), eps=1e-6, maximize=maximize)
    for idx in batches:
        out = F.embedding(idx, w, sparse=True)
        opt.zero_grad()
        (out**2 * 0.5 + out).sum().backward()
        opt.step()
    return w._data


@pytest.mark.parametrize("dtype,maximize", [(np.float64, False), (np.float32, False), (np.float32, True)])
def test_sparse_adam_matches_pytorch(dtype, maximize):
    case = make_fixtures.sparse_adam_inputs()
    ours = _adam_run("chainrule", case["w0"], case["batches"], dtype, maximize)
    fixture = make_fixtures.load_or_make("sparse_adam")
    key = f"{np.dtype(dtype).name}_{'max' if maximize else 'min'}"
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(ours, fixture[key], rtol=tol, atol=tol)
    untouched = np.setdiff1d(np.arange(len(case["w0"])), np.concatenate(case["batches"]))
    np.testing.assert_array_equal(ours[untouched], case["w0"][untouched].astype(dtype))


def test_embedding_gradient_matches_pytorch():
    fixture = make_fixtures.load_or_make("embedding")
    w = cr.tensor(fixture["weight"], requires_grad=True)
    out = F.embedding(fixture["indices"], w, padding_idx=int(fixture["padding_idx"]), sparse=True)
    out.backward(cr.tensor(fixture["grad_output"]))
    g = w.grad.coalesce()
    np.testing.assert_array_equal(g.indices, fixture["grad_indices"])
    np.testing.assert_allclose(g.values, fixture["grad_values"], rtol=1e-6, atol=1e-7)


def test_sparse_adam_errors_and_state_round_trip(tmp_path):
    w = _table()
    opt = SparseAdam([w], lr=0.1)
    (w**2).sum().backward()
    with pytest.raises(GradientError, match="dense gradients"):
        opt.step()
    with pytest.raises(ValueError, match="learning rate"):
        SparseAdam([w], lr=0.0)
    # resume: save after two steps, load into a fresh optimizer, take a third: same as three straight steps
    batches = [IDX, np.array([0, 5]), IDX[:, :2]]
    w_a, w_b = _table(), _table()
    opt_a = SparseAdam([w_a], lr=0.1)
    for idx in batches:
        opt_a.zero_grad()
        F.embedding(idx, w_a, sparse=True).pow(2).sum().backward()
        opt_a.step()
    opt_b = SparseAdam([w_b], lr=0.1)
    for idx in batches[:2]:
        opt_b.zero_grad()
        F.embedding(idx, w_b, sparse=True).pow(2).sum().backward()
        opt_b.step()
    cr.io.save({"w": w_b, "opt": opt_b.state_dict()}, tmp_path / "s.safetensors")
    state = cr.io.load(tmp_path / "s.safetensors")
    w_c = cr.tensor(state["w"]._data.copy(), requires_grad=True)
    opt_c = SparseAdam([w_c], lr=0.1)
    opt_c.load_state_dict(state["opt"])
    F.embedding(batches[2], w_c, sparse=True).pow(2).sum().backward()
    opt_c.step()
    np.testing.assert_array_equal(w_c._data, w_a._data)


def test_zero_grad_keep_leaves_an_empty_sparse_gradient():
    w = _table()
    opt = SparseAdam([w], lr=0.1)
    F.embedding(IDX, w, sparse=True).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert isinstance(w.grad, RowSparseGrad) and w.grad.nnz() == 0
    before = w._data.copy()
    opt.step()  # an empty gradient changes nothing
    np.testing.assert_array_equal(w._data, before)


def test_combined_optimizer_steps_schedules_and_resumes(tmp_path):
    def build():
        cr.manual_seed(3)
        model = nn.Sequential(nn.Embedding(20, 4, sparse=True), nn.Linear(4, 1))
        opt = CombinedOptimizer(SparseAdam([model[0].weight], lr=0.1), cr.optim.Adam(model[1].parameters(), lr=0.1))
        sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return model, opt, sched

    def train(model, opt, sched, steps):
        for step in steps:
            idx = np.array([step % 20, (3 * step) % 20, 7])
            opt.zero_grad()
            model(idx).pow(2).sum().backward()
            opt.step()
            sched.step()

    model_a, opt_a, sched_a = build()
    train(model_a, opt_a, sched_a, range(4))
    assert [g["lr"] for g in opt_a.param_groups] == [0.1 * 0.5**4] * 2
    model_b, opt_b, sched_b = build()
    train(model_b, opt_b, sched_b, range(2))
    cr.train.save_checkpoint(tmp_path / "c.safetensors", model_b, opt_b, sched_b)
    model_c, opt_c, sched_c = build()
    cr.train.load_checkpoint(tmp_path / "c.safetensors", model_c, opt_c, sched_c)
    assert opt_c.param_groups[0] is opt_c.optimizers[0].param_groups[0]
    train(model_c, opt_c, sched_c, range(2, 4))
    for (name, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items()):
        np.testing.assert_array_equal(a._data, c._data, err_msg=name)
    with pytest.raises(ValueError, match="two of the optimizers"):
        CombinedOptimizer(SparseAdam([model_a[0].weight]), SparseAdam([model_a[0].weight]))
    with pytest.raises(ValueError, match="optimizers"):
        opt_a.load_state_dict({"optimizers": []})
