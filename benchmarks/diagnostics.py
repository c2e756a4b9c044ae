"""What the diagnostics cost: GradientMonitor and anomaly mode against a plain training step, in one run.

One training step = forward, cross-entropy, backward, SGD step, on a batch of
64 flattened 8x8 digits, for three models: a 2-layer MLP (64-128-10), the
20-layer residual MLP of examples/vanishing_gradients.py and a 20-layer
sigmoid MLP.  Each is timed plain, with a GradientMonitor attached recording
every 10 steps (the default, so the cost is averaged over recorded and
unrecorded steps) and every step, after the monitor was detached, and under
``cr.autograd.detect_anomaly()``.  The Trainer's non-finite-gradient check
(``nonfinite="skip"``, one norm per gradient per step) is timed on its own.
Times are medians of 7 runs, in milliseconds per step; "x plain" is the
ratio to the plain step of the same model.

    python benchmarks/diagnostics.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from _common import median_time, print_table, thread_label

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.datasets import load_digits
from chainrule.diagnostics import GradientMonitor
from chainrule.nn import functional as F
from chainrule.utils.clip_grad import get_total_norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import vanishing_gradients  # noqa: E402


def models():
    return {
        "MLP 64-128-10": lambda: nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)),
        "residual MLP, 20 Linear": lambda: vanishing_gradients.ResidualMLP(18, branch_scale=0.3),
        "sigmoid MLP, 20 Linear": vanishing_gradients.sigmoid_mlp,
    }


def step_fn(model, x, y):
    opt = optim.SGD(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def interleaved(configs: dict, rounds: int = 9, min_time: float = 0.05) -> dict:
    """Median seconds per call of each config, timed in alternation so that load changes hit them all alike."""
    plain = next(iter(configs.values()))
    number = max(1, int(min_time / median_time(plain, repeats=3)))
    samples = {label: [] for label in configs}
    for _ in range(rounds):
        for label, fn in configs.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[label].append((time.perf_counter() - start) / number)
    return {label: statistics.median(values) for label, values in samples.items()}


def configurations(build, x, y) -> dict:
    """One freshly built copy of the model per configuration (the monitors stay attached to theirs)."""

    def fresh():
        cr.manual_seed(0)
        model = build()
        return model, step_fn(model, x, y)

    configs = {}
    _, configs["plain"] = fresh()
    for every in (10, 1):
        model, step = fresh()
        monitor = GradientMonitor(model, every=every, on_issue=None)

        def monitored(step=step, monitor=monitor):
            step()
            monitor.step()

        configs[f"monitor every {every}"] = monitored
    model, step = fresh()
    monitor = GradientMonitor(model, every=1, on_issue=None)
    monitor.detach()

    def detached(step=step, monitor=monitor):
        step()
        monitor.step()  # returns at once while detached

    configs["monitor detached"] = detached
    _, step = fresh()

    def anomaly(step=step):
        with cr.autograd.detect_anomaly():
            step()

    configs["detect_anomaly"] = anomaly
    model, step = fresh()
    params = list(model.parameters())

    def checked(step=step, params=params):
        step()
        get_total_norm([p.grad for p in params if p.grad is not None])  # what Trainer(nonfinite="skip") adds

    configs["Trainer non-finite check"] = checked
    return configs


def main():
    xs, ys = load_digits(flatten=True)
    x, y = xs[:64], ys[:64]
    rows = []
    for name, build in models().items():
        times = interleaved(configurations(build, x, y))
        plain = times["plain"]
        for label, seconds in times.items():
            rows.append([name, label, f"{seconds * 1e3:.3f}", f"{seconds / plain:.2f}"])
    print_table(
        f"training step cost with diagnostics ({thread_label()}, batch 64; medians of 9 interleaved rounds)",
        ["model", "configuration", "ms / step", "x plain"],
        rows,
    )


if __name__ == "__main__":
    main()
