"""Adam (Kingma & Ba, 2015, Algorithm 1), with AMSGrad (Reddi et al., 2018) and optional decoupled decay."""

from __future__ import annotations

import math

from ..backend import array_module
from .optimizer import Optimizer, _check_number

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, as PyTorch's ``torch.optim.Adam``.

    Per step t, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p                  (L2 penalty; or p *= 1 - lr * weight_decay when decoupled)
        m = beta1 * m + (1 - beta1) * g           (computed as m += (1 - beta1) * (g - m))
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                     (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    (Kingma & Ba, 2015, Algorithm 1; amsgrad: Reddi et al., 2018.)
    State per parameter: ``step`` (a number), ``exp_avg``, ``exp_avg_sq`` and
    ``max_exp_avg_sq`` (amsgrad), each in the parameter's dtype.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean of the gradient and of its square;
            default (0.9, 0.999).
        eps: added to the denominator for stability; default 1e-8.
        weight_decay: the L2 penalty (or the decoupled decay rate, see ``decoupled_weight_decay``); default 0.
        amsgrad: use the running maximum of ``v`` (AMSGrad); default False.
        maximize: ascend the objective instead of descending it; default False.
        decoupled_weight_decay: shrink the parameters directly (AdamW) instead of adding an L2 term to the
            gradient; default False.

    Raises:
        ValueError: a negative lr, eps or weight_decay, or a beta outside [0, 1).

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # the first step moves each weight by about lr
        >>> w
        tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        *,
        maximize=False,
        decoupled_weight_decay=False,
    ):
        _check_number("learning rate", lr)
        _check_number("epsilon", eps)
        _check_number("beta parameter at index 0", betas[0], high=1.0)
        _check_number("beta parameter at index 1", betas[1], high=1.0)
        _check_number("weight_decay", weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        exp_avg = self._buffer(state, "exp_avg", p)
        exp_avg_sq = self._buffer(state, "exp_avg_sq", p)
        if group["amsgrad"]:
            max_sq = self._buffer(state, "max_exp_avg_sq", p)
        step = state["step"] = state.get("step", 0) + 1

        decoupled = group.get("decoupled_weight_decay", False)
        if weight_decay and decoupled:
            p *= 1 - lr * weight_decay
        g = self._grad_with_decay(xp, p, grad, 0 if decoupled else weight_decay, group["maximize"])
        tmp = self._scratch(p, 1)
        # m += (1 - beta1) * (g - m): PyTorch's lerp
        xp.subtract(g, exp_avg, out=tmp)
        tmp *= 1 - beta1
        exp_avg += tmp
        # v = beta2 * v + (1 - beta2) * g * g
        exp_avg_sq *= beta2
        xp.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp

        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        step_size = lr / bias_correction1
        second = exp_avg_sq
        if group["amsgrad"]:
            xp.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        denom = self._scratch(p, 2)
        xp.sqrt(second, out=denom)
        denom /= bias_correction2_sqrt
        denom += group["eps"]
        # p += -step_size * m / denom
        xp.multiply(exp_avg, -step_size, out=tmp)
        tmp /= denom
        p += tmp
