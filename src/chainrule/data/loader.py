"""DataLoader: batches from a dataset, in this process or in worker processes, with PyTorch's signature.

Each epoch's order is drawn from ``generator`` (the default generator when
None) when iteration starts, so ``cr.manual_seed`` (or a saved generator
state) reproduces every epoch exactly.  The order is drawn lazily: a sampler
yields its indices a chunk at a time (``sampler.py``), so the first batch of
an epoch of 10**10 samples comes at once.  A TensorDataset, or a Subset of
one, is batched by slicing the tensors with the batch's indices: no
per-sample Python work.  ``num_workers > 0`` loads batches in worker
processes (``worker.py``); the batches come back in the order they would
have without workers.
"""

from __future__ import annotations

import itertools
import multiprocessing
import numbers
import queue
import time
import weakref

import numpy as np

from ..creation import tensor as make_tensor
from ..ops.shape import stack
from ..random import default_generator
from ..tensor import Tensor, _wrap
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import WorkerError, _Done, worker_loop


def default_collate(samples):
    """Stack a list of samples: tensors, arrays and numbers stack; tuples and dicts recurse.

    Tensors and NumPy arrays are stacked along a new first dimension (the
    result is recorded when a sample requires grad); Python ints become an
    int64 tensor, floats float32, bools bool, NumPy scalars keep their dtype;
    strings stay a list. Differs from PyTorch: Python floats batch to float32
    (PyTorch makes float64), so a float32 model takes them as they come.

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
            stack(samples, 0) if any(s.requires_grad for s in samples) else _wrap(np.stack([s._data for s in samples]))
        )
    if isinstance(first, np.ndarray):
        return _wrap(np.stack(samples))
    if isinstance(first, np.generic) and not isinstance(first, (np.bool_, np.str_, np.bytes_)):
        return make_tensor(np.array(samples, dtype=first.dtype))
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


def default_convert(data):
    """Turn NumPy arrays (also inside tuples, lists and dicts) into tensors; leave everything else as it is.

    The collate function of a DataLoader with ``batch_size=None``, which hands
    out samples one by one instead of batching them.

    Args:
        data: a sample: an array, a tensor, a number, or a tuple, list or dict of them.

    Returns:
        The sample with every NumPy array (not 0-d string or object arrays) as a tensor.

    Examples:
        >>> cr.utils.data.default_convert({"x": np.array([1.0, 2.0]), "y": 3})
        {'x': tensor([1., 2.], dtype=chainrule.float64), 'y': 3}
    """
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return _wrap(data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(v) for v in data)
    return data


class _MapFetch:
    """Loads one batch of a map-style dataset: slices a TensorDataset, else indexes and collates."""

    def __init__(self, collate_fn, auto_collation: bool, fast):
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation
        self.fast = fast  # (tensors, index map) when batches are sliced straight out of tensors

    def __call__(self, dataset, indices):
        if not self.auto_collation:
            return self.collate_fn(dataset[indices])
        if self.fast is not None:
            tensors, index_map = self.fast
            rows = np.asarray(indices, dtype=np.int64)
            rows = rows if index_map is None else index_map[rows]
            return tuple(_wrap(t._data[rows]) for t in tensors)
        keys = indices.tolist() if isinstance(indices, np.ndarray) else indices
        getitems = getattr(dataset, "__getitems__", None)  # a dataset that loads a batch at once, as in PyTorch
        if getitems is not None:
            return self.collate_fn(getitems(keys))
        return self.collate_fn([dataset[i] for i in keys])


class _IterableFetch:
    """Draws batches from an IterableDataset's stream."""

    def __init__(self, collate_fn, batch_size, drop_last: bool):
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last

    def stream(self, dataset):
        return iter(dataset)

    def next_batch(self, stream):
        """The next batch, or None at the end of the stream."""
        if self.batch_size is None:
            end = object()
            item = next(stream, end)
            return None if item is end else self.collate_fn(item)
        items = list(itertools.islice(stream, self.batch_size))
        if not items or (self.drop_last and len(items) < self.batch_size):
            return None
        return self.collate_fn(items)


def _fast_source(dataset, collate_fn):
    """(tensors, index map) when batches can be sliced straight out of tensors."""
    if collate_fn is not None:
        return None
    ds, index_map = dataset, None
    if isinstance(ds, Subset) and isinstance(ds.dataset, TensorDataset):
        ds, index_map = ds.dataset, ds.indices
    if isinstance(ds, TensorDataset):
        return ds.tensors, index_map
    return None


