"""Comparisons and logical ops.  They return bool tensors and have no gradient."""

from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor, _wrap
from ._util import is_scalar, scalar_value
from .registry import op


def _operand(value, like):
    if isinstance(value, Tensor):
        return value._data
    if is_scalar(value):
        return scalar_value(value)
    return array_module(like._data).asarray(value)


def _bools(out) -> Tensor:
    """Wrap a result as a tensor: NumPy gives a scalar (``numpy.bool``) for 0-d inputs, a tensor holds an array."""
    if type(out) is not np.ndarray and (isinstance(out, np.generic) or not hasattr(out, "shape")):
        out = np.asarray(out)
    return _wrap(out)


def _compare(name, fn, a, b):
    """``fn(a, b)`` on the raw arrays (a Python scalar stays a scalar), wrapped as a tensor without gradient."""
    like = a if isinstance(a, Tensor) else b
    x, y = _operand(a, like), _operand(b, like)
    try:
        out = fn(x, y)
    except ValueError as exc:
        from ..errors import ShapeError  # noqa: PLC0415

        raise ShapeError(f"{name}: {exc} (shapes {getattr(a, 'shape', ())} and {getattr(b, 'shape', ())})") from None
    return _bools(out)


@op(method=True)
def eq(a, b):
    """Test ``a == b``, elementwise with broadcasting.

    Also the ``==`` operator. Use ``chainrule.equal`` for one bool saying
    whether two tensors are the same, and ``chainrule.isclose`` for floats
    computed in different ways.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Raises:
        ShapeError: the shapes do not broadcast.

    Examples:
        >>> cr.eq(cr.tensor([1, 2, 3]), 2)
        tensor([False,  True, False])
        >>> cr.tensor([1.0, 2.0]) == cr.tensor([1.0, 0.0])
        tensor([ True, False])
    """
    return _compare("eq", lambda x, y: x == y, a, b)


@op(method=True)
def ne(a, b):
    """Test ``a != b``, elementwise with broadcasting.

    Also the ``!=`` operator.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.ne(cr.tensor([1, 2, 3]), cr.tensor([1, 0, 3]))
        tensor([False,  True, False])
    """
    return _compare("ne", lambda x, y: x != y, a, b)


@op(method=True)
def lt(a, b):
    """Test ``a < b``, elementwise with broadcasting.

    Also the ``<`` operator.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.lt(cr.tensor([1, 2, 3]), 2)
        tensor([ True, False, False])
        >>> cr.lt(cr.tensor([[1], [2]]), cr.tensor([1, 2, 3]))
        tensor([[False,  True,  True],
                [False, False,  True]])
    """
    return _compare("lt", lambda x, y: x < y, a, b)


@op(method=True)
def le(a, b):
    """Test ``a <= b``, elementwise with broadcasting.

    Also the ``<=`` operator.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.le(cr.tensor([1, 2, 3]), 2)
        tensor([ True,  True, False])
    """
    return _compare("le", lambda x, y: x <= y, a, b)


@op(method=True)
def gt(a, b):
    """Test ``a > b``, elementwise with broadcasting.

    Also the ``>`` operator. The result has no gradient even when ``a`` has one.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> x = cr.tensor([0.5, 2.0], requires_grad=True)
        >>> cr.gt(x, 1.0)
        tensor([False,  True])
    """
    return _compare("gt", lambda x, y: x > y, a, b)


@op(method=True)
def ge(a, b):
    """Test ``a >= b``, elementwise with broadcasting.

    Also the ``>=`` operator.

    Args:
        a: a tensor of any shape ``(*)``, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.ge(cr.tensor([1, 2, 3]), 2)
        tensor([False,  True,  True])
        >>> cr.ge(2, cr.tensor([1, 2, 3]))
        tensor([ True,  True, False])
    """
    return _compare("ge", lambda x, y: x >= y, a, b)


@op(method=True)
def logical_and(a, b):
    """Logical AND of ``a`` and ``b``, elementwise with broadcasting; non-zero counts as true.

    Args:
        a: a tensor of any shape ``(*)`` and dtype, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.logical_and(cr.tensor([True, True, False]), cr.tensor([True, False, False]))
        tensor([ True, False, False])
        >>> cr.logical_and(cr.tensor([2.0, 0.0]), cr.tensor([1, 1]))
        tensor([ True, False])
    """
    return _compare("logical_and", lambda x, y: array_module(x).logical_and(x, y), a, b)


@op(method=True)
def logical_or(a, b):
    """Logical OR of ``a`` and ``b``, elementwise with broadcasting; non-zero counts as true.

    Args:
        a: a tensor of any shape ``(*)`` and dtype, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.logical_or(cr.tensor([True, True, False]), cr.tensor([True, False, False]))
        tensor([ True,  True, False])
    """
    return _compare("logical_or", lambda x, y: array_module(x).logical_or(x, y), a, b)


