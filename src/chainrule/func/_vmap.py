"""vmap: a function of one sample turned into a function of a batch, by batching rules per primitive.

A *batched tensor* stands for ``size`` tensors of one logical shape.  It is a
plain ``Tensor`` whose raw array is a :class:`BatchedArray`: the batch as a
Tensor with the batch dimension still in it (``value``), where that dimension
is (``bdim``) and the vmap *level* it belongs to (``level``).  To the function
being mapped it looks like one sample: ``shape``, ``ndim``, ``len()`` and
``_data.shape`` are the logical ones, and the op layer (which checks
``type(x) is Tensor``) handles it as any tensor.  Every primitive applied to
it goes through ``graph.batched_apply`` (the hook in apply1/apply2/applyn),
which hands the values and their batch dimensions to the primitive's batching
rule (``_batching.py``): the rule moves the batch dimension where the
primitive's forward can carry it (to the front, into N of a convolution, into
its groups, ...) and applies the primitive once to the whole batch.

Levels nest: the value of a batched tensor may itself be batched at an outer
level.  The rule of the innermost level present among an op's inputs runs
first; the primitives it applies reach the outer levels through the same hook.

Other transforms inside vmap (``grad``, ``vjp``, ``jvp``) work on the
*physical* tensors: :func:`physical` gives a tensor with every active level's
batch dimension at the front (an unbatched input is expanded, so that its
derivative comes out per sample), the transform runs on that, and
:func:`batched` wraps its results back.  Because samples never interact under
vmap, the gradient of the sum over the batch with respect to the physical
input is the batch of per-sample gradients.

Raw values cannot be read inside vmap: a batched tensor's ``_data`` shows the
logical ``shape``, ``ndim``, ``dtype`` and ``size`` and raises
:class:`VmapError` on anything else (``item()``, NumPy math on it, ...),
as torch.func refuses data-dependent Python control flow.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
from contextvars import ContextVar

import numpy as np

from .. import random as _random
from ..autograd import graph
from ..autograd.graph import LOOP_FALLBACK, PRIMITIVES
from ..backend import array_module
from ..errors import ChainruleError
from ..tensor import Tensor, _wrap

__all__ = ["BatchedArray", "VmapError", "batched", "is_batched", "physical", "vmap"]

_RANDOMNESS = ("error", "different", "same")
_IDS = itertools.count(1)
# the active vmap levels of this thread, outermost first: (level id, batch size, randomness)
_ACTIVE: ContextVar[tuple] = ContextVar("chainrule.vmap_levels", default=())


# the level whose batching rule is running (rules read it for batched arguments: masks, conditions)
_RULE_LEVEL: ContextVar[int] = ContextVar("chainrule.vmap_rule_level", default=0)
rule_level = _RULE_LEVEL.get


class VmapError(ChainruleError):
    """Something vmap cannot batch: a primitive without a rule, reading values, a bad in_dims/out_dims."""


class BatchedArray:
    """The raw array of a batched tensor: the batch (``value``, a Tensor), its ``bdim`` and ``level``.

    A batched tensor is a plain ``Tensor`` whose ``_data`` is one of these, so
    the op layer treats it as any tensor; to it the array shows one sample's
    ``shape``, ``ndim``, ``dtype`` and ``size``, and refuses everything else
    with :class:`VmapError` (its values cannot be read inside vmap).
    """

    __slots__ = ("value", "bdim", "level")

    def __init__(self, value, bdim, level):
        self.value = value
        self.bdim = bdim
        self.level = level

    @property
    def shape(self):
        shape = self.value._data.shape
        return shape[: self.bdim] + shape[self.bdim + 1 :]

    @property
    def ndim(self):
        return self.value._data.ndim - 1

    @property
    def dtype(self):
        return self.value._data.dtype

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    base = None

    def _refuse(self, *args, what="", **kwargs):
        if not any(entry[0] == self.level for entry in _ACTIVE.get()):
            _escaped()
        raise VmapError(
            f"vmap: the values of a batched tensor cannot be read inside vmap{what} (this code works on the raw "
            "array: .item(), printing, NumPy calls, comparisons and other ops outside chainrule's op table); "
            "write it with chainrule ops, or move it out of the vmapped function"
        )

    def __getattr__(self, name):
        if name.startswith("__array_"):  # NumPy probing for its protocols: not an array of values
            raise AttributeError(name)
        self._refuse(what=f" (.{name} of its raw array)")

    # Elementwise NumPy code on the raw array (comparisons, masks, isnan, casts: what compare.py and the
    # composites of the op layer do) runs on the whole batch and gives a batched array back, so the result,
    # wrapped as a Tensor, is a batched tensor.  Anything else (reductions, item, Python control flow) refuses.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            self._refuse(what=f" ({ufunc.__name__} with out=)")
        level = max(a.level for a in inputs if type(a) is BatchedArray)
        if method == "__call__":
            rank = max(a.ndim if type(a) is BatchedArray else np.ndim(a) for a in inputs)
        elif method in ("accumulate", "reduce") and len(inputs) == 1 and kwargs.get("axis", 0) is not None:
            rank = inputs[0].ndim  # along one axis (np.maximum.accumulate: running extremes)
            kwargs["axis"] = _shift_axis(kwargs.get("axis", 0), rank)
        else:
            self._refuse(what=f" ({ufunc.__name__}.{method})")
        raws = [physical_raw(a, level, rank) if type(a) is BatchedArray and a.level == level else a for a in inputs]
        return _batched_result(getattr(ufunc, method)(*raws, **kwargs), level)

    # NumPy functions along an axis (argsort, sort, flip, take_along_axis, cumsum, argmax, ...) run on the
    # batch with the axis shifted past the batch dimension; over all axes (axis=None) they refuse.
    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ not in _AXIS_FUNCTIONS:
            self._refuse(what=f" (numpy.{func.__name__})")
        try:
            bound = inspect.signature(func).bind(*args, **kwargs)
        except (TypeError, ValueError):
            self._refuse(what=f" (numpy.{func.__name__})")
        arrays = [a for a in bound.arguments.values() if type(a) is BatchedArray]
        level = max(a.level for a in arrays)
        rank = max(a.ndim for a in arrays)
        if func.__name__ in _ELEMENTWISE_FUNCTIONS:  # broadcasting: batched operands padded to the result's rank
            others = [
                np.ndim(a) for a in bound.arguments.values() if type(a) is not BatchedArray and hasattr(a, "shape")
            ]
            rank = max(rank, *others)
        axis = bound.arguments.get("axis", _NO_AXIS)
        if axis is None:
            self._refuse(what=f" (numpy.{func.__name__} over all axes)")
        if axis is not _NO_AXIS:
            bound.arguments["axis"] = _shift_axis(axis, rank)
        for name in ("source", "destination"):  # moveaxis
            if name in bound.arguments:
                bound.arguments[name] = _shift_axis(bound.arguments[name], rank)
        if "shape" in bound.arguments:  # broadcast_to: the batch leads the target shape
            shape = bound.arguments["shape"]
            shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
            rank = len(shape)
            bound.arguments["shape"] = (_level_size(level), *shape)
        for name, value in bound.arguments.items():
            if type(value) is BatchedArray:
                if value.level != level:
                    self._refuse(what=" (arrays of two vmap levels)")
                bound.arguments[name] = physical_raw(value, level, rank)
        return _batched_result(func(*bound.args, **bound.kwargs), level)

    def __getitem__(self, index):
        items = index if isinstance(index, tuple) else (index,)
        if not all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items):
            self._refuse(what=" (advanced indexing of its raw array)")
        raw = physical_raw(self, self.level, self.ndim)
        return _batched_result(raw[(slice(None), *items)], self.level)

    def __add__(self, other):
        return np.add(self, other)

    def __radd__(self, other):
        return np.add(other, self)

    def __sub__(self, other):
        return np.subtract(self, other)

    def __rsub__(self, other):
        return np.subtract(other, self)

    def __mul__(self, other):
        return np.multiply(self, other)

    def __rmul__(self, other):
        return np.multiply(other, self)

    def __truediv__(self, other):
        return np.true_divide(self, other)

    def __rtruediv__(self, other):
        return np.true_divide(other, self)

    def __floordiv__(self, other):
        return np.floor_divide(self, other)

    def __mod__(self, other):
        return np.remainder(self, other)

    def __neg__(self):
        return np.negative(self)

    def __abs__(self):
        return np.absolute(self)

    def __pow__(self, other):
        return np.power(self, other)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        raw = physical_raw(self, self.level, self.ndim)
        return _batched_result(raw.reshape(raw.shape[:1] + tuple(shape)), self.level)

    def copy(self, order="C"):
        return _batched_result(physical_raw(self, self.level, self.ndim).copy(order=order), self.level)

    # without an axis: over the whole batch (the op layer's checks: an index out of range in any sample);
    # along an axis: per sample, as NumPy's functions above
    def any(self, axis=None, keepdims=False):
        if axis is None:
            return physical_raw(self, self.level, self.ndim).any()
        return np.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        if axis is None:
            return physical_raw(self, self.level, self.ndim).all()
        return np.all(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        if axis is None:
            return physical_raw(self, self.level, self.ndim).min()
        return np.min(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        if axis is None:
            return physical_raw(self, self.level, self.ndim).max()
        return np.max(self, axis=axis, keepdims=keepdims)

    def sum(self, axis=None, **kwargs):
        return _along_axis("sum", self, axis, kwargs)

    def argmax(self, axis=None, **kwargs):
        return _along_axis("argmax", self, axis, kwargs)

    def argmin(self, axis=None, **kwargs):
        return _along_axis("argmin", self, axis, kwargs)

    def argsort(self, axis=-1, **kwargs):
        return _along_axis("argsort", self, axis, kwargs)

    def cumsum(self, axis=None, **kwargs):
        return _along_axis("cumsum", self, axis, kwargs)

    def squeeze(self, axis=None):
        return _along_axis("squeeze", self, axis, {})

    def astype(self, dtype, copy=True):
        raw = physical_raw(self, self.level, self.ndim)
        return BatchedArray(_wrap(raw.astype(dtype, copy=copy)), 0, self.level)

    @property
    def flags(self):
        return _NOT_CONTIGUOUS

    def __lt__(self, other):
        return np.less(self, other)

    def __le__(self, other):
        return np.less_equal(self, other)

    def __gt__(self, other):
        return np.greater(self, other)

    def __ge__(self, other):
        return np.greater_equal(self, other)

    def __eq__(self, other):
        return np.equal(self, other)

    def __ne__(self, other):
        return np.not_equal(self, other)

    def __and__(self, other):
        return np.logical_and(self, other) if self.dtype == np.bool_ else np.bitwise_and(self, other)

    def __or__(self, other):
        return np.logical_or(self, other) if self.dtype == np.bool_ else np.bitwise_or(self, other)

    def __xor__(self, other):
        return np.logical_xor(self, other) if self.dtype == np.bool_ else np.bitwise_xor(self, other)

    def __invert__(self):
        return np.logical_not(self) if self.dtype == np.bool_ else np.invert(self)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    __array__ = __bool__ = __len__ = __iter__ = __setitem__ = __float__ = __int__ = __index__ = _refuse
    __iadd__ = __isub__ = __imul__ = __itruediv__ = __matmul__ = __rmatmul__ = _refuse
    __hash__ = object.__hash__

    def __repr__(self):
        return f"BatchedArray(level={self.level}, bdim={self.bdim}, value={self.value._data!r})"


_AXIS_FUNCTIONS = frozenset(
    "argsort sort flip take_along_axis cumsum cumprod argmax argmin amax amin max min sum prod any all "
    "partition argpartition diff moveaxis broadcast_to squeeze expand_dims".split()
) | {"where", "clip"}
_ELEMENTWISE_FUNCTIONS = frozenset({"where", "clip"})
_NO_AXIS = object()


def _shift_axis(axis, rank):
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) % max(rank, 1) + 1 for a in axis)
    return int(axis) % max(rank, 1) + 1


def _along_axis(name, array, axis, kwargs):
    if axis is None:
        array._refuse(what=f" (.{name} over all axes)")
    return getattr(np, name)(array, axis=axis, **kwargs)


def _level_size(level):
    return _level_info(level)[1]


def _batched_result(out, level):
    if isinstance(out, tuple):
        return tuple(_batched_result(o, level) for o in out)
    if not hasattr(out, "ndim") or out.ndim == 0:
        raise VmapError("vmap: a raw computation on a batched array lost its batch dimension")
    return BatchedArray(_wrap(out), 0, level)


class _Flags:
    c_contiguous = f_contiguous = False
    writeable = True


_NOT_CONTIGUOUS = _Flags()


def physical_raw(a, level, rank):
    """The raw NumPy (or CuPy) array of a batched array of ``level``: batch first, padded to ``rank`` + 1 dims."""
    raw = a.value._data
    if type(raw) is BatchedArray:
        a._refuse()  # raw values of nested vmap levels: only Tensor ops reach them
    raw = array_module(raw).moveaxis(raw, a.bdim, 0)
    missing = rank - (raw.ndim - 1)
    return raw.reshape(raw.shape[:1] + (1,) * missing + raw.shape[1:]) if missing > 0 else raw


def is_batched(t) -> bool:
    """Whether ``t`` is a batched tensor (made by vmap for the function it maps)."""
    return isinstance(t, Tensor) and type(t._data) is BatchedArray


def _make(value, bdim, level):
    t = _wrap(BatchedArray(value, bdim, level))
    t.requires_grad = value.requires_grad
    return t


def wrap(value, bdim, level):
    """``value`` as a batched tensor of ``level`` with its batch at ``bdim`` (value itself when bdim is None)."""
    if bdim is None:
        return value
    return _make(value, bdim, level)


# --------------------------------------------------------------------------- the hook


def _level_info(level):
    for entry in _ACTIVE.get():
        if entry[0] == level:
            return entry
    _escaped()


def _escaped():
    raise VmapError(
        "vmap: a batched tensor was used outside the vmap that made it (it escaped through a closure, a "
        "global or an attribute); return it from the vmapped function instead"
    )


def _batched_apply(prim, inputs, args):
    """Apply ``prim`` to inputs of which some may be batched (graph.apply* call this while vmap runs)."""
    level = 0
    for t in inputs:
        data = t._data
        if type(data) is BatchedArray and data.level > level:
            level = data.level
    for a in args:
        if type(a) is BatchedArray and a.level > level:  # a mask or condition made from a batched tensor
            level = a.level
    if not level:
        return NotImplemented
    _, size, _ = _level_info(level)
    values, bdims = [], []
    for t in inputs:
        data = t._data
        if type(data) is BatchedArray and data.level == level:
            values.append(data.value)
            bdims.append(data.bdim)
        else:
            values.append(t)
            bdims.append(None)
    rule = prim.batch
    if rule is None:
        rule = _batching.rule_for(prim)
    if rule is None:
        raise VmapError(
            f"vmap: the primitive {prim.name!r} has no batching rule and declares no loop fallback "
            f"(inputs: {', '.join(str(tuple(t.shape)) for t in inputs)}); add one in chainrule/func/_batching.py"
        )
    token = _RULE_LEVEL.set(level)
    try:
        if rule == LOOP_FALLBACK:
            out, out_bdim = loop_fallback(prim, values, bdims, args, size)
        else:
            out, out_bdim = rule(prim, values, bdims, args, size)
    finally:
        _RULE_LEVEL.reset(token)
    if prim.name == "setitem":  # in place: x (and every alias of it: they share this array) is now the result
        data = inputs[0]._data
        data.value, data.bdim = out, out_bdim
    if prim.multi:
        if isinstance(out_bdim, int) or out_bdim is None:
            out_bdim = (out_bdim,) * len(out)
        return tuple(wrap(o, b, level) for o, b in zip(out, out_bdim))
    return wrap(out, out_bdim, level)


def apply(prim, values, *args):
    """Apply ``prim`` to tensors (batched at outer levels or plain) the way the op layer does."""
    if len(values) == 1:
        return graph.apply1(prim, values[0], *args)
    if len(values) == 2:
        return graph.apply2(prim, values[0], values[1], *args)
    return graph.applyn(prim, values, *args)


def loop_fallback(prim, values, bdims, args, size):
    """Run ``prim`` once per sample and stack the results (for primitives that declare LOOP_FALLBACK).

    Batched array arguments (index arrays made from a batched tensor) are sliced per sample too.
    """
    level = rule_level()
    raw = [physical_raw(a, level, a.ndim) if type(a) is BatchedArray and a.level == level else None for a in args]
    results = []
    for i in range(size):
        sample = [v if d is None else select(v, d, i) for v, d in zip(values, bdims)]
        sample_args = [a if r is None else r[i] for a, r in zip(args, raw)]  # batched index arrays, per sample
        results.append(apply(prim, sample, *sample_args))
    if prim.multi:
        return tuple(stack([r[k] for r in results]) for k in range(len(results[0]))), 0
    return stack(results), 0


def select(v, dim, i):
    """v[..., i, ...] at ``dim`` (the getitem primitive: a view)."""
    index = (slice(None),) * dim + (i,)
    return graph.apply1(PRIMITIVES["getitem"], v, index, tuple(v.shape))


def stack(tensors, axis=0):
    return graph.applyn(PRIMITIVES["stack"], list(tensors), axis)


def move(v, src, dst):
    """v with dimension ``src`` moved to ``dst`` (a permute; v itself when they are equal)."""
    nd = v.ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return v
    order = [d for d in range(nd) if d != src]
    order.insert(dst, src)
    return graph.apply1(PRIMITIVES["permute"], v, tuple(order))


def expand_batch(v, size, dim=0):
    """An unbatched v with a batch dimension of ``size`` inserted at ``dim`` (a broadcast view, no copy)."""
    shape = tuple(v.shape)
    dim = dim % (len(shape) + 1)
    with_one = shape[:dim] + (1,) + shape[dim:]
    out = graph.apply1(PRIMITIVES["reshape"], v, with_one, shape)
    return graph.apply1(PRIMITIVES["expand"], out, shape[:dim] + (size,) + shape[dim:])


graph.batched_apply = _batched_apply
graph.batched_array_type = BatchedArray


# --------------------------------------------------------------------------- for the other transforms


def active_levels() -> tuple:
    """The ids of this thread's active vmap levels, outermost first (empty outside vmap)."""
    return tuple(entry[0] for entry in _ACTIVE.get())


