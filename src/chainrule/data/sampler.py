"""Samplers: the order in which a DataLoader visits a map-style dataset, with PyTorch's names and options.

Every sampler is lazy: iteration draws indices as they are asked for, so the
first batch of ``RandomSampler(ds, replacement=True, num_samples=10**10)``
comes at once.  Besides ``__iter__`` (Python ints, as PyTorch's yield), the
built-in samplers have ``_chunks()``, which yields the same indices as int64
arrays a few thousand at a time; ``BatchSampler`` and the DataLoader slice
batches out of those without a Python step per sample.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from ..random import numpy_rng

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]

_CHUNK = 8192  # indices drawn per step of a lazy sampler


class Sampler:
    """Base class of samplers: an iterable of dataset indices, usually with a ``__len__``.

    Subclasses define ``__iter__`` (and ``__len__`` when the count is known).
    Anything iterable can serve as a DataLoader's ``sampler``; this class is
    there for ``isinstance`` checks and for PyTorch programs that subclass it.

    Args:
        data_source: accepted for PyTorch's signature and ignored (default None).

    Examples:
        >>> class Backwards(cr.utils.data.Sampler):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n - 1, -1, -1))
        ...     def __len__(self):
        ...         return self.n
        >>> list(Backwards(3))
        [2, 1, 0]
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def _chunks(self):
        """The indices as int64 arrays, lazily (a generic sampler: islice over ``iter(self)``)."""
        return _chunks_of(iter(self))


def _chunks_of(iterator, size: int = _CHUNK):
    while True:
        chunk = np.fromiter(itertools.islice(iterator, size), dtype=np.int64)
        if not len(chunk):
            return
        yield chunk


def _iter_chunks(chunks):
    for chunk in chunks:
        yield from chunk.tolist()


