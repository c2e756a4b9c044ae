"""Collectives on tensors, with ``torch.distributed``'s names: all_reduce, broadcast, barrier, all_gather.

``all_reduce`` and ``broadcast`` work in place on a Tensor's array (as in
PyTorch) and also take NumPy arrays; ``all_reduce`` additionally takes plain
numbers or lists of numbers and returns the reduced value, which is what
averaging a metric needs::

    loss_sum = dist.all_reduce(loss_sum)                    # a float, summed over ranks
    dist.all_reduce(t, op=dist.ReduceOp.AVG)                # in place

:func:`differentiable_all_reduce` is the one collective that records a graph:
its gradient is the all-reduced gradient (used by SyncBatchNorm).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _wrap
from .comm import ReduceOp, world
from .errors import DistributedConfigError


def _group(group):
    return world() if group is None else group


def get_rank(group=None) -> int:
    """This process's rank, 0 .. world size - 1 (0 when not launched by MPI).

    Args:
        group: the ``ProcessGroup``; None means the world (joined on first use).

    Returns:
        An int.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.get_rank()  # a world of one without mpiexec
        0
    """
    return _group(group).rank


def get_world_size(group=None) -> int:
    """The number of ranks (1 when not launched by MPI).

    Args:
        group: the ``ProcessGroup``; None means the world.

    Returns:
        An int.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.get_world_size()
        1
    """
    return _group(group).size


def get_local_rank(group=None) -> int:
    """This process's rank among the ranks on its machine (pick a GPU or a core set with it).

    Args:
        group: the ``ProcessGroup``; None means the world.

    Returns:
        An int, 0 .. (ranks on this machine) - 1.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.get_local_rank()
        0
    """
    return _group(group).local_rank


def is_main_process(group=None) -> bool:
    """True on rank 0: the rank that prints, logs and writes checkpoints.

    Args:
        group: the ``ProcessGroup``; None means the world.

    Examples:
        >>> import chainrule.distributed as dist
        >>> if dist.is_main_process():
        ...     print("only rank 0 prints this")
        only rank 0 prints this
    """
    return _group(group).rank == 0


def barrier(group=None) -> None:
    """Block until every rank has called ``barrier()`` (subject to the timeout).

    Args:
        group: the ``ProcessGroup``; None means the world.

    Raises:
        DistributedTimeoutError: the other ranks did not arrive within the group's timeout.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.barrier()  # returns at once in a world of one
    """
    _group(group).barrier()


def _writable_array(value, what):
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, np.ndarray):
        return value
    raise DistributedConfigError(f"{what}: expected a Tensor or NumPy array, got {type(value).__name__}")


def all_reduce(value, op: str = ReduceOp.SUM, group=None):
    """Reduce ``value`` over all ranks.

    A Tensor or NumPy array is reduced in place and returned (PyTorch's
    contract); a number, or a list/tuple of numbers, is returned reduced
    (a float for ``avg``).  ``op``: ``ReduceOp.SUM`` (default), ``AVG``,
    ``MAX``, ``MIN``, ``PRODUCT``.

    Args:
        value: a Tensor or NumPy array (bool, int or float; any shape, the same on every rank), a number, or a
            list or tuple of numbers.
        op: the reduction, a ``ReduceOp`` name; default ``ReduceOp.SUM``.
        group: the ``ProcessGroup``; None means the world.

    Returns:
        ``value`` itself for a Tensor or array; the reduced number or list otherwise.

    Raises:
        DistributedConfigError: an unsupported value, dtype or op (``avg`` of integers in an array).

    Examples:
        >>> import chainrule.distributed as dist
        >>> t = cr.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)  # in place: with N ranks, the sum of their tensors
        tensor([1., 2.])
        >>> dist.all_reduce([3, 4], op=dist.ReduceOp.AVG)  # numbers come back reduced
        [3.0, 4.0]
    """
    g = _group(group)
    if isinstance(value, (Tensor, np.ndarray)):
        array = _writable_array(value, "all_reduce")
        if array.dtype.kind not in "biuf":
            raise DistributedConfigError(f"all_reduce: cannot reduce a {array.dtype} array")
        if op == ReduceOp.AVG and array.dtype.kind != "f":
            raise DistributedConfigError(f"all_reduce: op 'avg' needs floating-point data, got {array.dtype}")
        work = array if array.flags.c_contiguous and array.flags.writeable else np.ascontiguousarray(array)
        g.all_reduce(work, op)
        if work is not array:
            array[...] = work
        if isinstance(value, Tensor):
            value._bump()
        return value
    scalar = isinstance(value, (numbers.Number, np.generic))
    if not scalar and not (isinstance(value, (list, tuple)) and all(isinstance(v, numbers.Number) for v in value)):
        raise DistributedConfigError(
            f"all_reduce: expected a Tensor, an array, a number or a list of numbers, got {type(value).__name__}"
        )
    items = [value] if scalar else list(value)
    if any(isinstance(v, bool) for v in items) or not all(isinstance(v, numbers.Integral) for v in items):
        array = np.array(items, dtype=np.float64)
    else:
        array = np.array(items, dtype=np.int64)
        if op == ReduceOp.AVG:
            array = array.astype(np.float64)
    g.all_reduce(array, op)
    out = array.tolist()
    return out[0] if scalar else type(value)(out)


def broadcast(value, src: int = 0, group=None):
    """Overwrite ``value`` (a Tensor or NumPy array, in place) on every rank with rank ``src``'s; returns it.

    Args:
        value: a Tensor or NumPy array of the same shape and dtype on every rank.
        src: the rank whose values are sent; default 0.
        group: the ``ProcessGroup``; None means the world.

    Returns:
        ``value``.

    Raises:
        DistributedConfigError: ``value`` is not a Tensor or array, or ``src`` is not a rank.

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.broadcast(cr.tensor([5.0, 6.0]), src=0)
        tensor([5., 6.])
    """
    g = _group(group)
    array = _writable_array(value, "broadcast")
    work = array if array.flags.c_contiguous and array.flags.writeable else np.ascontiguousarray(array)
    g.broadcast(work, src)
    if work is not array:
        array[...] = work
    if isinstance(value, Tensor):
        value._bump()
    return value


def all_gather(value, group=None) -> Tensor:
    """Every rank's tensor stacked on a new first axis: shape ``(world_size, *value.shape)`` (same on all ranks).

    Differs from PyTorch, which fills a list of tensors: one stacked tensor is
    what a metric or a check needs.

    Args:
        value: a Tensor or array-like of the same shape and dtype on every rank.
        group: the ``ProcessGroup``; None means the world.

    Returns:
        A tensor of shape (world_size, *value.shape).

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.all_gather(cr.tensor([1.0, 2.0]))  # one row per rank
        tensor([[1., 2.]])
    """
    g = _group(group)
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    return _wrap(g.all_gather(array))


class _AllReduceSum(Function):
    """y = sum over ranks of x; the gradient of x is the sum over ranks of the gradient of y."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        out = np.array(x._data, dtype=x._data.dtype, order="C", copy=True)
        group.all_reduce(out, ReduceOp.SUM, what="differentiable all_reduce (forward)")
        return _wrap(out)

    @staticmethod
    def backward(ctx, grad):
        if grad.requires_grad:
            return _AllReduceSum.apply(grad, ctx.group), None
        out = np.array(grad._data, dtype=grad._data.dtype, order="C", copy=True)
        ctx.group.all_reduce(out, ReduceOp.SUM, what="differentiable all_reduce (backward)")
        return _wrap(out), None


def differentiable_all_reduce(x: Tensor, group=None) -> Tensor:
    """Sum of ``x`` over all ranks, recorded for autograd (every rank must run the same backward).

    The gradient of ``x`` is the sum over ranks of the gradient of the result
    (the adjoint of a sum is a broadcast, and every rank holds the result).

    Args:
        x: a tensor of the same shape on every rank.
        group: the ``ProcessGroup``; None means the world.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> import chainrule.distributed as dist
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> dist.differentiable_all_reduce(x).sum().backward()
        >>> x.grad
        tensor([1., 1.])
    """
    return _AllReduceSum.apply(x, _group(group))
