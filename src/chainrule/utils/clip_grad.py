"""Gradient clipping and flattening parameters to one vector (``chainrule.nn.utils`` re-exports these).

Non-finite gradients: the total norm of gradients that contain ``inf`` is
``inf``, and with a ``nan`` it is ``nan``.  ``clip_grad_norm_`` then behaves as
PyTorch's: with ``error_if_nonfinite=True`` it raises before touching any
gradient; otherwise it scales by ``max_norm / (total + 1e-6)`` all the same,
which is 0 for an ``inf`` norm (finite entries become 0, infinite ones
``nan``) and ``nan`` for a ``nan`` norm (every gradient becomes ``nan``).
Check the returned norm (``torch.isfinite``-style: ``total.isfinite()``) and
skip the step if you want to survive such batches.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..backend import array_module, get_default_dtype
from ..errors import GradientError, ShapeError
from ..tensor import Tensor, _wrap

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _tensor_list(parameters) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _grads(parameters) -> list:
    return [p.grad for p in _tensor_list(parameters) if p.grad is not None]


def _array_norm(xp, arr, norm_type: float):
    """The vector norm of all of arr's entries, as a 0-d array in arr's dtype."""
    if norm_type == math.inf:
        return xp.abs(arr).max() if arr.size else xp.zeros((), arr.dtype)
    if norm_type == 2:
        flat = arr.reshape(-1)
        return xp.sqrt(backend.dot(xp, flat, flat))
    if norm_type == 1:
        return xp.abs(arr).sum()
    return (xp.abs(arr) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The norm of the norms of ``tensors`` (the norm of all their entries together), as a 0-d Tensor.

    Args:
        tensors: a tensor or an iterable of tensors (typically gradients), any shapes; None entries are skipped.
        norm_type: the order p of the norm: 2 (the default), 1, any p > 0, or ``math.inf`` for the largest
            absolute value.
        error_if_nonfinite: raise if the total is inf or NaN; default False.

    Returns:
        A 0-d tensor in the tensors' dtype (the default dtype, holding 0, when there are none).

    Raises:
        ValueError: ``norm_type`` is not positive.
        GradientError: the total is not finite and ``error_if_nonfinite`` is True.

    Examples:
        >>> from chainrule.utils.clip_grad import get_total_norm
        >>> get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])])
        tensor(5.)
        >>> get_total_norm([cr.tensor([3.0]), cr.tensor([-4.0])], norm_type=float("inf"))
        tensor(4.)
    """
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"norm_type must be positive (or inf), got {norm_type}")
    tensors = [t for t in _tensor_list(tensors) if t is not None]
    if not tensors:
        return _wrap(np.zeros((), dtype=get_default_dtype()))
    xp = array_module(tensors[0]._data)
    norms = xp.stack([_array_norm(xp, t._data, norm_type) for t in tensors])
    total = _array_norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise GradientError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({float(total)}), so it cannot be "
            "clipped; pass error_if_nonfinite=False to scale the gradients by it anyway"
        )
    return _wrap(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``.

    The second half of ``clip_grad_norm_``, for a total norm computed
    elsewhere (``get_total_norm``, or one summed over several processes).

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is scaled (those without one are skipped).
        max_norm: the largest total norm allowed.
        total_norm: the total norm of the gradients, a 0-d Tensor or a number.

    Examples:
        >>> from chainrule.utils.clip_grad import clip_grads_with_norm_
        >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
        >>> w.grad = cr.tensor([3.0, 4.0])
        >>> clip_grads_with_norm_([w], max_norm=1.0, total_norm=cr.tensor(10.0))
        >>> w.grad
        tensor([0.3000, 0.4000])
    """
    grads = _grads(parameters)
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = array_module(grads[0]._data)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)  # NaN stays NaN, as torch.clamp does
    if coef == 1.0:
        return  # multiplying by 1 changes nothing
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN is the documented outcome, not a surprise
        for g in grads:
            g._data *= coef
            g._bump()


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is at most ``max_norm``.

    The total norm is that of all gradients concatenated into one vector
    (``norm_type`` 2, 1, any p > 0, or ``math.inf`` for the largest absolute
    value).  Returns it (before clipping) as a 0-d Tensor in the gradients'
    dtype; 0.0 when no parameter has a gradient.  See the module docstring for
    what happens with non-finite gradients.  ``foreach`` is accepted for
    PyTorch compatibility and ignored.

    Args:
        parameters: a tensor or an iterable of tensors (``model.parameters()``); those without ``.grad`` are skipped.
        max_norm: the largest total norm allowed.
        norm_type: the order of the norm; default 2.
        error_if_nonfinite: raise ``GradientError`` (before changing anything) if the total norm is inf or NaN;
            default False.
        foreach: accepted for PyTorch's signature and ignored.

    Returns:
        The total norm before clipping, a 0-d tensor.

    Raises:
        GradientError: the total norm is not finite and ``error_if_nonfinite`` is True.

    Examples:
        >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
        >>> w.grad = cr.tensor([3.0, 4.0])
        >>> nn.utils.clip_grad_norm_([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6000, 0.8000])
    """
    parameters = _tensor_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry of ``parameters`` into ``[-clip_value, clip_value]`` in place (NaN stays NaN).

    Args:
        parameters: a tensor or an iterable of tensors; those without ``.grad`` are skipped.
        clip_value: the largest absolute value allowed.
        foreach: accepted for PyTorch's signature and ignored.

    Examples:
        >>> w = cr.tensor([3.0, -4.0, 0.5], requires_grad=True)
        >>> w.grad = cr.tensor([3.0, -4.0, 0.5])
        >>> nn.utils.clip_grad_value_([w], clip_value=1.0)
        >>> w.grad
        tensor([ 1.0000, -1.0000,  0.5000])
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._bump()


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-d Tensor (differentiable, a copy).

    Args:
        parameters: a tensor or an iterable of tensors, any shapes and one dtype.

    Returns:
        A 1-d tensor of shape (total number of elements,).

    Raises:
        ValueError: no parameters.

    Examples:
        >>> model = nn.Linear(3, 2)
        >>> nn.utils.parameters_to_vector(model.parameters()).shape  # 2 * 3 weights and 2 biases
        (8,)
    """
    from ..ops.shape import cat  # noqa: PLC0415

    params = _tensor_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in order (in place, under no history).

    Differs from PyTorch, which rebinds each ``param.data`` to a view of
    ``vec``: chainrule copies the values, so parameters never alias ``vec``
    and optimizers keep working on the same arrays.

    Args:
        vec: a 1-d tensor with as many elements as the parameters together.
        parameters: a tensor or an iterable of tensors, filled in order.

    Raises:
        TypeError: ``vec`` is not a Tensor.
        ShapeError: ``vec`` is not 1-d or has the wrong number of elements.

    Examples:
        >>> model = nn.Linear(2, 1)
        >>> nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), model.parameters())
        >>> model.weight.tolist(), model.bias.tolist()
        ([[1.0, 2.0]], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec._data.ndim != 1:
        raise ShapeError(f"vector_to_parameters: vec must be 1-d, got shape {tuple(vec.shape)}")
    params = _tensor_list(parameters)
    needed = sum(p._data.size for p in params)
    if vec._data.size != needed:
        raise ShapeError(f"vector_to_parameters: vec has {vec._data.size} elements, the parameters need {needed}")
    start = 0
    for p in params:
        n = p._data.size
        p._data[...] = vec._data[start : start + n].reshape(p._data.shape)
        p._bump()
        start += n
