"""DataLoader worker processes: the loop each worker runs, its seeds, and ``get_worker_info``.

A worker receives ``(batch_number, indices)`` tasks on its own queue, loads
and collates the batch, and puts ``(batch_number, batch)`` on the shared
result queue; ``None`` tells it to stop.  Tensors travel between processes as
their NumPy arrays: chainrule tensors refuse ``pickle`` (nothing is ever
loaded from a pickle file), so a reducer registered with multiprocessing's
own pickler (only that one, which carries objects between this program's
processes) sends a tensor as ``(array, requires_grad)``.

Seeds follow PyTorch: the loader draws a ``base_seed`` per iterator from its
generator; worker ``i`` seeds chainrule's default generator and Python's
``random`` with ``base_seed + i`` and NumPy's global generator with a 32-bit
state derived from both, so each worker's random augmentation differs and a
run repeats under ``cr.manual_seed``.
"""

from __future__ import annotations

import queue
import random
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ..backend import to_numpy
from ..tensor import Tensor, _wrap

__all__ = ["WorkerInfo", "get_worker_info"]

_worker_info = None  # set in a worker process only


@dataclass(frozen=True)
class WorkerInfo:
    """What a DataLoader worker process knows about itself (from ``get_worker_info()``).

    Args:
        id: this worker's number, 0 to ``num_workers - 1``.
        num_workers: how many workers the loader runs.
        seed: the seed this worker's default generator and ``random`` were seeded with.
        dataset: this worker's copy of the dataset.

    Examples:
        >>> info = cr.utils.data.WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
        >>> info.id, info.num_workers
        (0, 2)
    """

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """In a DataLoader worker process, its ``WorkerInfo``; in the main process, None.

    An ``IterableDataset`` uses it to split its stream between the workers.

    Returns:
        ``WorkerInfo(id, num_workers, seed, dataset)``, or None outside a worker.

    Examples:
        >>> cr.utils.data.get_worker_info() is None
        True
    """
    return _worker_info


def _rebuild_tensor(array, requires_grad):
    t = _wrap(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _reduce_tensor(t: Tensor):
    return _rebuild_tensor, (to_numpy(t._data), bool(t.requires_grad and t.is_leaf))


ForkingPickler.register(Tensor, _reduce_tensor)


def numpy_seed(base_seed: int, worker_id: int) -> list:
    """The 32-bit words seeding NumPy's global generator in worker ``worker_id`` (a SeedSequence of both)."""
    words = np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]).generate_state(4)
    return words.tolist()


class _Done:
    """An IterableDataset worker's stream has ended."""

    __slots__ = ("worker_id",)

    def __init__(self, worker_id):
        self.worker_id = worker_id


class WorkerError:
    """An exception raised in a worker, carried to the main process as text (its type name and traceback)."""

    def __init__(self, worker_id: int, batch_number: int, indices, exc: BaseException):
        self.worker_id = worker_id
        self.batch_number = batch_number
        self.indices = indices
        self.exc_type = type(exc)
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self):
        where = f"DataLoader worker {self.worker_id}"
        if self.indices is not None:
            shown = list(self.indices[:8]) + (["..."] if len(self.indices) > 8 else [])
            where += f" while loading batch {self.batch_number} (from 0; sample indices {shown})"
        message = f"Caught {self.exc_type.__name__} in {where}.\nOriginal traceback:\n{self.text}"
        try:
            error = self.exc_type(message)
        except Exception:  # noqa: BLE001 - an exception type that wants other arguments
            error = RuntimeError(message)
        raise error


def worker_loop(dataset, fetch, index_queue, result_queue, done_event, base_seed, worker_id, num_workers, init_fn):
    """The body of worker ``worker_id``: seed, call ``init_fn``, then serve tasks until told to stop."""
    global _worker_info
    import signal  # noqa: PLC0415

    from .. import random as cr_random  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    seed = base_seed + worker_id
    random.seed(seed)
    cr_random.manual_seed(seed)
    np.random.seed(numpy_seed(base_seed, worker_id))
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as exc:  # noqa: BLE001 - any error of the user's init_fn, reported with the first task
            init_error = exc
    stream = None
    while not done_event.is_set():
        try:
            task = index_queue.get(timeout=1.0)
        except queue.Empty:
            continue
        if task is None:
            break
        number, indices = task
        if init_error is not None:
            result_queue.put((number, WorkerError(worker_id, number, None, init_error)))
            continue
        try:
            if indices is None:  # IterableDataset: the next batch of this worker's stream
                if stream is None:
                    stream = fetch.stream(dataset)
                batch = fetch.next_batch(stream)
                result = _Done(worker_id) if batch is None else batch
            else:
                result = fetch(dataset, indices)
        except Exception as exc:  # noqa: BLE001 - any error of the user's dataset goes back to the main process
            shown = (
                None if indices is None else (indices.tolist() if isinstance(indices, np.ndarray) else list(indices))
            )
            result = WorkerError(worker_id, number, shown, exc)
        result_queue.put((number, result))
    # results nobody will read must not keep this process alive at exit (its queue's feeder thread would wait)
    result_queue.cancel_join_thread()
    result_queue.close()
