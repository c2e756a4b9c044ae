"""RAdam (Liu et al., 2020, Algorithm 2): Adam whose adaptive step is switched on as its variance becomes tractable."""

from __future__ import annotations

import math

from ..backend import array_module
from .optimizer import Optimizer, _check_adam_options

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam, as PyTorch's ``torch.optim.RAdam``.

    Per step t, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p                (or p *= 1 - lr * weight_decay when decoupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
            p = p - lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            p = p - lr * m / (1 - beta1**t)

    (Liu et al., 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", Algorithm 2.) State per parameter: ``step``, ``exp_avg`` and
    ``exp_avg_sq``.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean of the gradient and of its square;
            default (0.9, 0.999).
        eps: added to the denominator for stability; default 1e-8.
        weight_decay: the L2 penalty (or the decoupled decay rate); default 0.
        decoupled_weight_decay: shrink the parameters directly (as AdamW) instead of adding an L2 term to the
            gradient; default False.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        ValueError: a negative lr, eps or weight_decay, or a beta outside [0, 1).

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # the first steps are momentum SGD: w - lr * g
        >>> w
        tensor([0.8000, 1.6000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        _check_adam_options(lr, eps, betas, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        exp_avg = self._buffer(state, "exp_avg", p)
        exp_avg_sq = self._buffer(state, "exp_avg_sq", p)
        step = state["step"] = state.get("step", 0) + 1

        decoupled = group["decoupled_weight_decay"]
        if weight_decay and decoupled:
            p *= 1 - lr * weight_decay
        g = self._grad_with_decay(xp, p, grad, 0 if decoupled else weight_decay, group["maximize"])
        tmp = self._scratch(p, 1)
        xp.subtract(g, exp_avg, out=tmp)  # PyTorch's lerp
        tmp *= 1 - beta1
        exp_avg += tmp
        exp_avg_sq *= beta2
        xp.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        xp.divide(exp_avg, bias_correction1, out=tmp)
        tmp *= lr
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = self._scratch(p, 2)
            xp.sqrt(exp_avg_sq, out=denom)
            denom += eps
            tmp *= bias_correction2**0.5
            tmp /= denom
            tmp *= rect
        p -= tmp
