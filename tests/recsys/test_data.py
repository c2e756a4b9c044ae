"""Ratings files, MovieLens-100k, splits and negative sampling (chainrule.data.datasets.movielens)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets.movielens import (
    InteractionsError,
    NegativeSamplingLoader,
    RatingsLoader,
    load_interactions,
    load_movielens_100k,
    movielens_100k_dir,
    ranking_candidates,
    sample_negatives,
    split_leave_last_out,
    split_random,
)

needs_ml100k = pytest.mark.skipif(movielens_100k_dir() is None, reason="MovieLens-100k: pip install --no-deps recbole")


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_finds_columns_by_name(tmp_path):
    path = _write(tmp_path, "r.csv", "movieId,userId,timestamp,rating\n10,7,100,4.5\n3,7,90,2\n10,2,95,5\n")
    data = load_interactions(path)
    assert data.user_ids.tolist() == [2, 7] and data.item_ids.tolist() == [3, 10]
    np.testing.assert_array_equal(data.users, [1, 1, 0])
    np.testing.assert_array_equal(data.items, [1, 0, 1])
    np.testing.assert_array_equal(data.ratings, np.array([4.5, 2, 5], np.float32))
    np.testing.assert_array_equal(data.timestamps, [100, 90, 95])
    assert data.ratings.dtype == np.float32 and data.user_index("7") == 1 and data.item_index(10) == 1


@pytest.mark.parametrize(
    "text,sep",
    [
        ("u1\ta\t3\t5\nu2\tb\t4\t6\n", None),  # TSV, no header, string ids
        ("u1::a::3::5\nu2::b::4::6\n", None),  # MovieLens-1M style
        ("u1 a 3 5\nu2  b 4 6\n", None),  # whitespace
        ("u1;a;3;5\nu2;b;4;6\n", ";"),
    ],
)
def test_separators_and_string_ids(tmp_path, text, sep):
    data = load_interactions(_write(tmp_path, "r.txt", text), sep=sep)
    assert data.user_ids.tolist() == ["u1", "u2"] and data.item_ids.tolist() == ["a", "b"]
    np.testing.assert_array_equal(data.ratings, [3, 4])
    with pytest.raises(InteractionsError, match="unknown user"):
        data.user_index("u3")


def test_two_columns_are_implicit_feedback(tmp_path):
    data = load_interactions(_write(tmp_path, "r.csv", "user,item\n1,5\n2,5\n"))
    np.testing.assert_array_equal(data.ratings, [1, 1])
    assert data.timestamps is None


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(InteractionsError, match="line 3: rating 'x' is not a number"):
        load_interactions(_write(tmp_path, "a.csv", "user,item,rating\n1,2,3\n1,3,x\n"))
    with pytest.raises(InteractionsError, match="line 2 has 2 fields"):
        load_interactions(_write(tmp_path, "b.csv", "1,2,3\n1,3\n"))
    with pytest.raises(InteractionsError, match="empty"):
        load_interactions(_write(tmp_path, "c.csv", "\n"))
    with pytest.raises(InteractionsError, match="not finite"):
        load_interactions(_write(tmp_path, "d.csv", "1,2,nan\n"))
    with pytest.raises(FileNotFoundError):
        load_interactions(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError, match="neither"):
        load_movielens_100k(tmp_path)


@needs_ml100k
def test_movielens_100k():
    data = load_movielens_100k()
    assert (len(data), data.num_users, data.num_items) == (100_000, 943, 1682)
    assert np.bincount(data.ratings.astype(int), minlength=6)[1:].tolist() == [6110, 11370, 27145, 34174, 21201]
    assert data.item_titles[data.item_index(1)] == "Toy Story (1995)"
    assert len(np.unique(data.users * 1682 + data.items)) == 100_000  # one rating per (user, movie)


def _toy():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(6), [1, 2, 3, 5, 8, 4])
    items = np.concatenate([rng.choice(20, size=n, replace=False) for n in [1, 2, 3, 5, 8, 4]])
    times = rng.permutation(len(users)).astype(float)
    times[-2:] = 50.0  # a tie: the later row in the file counts as later
    from chainrule.data.datasets.movielens import Interactions

    return Interactions(
        users, items, np.ones(len(users), np.float32), times, np.arange(6) + 100, np.arange(20) + 1000, None
    )


def test_split_random_is_a_partition_fixed_by_the_seed():
    data = _toy()
    a, b = split_random(data, (0.75, 0.25), seed=3)
    assert len(a) + len(b) == len(data) and len(b) == round(0.25 * len(data))
    keys = lambda d: set(zip(d.users.tolist(), d.items.tolist()))  # noqa: E731
    assert keys(a) | keys(b) == keys(data) and not keys(a) & keys(b)
    again = split_random(data, (0.75, 0.25), seed=3)[1]
    np.testing.assert_array_equal(again.items, b.items)
    assert not np.array_equal(split_random(data, (0.75, 0.25), seed=4)[1].items, b.items)
    with pytest.raises(InteractionsError, match="sum to 1"):
        split_random(data, (0.5, 0.3))


def test_leave_last_out_holds_out_each_users_latest():
    data = _toy()
    train, val, test = split_leave_last_out(data, validation=True)
    assert len(train) + len(val) + len(test) == len(data)
    for u in range(6):
        rows = np.flatnonzero(data.users == u)
        order = rows[np.lexsort((rows, data.timestamps[rows]))]
        if len(rows) <= 2:  # too few: everything stays in train
            assert u not in test.users and u not in val.users
            continue
        assert test.items[test.users == u].tolist() == [data.items[order[-1]]]
        assert val.items[val.users == u].tolist() == [data.items[order[-2]]]
    train2, test2 = split_leave_last_out(data)
    assert len(test2) == 5 and len(train2) == len(data) - 5


def test_negatives_avoid_known_items():
    data = _toy()
    rng = np.random.default_rng(0)
    neg = sample_negatives(data.keys(), data.users, data.num_items, 7, rng)
    assert neg.shape == (len(data), 7)
    assert not np.isin(data.users[:, None] * data.num_items + neg, data.keys()).any()
    train, test = split_leave_last_out(data)
    users, cands = ranking_candidates(data, test, num_negatives=9, seed=1)
    assert cands.shape == (len(test), 10)
    np.testing.assert_array_equal(cands[:, 0], test.items)
    assert not np.isin(users[:, None] * data.num_items + cands[:, 1:], data.keys()).any()
    assert all(len(set(row)) == 10 for row in cands.tolist())
    np.testing.assert_array_equal(ranking_candidates(data, test, 9, seed=1)[1], cands)
    with pytest.raises(InteractionsError, match="unrated"):
        ranking_candidates(data, test, num_negatives=19)


def test_negative_sampling_loader_pointwise_and_pairwise():
    data = _toy()
    loader = NegativeSamplingLoader(data, num_negatives=3, batch_size=16, generator=cr.Generator().manual_seed(5))
    batches = list(loader)
    assert len(batches) == len(loader) == -(-len(data) * 4 // 16)
    users = np.concatenate([b[0][0]._data for b in batches])
    items = np.concatenate([b[0][1]._data for b in batches])
    labels = np.concatenate([b[1]._data for b in batches])
    assert labels.dtype == np.float32 and labels.sum() == len(data) and len(labels) == 4 * len(data)
    known = np.isin(users * data.num_items + items, data.keys())
    np.testing.assert_array_equal(known, labels == 1)
    # the same generator state gives the same epoch; the next epoch differs
    again = list(NegativeSamplingLoader(data, 3, 16, generator=cr.Generator().manual_seed(5)))
    np.testing.assert_array_equal(again[0][0][1]._data, batches[0][0][1]._data)
    assert not np.array_equal(next(iter(loader))[0][1]._data, batches[0][0][1]._data)
    pairs = NegativeSamplingLoader(data, 2, 8, pairwise=True, generator=cr.Generator().manual_seed(1))
    (u, pos, neg), ones = next(iter(pairs))
    assert ones._data.tolist() == [1.0] * 8
    assert np.isin(u._data * data.num_items + pos._data, data.keys()).all()
    assert not np.isin(u._data * data.num_items + neg._data, data.keys()).any()


def test_ratings_loader_shapes():
    data = _toy()
    (users, items), ratings = next(iter(RatingsLoader(data, batch_size=5)))
    assert users.shape == items.shape == ratings.shape == (5,) and ratings.dtype == cr.float32
