"""DataLoader: batches from a dataset, shuffled with a seeded generator.

Each epoch's order is drawn from ``generator`` (the default generator when
None) when iteration starts, so ``cr.manual_seed`` (or a saved generator
state) reproduces every epoch exactly.  A TensorDataset, or a Subset of one,
is batched by slicing the tensors with the batch's indices: no per-sample
Python work.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..creation import tensor as make_tensor
from ..ops.shape import stack
from ..random import numpy_rng
from ..tensor import Tensor, _wrap
from .dataset import Subset, TensorDataset


def default_collate(samples):
    """Stack a list of samples: tensors, arrays and numbers stack; tuples and dicts recurse.

    Tensors and NumPy arrays are stacked along a new first dimension (the
    result is recorded when a sample requires grad); Python ints become an
    int64 tensor, floats float32, bools bool; strings stay a list.

    Args:
        samples: a non-empty list of samples of the same structure.

    Returns:
        The batch, with the structure of one sample: a tensor of shape (len(samples), ...), or a tuple, list or
        dict of batches.

    Raises:
        TypeError: a sample of a type it cannot batch.

    Examples:
        >>> cr.data.default_collate([(cr.tensor([1.0, 2.0]), 0), (cr.tensor([3.0, 4.0]), 1)])
        (tensor([[1., 2.],
                [3., 4.]]), tensor([0, 1]))
        >>> cr.data.default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
        {'x': tensor([1.5000, 2.5000]), 'name': ['a', 'b']}
    """
    first = samples[0]
    if isinstance(first, Tensor):
        return (
            stack(samples, 0) if any(s.requires_grad for s in samples) else _wrap(np.stack([s.data for s in samples]))
        )
    if isinstance(first, np.ndarray):
        return _wrap(np.stack(samples))
    if isinstance(first, (bool, np.bool_)):
        return make_tensor(np.array(samples, dtype=bool))
    if isinstance(first, numbers.Integral):
        return make_tensor(np.array(samples, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return make_tensor(np.array(samples, dtype=np.float32))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        return (
            type(first)(default_collate(list(column)) for column in zip(*samples))
            if isinstance(first, tuple)
            else [default_collate(list(column)) for column in zip(*samples)]
        )
    if isinstance(first, str):
        return list(samples)
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` (PyTorch's DataLoader, single process).

    ``sampler``, when given, is an iterable of indices that replaces shuffling
    (for example a DistributedSampler). Each epoch's order is drawn when
    iteration starts, so a seed reproduces every epoch. A ``TensorDataset`` (or
    a Subset of one) without a ``collate_fn`` is batched by slicing its tensors.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``).
        batch_size: the number of samples per batch, a positive int; default 1.
        shuffle: draw a new order every epoch; default False (the dataset's order).
        drop_last: drop the last batch when it is smaller than ``batch_size``; default False.
        generator: the ``cr.Generator`` that shuffles; None means the default one.
        collate_fn: a function from a list of samples to a batch; None means ``default_collate``.
        sampler: an iterable of indices (with ``__len__``) giving the order; not with ``shuffle``.
        num_workers: accepted for PyTorch's signature; loading always runs in this process.
        pin_memory: accepted for PyTorch's signature and ignored.

    Raises:
        ValueError: ``batch_size`` < 1, or both ``shuffle`` and a ``sampler``.

    Examples:
        >>> ds = cr.data.TensorDataset(cr.arange(10).float(), cr.arange(10))
        >>> loader = cr.data.DataLoader(ds, batch_size=4)
        >>> len(loader), [y.tolist() for x, y in loader]
        (3, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        >>> shuffled = cr.data.DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)
        >>> [x.shape for x, y in shuffled]
        [(4,), (4,)]
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator=None,
        collate_fn=None,
        sampler=None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        if batch_size is None or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: pass either shuffle=True or a sampler, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.collate_fn = collate_fn
        self.sampler = sampler
        self.num_workers = num_workers  # accepted for compatibility; loading runs in this process

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if self.shuffle:
            return numpy_rng(self.generator).permutation(n)
        return np.arange(n)

    def _fast_source(self):
        """(tensors, index map) when batches can be sliced straight out of tensors."""
        if self.collate_fn is not None:
            return None
        ds, index_map = self.dataset, None
        if isinstance(ds, Subset) and isinstance(ds.dataset, TensorDataset):
            ds, index_map = ds.dataset, ds.indices
        if isinstance(ds, TensorDataset):
            return ds.tensors, index_map
        return None

    def __iter__(self):
        order = self._order()
        fast = self._fast_source()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            if fast is not None:
                tensors, index_map = fast
                rows = idx if index_map is None else index_map[idx]
                yield tuple(_wrap(t.data[rows]) for t in tensors)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)
