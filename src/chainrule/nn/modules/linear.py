"""Linear layers and shape helpers: Linear, Identity, Flatten, Unflatten."""

from __future__ import annotations

import math
import numbers

from ... import creation
from ...autograd.mode import autocast_state
from ...errors import DTypeError, ShapeError
from ...ops import layers as _layers
from ...tensor import Tensor
from .. import init
from ..functional.linear import linear as F_linear
from ..module import Module, Parameter
from . import _checks as checks

__all__ = ["Flatten", "Identity", "Linear", "Unflatten"]


def new_parameter(shape, dtype=None, device=None) -> Tensor:
    """An uninitialized Parameter (filled by the layer's ``reset_parameters``)."""
    return Parameter(creation.empty(*shape, dtype=dtype, device=device))


def new_buffer(kind: str, shape, dtype=None, device=None) -> Tensor:
    return getattr(creation, kind)(*shape, dtype=dtype, device=device)


class Identity(Module):
    """Returns its input unchanged; any arguments given to the constructor are ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Shapes: input (*, in_features) -> output (*, out_features); weight
    (out_features, in_features), bias (out_features,).  Initialized as in
    PyTorch: weight ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in_features),
    1/sqrt(in_features)), and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        in_features = checks.size("Linear", "in_features", in_features)  # 0 is allowed, as in PyTorch
        out_features = checks.size("Linear", "out_features", out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = new_parameter((out_features, in_features), dtype, device)
        if bias:
            self.bias = new_parameter((out_features,), dtype, device)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if autocast_state() is not None:
            return F_linear(input, self.weight, self.bias)
        weight = self.weight
        try:
            data = input.data
            fits = data.shape[-1:] == (self.in_features,) and data.dtype == weight.data.dtype
        except AttributeError:
            fits = False
        if not fits:
            self._bad_input(input)
        return _layers.linear(input, weight, self.bias)

    def _bad_input(self, input: Tensor) -> None:  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._name()}: expected a Tensor, got {type(input).__name__}")
        if input.data.shape[-1:] != (self.in_features,):
            raise ShapeError(f"{self._name()}: expected input of shape (*, {self.in_features}), got {input.data.shape}")
        raise DTypeError(
            f"{self._name()}: input is {input.data.dtype} but the layer's weight is {self.weight.data.dtype}; "
            f"chainrule does not convert silently: call .to({self.weight.data.dtype}) on the input or "
            f".to({input.data.dtype}) on the layer"
        )

    def _name(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dimensions ``start_dim`` to ``end_dim``: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        start = checks.integer("Flatten", "start_dim", start_dim)
        end = checks.integer("Flatten", "end_dim", end_dim)
        if (start >= 0) == (end >= 0) and start > end:  # with mixed signs it depends on the input's rank
            raise checks.LayerArgumentError(f"Flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) maps (N, C*H*W) -> (N, C, H, W).

    One entry of ``unflattened_size`` may be -1 (inferred).
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        checks.integer("Unflatten", "dim", dim)
        if not isinstance(unflattened_size, (list, tuple)):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r} "
                f"({type(unflattened_size).__name__})"
            )
        if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        sizes = tuple(int(s) for s in unflattened_size)
        if not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise checks.LayerArgumentError(
                f"Unflatten: unflattened_size must be a non-empty tuple of sizes >= 0 with at most one -1 "
                f"(inferred), got {unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = sizes

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        shape = input.data.shape
        sizes = self.unflattened_size
        if not -len(shape) <= self.dim < len(shape):
            raise ShapeError(f"{self!r}: dim {self.dim} is out of range for input of shape {shape}")
        size = shape[self.dim]
        known = math.prod(s for s in sizes if s != -1)
        fits = size % known == 0 if -1 in sizes and known else known == size
        if sizes.count(-1) > 1 or not fits:
            raise ShapeError(f"{self!r}: cannot split dimension {self.dim} of size {size} (input {shape}) into {sizes}")
        return input.unflatten(self.dim, sizes)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
