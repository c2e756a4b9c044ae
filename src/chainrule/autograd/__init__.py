"""Reverse-mode automatic differentiation: the engine, grad modes, custom Functions, gradcheck.

Only the grad-mode switches load with the package (tensor.py needs them);
``chainrule``'s own ``__init__`` imports the engine right after ``Tensor``
(the engine registers itself with ``Tensor``, so that ``Tensor.backward``
reaches it without tensor.py importing upwards); the rest loads on first use.
"""

from .mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

_LAZY = {
    "backward": ".engine",
    "grad": ".engine",
    "Function": ".function",
    "FunctionCtx": ".function",
    "once_differentiable": ".function",
    "GradcheckError": ".gradcheck",
    "gradcheck": ".gradcheck",
    "gradgradcheck": ".gradcheck",
    "PRIMITIVES": ".graph",
    "Node": ".graph",
    "detect_anomaly": ".anomaly",
    "is_anomaly_enabled": ".anomaly",
    "set_detect_anomaly": ".anomaly",
    "AnomalyError": ".anomaly",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainrule.autograd' has no attribute '{name}'")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module, __name__), name)
    # every name of that module at once: importing .gradcheck made the attribute ``gradcheck`` the submodule
    globals().update((n, getattr(importlib.import_module(m, __name__), n)) for n, m in _LAZY.items() if m == module)
    return value


__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled", *_LAZY]  # noqa: PLE0604