@op(method=True)
def logical_xor(a, b):
    """Logical exclusive OR of ``a`` and ``b``, elementwise with broadcasting; non-zero counts as true.

    Args:
        a: a tensor of any shape ``(*)`` and dtype, or a Python scalar.
        b: a tensor broadcastable with ``a``, or a Python scalar.

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.logical_xor(cr.tensor([True, True, False]), cr.tensor([True, False, False]))
        tensor([False,  True, False])
    """
    return _compare("logical_xor", lambda x, y: array_module(x).logical_xor(x, y), a, b)


@op()
def bitwise_and(a, b):
    """Bitwise AND of integer or bool ``a`` and ``b``, elementwise with broadcasting.

    Also the ``&`` operator (on bool tensors it is the logical AND).

    Args:
        a: an integer or bool tensor of any shape ``(*)``, or a Python int or bool.
        b: an integer or bool tensor broadcastable with ``a``, or a Python int or bool.

    Returns:
        A tensor of the broadcast shape, in the operands' integer or bool dtype, without gradient.

    Raises:
        TypeError: a floating operand (NumPy refuses bitwise ops on floats).

    Examples:
        >>> cr.bitwise_and(cr.tensor([12, 10]), cr.tensor([10, 10]))
        tensor([ 8, 10])
        >>> cr.tensor([True, False]) & cr.tensor([True, True])
        tensor([ True, False])
    """
    return _compare("bitwise_and", lambda x, y: x & y, a, b)


@op()
def bitwise_or(a, b):
    """Bitwise OR of integer or bool ``a`` and ``b``, elementwise with broadcasting.

    Also the ``|`` operator (on bool tensors it is the logical OR).

    Args:
        a: an integer or bool tensor of any shape ``(*)``, or a Python int or bool.
        b: an integer or bool tensor broadcastable with ``a``, or a Python int or bool.

    Returns:
        A tensor of the broadcast shape, in the operands' integer or bool dtype, without gradient.

    Examples:
        >>> cr.bitwise_or(cr.tensor([12, 1]), 2)
        tensor([14,  3])
    """
    return _compare("bitwise_or", lambda x, y: x | y, a, b)


@op()
def bitwise_xor(a, b):
    """Bitwise exclusive OR of integer or bool ``a`` and ``b``, elementwise with broadcasting.

    Also the ``^`` operator.

    Args:
        a: an integer or bool tensor of any shape ``(*)``, or a Python int or bool.
        b: an integer or bool tensor broadcastable with ``a``, or a Python int or bool.

    Returns:
        A tensor of the broadcast shape, in the operands' integer or bool dtype, without gradient.

    Examples:
        >>> cr.bitwise_xor(cr.tensor([12, 3]), cr.tensor([10, 3]))
        tensor([6, 0])
    """
    return _compare("bitwise_xor", lambda x, y: x ^ y, a, b)


@op(method=True)
def logical_not(x: Tensor) -> Tensor:
    """Logical NOT of ``x``, elementwise: true where ``x`` is zero (or False).

    Also the ``~`` operator on bool tensors.

    Args:
        x: a tensor of any shape ``(*)`` and dtype.

    Returns:
        A bool tensor of ``x``'s shape, without gradient.

    Examples:
        >>> cr.logical_not(cr.tensor([True, False]))
        tensor([False,  True])
        >>> cr.logical_not(cr.tensor([0.0, 2.5]))
        tensor([ True, False])
    """
    return _bools(array_module(x._data).logical_not(x._data))


@op()
def bitwise_not(x: Tensor) -> Tensor:
    """Bitwise NOT of an integer or bool ``x``, elementwise: ``-x - 1`` for integers, ``not x`` for bools.

    Also the ``~`` operator on integer tensors.

    Args:
        x: an integer or bool tensor of any shape ``(*)``.

    Returns:
        A tensor of ``x``'s shape and dtype, without gradient.

    Raises:
        TypeError: ``x`` is floating (NumPy refuses bitwise ops on floats).

    Examples:
        >>> cr.bitwise_not(cr.tensor([0, 5]))
        tensor([-1, -6])
        >>> cr.bitwise_not(cr.tensor([True, False]))
        tensor([False,  True])
    """
    return _bools(~x._data)


@op(method=True)
def isnan(x: Tensor) -> Tensor:
    """Test for NaN, elementwise.

    Args:
        x: a tensor of any shape ``(*)``.

    Returns:
        A bool tensor of ``x``'s shape, without gradient (always False for integer tensors).

    Examples:
        >>> cr.isnan(cr.tensor([1.0, float("nan"), float("inf")]))
        tensor([False,  True, False])
    """
    return _bools(array_module(x._data).isnan(x._data))