class DataLoader:
    """Iterate over a dataset in batches, in this process or in ``num_workers`` worker processes (PyTorch's).

    The order comes from ``sampler`` (default: ``RandomSampler`` when
    ``shuffle``, else ``SequentialSampler``), grouped by ``BatchSampler``
    into batches of ``batch_size`` (or from ``batch_sampler``, which yields
    whole batches). Each epoch's order is drawn when iteration starts and
    lazily, batch by batch, so a seed reproduces every epoch and a sampler of
    10**10 indices costs nothing up front. A ``TensorDataset`` (or a Subset of
    one) without a ``collate_fn`` is batched by slicing its tensors.

    With ``num_workers > 0`` batches are loaded in worker processes (the
    start method of ``multiprocessing_context``, default the platform's),
    ``prefetch_factor`` batches ahead per worker, and come back in the same
    order as without workers. Worker ``i`` seeds chainrule's default generator
    and ``random`` with ``base_seed + i`` (``get_worker_info().seed``), NumPy's
    global generator from both, then runs ``worker_init_fn(i)``. An exception
    in a worker is raised again here, naming the worker, the batch and its
    sample indices. Workers stop at the end of each epoch, or when the loader
    is dropped with ``persistent_workers``.

    Differs from PyTorch: ``base_seed`` is derived from ``generator``'s state
    without drawing from it, so the number of workers never changes the
    order; ``pin_memory`` is ignored; a persistent worker pool whose epoch is
    left unfinished is shut down and started again for the next epoch.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``) or an ``IterableDataset``.
        batch_size: the number of samples per batch (default 1); None hands out samples one by one
            (``collate_fn`` defaults to ``default_convert`` then).
        shuffle: draw a new order every epoch (default None: False); not with ``sampler``.
        sampler: the order, a ``Sampler`` or any iterable of indices.
        batch_sampler: an iterable of index lists, one per batch; not with ``batch_size``, ``shuffle``, ``sampler``
            or ``drop_last``.
        num_workers: the number of worker processes; 0 (default) loads in this process.
        collate_fn: a function from a list of samples to a batch (default None: ``default_collate``).
        pin_memory: accepted for PyTorch's signature and ignored.
        drop_last: drop the last batch when it is smaller than ``batch_size`` (default False).
        timeout: seconds to wait for a batch from the workers before raising (default 0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding (default None).
        multiprocessing_context: ``'fork'``, ``'spawn'``, ``'forkserver'`` or a multiprocessing context
            (default None: the platform's default).
        generator: the ``cr.Generator`` that draws the order and the workers' base seed (default None: the
            default generator).
        prefetch_factor: batches loaded ahead per worker (default None: 2 with workers); only with workers.
        persistent_workers: keep the workers alive between epochs (default False); only with workers.
        pin_memory_device: accepted for PyTorch's signature and ignored.
        in_order: accepted for PyTorch's signature; batches always come in order.

    Raises:
        ValueError: conflicting options (as PyTorch's), a negative ``num_workers`` or a bad ``batch_size``.

    Examples:
        >>> ds = cr.utils.data.TensorDataset(cr.arange(10).float(), cr.arange(10))
        >>> loader = cr.utils.data.DataLoader(ds, batch_size=4)
        >>> len(loader), [y.tolist() for x, y in loader]
        (3, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        >>> shuffled = cr.utils.data.DataLoader(ds, batch_size=4, shuffle=True, drop_last=True)
        >>> [x.shape for x, y in shuffled]
        [(4,), (4,)]
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        # int named beside numbers.Integral for type checkers: typeshed's int is not an Integral, so mypy read the
        # rest of __init__ as unreachable
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, numbers.Integral)) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers option should be a non-negative integer, got {num_workers!r}; use "
                "num_workers=0 to load in this process"
            )
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, got {shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, got {sampler}")
            if batch_sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified batch_sampler option, got {batch_sampler}"
                )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                    "and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
                )
        elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, numbers.Integral)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if sampler is None and not iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = (2 if prefetch_factor is None else int(prefetch_factor)) if num_workers else None
        self.persistent_workers = persistent_workers
        self._pool = None
        self._epochs = 0

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (
            isinstance(self.dataset, IterableDataset) and self.batch_size is not None
        )

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _fetch(self):
        collate = self.collate_fn
        if collate is None:
            collate = default_collate if self._auto_collation else default_convert
        if isinstance(self.dataset, IterableDataset):
            return _IterableFetch(collate, self.batch_size, self.drop_last)
        fast = _fast_source(self.dataset, self.collate_fn) if self._auto_collation else None
        return _MapFetch(collate, self._auto_collation, fast)

    def _index_batches(self):
        """Each batch's indices (int64 arrays from our own samplers), drawn lazily."""
        if self.batch_sampler is None:
            return iter(self.sampler)
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._batches()
        return iter(self.batch_sampler)

    def __iter__(self):
        fetch = self._fetch()
        if self.num_workers == 0:
            return self._in_process(fetch)
        self._epochs += 1
        pool = self._pool
        if pool is None or pool.closed:
            pool = _WorkerPool(self, fetch, self._base_seed())
            if self.persistent_workers:
                self._pool = pool
        if isinstance(self.dataset, IterableDataset):
            return pool.run_iterable(keep=self.persistent_workers)
        return pool.run(self._index_batches(), keep=self.persistent_workers)

    def _in_process(self, fetch):
        if isinstance(self.dataset, IterableDataset):
            stream = fetch.stream(self.dataset)
            while (batch := fetch.next_batch(stream)) is not None:
                yield batch
            return
        for indices in self._index_batches():
            yield fetch(self.dataset, indices)

    def _base_seed(self) -> int:
        """A 63-bit seed from the generator's state and this loader's epoch count (the generator does not move)."""
        bits = (self.generator or default_generator).numpy.bit_generator.state["state"]
        words = [(bits["state"] >> (32 * i)) & 0xFFFFFFFF for i in range(4)] + [bits["inc"] & 0xFFFFFFFF]
        seed_sequence = np.random.SeedSequence(words + [self._epochs])
        return int(seed_sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()


class _WorkerPool:
    """``num_workers`` processes, a task queue each and one result queue; batches handed back in order."""

    def __init__(self, loader: DataLoader, fetch, base_seed: int):
        context = loader.multiprocessing_context
        if context is None:
            context = multiprocessing.get_context()
        elif isinstance(context, str):
            context = multiprocessing.get_context(context)
        n = loader.num_workers
        self.num_workers = n
        self.timeout = loader.timeout
        assert loader.prefetch_factor is not None  # DataLoader sets it whenever num_workers > 0
        self.ahead = loader.prefetch_factor * n
        self.result_queue = context.Queue()
        self.done_event = context.Event()
        self.index_queues = []
        self.workers = []
        self.closed = False
        for worker_id in range(n):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            process = context.Process(
                target=worker_loop,
                args=(
                    loader.dataset,
                    fetch,
                    index_queue,
                    self.result_queue,
                    self.done_event,
                    base_seed,
                    worker_id,
                    n,
                    loader.worker_init_fn,
                ),
                daemon=True,
            )
            process.start()
            self.index_queues.append(index_queue)
            self.workers.append(process)
        self._finalizer = weakref.finalize(self, _shutdown, self.workers, self.index_queues, self.done_event)

    def _get(self):
        """The next (batch number, result) from any worker; RuntimeError if a worker died or time ran out."""
        start = time.monotonic()
        while True:
            wait = 1.0 if not self.timeout else min(1.0, max(self.timeout - (time.monotonic() - start), 0.01))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                dead = [(i, w) for i, w in enumerate(self.workers) if not w.is_alive()]
                if dead:
                    names = ", ".join(f"{i} (pid {w.pid}, exit code {w.exitcode})" for i, w in dead)
                    self.shutdown()
                    raise RuntimeError(
                        f"DataLoader worker {names} exited unexpectedly; a worker killed by the system "
                        "(for example for lack of memory) cannot report why"
                    ) from None
                if self.timeout and time.monotonic() - start >= self.timeout:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") from None

    def run(self, batches, keep: bool):
        """Yield the batches of an epoch of a map-style dataset, in order; ``batches`` gives their indices."""
        sent = received = 0
        ready: dict = {}
        finished = False
        try:
            while True:
                while not finished and sent - received < self.ahead:
                    indices = next(batches, None)
                    if indices is None:
                        finished = True
                        break
                    self.index_queues[sent % self.num_workers].put((sent, indices))
                    sent += 1
                if received == sent:
                    break
                while received not in ready:
                    number, result = self._get()
                    ready[number] = result
                result = ready.pop(received)
                received += 1
                if isinstance(result, WorkerError):
                    self.shutdown()
                    result.reraise()
                yield result
        finally:
            if not keep or received != sent or not finished:
                self.shutdown()

    def run_iterable(self, keep: bool):
        """Yield batches from the workers' streams in turn (worker 0's first, then 1's, ...) until all end."""
        active = list(range(self.num_workers))
        sent = received = 0
        owner: dict = {}
        ready: dict = {}
        turn = 0
        try:
            while True:
                while active and sent - received < self.ahead:
                    worker_id = active[turn % len(active)]
                    turn += 1
                    self.index_queues[worker_id].put((sent, None))
                    owner[sent] = worker_id
                    sent += 1
                if received == sent:
                    break
                while received not in ready:
                    number, result = self._get()
                    ready[number] = result
                result = ready.pop(received)
                del owner[received]
                received += 1
                if isinstance(result, _Done):
                    if result.worker_id in active:
                        active.remove(result.worker_id)
                    continue
                if isinstance(result, WorkerError):
                    self.shutdown()
                    result.reraise()
                yield result
        finally:
            # a worker's stream is used up once per pool: a persistent pool is renewed for the next epoch
            self.shutdown()

    def shutdown(self):
        """Stop the workers (each gets None, then a join; one that does not stop in 5 s is terminated)."""
        if self.closed:
            return
        self.closed = True
        self._finalizer()
        self.result_queue.cancel_join_thread()
        self.result_queue.close()


def _shutdown(workers, index_queues, done_event):
    done_event.set()
    for index_queue in index_queues:
        try:
            index_queue.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 5.0
    for process in workers:
        process.join(timeout=max(deadline - time.monotonic(), 0.0))
        if process.is_alive():
            process.terminate()
            process.join()
    for index_queue in index_queues:
        index_queue.close()
