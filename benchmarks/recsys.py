"""Recommendation: dense vs row-sparse embedding gradients, and epoch times of MF and NeuMF, against PyTorch.

1. One training step (lookup, backward, optimizer) on a 1,000,000 x 64
   float32 table with 4,096 lookups per batch: chainrule's dense path
   (``Embedding(sparse=False)`` + Adam: a full-table gradient and update)
   against its sparse path (``sparse=True`` + SparseAdam: rows looked up
   only), and the same two in PyTorch.
2. One epoch of each recipe's model on MovieLens-100k with the recipe's batch
   size, SparseAdam for the tables (+ Adam for NeuMF's layers): biased MF on
   the 80% training split, NeuMF on leave-last-out with 4 sampled negatives
   per positive.  Both libraries get the very same batches.

Times are medians (milliseconds per step, seconds per epoch); the ratio is
chainrule / PyTorch (below 1 means chainrule is faster), with
each library's default threads (CHAINRULE_BENCH_THREADS=n pins both to n).

    python benchmarks/recsys.py            # needs recbole (the data) and torch 2.13.0
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _common import import_torch, median_time, print_table, thread_label

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.data.datasets.movielens import (
    NegativeSamplingLoader,
    load_movielens_100k,
    split_leave_last_out,
    split_random,
)
from chainrule.models.recommender import MatrixFactorization, NeuMF, make_optimizer
from chainrule.optim.sparse_adam import SparseAdam

ROWS, DIM, LOOKUPS = 1_000_000, 64, 4096


def table_step_chainrule(sparse):
    emb = nn.Embedding(ROWS, DIM, sparse=sparse)
    opt = SparseAdam([emb.weight], lr=1e-3) if sparse else cr.optim.Adam([emb.weight], lr=1e-3)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, ROWS, LOOKUPS) for _ in range(8)]
    state = {"i": 0}

    def step():
        idx = batches[state["i"] % 8]
        state["i"] += 1
        opt.zero_grad()
        (emb(idx) ** 2).sum().backward()
        opt.step()

    return step


def table_step_torch(torch, sparse):
    emb = torch.nn.Embedding(ROWS, DIM, sparse=sparse)
    opt = torch.optim.SparseAdam(emb.parameters(), lr=1e-3) if sparse else torch.optim.Adam(emb.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    batches = [torch.as_tensor(rng.integers(0, ROWS, LOOKUPS)) for _ in range(8)]
    state = {"i": 0}

    def step():
        idx = batches[state["i"] % 8]
        state["i"] += 1
        opt.zero_grad()
        (emb(idx) ** 2).sum().backward()
        opt.step()

    return step


# ---------------------------------------------------------------------------- epochs


def mf_batches(seed=0, batch_size=512):
    data = load_movielens_100k()
    train, _ = split_random(data, (0.8, 0.2), seed=seed)
    order = np.random.default_rng(seed).permutation(len(train))
    batches = [
        (
            train.users[order[s : s + batch_size]],
            train.items[order[s : s + batch_size]],
            train.ratings[order[s : s + batch_size]],
        )
        for s in range(0, len(order), batch_size)
    ]
    return data, float(train.ratings.mean()), batches


def ncf_batches(batch_size=1024):
    data = load_movielens_100k()
    train, _ = split_leave_last_out(data)
    loader = NegativeSamplingLoader(
        train, num_negatives=4, batch_size=batch_size, generator=cr.Generator().manual_seed(0)
    )
    return data, [(u._data, i._data, y._data) for (u, i), y in loader]


def epoch_chainrule(model, batches, loss_fn):
    opt = make_optimizer(model, lr=1e-3)

    def epoch():
        for users, items, target in batches:
            opt.zero_grad()
            loss_fn(model(users, items), cr.from_numpy(target)).backward()
            opt.step()

    return epoch


def torch_models(torch):
    tnn = torch.nn

    class MF(tnn.Module):
        def __init__(self, num_users, num_items, dim, mu):
            super().__init__()
            self.p, self.q = tnn.Embedding(num_users, dim, sparse=True), tnn.Embedding(num_items, dim, sparse=True)
            self.bu, self.bi = tnn.Embedding(num_users, 1, sparse=True), tnn.Embedding(num_items, 1, sparse=True)
            self.mu = mu

        def forward(self, u, i):
            dot = (self.p(u) * self.q(i)).sum(-1)
            return dot + self.bu(u).squeeze(-1) + self.bi(i).squeeze(-1) + self.mu

    class NCF(tnn.Module):
        def __init__(self, num_users, num_items, gmf=32, layers=(64, 32, 16)):
            super().__init__()
            half = layers[0] // 2
            self.gu, self.gi = tnn.Embedding(num_users, gmf, sparse=True), tnn.Embedding(num_items, gmf, sparse=True)
            self.mu, self.mi = tnn.Embedding(num_users, half, sparse=True), tnn.Embedding(num_items, half, sparse=True)
            mods = []
            for a, b in zip(layers, layers[1:]):
                mods += [tnn.Linear(a, b), tnn.ReLU()]
            self.mlp = tnn.Sequential(*mods)
            self.out = tnn.Linear(gmf + layers[-1], 1)

        def forward(self, u, i):
            gmf = self.gu(u) * self.gi(i)
            mlp = self.mlp(torch.cat([self.mu(u), self.mi(i)], -1))
            return self.out(torch.cat([gmf, mlp], -1)).squeeze(-1)

    return MF, NCF


def epoch_torch(torch, model, batches, loss_fn):
    sparse = [m.weight for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    dense = [p for p in model.parameters() if all(p is not s for s in sparse)]
    opts = [torch.optim.SparseAdam(sparse, lr=1e-3)] + ([torch.optim.Adam(dense, lr=1e-3)] if dense else [])
    tb = [(torch.as_tensor(u), torch.as_tensor(i), torch.as_tensor(t)) for u, i, t in batches]

    def epoch():
        for users, items, target in tb:
            for o in opts:
                o.zero_grad()
            loss_fn(model(users, items), target).backward()
            for o in opts:
                o.step()

    return epoch


def seconds(fn, repeats=3):
    fn()  # warm-up (allocates optimizer state)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    torch = import_torch()
    rows = []
    for sparse in (False, True):
        ours = median_time(table_step_chainrule(sparse), repeats=5) * 1e3
        theirs = median_time(table_step_torch(torch, sparse), repeats=5) * 1e3 if torch else None
        name = "sparse (SparseAdam)" if sparse else "dense (Adam)"
        rows.append(
            [name, f"{ours:.2f}", f"{theirs:.2f}" if theirs else "-", f"{ours / theirs:.2f}" if theirs else "-"]
        )
    print_table(
        f"one step on a {ROWS:,} x {DIM} float32 table, {LOOKUPS} lookups (ms; {thread_label(torch)})",
        ["gradient", "chainrule", "torch", "ratio"],
        rows,
    )

    rows = []
    data, mu, mf_b = mf_batches()
    cr.manual_seed(0)
    mf = MatrixFactorization(data.num_users, data.num_items, 64, global_bias=mu)
    ours = seconds(epoch_chainrule(mf, mf_b, F.mse_loss))
    theirs = None
    if torch:
        MF, NCF = torch_models(torch)
        theirs = seconds(
            epoch_torch(torch, MF(data.num_users, data.num_items, 64, mu), mf_b, torch.nn.functional.mse_loss)
        )
    rows.append(
        [
            "MF (batch 512)",
            len(mf_b),
            f"{ours:.2f}",
            f"{theirs:.2f}" if theirs else "-",
            f"{ours / theirs:.2f}" if theirs else "-",
        ]
    )
    data, ncf_b = ncf_batches()
    ncf = NeuMF(data.num_users, data.num_items)
    ours = seconds(epoch_chainrule(ncf, ncf_b, F.binary_cross_entropy_with_logits))
    if torch:
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        theirs = seconds(epoch_torch(torch, NCF(data.num_users, data.num_items), ncf_b, bce))
    rows.append(
        [
            "NeuMF (batch 1024)",
            len(ncf_b),
            f"{ours:.2f}",
            f"{theirs:.2f}" if theirs else "-",
            f"{ours / theirs:.2f}" if theirs else "-",
        ]
    )
    print_table(
        f"one epoch on MovieLens-100k, SparseAdam (+ Adam) (s; {thread_label(torch)})",
        ["model", "batches", "chainrule", "torch", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