def _check_count(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class SequentialSampler(Sampler):
    """The indices ``0, 1, ..., len(data_source) - 1`` in order.

    Args:
        data_source: the dataset (anything with ``__len__``).

    Examples:
        >>> list(cr.utils.data.SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def _chunks(self):
        n = len(self.data_source)
        for start in range(0, n, _CHUNK):
            yield np.arange(start, min(start + _CHUNK, n), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))


class RandomSampler(Sampler):
    """A random order of the dataset's indices: a new permutation each epoch, or draws with replacement.

    Without replacement, each epoch is a permutation of ``range(n)`` (repeated
    when ``num_samples`` exceeds n, as in PyTorch); with replacement, each
    index is drawn uniformly and independently, ``num_samples`` times, a few
    thousand at a time, so a huge ``num_samples`` costs nothing up front.

    Args:
        data_source: the dataset (anything with ``__len__``).
        replacement: draw with replacement (default False).
        num_samples: how many indices an epoch yields (default None: ``len(data_source)``).
        generator: the ``cr.Generator`` to draw from (default None: the default generator, which
            ``cr.manual_seed`` seeds; the order is drawn when iteration starts).

    Raises:
        ValueError: ``num_samples`` is not a positive int, or ``replacement`` not a bool.

    Examples:
        >>> g = cr.Generator(seed=0)
        >>> sorted(cr.utils.data.RandomSampler(range(5), generator=g))
        [0, 1, 2, 3, 4]
        >>> sampler = cr.utils.data.RandomSampler(range(5), replacement=True, num_samples=10**10, generator=g)
        >>> len(sampler), 0 <= next(iter(sampler)) < 5
        (10000000000, True)
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None:
            _check_count("RandomSampler", "num_samples", num_samples)

    @property
    def num_samples(self) -> int:
        """How many indices one epoch yields."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def _chunks(self):
        n, total = len(self.data_source), self.num_samples
        rng = numpy_rng(self.generator)
        if self.replacement:
            for start in range(0, total, _CHUNK):
                yield rng.integers(0, n, size=min(_CHUNK, total - start), dtype=np.int64)
            return
        left = total
        while left > 0:
            order = rng.permutation(n)
            yield order[:left] if left < n else order
            left -= n

    def __iter__(self):
        return _iter_chunks(self._chunks())


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order each epoch, without replacement.

    Args:
        indices: a sequence of dataset indices.
        generator: the ``cr.Generator`` to draw from (default None: the default generator).

    Examples:
        >>> sorted(cr.utils.data.SubsetRandomSampler([7, 3, 5], generator=cr.Generator(seed=1)))
        [3, 5, 7]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __len__(self) -> int:
        return len(self.indices)

    def _chunks(self):
        indices = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        yield indices[numpy_rng(self.generator).permutation(len(indices))]

    def __iter__(self):
        return _iter_chunks(self._chunks())


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``range(len(weights))``, index i drawn with probability proportional to weights[i].

    Args:
        weights: a sequence of non-negative weights (need not sum to 1).
        num_samples: how many indices an epoch yields.
        replacement: draw with replacement (default True); without it, ``num_samples <= len(weights)``.
        generator: the ``cr.Generator`` to draw from (default None: the default generator).

    Raises:
        ValueError: ``num_samples`` is not a positive int, a weight is negative or not finite, all weights are
            zero, or more samples than non-zero weights are asked for without replacement.

    Examples:
        >>> sampler = cr.utils.data.WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=cr.Generator(seed=0))
        >>> list(sampler)
        [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement!r}")
        self.num_samples = _check_count("WeightedRandomSampler", "num_samples", num_samples)
        data = getattr(weights, "_data", None)
        array = np.asarray(weights if data is None else data, dtype=np.float64).reshape(-1)
        if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 0) or not array.sum() > 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, non-negative and not all zero "
                f"(got {array.size} weights)"
            )
        if not replacement and self.num_samples > np.count_nonzero(array):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement from "
                f"{np.count_nonzero(array)} non-zero weights"
            )
        self.weights = array
        self.replacement = replacement
        self.generator = generator

    def __len__(self) -> int:
        return self.num_samples

    def _chunks(self):
        rng = numpy_rng(self.generator)
        p = self.weights / self.weights.sum()
        if not self.replacement:
            yield rng.choice(len(p), size=self.num_samples, replace=False, p=p).astype(np.int64)
            return
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        for start in range(0, self.num_samples, _CHUNK):
            u = rng.random(min(_CHUNK, self.num_samples - start))
            yield np.minimum(np.searchsorted(cdf, u, side="right"), len(p) - 1).astype(np.int64)

    def __iter__(self):
        return _iter_chunks(self._chunks())


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``).

    Args:
        sampler: a sampler or any iterable of indices.
        batch_size: the indices per batch, a positive int.
        drop_last: drop the last batch when it is shorter than ``batch_size``.

    Raises:
        ValueError: ``batch_size`` is not a positive int, or ``drop_last`` not a bool.

    Examples:
        >>> sampler = cr.utils.data.SequentialSampler(range(7))
        >>> list(cr.utils.data.BatchSampler(sampler, batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6]]
        >>> len(cr.utils.data.BatchSampler(sampler, batch_size=3, drop_last=True))
        2
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.batch_size = _check_count("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self):
        """The batches as int64 arrays, drawn lazily from the sampler's chunks."""
        # a subclass that overrides __iter__ gets its own order: only the built-in iterations have array chunks
        chunked = type(self.sampler).__iter__ in _CHUNKED
        chunks = self.sampler._chunks() if chunked else _chunks_of(iter(self.sampler))
        size = self.batch_size
        carry = np.empty(0, dtype=np.int64)
        for chunk in chunks:
            if len(carry):
                chunk = np.concatenate([carry, chunk])
            stop = len(chunk) - len(chunk) % size
            for start in range(0, stop, size):
                yield chunk[start : start + size]
            carry = chunk[stop:]
        if len(carry) and not self.drop_last:
            yield carry

    def __iter__(self):
        for batch in self._batches():
            yield batch.tolist()


_CHUNKED = {
    SequentialSampler.__iter__,
    RandomSampler.__iter__,
    SubsetRandomSampler.__iter__,
    WeightedRandomSampler.__iter__,
}
