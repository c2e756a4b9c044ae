"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from ..backend import array_module, axpy
from ..tensor import _wrap
from .optimizer import Optimizer, _check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent, as PyTorch's ``torch.optim.SGD``.

    Per step, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov) or b
        p = p - lr * g

    State per parameter: ``momentum_buffer`` (when momentum != 0).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts (see ``Optimizer``).
        lr: the learning rate; default 1e-3 (PyTorch's default too).
        momentum: the momentum factor; default 0 (plain gradient descent).
        dampening: how much of the new gradient the momentum buffer leaves out; default 0.
        weight_decay: the L2 penalty added to the gradient; default 0.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0); default False.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        ValueError: a negative lr, momentum or weight_decay, or Nesterov without momentum or with dampening.

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> optimizer = optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     optimizer.zero_grad()
        ...     (w * w).sum().backward()  # the gradient is 2 w
        ...     optimizer.step()
        >>> w
        tensor([0.4600, 0.9200], requires_grad=True)
    """

    def __init__(
        self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, maximize=False
    ):
        _check_number("learning rate", lr)
        _check_number("momentum", momentum)
        _check_number("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._data
        xp = array_module(p)
        momentum = group["momentum"]
        d = self._grad_with_decay(xp, p, grad, group["weight_decay"], group["maximize"])
        if momentum:
            buf_t = state.get("momentum_buffer")
            if buf_t is None:
                buf = d.copy()
                state["momentum_buffer"] = _wrap(buf)
            else:
                buf = buf_t._data
                buf *= momentum
                dampening = group["dampening"]
                if dampening:
                    tmp = self._scratch(grad, 1)
                    xp.multiply(d, 1 - dampening, out=tmp)
                    buf += tmp
                else:
                    buf += d
            if group["nesterov"]:
                tmp = self._scratch(grad, 1)
                xp.multiply(buf, momentum, out=tmp)
                tmp += d
                d = tmp
            else:
                d = buf
        axpy(xp, -group["lr"], d, p)  # p -= lr * d in one pass
