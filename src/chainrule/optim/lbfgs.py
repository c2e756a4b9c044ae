"""L-BFGS (Nocedal & Wright, 2006, Algorithm 7.4/7.5) with an optional strong-Wolfe line search (Algorithms 3.5-3.6).

The same iteration as PyTorch's ``torch.optim.LBFGS`` (itself after Mark
Schmidt's minFunc), so a run follows PyTorch's trajectory: all parameters are
one flat vector, ``step(closure)`` runs up to ``max_iter`` iterations, and the
curvature pairs, the last direction and step length persist between calls.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.mode import enable_grad
from ..backend import array_module
from ..tensor import Tensor, _wrap
from .optimizer import Optimizer, _check_number

__all__ = ["LBFGS"]

_LIST_STATE = ("old_dirs", "old_stps")
_VECTOR_STATE = ("d", "prev_flat_grad")
_NUMBER_STATE = ("func_evals", "n_iter", "t", "H_diag", "prev_loss")


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds``.

    Nocedal & Wright (2006), equation 3.59; the middle of the bounds when the
    cubic has no minimum.
    """
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Step length t along d meeting the strong Wolfe conditions: bracket, then zoom (N&W Algorithms 3.5, 3.6).

    ``evaluate(t)`` returns (loss, flat gradient) at ``x + t d``.  Returns
    ``(f_new, g_new, t, evaluations)``.
    """
    d_norm = float(np.abs(d).max())
    g = g.copy()
    f_new, g_new = evaluate(t)
    evaluations = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    iteration = 0
    # bracketing: grow t until the interval [t_prev, t] holds a point meeting the conditions
    while iteration < max_ls:
        if f_new > f + c1 * t * gtd or (iteration > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new],
                [gtd_prev, gtd_new],
            )
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new],
                [gtd_prev, gtd_new],
            )
            break
        low, high = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(low, high))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new @ d)
        iteration += 1
    if iteration == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
        bracket_gtd = None  # never read: the zoom loop below does not run

    # zoom: shrink the bracket until a point meets the conditions
    insufficient = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and iteration < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t at least 10% of the bracket away from its ends (minFunc's safeguard)
        margin = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < margin:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - margin if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new @ d)
        iteration += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos], bracket_gtd[high_pos] = (
                t,
                f_new,
                g_new,
                gtd_new,
            )
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos], bracket_gtd[low_pos] = t, f_new, g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], evaluations


class LBFGS(Optimizer):
    """L-BFGS, as PyTorch's ``torch.optim.LBFGS``: quasi-Newton steps from the last ``history_size`` curvature pairs.

    ``step(closure)`` needs a closure that clears the gradients, computes the
    loss, calls ``backward()`` and returns the loss; it runs up to
    ``max_iter`` iterations (and ``max_eval`` closure calls) and returns the
    first loss. Each iteration takes the direction ``d = -H g`` from the
    two-loop recursion (Nocedal & Wright, 2006, Algorithm 7.4) and moves by
    ``lr * d`` (the very first step by ``min(1, 1 / |g|_1) * lr * d``), or by a
    step length meeting the strong Wolfe conditions with
    ``line_search_fn='strong_wolfe'``. It stops early when the largest
    gradient entry is at most ``tolerance_grad`` or the loss or the step
    changes by less than ``tolerance_change``.

    All parameters form one group and one flat vector. State (under the first
    parameter, as in PyTorch): ``func_evals``, ``n_iter``, ``d``, ``t``,
    ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad`` and
    ``prev_loss``. Differs from PyTorch: the scratch list ``al`` is not kept
    in the state.

    Args:
        params: the tensors to optimize (one group).
        lr: the step length (default 1).
        max_iter: the most iterations per ``step`` (default 20).
        max_eval: the most closure calls per ``step`` (default None: ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max |g| <= tolerance_grad`` (default 1e-7).
        tolerance_change: stop when the loss or the step changes by less (default 1e-9).
        history_size: how many curvature pairs to keep (default 100).
        line_search_fn: None (fixed steps) or ``'strong_wolfe'``.

    Raises:
        ValueError: a negative lr, more than one parameter group, or an unknown ``line_search_fn``.

    Examples:
        >>> w = cr.tensor([1.5, -0.5], requires_grad=True)
        >>> optimizer = optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     optimizer.zero_grad()
        ...     loss = ((w - 3.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = optimizer.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [3.0, 3.0]
    """

    _tensor_state_only = False

    def __init__(
        self,
        params,
        lr=1,
        max_iter=20,
        max_eval=None,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        history_size=100,
        line_search_fn=None,
    ):
        _check_number("learning rate", lr)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict) -> None:
        """Only the first group is allowed (L-BFGS treats all parameters as one vector)."""
        if getattr(self, "_params", None) is not None:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _flat_grad(self):
        parts = []
        for p in self._params:
            parts.append(p._data.reshape(-1) * 0 if p.grad is None else p.grad._data.reshape(-1))
        return array_module(parts[0]).concatenate(parts)

    def _move(self, step_size: float, direction) -> None:
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * direction[offset : offset + n].reshape(p._data.shape)
            p._bump()
            offset += n

    def _set(self, values) -> None:
        for p, value in zip(self._params, values):
            p._data[...] = value
            p._bump()

    def _call(self, closure) -> float:
        with enable_grad():
            loss = closure()
        return float(loss.item() if isinstance(loss, Tensor) else loss)

    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the loss and its gradients.

        Returns the loss the first call of ``closure`` returned.
        """
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            first_loss = closure()
        loss = float(first_loss.item() if isinstance(first_loss, Tensor) else first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(abs(flat_grad).max()) <= tolerance_grad:
            return first_loss

        d = _unwrap(state.get("d"))
        t = state.get("t")
        old_dirs = [x._data for x in state.get("old_dirs", [])]
        old_stps = [x._data for x in state.get("old_stps", [])]
        ro = list(state.get("ro", []))
        h_diag = state.get("H_diag")
        prev_flat_grad = _unwrap(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                # the newest curvature pair (y, s), kept when it keeps H positive definite
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                # the two-loop recursion: d = -H g
                alphas = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    alphas[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - alphas[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    beta = float(old_dirs[i] @ d) * ro[i]
                    d = d + (alphas[i] - beta) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            step_evaluations = 0
            if group["line_search_fn"] == "strong_wolfe":
                start = [p._data.copy() for p in self._params]

                def evaluate(step_length, start=start, direction=d):
                    self._move(step_length, direction)
                    value = self._call(closure)
                    gradient = self._flat_grad()
                    self._set(start)
                    return value, gradient

                loss, flat_grad, t, step_evaluations = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - evaluations
                )
                self._move(t, d)
                converged = float(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._move(t, d)
                converged = False
                if iteration != max_iter:  # the last iteration's loss is computed by the next step
                    loss = self._call(closure)
                    flat_grad = self._flat_grad()
                    converged = float(abs(flat_grad).max()) <= tolerance_grad
                    step_evaluations = 1
            evaluations += step_evaluations
            state["func_evals"] += step_evaluations

            if iteration == max_iter or evaluations >= max_eval or converged:
                break
            if float(abs(d * t).max()) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = _wrap(d)
        state["t"] = float(t)
        state["old_dirs"] = [_wrap(x) for x in old_dirs]
        state["old_stps"] = [_wrap(x) for x in old_stps]
        state["ro"] = ro
        state["H_diag"] = float(h_diag)
        state["prev_flat_grad"] = _wrap(prev_flat_grad)
        state["prev_loss"] = float(prev_loss)
        return first_loss

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by ``state_dict()`` (flat vectors of this optimizer's size)."""
        if not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict):
            raise TypeError("load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved = state_dict["state"]
        if set(saved) - {0, "0"}:
            raise ValueError(f"load_state_dict: LBFGS keeps its state under parameter 0, got keys {sorted(saved)}")
        values = saved.get(0, saved.get("0", {}))
        size = sum(p._data.size for p in self._params)
        dtype = self._params[0]._data.dtype

        def vector(name, value):
            if not isinstance(value, Tensor) or value._data.shape != (size,):
                raise ValueError(f"load_state_dict: state {name!r} must be a vector of {size} values")
            return _wrap(array_module(self._params[0]._data).asarray(value._data, dtype=dtype).copy())

        clean = {}
        for name, value in values.items():
            if name in _VECTOR_STATE:
                clean[name] = vector(name, value)
            elif name in _LIST_STATE:
                clean[name] = [vector(name, v) for v in value]
            elif name == "ro":
                clean[name] = [float(v) for v in value]
            elif name in _NUMBER_STATE:
                if type(value) not in (int, float) or not math.isfinite(value):
                    raise ValueError(f"load_state_dict: state {name!r} is {value!r}, not a number")
                clean[name] = value
            else:
                raise ValueError(f"load_state_dict: LBFGS has no state {name!r}")
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        self._params = self.param_groups[0]["params"]
        if clean:
            self.state[self._params[0]] = clean


def _unwrap(value):
    return None if value is None else value._data
