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
    """Stack a list of samples: tensors, arrays and numbers stack; tuples and dicts recurse."""
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
    (for example a DistributedSampler).
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
