"""Adamax (Kingma & Ba, 2015, section 7.1, Algorithm 2): Adam with the infinity norm of past gradients."""

from __future__ import annotations

from ..backend import array_module
from .optimizer import Optimizer, _check_adam_options

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, as PyTorch's ``torch.optim.Adamax``.

    Per step t, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    (Kingma & Ba, 2015, Algorithm 2; ``eps`` where PyTorch puts it.) State
    per parameter: ``step``, ``exp_avg`` (m) and ``exp_inf`` (u).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 2e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean and of the running maximum;
            default (0.9, 0.999).
        eps: added to ``|g|`` for stability; default 1e-8.
        weight_decay: the L2 penalty added to the gradient; default 0.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        ValueError: a negative lr, eps or weight_decay, or a beta outside [0, 1).

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # the first step moves each weight by lr
        >>> w
        tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        _check_adam_options(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        beta1, beta2 = group["betas"]
        exp_avg = self._buffer(state, "exp_avg", p)
        exp_inf = self._buffer(state, "exp_inf", p)
        step = state["step"] = state.get("step", 0) + 1

        g = self._grad_with_decay(xp, p, grad, group["weight_decay"], group["maximize"])
        tmp = self._scratch(p, 1)
        xp.subtract(g, exp_avg, out=tmp)  # m += (1 - beta1) * (g - m): PyTorch's lerp
        tmp *= 1 - beta1
        exp_avg += tmp
        exp_inf *= beta2
        xp.abs(g, out=tmp)
        tmp += group["eps"]
        xp.maximum(exp_inf, tmp, out=exp_inf)
        clr = group["lr"] / (1 - beta1**step)
        xp.multiply(exp_avg, -clr, out=tmp)
        tmp /= exp_inf
        p += tmp
