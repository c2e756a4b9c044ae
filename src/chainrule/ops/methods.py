"""Tensor's operators and methods, bound to the functions of the op families.

The arithmetic operators are written out (rather than routed through the
generic functions) because they are the hottest path in the library: a
tensor-with-tensor ``+`` goes straight to the primitive.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.forward import forward_levels
from ..autograd.graph import apply1, apply2
from ..autograd.mode import grad_enabled
from ..errors import DeviceError, DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from . import compare, index, linalg, pointwise, reduce, shape  # noqa: F401 - pointwise: registers its ops
from . import elementwise as ew
from .elementwise import _add, _adds, _div, _divs, _mul, _muls, _neg, _pows, _rsubs, _sub
from .registry import BOUND, INPLACE, METHODS, op

_float = float
_int = int


def _is_plain_number(x):
    t = type(x)
    return t is _float or t is _int


# ---------------------------------------------------------------- arithmetic


def __add__(self, other):
    if type(other) is Tensor:
        return apply2(_add, self, other)
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_adds, self, other)
    return ew.add(self, other)


def __radd__(self, other):
    return ew.add(other, self)


def __sub__(self, other):
    if type(other) is Tensor:
        return apply2(_sub, self, other)
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_adds, self, -other)
    return ew.sub(self, other)


def __rsub__(self, other):
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_rsubs, self, other)
    return ew.sub(other, self)


def __mul__(self, other):
    if type(other) is Tensor:
        return apply2(_mul, self, other)
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_muls, self, other)
    return ew.mul(self, other)


def __rmul__(self, other):
    return ew.mul(other, self)


def __truediv__(self, other):
    if type(other) is Tensor and self._data.dtype.kind == "f" and other._data.dtype.kind == "f":
        return apply2(_div, self, other)
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_divs, self, other)
    return ew.div(self, other)


def __rtruediv__(self, other):
    return ew.div(other, self)


def __pow__(self, other):
    if _is_plain_number(other) and self._data.dtype.kind == "f":
        return apply1(_pows, self, other)
    return ew.pow(self, other)


def __rpow__(self, other):
    return ew.pow(other, self)


def __neg__(self):
    return apply1(_neg, self)


def __matmul__(self, other):
    return linalg.matmul(self, other)


def __rmatmul__(self, other):
    return linalg.matmul(ew.as_tensor_like(other, self), self)


def __floordiv__(self, other):
    return ew.floor_divide(self, other)


def __rfloordiv__(self, other):
    return ew.floor_divide(other, self)


def __mod__(self, other):
    return ew.remainder(self, other)


def __rmod__(self, other):
    return ew.remainder(other, self)


def __abs__(self):
    return ew.abs(self)


def __pos__(self):
    return self


def __invert__(self):
    if self._data.dtype == np.bool_:
        return compare.logical_not(self)
    return compare.bitwise_not(self)


# ---------------------------------------------------------------- in place


def _fast_inplace(self, op, ufunc, other):
    """``self op= other`` on the raw arrays when nothing is recorded."""
    data = self._data
    operand = other._data if type(other) is Tensor else other
    if type(other) is Tensor and type(operand) is not type(data):
        raise DeviceError(f"{op}: tensors on different devices ({self.device} and {other.device})")
    try:
        getattr(backend.array_module(data), ufunc)(data, operand, out=data)
    except TypeError as exc:
        raise DTypeError(f"{op}: cannot write the result into a {data.dtype} tensor in place ({exc})") from None
    except ValueError as exc:
        raise ShapeError(
            f"{op}: {exc} (the tensor has shape {data.shape}, the other operand "
            f"{getattr(operand, 'shape', ())}; an in-place op cannot broadcast its target)"
        ) from None
    self._bump()
    return self


def _recording(self, other):
    """Whether an in-place op must go through Tensor._inplace: to be recorded, or to carry tangents (jvp)."""
    if forward_levels():
        return True
    return grad_enabled() and (self.requires_grad or (type(other) is Tensor and other.requires_grad))


@op(export=False, method=True)
def add_(self, other, alpha=1):
    """Add ``alpha * other`` to this tensor in place (``self += alpha * other``); returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        other: a tensor that broadcasts to this tensor's shape, or a number.
        alpha: a multiplier for ``other`` (default 1).

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``other`` does not broadcast to this tensor's shape (the target cannot grow).
        DTypeError: the result cannot be stored in this tensor's dtype (a float added to an int tensor).
        GradientError: see above.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.add_(cr.tensor([1.0, 1.0, 1.0]), alpha=2)
        tensor([3., 4., 5.])
        >>> x += 1
        >>> x
        tensor([4., 5., 6.])
    """
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "add_", "add", other)
    return self._inplace("add_", ew.add, other)


@op(export=False, method=True)
def sub_(self, other, alpha=1):
    """Subtract ``alpha * other`` from this tensor in place (``self -= alpha * other``); returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        other: a tensor that broadcasts to this tensor's shape, or a number.
        alpha: a multiplier for ``other`` (default 1).

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``other`` does not broadcast to this tensor's shape.
        DTypeError: the result cannot be stored in this tensor's dtype.
        GradientError: see above.

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with cr.no_grad():  # an SGD step on a leaf
        ...     w.sub_(cr.tensor([5.0, 5.0]), alpha=0.1)
        tensor([0.5000, 1.5000], requires_grad=True)
    """
    if alpha != 1:
        other = other * alpha
    if not _recording(self, other):
        return _fast_inplace(self, "sub_", "subtract", other)
    return self._inplace("sub_", ew.sub, other)


@op(export=False, method=True)
def mul_(self, other):
    """Multiply this tensor by ``other`` in place (``self *= other``); returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        other: a tensor that broadcasts to this tensor's shape, or a number.

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``other`` does not broadcast to this tensor's shape.
        DTypeError: the result cannot be stored in this tensor's dtype.
        GradientError: see above.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.mul_(cr.tensor([10.0, -1.0]))
        tensor([[10., -2.],
                [30., -4.]])
    """
    if not _recording(self, other):
        return _fast_inplace(self, "mul_", "multiply", other)
    return self._inplace("mul_", ew.mul, other)


@op(export=False, method=True)
def div_(self, other):
    """Divide this tensor by ``other`` in place (``self /= other``, true division); returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        other: a tensor that broadcasts to this tensor's shape, or a number.

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``other`` does not broadcast to this tensor's shape.
        DTypeError: the result cannot be stored in this tensor's dtype (dividing an int tensor).
        GradientError: see above.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.div_(2)
        tensor([0.5000, 1.0000, 1.5000])
    """
    if not _recording(self, other):
        return _fast_inplace(self, "div_", "true_divide", other)
    return self._inplace("div_", ew.div, other)


@op(export=False, method=True)
def pow_(self, other):
    """Raise this tensor to the power ``other`` in place (``self **= other``); returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        other: the exponent: a tensor that broadcasts to this tensor's shape, or a number.

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``other`` does not broadcast to this tensor's shape.
        DTypeError: the result cannot be stored in this tensor's dtype.
        GradientError: see above.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.pow_(2)
        tensor([1., 4., 9.])
    """
    if not _recording(self, other):
        return _fast_inplace(self, "pow_", "power", other)
    return self._inplace("pow_", ew.pow, other)


@op(export=False, method=True)
def zero_(self):
    """Fill this tensor with zeros in place; returns self (``fill_(0)``).

    Returns:
        This tensor, same shape and dtype, all zeros.

    Raises:
        GradientError: on a leaf that requires grad outside ``chainrule.no_grad()``.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.zero_()
        tensor([[0., 0.],
                [0., 0.]])
    """
    return fill_(self, 0)


@op(export=False, method=True)
def fill_(self, value):
    """Set every element of this tensor to ``value`` in place; returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        value: a number, or a one-element tensor whose value is used; cast to this tensor's dtype.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.zeros(2, 2)
        >>> x.fill_(2.5)
        tensor([[2.5000, 2.5000],
                [2.5000, 2.5000]])
        >>> cr.zeros(3, dtype=cr.int64).fill_(cr.tensor(7))
        tensor([7, 7, 7])
    """
    if isinstance(value, Tensor):
        value = value.item()
    if grad_enabled() and self.requires_grad:
        self._check_inplace("fill_")
        return self._inplace("fill_", lambda s: s * 0.0 + value)
    if forward_levels():  # forward mode: the tangent becomes zero
        return self._inplace("fill_", lambda s: s * 0.0 + value)
    self._data[...] = value
    self._bump()
    return self


@op(export=False, method=True)
def copy_(self, src):
    """Copy src's values (broadcast to self's shape) into self.

    ``src`` is cast to this tensor's dtype and moved to its device.  When either requires grad (and grad
    mode is on) the copy is recorded: ``src`` receives the gradient (summed over the broadcast) and the
    old value of this tensor a zero gradient.

    Args:
        src: a tensor (any dtype and device), array, number or nested list that broadcasts to this
            tensor's shape.

    Returns:
        This tensor, same shape and dtype.

    Raises:
        ShapeError: ``src`` does not broadcast to this tensor's shape.
        GradientError: on a leaf that requires grad outside ``chainrule.no_grad()``.

    Examples:
        >>> x = cr.zeros(2, 3)
        >>> x.copy_(cr.tensor([1, 2, 3]))
        tensor([[1., 2., 3.],
                [1., 2., 3.]])
    """
    if not isinstance(src, Tensor):
        src = ew.as_tensor_like(src, self)
    if type(src._data) is not type(self._data):
        src_data = backend.to_device(src._data, self.device)
        src = _wrap(src_data)
    if forward_levels() or (grad_enabled() and (self.requires_grad or src.requires_grad)):
        return self._inplace(
            "copy_", lambda s, o: (o.to(s.dtype) if o.dtype != s.dtype else o).expand(s.shape) + s * 0.0, src
        )
    try:
        backend.array_module(self._data).copyto(self._data, src._data, casting="unsafe")
    except ValueError as exc:
        raise ShapeError(f"copy_: cannot copy shape {src.shape} into {self.shape} ({exc})") from None
    self._bump()
    return self


# (input, arguments, printed result) of each in-place method's example; a new one gets a generic example
_INPLACE_EXAMPLES = {
    "neg_": ("[1.0, -2.0, 0.5]", "", "tensor([-1.0000,  2.0000, -0.5000])"),
    "abs_": ("[-1.5, 0.0, 2.0]", "", "tensor([1.5000, 0.0000, 2.0000])"),
    "exp_": ("[0.0, 1.0]", "", "tensor([1.0000, 2.7183])"),
    "log_": ("[1.0, 4.0]", "", "tensor([0.0000, 1.3863])"),
    "sqrt_": ("[1.0, 4.0, 9.0]", "", "tensor([1., 2., 3.])"),
    "tanh_": ("[0.0, 1.0]", "", "tensor([0.0000, 0.7616])"),
    "sigmoid_": ("[0.0, 2.0]", "", "tensor([0.5000, 0.8808])"),
    "relu_": ("[-1.0, 0.0, 2.0]", "", "tensor([0., 0., 2.])"),
    "clamp_": ("[-2.0, 0.5, 3.0]", "-1.0, 1.0", "tensor([-1.0000,  0.5000,  1.0000])"),
    "clip_": ("[-2.0, 0.5, 3.0]", "min=0.0", "tensor([0.0000, 0.5000, 3.0000])"),
    "lerp_": ("[0.0, 10.0]", "cr.tensor([10.0, 20.0]), 0.5", "tensor([ 5., 15.])"),
    "addcmul_": ("[1.0, 1.0]", "cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]), value=2", "tensor([ 7., 17.])"),
    "addcdiv_": ("[1.0, 1.0]", "cr.tensor([1.0, 2.0]), cr.tensor([4.0, 4.0])", "tensor([1.2500, 1.5000])"),
}


def _inplace_doc(name, fn):
    """The docstring of the in-place method ``name``, which writes ``fn(self, ...)`` back into the tensor."""
    op_name = fn.__name__
    if name in _INPLACE_EXAMPLES:
        data, args, shown = _INPLACE_EXAMPLES[name]
        example = f"""        >>> x = cr.tensor({data})
        >>> x.{name}({args})
        {shown}
        >>> x
        {shown}"""
    else:
        example = f"""        >>> x = cr.tensor([0.25, 1.0, 4.0])
        >>> y = x.{op_name}()
        >>> x.{name}() is x, bool((x == y).all())
        (True, True)"""
    return f"""In-place ``{op_name}``: write ``chainrule.{op_name}(self, *args)`` into this tensor; returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; the tensor's version counter is bumped.

    Args:
        *args: the arguments of ``chainrule.{op_name}`` after its input, if any.
        **kwargs: the same arguments by name.

    Returns:
        This tensor, same shape and dtype.

    Raises:
        DTypeError: the result cannot be stored in this tensor's dtype (a float result in an int tensor).
        GradientError: on a leaf that requires grad outside ``chainrule.no_grad()``, or (unlike PyTorch) on
            a view of a tensor that is part of the graph.

    Examples:
{example}
    """


def _inplace_unary(name, fn):
    def method(self, *args, **kwargs):
        # the positional arguments go through _inplace, which records the op when one of them requires grad
        return self._inplace(name, lambda s, *a: fn(s, *a, **kwargs), *args)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = _inplace_doc(name, fn)
    return method


@op(export=False, method=True)
def uniform_(self, a=0.0, b=1.0, generator=None):
    """Fill with uniform samples from [a, b) (no history: an initialization).

    The samples are drawn in float64 and cast to this tensor's dtype.  Not recorded: on a tensor that
    requires grad, call it under ``chainrule.no_grad()`` (as ``nn.init`` does).

    Args:
        a: the lower bound, included (default 0.0).
        b: the upper bound, excluded (default 1.0).
        generator: a ``chainrule.Generator`` to draw from; None (the default) draws from the global one
            that ``chainrule.manual_seed`` seeds.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.empty(1000).uniform_(2.0, 3.0)
        >>> x.shape, bool(((x >= 2.0) & (x < 3.0)).all())
        ((1000,), True)
    """
    from ..random import numpy_rng  # noqa: PLC0415

    draw = numpy_rng(generator).uniform(a, b, self._data.shape)
    return _fill_from(self, draw)


@op(export=False, method=True)
def normal_(self, mean=0.0, std=1.0, generator=None):
    """Fill with samples from the normal distribution N(mean, std**2) (no history: an initialization).

    The samples are drawn in float64 and cast to this tensor's dtype.  Not recorded: on a tensor that
    requires grad, call it under ``chainrule.no_grad()`` (as ``nn.init`` does).

    Args:
        mean: the mean (default 0.0).
        std: the standard deviation (default 1.0).
        generator: a ``chainrule.Generator`` to draw from; None (the default) draws from the global one
            that ``chainrule.manual_seed`` seeds.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> g = cr.Generator().manual_seed(1)
        >>> a = cr.zeros(2, 3).normal_(0.0, 0.02, generator=g)
        >>> b = cr.zeros(2, 3).normal_(0.0, 0.02, generator=g.manual_seed(1))
        >>> a.shape, bool((a == b).all())
        ((2, 3), True)
    """
    from ..random import numpy_rng  # noqa: PLC0415

    draw = numpy_rng(generator).normal(mean, std, self._data.shape)
    return _fill_from(self, draw)


def _fill_from(self, array):
    if grad_enabled() and self.requires_grad:
        self._check_inplace("init")
    self._data[...] = (
        backend.to_device(array.astype(self._data.dtype), self.device) if self.device.type != "cpu" else array
    )
    self._bump()
    return self


@op(export=False, method=True)
def masked_fill_(self, mask, value):
    """Set the elements where ``mask`` is True to ``value``, in place; returns self.

    When recording gradients the op is recorded out of place and its result written back, so the tensor
    takes the new node as its history; refused (GradientError) on a leaf that requires grad outside
    ``chainrule.no_grad()`` and, unlike PyTorch, on a view of a tensor that is part of the graph.

    Args:
        mask: a bool tensor that broadcasts to this tensor's shape.
        value: the number written where ``mask`` is True.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.masked_fill_(cr.tensor([True, False, True]), 0.0)
        tensor([0., 2., 0.])
    """
    return self._inplace("masked_fill_", lambda s: ew.masked_fill(s, mask, value))


@op(export=False, method=True)
def index_add_(self, dim, idx, source, alpha=1):
    """In-place ``index_add``: add ``alpha * source`` at the indices ``idx`` along ``dim``; returns self.

    Repeated indices accumulate.  See ``chainrule.index_add`` for the shapes; recorded like the other
    in-place ops.

    Args:
        dim: the dimension the indices point along.
        idx: a 1-d integer tensor of ``k`` indices into ``self.shape[dim]``.
        source: the values: this tensor's shape with ``k`` in dimension ``dim``.
        alpha: a scalar multiplier for ``source`` (default 1).

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.zeros(3)
        >>> x.index_add_(0, cr.tensor([0, 0, 2]), cr.tensor([1.0, 2.0, 5.0]))
        tensor([3., 0., 5.])
    """
    return self._inplace("index_add_", lambda s, src: index.index_add(s, dim, idx, src, alpha), source)


@op(export=False, method=True)
def scatter_add_(self, dim, idx, src):
    """In-place ``scatter_add``: add ``src[i][j]`` at ``self[idx[i][j]][j]`` (dim=0); returns self.

    Repeated indices accumulate.  See ``chainrule.scatter_add`` for the shapes; recorded like the other
    in-place ops.

    Args:
        dim: the dimension the indices point along.
        idx: an integer tensor with this tensor's number of dimensions, no larger than ``src``.
        src: the values to add, with this tensor's number of dimensions.

    Returns:
        This tensor, same shape and dtype.

    Examples:
        >>> x = cr.zeros(3)
        >>> x.scatter_add_(0, cr.tensor([2, 2, 0]), cr.tensor([1.0, 2.0, 4.0]))
        tensor([4., 0., 3.])
    """
    return self._inplace("scatter_add_", lambda s, o: index.scatter_add(s, dim, idx, o), src)


# ---------------------------------------------------------------- conversion


@op(export=False, method=True)
def to(self, *args, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``.

    Returns this tensor itself when nothing changes (unless ``copy=True``), else a converted copy that is
    recorded (gradients flow back through the cast and the device move).  Differs from PyTorch:
    ``non_blocking`` has no effect.

    Args:
        *args: in any order: a dtype (``chainrule.float64``, ``"float16"``, a NumPy dtype), a device
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``chainrule.device``), or a tensor whose dtype and
            device are taken.
        **kwargs: ``dtype=`` and ``device=`` as above; ``copy=True`` returns a new tensor with its own
            memory even when nothing changes; ``non_blocking`` and ``memory_format`` are accepted and
            ignored.

    Returns:
        A tensor of this tensor's shape with the requested dtype and device.

    Raises:
        TypeError: an unexpected keyword argument.

    Examples:
        >>> x = cr.tensor([1.5, 2.0])
        >>> x.to(cr.float64)
        tensor([1.5000, 2.0000], dtype=chainrule.float64)
        >>> x.to("cpu") is x, x.to("cpu", copy=True) is x
        (True, False)
        >>> x.to(cr.tensor([0])).dtype
        dtype('int64')
    """
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    copy = kwargs.pop("copy", False)
    if kwargs:
        raise TypeError(f"to(): unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, backend.Device)) and (
            isinstance(a, backend.Device) or a.split(":")[0] in ("cpu", "cuda")
        ):
            device = a
        elif a is not None:
            dtype = a
    out = self
    if device is not None and backend.Device(device) != out.device:
        out = _to_device(out, device)
    if dtype is not None:
        out = ew.to_dtype(out, dtype)
    if copy and out is self:
        out = ew.clone(out)
    return out


