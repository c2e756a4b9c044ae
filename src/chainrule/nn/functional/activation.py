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

from ...errors import ShapeError
from ...ops import elementwise as _ew
from ...ops import nn as _nn
from ...ops._util import normalize_dim
from ...tensor import Tensor

__all__ = [
    "elu",
    "gelu",
    "glu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "tanh",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's names
    """Rectified linear unit, ``max(x, 0)``, elementwise.

    The gradient at 0 is 0: it passes only where the output is positive, as in
    PyTorch (see the subgradients guide).

    Args:
        input: the input, any shape ``(*)``.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged (PyTorch overwrites it).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.relu(cr.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    return _ew.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """Leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``, elementwise.

    At 0 the gradient is ``negative_slope`` (0 counts as negative, as in PyTorch).

    Args:
        input: the input, any shape ``(*)``.
        negative_slope: the slope for negative inputs (default 0.01).
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.leaky_relu(cr.tensor([-2.0, 0.0, 3.0]), negative_slope=0.1)
        tensor([-0.2000,  0.0000,  3.0000])
    """
    return _ew.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)`` (Clevert et al., 2015).

    At 0 the gradient is ``alpha`` (0 counts as negative, as in PyTorch).

    Args:
        input: the input, any shape ``(*)``.
        alpha: the scale of the negative part: the output tends to ``-alpha``
            for large negative inputs (default 1.0).
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.elu(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.8647,  0.0000,  3.0000])
    """
    return _ew.elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """Gaussian error linear unit, ``x * Phi(x)`` with ``Phi`` the standard normal CDF (Hendrycks & Gimpel, 2016).

    ``approximate='none'`` computes ``Phi`` exactly with ``erf``;
    ``approximate='tanh'`` uses
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``, as BERT and
    GPT-2 did.  Smooth everywhere.

    Args:
        input: the input, any shape ``(*)``.
        approximate: ``'none'`` (default, exact) or ``'tanh'``; anything else
            raises ValueError.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.gelu(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.0455,  0.0000,  2.9960])
        >>> F.gelu(cr.tensor([-2.0, 0.0, 3.0]), approximate="tanh")
        tensor([-0.0454,  0.0000,  2.9964])
    """
    return _ew.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``, elementwise.

    Args:
        input: the input, any shape ``(*)``.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.silu(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.2384,  0.0000,  2.8577])
    """
    return _ew.silu(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """Logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise, computed without overflow for large ``|x|``.

    Args:
        input: the input, any shape ``(*)``.

    Returns:
        A tensor of ``input``'s shape and dtype, with values in [0, 1].

    Examples:
        >>> F.sigmoid(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1192, 0.5000, 0.9526])
    """
    return _ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """Hyperbolic tangent, elementwise.

    Args:
        input: the input, any shape ``(*)``.

    Returns:
        A tensor of ``input``'s shape and dtype, with values in [-1, 1].

    Examples:
        >>> F.tanh(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([-0.9640,  0.0000,  0.9951])
    """
    return _ew.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """Softplus, ``log(1 + exp(beta * x)) / beta``, elementwise; ``x`` itself where ``beta * x > threshold``.

    The switch to ``x`` above the threshold (where the two differ by less than
    float32's resolution) keeps ``exp`` from overflowing; there the gradient
    is 1, as in PyTorch.

    Args:
        input: the input, any shape ``(*)``.
        beta: the sharpness; larger values approach ``relu`` (default 1.0).
        threshold: above this value of ``beta * x`` the result is ``x``
            (default 20.0).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.softplus(cr.tensor([-2.0, 0.0, 3.0]))
        tensor([0.1269, 0.6931, 3.0486])
        >>> F.softplus(cr.tensor([0.0, 30.0]), beta=2.0)
        tensor([ 0.3466, 30.0000])
    """
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
    """Softmax along ``dim``: ``exp(x) / sum(exp(x))``, computed stably (the maximum is subtracted first).

    Args:
        input: the input, any shape ``(*)``.
        dim: the dimension that sums to 1.  ``None`` picks PyTorch's legacy
            default (0 for 0-, 1- and 3-d input, else 1) with a deprecation
            warning; pass it explicitly.
        _stacklevel: where the ``dim=None`` warning points (PyTorch's private
            argument; leave it).
        dtype (dtype | None): if given, ``input`` is converted to this dtype first (e.g.
            ``cr.float64`` for more precision); the result has this dtype.

    Returns:
        A tensor of ``input``'s shape (and dtype, unless ``dtype`` is given)
        whose slices along ``dim`` are non-negative and sum to 1.

    Examples:
        >>> F.softmax(cr.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), dim=1)
        tensor([[0.0900, 0.2447, 0.6652],
                [0.3333, 0.3333, 0.3333]])
    """
    if dim is None:
        dim = _implicit_dim("softmax", input._data.ndim, _stacklevel)
    return _nn.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """Log-softmax along ``dim``: ``x - logsumexp(x)``, computed stably.

    More accurate than ``softmax(x).log()`` where probabilities are tiny;
    [`nll_loss`][chainrule.nn.functional.nll_loss] of it is
    [`cross_entropy`][chainrule.nn.functional.cross_entropy].

    Args:
        input: the input, any shape ``(*)``.
        dim: the dimension to normalize over.  ``None`` picks PyTorch's legacy
            default (0 for 0-, 1- and 3-d input, else 1) with a deprecation
            warning; pass it explicitly.
        _stacklevel: where the ``dim=None`` warning points (PyTorch's private
            argument; leave it).
        dtype (dtype | None): if given, ``input`` is converted to this dtype first; the
            result has this dtype.

    Returns:
        A tensor of ``input``'s shape (and dtype, unless ``dtype`` is given)
        whose exponentials sum to 1 along ``dim``.

    Examples:
        >>> F.log_softmax(cr.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([-2.4076, -1.4076, -0.4076])
    """
    if dim is None:
        dim = _implicit_dim("log_softmax", input._data.ndim, _stacklevel)
    return _nn.log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:  # noqa: A002
    """Softmin along ``dim``: ``softmax(-x)``, so the smallest entries get the largest weights.

    Args:
        input: the input, any shape ``(*)``.
        dim: the dimension that sums to 1.  ``None`` picks PyTorch's legacy
            default (0 for 0-, 1- and 3-d input, else 1) with a deprecation
            warning; pass it explicitly.
        _stacklevel: where the ``dim=None`` warning points (PyTorch's private
            argument; leave it).
        dtype (dtype | None): if given, ``input`` is converted to this dtype first; the
            result has this dtype.

    Returns:
        A tensor of ``input``'s shape (and dtype, unless ``dtype`` is given)
        whose slices along ``dim`` are non-negative and sum to 1.

    Examples:
        >>> F.softmin(cr.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([0.6652, 0.2447, 0.0900])
    """
    if dim is None:
        dim = _implicit_dim("softmin", input._data.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return _nn.softmax(-input, dim)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """``log(sigmoid(x))``, elementwise, computed without overflow or ``log(0)``.

    Written as ``-softplus(-x)``; the gradient is ``sigmoid(-x)``.

    Args:
        input: the input, any shape ``(*)``.

    Returns:
        A tensor of ``input``'s shape and dtype, with values <= 0.

    Examples:
        >>> F.logsigmoid(cr.tensor([-100.0, 0.0, 2.0]))
        tensor([-100.0000,   -0.6931,   -0.1269])
    """
    return -_ew.softplus(-input)


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """Gated linear unit (Dauphin et al., 2017): split ``input`` in halves ``a, b`` along ``dim``; ``a * sigmoid(b)``.

    Args:
        input: the input, shape ``(*, 2n, *)`` with an even size along ``dim``.
        dim: the dimension to split (default -1).

    Returns:
        A tensor of ``input``'s shape with ``dim`` halved, in its dtype.

    Raises:
        ShapeError: the size along ``dim`` is odd (or ``input`` is 0-d).

    Examples:
        >>> F.glu(cr.tensor([[1.0, 2.0, 0.0, 100.0]]))
        tensor([[0.5000, 2.0000]])
    """
    if input._data.ndim == 0:
        raise ShapeError("glu: the input must have at least one dimension, got a 0-d tensor")
    axis = normalize_dim(dim, input._data.ndim, "glu")
    size = input._data.shape[axis]
    if size % 2:
        raise ShapeError(f"glu: the size along dim {dim} must be even to split in halves, got shape {input.shape}")
    a, b = input.split(size // 2, dim=axis)
    return a * _ew.sigmoid(b)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """``x`` limited to ``[min_val, max_val]``, elementwise, with PyTorch's gradient: 0 at the bounds.

    The value is ``clamp(x, min_val, max_val)``; the gradient passes only where
    ``min_val < x < max_val`` (open bounds, as PyTorch's ``hardtanh``; ``clamp``
    passes it at the bounds too).

    Args:
        input: the input, any shape ``(*)``, float.
        min_val: the lower bound (default -1.0).
        max_val: the upper bound (default 1.0), not below ``min_val``.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ValueError: ``max_val < min_val``.

    Examples:
        >>> F.hardtanh(cr.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if max_val < min_val:
        raise ValueError(f"hardtanh: max_val ({max_val}) cannot be less than min_val ({min_val})")
    return _ew.hardtanh(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """``min(max(x, 0), 6)``, elementwise: ``hardtanh(x, 0, 6)``, with its gradient (0 at 0 and at 6).

    Args:
        input: the input, any shape ``(*)``, float.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.relu6(cr.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """A piecewise-linear sigmoid: 0 below -3, 1 above 3, ``x / 6 + 1 / 2`` between (gradient 0 at -3 and 3).

    Args:
        input: the input, any shape ``(*)``, float.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype, in ``[0, 1]``.

    Examples:
        >>> F.hardsigmoid(cr.tensor([-4.0, 0.0, 1.5, 4.0]))
        tensor([0.0000, 0.5000, 0.7500, 1.0000])
    """
    return hardtanh(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """Hard swish (Howard et al., 2019, MobileNetV3): ``x * relu6(x + 3) / 6``, elementwise.

    The gradient is PyTorch's: 0 up to -3, ``x / 3 + 1 / 2`` between -3 and 3
    and 1 from 3 on (``x * hardsigmoid(x)`` by the product rule).

    Args:
        input: the input, any shape ``(*)``, float.
        inplace: accepted for PyTorch compatibility; a new tensor is returned and
            ``input`` is left unchanged.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Examples:
        >>> F.hardswish(cr.tensor([-4.0, 0.0, 1.5, 4.0]))
        tensor([-0.0000,  0.0000,  1.1250,  4.0000])
    """
    return input * hardsigmoid(input)
