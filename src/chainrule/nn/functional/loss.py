"""Loss functions with PyTorch's names, arguments and values.

Every loss takes ``reduction``: ``'none'`` (the per-element loss), ``'mean'``
(default) or ``'sum'``; ``kl_div`` also takes ``'batchmean'``.  The three losses
that need numerical care (cross-entropy from logits, binary cross-entropy on
probabilities and on logits) are fused primitives in ``ops/loss.py``; the rest
are written from elementwise ops, so every loss can be differentiated twice.

Where chainrule differs from PyTorch on purpose:

* Input and target shapes must be equal (PyTorch broadcasts the regression
  losses with a warning; a mismatch there is almost always an ``(N, 1)`` vs
  ``(N,)`` bug).  A mismatch raises :class:`~chainrule.errors.ShapeError`
  naming the loss and both shapes.
* ``size_average`` and ``reduce`` (deprecated in PyTorch) are not accepted, and
  arguments after ``weight`` are keyword-only, so a call written for the old
  positional order fails loudly instead of binding the wrong argument.
* Constant ``weight`` / ``pos_weight`` tensors are converted to the input's
  float dtype (they carry no gradient in PyTorch either).

Half precision: a float16 (or bfloat16) input, with its target when that has
the same dtype, is computed in float32 and the loss rounded to the input's
dtype once (the gradient likewise), as PyTorch accumulates it.  The element
count of a ``'mean'`` alone passes float16's 65504 at 65,505 elements, and a
float16 sum of per-element losses overflows far sooner.  Where PyTorch's own
float16 result overflows (cross-entropy and NLL over tens of thousands of
rows), chainrule's is finite and matches the float64 value.
"""

from __future__ import annotations

import numpy as np

from ...autograd.graph import vmap_depth
from ...autograd.mode import autocast_state
from ...backend import array_module
from ...errors import DTypeError, IndexingError, ShapeError
from ...ops._util import is_half
from ...ops.casting import cast_to_float32
from ...ops.elementwise import clamp, log, masked_fill, to_dtype, where
from ...ops.loss import (
    bce_with_logits_elementwise,
    binary_cross_entropy_elementwise,
    cross_entropy_indices,
    cross_entropy_mean,
)
from ...ops.nn import log_softmax
from ...tensor import Tensor, _wrap

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------
# argument checks


def _check_reduction(reduction, name, allowed=_REDUCTIONS):
    if reduction not in allowed:
        choices = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction (expected one of {choices})")


def _widened(*tensors) -> list | None:
    """The tensors cast to float32 when the first is half precision and every float among them shares its dtype.

    None otherwise: float32 inputs, or mixed float dtypes (which the loss then
    refuses).  Integer targets pass unchanged; constant weights follow the
    input's dtype inside the loss.  Called after a loss has checked that its
    inputs are tensors, with a one-attribute test in front (float32 pays ~40 ns).
    """
    dtype = tensors[0]._data.dtype
    if not is_half(dtype):
        return None
    if any(isinstance(t, Tensor) and t._data.dtype.kind == "f" and t._data.dtype != dtype for t in tensors):
        return None
    return [to_dtype(t, np.float32) if isinstance(t, Tensor) and t._data.dtype == dtype else t for t in tensors]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(value, what, name):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")


def _float_tensor(value, what, name):
    _check_tensor(value, what, name)
    if value._data.dtype.kind != "f":
        raise DTypeError(
            f"{name}: {what} must be a floating point tensor, got {value._data.dtype}; convert it with .float()"
        )
    return value


def _same_shape(input, target, name):  # noqa: A002 - PyTorch's argument name
    _check_tensor(input, "input", name)
    _check_tensor(target, "target", name)
    if input._data.shape != target._data.shape:
        raise ShapeError(
            f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ; "
            "chainrule does not broadcast losses (reshape one of them, e.g. target.view_as(input))"
        )


