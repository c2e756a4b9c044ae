"""Check analytical gradients against central differences (float64).

``gradcheck(fn, inputs)`` builds the Jacobian of every output with respect to
every input that requires grad twice: once from backward (one vector-Jacobian
product per output element) and once numerically,
``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` per input element.  The entries
must agree within ``atol + rtol * |numerical|``.  ``gradgradcheck`` does the
same for the gradient function itself (second order).
"""

from __future__ import annotations

import numpy as np

from ..errors import ChainruleError
from ..tensor import Tensor, _wrap
from .engine import grad as autograd_grad


class GradcheckError(ChainruleError, AssertionError):
    """Analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if isinstance(o, Tensor) and o.data.dtype.kind == "f"]


def _numerical_jacobian(fn, inputs, x, eps, n_out_elems):
    """Rows: elements of x; columns: concatenated output elements."""
    data = x.data
    jac = np.zeros((data.size, n_out_elems))
    for flat in range(data.size):
        idx = np.unravel_index(flat, data.shape)
        orig = data[idx].copy()
        # grad mode stays on: fn may itself differentiate (gradgradcheck)
        data[idx] = orig + eps
        plus = _flat_outputs(fn, inputs)
        data[idx] = orig - eps
        minus = _flat_outputs(fn, inputs)
        data[idx] = orig
        jac[flat] = (plus - minus) / (2 * eps)
    return jac


def _flat_outputs(fn, inputs):
    outs = _outputs(fn, inputs)
    if not outs:
        return np.zeros(0)
    return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs])


def _analytical_jacobians(fn, inputs, diff_inputs):
    outs = _outputs(fn, inputs)
    sizes = [o.data.size for o in outs]
    total = sum(sizes)
    jacs = [np.zeros((x.data.size, total)) for x in diff_inputs]
    column = 0
    for o in outs:
        if not o.requires_grad:
            column += o.data.size
            continue
        for j in range(o.data.size):
            seed = np.zeros(o.data.shape, dtype=o.data.dtype)
            seed.reshape(-1)[j] = 1.0
            grads = autograd_grad(o, diff_inputs, _wrap(seed), retain_graph=True, allow_unused=True)
            for jac, g in zip(jacs, grads):
                if g is not None:
                    jac[:, column + j] = np.asarray(g.data, dtype=np.float64).ravel()
        column += o.data.size
    return jacs, total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """True when backward's gradients match central differences for every input that requires grad."""
    inputs = _as_tuple(inputs)
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck: no input requires grad")
    for x in diff_inputs:
        if x.data.dtype != np.float64:
            raise ValueError(
                f"gradcheck: inputs must be float64 for meaningful central differences, got {x.data.dtype}"
            )
    analytical, total = _analytical_jacobians(fn, inputs, diff_inputs)
    for k, (x, jac_a) in enumerate(zip(diff_inputs, analytical)):
        jac_n = _numerical_jacobian(fn, inputs, x, eps, total)
        bad = np.abs(jac_a - jac_n) > atol + rtol * np.abs(jac_n)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            msg = (
                f"gradcheck: Jacobian mismatch for input {k} (shape {x.shape}) at input element {i}, "
                f"output element {j}: analytical {jac_a[i, j]:.8g}, numerical {jac_n[i, j]:.8g} "
                f"({int(bad.sum())} of {bad.size} entries differ; max |diff| {np.abs(jac_a - jac_n).max():.3g})"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0) -> bool:
    """Check second-order gradients: gradcheck of (inputs, v) -> vjp(fn, inputs, v) with create_graph."""
    inputs = _as_tuple(inputs)
    diff_positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn, inputs)
    outs = [o for o in outs if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [_wrap(rng.standard_normal(o.data.shape).astype(o.data.dtype)).requires_grad_() for o in outs]
    else:
        grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_order(*args):
        ins, vs = args[:n_in], args[n_in:]
        outputs = [o for o in _outputs(fn, ins) if o.requires_grad]
        diff = [ins[i] for i in diff_positions]
        grads = autograd_grad(outputs, diff, list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_order, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