def _to_device(self, device):
    backend.module_for_device(device)  # a DeviceError, not an op error, when CuPy or the GPU is missing
    return apply1(ew._to_device, self, str(backend.Device(device)), str(self.device))


@op(export=False, method=True)
def cpu(self):
    """This tensor on the CPU: itself when it is already there, else a recorded copy.

    Returns:
        A tensor of this tensor's shape and dtype whose data is a NumPy array.

    Examples:
        >>> x = cr.tensor([1.0, 2.0])
        >>> x.cpu() is x, x.cpu().device
        (True, device(type='cpu'))
    """
    return to(self, "cpu")


@op(export=False, method=True)
def cuda(self, device=None):
    """This tensor on a CUDA GPU (through CuPy): itself when it is already there, else a recorded copy.

    Args:
        device: the GPU's index (an int); None (the default) is ``"cuda"``, the current device.

    Returns:
        A tensor of this tensor's shape and dtype whose data is a CuPy array.

    Raises:
        DeviceError: CuPy or a CUDA GPU is not available (``chainrule.cuda.is_available()`` is False).

    Examples:
        >>> x = cr.tensor([1.0, 2.0])
        >>> if cr.cuda.is_available():
        ...     x = x.cuda()
        >>> x.tolist()
        [1.0, 2.0]
    """
    return to(self, "cuda" if device is None else f"cuda:{device}")