def _constant(value, like: Tensor, what, name):
    """A constant array (weight, pos_weight) in like's dtype and module, or None."""
    if value is None:
        return None
    arr = value._data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise DTypeError(f"{name}: {what} must be numeric, got {arr.dtype}")
    xp = array_module(like._data)
    return xp.asarray(arr).astype(like._data.dtype, copy=False)


# ---------------------------------------------------------------------------
# regression losses


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error: ``(input - target)**2``, reduced.

    Args:
        input: the prediction, any shape ``(*)``.
        target: the target, the same shape as ``input`` (chainrule does not
            broadcast losses; PyTorch does with a warning).
        reduction: ``'mean'`` (default) averages the per-element losses,
            ``'sum'`` adds them, ``'none'`` returns them.

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes.

    Examples:
        >>> x, y = cr.tensor([1.0, 2.0, 4.0]), cr.tensor([1.0, 0.0, 1.0])
        >>> F.mse_loss(x, y)
        tensor(4.3333)
        >>> F.mse_loss(x, y, reduction="none")
        tensor([0., 4., 9.])
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    _check_reduction(reduction, "mse_loss")
    _same_shape(input, target, "mse_loss")
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(mse_loss(wide[0], wide[1], reduction), input._data.dtype)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error: ``|input - target|``, reduced.

    The gradient is 0 where input equals target (``sign(0) = 0``), as in PyTorch.

    Args:
        input: the prediction, any shape ``(*)``.
        target: the target, the same shape as ``input``.
        reduction: ``'mean'`` (default) averages the per-element losses,
            ``'sum'`` adds them, ``'none'`` returns them.

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes.

    Examples:
        >>> x, y = cr.tensor([1.0, 2.0, 4.0]), cr.tensor([1.0, 0.0, 1.0])
        >>> F.l1_loss(x, y)
        tensor(1.6667)
        >>> F.l1_loss(x, y, reduction="none")
        tensor([0., 2., 3.])
    """
    _check_reduction(reduction, "l1_loss")
    _same_shape(input, target, "l1_loss")
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(l1_loss(wide[0], wide[1], reduction), input._data.dtype)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """Smooth L1 loss: ``0.5 * d**2 / beta`` where ``d = |input - target| < beta``, else ``d - 0.5 * beta``.

    Quadratic near 0 and linear beyond ``beta`` (Girshick, Fast R-CNN, 2015),
    so large errors weigh less than in ``mse_loss``.  ``beta=0`` is
    ``l1_loss``.  At ``d = beta`` both pieces have slope 1.

    Args:
        input: the prediction, any shape ``(*)``.
        target: the target, the same shape as ``input``.
        reduction: ``'mean'`` (default) averages the per-element losses,
            ``'sum'`` adds them, ``'none'`` returns them.
        beta: where the loss changes from quadratic to linear, >= 0 (default 1.0).

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes.
        ValueError: if ``beta`` is negative.

    Examples:
        >>> x, y = cr.tensor([0.5, 2.0, -0.2]), cr.zeros(3)
        >>> F.smooth_l1_loss(x, y, reduction="none")
        tensor([0.1250, 1.5000, 0.0200])
        >>> F.smooth_l1_loss(x, y, reduction="none", beta=2.0)
        tensor([0.0625, 1.0000, 0.0100])
    """
    _check_reduction(reduction, "smooth_l1_loss")
    _same_shape(input, target, "smooth_l1_loss")
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(smooth_l1_loss(wide[0], wide[1], reduction, beta), input._data.dtype)
    beta = float(beta)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    d = (input - target).abs()
    inside = d._data < beta
    loss = where(inside, 0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Huber loss: ``0.5 * d**2`` where ``d = |input - target| < delta``, else ``delta * (d - 0.5 * delta)``.

    Quadratic near 0, linear with slope ``delta`` beyond it (Huber, 1964).
    Equals ``delta * smooth_l1_loss(input, target, beta=delta)``.

    Args:
        input: the prediction, any shape ``(*)``.
        target: the target, the same shape as ``input``.
        reduction: ``'mean'`` (default) averages the per-element losses,
            ``'sum'`` adds them, ``'none'`` returns them.
        delta: where the loss changes from quadratic to linear, > 0 (default 1.0).

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes.
        ValueError: if ``delta`` is not positive.

    Examples:
        >>> x, y = cr.tensor([0.5, 2.0, -0.2]), cr.zeros(3)
        >>> F.huber_loss(x, y, reduction="none")
        tensor([0.1250, 1.5000, 0.0200])
        >>> F.huber_loss(x, y, reduction="none", delta=2.0)
        tensor([0.1250, 2.0000, 0.0200])
    """
    _check_reduction(reduction, "huber_loss")
    _same_shape(input, target, "huber_loss")
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(huber_loss(wide[0], wide[1], reduction, delta), input._data.dtype)
    delta = float(delta)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = (input - target).abs()
    inside = d._data < delta
    loss = where(inside, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------
# classification losses over C classes


def _vmapped_class_target(target) -> bool:
    """An integer target batched by vmap (its raw array is vmap's BatchedArray)."""
    data = getattr(target, "_data", None)
    return data is not None and type(data).__name__ == "BatchedArray" and data.dtype.kind in "iu"


def _class_index_target(inp, target, name, ignore_index):
    """Check a class-index target against the input (N, C, d1, ...) or (C,); returns the target array."""
    arr = target._data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "iu":
        raise DTypeError(
            f"{name}: class-index targets must be an integer tensor, got {arr.dtype}"
            + (" (for class probabilities give a float target of the input's shape)" if name == "cross_entropy" else "")
        )
    shape = inp._data.shape
    expected = () if len(shape) == 1 else shape[:1] + shape[2:]
    if arr.shape != expected:
        layout = "()" if len(shape) == 1 else "(N, d1, ...)"
        raise ShapeError(
            f"{name}: input of shape {tuple(shape)} needs a target of shape {layout} = {expected}, "
            f"got {tuple(arr.shape)}"
        )
    classes = shape[0] if len(shape) == 1 else shape[1]
    bad = ((arr < 0) | (arr >= classes)) & (arr != ignore_index)
    if bad.any():
        first = arr[bad].reshape(-1)[0]
        raise IndexingError(
            f"{name}: target {int(first)} is out of range for {classes} classes "
            f"(targets must be in [0, {classes - 1}] or equal ignore_index={ignore_index})"
        )
    return arr


def _class_weight(weight, inp, classes, name):
    if weight is None:
        return None
    arr = _constant(weight, inp, "weight", name)
    if arr.shape != (classes,):
        raise ShapeError(f"{name}: weight must have shape ({classes},) (one per class), got {tuple(arr.shape)}")
    return arr


def _batched(inp, name):
    """The input as (N, C, d1, ...): a (C,) input gains a batch dimension of 1."""
    if inp._data.ndim == 0:
        raise ShapeError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    return inp.unsqueeze(0) if inp._data.ndim == 1 else inp


def _weighted_mean(loss: Tensor, target_arr, weight_arr, ignore_index) -> Tensor:
    """sum(loss) / sum of the weights of the non-ignored targets (PyTorch's 'mean' for class indices)."""
    valid = target_arr != ignore_index
    if weight_arr is None:
        total = float(valid.sum())
    else:
        xp = array_module(weight_arr)
        total = float(weight_arr[xp.where(valid, target_arr, 0)][valid].sum())
    summed = loss.sum()
    if total == 0:
        # every target ignored (or of weight 0): the loss is 0/0 = NaN and the gradient 0, as in PyTorch
        return summed + float("nan")
    return summed / total


def cross_entropy(
    input: Tensor,  # noqa: A002
    target,
    weight=None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities.

    For a class index ``y`` the loss of one sample is
    ``-weight[y] * log_softmax(input)[y]``; for class probabilities ``p`` it is
    ``-sum_c weight[c] * p[c] * log_softmax(input)[c]``.  The softmax is taken
    over the class dimension (1, or 0 for a ``(C,)`` input) in one stable fused
    op.  For class indices, targets equal to ``ignore_index`` add nothing and
    ``'mean'`` divides by the summed weight of the other targets (NaN when none
    is left, as in PyTorch).  For probabilities, ``'mean'`` divides by the
    number of elements over C.  ``label_smoothing`` mixes the target with the
    uniform distribution (Szegedy et al., 2016).

    Args:
        input: unnormalized logits, shape ``(N, C)``, ``(C,)`` or
            ``(N, C, d1, d2, ...)``, floating point.
        target (Tensor): integer class indices in [0, C), shape ``(N,)``, ``()`` or
            ``(N, d1, ...)``; or floating class probabilities of ``input``'s shape.
        weight (Tensor | None): a rescaling weight per class, shape ``(C,)``
            (default None: all 1).
        ignore_index: a class-index target value that is skipped (default -100).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (the loss per
            sample, shape ``(N,)`` or ``(N, d1, ...)``).
        label_smoothing: in [0, 1]; the target becomes
            ``(1 - label_smoothing) * target + label_smoothing / C`` (default 0).

    Returns:
        A scalar tensor, or with ``reduction='none'`` one loss per sample;
        ``input``'s dtype.

    Raises:
        ShapeError: if ``target``'s shape does not fit ``input``'s.
        IndexingError: if a class index is out of range (and not ``ignore_index``).

    Examples:
        >>> logits = cr.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> F.cross_entropy(logits, cr.tensor([0, 2]), reduction="none")
        tensor([0.2395, 1.0986])
        >>> round(F.cross_entropy(logits, cr.tensor([0, 2])).item(), 4)
        0.6691
        >>> round(F.cross_entropy(logits, cr.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])).item(), 4)
        0.6691
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    name = "cross_entropy"
    _check_reduction(reduction, name)
    _float_tensor(input, "input", name)
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        loss = cross_entropy(
            wide[0], wide[1], weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
        )
        return to_dtype(loss, input._data.dtype)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    smoothing = float(label_smoothing)
    if vmap_depth() and _vmapped_class_target(target):  # under vmap: the target's values are per sample
        from ...func._batching import class_index_loss  # noqa: PLC0415

        return class_index_loss(name, input, target, weight, ignore_index, reduction, smoothing)
    x = _batched(input, name)
    classes = x._data.shape[1]
    weight_arr = _class_weight(weight, input, classes, name)
    if isinstance(target, Tensor) and target._data.dtype.kind == "f":
        return _cross_entropy_probs(input, target, weight_arr, ignore_index, reduction, smoothing)
    target_arr = _class_index_target(input, target, name, ignore_index)
    if input._data.ndim == 1:
        target_arr = target_arr.reshape(1)
    target_arr = array_module(x._data).asarray(target_arr)
    if (
        reduction == "mean"
        and weight_arr is None
        and not smoothing
        and x._data.ndim == 2
        and x._data.shape[0]
        and not (target_arr == ignore_index).any()
    ):
        return cross_entropy_mean(x, target_arr)  # the usual classification loss, as one node
    loss = cross_entropy_indices(x, target_arr, weight_arr, ignore_index, smoothing)
    if reduction == "none":
        return loss.reshape(()) if input._data.ndim == 1 else loss
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss, target_arr, weight_arr, ignore_index)


