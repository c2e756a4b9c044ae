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


def asarray(obj, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    """``obj`` as a tensor, sharing memory when it can (PyTorch's ``torch.asarray``).

    Args:
        obj: a Tensor, a NumPy (or CuPy) array, a scalar or a nested list.
        dtype: the dtype wanted; None keeps the dtype of ``obj`` (or infers it as ``tensor`` does).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        copy: True always copies; False never does (an error when a copy is needed); None (the default)
            copies only when the dtype or device must change or ``obj`` is not an array.
        requires_grad: whether the result is a leaf that records operations; default False.

    Returns:
        A tensor of the shape of ``obj``.

    Raises:
        ValueError: ``copy=False`` but ``obj`` cannot be used without a copy.

    Examples:
        >>> a = np.array([1.0, 2.0])
        >>> t = cr.asarray(a)
        >>> a[0] = 5.0
        >>> t
        tensor([5., 2.], dtype=chainrule.float64)
        >>> cr.asarray([1, 2], dtype=cr.float32)
        tensor([1., 2.])
    """
    if copy:
        out = tensor(obj, dtype=dtype, device=device)
    else:
        out = as_tensor(obj, dtype=dtype, device=device)
        if (
            copy is False
            and out is not obj
            and not (isinstance(obj, np.ndarray) and np.shares_memory(backend.to_numpy(out._data), obj))
        ):
            raise ValueError("asarray(copy=False): obj cannot be used as a tensor without a copy")
    if requires_grad:
        out.requires_grad_(True)
    return out


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
    size = tuple(int(s) if isinstance(s, Tensor) and s.ndim == 0 and s.dtype.kind in "iu" else s for s in size)
    for s in size:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 0:
            raise ValueError(f"sizes must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


# keywords PyTorch's factories take that mean nothing here: one memory layout (strided), no pinned memory
_IGNORED = ("layout", "pin_memory", "memory_format")


def _size_and_options(fn: str, size: tuple, kwargs: dict) -> tuple:
    """The shape from ``*size`` or PyTorch's ``size=`` keyword; refuses keywords it does not know."""
    if "size" in kwargs:
        if size:
            raise TypeError(f"{fn}(): the size is given both positionally and as size=")
        size = (kwargs.pop("size"),)
    _check_options(fn, kwargs)
    return _size(size)


def _check_options(fn: str, kwargs: dict) -> None:
    for name in _IGNORED:
        kwargs.pop(name, None)
    if kwargs.pop("out", None) is not None:
        raise TypeError(f"{fn}(): out= is not supported by chainrule; assign the result instead")
    if kwargs:
        raise TypeError(f"{fn}() got an unexpected keyword argument {next(iter(kwargs))!r}")


def _make(arr, device, requires_grad):
    if device is not None:
        arr = backend.to_device(arr, device)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    return np if device is None else backend.module_for_device(device)


def zeros(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor filled with zeros.

    Args:
        size: the shape, as separate ints (``zeros(2, 3)``) or one tuple or list (``zeros((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: ``size=`` (PyTorch's keyword form of the shape); ``layout``, ``pin_memory`` and
            ``memory_format`` are accepted and ignored.

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
    return _make_direct("zeros", _size_and_options("zeros", size, kwargs), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor filled with ones.

    Args:
        size: the shape, as separate ints (``ones(2, 3)``) or one tuple or list (``ones((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: ``size=`` (PyTorch's keyword form of the shape); ``layout``, ``pin_memory`` and
            ``memory_format`` are accepted and ignored.

    Returns:
        A tensor of shape ``size``.

    Examples:
        >>> cr.ones(2)
        tensor([1., 1.])
        >>> cr.ones(2, dtype=cr.float64)
        tensor([1., 1.], dtype=chainrule.float64)
    """
    return _make_direct("ones", _size_and_options("ones", size, kwargs), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor whose values are not initialized (whatever the memory held).

    Args:
        size: the shape, as separate ints (``empty(2, 3)``) or one tuple or list (``empty((2, 3))``).
        dtype: the dtype; None means the default dtype (float32 unless changed by ``set_default_dtype``).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: ``size=`` (PyTorch's keyword form of the shape); ``layout``, ``pin_memory`` and
            ``memory_format`` are accepted and ignored.

    Returns:
        A tensor of shape ``size`` with arbitrary values.

    Examples:
        >>> cr.empty(2, 3).shape
        (2, 3)
    """
    return _make_direct("empty", _size_and_options("empty", size, kwargs), dtype, device, requires_grad)


def _make_direct(kind, size, dtype, device, requires_grad):
    xp = _xp(device)
    arr = getattr(xp, kind)(size, dtype=as_dtype(dtype))
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def full(size, fill_value, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    Args:
        size: the shape: an int or a tuple or list of ints.
        fill_value: the value of every element.
        dtype: the dtype; None takes bool for a bool value, int64 for an int, else the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of shape ``size``.

    Examples:
        >>> cr.full((2, 2), 7)
        tensor([[7, 7],
                [7, 7]])
        >>> cr.full(3, 0.5)
        tensor([0.5000, 0.5000, 0.5000])
    """
    _check_options("full", kwargs)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(fill_value, (numbers.Integral, np.integer)):
            dtype = np.int64
    xp = _xp(device)
    size = _size((size,) if isinstance(size, numbers.Integral) else tuple(size))
    return _make(xp.full(size, fill_value, dtype=as_dtype(dtype)), None, requires_grad)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor of zeros with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.zeros_like(cr.tensor([[1, 2, 3]]))
        tensor([[0, 0, 0]])
    """
    _check_options("zeros_like", kwargs)
    return _like("zeros", x, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor of ones with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.ones_like(cr.tensor([1.5, 2.5]), dtype=cr.int64)
        tensor([1, 1])
    """
    _check_options("ones_like", kwargs)
    return _like("ones", x, dtype, device, requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """An uninitialized tensor with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        dtype: the dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape with arbitrary values.

    Examples:
        >>> cr.empty_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    _check_options("empty_like", kwargs)
    return _like("empty", x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor filled with ``fill_value``, with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        fill_value: the value of every element (cast to the dtype).
        dtype: the dtype; None keeps ``x``'s (so an int value in a float tensor becomes a float).
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.full_like(cr.tensor([1.0, 2.0]), 3)
        tensor([3., 3.])
    """
    _check_options("full_like", kwargs)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    xp = backend.array_module(x._data) if device is None else _xp(device)
    arr = xp.full(x._data.shape, fill_value, dtype=x._data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def _like(kind, x, dtype, device, requires_grad):
    xp = backend.array_module(x._data) if device is None else _xp(device)
    arr = getattr(xp, kind)(x._data.shape, dtype=x._data.dtype if dtype is None else as_dtype(dtype))
    return _make(arr, None, requires_grad)


def arange(start=0, end=None, step=1, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Values from start (default 0) up to, not including, end; int64 unless a bound is a float.

    ``arange(end)`` counts from 0; ``arange(start, end, step)`` as NumPy's
    ``arange`` (with a float step the count is subject to rounding; ``linspace``
    gives an exact number of points).

    Args:
        start: the first value (default 0), or, when ``end`` is None, the end (and the start is 0).
            Numbers, or 0-d tensors as PyTorch also accepts, for start, end and step.
        end: the bound, not included.
        step: the difference between neighbours (may be negative); default 1.
        dtype: the dtype; None means int64 when start, end and step are ints, else the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A 1-d tensor of ``ceil((end - start) / step)`` values.

    Examples:
        >>> cr.arange(5)
        tensor([0, 1, 2, 3, 4])
        >>> cr.arange(1, 2, 0.25)
        tensor([1.0000, 1.2500, 1.5000, 1.7500])
    """
    _check_options("arange", kwargs)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
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


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Uniform on [0, 1).

    Args:
        size: the shape, as separate ints (``rand(2, 3)``) or one tuple or list.
        generator: the ``cr.Generator`` to draw from; None means the default one (seeded by ``cr.manual_seed``).
        dtype: a floating dtype; None means the default dtype (float32). float16 is drawn as float32 and rounded.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; the numbers are drawn on the CPU, so a seed gives the same
            values on every device.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: ``size=`` (PyTorch's keyword form of the shape); ``layout``, ``pin_memory`` and
            ``memory_format`` are accepted and ignored.

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
    size = _size_and_options("rand", size, kwargs)
    return _make(_draw_float("random", size, dtype, generator), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Standard normal (mean 0, variance 1).

    Args:
        size: the shape, as separate ints (``randn(2, 3)``) or one tuple or list.
        generator: the ``cr.Generator`` to draw from; None means the default one (seeded by ``cr.manual_seed``).
        dtype: a floating dtype; None means the default dtype (float32). float16 is drawn as float32 and rounded.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; the numbers are drawn on the CPU, so a seed gives the same
            values on every device.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: ``size=`` (PyTorch's keyword form of the shape); ``layout``, ``pin_memory`` and
            ``memory_format`` are accepted and ignored.

    Returns:
        A tensor of shape ``size``.

    Raises:
        TypeError: ``dtype`` is not a floating dtype.

    Examples:
        >>> x = cr.randn(1000, dtype=cr.float64)
        >>> x.shape, x.dtype, abs(x.mean().item()) < 0.1
        ((1000,), dtype('float64'), True)
    """
    size = _size_and_options("randn", size, kwargs)
    return _make(_draw_float("standard_normal", size, dtype, generator), device, requires_grad)


def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Integers drawn uniformly from [low, high), PyTorch's forms: ``randint([low,] high, size)``.

    ``randint(10, (3,))`` and ``randint(high=10, size=(3,))`` draw from [0, 10); ``randint(2, 10, (3,))``,
    ``randint(2, 10, size=(3,))`` and ``randint(low=2, high=10, size=(3,))`` from [2, 10).  As in PyTorch,
    with two positional arguments the first is the bound and the second the size.

    Args:
        *args: ``high, size`` or ``low, high, size`` (``size`` may instead come by keyword); ``low`` and
            ``high`` may also be keywords (``low=``, default 0, and ``high=``).
        size: the shape, a tuple or list of ints (required, as in PyTorch; ``()`` for a 0-d tensor).
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype; None means int64.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``.
        requires_grad: must be False (integers have no gradient); accepted for PyTorch's signature.
        **kwargs: ``low=`` and ``high=``; PyTorch's ``layout`` and ``pin_memory`` are accepted and ignored.

    Returns:
        A tensor of shape ``size``.

    Raises:
        TypeError: the size or the bound is missing, or arguments are repeated.
        ValueError: ``low >= high``.

    Examples:
        >>> x = cr.randint(0, 10, (2, 3))
        >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
        ((2, 3), dtype('int64'), True)
        >>> cr.randint(3, (4,)).shape
        (4,)
        >>> cr.randint(3, 4, size=(2,))
        tensor([3, 3])
    """
    low, high = kwargs.pop("low", None), kwargs.pop("high", None)
    _check_options("randint", kwargs)
    given = list(args)
    if size is None and len(given) >= 2 and isinstance(given[-1], (tuple, list)):
        size = given.pop()
    if len(given) == 2 and low is None and high is None:
        low, high = given
    elif len(given) == 1 and high is None:
        high = given[0]
    elif len(given) == 1 and low is None:
        low = given[0]
    elif given:
        raise TypeError(f"randint(): cannot read the arguments {args} with low={low}, high={high}")
    if high is None:
        raise TypeError("randint(): the bound high is missing: randint([low,] high, size)")
    if size is None:
        raise TypeError("randint(): size is missing (as in PyTorch): randint([low,] high, size), say randint(9, (3,))")
    if requires_grad:
        from .errors import DTypeError  # noqa: PLC0415

        raise DTypeError("randint(): only floating point tensors can require gradients")
    low = 0 if low is None else low
    low, high = (int(v.item()) if isinstance(v, Tensor) else int(v) for v in (low, high))
    if low >= high:
        raise ValueError(f"randint(): low ({low}) must be below high ({high})")
    size = _size((size,) if isinstance(size, numbers.Integral) else tuple(size))
    arr = numpy_rng(generator).integers(low, high, size=size, dtype=np.int64)
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


def rand_like(x: Tensor, generator=None, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Uniform on [0, 1), with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: a floating dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.rand_like(cr.zeros(2, 3, dtype=cr.float64)).dtype
        dtype('float64')
    """
    _check_options("rand_like", kwargs)
    device = _dev(x) if device is None else device
    return rand(*x.shape, generator=generator, dtype=dtype or x.dtype, device=device, requires_grad=requires_grad)


def randn_like(x: Tensor, generator=None, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """Standard normal, with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: a floating dtype; None keeps ``x``'s.
        device: the device; None keeps ``x``'s.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``memory_format``, ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.randn_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    _check_options("randn_like", kwargs)
    device = _dev(x) if device is None else device
    return randn(*x.shape, generator=generator, dtype=dtype or x.dtype, device=device, requires_grad=requires_grad)


def randint_like(x: Tensor, low=0, high=None, generator=None, dtype=None, device=None, **kwargs) -> Tensor:
    """Integers in [low, high), with the shape (and by default the dtype and device) of ``x``.

    Args:
        x: the tensor whose shape is copied; any shape.
        low: the smallest value (default 0), or, when ``high`` is None, the bound (and the smallest value is 0).
        high: the bound, not included.
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype; None keeps ``x``'s (integers drawn for a float tensor are stored as floats).
        device: the device; None keeps ``x``'s.
        **kwargs: PyTorch's ``requires_grad`` (False only), ``memory_format``, ``layout`` and ``pin_memory``.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> cr.randint_like(cr.zeros(4, dtype=cr.int64), 7, 8)
        tensor([7, 7, 7, 7])
        >>> cr.randint_like(cr.zeros(2, 3), 10).shape
        (2, 3)
    """
    requires_grad = kwargs.pop("requires_grad", False)
    _check_options("randint_like", kwargs)
    if high is None:
        low, high = 0, low
    device = _dev(x) if device is None else device
    out = randint(low, high, x.shape, generator=generator, dtype=dtype or x.dtype, device=device)
    return out.requires_grad_(True) if requires_grad else out


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
    if rows.size and (not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(axis=1) <= 0).any()):
        raise ValueError("multinomial: probs must be finite, non-negative, and each row must have a positive sum")
    try:
        out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    except ValueError as exc:
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples from probs of shape {tuple(p.shape)} "
            f"(replacement={replacement}): {exc}"
        ) from None
    return _make(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64), _dev(probs), False)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Normal draws ``mean + std * N(0, 1)``, PyTorch's four forms.

    ``normal(mean_tensor, std_tensor)`` draws one value per element (the two broadcast);
    ``normal(mean_tensor, std=1.0)`` and ``normal(mean=0.0, std_tensor)`` take the shape of the tensor;
    ``normal(mean, std, size)`` with two numbers draws a tensor of shape ``size``.  The result is
    ``mean + std * noise``, so gradients flow to a ``mean`` or ``std`` tensor that requires grad (the
    reparameterization trick), as in PyTorch.

    Args:
        mean: the mean, a number or a floating point tensor.
        std: the standard deviation (>= 0), a number or a floating point tensor.
        size: the shape, when ``mean`` and ``std`` are both numbers (required then).
        generator: the ``cr.Generator`` to draw from; None means the default one.
        dtype: the dtype when both are numbers; None means the default dtype (float32).
        device: ``"cpu"`` (None) or ``"cuda[:N]"`` when both are numbers (else the tensors' device).
        requires_grad: whether the result (both numbers) is a leaf that records operations; default False.

    Returns:
        A tensor of the broadcast shape of ``mean`` and ``std``, or of shape ``size``.

    Raises:
        TypeError: both are numbers and ``size`` is missing.
        ShapeError: the shapes of ``mean`` and ``std`` do not broadcast.

    Examples:
        >>> cr.normal(0.0, 1.0, (2, 3)).shape
        (2, 3)
        >>> y = cr.normal(cr.tensor([0.0, 100.0]), 1e-6)
        >>> [round(v) for v in y.tolist()]
        [0, 100]
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with a number for both mean and std, give the size: normal(mean, std, size)")
        size = _size((size,) if isinstance(size, numbers.Integral) else tuple(size))
        noise = _draw_float("standard_normal", size, dtype, generator)
        return _make(noise * noise.dtype.type(std) + noise.dtype.type(mean), device, requires_grad)
    like = tensors[0]
    if like.dtype.kind != "f":
        raise TypeError(f"normal(): mean and std must be floating point tensors, got {like.dtype}")
    try:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        from .errors import ShapeError  # noqa: PLC0415

        raise ShapeError(
            f"normal(): the shapes of mean {getattr(mean, 'shape', ())} and std {getattr(std, 'shape', ())} "
            "do not broadcast"
        ) from None
    noise = _make(_draw_float("standard_normal", shape, like.dtype, generator), _dev(like), False)
    return mean + std * noise


class _TypedTensorMeta(type):
    """``cr.FloatTensor`` and friends: constructors for one dtype, and ``isinstance`` checks on it."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, device=None):
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            return tensor(args[0], dtype=cls.dtype, device=device)  # the data form: a list, array or Tensor
        return zeros(*(args or (0,)), dtype=cls.dtype, device=device)  # the size form (no size: empty, as PyTorch)


def _typed(name: str, dtype, doc: str):
    return _TypedTensorMeta(name, (), {"__doc__": doc, "__module__": __name__, "dtype": np.dtype(dtype)})


_TYPED_DOC = """PyTorch's legacy ``torch.{name}``: a constructor of {dtype} tensors.

    ``{name}(data)`` copies ``data`` (a nested list, an array or a tensor) into a {dtype} tensor;
    ``{name}(*size)`` makes one of that shape; ``isinstance(t, cr.{name})`` checks the dtype.
    Differs from PyTorch: the size form fills with zeros (PyTorch leaves the memory uninitialized), and
    the result is a plain ``Tensor``.

    Args:
        *args: one data argument, or the size as ints.
        device: ``"cpu"`` (None) or ``"cuda[:N]"``; keyword only.

    Examples:
        >>> cr.{name}([1, 2]).dtype
        dtype('{dtype}')
        >>> cr.{name}(2, 3).shape, isinstance(cr.{name}([0]), cr.{name})
        ((2, 3), True)
"""

# the legacy typed constructors (``torch.FloatTensor`` ...), and the names ``Tensor.type()`` returns for each dtype
TENSOR_TYPES = {
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor",
    np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.bool_): "BoolTensor",
}
FloatTensor = _typed("FloatTensor", np.float32, _TYPED_DOC.format(name="FloatTensor", dtype="float32"))
DoubleTensor = _typed("DoubleTensor", np.float64, _TYPED_DOC.format(name="DoubleTensor", dtype="float64"))
HalfTensor = _typed("HalfTensor", np.float16, _TYPED_DOC.format(name="HalfTensor", dtype="float16"))
LongTensor = _typed("LongTensor", np.int64, _TYPED_DOC.format(name="LongTensor", dtype="int64"))
IntTensor = _typed("IntTensor", np.int32, _TYPED_DOC.format(name="IntTensor", dtype="int32"))
ShortTensor = _typed("ShortTensor", np.int16, _TYPED_DOC.format(name="ShortTensor", dtype="int16"))
CharTensor = _typed("CharTensor", np.int8, _TYPED_DOC.format(name="CharTensor", dtype="int8"))
ByteTensor = _typed("ByteTensor", np.uint8, _TYPED_DOC.format(name="ByteTensor", dtype="uint8"))
BoolTensor = _typed("BoolTensor", np.bool_, _TYPED_DOC.format(name="BoolTensor", dtype="bool"))


class memory_format:  # noqa: N801 - PyTorch's name
    """PyTorch's ``torch.memory_format``: accepted where PyTorch takes ``memory_format=``, with no effect.

    chainrule tensors are NumPy arrays, so there is one layout; ``cr.contiguous_format``,
    ``cr.preserve_format``, ``cr.channels_last`` and ``cr.channels_last_3d`` exist so that code passing
    them runs.  Differs from PyTorch: ``channels_last`` does not change the memory order.

    Args:
        name: the format's name, as PyTorch prints it.

    Examples:
        >>> cr.zeros(2, 3, 4, 5).contiguous(memory_format=cr.channels_last).shape
        (2, 3, 4, 5)
        >>> cr.channels_last
        torch.channels_last
    """

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