@op(export=False, methods=("type",))
def _type_method(self, dtype=None, non_blocking=False, **kwargs):
    """With no argument, the PyTorch type name (``'torch.FloatTensor'``); with one, this tensor in that type.

    Differs from PyTorch: the names are PyTorch's (``'torch.LongTensor'``, ``'torch.cuda.FloatTensor'``), so
    that code comparing them keeps working under ``import chainrule as torch``.

    Args:
        dtype: None (the default) to ask for the name; else the type to convert to: a dtype
            (``chainrule.float64``), a typed constructor (``chainrule.LongTensor``) or a name
            (``"torch.DoubleTensor"``).
        non_blocking: accepted and ignored.
        **kwargs: PyTorch's ``async``, accepted and ignored.

    Returns:
        A string, or a tensor of this tensor's shape in the requested dtype (this tensor itself when it
            already has it).

    Raises:
        TypeError: an unknown type name.

    Examples:
        >>> x = cr.tensor([1.0, 2.0])
        >>> x.type()
        'torch.FloatTensor'
        >>> x.type(cr.LongTensor)
        tensor([1, 2])
        >>> x.type("torch.DoubleTensor").dtype, x.type(cr.float32) is x
        (dtype('float64'), True)
    """
    from ..creation import TENSOR_TYPES  # noqa: PLC0415

    if dtype is None:
        name = TENSOR_TYPES.get(self.dtype, f"{self.dtype}Tensor")
        return f"torch.cuda.{name}" if self.device.type == "cuda" else f"torch.{name}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        short = dtype.rsplit(".", 1)[-1]
        found = [dt for dt, name in TENSOR_TYPES.items() if name == short]
        if not found:
            raise TypeError(f"type(): unknown tensor type {dtype!r}")
        out = ew.to_dtype(self, found[0]) if found[0] != self.dtype else self
        return to(out, "cuda") if ".cuda." in dtype else out
    target = getattr(dtype, "dtype", dtype)  # a typed constructor carries its dtype
    target = backend.as_dtype(target)
    return self if target == self.dtype else ew.to_dtype(self, target)