def _cross_entropy_probs(inp, target, weight_arr, ignore_index, reduction, smoothing):
    name = "cross_entropy"
    if target._data.shape != inp._data.shape:
        raise ShapeError(
            f"{name}: a float target holds class probabilities and must have the input's shape "
            f"{tuple(inp.shape)}, got {tuple(target.shape)} (class indices must be an integer tensor)"
        )
    if ignore_index >= 0:
        raise ValueError(f"{name}: ignore_index is not supported for class-probability targets")
    axis = 0 if inp._data.ndim == 1 else 1
    classes = inp._data.shape[axis]
    logp = log_softmax(inp, axis)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / classes
    terms = logp * target
    if weight_arr is not None:
        shape = (classes,) + (1,) * (inp._data.ndim - axis - 1)
        terms = terms * _wrap(weight_arr.reshape(shape))
    if reduction == "none":
        return -terms.sum(dim=axis)
    total = -terms.sum()
    if reduction == "sum":
        return total
    count = inp._data.size // classes if classes else 0
    return total / count if count else total * float("nan")


def nll_loss(
    input: Tensor,  # noqa: A002
    target,
    weight=None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities: ``-weight[y] * input[y]`` per sample.

    ``nll_loss(log_softmax(x, dim=1), y)`` equals ``cross_entropy(x, y)``.
    ``weight``, ``ignore_index`` and the ``'mean'`` reduction behave as in
    [`cross_entropy`][chainrule.nn.functional.cross_entropy].

    Args:
        input: log-probabilities (e.g. from ``log_softmax``), shape ``(N, C)``,
            ``(C,)`` or ``(N, C, d1, ...)``.
        target (Tensor): integer class indices in [0, C), shape ``(N,)``, ``()`` or
            ``(N, d1, ...)``.
        weight (Tensor | None): a rescaling weight per class, shape ``(C,)``
            (default None: all 1).
        ignore_index: a target value that is skipped (default -100).
        reduction: ``'mean'`` (default: divided by the summed weight of the
            non-ignored targets), ``'sum'`` or ``'none'`` (one loss per sample).

    Returns:
        A scalar tensor, or with ``reduction='none'`` one loss per sample;
        ``input``'s dtype.

    Raises:
        ShapeError: if ``target``'s shape does not fit ``input``'s.
        IndexingError: if a class index is out of range (and not ``ignore_index``).

    Examples:
        >>> log_probs = cr.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> F.nll_loss(log_probs, cr.tensor([0, 1]), reduction="none")
        tensor([0.5000, 0.1000])
        >>> F.nll_loss(log_probs, cr.tensor([0, 1]))
        tensor(0.3000)
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    name = "nll_loss"
    _check_reduction(reduction, name)
    _float_tensor(input, "input", name)
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(
            nll_loss(wide[0], wide[1], weight, ignore_index=ignore_index, reduction=reduction), input._data.dtype
        )
    if vmap_depth() and _vmapped_class_target(target):  # under vmap: the target's values are per sample
        from ...func._batching import class_index_loss  # noqa: PLC0415

        return class_index_loss(name, input, target, weight, ignore_index, reduction, 0.0, log_probs=True)
    x = _batched(input, name)
    classes = x._data.shape[1]
    weight_arr = _class_weight(weight, input, classes, name)
    target_arr = _class_index_target(input, target, name, ignore_index)
    if input._data.ndim == 1:
        target_arr = target_arr.reshape(1)
    xp = array_module(x._data)
    target_arr = xp.asarray(target_arr)
    valid = target_arr != ignore_index
    safe = xp.where(valid, target_arr, 0)
    coef = valid.astype(x._data.dtype) if weight_arr is None else weight_arr[safe] * valid
    picked = x.gather(1, safe[:, None]).squeeze(1)
    loss = picked * _wrap(-coef)
    if reduction == "none":
        return loss.reshape(()) if input._data.ndim == 1 else loss
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss, target_arr, weight_arr, ignore_index)


