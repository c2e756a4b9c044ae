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
    """Returns its input unchanged: a placeholder, e.g. to remove a layer from a model without changing its structure.

    Shapes: input ``(*)``, output the same tensor.  No parameters.

    Args:
        *args: ignored (accepted so that it can stand in for any layer).
        **kwargs: ignored.

    Examples:
        >>> nn.Identity(54, unused="anything")(cr.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return input


class Linear(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    Shapes: input ``(*, in_features)``, output ``(*, out_features)``; any
    number of leading dimensions.

    Args:
        in_features: the size of each input sample (0 is allowed).
        out_features: the size of each output sample.
        bias: whether to learn an additive bias (default True).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight (Tensor): the learnable weights ``(out_features, in_features)``,
            initialized as in PyTorch: ``kaiming_uniform_(a=sqrt(5))``, i.e.
            U(-k, k) with ``k = 1 / sqrt(in_features)``.
        bias (Tensor | None): the learnable bias, shape ``(out_features,)``,
            from U(-k, k); None with ``bias=False``.

    Examples:
        >>> layer = nn.Linear(20, 30)
        >>> layer(cr.randn(128, 20)).shape
        (128, 30)
        >>> layer.weight.shape, layer.bias.shape
        ((30, 20), (30,))
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
        return self._run(_layers.linear, input)

    def _run(self, op, input: Tensor) -> Tensor:  # noqa: A002
        """``op(input, weight, bias)`` after the layer's checks of the input: ``ops/layers.linear``, or
        ``linear_relu`` (``nn.Sequential`` runs this layer and an ``nn.ReLU`` after it as that one op)."""
        weight = self.weight
        try:
            data = input._data
            fits = data.shape[-1:] == (self.in_features,) and data.dtype == weight._data.dtype
        except AttributeError:
            fits = False
        if not fits:
            self._bad_input(input)
        return op(input, weight, self.bias)

    def _bad_input(self, input: Tensor) -> None:  # noqa: A002
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._name()}: expected a Tensor, got {type(input).__name__}")
        if input._data.shape[-1:] != (self.in_features,):
            raise ShapeError(
                f"{self._name()}: expected input of shape (*, {self.in_features}), got {input._data.shape}"
            )
        raise DTypeError(
            f"{self._name()}: input is {input._data.dtype} but the layer's weight is {self.weight._data.dtype}; "
            f"chainrule does not convert silently: call .to({self.weight._data.dtype}) on the input or "
            f".to({input._data.dtype}) on the layer"
        )

    def _name(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dimensions ``start_dim`` to ``end_dim`` into one: ``(N, C, H, W)`` -> ``(N, C*H*W)`` by default.

    Shapes: input ``(*, S_start, ..., S_end, *)``, output
    ``(*, S_start * ... * S_end, *)``.  No parameters.

    Args:
        start_dim: the first dimension to flatten (default 1: keep the batch).
        end_dim: the last dimension to flatten (default -1).

    Examples:
        >>> nn.Flatten()(cr.randn(32, 1, 5, 5)).shape
        (32, 25)
        >>> nn.Flatten(0, 2)(cr.randn(32, 1, 5, 5)).shape
        (160, 5)
    """

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
    """Splits dimension ``dim`` into the shape ``unflattened_size``, the inverse of ``Flatten``.

    ``Unflatten(1, (C, H, W))`` maps ``(N, C*H*W)`` to ``(N, C, H, W)``.

    Shapes: input ``(*, S_dim, *)``, output ``(*, U_1, ..., U_n, *)`` with
    ``U_1 * ... * U_n == S_dim``.  No parameters.

    Args:
        dim: the dimension to split (negative counts from the end).
        unflattened_size (tuple[int, ...]): the sizes it is split into; one of
            them may be -1 (inferred).

    Examples:
        >>> nn.Unflatten(1, (2, 5, 5))(cr.randn(4, 50)).shape
        (4, 2, 5, 5)
        >>> nn.Unflatten(1, (2, -1))(cr.randn(4, 50)).shape
        (4, 2, 25)
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
        shape = input._data.shape
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