@op(export=False, method=True)
def nelement(self) -> int:
    """The number of elements (PyTorch's older name for ``numel()``).

    Returns:
        An int.

    Examples:
        >>> cr.zeros(2, 3).nelement()
        6
    """
    return self._data.size


@op(export=False, method=True)
def is_complex(self) -> bool:
    """False: chainrule tensors are never complex.

    Returns:
        A bool.

    Examples:
        >>> cr.zeros(2).is_complex()
        False
    """
    return self._data.dtype.kind == "c"


@op(export=False, method=True)
def type_as(self, other):
    """This tensor converted to ``other``'s dtype (itself when it already has it).

    Args:
        other: the tensor whose dtype is taken; its values and shape are not read.

    Returns:
        A tensor of this tensor's shape in ``other.dtype``.

    Examples:
        >>> cr.tensor([1.5, 2.0]).type_as(cr.tensor([0]))
        tensor([1, 2])
    """
    return ew.to_dtype(self, other.dtype)


def _dtype_method(dtype):
    def method(self):
        return ew.to_dtype(self, dtype)

    return method


def _dtype_doc(name, dtype, shown):
    return f"""This tensor converted to {dtype} (itself when it already is).

    ``x.{name}()`` is ``x.to(chainrule.{dtype})``.  A float-to-float conversion is recorded (the gradient
    is cast back); converting to an integer or bool dtype cuts the gradient.  Floats become integers by
    truncation toward zero; nonzero becomes True.

    Returns:
        A tensor of this tensor's shape, dtype {dtype}.

    Examples:
        >>> x = cr.tensor([1.5, -2.0, 0.0])
        >>> x.{name}()
        {shown}
    """


