"""RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning"), optionally centered (Graves, 2013)."""

from __future__ import annotations

from ..backend import array_module
from .optimizer import Optimizer, _check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as PyTorch's ``torch.optim.RMSprop``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = v - ga * ga, ga += (1 - alpha) * (g - ga)   (centered; else a = v)
        d = sqrt(a) + eps
        b = momentum * b + g / d;  p = p - lr * b       (momentum > 0)
        p = p - lr * g / d                              (otherwise)

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer``
    (momentum > 0) and ``grad_avg`` (centered).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-2.
        alpha: the decay rate of the running average of the squared gradient; default 0.99.
        eps: added to the denominator for stability; default 1e-8.
        weight_decay: the L2 penalty added to the gradient; default 0.
        momentum: the momentum factor; default 0.
        centered: divide by an estimate of the gradient's variance rather than its second moment; default False.
        maximize: ascend the objective instead of descending it; default False.

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # g / sqrt(0.01 g * g) = 10 on the first step
        >>> w
        tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(
        self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *, maximize=False
    ):
        _check_number("learning rate", lr)
        _check_number("epsilon", eps)
        _check_number("momentum", momentum)
        _check_number("weight_decay", weight_decay)
        _check_number("alpha", alpha)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        alpha = group["alpha"]
        momentum = group["momentum"]
        square_avg = self._buffer(state, "square_avg", p)
        if momentum > 0:
            buf = self._buffer(state, "momentum_buffer", p)
        if group["centered"]:
            grad_avg = self._buffer(state, "grad_avg", p)
        state["step"] = state.get("step", 0) + 1

        g = self._grad_with_decay(xp, p, grad, group["weight_decay"], group["maximize"])
        avg = self._scratch(p, 1)
        square_avg *= alpha
        xp.multiply(g, 1 - alpha, out=avg)
        avg *= g
        square_avg += avg
        if group["centered"]:
            xp.subtract(g, grad_avg, out=avg)
            avg *= 1 - alpha
            grad_avg += avg
            xp.multiply(grad_avg, grad_avg, out=avg)
            xp.subtract(square_avg, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += group["eps"]
        step = self._scratch(p, 2)
        if momentum > 0:
            buf *= momentum
            xp.divide(g, avg, out=step)
            buf += step
            xp.multiply(buf, -group["lr"], out=step)
        else:
            xp.multiply(g, -group["lr"], out=step)
            step /= avg
        p += step
