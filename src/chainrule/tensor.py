"""Tensor: an array that remembers how it was made.

``Tensor._data`` is the raw array (numpy.ndarray on the CPU, cupy.ndarray on a
GPU): what ops read and optimizers update in place.  ``Tensor.data`` is
PyTorch's: another Tensor for the same array, outside the graph.

Every differentiable op on tensors that require grad records a node (see
``autograd/graph.py``); ``loss.backward()`` walks those nodes once, in reverse,
applying each op's vector-Jacobian product (``autograd/engine.py``).  The
operators and methods are attached from ``ops/`` at import time
(``ops/methods.py``), so this file holds only what a tensor *is*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import backend
from .autograd.forward import carry_tangents, check_view_write, forward_levels, move_tangents
from .autograd.mode import grad_enabled
from .errors import DTypeError, GradientError

if TYPE_CHECKING:  # the methods ops/methods.py binds at import, declared for type checkers (a generated stub)
    from ._tensor_methods import TensorMethods as _Methods
else:
    _Methods = object

_ndarray = np.ndarray

# The reverse-mode engine (autograd/engine.py) puts its ``backward`` and ``RetainGrad`` here when it is imported
# (chainrule's __init__ imports it): Tensor.backward calls into the layer above it without importing it.
ENGINE: dict = {}
_new = object.__new__


class Tensor(_Methods):
    """An n-dimensional array with an optional gradient history.

    Make one with ``chainrule.tensor`` (or ``zeros``, ``randn``, ...).
    Shapes are tuples of ints, dtypes are NumPy dtypes (float32 by default).

    ``.data`` is a Tensor sharing the array, outside the graph (as in PyTorch), ``.grad`` the
    accumulated gradient (a Tensor or None) and ``.requires_grad`` whether ops on it are recorded.
    Differs from PyTorch: ``Tensor(data)`` copies ``data`` and infers its dtype as ``chainrule.tensor``
    does (``torch.Tensor([1, 2])`` is float32, here int64), and ``Tensor(2, 3)`` does not make an
    uninitialized 2x3 tensor (use ``chainrule.empty``).

    Args:
        data: a number, nested list or tuple, NumPy (or CuPy) array, or Tensor; always copied.  Python
            floats become the default dtype (float32); arrays keep theirs.
        dtype: the dtype to convert to (``chainrule.float64``, ``"int32"``, a NumPy dtype); None (the
            default) infers it from ``data``.
        requires_grad: record the ops on this tensor so that ``backward`` fills its ``.grad`` (default
            False; only floating point tensors may).

    Raises:
        DTypeError: ``requires_grad`` for a tensor that is not floating point.
        TypeError: complex or string data.

    Examples:
        >>> x = cr.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> x
        tensor([[1., 2.],
                [3., 4.]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
        >>> cr.Tensor([1, 2], dtype=cr.float64).dtype
        dtype('float64')
    """

    __slots__ = (
        "_data",  # the raw array: numpy.ndarray, or cupy.ndarray on a GPU
        "grad",
        "requires_grad",
        "_edge",
        "_version",
        "_hooks",
        "_retains_grad",
        "_is_view",
        "_is_param",
        "name",
        "__weakref__",
    )
    __array_ufunc__ = None  # numpy defers to Tensor's reflected operators
    __hash__ = object.__hash__  # == is elementwise; identity is the hash

    _LAZY = {"_hooks": None, "_retains_grad": False, "_is_view": False, "_is_param": False, "name": None}
    # for type checkers: slots read through _LAZY until first set (annotations only, no class attributes)
    _retains_grad: bool
    _is_param: bool

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = as_array(data, dtype)
        self.grad = None
        self.requires_grad = False
        self._edge = None
        self._version = None
        if requires_grad:
            self.requires_grad_(True)

    def __getattr__(self, name):
        try:
            return Tensor._LAZY[name]
        except KeyError:
            raise AttributeError(f"'Tensor' object has no attribute '{name}'") from None

    # ------------------------------------------------------------------ facts

    @property
    def data(self) -> Tensor:
        """This tensor's values as a new Tensor outside the graph: the same memory, no history.

        As in PyTorch, ``p.data`` is how to change a parameter without autograd seeing it:
        ``p.data.add_(p.grad, alpha=-lr)``, ``p.data.copy_(w)``, ``p.data.zero_()`` write into ``p``.
        The result does not require grad, and it has its own version counter: unlike ``detach()``,
        in-place writes through ``.data`` are invisible to backward's check for saved tensors modified
        in place (a gradient computed afterwards may silently use the new values, as in PyTorch).

        Assigning ``p.data = t`` (a Tensor or an array) makes ``p`` use ``t``'s memory; the shape and
        dtype may change, the graph and ``.grad`` are untouched.  The raw NumPy (or CuPy) array is
        ``numpy()`` (``._data`` inside chainrule).

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> w.data
            tensor([1., 2.])
            >>> w.data.mul_(10)
            tensor([10., 20.])
            >>> w
            tensor([10., 20.], requires_grad=True)
            >>> w.data = cr.zeros(3)
            >>> w
            tensor([0., 0., 0.], requires_grad=True)
        """
        return _wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        if isinstance(value, Tensor):
            array = value._data
        elif isinstance(value, _ndarray) or _is_device_array(value):
            array = value
        else:
            raise TypeError(
                f"Tensor.data = value: expected a Tensor (or a NumPy/CuPy array), got {type(value).__name__}; "
                "wrap it in chainrule.tensor(...) first"
            )
        if self.requires_grad and array.dtype.kind != "f":
            raise DTypeError(
                f"Tensor.data = value: this tensor requires grad, so its data must be floating point, not "
                f"{array.dtype}; convert it with .float() first"
            )
        self._data = array

    @property
    def shape(self) -> tuple:
        """The size of each dimension, a tuple of ints (``()`` for a 0-d tensor).

        Differs from PyTorch: a plain tuple, not a ``torch.Size`` (``x.size()`` returns the same).

        Examples:
            >>> cr.zeros(2, 3).shape
            (2, 3)
            >>> cr.tensor(1.0).shape
            ()
        """
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions, an int (``dim()`` returns the same).

        Examples:
            >>> cr.zeros(2, 3).ndim, cr.tensor(1.0).ndim
            (2, 0)
        """
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The element type, a ``numpy.dtype`` (``chainrule.float32`` is ``numpy.float32``'s dtype).

        Examples:
            >>> cr.tensor([1.0]).dtype, cr.tensor([1]).dtype
            (dtype('float32'), dtype('int64'))
            >>> cr.tensor([1.0]).dtype == cr.float32
            True
        """
        return self._data.dtype

    @property
    def device(self) -> backend.Device:
        """Where the data lives: a ``chainrule.device`` (``device(type='cpu')`` or ``device(type='cuda', index=0)``).

        Examples:
            >>> cr.zeros(2).device
            device(type='cpu')
            >>> cr.zeros(2).device.type
            'cpu'
        """
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        """True when the data is on a CUDA GPU (a CuPy array).

        Examples:
            >>> cr.zeros(2).is_cuda
            False
        """
        return type(self._data) is not _ndarray and self.device.type == "cuda"

    @property
    def is_sparse(self) -> bool:
        """False: a Tensor is always dense (a sparse embedding gradient is a ``RowSparseGrad``, whose
        ``is_sparse`` is True).

        Examples:
            >>> cr.zeros(2).is_sparse
            False
        """
        return False

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded op.

        Leaves that require grad get their ``.grad`` filled by ``backward``; other tensors only with
        ``retain_grad()``.  Tensors that do not require grad are leaves too, as in PyTorch.

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> w.is_leaf, (w * 2).is_leaf, (w * 2).detach().is_leaf
            (True, False, True)
        """
        return self._edge is None

    @property
    def grad_fn(self):
        """The Node that made this tensor, or None for a leaf.

        The node holds the op's primitive, its saved values and one edge per input (see the architecture
        guide); ``backward`` walks these nodes.

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> w.grad_fn is None
            True
            >>> (w * w).sum().grad_fn
            <sum node #...>
        """
        edge = self._edge
        return None if edge is None else edge[0]

    @property
    def retains_grad(self) -> bool:
        """True when ``retain_grad()`` was called on this non-leaf tensor (False for leaves, as in PyTorch).

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> h = w * 2
            >>> h.retain_grad()
            >>> h.retains_grad, w.retains_grad
            (True, False)
        """
        return bool(self._retains_grad)

    def is_floating_point(self) -> bool:
        """True for a floating point dtype (float16, bfloat16, float32, float64).

        Returns:
            A bool.

        Examples:
            >>> cr.tensor([1.0]).is_floating_point(), cr.tensor([1]).is_floating_point()
            (True, False)
        """
        return self._data.dtype.kind == "f"

    @property
    def itemsize(self) -> int:
        """The size of one element in bytes (``element_size()`` returns the same).

        Examples:
            >>> cr.zeros(3).itemsize, cr.zeros(3, dtype=cr.float64).itemsize
            (4, 8)
        """
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        """The size of the data in bytes (``numel() * itemsize``).

        Examples:
            >>> cr.zeros(2, 3).nbytes
            24
        """
        return self._data.nbytes

    def size(self, dim: int | None = None):
        """The shape, or one dimension of it (``size(-1)``).

        Args:
            dim: the dimension whose size is wanted (negative counts from the end); None (the default)
                returns the whole shape.

        Returns:
            The shape as a tuple of ints, or one int.

        Examples:
            >>> x = cr.zeros(2, 3)
            >>> x.size(), x.size(-1)
            ((2, 3), 3)
        """
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        """The number of dimensions (the same as ``.ndim``).

        Returns:
            An int.

        Examples:
            >>> cr.zeros(2, 3).dim()
            2
        """
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (the product of the shape; 1 for a 0-d tensor).

        Returns:
            An int.

        Examples:
            >>> cr.zeros(2, 3).numel(), cr.tensor(5.0).numel()
            (6, 1)
        """
        return self._data.size

    def element_size(self) -> int:
        """The size of one element in bytes (the same as ``.itemsize``).

        Returns:
            An int.

        Examples:
            >>> cr.zeros(3, dtype=cr.float16).element_size()
            2
        """
        return self._data.itemsize

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ------------------------------------------------------------ conversion

    def item(self):
        """The single value as a Python number.

        Returns:
            A Python float, int or bool (from a float, integer or bool tensor) of a tensor with one element,
                whatever its shape.

        Raises:
            ValueError: the tensor has more or fewer than one element.

        Examples:
            >>> cr.tensor(2.5).item()
            2.5
            >>> cr.tensor([[7]]).item()
            7
        """
        if self._data.size != 1:
            raise ValueError(
                f"item(): a Tensor with {self._data.size} elements cannot be converted to a "
                "Python scalar; index it or reduce it first"
            )
        return self._data.item()

    def tolist(self):
        """The data as nested Python lists of Python numbers (copied to the CPU first if needed).

        Returns:
            A list nested ``ndim`` deep, or a single number for a 0-d tensor.

        Examples:
            >>> cr.tensor([[1, 2], [3, 4]]).tolist()
            [[1, 2], [3, 4]]
            >>> cr.tensor(0.5).tolist()
            0.5
        """
        return _host(self._data).tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array, sharing memory (no copy).

        Differs from PyTorch: allowed on tensors that require grad (the array has no history).
        Writing into the array changes the tensor without bumping its version counter.

        Returns:
            The ``numpy.ndarray`` this tensor holds (same shape and dtype).

        Raises:
            TypeError: the tensor is on a GPU; call ``.cpu()`` first.

        Examples:
            >>> x = cr.tensor([1.0, 2.0])
            >>> a = x.numpy()
            >>> a[0] = 5.0
            >>> x
            tensor([5., 2.])
        """
        data = self._data
        if type(data) is not _ndarray:
            if not isinstance(data, np.generic):
                raise TypeError(f"numpy(): the tensor is on {self.device}; call .cpu() first")
            data = self._data = np.asarray(data)  # a NumPy scalar (0-d): hold it as the 0-d array it stands for
        return data

    def __array__(self, dtype=None, copy=None):
        arr = _host(self._data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self._data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.item())

    # ---------------------------------------------------------------- history

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Ask (or stop asking) for gradients of this leaf; returns self.

        Args:
            requires_grad: True (the default) to record ops on this tensor and fill its ``.grad``; False
                to stop (allowed on leaves only).

        Returns:
            This tensor.

        Raises:
            DTypeError: ``requires_grad`` on a tensor that is not floating point.
            GradientError: ``requires_grad_(False)`` on a tensor made by a recorded op (use ``detach()``).

        Examples:
            >>> w = cr.zeros(2).requires_grad_()
            >>> w
            tensor([0., 0.], requires_grad=True)
            >>> w.requires_grad_(False).requires_grad
            False
        """
        if requires_grad and self._data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad_: only floating point tensors can require gradients, "
                f"this one is {self._data.dtype}; convert it with .float() first"
            )
        if not requires_grad and self._edge is not None:
            raise GradientError("requires_grad_(False) on a non-leaf tensor; use .detach() to cut it from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same data (shared memory and version counter) without history.

        The result is a leaf that does not require grad; changing it in place changes this tensor too,
        and a backward that saved this tensor then reports the change (the version counter is shared).

        Returns:
            A new Tensor object for the same array.

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> d = (w * 2).detach()
            >>> d, d.requires_grad
            (tensor([2., 4.]), False)
        """
        out = _wrap(self._data)
        out._version = _counter(self)
        return out

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad.

        Returns:
            This tensor.

        Examples:
            >>> h = cr.tensor([1.0, 2.0], requires_grad=True) * 2
            >>> h.detach_() is h, h.is_leaf, h.requires_grad
            (True, True, False)
        """
        self._edge = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it).

        Raises:
            GradientError: the tensor does not require grad.

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> h = w * 3
            >>> h.retain_grad()
            >>> (h * h).sum().backward()
            >>> h.grad
            tensor([ 6., 12.])
        """
        if not self.requires_grad:
            raise GradientError("retain_grad() on a tensor that does not require grad")
        if self._edge is None:
            return
        import weakref  # noqa: PLC0415

        if self._retains_grad:
            return
        node, index = self._edge
        table = node.hooks
        if table is None:
            table = node.hooks = {}
        table.setdefault(index, []).append(ENGINE["RetainGrad"](weakref.ref(self)))
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a new gradient that replaces it.  Returns a handle
        whose ``remove()`` takes the hook off again.  On a leaf, hooks run once
        its whole gradient has arrived, before it is added to ``.grad``.

        Args:
            hook: a callable taking the gradient (a Tensor of this tensor's shape) and returning None or
                the gradient to use instead.

        Returns:
            A handle with a ``remove()`` method.

        Raises:
            GradientError: the tensor does not require grad.

        Examples:
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> handle = w.register_hook(lambda grad: grad * 10)
            >>> (w * w).sum().backward()
            >>> w.grad
            tensor([20., 40.])
            >>> handle.remove()
        """
        if not self.requires_grad:
            raise GradientError("register_hook() on a tensor that does not require grad")
        if self._edge is None:
            hooks = self._hooks
            if hooks is None:
                hooks = self._hooks = []
        else:
            node, index = self._edge
            table = node.hooks
            if table is None:
                table = node.hooks = {}
            hooks = table.setdefault(index, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is required when self is not a scalar (the vector in the
        vector-Jacobian product).  ``retain_graph`` (default: create_graph)
        keeps the saved arrays for another backward; ``create_graph`` records
        the backward pass itself so the gradients can be differentiated.
        The same as ``chainrule.autograd.backward(self, ...)``.

        Args:
            gradient: the gradient with respect to this tensor, a tensor of its shape; None (the default)
                is allowed for a tensor of one element and means 1.
            retain_graph: keep the saved tensors after the walk so that backward can run through the graph
                again; None (the default) means the value of ``create_graph``.
            create_graph: record the backward pass so that the gradients are differentiable (second
                derivatives); default False.
            inputs: a tensor or a list of tensors; only their ``.grad`` is filled.  None (the default):
                every leaf that requires grad.

        Raises:
            GradientError: this tensor does not require grad, or has more than one element and no
                ``gradient`` was given.
            ShapeError: ``gradient``'s shape differs from this tensor's.

        Examples:
            >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
            >>> (x * x).sum().backward()
            >>> x.grad
            tensor([2., 4., 6.])
            >>> (x * 2).backward(cr.tensor([1.0, 0.0, 1.0]))
            >>> x.grad
            tensor([4., 4., 8.])
        """
        ENGINE["backward"](self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # ---------------------------------------------------------------- in place

    def _alias(self) -> Tensor:
        """Another Tensor object for the same value and history (used before an in-place op)."""
        out = _wrap(self._data)
        out.requires_grad = self.requires_grad
        out._edge = self._edge
        out._version = _counter(self)
        return out

    def _check_inplace(self, op: str) -> None:
        if self._edge is None and self.requires_grad:
            raise GradientError(
                f"{op}: a leaf tensor that requires grad is used in an in-place operation; "
                "wrap the update in `with chainrule.no_grad():` (as optimizers do) or clone() it first"
            )
        if self._is_view:
            raise GradientError(
                f"{op}: in-place change of a view of another tensor while recording gradients is not "
                "supported by chainrule; use the out-of-place op or clone() the view first"
            )

    def _bump(self) -> None:
        counter = self._version
        if counter is None:
            self._version = [1]
        else:
            counter[0] += 1

    def _inplace(self, op: str, fn, *args) -> Tensor:
        """Write ``fn(self, *args)`` (an out-of-place op) into self, keeping the graph right."""
        recording = grad_enabled() and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        levels = forward_levels()
        if levels and self._is_view:
            check_view_write(op, self, args)
        if recording:
            self._check_inplace(op)
            alias = self._alias()
            if levels:
                carry_tangents(self, alias)
            result = fn(alias, *args)
        else:
            result = fn(self, *args)
        if result._data.shape != self._data.shape:
            from .errors import ShapeError  # noqa: PLC0415

            raise ShapeError(
                f"{op}: the result has shape {result._data.shape} but the tensor written to has shape "
                f"{self._data.shape} (an in-place op cannot broadcast its target)"
            )
        _copy_into(op, self._data, result._data)
        if recording:
            self._edge = result._edge
            self.requires_grad = result.requires_grad
        self._bump()
        if levels:
            move_tangents(result, self)  # forward mode (jvp): the tangent follows the write
        return self

    # ---------------------------------------------------------------- display

    def __repr__(self):
        return _format_tensor(self)

    def __str__(self):
        return _format_tensor(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self._data.item(), spec)
        return str(self)

    def __deepcopy__(self, memo):
        """A copy with its own data (and gradient), like ``copy.deepcopy`` of a PyTorch leaf."""
        if self._edge is not None:
            raise GradientError(
                "deepcopy: only leaf tensors (made by the user, not by an op) can be deep-copied; detach() it first"
            )
        out = _wrap(self._data.copy())
        memo[id(self)] = out
        out.requires_grad = self.requires_grad
        if self._is_param:
            out._is_param = True
        if self.grad is not None:
            out.grad = self.grad.__deepcopy__(memo)
        return out

    def __reduce_ex__(self, protocol):
        raise TypeError("chainrule tensors are not pickled; save them with chainrule.save (safetensors)")


class _HookHandle:
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        try:
            self._hooks.remove(self._hook)
        except ValueError:
            pass


def _counter(t: Tensor) -> list:
    counter = t._version
    if counter is None:
        counter = t._version = [0]
    return counter


def _copy_into(op, target, source):
    try:
        backend.array_module(target).copyto(target, source, casting="same_kind")
    except TypeError as exc:
        raise DTypeError(
            f"{op}: cannot write a {source.dtype} result into a {target.dtype} tensor in place ({exc})"
        ) from None


def _wrap(data) -> Tensor:
    """A new leaf Tensor around ``data`` (no copy, no checks): the fast internal constructor."""
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t.requires_grad = False
    t._edge = None
    t._version = None
    return t


def _wrap_edge(data, edge) -> Tensor:
    """A new Tensor made by a recorded op: ``edge`` is (node, output index)."""
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t.requires_grad = True
    t._edge = edge
    t._version = None
    return t


# ------------------------------------------------------------------- printing


def _format_number(arr: np.ndarray):
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return lambda v: f"{v}"
    absmax = float(np.abs(finite).max())
    nonzero = np.abs(finite[finite != 0])
    absmin = float(nonzero.min()) if nonzero.size else 0.0
    if np.all(finite == np.round(finite)) and absmax < 1e8:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    if absmax >= 1e8 or (absmin and absmin < 1e-4) or (absmin and absmax / absmin > 1e6):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}"


def _host(array) -> np.ndarray:
    """The array on the CPU as an ndarray (a NumPy scalar, which some NumPy paths give for 0-d, included)."""
    if type(array) is _ndarray:
        return array
    if isinstance(array, np.generic):
        return np.asarray(array)
    return backend.to_numpy(array)


def _format_tensor(t: Tensor) -> str:
    if t._is_param:  # PyTorch's layout: a header line, then the tensor with requires_grad shown
        return "Parameter containing:\n" + _format_values(t)
    return _format_values(t)


def _format_values(t: Tensor) -> str:
    arr = _host(t._data)
    prefix = "tensor("
    if arr.dtype.kind == "f":
        fmt = _format_number(arr.astype(np.float64))
        width = max((len(fmt(v)) for v in arr.ravel()[:2000]), default=1)
        body = np.array2string(
            arr,
            separator=", ",
            prefix=prefix,
            threshold=1000,
            edgeitems=3,
            max_line_width=80,
            formatter={"float_kind": lambda v: fmt(v).rjust(width)},
        )
    elif arr.dtype.kind == "b":  # padded to the widest value shown, as PyTorch does ([True], [ True, False])
        width = 5 if (~arr).any() else 4
        body = np.array2string(
            arr,
            separator=", ",
            prefix=prefix,
            threshold=1000,
            edgeitems=3,
            max_line_width=80,
            formatter={"bool": lambda v: str(bool(v)).rjust(width)},
        )
    else:
        body = np.array2string(arr, separator=", ", prefix=prefix, threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default_dtypes = (backend.get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_))
    if arr.dtype not in default_dtypes or arr.size == 0:
        extras.append(f"dtype=chainrule.{arr.dtype}")
    if t._edge is not None:
        extras.append(f"grad_fn=<{t._edge[0].prim.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


# --------------------------------------------------------------------------- arrays from Python data


def as_array(data, dtype=None, device=None):
    """A fresh array for ``data``: Python floats become the default dtype; arrays keep theirs."""
    if isinstance(data, Tensor):
        arr = data._data.copy()
        keep = True
    else:
        keep = isinstance(data, (np.ndarray, np.generic)) or _is_device_array(data)
        if _is_device_array(data):
            arr = data.copy()
        else:
            if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(data)):
                data = _tensors_to_lists(data)
            arr = np.array(data)
    if dtype is not None:
        arr = arr.astype(backend.as_dtype(dtype), copy=False)
    elif not keep and arr.dtype == np.float64:
        arr = arr.astype(backend.get_default_dtype())
    elif arr.dtype.kind == "c":
        raise TypeError("chainrule tensors do not support complex numbers")
    elif arr.dtype.kind in "USO":
        raise TypeError(f"cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}")
    if device is not None:
        arr = backend.to_device(arr, device)
    return arr


def _is_device_array(data):
    cp = backend.cupy_module() if type(data).__module__.startswith("cupy") else None
    return cp is not None and isinstance(data, cp.ndarray)


def _flat(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _tensors_to_lists(seq):
    return [
        _tensors_to_lists(v) if isinstance(v, (list, tuple)) else (v.tolist() if isinstance(v, Tensor) else v)
        for v in seq
    ]
