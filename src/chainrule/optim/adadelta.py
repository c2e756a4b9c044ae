"""Adadelta (Zeiler, 2012, Algorithm 1): step sizes from running averages of squared gradients and updates."""

from __future__ import annotations

from ..backend import array_module
from .optimizer import Optimizer, _check_number

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, as PyTorch's ``torch.optim.Adadelta``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    (Zeiler, 2012, Algorithm 1, with PyTorch's extra ``lr``.) State per
    parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: scales the update; default 1.0.
        rho: the decay rate of both running averages; default 0.9.
        eps: added inside both square roots; default 1e-6.
        weight_decay: the L2 penalty added to the gradient; default 0.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        ValueError: a negative lr, eps or weight_decay, or rho outside [0, 1].

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # the first steps are about sqrt(eps / (1 - rho)) = 0.003
        >>> w
        tensor([0.9968, 1.9968], requires_grad=True)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        _check_number("learning rate", lr)
        _check_number("epsilon", eps)
        _check_number("weight_decay", weight_decay)
        if not 0.0 <= float(rho) <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        rho, eps = group["rho"], group["eps"]
        square_avg = self._buffer(state, "square_avg", p)
        acc_delta = self._buffer(state, "acc_delta", p)
        state["step"] = state.get("step", 0) + 1

        g = self._grad_with_decay(xp, p, grad, group["weight_decay"], group["maximize"])
        tmp = self._scratch(p, 1)
        square_avg *= rho
        xp.multiply(g, 1 - rho, out=tmp)
        tmp *= g
        square_avg += tmp
        delta = self._scratch(p, 2)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        xp.add(square_avg, eps, out=tmp)
        xp.sqrt(tmp, out=tmp)
        delta /= tmp
        delta *= g
        acc_delta *= rho
        xp.multiply(delta, 1 - rho, out=tmp)
        tmp *= delta
        acc_delta += tmp
        delta *= -group["lr"]
        p += delta
