"""See inside backprop: gradient health, pictures of the graph, the learning-rate range test.

* :class:`GradientMonitor` records gradient norms, update/weight ratios, zero
  gradients and activation statistics every few steps and names the layers
  with vanishing, exploding or non-finite gradients, dead units or saturated
  activations (text report + PNG).
* :func:`to_dot` / :func:`render`: the backward graph as Graphviz source, SVG or PNG.
* :func:`lr_finder`: sweep the learning rate and suggest one.

Anomaly detection (the first op that makes a NaN or inf) lives with the
engine, ``cr.autograd.detect_anomaly()``, and is re-exported here.

The submodules load on first use, so ``import chainrule`` pays nothing for them.
"""

_LAZY = {
    "AnomalyError": "..autograd.anomaly",
    "detect_anomaly": "..autograd.anomaly",
    "is_anomaly_enabled": "..autograd.anomaly",
    "set_detect_anomaly": "..autograd.anomaly",
    "GraphvizNotFoundError": ".graphviz",
    "render": ".graphviz",
    "to_dot": ".graphviz",
    "LRFinderResult": ".lr_finder",
    "lr_finder": ".lr_finder",
    "GradientHealthWarning": ".monitor",
    "GradientMonitor": ".monitor",
    "HealthThresholds": ".monitor",
    "Issue": ".monitor",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainrule.diagnostics' has no attribute '{name}'")
    import importlib  # noqa: PLC0415

    value = getattr(importlib.import_module(module, __name__), name)
    # every name of that module at once: importing .lr_finder made the attribute ``lr_finder`` the submodule
    globals().update((n, getattr(importlib.import_module(m, __name__), n)) for n, m in _LAZY.items() if m == module)
    return value


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = list(_LAZY)  # noqa: PLE0605
