"""MatrixFactorization, NeuMF, Recommender and the movielens recipes (chainrule.models.recommender)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.data.datasets.movielens import (
    NegativeSamplingLoader,
    load_movielens_100k,
    movielens_100k_dir,
    ranking_candidates,
    split_leave_last_out,
)
from chainrule.models.recommender import (
    MatrixFactorization,
    NeuMF,
    Recommender,
    RecommenderError,
    make_optimizer,
    ranking_metrics,
    rating_rmse,
)
from chainrule.optim.combined import CombinedOptimizer
from chainrule.optim.sparse_adam import SparseAdam
from chainrule.train.cli import main

needs_ml100k = pytest.mark.skipif(movielens_100k_dir() is None, reason="MovieLens-100k: pip install --no-deps recbole")
U = np.array([0, 3, 3, 1, 2])
I = np.array([4, 0, 2, 2, 5])  # noqa: E741


def _double(model):
    for p in model.parameters():
        p._data = p._data.astype(np.float64)
    for _, b in model.named_buffers():
        b._data = b._data.astype(np.float64)
    return model


def test_mf_is_the_biased_dot_product_and_its_decay_is_the_l2_gradient():
    cr.manual_seed(0)
    model = _double(MatrixFactorization(4, 6, embedding_dim=3, weight_decay=0.25, global_bias=3.5))
    with cr.no_grad():
        model.user_bias.weight._data[:] = np.arange(4)[:, None] * 0.1
    P, Q = model.user_factors.weight._data, model.item_factors.weight._data
    expect = (P[U] * Q[I]).sum(1) + model.user_bias.weight._data[U, 0] + model.item_bias.weight._data[I, 0] + 3.5
    np.testing.assert_allclose(model(U, I)._data, expect, rtol=1e-12)
    # the hook's gradient equals that of mse + 0.25 * mean(|p_u|^2 + |q_i|^2) written out (sparse=False twin)
    target = cr.tensor(np.linspace(1, 5, 5))
    F.mse_loss(model(U, I), target).backward()
    twin = _double(MatrixFactorization(4, 6, embedding_dim=3, sparse=False))
    twin.load_state_dict(model.state_dict())
    p, q = twin.user_factors(U), twin.item_factors(I)
    penalty = ((p**2).sum(1) + (q**2).sum(1)).mean() * 0.25
    (F.mse_loss(twin(U, I), target) + penalty).backward()
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        np.testing.assert_allclose(a.grad.to_dense()._data, b.grad._data, rtol=1e-10, atol=1e-12, err_msg=name)
    model.eval()  # no decay outside training
    model.zero_grad()
    F.mse_loss(model(U, I), target).backward()
    twin.zero_grad()
    F.mse_loss(twin(U, I), target).backward()
    np.testing.assert_allclose(model.user_factors.weight.grad.to_dense()._data, twin.user_factors.weight.grad._data)


def test_neumf_matches_pytorch_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    cr.manual_seed(1)
    model = NeuMF(4, 6, gmf_dim=3, mlp_layers=(8, 4, 2))
    state = {k: torch.tensor(v._data.copy(), requires_grad=True) for k, v in model.state_dict().items()}
    users, items = torch.as_tensor(U), torch.as_tensor(I)
    labels = np.array([1, 0, 1, 0, 0], np.float32)

    def torch_logits(u, i):
        gmf = F_t.embedding(u, state["gmf_user.weight"]) * F_t.embedding(i, state["gmf_item.weight"])
        h = torch.cat([F_t.embedding(u, state["mlp_user.weight"]), F_t.embedding(i, state["mlp_item.weight"])], -1)
        h = torch.relu(F_t.linear(h, state["mlp.0.weight"], state["mlp.0.bias"]))
        h = torch.relu(F_t.linear(h, state["mlp.2.weight"], state["mlp.2.bias"]))
        return F_t.linear(torch.cat([gmf, h], -1), state["output.weight"], state["output.bias"]).squeeze(-1)

    F_t = torch.nn.functional
    ref = torch_logits(users, items)
    F_t.binary_cross_entropy_with_logits(ref, torch.as_tensor(labels)).backward()
    out = model(U, I)
    F.binary_cross_entropy_with_logits(out, cr.tensor(labels)).backward()
    np.testing.assert_allclose(out._data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    for name, p in model.named_parameters():
        g = p.grad.to_dense()._data if not isinstance(p.grad, cr.Tensor) else p.grad._data
        np.testing.assert_allclose(g, state[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    # BPR form: the difference of two logits
    neg = np.array([1, 1, 5, 0, 3])
    np.testing.assert_allclose(model(U, I, neg)._data, model(U, I)._data - model(U, neg)._data, rtol=1e-6)


def test_make_optimizer_pairs_sparse_adam_with_adam():
    model = NeuMF(4, 6, gmf_dim=2, mlp_layers=(4, 2))
    opt = make_optimizer(model, lr=0.01)
    assert isinstance(opt, CombinedOptimizer)
    assert isinstance(opt.optimizers[0], SparseAdam) and len(opt.optimizers[0].param_groups[0]["params"]) == 4
    assert isinstance(make_optimizer(MatrixFactorization(3, 3)), SparseAdam)  # MF: every parameter is a table
    before = {k: v._data.copy() for k, v in model.state_dict().items()}
    F.binary_cross_entropy_with_logits(model(U, I), cr.ones(5)).backward()
    opt.step()
    changed = {k for k, v in model.state_dict().items() if not np.array_equal(v._data, before[k])}
    assert "output.weight" in changed and "gmf_user.weight" in changed
    untouched = np.setdiff1d(np.arange(4), U)
    np.testing.assert_array_equal(model.gmf_user.weight._data[untouched], before["gmf_user.weight"][untouched])


def test_ranking_metrics_and_rmse_by_hand():
    class Fixed(cr.nn.Module):
        def forward(self, users, items):
            return cr.tensor(np.asarray(items, dtype=np.float32) * -1.0)  # lower item id scores higher

    candidates = np.array([[0, 5, 6], [4, 1, 9], [9, 2, 3]])  # ranks of column 0: 0, 1, 2
    m = ranking_metrics(Fixed(), np.arange(3), candidates, k=2)
    assert m["hr"] == pytest.approx(2 / 3)
    assert m["ndcg"] == pytest.approx((1 + 1 / np.log2(3)) / 3)
    # predictions -1 and -3, the second clipped to -2.5: errors 1 and 2.5
    assert rating_rmse(Fixed(), [0, 0], [1, 3], [0.0, -5.0], clip=(-2.5, 0)) == pytest.approx(np.sqrt(3.625))


def test_recommender_round_trip_and_excludes_seen(tmp_path):
    cr.manual_seed(2)
    model = MatrixFactorization(3, 5, embedding_dim=2, global_bias=3.0)
    seen = np.array([[1, 0], [1, 3], [0, 4]])
    rec = Recommender(model, np.array([10, 20, 30]), np.array([7, 8, 9, 11, 12]), [f"m{i}" for i in range(5)], seen)
    top = rec.recommend(20, k=10)
    assert [r.item_id for r in top] == [
        int(x) for x in np.array([7, 8, 9, 11, 12])[np.argsort(-model.score_items(1))] if x not in (7, 11)
    ]
    assert len(top) == 3 and all(a.score >= b.score for a, b in zip(top, top[1:]))
    rec.save(tmp_path)
    back = Recommender.load(tmp_path)
    assert back.model.global_bias.shape == ()  # 0-d tensors survive io.save/load (they came back (1,) before)
    assert back.recommend(20, k=2) == top[:2]
    with pytest.raises(RecommenderError, match="unknown user"):
        back.recommend(99)
    with pytest.raises(RecommenderError, match="no recommender bundle"):
        Recommender.load(tmp_path / "nowhere")


def _synthetic_csv(path, seed=0):
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, 40, 1500), rng.integers(0, 30, 1500)
    ratings = np.clip(np.round(3 + (users % 5 - 2) * 0.5 + (items % 3 - 1) + rng.normal(0, 0.5, 1500)), 1, 5)
    lines = ["user,item,rating,timestamp"] + [
        f"u{u},i{i},{r},{t}" for t, (u, i, r) in enumerate(zip(users, items, ratings))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mf_recipe_on_a_csv_resumes_exactly(tmp_path):
    csv = _synthetic_csv(tmp_path / "r.csv")
    common = [
        "train",
        "--recipe",
        "movielens-mf",
        "--data",
        str(csv),
        "--no-progress",
        "--no-plots",
        "--batch-size",
        "128",
    ]
    assert main([*common, "--epochs", "3", "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert main([*common, "--epochs", "3", "--resume", str(tmp_path / "b" / "checkpoint.safetensors")]) == 0
    a, b = (cr.io.load(tmp_path / x / "recommender.safetensors")["weights"] for x in "ab")
    for name in a:
        np.testing.assert_array_equal(a[name]._data, b[name]._data, err_msg=name)
    assert (tmp_path / "a" / "result.txt").read_text().split()[1] == (
        tmp_path / "b" / "result.txt"
    ).read_text().split()[1]
    assert main(["recommend", str(tmp_path / "a"), "--user", "u3", "--k", "3"]) == 0
    assert main(["recommend", str(tmp_path / "a"), "--user", "nobody"]) == 1


@needs_ml100k
def test_mf_recipe_reaches_rmse_093_and_recommends_titles(tmp_path, capsys):
    out = tmp_path / "mf"
    assert (
        main(["train", "--recipe", "movielens-mf", "--epochs", "8", "--no-progress", "--no-plots", "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    rmse = float(re.search(r"test RMSE (\d\.\d+)", text).group(1))
    assert rmse <= 0.93, text
    assert main(["recommend", str(out), "--user", "196", "--k", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and re.search(r"\(\d{4}\)", lines[1])  # titles with their year
    data = load_movielens_100k()
    rated = set(data.item_ids[data.items[data.users == data.user_index(196)]].tolist())
    listed = {int(re.search(r"\[item (\d+)\]", line).group(1)) for line in lines[1:]}
    assert not listed & rated


@needs_ml100k
def test_neumf_bpr_learns_to_rank():
    data = load_movielens_100k()
    train, test = split_leave_last_out(data)
    users, cands = ranking_candidates(data, test, 99, seed=0)
    cr.manual_seed(0)
    model = NeuMF(data.num_users, data.num_items, gmf_dim=16, mlp_layers=(32, 16))
    opt = make_optimizer(model, lr=1e-2)
    gen = cr.Generator().manual_seed(0)
    loader = NegativeSamplingLoader(train, num_negatives=1, batch_size=1024, pairwise=True, generator=gen)
    for inputs, ones in (batch for _ in range(2) for batch in loader):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(*inputs), ones).backward()  # = -logsigmoid(s_pos - s_neg)
        opt.step()
    assert ranking_metrics(model, users, cands)["hr"] >= 0.50  # 2 epochs: 0.565 measured; random ranking: 0.10


@needs_ml100k
def test_ncf_recipe_three_epochs(tmp_path, capsys):
    out = tmp_path / "ncf"
    args = ["train", "--recipe", "movielens-ncf", "--epochs", "3", "--no-progress", "--no-plots", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    hr = float(re.search(r"test HR@10 (\d\.\d+)", text).group(1))
    assert hr >= 0.55, text
    assert "val_hr@10" in (out / "metrics.jsonl").read_text()


@pytest.mark.slow
@needs_ml100k
def test_ncf_recipe_reaches_hr_060(tmp_path, capsys):
    assert (
        main(["train", "--recipe", "movielens-ncf", "--no-progress", "--no-plots", "--out", str(tmp_path / "n")]) == 0
    )
    text = capsys.readouterr().out
    assert float(re.search(r"test HR@10 (\d\.\d+)", text).group(1)) >= 0.60, text
