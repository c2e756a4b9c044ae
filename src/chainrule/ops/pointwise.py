"""Three-operand pointwise ops PyTorch code leans on: lerp, addcmul, addcdiv (and their in-place forms).

Each is a composite of the table's add, sub, mul and div, so its gradient (and second derivatives) come
from theirs; the shapes are checked here first so that an error names the op the user called.
"""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from .registry import op


def _check(name: str, operands: dict) -> None:
    tensors = {k: v for k, v in operands.items() if isinstance(v, Tensor)}
    try:
        np.broadcast_shapes(*(t.shape for t in tensors.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {t.shape}" for k, t in tensors.items())
        raise ShapeError(f"{name}: the shapes do not broadcast ({shapes})") from None
    for k, t in tensors.items():
        if t.dtype.kind == "b":
            raise DTypeError(f"{name}: {k} is a bool tensor; convert it with .float() first")


@op(method=True, inplace=True)
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:  # noqa: A002 - PyTorch's name
    """Linear interpolation ``input + weight * (end - input)``, elementwise with broadcasting.

    Args:
        input: the start, a floating point tensor of any shape ``(*)``.
        end: the end, a tensor broadcastable with ``input``.
        weight: the interpolation weight, a number or a tensor broadcastable with both (0 gives
            ``input``, 1 gives ``end``).

    Returns:
        A tensor of the broadcast shape, in the inputs' float dtype.

    Raises:
        ShapeError: the shapes do not broadcast.

    Examples:
        >>> cr.lerp(cr.tensor([0.0, 10.0]), cr.tensor([10.0, 20.0]), 0.25)
        tensor([ 2.5000, 12.5000])
        >>> cr.tensor([1.0, 2.0]).lerp(cr.tensor([3.0, 4.0]), cr.tensor([0.0, 1.0]))
        tensor([1., 4.])
    """
    _check("lerp", {"input": input, "end": end, "weight": weight})
    return input + weight * (end - input)


@op(method=True, inplace=True)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 * tensor2``, elementwise with broadcasting.

    Args:
        input: the tensor added to, any shape ``(*)``.
        tensor1: the first factor, broadcastable with ``input``.
        tensor2: the second factor, broadcastable with both.
        value: a number multiplying the product (default 1); keyword only, as in PyTorch.

    Returns:
        A tensor of the broadcast shape.

    Raises:
        ShapeError: the shapes do not broadcast.

    Examples:
        >>> cr.addcmul(cr.ones(2), cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]), value=0.5)
        tensor([2.5000, 5.0000])
    """
    _check("addcmul", {"input": input, "tensor1": tensor1, "tensor2": tensor2})
    product = tensor1 * tensor2
    return input + (product if value == 1 else value * product)


@op(method=True, inplace=True)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:  # noqa: A002
    """``input + value * tensor1 / tensor2``, elementwise with broadcasting (Adam's update step).

    Args:
        input: the tensor added to, any shape ``(*)``.
        tensor1: the numerator, broadcastable with ``input``.
        tensor2: the denominator, broadcastable with both.
        value: a number multiplying the quotient (default 1); keyword only, as in PyTorch.

    Returns:
        A tensor of the broadcast shape, floating point.

    Raises:
        ShapeError: the shapes do not broadcast.
        DTypeError: ``tensor1`` and ``tensor2`` are both integer tensors (PyTorch refuses them too).

    Examples:
        >>> cr.addcdiv(cr.zeros(2), cr.tensor([1.0, 2.0]), cr.tensor([4.0, 4.0]), value=2)
        tensor([0.5000, 1.0000])
    """
    _check("addcdiv", {"input": input, "tensor1": tensor1, "tensor2": tensor2})
    if all(isinstance(t, Tensor) and t.dtype.kind in "iu" for t in (tensor1, tensor2)):
        raise DTypeError("addcdiv: integer division is not supported (PyTorch refuses it too); use .float()")
    quotient = tensor1 / tensor2
    return input + (quotient if value == 1 else value * quotient)