# ---------------------------------------------------------------------------
# binary classification


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, *, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Binary cross-entropy on probabilities: ``-w * (t * log(x) + (1 - t) * log(1 - x))``, each log clamped to >= -100.

    The clamp (PyTorch's) keeps the loss finite at x = 0 or 1.  For logits use
    [`binary_cross_entropy_with_logits`][chainrule.nn.functional.binary_cross_entropy_with_logits]
    (stabler and faster).

    Args:
        input: probabilities in [0, 1], any shape ``(*)``.
        target: targets in [0, 1], the same shape as ``input``.
        weight (Tensor | None): a rescaling weight that broadcasts to ``input``'s
            shape (default None: all 1).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ValueError: if an element of ``input`` or ``target`` is outside [0, 1]
            (as in PyTorch).
        ShapeError: if ``input`` and ``target`` have different shapes.

    Examples:
        >>> probs, target = cr.tensor([0.9, 0.2, 0.5]), cr.tensor([1.0, 0.0, 1.0])
        >>> F.binary_cross_entropy(probs, target, reduction="none")
        tensor([0.1054, 0.2231, 0.6931])
        >>> F.binary_cross_entropy(probs, target)
        tensor(0.3406)
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    name = "binary_cross_entropy"
    _check_reduction(reduction, name)
    _same_shape(input, target, name)
    _float_tensor(input, "input", name)
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(binary_cross_entropy(wide[0], wide[1], weight, reduction=reduction), input._data.dtype)
    x = input._data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(
            f"{name}: all elements of input should be between 0 and 1 (apply sigmoid first, or use "
            "binary_cross_entropy_with_logits on the logits)"
        )
    t = target._data
    if t.size and not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"{name}: all elements of target should be between 0 and 1")
    loss = binary_cross_entropy_elementwise(input, target)
    if weight is not None:
        loss = loss * _weight_tensor(weight, input, name)
    return _reduce(loss, reduction)


