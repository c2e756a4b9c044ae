"""Functional activations with PyTorch's signatures (``F.relu(x, inplace=False)``, ``F.softmax(x, dim)``).

The math lives in the derivative table (``ops/elementwise.py``, ``ops/nn.py``);
these wrappers add PyTorch's arguments.

Differs from PyTorch: ``inplace=True`` is accepted but the result is always a
new tensor and the input is left unchanged.  Code written as
``x = F.relu(x, inplace=True)`` behaves the same; code that relies on the
input being overwritten does not.  (An in-place write would save no time in
NumPy and would make backward fail wherever the input was saved.)
"""

from __future__ import annotations

import warnings

from ...ops import elementwise as _ew
from ...ops import nn as _nn
from ...tensor import Tensor

__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax", "softplus", "tanh"]


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's names
    """max(x, 0), elementwise; the gradient at 0 is 0.  Any shape."""
    return _ew.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else negative_slope * x.  Any shape."""
    return _ew.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else alpha * (exp(x) - 1).  Any shape."""
    return _ew.elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x * Phi(x) (``approximate='none'``, exact with erf) or its tanh approximation (``'tanh'``)."""
    return _ew.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x).  Any shape."""
    return _ew.silu(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + exp(-x)), computed stably.  Any shape."""
    return _ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    return _ew.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold.  Any shape."""
    return _ew.softplus(input, beta, threshold)


def _implicit_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice when ``dim`` is None: 0 for 0-, 1- and 3-d input, else 1 (with a warning)."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim`` (stable); ``dtype`` converts the input first."""
    if dim is None:
        dim = _implicit_dim("softmax", input.data.ndim, _stacklevel)
    return _nn.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """x - logsumexp(x) along ``dim`` (stable); ``dtype`` converts the input first."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input.data.ndim, _stacklevel)
    return _nn.log_softmax(input, dim, dtype=dtype)
