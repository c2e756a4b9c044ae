"""Weight initialization, in place, with PyTorch's names and distributions.

Every function fills ``tensor`` without recording history (as under
``no_grad``), returns it, and draws from chainrule's default generator, or
from ``generator=`` (a :class:`chainrule.Generator`) when given, so
``chainrule.manual_seed(s)`` makes initialization repeat exactly.  The numbers
differ from PyTorch's for the same seed (a different generator); the
distributions are the same.

Fans follow PyTorch: for a weight of shape (out, in, *kernel),
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..autograd.mode import no_grad
from ..random import numpy_rng
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: the factor that keeps activations' variance steady through a layer.

    1 for linear, convolution and sigmoid, 5/3 for tanh, sqrt(2) for relu,
    3/4 for selu and ``sqrt(2 / (1 + negative_slope**2))`` for leaky_relu, as
    PyTorch (the selu value is PyTorch's, for self-normalizing networks).

    Args:
        nonlinearity: ``'linear'``, ``'conv1d'``, ``'conv2d'``, ``'conv3d'``,
            ``'conv_transpose1d'`` (2d, 3d), ``'sigmoid'``, ``'tanh'``,
            ``'relu'``, ``'leaky_relu'`` or ``'selu'``.
        param: the negative slope for ``'leaky_relu'`` (default None: 0.01);
            ignored otherwise.

    Returns:
        The gain.

    Raises:
        ValueError: for an unknown nonlinearity or a non-numeric ``param``.

    Examples:
        >>> nn.init.calculate_gain("relu")
        1.4142135623730951
        >>> round(nn.init.calculate_gain("leaky_relu", 0.2), 4)
        1.3868
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape {shape})"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ------------------------------------------------------------------ filling


def _check(tensor, op: str) -> bool:
    """False (and a warning, as in PyTorch) for a tensor with no elements; True otherwise."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor._data.dtype.kind != "f":
        raise TypeError(f"init.{op}: expected a floating point tensor, got {tensor._data.dtype}")
    if tensor._data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return False
    return True


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` (a NumPy array or scalar, broadcast) into tensor without history; bump its version."""
    with no_grad():
        data = tensor._data
        if type(data) is not np.ndarray and isinstance(values, np.ndarray):
            values = backend.to_device(values.astype(data.dtype, copy=False), tensor.device)
        data[...] = values
        tensor._bump()
    return tensor


def _draw_dtype(tensor: Tensor):
    """Draw in float32 for float32 (and narrower) tensors (half the time), in float64 otherwise."""
    return np.float64 if tensor._data.dtype == np.float64 else np.float32


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` with values drawn from the uniform distribution U(a, b).

    Args:
        tensor: the floating-point tensor to fill, any shape.
        a: the lower bound (default 0).
        b: the upper bound (default 1).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Examples:
        >>> w = nn.init.uniform_(cr.empty(1000), -1.0, 1.0)
        >>> w.shape, bool((w >= -1).all() and (w < 1).all())
        ((1000,), True)
    """
    if not _check(tensor, "uniform_"):
        return tensor
    draw = numpy_rng(generator).random(tensor.shape, dtype=_draw_dtype(tensor))
    draw *= b - a
    draw += a
    return _fill(tensor, draw)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` with values drawn from the normal distribution N(mean, std**2).

    Args:
        tensor: the floating-point tensor to fill, any shape.
        mean: the mean (default 0).
        std: the standard deviation (default 1).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Examples:
        >>> w = nn.init.normal_(cr.empty(10000), mean=2.0, std=0.5)
        >>> round(w.mean().item(), 1), round(w.std().item(), 1)
        (2.0, 0.5)
    """
    if not _check(tensor, "normal_"):
        return tensor
    draw = numpy_rng(generator).standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    draw *= std
    draw += mean
    return _fill(tensor, draw)


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None
) -> Tensor:
    """Fill ``tensor`` from N(mean, std**2) truncated to [a, b] (``a`` and ``b`` are absolute bounds, as in PyTorch).

    Sampled by inverting the normal CDF on the interval (exact, no rejection
    loop).  Warns, as PyTorch, when ``mean`` is more than 2 std outside [a, b].

    Args:
        tensor: the floating-point tensor to fill, any shape.
        mean: the mean of the untruncated normal (default 0).
        std: its standard deviation, > 0 (default 1).
        a: the lower bound (default -2).
        b: the upper bound, > a (default 2).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``std <= 0`` or ``a >= b``.

    Examples:
        >>> w = nn.init.trunc_normal_(cr.empty(1000), std=1.0, a=-1.0, b=1.0)
        >>> bool((w.abs() <= 1).all())
        True
    """
    if not _check(tensor, "trunc_normal_"):
        return tensor
    if std <= 0 or a >= b:
        raise ValueError(f"trunc_normal_: need std > 0 and a < b, got std={std}, a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may be "
            "incorrect.",
            stacklevel=2,
        )
    from scipy.special import ndtr, ndtri  # noqa: PLC0415

    lo, hi = (a - mean) / std, (b - mean) / std
    flip = lo > 0  # sample the mirrored interval where the CDF keeps its precision
    if flip:
        lo, hi = -hi, -lo
    cdf_lo, cdf_hi = ndtr(lo), ndtr(hi)
    u = numpy_rng(generator).random(tensor.shape)
    z = ndtri(cdf_lo + u * (cdf_hi - cdf_lo))
    if flip:
        z = -z
    values = np.clip(mean + std * z, a, b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with the value ``val``.

    Args:
        tensor: the floating-point tensor to fill, any shape.
        val: the value.

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Examples:
        >>> nn.init.constant_(cr.empty(2, 3), 0.5)
        tensor([[0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000]])
    """
    if not _check(tensor, "constant_"):
        return tensor
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones.

    Args:
        tensor: the floating-point tensor to fill, any shape.

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Examples:
        >>> nn.init.ones_(cr.empty(3))
        tensor([1., 1., 1.])
    """
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros.

    Args:
        tensor: the floating-point tensor to fill, any shape.

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Examples:
        >>> nn.init.zeros_(cr.empty(2, 2))
        tensor([[0., 0.],
                [0., 0.]])
    """
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity: ones on the diagonal, zeros elsewhere (rectangular too).

    A ``Linear`` layer with this weight passes its first inputs through.

    Args:
        tensor: the floating-point tensor to fill, shape ``(rows, cols)``.

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` is not 2-D.

    Examples:
        >>> nn.init.eye_(cr.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    if not _check(tensor, "eye_"):
        return tensor
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a convolution weight so that the convolution keeps its input (the Dirac delta).

    Per group, output channel i reads input channel i at the kernel's centre;
    with more output than input channels the rest are zero.  With ``padding``
    of half the kernel, ``conv(x, weight)`` equals ``x``.

    Args:
        tensor: the weight to fill, shape ``(out, in, k)``, ``(out, in, kH, kW)``
            or ``(out, in, kD, kH, kW)``.
        groups: the number of groups of the convolution; ``out`` must be
            divisible by it (default 1).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` is not 3-, 4- or 5-D, or ``out`` is not
            divisible by ``groups``.

    Examples:
        >>> weight = nn.init.dirac_(cr.empty(2, 2, 3))
        >>> weight[:, :, 1]  # the centre taps; the others are 0
        tensor([[1., 0.],
                [0., 1.]])
        >>> x = cr.randn(1, 2, 5)
        >>> bool((F.conv1d(x, weight, padding=1) == x).all())
        True
    """
    shape = tensor.shape
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"init.dirac_: only 3, 4 or 5-D tensors are supported, got shape {shape}")
    if shape[0] % groups:
        raise ValueError(f"init.dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    if not _check(tensor, "dirac_"):
        return tensor
    out_per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010).

    Keeps the variance of activations and of gradients roughly equal across
    layers with symmetric activations.  For a weight ``(out, in, *kernel)``,
    ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.

    Args:
        tensor: the floating-point tensor to fill, at least 2-D.
        gain: a scale factor, e.g. ``calculate_gain('tanh')`` (default 1).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` has fewer than 2 dimensions.

    Examples:
        >>> w = nn.init.xavier_uniform_(cr.empty(30, 20))
        >>> bool(w.abs().max() <= (6 / (20 + 30)) ** 0.5)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with N(0, std**2), ``std = gain * sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio, 2010).

    Fans as in [`xavier_uniform_`][chainrule.nn.init.xavier_uniform_].

    Args:
        tensor: the floating-point tensor to fill, at least 2-D.
        gain: a scale factor (default 1).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` has fewer than 2 dimensions.

    Examples:
        >>> w = nn.init.xavier_normal_(cr.empty(300, 200))
        >>> round(w.std().item(), 2), round((2 / (200 + 300)) ** 0.5, 2)
        (0.06, 0.06)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """Fill with U(-bound, bound), ``bound = gain * sqrt(3 / fan)`` (He et al., 2015).

    ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` is ``fan_in`` or
    ``fan_out`` (as in ``xavier_uniform_``).  ``nn.Linear`` and the
    convolutions start from ``kaiming_uniform_(weight, a=sqrt(5))``, PyTorch's
    choice.

    Args:
        tensor: the floating-point tensor to fill, at least 2-D.
        a: the negative slope of the leaky_relu that follows (used only with
            ``nonlinearity='leaky_relu'``; default 0, which is relu's gain).
        mode: ``'fan_in'`` (default) keeps the forward pass's variance,
            ``'fan_out'`` the backward pass's.
        nonlinearity: the activation that follows, as in
            [`calculate_gain`][chainrule.nn.init.calculate_gain]; ``'relu'`` or
            ``'leaky_relu'`` (default) are the usual choices.
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` has fewer than 2 dimensions, or ``mode`` or
            ``nonlinearity`` is unknown.

    Examples:
        >>> w = nn.init.kaiming_uniform_(cr.empty(64, 128), nonlinearity="relu")
        >>> bool(w.abs().max() <= (6 / 128) ** 0.5)
        True
    """
    if tensor._data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """Fill with N(0, std**2), ``std = gain / sqrt(fan)`` (He et al., 2015).

    ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` is ``fan_in`` or
    ``fan_out`` (as in ``xavier_uniform_``).

    Args:
        tensor: the floating-point tensor to fill, at least 2-D.
        a: the negative slope of the leaky_relu that follows (used only with
            ``nonlinearity='leaky_relu'``; default 0, which is relu's gain).
        mode: ``'fan_in'`` (default) keeps the forward pass's variance,
            ``'fan_out'`` the backward pass's.
        nonlinearity: the activation that follows, as in
            [`calculate_gain`][chainrule.nn.init.calculate_gain]; ``'relu'`` or
            ``'leaky_relu'`` (default) are the usual choices.
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` has fewer than 2 dimensions, or ``mode`` or
            ``nonlinearity`` is unknown.

    Examples:
        >>> w = nn.init.kaiming_normal_(cr.empty(256, 512), mode="fan_out", nonlinearity="relu")
        >>> round(w.std().item(), 2), round((2 / 256) ** 0.5, 2)
        (0.09, 0.09)
    """
    if tensor._data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013); trailing dimensions are flattened.

    Rows are orthonormal when rows <= cols, columns otherwise.  Q of a QR
    factorization of a Gaussian matrix, with signs fixed by diag(R) so the
    result is uniformly distributed (Mezzadri, 2007).

    Args:
        tensor: the floating-point tensor to fill, at least 2-D: ``(rows, *)``
            is filled as a ``(rows, cols)`` matrix, cols the product of the rest.
        gain: a scale factor (default 1).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` has fewer than 2 dimensions.

    Examples:
        >>> w = nn.init.orthogonal_(cr.empty(3, 5))
        >>> bool(np.allclose((w @ w.T).numpy(), np.eye(3), atol=1e-6))
        True
    """
    if tensor.ndim < 2:
        raise ValueError(f"init.orthogonal_: only tensors with 2 or more dimensions are supported, got {tensor.shape}")
    if not _check(tensor, "orthogonal_"):
        return tensor
    rows = tensor.shape[0]
    cols = tensor._data.size // rows
    flat = numpy_rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill a 2-D tensor with N(0, std**2) values, then zero ``ceil(sparsity * rows)`` random entries in each column.

    The sparse initialization of Martens (2010).

    Args:
        tensor: the floating-point tensor to fill, shape ``(rows, cols)``.
        sparsity: the fraction of each column set to zero, in [0, 1].
        std: the standard deviation of the non-zero values (default 0.01).
        generator (Generator | None): the ``cr.Generator`` to draw from; None
            (default) uses chainrule's default generator (``cr.manual_seed``).

    Returns:
        ``tensor`` itself, filled in place without recording history.

    Raises:
        ValueError: if ``tensor`` is not 2-D.

    Examples:
        >>> w = nn.init.sparse_(cr.empty(10, 4), sparsity=0.3)
        >>> (w == 0).sum(dim=0)  # ceil(0.3 * 10) zeros per column
        tensor([3, 3, 3, 3])
    """
    if tensor.ndim != 2:
        raise ValueError(f"init.sparse_: only 2-D tensors are supported, got shape {tensor.shape}")
    if not _check(tensor, "sparse_"):
        return tensor
    rows, cols = tensor.shape
    rng = numpy_rng(generator)
    values = rng.normal(0.0, std, (rows, cols))
    zeros = math.ceil(sparsity * rows)
    # an independent random permutation of the rows per column: argsort of uniform keys
    picked = np.argsort(rng.random((rows, cols)), axis=0)[:zeros]
    values[picked, np.arange(cols)] = 0
    return _fill(tensor, values)
