"""Functional linear layer: ``F.linear(input, weight, bias)``."""

from __future__ import annotations

from ...autograd.mode import autocast_state
from ...errors import DTypeError, ShapeError
from ...ops import layers as _layers
from ...ops.casting import cast_for_gemm
from ...tensor import Tensor

__all__ = ["linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Affine map ``input @ weight.T + bias``, the function behind ``nn.Linear``.

    One fused op (forward and a hand-written backward), differentiable twice.
    Under ``cr.amp.autocast`` the three tensors are cast to the autocast dtype
    first.  Unlike PyTorch, mixed dtypes raise instead of being promoted.

    Args:
        input: the input, shape ``(*, in_features)``.
        weight: the weight, shape ``(out_features, in_features)``.
        bias: the bias, shape ``(out_features,)``, or None (no bias).

    Returns:
        A tensor of shape ``(*, out_features)``, in ``weight``'s dtype.

    Raises:
        ShapeError: if the shapes do not fit together.
        DTypeError: if input, weight and bias have different dtypes.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0]])
        >>> weight = cr.tensor([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
        >>> F.linear(x, weight, cr.tensor([0.0, 1.0, 0.0]))
        tensor([[1.0000, 0.0000, 1.5000]])
        >>> F.linear(cr.ones(4, 5, 2), weight).shape
        (4, 5, 3)
    """
    if autocast_state() is not None:
        input, weight, bias = cast_for_gemm(input, weight, bias)
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"linear: input and weight must be Tensors, got {type(input).__name__} and {type(weight).__name__}"
        )
    ws = weight._data.shape
    xs = input._data.shape
    if len(ws) != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise ShapeError(
            f"linear: input of shape {xs} does not fit weight of shape {ws}: expected input of shape (*, {ws[1]})"
        )
    if bias is not None and bias._data.shape != (ws[0],):
        raise ShapeError(f"linear: bias must have shape ({ws[0]},) to match weight {ws}, got {bias._data.shape}")
    dtype = weight._data.dtype
    if input._data.dtype != dtype or (bias is not None and bias._data.dtype != dtype):
        dtypes = f"input {input._data.dtype}, weight {dtype}" + (
            f", bias {bias._data.dtype}" if bias is not None else ""
        )
        raise DTypeError(
            f"linear: dtypes differ ({dtypes}); chainrule does not convert silently: "
            f"call .to({dtype}) on the input (or .to(dtype) on the layer)"
        )
    return _layers.linear(input, weight, bias)
