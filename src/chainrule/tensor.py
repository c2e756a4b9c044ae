"""Tensor: an array that remembers how it was made.

``Tensor.data`` is the raw array (numpy.ndarray on the CPU, cupy.ndarray on a
GPU).  Unlike PyTorch, where ``.data`` is a detached Tensor, here it is the
array itself: ``p.data`` is what optimizers update in place.

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

    Make one with :func:`chainrule.tensor` (or ``zeros``, ``randn``, ...).
    Shapes are tuples of ints, dtypes are NumPy dtypes (float32 by default).
    """

    __slots__ = (
        "data",
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

    def __init__(self, data, dtype=None, requires_grad=False):
        self.data = as_array(data, dtype)
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
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return type(self.data) is not _ndarray and self.device.type == "cuda"

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded op."""
        return self._edge is None

    @property
    def grad_fn(self):
        """The Node that made this tensor, or None for a leaf."""
        edge = self._edge
        return None if edge is None else edge[0]

    @property
    def retains_grad(self) -> bool:
        return bool(self._retains_grad)

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def size(self, dim: int | None = None):
        """The shape, or one dimension of it (``size(-1)``)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def element_size(self) -> int:
        return self.data.itemsize

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ------------------------------------------------------------ conversion

    def item(self):
        """The single value as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): a Tensor with {self.data.size} elements cannot be converted to a "
                "Python scalar; index it or reduce it first"
            )
        return self.data.item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array, sharing memory (no copy).

        Differs from PyTorch: allowed on tensors that require grad (the array has no history).
        """
        if type(self.data) is not _ndarray:
            raise TypeError(f"numpy(): the tensor is on {self.device}; call .cpu() first")
        return self.data

    def __array__(self, dtype=None, copy=None):
        arr = backend.to_numpy(self.data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.item())

    # ---------------------------------------------------------------- history

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Ask (or stop asking) for gradients of this leaf; returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad_: only floating point tensors can require gradients, "
                f"this one is {self.data.dtype}; convert it with .float() first"
            )
        if not requires_grad and self._edge is not None:
            raise GradientError("requires_grad_(False) on a non-leaf tensor; use .detach() to cut it from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same data (shared memory and version counter) without history."""
        out = _wrap(self.data)
        out._version = _counter(self)
        return out

    def detach_(self) -> Tensor:
        self._edge = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
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
        whose ``remove()`` takes the hook off again.
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
        """
        ENGINE["backward"](self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # ---------------------------------------------------------------- in place

    def _alias(self) -> Tensor:
        """Another Tensor object for the same value and history (used before an in-place op)."""
        out = _wrap(self.data)
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
        if recording:
            self._check_inplace(op)
            result = fn(self._alias(), *args)
        else:
            result = fn(self, *args)
        if result.data.shape != self.data.shape:
            from .errors import ShapeError  # noqa: PLC0415

            raise ShapeError(
                f"{op}: the result has shape {result.data.shape} but the tensor written to has shape "
                f"{self.data.shape} (an in-place op cannot broadcast its target)"
            )
        _copy_into(op, self.data, result.data)
        if recording:
            self._edge = result._edge
            self.requires_grad = result.requires_grad
        self._bump()
        return self

    # ---------------------------------------------------------------- display

    def __repr__(self):
        return _format_tensor(self)

    def __str__(self):
        return _format_tensor(self)

    def __format__(self, spec):
        if self.data.ndim == 0 and spec:
            return format(self.data.item(), spec)
        return str(self)

    def __deepcopy__(self, memo):
        """A copy with its own data (and gradient), like ``copy.deepcopy`` of a PyTorch leaf."""
        if self._edge is not None:
            raise GradientError(
                "deepcopy: only leaf tensors (made by the user, not by an op) can be deep-copied; detach() it first"
            )
        out = _wrap(self.data.copy())
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
    t.data = data
    t.grad = None
    t.requires_grad = False
    t._edge = None
    t._version = None
    return t


def _wrap_edge(data, edge) -> Tensor:
    """A new Tensor made by a recorded op: ``edge`` is (node, output index)."""
    t = _new(Tensor)
    t.data = data
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


def _format_tensor(t: Tensor) -> str:
    arr = backend.to_numpy(t.data)
    prefix = "tensor("
    if t._is_param:
        return "Parameter containing:\n" + _format_tensor(t.detach())
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
        arr = data.data.copy()
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
