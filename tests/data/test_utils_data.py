"""chainrule.utils.data: PyTorch's import paths, lazy samplers, worker processes (seeds, order, errors, cleanup)."""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)


class Squares(Dataset):
    """Samples that are not a TensorDataset, so workers index and collate them."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i * i, dtype=np.float32), i


class Noisy(Dataset):
    """Each sample draws from the worker's seeded generators: the values depend on the seeding."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "i": i,
            "cr": float(cr.rand(1).item()),
            "np": float(np.random.rand()),
            "py": random.random(),
            "worker": -1 if info is None else info.id,
        }


class FailsAt(Dataset):
    def __init__(self, bad):
        self.bad = bad

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == self.bad:
            raise KeyError(f"sample {i} is missing")
        return i


class Pids(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return os.getpid()


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(first, self.n, step))


def _record_worker(worker_id):
    os.environ["CHAINRULE_TEST_WORKER"] = str(worker_id)


class WorkerEnv(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(os.environ.get("CHAINRULE_TEST_WORKER", "-1"))


def test_same_objects_under_both_import_paths():
    from chainrule.utils.data.dataloader import DataLoader as loader_class
    from chainrule.utils.data.dataset import Dataset as dataset_class
    from chainrule.utils.data.sampler import Sampler

    import chainrule.utils.data as ud
    from chainrule.utils.data.distributed import DistributedSampler

    assert ud.DataLoader is cr.data.DataLoader is loader_class
    assert ud.Dataset is cr.data.Dataset is dataset_class
    assert ud.Sampler is cr.data.Sampler is Sampler
    assert DistributedSampler is cr.distributed.DistributedSampler
    assert cr.utils.data is ud


def test_huge_sampler_with_replacement_gives_its_first_batch_at_once():
    """The first batch draws one chunk of indices, not 10**10 of them (80 GB): laziness, measured without a clock."""
    ds = TensorDataset(cr.arange(100))
    g = cr.Generator(seed=0)
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10), generator=g)
    loader = DataLoader(ds, batch_size=64, sampler=sampler)
    (batch,) = next(iter(loader))
    assert batch.shape == (64,) and 0 <= batch.min().item() and batch.max().item() < 100
    assert len(loader) == -(-int(1e10) // 64)
    reference = cr.Generator(seed=0)
    first_chunk = reference.numpy.integers(0, 100, size=8192, dtype=np.int64)
    assert g.get_state() == reference.get_state(), "the sampler drew more than one chunk before the first batch"
    assert batch.tolist() == first_chunk[:64].tolist()


def test_a_plain_iterable_sampler_is_read_lazily():
    ds = TensorDataset(cr.arange(10))
    drawn = []

    def endless():
        for i in itertools.cycle([1, 2, 3]):
            drawn.append(i)
            yield i

    (first,) = next(iter(DataLoader(ds, batch_size=3, sampler=endless())))
    assert first.tolist() == [1, 2, 3] and len(drawn) <= 8192


def test_samplers_match_pytorch_semantics():
    g = cr.Generator(seed=3)
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    order = list(RandomSampler(range(50), generator=g))
    assert sorted(order) == list(range(50)) and order != list(range(50))
    assert isinstance(order[0], int)
    more = list(RandomSampler(range(5), num_samples=12, generator=g))
    assert len(more) == 12 and sorted(more[:5]) == list(range(5)) and sorted(more[5:10]) == list(range(5))
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=20000, generator=g))
    assert len(drawn) == 20000 and set(drawn) == {0, 1, 2}
    assert sorted(SubsetRandomSampler([5, 9, 2], generator=g)) == [2, 5, 9]
    weighted = list(WeightedRandomSampler([0.0, 3.0, 1.0], 20000, generator=g))
    counts = np.bincount(weighted, minlength=3)
    assert counts[0] == 0 and 0.7 < counts[1] / 20000 < 0.8
    no_repeat = list(WeightedRandomSampler([1.0, 1.0, 1.0, 0.0], 3, replacement=False, generator=g))
    assert sorted(no_repeat) == [0, 1, 2]
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(3), 0, False)


def test_a_sampler_subclass_that_overrides_iter_is_followed():
    class Reversed(SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    ds = TensorDataset(cr.arange(5))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=Reversed(ds))] == [[4, 3], [2, 1], [0]]


def test_random_split_by_counts_and_fractions():
    ds = TensorDataset(cr.arange(10))
    a, b, c = random_split(ds, [0.5, 0.3, 0.2], generator=cr.Generator(seed=1))
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    d, e = random_split(ds, [0.34, 0.66])
    assert (len(d), len(e)) == (4, 6)  # floor 3 and 6, the one left over to the first part
    again = random_split(ds, [0.5, 0.3, 0.2], generator=cr.Generator(seed=1))
    assert a.indices.tolist() == again[0].indices.tolist()


