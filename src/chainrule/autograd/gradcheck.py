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
    """Analytical and numerical gradients disagree.

    Raised by ``gradcheck`` and ``gradgradcheck`` (unless
    ``raise_exception=False``); the message names the input, the first
    mismatching Jacobian entry and both values. It is an ``AssertionError``, so a
    test that calls gradcheck fails with it.

    Examples:
        >>> class Wrong(cr.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     def backward(ctx, grad_output):
        ...         return grad_output * 3
        >>> x = cr.tensor([1.0], dtype=cr.float64, requires_grad=True)
        >>> cr.autograd.gradcheck(Wrong.apply, (x,))
        Traceback (most recent call last):
            ...
        chainrule.autograd.gradcheck.GradcheckError: gradcheck: Jacobian mismatch ... analytical 3, numerical 2 ...
    """


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def _numerical_jacobian(fn, inputs, x, eps, n_out_elems):
    """Rows: elements of x; columns: concatenated output elements."""
    data = x._data
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
    return np.concatenate([np.asarray(o._data, dtype=np.float64).ravel() for o in outs])


def _analytical_jacobians(fn, inputs, diff_inputs):
    outs = _outputs(fn, inputs)
    sizes = [o._data.size for o in outs]
    total = sum(sizes)
    jacs = [np.zeros((x._data.size, total)) for x in diff_inputs]
    column = 0
    for o in outs:
        if not o.requires_grad:
            column += o._data.size
            continue
        for j in range(o._data.size):
            seed = np.zeros(o._data.shape, dtype=o._data.dtype)
            seed.reshape(-1)[j] = 1.0
            grads = autograd_grad(o, diff_inputs, _wrap(seed), retain_graph=True, allow_unused=True)
            for jac, g in zip(jacs, grads):
                if g is not None:
                    jac[:, column + j] = np.asarray(g._data, dtype=np.float64).ravel()
        column += o._data.size
    return jacs, total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """True when backward's gradients match central differences for every input that requires grad.

    Each Jacobian entry is compared: backward's (one vector-Jacobian product
    per output element) against ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``;
    they must agree within ``atol + rtol * |numerical|``. The cost is two calls
    of ``fn`` per input element, so keep the inputs small.

    Args:
        fn: a function of the inputs returning a tensor or a tuple of tensors (non-float outputs are ignored).
        inputs: a tensor or a tuple of arguments for ``fn``; the tensors that require grad, which must be
            float64, are checked.
        eps: the finite-difference step; default 1e-6.
        atol: the absolute tolerance; default 1e-5.
        rtol: the tolerance relative to the numerical value; default 1e-3.
        raise_exception: raise ``GradcheckError`` on a mismatch (the default) rather than return False.

    Returns:
        True when every entry agrees; False on a mismatch with ``raise_exception=False``.

    Raises:
        GradcheckError: an entry differs and ``raise_exception`` is True.
        ValueError: no input requires grad, or one that does is not float64.

    Examples:
        >>> x = cr.tensor([0.5, 1.5], dtype=cr.float64, requires_grad=True)
        >>> cr.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck: no input requires grad")
    for x in diff_inputs:
        if x._data.dtype != np.float64:
            raise ValueError(
                f"gradcheck: inputs must be float64 for meaningful central differences, got {x._data.dtype}"
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
    """Check second-order gradients: gradcheck of (inputs, v) -> vjp(fn, inputs, v) with create_graph.

    The first-order gradient function, computed with ``create_graph=True``, is
    itself checked by ``gradcheck`` with respect to the inputs and ``v``.

    Args:
        fn: a function of the inputs returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of arguments for ``fn``; those that require grad must be float64.
        grad_outputs: the vectors ``v``, one per output that requires grad (float64, requiring grad); None draws
            them from a standard normal with ``seed``.
        eps: the finite-difference step; default 1e-6.
        atol: the absolute tolerance; default 1e-5.
        rtol: the tolerance relative to the numerical value; default 1e-3.
        raise_exception: raise ``GradcheckError`` on a mismatch (the default) rather than return False.
        seed: the seed of the NumPy generator that draws ``grad_outputs``; default 0.

    Returns:
        True when every entry agrees; False on a mismatch with ``raise_exception=False``.

    Raises:
        GradcheckError: an entry differs and ``raise_exception`` is True.

    Examples:
        >>> x = cr.tensor([0.5, 1.5], dtype=cr.float64, requires_grad=True)
        >>> cr.autograd.gradgradcheck(lambda t: (t * t).tanh(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff_positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn, inputs)
    outs = [o for o in outs if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [_wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_() for o in outs]
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
