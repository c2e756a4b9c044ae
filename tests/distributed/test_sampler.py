"""DistributedSampler: disjoint shards that cover the data, per-epoch order, the global-batch property."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import DistributedConfigError, DistributedSampler


def shards(n, replicas, **kwargs):
    out = []
    for rank in range(replicas):
        sampler = DistributedSampler(range(n), replicas, rank, **kwargs)
        out.append(np.fromiter(iter(sampler), dtype=np.int64))
        assert len(out[-1]) == len(sampler)
    return out


@pytest.mark.parametrize("n, replicas", [(10, 3), (12, 4), (7, 2), (2, 3), (1, 1)])
def test_padded_shards_are_equal_in_length_and_cover_everything(n, replicas):
    parts = shards(n, replicas, seed=5)
    assert len({len(p) for p in parts}) == 1
    assert sum(len(p) for p in parts) == -(-n // replicas) * replicas
    assert set(np.concatenate(parts).tolist()) == set(range(n))


def test_drop_last_drops_the_tail_and_repeats_nothing():
    parts = shards(10, 3, drop_last=True)
    flat = np.concatenate(parts)
    assert [len(p) for p in parts] == [3, 3, 3]
    assert len(set(flat.tolist())) == 9


def test_without_padding_every_sample_is_seen_once():
    parts = shards(10, 3, padding=False, shuffle=False)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert parts[1].tolist() == [1, 4, 7]


def test_each_epoch_has_its_own_order_and_the_same_on_every_call():
    sampler = DistributedSampler(range(50), 2, 0, seed=1)
    first = sampler.indices().copy()
    assert np.array_equal(first, sampler.indices())
    sampler.set_epoch(1)
    assert not np.array_equal(first, sampler.indices())
    sampler.set_epoch(0)
    assert np.array_equal(first, sampler.indices())
    other_seed = DistributedSampler(range(50), 2, 0, seed=2)
    assert not np.array_equal(first, other_seed.indices())


@pytest.mark.parametrize("replicas", [2, 4])
def test_local_batches_make_up_the_single_process_batch(replicas):
    """Rank r's i-th batch of B/N samples, over all r, is the i-th batch of B that one process draws."""
    global_batch, n = 8, 40
    one = DistributedSampler(range(n), 1, 0, seed=9)
    one.set_epoch(3)
    single = one.indices()
    local = global_batch // replicas
    for step in range(n // global_batch):
        union = []
        for rank in range(replicas):
            sampler = DistributedSampler(range(n), replicas, rank, seed=9)
            sampler.set_epoch(3)
            union += sampler.indices()[step * local : (step + 1) * local].tolist()
        assert sorted(union) == sorted(single[step * global_batch : (step + 1) * global_batch].tolist())


def test_dataloader_reads_the_shard():
    x = cr.arange(20).reshape(10, 2).float()
    y = cr.arange(10)
    sampler = DistributedSampler(TensorDataset(x, y), 2, 1, shuffle=False)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, sampler=sampler)
    targets = [int(v) for _, yb in loader for v in yb.tolist()]
    assert targets == [1, 3, 5, 7, 9]
    assert len(loader) == 3


def test_state_dict_round_trip():
    a = DistributedSampler(range(30), 3, 2, seed=4)
    a.set_epoch(7)
    b = DistributedSampler(range(30), 3, 2)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.indices(), b.indices())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_replicas": 2, "rank": 2}, "invalid rank 2"),
        ({"num_replicas": 2, "rank": -1}, "invalid rank -1"),
        ({"num_replicas": 0, "rank": 0}, "num_replicas must be a positive int"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(DistributedConfigError, match=match):
        DistributedSampler(range(5), **kwargs)
    with pytest.raises(ValueError):
        DistributedSampler(range(5), **kwargs)


def test_defaults_come_from_the_world():
    sampler = DistributedSampler(range(6))
    assert (sampler.rank, sampler.num_replicas) == (0, 1)
    assert sorted(sampler.indices().tolist()) == list(range(6))
