"""Adam (Kingma & Ba, 2015, Algorithm 1), with AMSGrad (Reddi et al., 2018) and optional decoupled decay."""

from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from ..backend import array_module
from ..tensor import _wrap
from .optimizer import Optimizer, _check_adam_options

# the multi-tensor step works through a group's flat buffers in buckets of about this many elements (whole
# parameters each), so that its five work arrays stay in a core's cache and its scratch memory stays small
_BUCKET = 1 << 16

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
        _check_adam_options(lr, eps, betas, weight_decay)
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

    def _step_group(self, group, pairs):
        if not self._step_flat(group, pairs):
            super()._step_group(group, pairs)

    def _update(self, param, grad, state, group):
        """The reference update of one parameter (the multi-tensor step, ``_step_flat``, must equal it)."""
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

    # ------------------------------------------------------------ the multi-tensor step

    def _step_flat(self, group, pairs) -> bool:
        """``_update`` for all of a group's parameters at once, over flat buffers; False where it does not apply.

        ``exp_avg`` and ``exp_avg_sq`` of the group live in two flat arrays
        (the state tensors are views into them), and each update runs as
        ten NumPy passes per bucket of parameters instead of twelve calls per
        parameter (PyTorch's foreach path, in NumPy), or as one compiled pass
        with the numba extra (``chainrule._kernels.adam_moments``): the same
        operations in the same order as ``_update``, so the results are bit
        for bit the same.  Taken on NumPy for two or more parameters of one dtype, all
        at the same step count, without amsgrad; the per-parameter loop runs
        otherwise.
        """
        if len(pairs) < 2 or group["amsgrad"]:
            return False
        dtype = pairs[0][1].dtype
        states = []
        for p, g in pairs:
            if type(g) is not np.ndarray or type(p._data) is not np.ndarray or g.dtype != dtype:
                return False
            states.append(self.state[p])
        step = states[0].get("step", 0)
        if any(st.get("step", 0) != step for st in states):
            return False
        flat = self._flat_state(group, pairs, states)
        step += 1
        for st in states:
            st["step"] = step
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        decoupled = group.get("decoupled_weight_decay", False)
        maximize = group["maximize"]
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        step_size = lr / (1 - beta1**step)
        eps = group["eps"]
        exp_avg, exp_avg_sq = flat["exp_avg"], flat["exp_avg_sq"]
        grads, tmps, denoms = flat["work"]
        for start, stop, members in flat["buckets"]:
            size = stop - start
            tmp, denom = tmps[:size], denoms[:size]
            m, v = exp_avg[start:stop], exp_avg_sq[start:stop]
            alone = pairs[members[0][0]][1] if len(members) == 1 else None
            if alone is not None and alone.flags.c_contiguous and not maximize and (decoupled or not weight_decay):
                g = alone.reshape(-1)  # a parameter of a bucket's size: read in place, only written below if copied
            else:
                g = grads[:size]
                for index, offset, end in members:
                    grad = pairs[index][1]
                    np.copyto(g[offset:end].reshape(grad.shape), grad)
            if maximize:
                np.negative(g, out=g)
            if weight_decay:
                for index, offset, end in members:
                    p = pairs[index][0]._data
                    if decoupled:
                        p *= 1 - lr * weight_decay
                    else:  # g + weight_decay * p: _grad_with_decay's sum, in the other order (exact)
                        np.multiply(p, weight_decay, out=tmp[offset:end].reshape(p.shape))
                        g[offset:end] += tmp[offset:end]
            # tmp = the step; the ten NumPy passes of _update, or one compiled pass (numba extra), same bits
            _kernels.adam_moments(g, m, v, tmp, denom, beta1, beta2, step_size, bias_correction2_sqrt, eps)
            for index, offset, end in members:
                param = pairs[index][0]
                param._data += tmp[offset:end].reshape(param._data.shape)
                param._bump()
        return True

    def _flat_state(self, group, pairs, states) -> dict:
        """The flat ``exp_avg``/``exp_avg_sq`` buffers of these parameters, made (state copied in) when needed.

        Kept while every state tensor is still the view it was given, into
        these buffers; a state loaded or replaced since, or another set of
        parameters with gradients, builds them again.
        """
        cache = self.__dict__.setdefault("_flat", {})  # id(group) -> its buffers
        key = tuple(id(p) for p, _ in pairs)
        flat = cache.get(id(group))
        if (
            flat is not None
            and flat["key"] == key
            and all(
                st.get(name) is not None and st[name]._data is view and view.base is flat[name]
                for st, views in zip(states, flat["views"])
                for name, view in views.items()
            )
        ):
            return flat
        live = {id(g) for g in self.param_groups}  # groups replaced by load_state_dict let go of their buffers
        for stale in [k for k in cache if k not in live]:
            del cache[stale]
        dtype = pairs[0][1].dtype
        total = sum(g.size for _, g in pairs)
        buffers = {name: np.zeros(total, dtype=dtype) for name in ("exp_avg", "exp_avg_sq")}
        members: list[tuple[int, int, int]]  # (parameter index, start, end) in the bucket being filled
        views, buckets, members = [], [], []
        start = offset = 0
        for index, ((_, g), st) in enumerate(zip(pairs, states)):
            if members and offset + g.size > _BUCKET:
                buckets.append((start, start + offset, members))
                start, offset, members = start + offset, 0, []
            members.append((index, offset, offset + g.size))
            mine = {}
            for name, buffer in buffers.items():
                view = buffer[start + offset : start + offset + g.size].reshape(g.shape)
                old = st.get(name)
                if old is None:
                    st[name] = _wrap(view)
                else:  # keep the state tensor (it may be referenced), move its values into the flat buffer
                    view[...] = old._data
                    old._data = view
                mine[name] = view
            views.append(mine)
            offset += g.size
        buckets.append((start, start + offset, members))
        longest = max(stop - begin for begin, stop, _ in buckets)
        work = tuple(np.empty(longest, dtype=dtype) for _ in range(3))
        flat = cache[id(group)] = dict(key=key, views=views, buckets=buckets, work=work, **buffers)
        return flat
