"""Collaborative filtering: biased matrix factorization (explicit ratings) and NeuMF (implicit feedback).

::

    model = MatrixFactorization(num_users, num_items, embedding_dim=64, weight_decay=0.1, global_bias=3.53)
    pred = model(users, items)                          # (N,) int64 each -> (N,) predicted ratings
    loss = F.mse_loss(pred, ratings)

    model = NeuMF(num_users, num_items)                 # GMF and MLP towers fused (He et al., 2017)
    logits = model(users, items)                        # (N,) -> (N,); BCE-with-logits against 1/0 labels
    diff = model(users, positives, negatives)           # (N,) score(u, i) - score(u, j): BPR is -logsigmoid(diff)

    rec = Recommender.load("runs/movielens-mf")        # a trained model with its id tables and titles
    rec.recommend(user_id=196, k=10)                    # the top-10 items the user has not rated

Both models look their users and items up in ``nn.Embedding`` tables with
``sparse=True`` by default: the tables' gradients are row-sparse (cost per
batch, not per table) and are stepped by ``optim.SparseAdam``; the few dense
parameters (NeuMF's layers) go to Adam (:func:`make_optimizer` builds the
pair).  ``sparse=False`` gives ordinary dense tables for any optimizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import nn
from .._untrusted import inside, regular_file, string_array
from ..autograd.mode import grad_enabled, no_grad
from ..creation import tensor as make_tensor
from ..errors import ChainruleError, ShapeError
from ..nn import init
from ..ops.shape import cat
from ..tensor import Tensor, _wrap

__all__ = [
    "MatrixFactorization",
    "NeuMF",
    "Recommendation",
    "Recommender",
    "RecommenderError",
    "make_optimizer",
    "ranking_metrics",
    "rating_rmse",
    "sparse_parameters",
]


class RecommenderError(ChainruleError, ValueError):
    """A recommender bundle that cannot be read, or a request it cannot answer.

    Also a ``ValueError``.

    Examples:
        >>> model = cr.models.MatrixFactorization(num_users=2, num_items=3, embedding_dim=2)
        >>> cr.models.Recommender(model, user_ids=[196, 186], item_ids=[1, 2, 3]).recommend(999)
        Traceback (most recent call last):
            ...
        chainrule.models.recommender.RecommenderError: unknown user 999: the model knows 2 users (ids 196 .. 186)
    """


def _index_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else make_tensor(np.asarray(x, dtype=np.int64))


def _lookup_decay(rows: Tensor, scale: float):
    """Add ``scale * rows`` to the gradient of looked-up rows: the gradient of ``scale/2 * sum(rows**2)``."""
    saved = rows._data  # the array, not the tensor: the hook keeps no reference to the graph

    def hook(grad):
        return grad + _wrap(saved * saved.dtype.type(scale))

    rows.register_hook(hook)


class MatrixFactorization(nn.Module):
    """Biased matrix factorization (Koren, Bell & Volinsky, 2009, eq. 5): ``r(u, i) = mu + b_u + b_i + p_u . q_i``.

    Shapes: users, items (*) int64 -> (*) float32.  ``mu`` is the fixed
    ``global_bias`` (a buffer; set it to the mean training rating); factors
    start N(0, ``init_std``), biases at 0.

    ``weight_decay`` is the L2 penalty of eq. 5 on the rows a batch looks up,
    ``weight_decay * mean_n(|p_u|^2 + |q_i|^2)`` over the batch's N ratings:
    it is added to the tables' gradients by hooks (cost per batch, no
    full-table decay) and is not part of the value your loss reports.

    Args:
        num_users: the number of users (rows of the user tables).
        num_items: the number of items (rows of the item tables).
        embedding_dim: the number of latent factors per user and item; default 64.
        weight_decay: the L2 penalty on the looked-up rows, >= 0; default 0.
        global_bias: ``mu``, the fixed global offset; default 0.
        init_std: the standard deviation of the initial factors; default 0.1.
        sparse: make the tables' gradients row-sparse (step them with ``optim.SparseAdam``); default True.

    Raises:
        ValueError: a negative ``weight_decay``.

    Examples:
        >>> model = cr.models.MatrixFactorization(2, 4, embedding_dim=2, global_bias=3.0, init_std=0.0)
        >>> model.item_bias.weight.data[:, 0] = [0.1, 0.4, 0.3, 0.2]
        >>> model(cr.tensor([0, 1]), cr.tensor([1, 3]))  # 3 + b_i (the factors are 0)
        tensor([3.4000, 3.2000], grad_fn=<add>)
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        weight_decay: float = 0.0,
        global_bias: float = 0.0,
        init_std: float = 0.1,
        sparse: bool = True,
    ):
        super().__init__()
        if weight_decay < 0:
            raise ValueError(f"MatrixFactorization: weight_decay must be >= 0, got {weight_decay}")
        self.num_users, self.num_items, self.embedding_dim = int(num_users), int(num_items), int(embedding_dim)
        self.weight_decay = float(weight_decay)
        self.init_std = float(init_std)
        self.sparse = bool(sparse)
        self.user_factors = nn.Embedding(num_users, embedding_dim, sparse=sparse)
        self.item_factors = nn.Embedding(num_items, embedding_dim, sparse=sparse)
        self.user_bias = nn.Embedding(num_users, 1, sparse=sparse)
        self.item_bias = nn.Embedding(num_items, 1, sparse=sparse)
        self.register_buffer("global_bias", make_tensor(np.float32(global_bias)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.user_factors.weight, 0.0, self.init_std)
        init.normal_(self.item_factors.weight, 0.0, self.init_std)
        init.zeros_(self.user_bias.weight)
        init.zeros_(self.item_bias.weight)

    @staticmethod
    def state_shapes(config: dict) -> dict:
        """name -> shape of every tensor of ``MatrixFactorization(**config)``'s ``state_dict``, without building it."""
        users, items, dim = config["num_users"], config["num_items"], config.get("embedding_dim", 64)
        return {
            "global_bias": (),
            "user_factors.weight": (users, dim),
            "item_factors.weight": (items, dim),
            "user_bias.weight": (users, 1),
            "item_bias.weight": (items, 1),
        }

    def config(self) -> dict:
        """The constructor's arguments, as a dict (saved with a ``Recommender`` bundle)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "embedding_dim": self.embedding_dim,
            "weight_decay": self.weight_decay,
            "global_bias": float(self.global_bias.item()),
            "init_std": self.init_std,
            "sparse": self.sparse,
        }

    def forward(self, users, items) -> Tensor:
        users, items = _index_tensor(users), _index_tensor(items)
        if users.shape != items.shape:
            raise ShapeError(f"MatrixFactorization: users {users.shape} and items {items.shape} differ")
        p = self.user_factors(users)
        q = self.item_factors(items)
        if self.training and self.weight_decay and grad_enabled():
            scale = 2.0 * self.weight_decay / max(1, users.numel())
            _lookup_decay(p, scale)
            _lookup_decay(q, scale)
        dot = (p * q).sum(dim=-1)
        return dot + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + self.global_bias

    def score_items(self, user: int) -> np.ndarray:
        """Predicted ratings of every item for one user, (num_items,) float32 (no recording)."""
        with no_grad():
            items = np.arange(self.num_items, dtype=np.int64)
            return self(np.full(self.num_items, user, dtype=np.int64), items)._data


class NeuMF(nn.Module):
    """Neural matrix factorization (He et al., 2017, "Neural Collaborative Filtering", section 3.4).

    A GMF tower (``p_u * q_i``, ``gmf_dim`` wide) and an MLP tower (user and
    item embeddings of ``mlp_layers[0] // 2`` concatenated, then ``Linear ->
    ReLU`` down ``mlp_layers``) are concatenated and mapped to one logit.
    Shapes: users, items (*) int64 -> (*) logits; with ``negatives`` (*)
    the result is ``logit(u, items) - logit(u, negatives)`` (BPR: minimise
    ``-logsigmoid`` of it, i.e. BCE-with-logits against 1).

    Initialization as the paper's: embeddings N(0, 0.01), hidden layers
    Xavier-uniform, the output layer Kaiming-uniform (a=1), biases 0.

    Args:
        num_users: the number of users.
        num_items: the number of items.
        gmf_dim: the width of the GMF tower's embeddings; default 32.
        mlp_layers: the MLP tower's widths, the first even (half of it per embedding); default (64, 32, 16).
        dropout: dropout before each of the MLP's Linear layers, or 0 for none; default 0.
        sparse: make the embedding tables' gradients row-sparse; default True.

    Raises:
        ValueError: ``mlp_layers`` is empty or starts with an odd width.

    Examples:
        >>> model = cr.models.NeuMF(num_users=3, num_items=5, gmf_dim=4, mlp_layers=(8, 4))
        >>> users, positives, negatives = cr.tensor([0, 1]), cr.tensor([2, 3]), cr.tensor([4, 0])
        >>> model(users, positives).shape, model(users, positives, negatives).shape
        ((2,), (2,))
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        gmf_dim: int = 32,
        mlp_layers=(64, 32, 16),
        dropout: float = 0.0,
        sparse: bool = True,
    ):
        super().__init__()
        mlp_layers = tuple(int(x) for x in mlp_layers)
        if len(mlp_layers) < 1 or mlp_layers[0] % 2:
            raise ValueError(f"NeuMF: mlp_layers must start with an even width, got {mlp_layers}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.gmf_dim, self.mlp_layers, self.dropout, self.sparse = int(gmf_dim), mlp_layers, float(dropout), sparse
        half = mlp_layers[0] // 2
        self.gmf_user = nn.Embedding(num_users, gmf_dim, sparse=sparse)
        self.gmf_item = nn.Embedding(num_items, gmf_dim, sparse=sparse)
        self.mlp_user = nn.Embedding(num_users, half, sparse=sparse)
        self.mlp_item = nn.Embedding(num_items, half, sparse=sparse)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(mlp_layers, mlp_layers[1:]):
            if dropout:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.output = nn.Linear(gmf_dim + mlp_layers[-1], 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            init.normal_(table.weight, 0.0, 0.01)
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                init.xavier_uniform_(layer.weight)
                init.zeros_(layer.bias)
        init.kaiming_uniform_(self.output.weight, a=1, nonlinearity="sigmoid")
        init.zeros_(self.output.bias)

    @staticmethod
    def state_shapes(config: dict) -> dict:
        """name -> shape of every tensor of ``NeuMF(**config)``'s ``state_dict``, without building it."""
        users, items, gmf = config["num_users"], config["num_items"], config.get("gmf_dim", 32)
        layers = tuple(config.get("mlp_layers", (64, 32, 16)))
        shapes: dict[str, tuple[int, ...]] = {
            "gmf_user.weight": (users, gmf),
            "gmf_item.weight": (items, gmf),
            "mlp_user.weight": (users, layers[0] // 2),
            "mlp_item.weight": (items, layers[0] // 2),
        }
        index = 0
        for width_in, width_out in zip(layers, layers[1:]):
            index += 1 if config.get("dropout", 0.0) else 0  # a Dropout before each Linear
            shapes[f"mlp.{index}.weight"] = (width_out, width_in)
            shapes[f"mlp.{index}.bias"] = (width_out,)
            index += 2  # the Linear and its ReLU
        shapes["output.weight"] = (1, gmf + layers[-1])
        shapes["output.bias"] = (1,)
        return shapes

    def config(self) -> dict:
        """The constructor's arguments, as a dict (saved with a ``Recommender`` bundle)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "gmf_dim": self.gmf_dim,
            "mlp_layers": list(self.mlp_layers),
            "dropout": self.dropout,
            "sparse": self.sparse,
        }

    def logits(self, users: Tensor, items: Tensor) -> Tensor:
        """The logit of each (user, item) pair: (*) int64 tensors -> (*)."""
        gmf = self.gmf_user(users) * self.gmf_item(items)
        mlp = self.mlp(cat([self.mlp_user(users), self.mlp_item(items)], dim=-1))
        return self.output(cat([gmf, mlp], dim=-1)).squeeze(-1)

    def forward(self, users, items, negatives=None) -> Tensor:
        users, items = _index_tensor(users), _index_tensor(items)
        if users.shape != items.shape:
            raise ShapeError(f"NeuMF: users {users.shape} and items {items.shape} differ")
        if negatives is None:
            return self.logits(users, items)
        negatives = _index_tensor(negatives)
        if negatives.shape != users.shape:
            raise ShapeError(f"NeuMF: negatives {negatives.shape} and users {users.shape} differ")
        return self.logits(users, items) - self.logits(users, negatives)

    def score_items(self, user: int) -> np.ndarray:
        """Logits of every item for one user, (num_items,) float32 (no recording, eval mode)."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                items = np.arange(self.num_items, dtype=np.int64)
                return self(np.full(self.num_items, user, dtype=np.int64), items)._data
        finally:
            self.train(was_training)


MODELS = {"MatrixFactorization": MatrixFactorization, "NeuMF": NeuMF}


def sparse_parameters(model: nn.Module) -> list:
    """The weights of the model's ``Embedding(sparse=True)`` tables (the ones with row-sparse gradients)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse and m.weight.requires_grad]


def make_optimizer(model: nn.Module, lr: float = 1e-3, betas=(0.9, 0.999)):
    """SparseAdam for the sparse tables and Adam for everything else, stepped as one (CombinedOptimizer)."""
    from ..optim.adam import Adam  # noqa: PLC0415
    from ..optim.combined import CombinedOptimizer  # noqa: PLC0415
    from ..optim.sparse_adam import SparseAdam  # noqa: PLC0415

    sparse = sparse_parameters(model)
    dense = [p for p in model.parameters() if p.requires_grad and all(p is not s for s in sparse)]
    optimizers: list = []
    if sparse:
        optimizers.append(SparseAdam(sparse, lr=lr, betas=betas))
    if dense:
        optimizers.append(Adam(dense, lr=lr, betas=betas))
    return optimizers[0] if len(optimizers) == 1 else CombinedOptimizer(*optimizers)


# ---------------------------------------------------------------------------
# evaluation


def rating_rmse(model, users, items, ratings, clip=None, batch_size: int = 65536) -> float:
    """Root mean squared error of ``model(users, items)`` against ``ratings`` (predictions clipped to ``clip``).

    The model runs in eval mode without recording, in batches; its mode is
    restored afterwards.

    Args:
        model: a rating model, ``model(users, items)`` -> predicted ratings.
        users: the user indices, (N,) ints.
        items: the item indices, (N,) ints.
        ratings: the true ratings, (N,).
        clip: ``(low, high)`` to clip the predictions to (the rating scale), or None.
        batch_size: the number of pairs per forward pass; default 65536.

    Returns:
        The RMSE, a float.

    Raises:
        RecommenderError: no ratings.

    Examples:
        >>> model = cr.models.MatrixFactorization(2, 2, embedding_dim=2, global_bias=3.0, init_std=0.0)
        >>> round(cr.models.rating_rmse(model, [0, 1], [0, 1], [4.0, 2.0]), 4)  # it predicts 3 for everything
        1.0
    """
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    ratings = np.asarray(ratings, dtype=np.float64)
    if len(ratings) == 0:
        raise RecommenderError("rating_rmse: no ratings to evaluate")
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with no_grad():
            for start in range(0, len(ratings), batch_size):
                part = slice(start, start + batch_size)
                pred = np.asarray(model(users[part], items[part])._data, dtype=np.float64)
                if clip is not None:
                    pred = np.clip(pred, clip[0], clip[1])
                total += float(((pred - ratings[part]) ** 2).sum())
    finally:
        model.train(was_training)
    return float(np.sqrt(total / len(ratings)))


def ranking_metrics(model, users, candidates, k: int = 10, batch_size: int = 1024) -> dict:
    """Hit ratio and NDCG at ``k`` of the item in column 0 of each candidate list (He et al., 2017, section 4.1).

    ``users`` (U,), ``candidates`` (U, C) int64 (from ``ranking_candidates``).
    The held-out item's rank is the number of candidates scored at least as
    high (ties count against it, so a constant model scores 0);
    ``HR@k = mean(rank < k)``, ``NDCG@k = mean(1 / log2(rank + 2))`` over hits.
    Returns ``{"hr": ..., "ndcg": ...}``.

    Args:
        model: a scoring model, ``model(users, items)`` -> scores (higher is better); run in eval mode.
        users: the user index of each list, (U,).
        candidates: the items to rank per user, (U, C), the held-out item first.
        k: the cut-off; default 10.
        batch_size: the number of lists per forward pass; default 1024.

    Raises:
        ShapeError: ``candidates`` is not (U, C).

    Examples:
        >>> model = cr.models.MatrixFactorization(num_users=2, num_items=4, embedding_dim=2, init_std=0.0)
        >>> model.item_bias.weight.data[:, 0] = [0.1, 0.4, 0.3, 0.2]  # scores by item alone
        >>> cr.models.ranking_metrics(model, [0, 1], [[1, 0, 2], [3, 1, 2]], k=2)  # ranks 0 (a hit) and 2 (a miss)
        {'hr': 0.5, 'ndcg': 0.5}
    """
    users = np.asarray(users, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    if candidates.ndim != 2 or candidates.shape[0] != users.shape[0]:
        raise ShapeError(f"ranking_metrics: candidates {candidates.shape} do not fit users {users.shape}")
    was_training = model.training
    model.eval()
    ranks = []
    try:
        with no_grad():
            for start in range(0, len(users), batch_size):
                part = slice(start, start + batch_size)
                cand = candidates[part]
                scores = model(np.broadcast_to(users[part, None], cand.shape).copy(), cand)._data
                ranks.append((scores[:, 1:] >= scores[:, :1]).sum(axis=1))
    finally:
        model.train(was_training)
    rank = np.concatenate(ranks) if ranks else np.zeros(0)
    hit = rank < k
    return {"hr": float(hit.mean()), "ndcg": float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())}


# ---------------------------------------------------------------------------
# recommending


class Recommendation(NamedTuple):
    item_id: object
    title: str
    score: float


class Recommender:
    """A trained model with what it takes to answer "what should user X watch next?".

    ``user_ids`` / ``item_ids`` are the raw ids in index order, ``titles``
    (num_items,) str or None, ``seen`` a (n, 2) int64 array of (user index,
    item index) pairs that are never recommended (the user's own ratings).
    :meth:`save` writes one safetensors file (weights, config, ids, titles,
    seen pairs; JSON metadata, no pickle); :meth:`load` reads it back.

    Args:
        model: a ``MatrixFactorization`` or ``NeuMF`` (anything with ``score_items(user)`` and, to save, ``config()``).
        user_ids: the raw user id of each user index.
        item_ids: the raw item id of each item index.
        titles: the item titles in index order, or None (the ids are shown instead).
        seen: (user index, item index) pairs not to recommend, (n, 2), or None.

    Examples:
        >>> model = cr.models.MatrixFactorization(num_users=2, num_items=4, embedding_dim=2, init_std=0.0)
        >>> model.item_bias.weight.data[:, 0] = [0.1, 0.4, 0.3, 0.2]
        >>> titles = ["Kolya (1996)", "L.A. Confidential (1997)", "Heavyweights (1994)", "Legends of the Fall (1994)"]
        >>> rec = cr.models.Recommender(model, user_ids=[196, 186], item_ids=[242, 302, 377, 51], titles=titles,
        ...                             seen=[[0, 1]])  # user 196 rated L.A. Confidential
        >>> [r.title for r in rec.recommend(196, k=2)]
        ['Heavyweights (1994)', 'Legends of the Fall (1994)']
        >>> cr.models.Recommender.load(rec.save("recommender.safetensors")).recommend(196, k=1)[0].item_id
        377
    """

    FILENAME = "recommender.safetensors"

    def __init__(self, model, user_ids, item_ids, titles=None, seen=None):
        self.model = model
        self.user_ids = np.asarray(user_ids)
        self.item_ids = np.asarray(item_ids)
        self.titles = None if titles is None else np.asarray(titles, dtype=str)
        seen = np.zeros((0, 2), dtype=np.int64) if seen is None else np.asarray(seen, dtype=np.int64)
        order = np.argsort(seen[:, 0], kind="stable")
        self._seen_users = seen[order, 0]
        self._seen_items = seen[order, 1]

    def user_index(self, user_id) -> int:
        """The index of the raw ``user_id`` (``"196"`` or ``196`` for integer ids); RecommenderError if unknown."""
        ids = self.user_ids
        try:
            key = int(user_id) if ids.dtype.kind in "iu" else str(user_id)
        except (TypeError, ValueError):
            key = None
        hits = np.flatnonzero(ids == key) if key is not None else np.empty(0, dtype=np.intp)
        if len(hits) == 0:
            raise RecommenderError(
                f"unknown user {user_id!r}: the model knows {len(ids)} users "
                f"(ids {ids[0].item()!r} .. {ids[-1].item()!r})"
            )
        return int(hits[0])

    def seen_items(self, user_index: int) -> np.ndarray:
        """The item indices ``user_index`` has rated (never recommended to them)."""
        start, stop = np.searchsorted(self._seen_users, [user_index, user_index + 1])
        return self._seen_items[start:stop]

    def recommend(self, user_id, k: int = 10, exclude_seen: bool = True) -> list:
        """The ``k`` best-scored items for the raw ``user_id``, best first, skipping the ones they rated."""
        if k < 1:
            raise RecommenderError(f"k must be a positive integer, got {k}")
        user = self.user_index(user_id)
        scores = np.asarray(self.model.score_items(user), dtype=np.float64)
        if exclude_seen:
            scores[self.seen_items(user)] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by item index
        return [
            Recommendation(
                self.item_ids[i].item(),
                str(self.titles[i]) if self.titles is not None else str(self.item_ids[i]),
                float(scores[i]),
            )
            for i in top
        ]

    def save(self, path) -> Path:
        """Write the bundle to ``path`` (a file, or ``recommender.safetensors`` in a directory); returns its path."""
        from ..io import save  # noqa: PLC0415

        path = Path(path)
        if path.is_dir():
            path = path / self.FILENAME
        state = {
            "format": "chainrule.recommender/1",
            "model": type(self.model).__name__,
            "config": self.model.config(),
            "weights": self.model.state_dict(),
            "user_ids": _ids_for_save(self.user_ids),
            "item_ids": _ids_for_save(self.item_ids),
            "titles": None if self.titles is None else [str(t) for t in self.titles],
            "seen": np.stack([self._seen_users, self._seen_items], axis=1),
        }
        return save(state, path)

    @classmethod
    def load(cls, path) -> Recommender:
        """Read a bundle: a ``recommender.safetensors`` file or a run directory holding one.

        The bundle may come from anyone: in a run directory the file must be
        a regular file inside it (a symlink out is refused); everything in
        it is checked (model kind, config, the shape of every weight against
        the config, ids, titles, seen pairs) before the model is built, so
        memory is bounded by the file's size, and any problem is one
        RecommenderError naming the file and the entry.
        """
        from ..io import CheckpointError, load  # noqa: PLC0415

        path = Path(path)
        if path.is_dir():
            path = inside(path.resolve(), cls.FILENAME, RecommenderError, f"run directory {path}")
        if not regular_file(path, RecommenderError):
            raise RecommenderError(f"no recommender bundle at {path} (train one with chainrule train --recipe ...)")
        try:
            state = load(path)
        except CheckpointError as exc:
            raise RecommenderError(str(exc)) from None
        return cls(*_from_bundle(state, path))


_BUNDLE_FORMAT = "chainrule.recommender/1"
_BUNDLE_KEYS = ("format", "model", "config", "weights", "user_ids", "item_ids", "titles", "seen")


def _count(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        return "a positive integer"
    return None


def _real(low: float, high: float, closed_high: bool = True):
    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            return f"a number in [{low}, {high}{']' if closed_high else ')'}"
        ok = low <= value <= high if closed_high else low <= value < high
        return None if ok else f"a number in [{low}, {high}{']' if closed_high else ')'}"

    return check


def _flag(value) -> str | None:
    return None if isinstance(value, (bool, np.bool_)) else "true or false"


def _widths(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value or any(_count(v) for v in value) or value[0] % 2:
        return "a non-empty list of positive integers starting with an even one"
    return None


_CONFIG_RULES = {
    "MatrixFactorization": {
        "num_users": _count,
        "num_items": _count,
        "embedding_dim": _count,
        "weight_decay": _real(0.0, 1e30),
        "global_bias": _real(-1e30, 1e30),
        "init_std": _real(0.0, 1e30),
        "sparse": _flag,
    },
    "NeuMF": {
        "num_users": _count,
        "num_items": _count,
        "gmf_dim": _count,
        "mlp_layers": _widths,
        "dropout": _real(0.0, 1.0, closed_high=False),
        "sparse": _flag,
    },
}

_RETRAIN = "the bundle is damaged or was not written by chainrule; train it again with chainrule train --recipe ..."


def _entry(state: dict, key: str, path):
    if key not in state:
        raise RecommenderError(f"{path}: the bundle has no '{key}' entry ({_RETRAIN})")
    return state[key]


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _id_table(value, length: int, key: str, path) -> np.ndarray:
    """The raw ids of one table: an int64 array, or a list of strings, of ``length`` entries."""
    value = _array(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            raise RecommenderError(
                f"{path}: '{key}' must be a 1-d integer array or a list of strings, got an array of "
                f"shape {value.shape} and dtype {value.dtype} ({_RETRAIN})"
            )
        table = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        table = string_array(value, RecommenderError, f"{path}: '{key}'", "id")
    else:
        raise RecommenderError(f"{path}: '{key}' must be a list of strings or an integer array ({_RETRAIN})")
    if len(table) != length:
        raise RecommenderError(
            f"{path}: '{key}' has {len(table)} ids, but the model's config says {length} ({_RETRAIN})"
        )
    return table


def _from_bundle(state, path) -> tuple:
    """(model, user_ids, item_ids, titles, seen) from a loaded bundle, every entry checked before allocating."""
    found = state.get("format") if isinstance(state, dict) else type(state).__name__
    if not isinstance(found, str) or found != _BUNDLE_FORMAT:
        raise RecommenderError(
            f"{path} is not a chainrule recommender bundle (format {_shown(found)}, expected '{_BUNDLE_FORMAT}')"
        )
    unknown = [k for k in state if k not in _BUNDLE_KEYS]
    if unknown:
        raise RecommenderError(f"{path}: unexpected entries {_shown(unknown)} in the bundle ({_RETRAIN})")
    name = _entry(state, "model", path)
    if not isinstance(name, str) or name not in MODELS:
        raise RecommenderError(f"{path}: unknown model {_shown(name)}; chainrule knows {', '.join(MODELS)}")
    kind: Any = MODELS[name]
    rules = _CONFIG_RULES[name]
    config = _entry(state, "config", path)
    if not isinstance(config, dict):
        raise RecommenderError(f"{path}: 'config' must be a table of settings, got {type(config).__name__}")
    for key, value in config.items():
        if key not in rules:
            raise RecommenderError(f"{path}: config key {_shown(key)} is not a setting of {name} ({_RETRAIN})")
        wanted = rules[key](value)
        if wanted:
            raise RecommenderError(f"{path}: config {key} must be {wanted}, got {_shown(value)} ({_RETRAIN})")
    for key in ("num_users", "num_items"):
        if key not in config:
            raise RecommenderError(f"{path}: config has no {key} ({_RETRAIN})")
    config = {
        k: (list(v) if isinstance(v, (list, tuple)) else v.item() if isinstance(v, np.generic) else v)
        for k, v in config.items()
    }
    # the weights decide the memory: every shape the config implies must be one the file holds
    weights = _entry(state, "weights", path)
    if not isinstance(weights, dict):
        raise RecommenderError(f"{path}: 'weights' must be a table of tensors, got {type(weights).__name__}")
    expected = kind.state_shapes(config)
    problems = []
    for key, shape in expected.items():
        if key not in weights:
            problems.append(f"{key} is missing")
            continue
        array = _array(weights[key])
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            problems.append(f"{key} is not a floating-point tensor")
        elif array.shape != tuple(shape):
            problems.append(f"{key} has shape {array.shape}, the config needs {tuple(shape)}")
    problems += [f"{key} is not a tensor of {name}" for key in weights if key not in expected]
    if problems:
        sizes = ", ".join(f"{k}={_shown(v, 24)}" for k, v in config.items() if k != "sparse")
        raise RecommenderError(
            f"{path}: the weights do not fit the config ({name} with {sizes}): {'; '.join(problems[:8])}"
            + (f" and {len(problems) - 8} more" if len(problems) > 8 else "")
            + f" ({_RETRAIN})"
        )
    users, items = config["num_users"], config["num_items"]
    user_ids = _id_table(_entry(state, "user_ids", path), users, "user_ids", path)
    item_ids = _id_table(_entry(state, "item_ids", path), items, "item_ids", path)
    titles = _entry(state, "titles", path)
    if titles is not None:
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles) or len(titles) != items:
            raise RecommenderError(f"{path}: 'titles' must be null or a list of {items} strings ({_RETRAIN})")
        titles = string_array(titles, RecommenderError, f"{path}: 'titles'", "title")
    seen = _array(_entry(state, "seen", path))
    if not isinstance(seen, np.ndarray) or seen.ndim != 2 or seen.shape[1] != 2 or seen.dtype.kind not in "iu":
        raise RecommenderError(
            f"{path}: 'seen' must be an (n, 2) integer array of (user index, item index) pairs ({_RETRAIN})"
        )
    if len(seen) and (seen.min(axis=0) < 0).any() or len(seen) and (seen.max(axis=0) >= (users, items)).any():
        raise RecommenderError(
            f"{path}: 'seen' holds pairs outside the {users} users x {items} items of the model ({_RETRAIN})"
        )
    model = kind(**config)
    model.load_state_dict(weights)
    model.eval()
    return model, user_ids, item_ids, titles, seen


def _ids_for_save(ids: np.ndarray):
    return ids.astype(np.int64) if ids.dtype.kind in "iu" else [str(x) for x in ids]


def _ids_from_save(ids):
    if isinstance(ids, Tensor):
        return ids._data
    return np.asarray(ids)