@op(export=False, method=True)
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
    """A tensor of zeros with this tensor's dtype and device (unless ``dtype`` says otherwise).

    Args:
        size: the shape, as separate ints or one tuple.
        dtype: the dtype; None (the default) is this tensor's dtype.
        device: the device; None (the default) is this tensor's.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A new leaf tensor of shape ``size`` on this tensor's device.

    Examples:
        >>> x = cr.tensor([1, 2], dtype=cr.float64)
        >>> x.new_zeros(2, 3).dtype, x.new_zeros((2, 3)).shape
        (dtype('float64'), (2, 3))
    """
    from ..creation import zeros  # noqa: PLC0415

    device = _device_arg(self) if device is None else device
    return zeros(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad, **kwargs)


@op(export=False, method=True)
def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
    """A tensor of ones with this tensor's dtype and device (unless ``dtype`` says otherwise).

    Args:
        size: the shape, as separate ints or one tuple.
        dtype: the dtype; None (the default) is this tensor's dtype.
        device: the device; None (the default) is this tensor's.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A new leaf tensor of shape ``size`` on this tensor's device.

    Examples:
        >>> x = cr.tensor([1, 2])
        >>> x.new_ones(3)
        tensor([1, 1, 1])
    """
    from ..creation import ones  # noqa: PLC0415

    device = _device_arg(self) if device is None else device
    return ones(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad, **kwargs)