def physical(t, levels=None):
    """``t`` with the batch dimension of each of ``levels`` (default: every active one) at the front.

    The first dimension belongs to the outermost level.  A level at which ``t``
    is not batched gets an expanded (broadcast) dimension, so a function of the
    result has per-sample derivatives with respect to it.  Outside vmap this is
    ``t`` itself.  ``grad``/``vjp``/``jvp`` run inside vmap on these tensors and
    wrap their results with :func:`batched`.
    """
    if levels is None:
        levels = active_levels()
    if not levels or not isinstance(t, Tensor):
        return t
    sizes = {entry[0]: entry[1] for entry in _ACTIVE.get()}
    # peel the levels from the innermost; each peeled batch dimension goes to the front of what is left,
    # so the outer levels' dimensions end up in front of the inner ones'
    inner = t
    for level in reversed(levels):
        data = inner._data
        if type(data) is BatchedArray and data.level == level:
            inner = move(data.value, data.bdim, 0)
        else:
            inner = expand_batch(inner, sizes[level], 0)
    return inner


def batched(t, levels=None):
    """The inverse of :func:`physical`: ``t``'s leading dimensions become the batches of ``levels``."""
    if levels is None:
        levels = active_levels()
    if not isinstance(t, Tensor):
        return t
    for level in levels:
        t = _make(t, 0, level)
    return t


