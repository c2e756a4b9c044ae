"""Functions that make tensors: tensor, zeros, ones, full, arange, rand, ..."""

from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .backend import as_dtype, get_default_dtype
from .random import numpy_rng
from .tensor import Tensor, _wrap, as_array  # noqa: F401 - as_array: its old home


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays).

    Python floats give the default dtype (float32), ints int64, bools bool;
    NumPy arrays keep their dtype.

    Args:
        data: the values: a scalar, a nested list of any depth, a NumPy array or a Tensor (copied).
        dtype: the dtype of the result (``cr.float64``, ``"float32"``, ``np.int32``, ...); None infers it as above.
        device: ``"cpu"`` (the default, None) or ``"cuda[:N]"`` (needs CuPy).
        requires_grad: whether autograd records operations on the new tensor (a leaf); default False.

    Returns:
        A tensor of the shape of ``data``.

    Examples:
        >>> cr.tensor([[1.5, 2], [3, 4]])
        tensor([[1.5000, 2.0000],
                [3.0000, 4.0000]])
        >>> cr.tensor([1, 2]).dtype, cr.tensor(2.5).dtype
        (dtype('int64'), dtype('float32'))
        >>> cr.tensor([1.0, 2.0], requires_grad=True)
        tensor([1., 2.], requires_grad=True)
    """
    t = _wrap(as_array(data, dtype, device))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but without copying a NumPy array or Tensor that already fits.

    A Tensor of the requested dtype is returned as it is; a CPU NumPy array of
    the requested dtype is wrapped, sharing its memory; anything else is copied
    by ``tensor``.

    Args:
        data: a Tensor, a NumPy array, a scalar or a nested list.
        dtype: the dtype wanted; None keeps the dtype of ``data`` (or infers it as ``tensor`` does).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; a NumPy array wanted on a GPU is copied there. A Tensor
            whose dtype fits is returned as it is, whatever its device (PyTorch would move it).

    Returns:
        A tensor of the shape of ``data``.

    Examples:
        >>> a = np.array([1.0, 2.0], dtype=np.float32)
        >>> t = cr.as_tensor(a)
        >>> a[0] = 10.0
        >>> t
        tensor([10.,  2.])
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == as_dtype(dtype)) and device in (None, "cpu"):
        return _wrap(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept).

    Args:
        array: a ``numpy.ndarray`` of any shape; writes to either the array or the tensor show in both.

    Returns:
        A tensor of the array's shape and dtype.

    Raises:
        TypeError: ``array`` is not a NumPy array.

    Examples:
        >>> a = np.arange(3)
        >>> t = cr.from_numpy(a)
        >>> a[0] = 10
        >>> t
        tensor([10,  1,  2])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _wrap(array)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"sizes must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _make(arr, device, requires_grad):
    if device is not None:
        arr = backend.to_device(arr, device)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    return np if device is None else backend.module_for_device(device)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with zeros.

    Args:
        size: the shape, as separate ints (``zeros(2, 3)``) or one tuple or list (``zeros((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size``.

    Raises:
        ValueError: a size is negative or not an int.

    Examples:
        >>> cr.zeros(2, 3)
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
        >>> cr.zeros((2, 3), dtype=cr.int64).dtype
        dtype('int64')
    """
    return _make_direct("zeros", _size(size), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with ones.

    Args:
        size: the shape, as separate ints (``ones(2, 3)``) or one tuple or list (``ones((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size``.

    Examples:
        >>> cr.ones(2)
        tensor([1., 1.])
        >>> cr.ones(2, dtype=cr.float64)
        tensor([1., 1.], dtype=chainrule.float64)
    """
    return _make_direct("ones", _size(size), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor whose values are not initialized (whatever the memory held).

    Args:
        size: the shape, as separate ints (``empty(2, 3)``) or one tuple or list (``empty((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size`` with arbitrary values.

    Examples:
        >>> cr.empty(2, 3).shape
        (2, 3)
    """
    return _make_direct("empty", _size(size), dtype, device, requires_grad)


def _make_direct(kind, size, dtype, device, requires_grad):
    xp = _xp(device)
    arr = getattr(xp, kind)(size, dtype=as_dtype(dtype))
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    Args:
        size: the shape: an int or a tuple or list of ints.
        fill_value: the value of every element.
        dtype: the dtype; None takes bool for a bool value, int64 for an int, else the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size``.

    Examples:
        >>> cr.full((2, 2), 7)
        tensor([[7, 7],
                [7, 7]])
        >>> cr.full(3, 0.5)
        tensor([0.5000, 0.5000, 0.5000])
    """
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = np.int64
    xp = _xp(device)
    size = _size((size,) if isinstance(size, numbers.Integral) else tuple(size))
    return _make(xp.full(size, fill_value, dtype=as_dtype(dtype)), None, requires_grad)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.zeros_like(cr.tensor([[1, 2, 3]]))
        tensor([[0, 0, 0]])
    """
    return _like("zeros", x, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.ones_like(cr.tensor([1.5, 2.5]), dtype=cr.int64)
        tensor([1, 1])
    """
    return _like("ones", x, dtype, device, requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of ``x``'s shape with arbitrary values.

    Examples:
        >>> cr.empty_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    return _like("empty", x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with ``fill_value``, with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        fill_value: the value of every element (cast to the dtype).
        dtype: the dtype; None keeps ``x``'s (so an int value in a float tensor becomes a float).
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.full_like(cr.tensor([1.0, 2.0]), 3)
        tensor([3., 3.])
    """
    xp = backend.array_module(x._data) if device is None else _xp(device)
    arr = xp.full(x._data.shape, fill_value, dtype=x._data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def _like(kind, x, dtype, device, requires_grad):
    xp = backend.array_module(x._data) if device is None else _xp(device)
    arr = getattr(xp, kind)(x._data.shape, dtype=x._data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from start (default 0) up to, not including, end; int64 unless a bound is a float.

    ``arange(end)`` counts from 0; ``arange(start, end, step)`` as NumPy's
    ``arange`` (with a float step the count is subject to rounding; ``linspace``
    gives an exact number of points).

    Args:
        start: the first value, or, when ``end`` is None, the end (and the start is 0).
        end: the bound, not included.
        step: the difference between neighbours (may be negative); default 1.
        dtype: the dtype; None means int64 when start, end and step are ints, else the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A 1-d tensor of ``ceil((end - start) / step)`` values.

    Examples:
        >>> cr.arange(5)
        tensor([0, 1, 2, 3, 4])
        >>> cr.arange(1, 2, 0.25)
        tensor([1.0000, 1.2500, 1.5000, 1.7500])
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if is_int else get_default_dtype()
    return _make(np.arange(start, end, step, dtype=as_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    Args:
        start: the first value.
        end: the last value.
        steps: how many values (an int).
        dtype: the dtype; None means the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A 1-d tensor of shape (steps,).

    Examples:
        >>> cr.linspace(0, 1, 5)
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    return _make(np.linspace(start, end, int(steps), dtype=as_dtype(dtype)), device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in the exponent.

    Args:
        start: the first exponent.
        end: the last exponent (included).
        steps: how many values (an int).
        base: the base of the powers; default 10.
        dtype: the dtype; None means the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A 1-d tensor of shape (steps,).

    Examples:
        >>> cr.logspace(0, 2, 3)
        tensor([  1.,  10., 100.])
        >>> cr.logspace(0, 3, 4, base=2)
        tensor([1., 2., 4., 8.])
    """
    return _make(np.logspace(start, end, int(steps), base=base, dtype=as_dtype(dtype)), device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 2-d tensor with ones on the diagonal and zeros elsewhere.

    Args:
        n: the number of rows.
        m: the number of columns; None means ``n`` (a square identity).
        dtype: the dtype; None means the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape (n, m).

    Examples:
        >>> cr.eye(2, 3)
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    return _make(np.eye(n, m, dtype=as_dtype(dtype)), device, requires_grad)


# ---------------------------------------------------------------------------
# random


def _float_dtype(dtype):
    dt = as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"expected a floating dtype, got {dt}")
    return dt


def _draw_float(method, size, dtype, generator):
    dt = _float_dtype(dtype)
    rng = numpy_rng(generator)
    if dt in (np.float32, np.float64):
        return getattr(rng, method)(size, dtype=dt)
    return getattr(rng, method)(size, dtype=np.float32).astype(dt)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1).

    Args:
        size: the shape, as separate ints (``rand(2, 3)``) or one tuple or list.
        generator: the ``cr.Generator`` to draw from; None means the default one (seeded by ``cr.manual_seed``).
        dtype: a floating dtype; None means the default dtype (float32). float16 is drawn as float32 and rounded.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; the numbers are drawn on the CPU, so a seed gives the same
            values on every device.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size``.

    Raises:
        TypeError: ``dtype`` is not a floating dtype.

    Examples:
        >>> x = cr.rand(2, 3)
        >>> x.shape, bool(((x >= 0) & (x < 1)).all())
        ((2, 3), True)
        >>> g = cr.Generator(seed=1)
        >>> cr.rand(2, generator=g).tolist() == cr.rand(2, generator=g.manual_seed(1)).tolist()
        True
    """
    return _make(_draw_float("random", _size(size), dtype, generator), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal (mean 0, variance 1).

    Args:
        size: the shape, as separate ints (``randn(2, 3)``) or one tuple or list.
        generator: the ``cr.Generator`` to draw from; None means the default one (seeded by ``cr.manual_seed``).
        dtype: a floating dtype; None means the default dtype (float32). float16 is drawn as float32 and rounded.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; the numbers are drawn on the CPU, so a seed gives the same
            values on every device.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of shape ``size``.

    Raises:
        TypeError: ``dtype`` is not a floating dtype.

    Examples:
        >>> x = cr.randn(1000, dtype=cr.float64)
        >>> x.shape, x.dtype, abs(x.mean().item()) < 0.1
        ((1000,), dtype('float64'), True)
    """
    return _make(_draw_float("standard_normal", _size(size), dtype, generator), device, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high).

    Args:
        low: the smallest value, or, when ``high`` is None, the bound (and the smallest value is 0).
        high: the bound, not included.
        size: the shape, a tuple; default () (a 0-d tensor). Pass it by keyword after a single bound:
            ``randint(10, size=(3,))`` (PyTorch's positional ``randint(high, size)`` is not accepted).
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype; None means int64.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.

    Returns:
        A tensor of shape ``size`` (never requires grad).

    Examples:
        >>> x = cr.randint(0, 10, (2, 3))
        >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
        ((2, 3), dtype('int64'), True)
        >>> cr.randint(3, 4, size=(2,))
        tensor([3, 3])
    """
    if high is None:
        low, high = 0, low
    arr = numpy_rng(generator).integers(low, high, size=tuple(size), dtype=np.int64)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype))
    return _make(arr, device, False)


def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of ``0 .. n - 1``.

    Args:
        n: the number of values.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype; None means int64.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.

    Returns:
        A 1-d tensor of shape (n,).

    Examples:
        >>> p = cr.randperm(5)
        >>> p.shape, sorted(p.tolist())
        ((5,), [0, 1, 2, 3, 4])
    """
    arr = numpy_rng(generator).permutation(int(n)).astype(np.int64 if dtype is None else as_dtype(dtype))
    return _make(arr, device, False)


def rand_like(x: Tensor, generator=None, dtype=None) -> Tensor:
    """Uniform on [0, 1), with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: a floating dtype; None keeps ``x``'s.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.rand_like(cr.zeros(2, 3, dtype=cr.float64)).dtype
        dtype('float64')
    """
    return rand(*x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def randn_like(x: Tensor, generator=None, dtype=None) -> Tensor:
    """Standard normal, with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: a floating dtype; None keeps ``x``'s.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.randn_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    return randn(*x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def randint_like(x: Tensor, low, high=None, generator=None, dtype=None) -> Tensor:
    """Integers in [low, high), with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        low: the smallest value, or, when ``high`` is None, the bound (and the smallest value is 0).
        high: the bound, not included.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype; None keeps ``x``'s (integers drawn for a float tensor are stored as floats).

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.randint_like(cr.zeros(4, dtype=cr.int64), 7, 8)
        tensor([7, 7, 7, 7])
    """
    return randint(low, high, x.shape, generator=generator, dtype=dtype or x.dtype, device=_dev(x))


def _dev(x):
    dev = x.device
    return None if dev.type == "cpu" else dev


def bernoulli(p: Tensor, generator=None) -> Tensor:
    """1 with probability p, else 0, elementwise (no gradient).

    Args:
        p: the probabilities, any shape, a float tensor with values in [0, 1].
        generator: the ``cr.Generator`` to draw from; None means the default one.

    Returns:
        A tensor of ``p``'s shape and dtype holding 0s and 1s.

    Examples:
        >>> cr.bernoulli(cr.tensor([0.0, 1.0, 1.0, 0.0]))
        tensor([0., 1., 1., 0.])
    """
    probs = backend.to_numpy(p._data)
    draw = numpy_rng(generator).random(probs.shape, dtype=np.float32 if probs.dtype == np.float32 else np.float64)
    return _make((draw < probs).astype(probs.dtype), _dev(p), False)


def multinomial(probs: Tensor, num_samples: int, replacement=False, generator=None) -> Tensor:
    """Draw ``num_samples`` category indices per row, with probability proportional to ``probs``.

    Each row of ``probs`` is normalized to sum to 1 (as in PyTorch, the weights
    need not sum to 1). No gradient.

    Args:
        probs: non-negative weights of shape (C,) or (*, C), C categories.
        num_samples: how many indices to draw per row.
        replacement: whether an index may be drawn more than once; without replacement
            ``num_samples`` must not exceed the number of nonzero weights. Default False.
        generator: the ``cr.Generator`` to draw from; None means the default one.

    Returns:
        An int64 tensor of shape (num_samples,) or (*, num_samples).

    Examples:
        >>> cr.multinomial(cr.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), 2, replacement=True)
        tensor([[1, 1],
                [0, 0]])
        >>> sorted(cr.multinomial(cr.tensor([0.2, 0.3, 0.5]), 3).tolist())
        [0, 1, 2]
    """
    rng = numpy_rng(generator)
    p = backend.to_numpy(probs._data).astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _make(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64), _dev(probs), False)