@op(export=False, method=True)
def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False, **kwargs):
    """A tensor filled with ``fill_value``, with this tensor's dtype and device (unless ``dtype`` says otherwise).

    Args:
        size: the shape, a tuple of ints.
        fill_value: the value of every element.
        dtype: the dtype; None (the default) is this tensor's dtype.
        device: the device; None (the default) is this tensor's.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A new leaf tensor of shape ``size`` on this tensor's device.

    Examples:
        >>> cr.zeros(1).new_full((2, 2), 7.0)
        tensor([[7., 7.],
                [7., 7.]])
    """
    from ..creation import full  # noqa: PLC0415

    device = _device_arg(self) if device is None else device
    return full(size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad, **kwargs)


@op(export=False, method=True)
def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
    """An uninitialized tensor (arbitrary values) with this tensor's dtype and device.

    Args:
        size: the shape, as separate ints or one tuple.
        dtype: the dtype; None (the default) is this tensor's dtype.
        device: the device; None (the default) is this tensor's.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A new leaf tensor of shape ``size`` on this tensor's device.

    Examples:
        >>> cr.zeros(1).new_empty(2, 3).shape
        (2, 3)
    """
    from ..creation import empty  # noqa: PLC0415

    device = _device_arg(self) if device is None else device
    return empty(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad, **kwargs)