def test_loader_options_as_pytorch():
    ds = TensorDataset(cr.arange(10))
    batches = list(DataLoader(ds, batch_sampler=[[0, 1], [5, 6, 7]]))
    assert [b[0].tolist() for b in batches] == [[0, 1], [5, 6, 7]]
    singles = list(DataLoader(Squares(3), batch_size=None))
    assert singles[2][1] == 2 and singles[2][0].tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(4), shuffle=True)
    assert [b.tolist() for b in DataLoader(Stream(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    both = ConcatDataset([Squares(2), Squares(3)])
    assert [y.tolist() for _, y in DataLoader(both, batch_size=5)] == [[0, 1, 0, 1, 2]]
    assert default_collate([(1, 2.0), (3, 4.0)])[0].tolist() == [1, 3]
    assert default_collate([np.float64(1.5), np.float64(2.5)]).dtype == cr.float64
    assert default_collate([np.int32(1), np.int32(2)]).dtype == cr.int32


class Batched(Dataset):
    """A dataset that loads a whole batch at once (PyTorch's ``__getitems__``)."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        raise AssertionError("the loader should call __getitems__")

    def __getitems__(self, indices):
        return [(i, 10 * i) for i in indices]


def test_getitems_loads_a_batch_at_once():
    assert [b[1].tolist() for b in DataLoader(Batched(), batch_size=4)] == [[0, 10, 20, 30], [40, 50]]


@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])  # spawn: ~3 s
def test_workers_give_the_batches_of_one_process(context):
    cr.manual_seed(7)
    ds = Squares(23)
    plain = [(x.tolist(), y.tolist()) for x, y in DataLoader(ds, batch_size=4, shuffle=True)]
    cr.manual_seed(7)
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, multiprocessing_context=context)
    parallel = [(x.tolist(), y.tolist()) for x, y in loader]
    assert parallel == plain
    sub = Subset(TensorDataset(cr.arange(20).float()), list(range(0, 20, 2)))
    fast = [b[0].tolist() for b in DataLoader(sub, batch_size=3, num_workers=3, multiprocessing_context=context)]
    assert fast == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0], [12.0, 14.0, 16.0], [18.0]]


def test_worker_seeds_are_per_worker_and_reproducible():
    def run():
        cr.manual_seed(11)
        loader = DataLoader(Noisy(), batch_size=2, num_workers=2, multiprocessing_context="fork")
        return [{k: v.tolist() for k, v in batch.items()} for batch in loader]

    first, second = run(), run()
    assert first == second
    workers = [w for batch in first for w in batch["worker"]]
    assert workers == [0, 0, 1, 1] * 3  # batches go to the workers in turn
    values = [v for batch in first for v in batch["cr"]]
    assert len(set(values)) == len(values)  # two workers do not repeat each other's numbers
    for key in ("np", "py"):
        column = [v for batch in first for v in batch[key]]
        assert len(set(column)) == len(column)
    cr.manual_seed(12)
    other = [batch["cr"].tolist() for batch in DataLoader(Noisy(), batch_size=2, num_workers=2)]
    assert other != [batch["cr"] for batch in first]


def test_an_error_in_a_worker_names_the_worker_and_the_samples():
    loader = DataLoader(FailsAt(5), batch_size=2, num_workers=2, multiprocessing_context="fork")
    with pytest.raises(KeyError, match=r"worker 0 while loading batch 2 \(from 0; sample indices \[4, 5\]\)") as info:
        list(loader)
    assert "sample 5 is missing" in str(info.value)


def test_workers_stop_after_the_epoch_and_when_abandoned():
    import multiprocessing

    before = set(multiprocessing.active_children())
    pids = [p for batch in DataLoader(Pids(), batch_size=2, num_workers=2) for p in batch.tolist()]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert set(multiprocessing.active_children()) == before
    iterator = iter(DataLoader(Pids(), batch_size=1, num_workers=2))
    next(iterator)
    iterator.close()
    assert set(multiprocessing.active_children()) == before


def test_persistent_workers_live_across_epochs():
    import multiprocessing

    before = set(multiprocessing.active_children())
    loader = DataLoader(Pids(), batch_size=4, num_workers=2, persistent_workers=True)
    first = {p for batch in loader for p in batch.tolist()}
    second = {p for batch in loader for p in batch.tolist()}
    assert first == second and len(first) == 2
    del loader
    assert set(multiprocessing.active_children()) == before


def test_worker_init_fn_and_iterable_datasets():
    values = [b.tolist() for b in DataLoader(WorkerEnv(), batch_size=2, num_workers=2, worker_init_fn=_record_worker)]
    assert values == [[0, 0], [1, 1]]
    streamed = [b.tolist() for b in DataLoader(Stream(7), batch_size=2, num_workers=2)]
    assert streamed == [[0, 2], [1, 3], [4, 6], [5]]  # worker 0's first batch, then worker 1's, ...
    assert sorted(itertools.chain.from_iterable(streamed)) == list(range(7))