@op(method=True)
def isinf(x: Tensor) -> Tensor:
    """Test for positive or negative infinity, elementwise.

    Args:
        x: a tensor of any shape ``(*)``.

    Returns:
        A bool tensor of ``x``'s shape, without gradient.

    Examples:
        >>> cr.isinf(cr.tensor([1.0, float("nan"), float("inf"), -float("inf")]))
        tensor([False, False,  True,  True])
    """
    return _bools(array_module(x._data).isinf(x._data))


@op(method=True)
def isfinite(x: Tensor) -> Tensor:
    """Test for finite values (neither infinite nor NaN), elementwise.

    ``x.isfinite().all()`` is the usual check on a loss or a gradient.

    Args:
        x: a tensor of any shape ``(*)``.

    Returns:
        A bool tensor of ``x``'s shape, without gradient.

    Examples:
        >>> cr.isfinite(cr.tensor([1.0, float("nan"), float("inf")]))
        tensor([ True, False, False])
    """
    return _bools(array_module(x._data).isfinite(x._data))


@op(method=True)
def equal(a: Tensor, b: Tensor) -> bool:
    """True when a and b have the same shape and elements.

    No broadcasting: tensors of different shapes are never equal. Values are
    compared exactly (``1 == 1.0``; NaN is never equal to itself); dtypes are
    not compared.

    Args:
        a: a tensor of any shape ``(*)``.
        b: a tensor of any shape.

    Returns:
        A Python bool.

    Examples:
        >>> cr.equal(cr.tensor([1, 2]), cr.tensor([1, 2]))
        True
        >>> cr.equal(cr.tensor([1, 2]), cr.tensor([[1, 2]]))
        False
    """
    return a._data.shape == b._data.shape and bool((a._data == b._data).all())


@op(method=True)
def allclose(a: Tensor, b: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    """True when every element of ``a`` is close to the matching element of ``b``.

    Close means ``|a - b| <= atol + rtol * |b|`` (not symmetric in ``a`` and
    ``b``), with broadcasting, as in PyTorch and NumPy.

    Args:
        a: a tensor of any shape ``(*)``.
        b: a tensor broadcastable with ``a``; the reference the relative tolerance scales with.
        rtol: the relative tolerance (default 1e-5).
        atol: the absolute tolerance (default 1e-8).
        equal_nan: count NaN in both places as close (default False: NaN is never close).

    Returns:
        A Python bool.

    Examples:
        >>> cr.allclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.000001]))
        True
        >>> cr.allclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.1]), atol=0.05)
        False
    """
    xp = array_module(a._data)
    return bool(xp.allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@op(method=True)
def isclose(a: Tensor, b: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    """Test ``|a - b| <= atol + rtol * |b|``, elementwise with broadcasting.

    The elementwise form of ``chainrule.allclose``.

    Args:
        a: a tensor of any shape ``(*)``.
        b: a tensor broadcastable with ``a``; the reference the relative tolerance scales with.
        rtol: the relative tolerance (default 1e-5).
        atol: the absolute tolerance (default 1e-8).
        equal_nan: count NaN in both places as close (default False).

    Returns:
        A bool tensor of the broadcast shape, without gradient.

    Examples:
        >>> cr.isclose(cr.tensor([1.0, 2.0, float("nan")]), cr.tensor([1.0, 2.1, float("nan")]))
        tensor([ True, False, False])
        >>> cr.isclose(cr.tensor([float("nan")]), cr.tensor([float("nan")]), equal_nan=True)
        tensor([True])
    """
    xp = array_module(a._data)
    return _bools(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@op(method=True)
def nonzero(x: Tensor, as_tuple=False):
    """The indices of the non-zero (or True) elements of ``x``, in row-major order.

    Args:
        x: a tensor of any shape ``(*)`` with ``ndim`` dimensions.
        as_tuple: False (the default) returns one ``(n, ndim)`` tensor, a row of
            indices per element found; True returns ``ndim`` tensors of shape
            ``(n,)``, one per dimension, usable as ``x[x.nonzero(as_tuple=True)]``.

    Returns:
        An int64 tensor of shape ``(n, ndim)``, or a tuple of ``ndim`` int64
        tensors of shape ``(n,)``, where ``n`` is the number of non-zero elements.

    Examples:
        >>> x = cr.tensor([[0, 1], [2, 0]])
        >>> cr.nonzero(x)
        tensor([[0, 1],
                [1, 0]])
        >>> cr.nonzero(x, as_tuple=True)
        (tensor([0, 1]), tensor([1, 0]))
    """
    xp = array_module(x._data)
    idx = xp.nonzero(x._data)
    if as_tuple:
        return tuple(_wrap(i) for i in idx)
    return _wrap(xp.stack(idx, axis=1) if idx else xp.zeros((0, 0), dtype="int64"))
