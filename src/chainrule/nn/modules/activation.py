"""Activation layers: ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax, LogSoftmax, Softplus.

Each accepts any input shape (*) and returns the same shape.  ``inplace=True``
is accepted for compatibility but, unlike PyTorch, the input is not
overwritten: a new tensor is returned (see ``nn.functional.activation``).
"""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import activation as F
from ..module import Module
from . import _checks as checks

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh"]


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