# --------------------------------------------------------------------------- vmap


def _flatten(tree, leaves):
    if isinstance(tree, (list, tuple)):
        for item in tree:
            _flatten(item, leaves)
    elif isinstance(tree, dict):
        for item in tree.values():
            _flatten(item, leaves)
    else:
        leaves.append(tree)
    return leaves


def _rebuild(tree, leaves):
    if isinstance(tree, dict):
        return type(tree)((k, _rebuild(v, leaves)) for k, v in tree.items())
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*[_rebuild(v, leaves) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(v, leaves) for v in tree)
    return next(leaves)


def _dims_per_leaf(dims, tree, what, where="") -> list:
    """One dim per leaf of ``tree``: ``dims`` is an int/None for the whole subtree or a matching structure."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree, []))
    if isinstance(dims, (list, tuple)) and isinstance(tree, (list, tuple)) and len(dims) == len(tree):
        out = []
        for i, (d, t) in enumerate(zip(dims, tree)):
            out.extend(_dims_per_leaf(d, t, what, f"{where}[{i}]"))
        return out
    if isinstance(dims, dict) and isinstance(tree, dict) and dims.keys() == tree.keys():
        out = []
        for k in tree:
            out.extend(_dims_per_leaf(dims[k], tree[k], what, f"{where}[{k!r}]"))
        return out
    raise VmapError(
        f"vmap: {what}{where} is {dims!r}, which does not match the structure of the "
        f"{'arguments' if what == 'in_dims' else 'outputs'} there ({type(tree).__name__}); give an int, None, "
        "or a structure of ints/None matching it"
    )


def _check_args(func, in_dims, out_dims, randomness, chunk_size):
    if not callable(func):
        raise TypeError(f"vmap: func must be callable, got {type(func).__name__}")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be None or a positive int, got {chunk_size!r}")
    for name, dims in (("in_dims", in_dims), ("out_dims", out_dims)):
        for d in _flatten(dims, []):
            if d is not None and not isinstance(d, int):
                raise VmapError(f"vmap: {name} may hold only ints and None, got {d!r}")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over a batch dimension of its inputs, as ``torch.func.vmap``.

    ``vmap(f)(xs)`` returns what stacking ``f(x)`` over the samples ``x`` of
    ``xs`` would, computed in one pass: every primitive ``f`` applies runs once
    on the whole batch through its batching rule (a convolution folds the batch
    into N, or into its groups when the weights are batched too).  Transforms
    compose: ``vmap(grad(loss))`` gives per-sample gradients, ``vmap(vmap(f))``
    maps over two dimensions.

    Differs from PyTorch: inside ``func`` the values of a batched tensor cannot
    be read (``item()``, NumPy code and ops outside the op table raise
    :class:`VmapError`; comparisons and masks work, and a raw ``.any()`` or
    ``.all()`` in library code sees the whole batch), some composites that
    compute on raw values (sorting, a few losses) are refused, and recurrent
    layers run once per sample.  Under
    ``randomness="different"`` dropout draws a mask per sample; other random
    draws (``cr.rand``...) are the same for every sample.

    Args:
        func: a function of tensors (and pytrees of tensors: nested tuples, lists and dicts) returning
            tensors or pytrees of tensors.
        in_dims: the batch dimension of each positional argument: an int (negative counts from the
            end), None (not batched: the same for every sample), or a structure matching the
            arguments (a tuple with one entry per argument, nested as the arguments are). Default 0.
            Keyword arguments are never batched.
        out_dims: where the batch dimension goes in each output (an int or a structure matching the
            outputs; None for an output that is the same for every sample). Default 0.
        randomness: what random draws inside ``func`` do: ``"error"`` (default) raises,
            ``"different"`` gives each sample its own dropout mask, ``"same"`` one draw for all.
        chunk_size: run the batch in chunks of at most this many samples (bounds memory; the
            results are concatenated). None (default): all at once.

    Returns:
        The vectorized function, taking and returning what ``func`` does with the batch dimension added.

    Raises:
        VmapError: a primitive without a batching rule or loop fallback, inputs whose batch sizes
            differ, no batched input, in_dims/out_dims that do not fit, reading values inside ``func``.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> cr.func.vmap(lambda row: (row * row).sum())(x)
        tensor([ 5., 25., 61.])
        >>> w = cr.tensor([1.0, -1.0])
        >>> cr.func.vmap(lambda row, w: row @ w, in_dims=(0, None))(x, w)
        tensor([-1., -1., -1.])
        >>> cr.func.vmap(lambda col: col.sum(), in_dims=1)(x)
        tensor([ 9., 12.])
    """
    _check_args(func, in_dims, out_dims, randomness, chunk_size)

    @functools.wraps(func)
    def vmapped(*args, **kwargs):
        return _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)

    return vmapped


