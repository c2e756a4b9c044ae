"""NAdam (Dozat, 2016): Adam with Nesterov momentum and PyTorch's momentum-decay schedule."""

from __future__ import annotations

from ..backend import array_module
from .optimizer import Optimizer, _check_adam_options, _check_number

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, as PyTorch's ``torch.optim.NAdam``.

    Per step t, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p                (or p *= 1 - lr * weight_decay when decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        prod_t = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
              - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    (Dozat, 2016, "Incorporating Nesterov Momentum into Adam", with
    PyTorch's schedule of mu.) State per parameter: ``step``, ``mu_product``
    (a number; PyTorch keeps a 0-d tensor), ``exp_avg`` and ``exp_avg_sq``.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 2e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean of the gradient and of its square;
            default (0.9, 0.999).
        eps: added to the denominator for stability; default 1e-8.
        weight_decay: the L2 penalty (or the decoupled decay rate); default 0.
        momentum_decay: how fast mu_t grows toward beta1 (``psi`` in PyTorch's docs); default 4e-3.
        decoupled_weight_decay: shrink the parameters directly (NAdamW) instead of adding an L2 term to the
            gradient; default False.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        ValueError: a negative lr, eps, weight_decay or momentum_decay, or a beta outside [0, 1).

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.NAdam([w], lr=0.1)
        >>> for _ in range(3):
        ...     optimizer.zero_grad()
        ...     (w * w).sum().backward()
        ...     optimizer.step()
        >>> w
        tensor([0.7527, 1.7475], requires_grad=True)
    """

    _number_state = ("step", "mu_product")

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        *,
        maximize=False,
    ):
        _check_adam_options(lr, eps, betas, weight_decay)
        _check_number("momentum_decay", momentum_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        weight_decay, psi = group["weight_decay"], group["momentum_decay"]
        exp_avg = self._buffer(state, "exp_avg", p)
        exp_avg_sq = self._buffer(state, "exp_avg_sq", p)
        step = state["step"] = state.get("step", 0) + 1

        decoupled = group["decoupled_weight_decay"]
        if weight_decay and decoupled:
            p *= 1 - lr * weight_decay
        g = self._grad_with_decay(xp, p, grad, 0 if decoupled else weight_decay, group["maximize"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product = state["mu_product"] = state.get("mu_product", 1.0) * mu
        mu_product_next = mu_product * mu_next

        tmp = self._scratch(p, 1)
        xp.subtract(g, exp_avg, out=tmp)  # PyTorch's lerp
        tmp *= 1 - beta1
        exp_avg += tmp
        exp_avg_sq *= beta2
        xp.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp
        denom = self._scratch(p, 2)
        xp.divide(exp_avg_sq, 1 - beta2**step, out=denom)
        xp.sqrt(denom, out=denom)
        denom += eps
        xp.multiply(g, -lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
        tmp /= denom
        p += tmp
        xp.multiply(exp_avg, -lr * mu_next / (1.0 - mu_product_next), out=tmp)
        tmp /= denom
        p += tmp
