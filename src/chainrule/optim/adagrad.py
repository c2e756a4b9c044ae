"""Adagrad (Duchi, Hazan & Singer, 2011): per-coordinate step sizes from the sum of squared gradients."""

from __future__ import annotations

from ..backend import array_module
from .optimizer import Optimizer, _check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, as PyTorch's ``torch.optim.Adagrad``.

    Per step t, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                       (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    (Duchi et al., 2011.) State per parameter: ``step`` and ``sum``.  Unlike
    PyTorch, the state is created on a parameter's first step rather than in the
    constructor (the values are the same).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-2.
        lr_decay: how fast the learning rate decays with the step count; default 0.
        weight_decay: the L2 penalty added to the gradient; default 0.
        initial_accumulator_value: the starting value of the sum of squared gradients; default 0.
        eps: added to the denominator for stability; default 1e-10.
        maximize: ascend the objective instead of descending it; default False.

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # g / sqrt(g * g) = 1 on the first step
        >>> w
        tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        *,
        maximize=False,
    ):
        _check_number("learning rate", lr)
        _check_number("lr_decay", lr_decay)
        _check_number("weight_decay", weight_decay)
        _check_number("initial_accumulator_value", initial_accumulator_value)
        _check_number("epsilon", eps)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        total = self._buffer(state, "sum", p, fill=group["initial_accumulator_value"])
        step = state["step"] = state.get("step", 0) + 1

        g = self._grad_with_decay(xp, p, grad, group["weight_decay"], group["maximize"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        std = self._scratch(p, 1)
        xp.multiply(g, g, out=std)
        total += std
        xp.sqrt(total, out=std)
        std += group["eps"]
        update = self._scratch(p, 2)
        xp.multiply(g, -clr, out=update)
        update /= std
        p += update
