"""Map-style datasets: anything with ``__len__`` and ``__getitem__``."""

from __future__ import annotations

import bisect
import math

import numpy as np

from ..errors import ShapeError
from ..random import numpy_rng
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__getitem__(i)`` and ``__len__()``.

    A map-style dataset: sample ``i`` is ``dataset[i]`` (a tensor, a number,
    or a tuple or dict of them, which ``default_collate`` batches). ``a + b``
    concatenates two datasets.

    Examples:
        >>> class Squares(cr.data.Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return float(i), i * i
        >>> next(iter(cr.data.DataLoader(Squares(), batch_size=4)))
        (tensor([0., 1., 2., 3.]), tensor([0, 1, 4, 9]))
    """

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of stream-style datasets: subclasses define ``__iter__`` instead of ``__getitem__``.

    A DataLoader draws ``batch_size`` items at a time from the stream. With
    ``num_workers > 0`` every worker iterates its own copy of the dataset, so
    the dataset should split the stream between workers with
    ``get_worker_info()`` (or each item comes once per worker, as in
    PyTorch). ``a + b`` chains two of them.

    Examples:
        >>> class Count(cr.utils.data.IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         info = cr.utils.data.get_worker_info()
        ...         first, step = (0, 1) if info is None else (info.id, info.num_workers)
        ...         return iter(range(first, self.n, step))
        >>> [b.tolist() for b in cr.utils.data.DataLoader(Count(5), batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """

    def __iter__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} has no len() (an IterableDataset that knows it defines __len__)")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several IterableDatasets one after the other (also ``a + b``).

    Args:
        datasets: an iterable of IterableDatasets.

    Examples:
        >>> class Stream(cr.utils.data.IterableDataset):
        ...     def __init__(self, items):
        ...         self.items = items
        ...     def __iter__(self):
        ...         return iter(self.items)
        >>> list(cr.utils.data.ChainDataset([Stream([1, 2]), Stream([3])]))
        [1, 2, 3]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension: ``ds[i] = (x[i], y[i])``.

    DataLoader recognises it and slices whole batches at once instead of
    stacking single samples.

    Args:
        tensors: one or more tensors of shapes (N, ...), the same N.

    Raises:
        ValueError: no tensor.
        ShapeError: the tensors' first dimensions differ.

    Examples:
        >>> x, y = cr.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), cr.tensor([0, 1, 0])
        >>> ds = cr.data.TensorDataset(x, y)
        >>> len(ds), ds[1]
        (3, (tensor([2., 3.]), tensor(1)))
    """

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if t.shape[0] != n:
                raise ShapeError(f"TensorDataset: tensor {i} has {t.shape[0]} rows, tensor 0 has {n}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``.

    Args:
        dataset: the dataset to draw from.
        indices: the positions in ``dataset`` of the subset's samples, a sequence of ints (kept as an int64 array).

    Examples:
        >>> ds = cr.data.TensorDataset(cr.tensor([10, 11, 12, 13]))
        >>> sub = cr.data.Subset(ds, [3, 0])
        >>> len(sub), sub[0]
        (2, (tensor(13),))
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[self.indices[np.asarray(index)]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other (also ``a + b``).

    Args:
        datasets: an iterable of datasets.

    Examples:
        >>> a = cr.data.TensorDataset(cr.tensor([1, 2]))
        >>> b = cr.data.TensorDataset(cr.tensor([3, 4, 5]))
        >>> both = cr.data.ConcatDataset([a, b])
        >>> len(both), both[2], both[-1]
        (5, (tensor(3),), (tensor(5),))
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.cumulative = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        which = bisect.bisect_right(self.cumulative, index)
        start = self.cumulative[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping Subsets of the given lengths (or fractions summing to 1).

    With fractions, the counts are rounded down and the samples left over are
    given one each to the first parts, as PyTorch does.

    Args:
        dataset: the dataset to split, of N samples.
        lengths: the sizes of the parts, ints summing to N, or floats summing to 1.
        generator: the ``cr.Generator`` that draws the permutation; None means the default one.

    Returns:
        A list of ``Subset``, one per length.

    Raises:
        ValueError: the lengths do not add up to N.

    Examples:
        >>> ds = cr.data.TensorDataset(cr.arange(10))
        >>> train, val = cr.data.random_split(ds, [0.8, 0.2], generator=cr.Generator(seed=0))
        >>> len(train), len(val), sorted(train.indices.tolist() + val.indices.tolist()) == list(range(10))
        (8, 2, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1 + 1e-9:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} samples")
    order = numpy_rng(generator).permutation(n)
    out = []
    start = 0
    for length in lengths:
        out.append(Subset(dataset, order[start : start + length]))
        start += length
    return out