def _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs):
    if isinstance(in_dims, (list, tuple)) and not isinstance(in_dims, tuple):
        raise VmapError(f"vmap: in_dims must be an int, None or a tuple (one entry per argument), got {in_dims!r}")
    if isinstance(in_dims, tuple) and len(in_dims) != len(args):
        raise VmapError(
            f"vmap: in_dims has {len(in_dims)} entries but the function was called with {len(args)} "
            "positional argument(s)"
        )
    leaves = _flatten(args, [])
    dims = _dims_per_leaf(in_dims, args, "in_dims")
    size = None
    norm_dims = []
    for i, (leaf, d) in enumerate(zip(leaves, dims)):
        if d is None:
            norm_dims.append(None)
            continue
        if not isinstance(leaf, Tensor):
            raise VmapError(
                f"vmap: input {i} is a {type(leaf).__name__} with in_dim {d}; only tensors can be batched "
                "(give None for it in in_dims)"
            )
        nd = leaf.ndim
        if not -nd <= d < nd:
            raise VmapError(f"vmap: in_dim {d} is out of range for input {i} of shape {tuple(leaf.shape)}")
        d %= nd
        n = leaf.shape[d]
        if size is None:
            size = n
        elif n != size:
            raise VmapError(
                f"vmap: inputs have different batch sizes ({size} and {n}: input {i} of shape "
                f"{tuple(leaf.shape)} at dim {d}); every batched input needs the same size"
            )
        norm_dims.append(d)
    if size is None:
        raise VmapError("vmap: no input is batched (in_dims is None for all of them); at least one must be")
    if chunk_size is not None and chunk_size < size:
        return _chunked(func, in_dims, out_dims, randomness, chunk_size, args, kwargs, leaves, norm_dims, size)
    return _run(func, out_dims, randomness, args, kwargs, leaves, norm_dims, size)


