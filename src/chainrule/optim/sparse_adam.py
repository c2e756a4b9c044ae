"""SparseAdam: lazy Adam for row-sparse gradients (``nn.Embedding(sparse=True)``)."""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_module
from ..errors import GradientError
from ..ops.sparse import RowSparseGrad
from ..tensor import Tensor
from .optimizer import Optimizer, _check_number

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam that updates only the rows present in a row-sparse gradient, as PyTorch's ``torch.optim.SparseAdam``.

    Per step t, for the rows ``r`` of the coalesced gradient ``g`` (rows not
    looked up keep their parameters *and* their moments: the "lazy" Adam of
    Kingma & Ba's Algorithm 1 restricted to the rows seen)::

        m[r] = m[r] + (1 - beta1) * (g - m[r])
        v[r] = v[r] + (1 - beta2) * (g * g - v[r])
        p[r] = p[r] - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m[r] / (sqrt(v[r]) + eps)

    ``t`` counts this parameter's steps, as PyTorch does (it is not per row).
    Each step costs O(rows looked up x dim), independent of the table size.
    State per parameter: ``step`` (a number), ``exp_avg`` and ``exp_avg_sq``
    (dense, the parameter's shape: allocated once).

    Only row-sparse gradients are accepted (a dense one raises, as in
    PyTorch); put the model's other parameters in a dense optimizer and step
    both with ``optim.CombinedOptimizer``.

    Args:
        params: the tensors to optimize (typically the weight of an ``nn.Embedding(..., sparse=True)``), or a list
            of parameter-group dicts.
        lr: the learning rate, > 0; default 1e-3.
        betas: ``(beta1, beta2)``, the decay rates of the running mean of the gradient and of its square;
            default (0.9, 0.999).
        eps: added to the denominator for stability, > 0; default 1e-8.
        maximize: ascend the objective instead of descending it; default False.

    Raises:
        GradientError: (from ``step``) a parameter has a dense gradient.

    Examples:
        >>> emb = nn.Embedding(10, 3, sparse=True)
        >>> before = emb.weight.detach().tolist()
        >>> optimizer = optim.SparseAdam([emb.weight], lr=0.1)
        >>> emb(cr.tensor([1, 4])).sum().backward()
        >>> optimizer.step()
        >>> [row for row in range(10) if emb.weight.detach().tolist()[row] != before[row]]
        [1, 4]
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, maximize=False):
        _check_number("learning rate", lr, open_low=True)
        _check_number("epsilon", eps, open_low=True)
        _check_number("beta parameter at index 0", betas[0], high=1.0)
        _check_number("beta parameter at index 1", betas[1], high=1.0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``p.grad = None`` (default), or an empty row-sparse gradient (what PyTorch's sparse ``zero_()`` leaves)."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif isinstance(grad, RowSparseGrad):
                    xp = array_module(grad.values)
                    p.grad = RowSparseGrad(
                        xp.zeros(0, dtype=np.int64), grad.values[:0].copy(), grad.shape, coalesced=True
                    )
                else:
                    grad._data.fill(0)
                    grad._bump()

    def step(self, closure=None):
        """Update the rows of every parameter that has a row-sparse gradient; returns the closure's loss or None."""
        loss = None
        if closure is not None:
            from ..autograd.mode import enable_grad  # noqa: PLC0415

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if isinstance(grad, Tensor):
                    raise GradientError(
                        f"SparseAdam does not support dense gradients (parameter of shape {p.shape}); use Adam for "
                        "it (optim.CombinedOptimizer steps both), or Embedding(sparse=True) to get a sparse gradient"
                    )
                if grad.shape != p._data.shape or grad.dtype != p._data.dtype:
                    raise GradientError(
                        f"SparseAdam.step: gradient {grad.shape} {grad.dtype} does not match its parameter "
                        f"{p._data.shape} {p._data.dtype}"
                    )
                self._sparse_update(p, grad, self.state[p], group)
                p._bump()
        return loss

    def _sparse_update(self, param: Tensor, grad: RowSparseGrad, state: dict, group: dict) -> None:
        p = param._data
        xp = array_module(p)
        exp_avg = self._buffer(state, "exp_avg", p)
        exp_avg_sq = self._buffer(state, "exp_avg_sq", p)
        step = state["step"] = state.get("step", 0) + 1
        grad = grad.coalesce()  # the update is not linear in g: each row once
        rows, g = grad.indices, grad.values
        if rows.shape[0] == 0:
            return
        if group["maximize"]:
            g = -g
        beta1, beta2 = group["betas"]
        m = exp_avg[rows]
        m += (g - m) * (1 - beta1)
        exp_avg[rows] = m
        v = exp_avg_sq[rows]
        v += (g * g - v) * (1 - beta2)
        exp_avg_sq[rows] = v
        step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        denom = xp.sqrt(v)
        denom += group["eps"]
        m /= denom
        m *= -step_size
        p[rows] += m