@op(export=False, method=True)
def new_tensor(self, data, dtype=None, device=None, requires_grad=False, **kwargs):
    """A new tensor of ``data`` (copied) with this tensor's dtype and device (unless ``dtype`` says otherwise).

    Args:
        data: a number, nested list, array or tensor.
        dtype: the dtype; None (the default) is this tensor's dtype.
        device: the device; None (the default) is this tensor's.
        requires_grad: whether the result is a leaf that records operations; default False.
        **kwargs: PyTorch's ``layout`` and ``pin_memory``, accepted and ignored.

    Returns:
        A new leaf tensor of ``data``'s shape on this tensor's device.

    Examples:
        >>> x = cr.tensor([0.0], dtype=cr.float64)
        >>> x.new_tensor([1, 2])
        tensor([1., 2.], dtype=chainrule.float64)
    """
    from ..creation import tensor  # noqa: PLC0415

    kwargs.pop("layout", None), kwargs.pop("pin_memory", None)
    if kwargs:
        raise TypeError(f"new_tensor() got an unexpected keyword argument {next(iter(kwargs))!r}")
    device = _device_arg(self) if device is None else device
    return tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _device_arg(self):
    dev = self.device
    return None if dev.type == "cpu" else dev


@op(export=False, method=True)
def is_contiguous(self):
    """True when the data is laid out in row-major (C-contiguous) order.

    Returns:
        A bool.

    Examples:
        >>> x = cr.zeros(2, 3)
        >>> x.is_contiguous(), x.t().is_contiguous(), x.t().contiguous().is_contiguous()
        (True, False, True)
    """
    return bool(self._data.flags.c_contiguous)


# ---------------------------------------------------------------- binding


@op(export=False, methods=("max",))
def _max_method(self, dim=None, keepdim=False):
    """``x.max()``: the largest value; ``x.max(dim)``: (values, indices); ``x.max(other)``: maximum.

    The method form of ``chainrule.max``, which describes the gradients.

    Args:
        dim: None (the default) for the maximum of all elements; an int for the maximum along that
            dimension with its index; or a Tensor for the elementwise maximum.
        keepdim: with an int ``dim``, keep it as size 1 (default False: drop it).

    Returns:
        A 0-d tensor, a named tuple ``(values, indices)`` or the elementwise maximum (see ``chainrule.max``).

    Examples:
        >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
        >>> x.max()
        tensor(5.)
        >>> x.max(dim=1)
        values_indices(values=tensor([5., 4.]), indices=tensor([1, 0]))
    """
    return reduce.max(self, dim, keepdim)


@op(export=False, methods=("min",))
def _min_method(self, dim=None, keepdim=False):
    """``x.min()``: the smallest value; ``x.min(dim)``: (values, indices); ``x.min(other)``: minimum.

    The method form of ``chainrule.min``, which describes the gradients.

    Args:
        dim: None (the default) for the minimum of all elements; an int for the minimum along that
            dimension with its index; or a Tensor for the elementwise minimum.
        keepdim: with an int ``dim``, keep it as size 1 (default False: drop it).

    Returns:
        A 0-d tensor, a named tuple ``(values, indices)`` or the elementwise minimum (see ``chainrule.min``).

    Examples:
        >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
        >>> x.min()
        tensor(1.)
        >>> x.min(dim=0, keepdim=True).values
        tensor([[1., 2.]])
    """
    return reduce.min(self, dim, keepdim)


@op(export=False, methods=("view_as", "reshape_as"))
def view_as(self, other):
    """This tensor with ``other``'s shape (a view where possible).

    Also ``reshape_as``.  ``x.view_as(other)`` is ``x.reshape(other.shape)``.

    Args:
        other: the tensor whose shape is taken; it must have as many elements as this one.

    Returns:
        A tensor of ``other.shape`` and this tensor's dtype.

    Raises:
        ShapeError: the numbers of elements differ.

    Examples:
        >>> x = cr.arange(6)
        >>> x.view_as(cr.zeros(2, 3)).shape, x.reshape_as(cr.zeros(3, 2)).shape
        ((2, 3), (3, 2))
    """
    return shape.reshape(self, other._data.shape)


@op(export=False, method=True)
def t(self):
    """The transpose of a 2-d tensor (a 0-d or 1-d tensor is returned as it is).

    Returns:
        A view of shape ``(m, n)`` for a tensor of shape ``(n, m)``.

    Raises:
        ShapeError: the tensor has more than 2 dimensions (use ``transpose``, ``.mT`` or ``permute``).

    Examples:
        >>> cr.tensor([[1, 2, 3], [4, 5, 6]]).t()
        tensor([[1, 4],
                [2, 5],
                [3, 6]])
    """
    ndim = self._data.ndim
    if ndim > 2:
        raise ShapeError(
            f"t(): expects a tensor of at most 2 dimensions, got shape {self._data.shape}; "
            "use transpose(dim0, dim1), .mT or permute(...)"
        )
    return shape.transpose(self, 0, 1) if ndim == 2 else self