def _run(func, out_dims, randomness, args, kwargs, leaves, norm_dims, size):
    level = next(_IDS)
    token = _ACTIVE.set((*_ACTIVE.get(), (level, size, randomness)))
    depth_token = graph._VMAP_DEPTH.set(graph._VMAP_DEPTH.get() + 1)
    try:
        wrapped = iter([leaf if d is None else _make(leaf, d, level) for leaf, d in zip(leaves, norm_dims)])
        result = func(*_rebuild(args, wrapped), **kwargs)
        out_leaves = _flatten(result, [])
        dims = _dims_per_leaf(out_dims, result, "out_dims")
        outs = [_unwrap(out, d, level, size, i) for i, (out, d) in enumerate(zip(out_leaves, dims))]
    finally:
        graph._VMAP_DEPTH.reset(depth_token)
        _ACTIVE.reset(token)
    return _rebuild(result, iter(outs))


def _unwrap(out, out_dim, level, size, i):
    if not isinstance(out, Tensor):
        if out_dim is None:
            return out
        raise VmapError(
            f"vmap: output {i} is a {type(out).__name__}; with out_dims {out_dim} it must be a tensor "
            "(give None for it in out_dims)"
        )
    data = out._data
    here = type(data) is BatchedArray and data.level == level
    if out_dim is None:
        if here:
            raise VmapError(f"vmap: output {i} differs between samples but its out_dim is None; give it an int out_dim")
        return out
    nd = out.ndim + 1
    if not -nd <= out_dim < nd:
        raise VmapError(f"vmap: out_dim {out_dim} is out of range for output {i} of shape {tuple(out.shape)}")
    if not here:
        return expand_batch(out, size, out_dim % nd)
    return move(data.value, data.bdim, out_dim % nd)


