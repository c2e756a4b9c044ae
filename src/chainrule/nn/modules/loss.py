"""Losses as Modules: each holds its options (and class weights as buffers) and calls ``nn.functional``.

Same names, arguments and defaults as PyTorch's (``size_average`` and
``reduce``, deprecated there, are not accepted).  ``weight`` and
``pos_weight`` are registered as buffers, so they follow ``.to()`` and
appear in ``state_dict()``.
"""

from __future__ import annotations

from .. import functional as F  # noqa: N812 - the name every PyTorch user knows
from ..module import Module
from . import _checks as checks

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    """A loss with a ``reduction`` option: 'none', 'mean' (default) or 'sum'."""

    _reductions: tuple[str, ...] = ("none", "mean", "sum")

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self._reductions:
            choices = ", ".join(repr(r) for r in self._reductions)
            raise checks.LayerArgumentError(
                f"{type(self).__name__}: {reduction!r} is not a valid value for reduction (expected one of {choices})"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error, ``(input - target)**2``, reduced.

    Shapes: input ``(*)``, target the same shape (not broadcast; a mismatch
    raises ShapeError); output a scalar, or input's shape with
    ``reduction='none'``.  See [`F.mse_loss`][chainrule.nn.functional.mse_loss].

    Args:
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.

    Examples:
        >>> loss = nn.MSELoss()
        >>> loss(cr.tensor([1.0, 2.0, 4.0]), cr.tensor([1.0, 0.0, 1.0]))
        tensor(4.3333)
    """

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, ``|input - target|``, reduced (gradient 0 where they are equal).

    Shapes: input ``(*)``, target the same shape (not broadcast; a mismatch
    raises ShapeError); output a scalar, or input's shape with
    ``reduction='none'``.  See [`F.l1_loss`][chainrule.nn.functional.l1_loss].

    Args:
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.

    Examples:
        >>> loss = nn.L1Loss(reduction="sum")
        >>> loss(cr.tensor([1.0, 2.0, 4.0]), cr.tensor([1.0, 0.0, 1.0]))
        tensor(5.)
    """

    def forward(self, input, target):  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss: ``0.5 * d**2 / beta`` for ``d = |input - target| < beta``, else ``d - 0.5 * beta``.

    Shapes: input ``(*)``, target the same shape (not broadcast; a mismatch
    raises ShapeError); output a scalar, or input's shape with
    ``reduction='none'``.  See [`F.smooth_l1_loss`][chainrule.nn.functional.smooth_l1_loss].

    Args:
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.
        beta: where the loss turns from quadratic to linear, >= 0; 0 is L1
            (default 1.0).

    Examples:
        >>> loss = nn.SmoothL1Loss(reduction="none")
        >>> loss(cr.tensor([0.5, 2.0, -0.2]), cr.zeros(3))
        tensor([0.1250, 1.5000, 0.0200])
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = checks.nonnegative("SmoothL1Loss", "beta", beta)

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), f"beta={self.beta}"]))


