"""GradientMonitor: gradient health of a model while it trains.

::

    monitor = GradientMonitor(model, every=10)     # attaches forward hooks
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step()                             # after optimizer.step(), before the next zero_grad()
    print(monitor.report())
    monitor.save("runs/x")                         # gradient_report.txt, gradients.png, gradients.json
    monitor.detach()

Every ``every`` steps it records, per parameter and per layer (a module that
owns parameters directly): the gradient norm, the size of the optimizer's
update relative to the weights (``||w_after - w_before|| / ||w_before||``),
the fraction of gradient entries that are exactly zero and of units whose
gradient is entirely zero, and, through forward hooks on the layers and on
activation modules (``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``, ...), the mean
and standard deviation of their outputs, the fraction of ReLU units that are
zero for every sample of the batch (dead) and of sigmoid/tanh outputs in the
flat tails (saturated: within 0.01 of the limits).  Activations applied as
functions (``F.relu``) have no module to hook; their effect still shows in
the layers' gradients.

From each record it diagnoses, naming the layers: vanishing gradients (an
early layer's gradient norm orders of magnitude below the last layers'),
exploding gradients (the reverse across depth, growth of the total norm
across steps, updates as large as the weights), non-finite gradients, dead
units and saturated activations.  Each kind of problem is reported once when
it first appears (``on_issue``; by default a :class:`GradientHealthWarning`),
and all of them are in :meth:`report`.

Cost: detached (``detach()``, or leaving the ``with`` block), the model has no
hook left and ``step()`` returns at once.  Attached, a step that is not
recorded costs one Python call per hooked module; a recorded step costs a few
passes over the gradients, a copy of the weights and the activation
statistics.  ``benchmarks/diagnostics.py`` measures both.

Layer order ("depth") is the order in which the layers first ran in the last
recorded forward pass, or their registration order before any.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import backend
from ..autograd.mode import grad_enabled
from ..backend import to_numpy
from ..errors import GradientError
from ..io import atomic_write
from ..tensor import Tensor

__all__ = ["GradientHealthWarning", "GradientMonitor", "HealthThresholds", "Issue"]

# activation modules by class name -> the statistic that matters for them
ACTIVATION_KINDS = {
    "ReLU": "relu",
    "ReLU6": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "LeakyReLU": "activation",
    "ELU": "activation",
    "GELU": "activation",
    "SiLU": "activation",
    "Softplus": "activation",
}
_SPARSE_GRADIENT_LAYERS = ("Embedding", "EmbeddingBag")  # rows outside the batch get no gradient by design

HINTS = {
    "vanishing": "use ReLU-family activations with He (kaiming) init, add normalization "
    "(BatchNorm/LayerNorm) and residual connections, or make the network shallower",
    "exploding": "clip the gradient norm (clip_grad_norm_, chainrule train --grad-clip), lower the learning "
    "rate, or initialize with smaller weights",
    "nonfinite": "find the op that makes the NaN/inf with cr.autograd.detect_anomaly(); lower the learning "
    "rate or clip gradients",
    "dead": "lower the learning rate, check the init and biases, or use LeakyReLU/GELU",
    "saturated": "normalize the inputs, initialize with smaller weights, or normalize before the activation",
}


class GradientHealthWarning(UserWarning):
    """A gradient-health problem found by :class:`GradientMonitor` (issued once per kind).

    A ``UserWarning``: filter it with the ``warnings`` module, or pass
    ``on_issue=`` to the monitor to handle problems another way.

    Examples:
        >>> import warnings
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> _ = nn.init.constant_(model[0].bias, -100.0)  # every ReLU unit is dead
        >>> monitor = cr.diagnostics.GradientMonitor(model, every=1)
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     for _ in range(2):
        ...         model(cr.randn(16, 4)).sum().backward()
        ...         _ = monitor.step()
        >>> [warning.category.__name__ for warning in caught]
        ['GradientHealthWarning']
    """


@dataclass
class HealthThresholds:
    """When a record counts as a problem.

    Args:
        vanishing_ratio: an early layer's gradient norm below this fraction of the last layers' is vanishing;
            default 1e-3.
        exploding_ratio: an early layer's gradient norm above this multiple of the last layers' is exploding;
            default 1e3.
        growth_ratio: the total gradient norm growing by this factor over its first records is exploding;
            default 1e2.
        update_ratio: an update at least this large relative to the weights is exploding; default 1.
        dead_fraction: the fraction of ReLU units zero for the whole batch (or weight rows with an all-zero
            gradient), in two records in a row, that makes a layer dead; default 0.5.
        saturation_fraction: the fraction of sigmoid/tanh outputs within 0.01 of their limits that makes an
            activation saturated; default 0.5.

    Examples:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        >>> strict = cr.diagnostics.HealthThresholds(vanishing_ratio=1e-2, saturation_fraction=0.2)
        >>> monitor = cr.diagnostics.GradientMonitor(model, thresholds=strict)
        >>> monitor.thresholds.vanishing_ratio
        0.01
    """

    vanishing_ratio: float = 1e-3  # an early layer's gradient norm below this fraction of the last layers'
    exploding_ratio: float = 1e3  # an early layer's gradient norm above this multiple of the last layers'
    growth_ratio: float = 1e2  # the total gradient norm grew by this factor over its first records
    update_ratio: float = 1.0  # an update at least this large relative to the weights
    dead_fraction: float = 0.5  # ReLU units zero for every sample / weight rows with all-zero gradient
    saturation_fraction: float = 0.5  # sigmoid/tanh outputs within 0.01 of their limits


@dataclass
class Issue:
    """One kind of problem found at one record: what, where (layer names) and when (step).

    Args:
        kind: ``"vanishing"``, ``"exploding"``, ``"nonfinite"``, ``"dead"`` or ``"saturated"``.
        layers: the names of the layers (or activation modules) concerned, as in ``model.named_modules()``.
        step: the step of the record.
        message: what was found, with the numbers.
        hint: what usually helps.

    Examples:
        >>> issue = cr.diagnostics.Issue("dead", ["0"], step=3, message="layer 0 has 100% dead units")
        >>> print(issue)
        dead at step 3: layer 0 has 100% dead units
    """

    kind: str  # vanishing | exploding | nonfinite | dead | saturated
    layers: list
    step: int
    message: str
    hint: str = field(default="")

    def __str__(self):
        return f"{self.kind} at step {self.step}: {self.message}"


class GradientMonitor:
    """Record gradient and activation statistics of ``model`` every ``every`` steps and diagnose problems.

    ``activations=False`` hooks nothing (gradients and updates only).
    ``on_issue(issue)`` is called once per kind of problem, the first time it
    appears; the default issues a :class:`GradientHealthWarning`, None stays
    silent.  The monitor attaches on construction (``attach=False`` to wait).

    Call ``step()`` after ``optimizer.step()`` and before the next
    ``zero_grad()``; ``report()`` is a text report, ``save(directory)`` writes
    it with the data and a plot, and ``detach()`` (or leaving a ``with``
    block) removes every hook. See the module docstring for what is recorded
    and diagnosed.

    Args:
        model: the Module to watch; its layers are the modules that own parameters directly.
        every: record every this many steps, a positive int; default 10.
        activations: hook the layers and activation modules to record their output statistics; default True.
        thresholds: the ``HealthThresholds`` that decide what is a problem; None means the defaults.
        on_issue: ``"warn"`` (the default: a ``GradientHealthWarning``), a function called with each new
            ``Issue``, or None.
        attach: attach the hooks now (the default); False waits for ``attach()``.

    Raises:
        ValueError: ``every`` < 1.

    Examples:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> _ = nn.init.constant_(model[0].bias, -100.0)  # every ReLU unit is dead
        >>> monitor = cr.diagnostics.GradientMonitor(model, every=1, on_issue=None)
        >>> for _ in range(2):  # dead units are reported when two records in a row see them
        ...     model(cr.randn(16, 4)).sum().backward()
        ...     issues = monitor.step()
        >>> [(issue.kind, issue.layers) for issue in issues]
        [('dead', ['1', '0', '2'])]
        >>> _ = monitor.detach()
    """

    def __init__(
        self,
        model,
        every: int = 10,
        activations: bool = True,
        thresholds: HealthThresholds | None = None,
        on_issue="warn",
        attach: bool = True,
    ):
        if int(every) < 1:
            raise ValueError(f"GradientMonitor: every must be a positive integer, got {every}")
        self.model = model
        self.every = int(every)
        self.activations = bool(activations)
        self.thresholds = thresholds or HealthThresholds()
        self.on_issue = _warn if on_issue == "warn" else on_issue
        self.steps = 0
        self.history: list = []  # one dict per record
        self.first_issues: dict = {}  # kind -> the first Issue of that kind
        self.issue_counts: dict = {}  # kind -> number of records that had it
        self.last_issues: list = []
        self._layers = _param_layers(model)  # [(name, module)] in registration order
        self._depth = [name for name, _ in self._layers]
        self._handles: list = []
        self._capturing = False
        self._acts: list = []
        self._calls: dict = {}
        self._order: list = []
        self._snapshot: dict | None = None
        if attach:
            self.attach()

    # ------------------------------------------------------------------ attaching

    @property
    def attached(self) -> bool:
        """Whether the hooks are attached."""
        return bool(self._handles)

    def attach(self):
        """Add the hooks (idempotent) and start recording from the next forward pass."""
        if self._handles:
            return self
        root_handle = self.model.register_forward_pre_hook(self._on_root_forward)
        self._handles.append(root_handle)
        if self.activations:
            layer_ids = {id(m) for _, m in self._layers}
            for name, module in self.model.named_modules():
                kind = ACTIVATION_KINDS.get(type(module).__name__)
                if kind is None and id(module) not in layer_ids:
                    continue
                self._handles.append(module.register_forward_hook(self._make_hook(name or "(model)", kind or "layer")))
        self._capturing = self.steps % self.every == 0
        if self._capturing:
            self._snapshot = self._weights()
        return self

    def detach(self):
        """Remove every hook: the model runs exactly as without a monitor; ``step()`` does nothing."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._capturing = False
        self._snapshot = None
        return self

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc):
        self.detach()
        return False

    def _on_root_forward(self, module, args):
        if self._capturing and grad_enabled():
            self._acts = []
            self._calls = {}
            self._order = []

    def _make_hook(self, name, kind):
        def hook(module, args, output):
            if self._capturing and grad_enabled():
                self._capture(name, kind, output)

        return hook

    def _capture(self, name, kind, output):
        t = output
        if not isinstance(t, Tensor):
            t = next((o for o in output if isinstance(o, Tensor)), None) if isinstance(output, (tuple, list)) else None
        if t is None or t._data.dtype.kind != "f" or t._data.size == 0:
            return
        count = self._calls.get(name, 0) + 1
        self._calls[name] = count
        if kind == "layer" and count == 1:
            self._order.append(name)
        arr = to_numpy(t._data)
        stats = {"name": name if count == 1 else f"{name}#{count}", "kind": kind}
        flat = arr.reshape(-1)
        n = flat.size
        mean = float(flat.sum(dtype=np.float64)) / n
        square = _sum_squares(flat) / n
        if not (math.isfinite(mean) and math.isfinite(square)):
            stats.update(mean=math.nan, std=math.nan, nonfinite=True)  # no dead/saturation verdict on NaNs
            self._acts.append(stats)
            return
        stats["mean"] = mean
        stats["std"] = math.sqrt(max(square - mean * mean, 0.0))
        if kind == "relu":
            rows = arr.reshape(arr.shape[0], -1) if arr.ndim >= 2 else arr.reshape(1, -1)
            stats["dead"] = float(np.count_nonzero(rows.max(axis=0) <= 0)) / rows.shape[1]
        elif kind == "sigmoid":
            stats["saturated"] = float(np.count_nonzero(np.abs(flat - 0.5) > 0.49)) / n
        elif kind == "tanh":
            stats["saturated"] = float(np.count_nonzero(np.abs(flat) > 0.99)) / n
        self._acts.append(stats)

    def _weights(self) -> dict:
        return {id(p): to_numpy(p._data).copy() for _, m in self._layers for p in _own_params(m)}

    # ------------------------------------------------------------------ stepping

    def step(self) -> list:
        """Count one optimizer step; on every ``every``-th, record and diagnose.  Returns that record's issues.

        Call it after ``optimizer.step()`` and before the next
        ``zero_grad()``, so that the gradients and the update of this step are
        both visible.  Does nothing while detached.
        """
        if not self._handles:
            return []
        issues = []
        if self.steps % self.every == 0:
            issues = self.record()
        self.steps += 1
        self._capturing = self.steps % self.every == 0
        if self._capturing:
            self._snapshot = self._weights()
        return issues

    def record(self) -> list:
        """Record the current gradients, updates and activations now, and diagnose them."""
        params: dict = {}
        layers: dict = {}
        snapshot = self._snapshot or {}
        any_grad = False
        for name, module in self._layers:
            g_sq = w_sq = u_sq = b_sq = 0.0
            numel = zeros = 0
            dead = None
            has_update = True
            nonfinite = False
            matrix = False
            for pname, p in module._parameters.items():
                if p is None or not p.requires_grad or p.grad is None:
                    continue
                any_grad = True
                g = to_numpy(p.grad._data)
                w = to_numpy(p._data)
                g_norm2 = _sum_squares(g)
                w_norm2 = _sum_squares(w)
                before = snapshot.get(id(p))
                if before is not None:
                    u_norm2 = _sum_squares(w - before)
                    b_norm2 = _sum_squares(before)
                else:
                    u_norm2 = b_norm2 = math.nan
                    has_update = False
                size = int(p._data.size)  # a row-sparse gradient's .data holds only the rows it touched
                zero = size - int(np.count_nonzero(g))
                entry = {
                    "grad_norm": math.sqrt(g_norm2),
                    "weight_norm": math.sqrt(w_norm2),
                    "update_ratio": _ratio(math.sqrt(u_norm2), math.sqrt(b_norm2)),
                    "zero_fraction": zero / max(size, 1),
                    "numel": size,
                }
                if pname == "weight" and g.ndim >= 2 and type(module).__name__ not in _SPARSE_GRADIENT_LAYERS:
                    rows = g.reshape(g.shape[0], -1)
                    dead = float(np.mean(~np.any(rows != 0, axis=1)))
                    entry["dead_units"] = dead
                params[f"{name}.{pname}" if name != "(model)" else pname] = entry
                g_sq += g_norm2
                w_sq += w_norm2
                u_sq += u_norm2
                b_sq += b_norm2
                numel += size
                zeros += zero
                nonfinite = nonfinite or not math.isfinite(g_norm2)
                matrix = matrix or g.ndim >= 2
            if numel == 0:
                continue
            layers[name] = {
                "type": type(module).__name__,
                "grad_norm": math.sqrt(g_sq),
                "weight_norm": math.sqrt(w_sq),
                "update_ratio": _ratio(math.sqrt(u_sq), math.sqrt(b_sq)) if has_update else math.nan,
                "zero_fraction": zeros / numel,
                "numel": numel,
                "nonfinite": nonfinite,
                "matrix": matrix,  # has a weight with two or more dimensions (Linear, Conv, Embedding, ...)
            }
            if dead is not None:
                layers[name]["dead_units"] = dead
        if not any_grad:
            raise GradientError(
                "GradientMonitor.record(): no parameter of the model has a gradient; call monitor.step() after "
                "loss.backward() and optimizer.step(), before the next optimizer.zero_grad()"
            )
        if self._order:
            ran = [n for n in self._order if n in layers]
            self._depth = ran + [n for n, _ in self._layers if n not in ran]
        total = math.sqrt(sum(v["grad_norm"] ** 2 for v in layers.values()))
        entry = {
            "step": self.steps,
            "total_norm": total,
            "layers": {n: layers[n] for n in self._depth if n in layers},
            "params": params,
            "activations": list(self._acts),
        }
        self._acts = []
        self.history.append(entry)
        issues = self._diagnose(entry)
        entry["issues"] = [i.kind for i in issues]
        self.last_issues = issues
        for issue in issues:
            self.issue_counts[issue.kind] = self.issue_counts.get(issue.kind, 0) + 1
            if issue.kind not in self.first_issues:
                self.first_issues[issue.kind] = issue
                if self.on_issue is not None:
                    self.on_issue(issue)
        return issues

    # ------------------------------------------------------------------ diagnosis

    def _diagnose(self, entry) -> list:
        th = self.thresholds
        step = entry["step"]
        layers = entry["layers"]
        names = list(layers)
        issues = []

        bad = [n for n in names if layers[n]["nonfinite"]]
        if bad:
            issues.append(_issue("nonfinite", bad, step, f"non-finite gradients (NaN or inf) in {_list(bad)}"))

        finite = [n for n in names if not layers[n]["nonfinite"]]
        # a layer with an exactly zero gradient has no signal path at all (zero-initialized layers after it,
        # dead units): that is not "small"; it is reported as dead units if it persists
        signal = [n for n in finite if layers[n]["grad_norm"] > 0]
        if len(signal) >= 2:
            tail = signal[-max(1, math.ceil(len(signal) / 4)) :]
            reference = max(layers[n]["grad_norm"] for n in tail)
            head = signal[: max(1, len(signal) // 2)]
            # "towards the input": the first layer must be among them (a small gradient in the middle of a
            # network with skip connections, e.g. behind a zero-initialized layer, is not vanishing)
            low = [n for n in head if layers[n]["grad_norm"] < th.vanishing_ratio * reference]
            if low and low[0] == signal[0]:
                first = layers[low[0]]["grad_norm"] / reference
                message = (
                    f"gradients vanish towards the input: the gradient norm of {_list(low)} is below "
                    f"{th.vanishing_ratio:g} of the last layers' ({low[0]}: {first:.1e} of {reference:.2e})"
                )
                issues.append(_issue("vanishing", low, step, message))
            high = [n for n in head if layers[n]["grad_norm"] > th.exploding_ratio * reference]
            if high and high[0] == signal[0]:
                first = layers[high[0]]["grad_norm"] / reference
                message = (
                    f"gradients explode towards the input: {_list(high)} have gradient norms over "
                    f"{th.exploding_ratio:g}x the last layers' ({high[0]}: {first:.1e}x)"
                )
                issues.append(_issue("exploding", high, step, message))

        if len(self.history) >= 2 and math.isfinite(entry["total_norm"]):
            base = float(np.median([h["total_norm"] for h in self.history[:3]]))
            if base > 0 and entry["total_norm"] > th.growth_ratio * base:
                grown = _most_grown(self.history[0]["layers"], layers)
                issues.append(
                    _issue(
                        "exploding",
                        grown,
                        step,
                        f"the total gradient norm grew {entry['total_norm'] / base:.1e}x since the first records "
                        f"({base:.2e} -> {entry['total_norm']:.2e}); fastest growing: {_list(grown)}",
                    )
                )

        big = [n for n in finite if layers[n]["update_ratio"] >= th.update_ratio]
        if big:
            ratio = max(layers[n]["update_ratio"] for n in big)
            issues.append(
                _issue(
                    "exploding",
                    big,
                    step,
                    f"updates as large as the weights in {_list(big)} (update/weight up to {ratio:.2g})",
                )
            )

        # dead units count only when the same layer was dead at the previous record too: a zero-initialized
        # layer passes no gradient back for one step, a dead unit stays dead
        dead_layers = [n for n in finite if layers[n].get("dead_units", 0.0) >= th.dead_fraction]
        dead_acts = [a["name"] for a in entry["activations"] if a.get("dead", 0.0) >= th.dead_fraction]
        entry["dead"] = dead_layers + dead_acts
        before = set(self.history[-2].get("dead", ())) if len(self.history) >= 2 else set()
        dead_layers = [n for n in dead_layers if n in before]
        dead_acts = [n for n in dead_acts if n in before]
        if dead_layers or dead_acts:
            parts = []
            if dead_acts:
                worst = max(a["dead"] for a in entry["activations"] if a["name"] in dead_acts)
                parts.append(f"{_list(dead_acts)} output zero for the whole batch in up to {worst:.0%} of units")
            if dead_layers:
                worst = max(layers[n]["dead_units"] for n in dead_layers)
                parts.append(f"{_list(dead_layers)} have up to {worst:.0%} of units with an all-zero gradient")
            issues.append(_issue("dead", dead_acts + dead_layers, step, "dead units: " + "; ".join(parts)))

        saturated = [a for a in entry["activations"] if a.get("saturated", 0.0) >= th.saturation_fraction]
        if saturated:
            names_sat = [a["name"] for a in saturated]
            worst = max(a["saturated"] for a in saturated)
            issues.append(
                _issue(
                    "saturated",
                    names_sat,
                    step,
                    f"saturated activations: up to {worst:.0%} of the outputs of {_list(names_sat)} sit in the "
                    "flat tails, where the derivative is near zero",
                )
            )
        # one issue per kind per record: merge the exploding findings
        merged: dict = {}
        for issue in issues:
            if issue.kind in merged:
                prev = merged[issue.kind]
                prev.layers = prev.layers + [n for n in issue.layers if n not in prev.layers]
                prev.message = f"{prev.message}; {issue.message}"
            else:
                merged[issue.kind] = issue
        return list(merged.values())

    # ------------------------------------------------------------------ output

    @property
    def layer_names(self) -> list:
        """The monitored layers, in depth order."""
        return list(self._depth)

    def report(self) -> str:
        """A readable text report: problems found (with hints), the latest record, norms over time."""
        from .report import text_report  # noqa: PLC0415

        return text_report(self)

    def plot(self, path):
        """PNG: gradient norm over depth (several records) and over time (total, first, last layer).

        Returns the path, or None when matplotlib is missing or nothing was recorded.
        """
        from .report import plot_monitor  # noqa: PLC0415

        return plot_monitor(self, path)

    def state(self) -> dict:
        """Everything recorded, as JSON-ready data (non-finite numbers as the strings 'nan', 'inf', '-inf')."""
        return _jsonable(
            {
                "every": self.every,
                "steps": self.steps,
                "thresholds": asdict(self.thresholds),
                "layers": self.layer_names,
                "issues": {k: asdict(v) for k, v in self.first_issues.items()},
                "issue_counts": self.issue_counts,
                "history": self.history,
            }
        )

    def save(self, directory, plot: bool = True) -> dict:
        """Write ``gradient_report.txt``, ``gradients.json`` and ``gradients.png`` (``plot``, with matplotlib).

        Each file is written atomically.  Returns ``{"report": path, "json": path, "plot": path}``.
        """
        directory = Path(directory)
        written = {
            "report": atomic_write(directory / "gradient_report.txt", self.report().encode()),
            "json": atomic_write(directory / "gradients.json", json.dumps(self.state(), indent=1).encode()),
        }
        png = self.plot(directory / "gradients.png") if plot else None
        if png is not None:
            written["plot"] = png
        return written


# --------------------------------------------------------------------------- helpers


def _sum_squares(array) -> float:
    """Sum of squares: a float32 dot (BLAS), redone in float64 if it overflowed; NaN/inf only if an entry is."""
    flat = array.reshape(-1)
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    total = float(backend.dot(np, flat, flat))
    if not math.isfinite(total) and flat.dtype != np.float64:
        total = float(backend.dot(np, flat.astype(np.float64), flat.astype(np.float64)))
    return total


def _warn(issue):
    warnings.warn(f"gradient health: {issue.message}. Hint: {issue.hint}", GradientHealthWarning, stacklevel=4)


def _issue(kind, layers, step, message) -> Issue:
    return Issue(kind, list(layers), step, message, HINTS[kind])


def _own_params(module):
    return [p for p in module._parameters.values() if p is not None and p.requires_grad]


def _param_layers(model) -> list:
    layers = [(name or "(model)", m) for name, m in model.named_modules() if _own_params(m)]
    if not layers:
        raise ValueError("GradientMonitor: the model has no parameters that require grad")
    return layers


def _ratio(num, den):
    """num / den; NaN where undefined (no earlier weights, or weights that were all zero)."""
    if not (den > 0) or not math.isfinite(den):
        return math.nan
    return num / den


def _list(names, limit: int = 6) -> str:
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def _most_grown(first_layers, layers, top: int = 3) -> list:
    growth = []
    for n, v in layers.items():
        before = first_layers.get(n, {}).get("grad_norm", 0.0)
        if before > 0 and math.isfinite(v["grad_norm"]):
            growth.append((v["grad_norm"] / before, n))
    growth.sort(reverse=True)
    return [n for _, n in growth[:top]]


def _jsonable(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value