def _chunked(func, in_dims, out_dims, randomness, chunk_size, args, kwargs, leaves, norm_dims, size):
    pieces = []
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        chunk = []
        for leaf, d in zip(leaves, norm_dims):
            if d is None:
                chunk.append(leaf)
            else:
                index = (slice(None),) * d + (slice(start, stop),)
                chunk.append(graph.apply1(PRIMITIVES["getitem"], leaf, index, tuple(leaf.shape)))
        chunk_args = _rebuild(args, iter(chunk))
        pieces.append(_run(func, out_dims, randomness, chunk_args, kwargs, chunk, norm_dims, stop - start))
    first = pieces[0]
    flat = [_flatten(p, []) for p in pieces]
    dims = _dims_per_leaf(out_dims, first, "out_dims")
    joined = []
    for k, d in enumerate(dims):
        parts = [f[k] for f in flat]
        if d is None or not isinstance(parts[0], Tensor):
            joined.append(parts[0])
            continue
        axis = d % parts[0].ndim
        joined.append(graph.applyn(PRIMITIVES["cat"], parts, axis, tuple(p.shape[axis] for p in parts)))
    return _rebuild(first, iter(joined))


def randomness_policy():
    """The randomness of the innermost active vmap level in this thread, or None outside vmap."""
    levels = _ACTIVE.get()
    return levels[-1][2] if levels else None


def _randomness_error():
    raise VmapError(
        "vmap: a random draw inside a vmapped function with randomness='error' (the default); pass "
        "randomness='different' (dropout draws a mask per sample) or 'same' (one draw for all samples)"
    )


def _check_draw():
    if randomness_policy() == "error":
        _randomness_error()


def random_mask(draw, shape):
    """A random tensor from ``draw(shape)`` under the innermost vmap level's randomness policy.

    ``"different"``: one draw per sample of every active level (a batched tensor); ``"same"``: one draw,
    shared; ``"error"``: VmapError.  Dropout calls this for a batched input.
    """
    policy = randomness_policy()
    if policy == "error":
        _randomness_error()
    if policy == "same":
        return _wrap(_without_check(draw, shape))
    sizes = tuple(entry[1] for entry in _ACTIVE.get())
    return batched(_wrap(_without_check(draw, sizes + tuple(shape))))


def _without_check(draw, shape):
    token = _ACTIVE.set(())  # the policy was applied here: the draw itself is not refused
    try:
        return draw(shape)
    finally:
        _ACTIVE.reset(token)


_random.DRAW_CHECKS[:] = [_check_draw]


from . import _batching  # noqa: E402 - the rules use the helpers above
