"""Function transforms, as ``torch.func``: ``grad``, ``vjp``, ``jacrev``, ``hessian``, ``vmap``, ``functional_call``.

A transform takes a function of tensors and returns a new function:
``grad(f)`` computes the gradient of ``f``, ``jacrev(f)`` its Jacobian,
``vmap(f)`` maps it over a batch dimension.  Transforms nest
(``grad(grad(f))``, ``vmap(grad(f))``) and never touch a tensor's ``.grad``.
``functional_call(model, params, x)`` runs a Module with other tensors in
place of its parameters, so a model becomes a function of its parameters.
See the guide (docs/func.md) for per-sample gradients and Hessian-vector
products.
"""

from ._functional_call import functional_call
from ._reverse import grad, grad_and_value, hessian, jacrev, vjp
from ._vmap import vmap

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacrev", "vjp", "vmap"]
