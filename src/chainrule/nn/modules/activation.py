"""Activation layers: ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax, LogSoftmax, Softplus, and more.

Each accepts any input shape (*) and returns the same shape.  ``inplace=True``
is accepted for compatibility but, unlike PyTorch, the input is not
overwritten: a new tensor is returned (see ``nn.functional.activation``).
"""

from __future__ import annotations

from ...ops import layers as _layers
from ...tensor import Tensor
from ..functional import activation as F
from ..module import Module, fuse
from . import _checks as checks
from .linear import Linear

__all__ = [
    "ELU",
    "GELU",
    "GLU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Tanh",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """Rectified linear unit, ``max(x, 0)``, elementwise; the gradient at 0 is 0.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  See [`F.relu`][chainrule.nn.functional.relu].

    Args:
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged (PyTorch overwrites it).

    Examples:
        >>> nn.ReLU()(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


# nn.Sequential runs an nn.Linear and the nn.ReLU right after it as one op (ops/layers.py ``linear_relu``)
fuse(Linear, ReLU, lambda linear, x: linear._run(_layers.linear_relu, x))


class LeakyReLU(Module):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``; the gradient at 0 is ``negative_slope``.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        negative_slope: the slope for negative inputs (default 0.01).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged (PyTorch overwrites it).

    Examples:
        >>> nn.LeakyReLU(0.1)(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2000,  0.0000,  3.0000])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        checks.real("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)`` (Clevert et al., 2015).

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        alpha: the output tends to ``-alpha`` for large negative inputs
            (default 1.0).
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged (PyTorch overwrites it).

    Examples:
        >>> nn.ELU()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.8647,  0.0000,  3.0000])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        checks.real("ELU", "alpha", alpha)
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Gaussian error linear unit, ``x * Phi(x)`` (Hendrycks & Gimpel, 2016); ``approximate='tanh'`` uses the tanh form.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  See [`F.gelu`][chainrule.nn.functional.gelu].

    Args:
        approximate: ``'none'`` (default: exact, with erf) or ``'tanh'``.

    Examples:
        >>> nn.GELU()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.0455,  0.0000,  2.9960])
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        checks.choice("GELU", "approximate", approximate, ("none", "tanh"))
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged (PyTorch overwrites it).

    Examples:
        >>> nn.SiLU()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2384,  0.0000,  2.8577])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.silu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Sigmoid(Module):
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, computed stably.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters, no constructor arguments.

    Examples:
        >>> nn.Sigmoid()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1192, 0.5000, 0.9526])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent, elementwise.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters, no constructor arguments.

    Examples:
        >>> nn.Tanh()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.9640,  0.0000,  0.9951])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.tanh(input)


class Softplus(Module):
    """Softplus, ``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        beta: the sharpness, not 0 (default 1.0).
        threshold: above this value of ``beta * x`` the output is ``x``
            (default 20.0).

    Examples:
        >>> nn.Softplus()(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1269, 0.6931, 3.0486])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if checks.real("Softplus", "beta", beta) == 0:
            raise checks.LayerArgumentError("Softplus: beta must not be 0 (the output would be log(2) / 0)")
        checks.real("Softplus", "threshold", threshold)
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along ``dim``: ``exp(x) / sum(exp(x))``, computed stably.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        dim: the dimension that sums to 1.  None (default) picks PyTorch's legacy
            choice (0 for 0-, 1- and 3-d input, else 1) with its deprecation
            warning; pass it.

    Examples:
        >>> nn.Softmax(dim=1)(cr.tensor([[1.0, 2.0, 3.0]]))
        tensor([[0.0900, 0.2447, 0.6652]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None:
            checks.integer(type(self).__name__, "dim", dim)
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim``: ``x - logsumexp(x)``, computed stably.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  Followed by ``nn.NLLLoss`` it gives the
    cross-entropy (``nn.CrossEntropyLoss`` does both in one op).

    Args:
        dim: the dimension to normalize over.  None (default) picks PyTorch's
            legacy choice with its deprecation warning; pass it.

    Examples:
        >>> nn.LogSoftmax(dim=1)(cr.tensor([[1.0, 2.0, 3.0]]))
        tensor([[-2.4076, -1.4076, -0.4076]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None:
            checks.integer(type(self).__name__, "dim", dim)
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardtanh(Module):
    """``x`` limited to ``[min_val, max_val]``; the gradient is 0 at and beyond the bounds (as PyTorch).

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  See [`F.hardtanh`][chainrule.nn.functional.hardtanh].

    Args:
        min_val: the lower bound (default -1.0).
        max_val: the upper bound (default 1.0), not below ``min_val``.
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Hardtanh()(cr.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        checks.real(type(self).__name__, "min_val", min_val)
        checks.real(type(self).__name__, "max_val", max_val)
        if max_val < min_val:
            raise checks.LayerArgumentError(
                f"{type(self).__name__}: max_val ({max_val}) cannot be less than min_val ({min_val})"
            )
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``: ``Hardtanh(0, 6)``, with its gradient (0 at 0 and at 6).

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.ReLU6()(cr.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Hardsigmoid(Module):
    """A piecewise-linear sigmoid: 0 below -3, 1 above 3, ``x / 6 + 1 / 2`` between.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  See [`F.hardsigmoid`][chainrule.nn.functional.hardsigmoid].

    Args:
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Hardsigmoid()(cr.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardsigmoid(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Hardswish(Module):
    """Hard swish (MobileNetV3): ``x * relu6(x + 3) / 6``.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.  See [`F.hardswish`][chainrule.nn.functional.hardswish].

    Args:
        inplace: accepted for PyTorch compatibility; a new tensor is returned
            and the input is left unchanged.

    Examples:
        >>> nn.Hardswish()(cr.tensor([-4.0, 1.5, 4.0]))
        tensor([-0.0000,  1.1250,  4.0000])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardswish(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed stably.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters, no constructor arguments.

    Examples:
        >>> nn.LogSigmoid()(cr.tensor([-100.0, 0.0]))
        tensor([-100.0000,   -0.6931])
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.logsigmoid(input)


class Softmin(Module):
    """Softmin along ``dim``: ``softmax(-x)``.

    Shapes: input ``(*)``, any shape; output the same shape and dtype.
    No parameters.

    Args:
        dim: the dimension that sums to 1.  None (default) picks PyTorch's legacy
            choice with its deprecation warning; pass it.

    Examples:
        >>> nn.Softmin(dim=1)(cr.tensor([[1.0, 2.0, 3.0]]))
        tensor([[0.6652, 0.2447, 0.0900]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None:
            checks.integer(type(self).__name__, "dim", dim)
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GLU(Module):
    """Gated linear unit: the halves ``a, b`` of the input along ``dim`` give ``a * sigmoid(b)``.

    Shapes: input ``(*, 2n, *)``; output ``(*, n, *)`` (``dim`` halved).
    No parameters.

    Args:
        dim: the dimension to split in halves (default -1).

    Examples:
        >>> nn.GLU()(cr.tensor([[1.0, 2.0, 0.0, 100.0]]))
        tensor([[0.5000, 2.0000]])
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        checks.integer(type(self).__name__, "dim", dim)
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# PyTorch defines MultiheadAttention in torch/nn/modules/activation.py; programs import it from there
from .attention import MultiheadAttention  # noqa: E402, F401
