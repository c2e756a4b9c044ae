"""Function transforms, as ``torch.func``: grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call.

A transform takes a function of tensors and returns a new function:
``grad(f)`` computes the gradient of ``f`` (reverse mode), ``jvp`` pushes a
tangent forward (forward mode), ``jacrev(f)``/``jacfwd(f)`` its Jacobian,
``vmap(f)`` maps it over a batch dimension.  Transforms nest
(``grad(grad(f))``, ``jacfwd(jacrev(f))``, ``vmap(grad(f))``) and never
touch a tensor's ``.grad``.
``functional_call(model, params, x)`` runs a Module with other tensors in
place of its parameters, so a model becomes a function of its parameters.
See the guide (docs/func.md) for per-sample gradients and Hessian-vector
products.
"""

from . import _batching  # noqa: E402, F401, I001 - the batching rules register themselves (they use _vmap's helpers)
from ._forward import jacfwd, jvp, linearize
from ._functional_call import functional_call
from ._reverse import grad, grad_and_value, hessian, jacrev, vjp
from ._vmap import vmap

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "vjp",
    "vmap",
]