def _weight_tensor(weight, inp, name):
    arr = _constant(weight, inp, "weight", name)
    try:
        np.broadcast_shapes(arr.shape, inp._data.shape)
    except ValueError:
        raise ShapeError(
            f"{name}: weight of shape {tuple(arr.shape)} does not broadcast to the input's shape {tuple(inp.shape)}"
        ) from None
    return _wrap(arr)


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight=None,
    *,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` and target, computed from the logits stably.

    ``loss = (1 - t) * x + (1 + (pos_weight - 1) * t) * log(1 + exp(-x))``,
    times ``weight``, evaluated without overflow: loss and gradient are finite
    for any finite logit (e.g. +-100).

    Args:
        input: logits, any shape ``(*)``.
        target: targets in [0, 1], the same shape as ``input``.
        weight (Tensor | None): a rescaling weight that broadcasts to ``input``'s
            shape (default None: all 1).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight (Tensor | None): the weight of the positive term, broadcast
            along the last dimension, e.g. shape ``(C,)`` for input ``(N, C)``;
            values above 1 raise recall (default None: 1).

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes, or a
            weight does not broadcast.

    Examples:
        >>> logits, target = cr.tensor([2.0, -1.0, 0.0]), cr.tensor([1.0, 0.0, 1.0])
        >>> F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        tensor([0.1269, 0.3133, 0.6931])
        >>> F.binary_cross_entropy_with_logits(logits, target, reduction="none", pos_weight=cr.tensor([2.0]))
        tensor([0.2539, 0.3133, 1.3863])
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, name)
    _same_shape(input, target, name)
    _float_tensor(input, "input", name)
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        loss = binary_cross_entropy_with_logits(wide[0], wide[1], weight, reduction=reduction, pos_weight=pos_weight)
        return to_dtype(loss, input._data.dtype)
    pw = None
    if pos_weight is not None:
        pw = _weight_tensor(pos_weight, input, name)._data
    if target._data.dtype != input._data.dtype:
        target = target.to(input._data.dtype) if target._data.dtype.kind != "f" else target
    loss = bce_with_logits_elementwise(input, target, pw)
    if weight is not None:
        loss = loss * _weight_tensor(weight, input, name)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------
# distributions and ranking


def kl_div(
    input: Tensor,  # noqa: A002
    target: Tensor,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence ``target * (log(target) - input)``, with ``input`` given as log-probabilities.

    With ``log_target=True`` the target is given as log-probabilities too:
    ``exp(target) * (target - input)``.  Where a (non-log) target is 0 its
    term is 0, and its gradient with respect to the target is taken as
    ``-input`` (the one-sided derivative of t log t is -inf there; PyTorch
    gives NaN).  ``reduction='batchmean'`` divides the sum by the batch size
    (``input.shape[0]``) and is the mathematically correct KL divergence;
    ``'mean'`` (PyTorch's default) divides by the number of elements.

    Args:
        input: log-probabilities of the model's distribution, any shape ``(*)``,
            e.g. ``(N, C)`` from ``log_softmax(logits, dim=1)``.
        target: the reference distribution, the same shape as ``input``:
            probabilities, or log-probabilities with ``log_target``.
        reduction: ``'mean'`` (default), ``'batchmean'``, ``'sum'`` or ``'none'``.
        log_target: whether ``target`` holds log-probabilities (default False).

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of ``input``'s
        shape; ``input``'s dtype.

    Raises:
        ShapeError: if ``input`` and ``target`` have different shapes.

    Examples:
        >>> log_q = F.log_softmax(cr.tensor([[1.0, 2.0, 3.0]]), dim=1)
        >>> p = cr.tensor([[0.2, 0.3, 0.5]])
        >>> F.kl_div(log_q, p, reduction="batchmean")
        tensor(0.0780)
        >>> F.kl_div(log_q, p.log(), reduction="batchmean", log_target=True)
        tensor(0.0780)
    """
    if autocast_state() is not None:
        (input,) = cast_to_float32(input)
    name = "kl_div"
    _check_reduction(reduction, name, _REDUCTIONS + ("batchmean",))
    _same_shape(input, target, name)
    _float_tensor(input, "input", name)
    if input._data.dtype.itemsize == 2 and (wide := _widened(input, target)):
        return to_dtype(kl_div(wide[0], wide[1], reduction, log_target), input._data.dtype)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0 (the log's argument is swapped for 1 there, so no NaN reaches backward)
        safe = masked_fill(target, target._data == 0, 1.0)
        loss = target * log(safe) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input._data.shape[0] if input._data.ndim else total
    return _reduce(loss, reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Margin ranking loss ``max(0, -target * (input1 - input2) + margin)``.

    ``target`` 1 means ``input1`` should rank higher than ``input2`` by at least
    ``margin``, -1 lower.  Where the hinge is exactly 0 the gradient is that of
    the linear side (``clamp`` counts its bound as inside), as in PyTorch.

    Args:
        input1: scores of the first items, e.g. shape ``(N,)``.
        input2: scores of the second items; broadcasts with ``input1`` and
            ``target`` (the three need the same number of dimensions, as in
            PyTorch).
        target: 1 or -1 per pair.
        margin: the required gap (default 0).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Returns:
        A scalar tensor, or with ``reduction='none'`` a tensor of the broadcast
        shape.

    Raises:
        ShapeError: if the three tensors differ in rank or do not broadcast.

    Examples:
        >>> a, b = cr.tensor([0.5, 2.0, 1.0]), cr.tensor([1.0, 1.0, 1.0])
        >>> target = cr.tensor([1.0, 1.0, -1.0])
        >>> F.margin_ranking_loss(a, b, target, reduction="none")
        tensor([0.5000, 0.0000, 0.0000])
        >>> F.margin_ranking_loss(a, b, target, margin=0.5, reduction="none")
        tensor([1.0000, 0.0000, 0.5000])
    """
    name = "margin_ranking_loss"
    _check_reduction(reduction, name)
    for what, t in (("input1", input1), ("input2", input2), ("target", target)):
        _check_tensor(t, what, name)
    if input1._data.dtype.itemsize == 2 and (wide := _widened(input1, input2, target)):
        return to_dtype(margin_ranking_loss(wide[0], wide[1], wide[2], margin, reduction), input1._data.dtype)
    shapes = (tuple(input1.shape), tuple(input2.shape), tuple(target.shape))
    if len({len(s) for s in shapes}) != 1:
        raise ShapeError(
            f"{name}: input1 {shapes[0]}, input2 {shapes[1]} and target {shapes[2]} must have the "
            "same number of dimensions"
        )
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{name}: input1 {shapes[0]}, input2 {shapes[1]} and target {shapes[2]} do not broadcast together"
        ) from None
    loss = clamp(-target * (input1 - input2) + float(margin), min=0.0)
    return _reduce(loss, reduction)