class HuberLoss(_Loss):
    """Huber loss: ``0.5 * d**2`` for ``d = |input - target| < delta``, else ``delta * (d - 0.5 * delta)``.

    Shapes: input ``(*)``, target the same shape (not broadcast; a mismatch
    raises ShapeError); output a scalar, or input's shape with
    ``reduction='none'``.  See [`F.huber_loss`][chainrule.nn.functional.huber_loss].

    Args:
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.
        delta: where the loss turns from quadratic to linear (slope ``delta``),
            > 0 (default 1.0).

    Examples:
        >>> loss = nn.HuberLoss(reduction="none", delta=2.0)
        >>> loss(cr.tensor([0.5, 2.0, -0.2]), cr.zeros(3))
        tensor([0.1250, 2.0000, 0.0200])
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = checks.nonnegative("HuberLoss", "delta", delta, strict=True)

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), f"delta={self.delta}"]))


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits and class indices or class probabilities (log-softmax and NLL in one stable op).

    Shapes: input ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)`` logits; target
    class indices ``(N,)``, ``()`` or ``(N, d1, ...)`` (integer), or class
    probabilities of input's shape (float); output a scalar, or one loss per
    sample with ``reduction='none'``.  See
    [`F.cross_entropy`][chainrule.nn.functional.cross_entropy] for how
    ``weight``, ``ignore_index`` and ``label_smoothing`` act.

    Args:
        weight (Tensor | None): a rescaling weight per class, shape ``(C,)``,
            kept as a buffer (it follows ``.to()`` and is in ``state_dict()``);
            None (default) weighs every class 1.
        ignore_index: a class-index target value that is skipped (default -100).
        reduction: ``'mean'`` (default: divided by the summed weight of the
            counted targets), ``'sum'`` or ``'none'``.
        label_smoothing: in [0, 1]; mixes the target with the uniform
            distribution (default 0).

    Examples:
        >>> logits, target = cr.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), cr.tensor([0, 2])
        >>> nn.CrossEntropyLoss()(logits, target)
        tensor(0.6691)
        >>> nn.CrossEntropyLoss(weight=cr.tensor([1.0, 1.0, 3.0]))(logits, target)
        tensor(0.8838)
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index = checks.integer("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = checks.probability("CrossEntropyLoss", "label_smoothing", label_smoothing)

    def forward(self, input, target):  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(filter(None, parts))


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (after ``nn.LogSoftmax``).

    Shapes: input ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)`` log-probabilities;
    target integer class indices ``(N,)``, ``()`` or ``(N, d1, ...)``; output a
    scalar, or one loss per sample with ``reduction='none'``.  See
    [`F.nll_loss`][chainrule.nn.functional.nll_loss].

    Args:
        weight (Tensor | None): a rescaling weight per class, shape ``(C,)``,
            kept as a buffer (it follows ``.to()`` and is in ``state_dict()``);
            None (default) weighs every class 1.
        ignore_index: a target value that is skipped (default -100).
        reduction: ``'mean'`` (default: divided by the summed weight of the
            counted targets), ``'sum'`` or ``'none'``.

    Examples:
        >>> loss = nn.NLLLoss()
        >>> loss(cr.tensor([[-0.5, -1.0], [-2.0, -0.1]]), cr.tensor([0, 1]))
        tensor(0.3000)
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = checks.integer("NLLLoss", "ignore_index", ignore_index)

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1], each log clamped to >= -100 (as PyTorch).

    Shapes: input ``(*)`` probabilities (e.g. after ``nn.Sigmoid``), target the
    same shape with values in [0, 1]; output a scalar, or input's shape with
    ``reduction='none'``.  For logits use ``nn.BCEWithLogitsLoss`` (stabler).
    See [`F.binary_cross_entropy`][chainrule.nn.functional.binary_cross_entropy].

    Args:
        weight (Tensor | None): a rescaling weight that broadcasts to the input,
            kept as a buffer; None (default) for 1.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.

    Examples:
        >>> loss = nn.BCELoss()
        >>> loss(cr.tensor([0.9, 0.2, 0.5]), cr.tensor([1.0, 0.0, 1.0]))
        tensor(0.3406)
    """

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of ``sigmoid(input)`` and target, computed from the logits stably.

    Shapes: input ``(*)`` logits, target the same shape with values in [0, 1];
    output a scalar, or input's shape with ``reduction='none'``.  See
    [`F.binary_cross_entropy_with_logits`][chainrule.nn.functional.binary_cross_entropy_with_logits].

    Args:
        weight (Tensor | None): a rescaling weight that broadcasts to the input,
            kept as a buffer; None (default) for 1.
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.
        pos_weight (Tensor | None): the weight of the positive term, broadcast
            along the last dimension (e.g. ``(C,)`` for input ``(N, C)``), kept
            as a buffer; None (default) for 1.

    Examples:
        >>> logits, target = cr.tensor([2.0, -1.0, 0.0]), cr.tensor([1.0, 0.0, 1.0])
        >>> nn.BCEWithLogitsLoss()(logits, target)
        tensor(0.3778)
        >>> nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0]))(logits, target)
        tensor(0.6511)
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence ``target * (log(target) - input)``, with input given as log-probabilities.

    Shapes: input ``(*)`` log-probabilities, e.g. ``(N, C)``; target the same
    shape (probabilities, or log-probabilities with ``log_target``); output a
    scalar, or input's shape with ``reduction='none'``.  See
    [`F.kl_div`][chainrule.nn.functional.kl_div].

    Args:
        reduction: ``'mean'`` (default, PyTorch's: divides by the number of
            elements), ``'batchmean'`` (divides by N: the true KL divergence per
            example), ``'sum'`` or ``'none'``.
        log_target: whether the target holds log-probabilities (default False).

    Examples:
        >>> loss = nn.KLDivLoss(reduction="batchmean")
        >>> log_q = F.log_softmax(cr.tensor([[1.0, 2.0, 3.0]]), dim=1)
        >>> loss(log_q, cr.tensor([[0.2, 0.3, 0.5]]))
        tensor(0.0780)
    """

    _reductions: tuple[str, ...] = ("none", "mean", "sum", "batchmean")

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), "log_target=True" if self.log_target else ""]))


class MarginRankingLoss(_Loss):
    """Margin ranking loss ``max(0, -target * (input1 - input2) + margin)`` for pairs of scores.

    Called as ``loss(input1, input2, target)``: target 1 means input1 should
    rank higher, -1 lower.  Shapes: the three of equal rank, broadcasting
    together (e.g. all ``(N,)``); output a scalar, or the broadcast shape with
    ``reduction='none'``.  See
    [`F.margin_ranking_loss`][chainrule.nn.functional.margin_ranking_loss].

    Args:
        margin: the required gap (default 0).
        reduction: ``'mean'`` (default) averages the per-element losses, ``'sum'``
            adds them, ``'none'`` returns them.

    Examples:
        >>> loss = nn.MarginRankingLoss(margin=0.5)
        >>> loss(cr.tensor([0.5, 2.0, 1.0]), cr.tensor([1.0, 1.0, 1.0]), cr.tensor([1.0, 1.0, -1.0]))
        tensor(0.5000)
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = checks.real("MarginRankingLoss", "margin", margin)

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [super().extra_repr(), f"margin={self.margin}" if self.margin else ""]))