@op(export=False, methods=("where",))
def _where_method(self, condition, other):
    """``where(condition, self, other)``: this tensor's elements where ``condition`` is True, else ``other``'s.

    The gradient goes to this tensor where ``condition`` is True and to ``other`` elsewhere.

    Args:
        condition: a bool tensor; the three broadcast together.
        other: a tensor or number used where ``condition`` is False.

    Returns:
        A tensor of the broadcast shape of ``condition``, this tensor and ``other``.

    Examples:
        >>> x = cr.tensor([1.0, -2.0, 3.0])
        >>> x.where(x > 0, 0.0)
        tensor([1., 0., 3.])
    """
    return ew.where(condition, self, other)


for _name, _dtype, _shown in (
    ("float", backend.float32, "tensor([ 1.5000, -2.0000,  0.0000])"),
    ("double", backend.float64, "tensor([ 1.5000, -2.0000,  0.0000], dtype=chainrule.float64)"),
    ("half", backend.float16, "tensor([ 1.5000, -2.0000,  0.0000], dtype=chainrule.float16)"),
    ("long", backend.int64, "tensor([ 1, -2,  0])"),
    ("int", backend.int32, "tensor([ 1, -2,  0], dtype=chainrule.int32)"),
    ("bool", backend.bool_, "tensor([ True,  True, False])"),
):
    _method = _dtype_method(_dtype)
    _method.__name__ = _method.__qualname__ = _name
    _method.__doc__ = _dtype_doc(_name, backend.as_dtype(_dtype), _shown)
    op(export=False, method=True)(_method)


def _transpose_all(self):
    """The tensor with all its dimensions reversed (``x.permute(*reversed(range(x.ndim)))``), a view.

    For a matrix this is its transpose.  PyTorch deprecates ``.T`` on tensors of other than 2
    dimensions; here it reverses them, as NumPy's ``.T`` does.

    Returns:
        A view of shape ``x.shape[::-1]``.

    Examples:
        >>> cr.tensor([[1, 2], [3, 4]]).T
        tensor([[1, 3],
                [2, 4]])
        >>> cr.zeros(2, 3, 4).T.shape
        (4, 3, 2)
    """
    return shape.permute(self, *reversed(range(self._data.ndim)))


def _transpose_last(self):
    """A batch of matrices, each transposed: the last two dimensions swapped, a view.

    Returns:
        A view of shape ``(*, n, m)`` for a tensor of shape ``(*, m, n)`` (at least 2 dimensions).

    Examples:
        >>> cr.zeros(5, 2, 3).mT.shape
        (5, 3, 2)
    """
    return shape.transpose(self, -2, -1)


# operators and properties: the Tensor protocol, bound here (the ops above come from the registry)
OPERATORS = {
    "__iadd__": add_,
    "__isub__": sub_,
    "__imul__": mul_,
    "__itruediv__": div_,
    "__ipow__": pow_,
    "__getitem__": index.getitem,
    "__setitem__": index.setitem,
    "__eq__": compare.eq,
    "__ne__": compare.ne,
    "__lt__": compare.lt,
    "__le__": compare.le,
    "__gt__": compare.gt,
    "__ge__": compare.ge,
    "__and__": compare.bitwise_and,
    "__or__": compare.bitwise_or,
    "__xor__": compare.bitwise_xor,
    "__rand__": lambda s, o: compare.bitwise_and(o, s),
    "__ror__": lambda s, o: compare.bitwise_or(o, s),
    "__rxor__": lambda s, o: compare.bitwise_xor(o, s),
}
PROPERTIES = {"T": property(_transpose_all), "mT": property(_transpose_last)}


def _bind():
    T = Tensor
    skip = (
        "__builtins__",
        "__loader__",
        "__spec__",
        "__doc__",
        "__name__",
        "__package__",
        "__file__",
        "__cached__",
        "__annotations__",
    )
    for name, fn in list(globals().items()):
        if name.startswith("__") and name.endswith("__") and callable(fn) and name not in skip:
            OPERATORS.setdefault(name, fn)
    for name, fn in {**OPERATORS, **METHODS}.items():
        setattr(T, name, fn)
    for name, fn in INPLACE.items():
        setattr(T, name, _inplace_unary(name, fn))
    for name, prop in PROPERTIES.items():
        setattr(T, name, prop)
    BOUND.update(OPERATORS, METHODS, INPLACE, PROPERTIES)
