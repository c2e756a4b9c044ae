"""The raw array of a batched tensor (vmap): a batch seen as one sample, and NumPy code run on the batch.

A batched tensor is a plain ``Tensor`` whose raw array is a
:class:`BatchedArray`: the batch as a Tensor with the batch dimension still
in it (``value``), where that dimension is (``bdim``) and the vmap *level* it
belongs to.  It shows one sample's ``shape``, ``ndim``, ``dtype`` and
``size``.  NumPy code of the op layer on it (comparisons and masks, casts,
basic indexing, functions along an axis such as ``argsort``) runs on the
whole batch with the axis shifted past the batch dimension and gives a
batched array back; anything that would read values across samples
(``item()``, reductions over all axes, advanced indexing) raises
:class:`VmapError`, as torch.func refuses data-dependent control flow.
"""

from __future__ import annotations

import inspect
import math
from contextvars import ContextVar

import numpy as np

from ..backend import array_module
from ..errors import ChainruleError
from ..tensor import Tensor, _wrap

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
        if any(type(i) is BatchedArray for i in items) or _batch_position(items) != 0:
            self._refuse(what=" (indexing its raw array with batched or separated advanced indices)")
        raw = physical_raw(self, self.level, self.ndim)
        return _batched_result(raw[(slice(None),) + tuple(items)], self.level)

    def __setitem__(self, index, data):
        """x[index] = data on every sample, in place (the op layer's write when nothing is recorded)."""
        raw = self.value._data
        if type(raw) is BatchedArray:
            self._refuse(what=" (writing raw values of nested vmap levels)")
        if _batch_position(index) != 0:
            self._refuse(what=" (writing with separated advanced indices)")
        view = array_module(raw).moveaxis(raw, self.bdim, 0)
        full = (slice(None), *_index_tuple(index))
        if type(data) is BatchedArray:
            region = view[full].ndim - 1
            data = physical_raw(data, self.level, region)
        view[full] = data

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

    __array__ = __bool__ = __len__ = __iter__ = __float__ = __int__ = __index__ = _refuse
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


# index helpers (NumPy's advanced-index rules), shared with the getitem/index rules in _batching.py


def _is_array(e):
    return isinstance(e, list) or (hasattr(e, "ndim") and hasattr(e, "dtype") and not np.isscalar(e))


def _index_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def _batch_position(index) -> int:
    """Where x[(slice(None), *index)] puts the leading batch dimension (NumPy's advanced-index rule)."""
    items = _index_tuple(index)
    if not any(_is_array(e) for e in items):
        return 0
    adv = [i for i, e in enumerate(items) if _is_array(e) or isinstance(e, (int, np.integer))]
    if adv == list(range(adv[0], adv[-1] + 1)):
        return 0  # one block of advanced indices: their dims replace the block, after the batch
    ndims = [1 if getattr(e, "dtype", None) == np.bool_ else np.ndim(e) for e in items if _is_array(e)]
    return max(ndims)  # separated: the broadcast index dims come first, then the batch
