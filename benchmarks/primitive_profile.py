"""Where a training step's time goes, by primitive (forward and vjp separately).

    python benchmarks/primitive_profile.py cnn [steps]

Wraps every registered primitive's forward and vjp with a timer, runs the
workload of benchmarks/steps.py, and prints the time per step of each, plus
what is left (the engine, optimizer and Python glue).
"""

# ruff: noqa: I001 - _common must load before numpy (it sets the BLAS thread count)
from __future__ import annotations

import sys
import time
from collections import defaultdict

from _common import phased_step
import numpy as np
from steps import build

import chainrule as cr
from chainrule.autograd.graph import PRIMITIVES

TOTALS: dict = defaultdict(float)
COUNTS: dict = defaultdict(int)


def timed(name, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter() - start
            COUNTS[name] += 1

    return wrapper


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "cnn"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for prim in PRIMITIVES.values():
        prim.fwd = timed(f"{prim.name} fwd", prim.fwd)
        if prim.vjp is not None:
            prim.vjp = timed(f"{prim.name} vjp", prim.vjp)
    cr.manual_seed(0)
    model, (opt_name, lr), shape = build(name, cr)
    opt = (
        cr.optim.Adam(model.parameters(), lr=lr)
        if opt_name == "adam"
        else cr.optim.SGD(model.parameters(), lr=lr, momentum=0.9 if opt_name == "sgd_momentum" else 0.0)
    )
    rng = np.random.default_rng(0)
    x = cr.from_numpy(rng.standard_normal(shape).astype(np.float32))
    y = cr.from_numpy(rng.integers(0, 10, shape[0]))
    step, phases = phased_step(cr, model, opt, x, y)

    for _ in range(3):
        step()
    TOTALS.clear()
    COUNTS.clear()
    for seconds in phases.values():
        seconds.clear()
    for _ in range(steps):
        step()
    phases = {phase: sum(seconds) for phase, seconds in phases.items()}
    total = sum(phases.values())
    print(
        f"{name}: {1e3 * total / steps:.2f} ms/step; "
        + ", ".join(f"{k} {1e3 * v / steps:.2f}" for k, v in phases.items())
    )
    nested = {"vjp"}  # vjp time includes the forwards of the ops it calls
    own = sum(v for k, v in TOTALS.items() if k.split()[-1] not in nested)
    print(f"{'primitive':32s} {'ms/step':>8s} {'calls':>6s}")
    for key, value in sorted(TOTALS.items(), key=lambda kv: -kv[1]):
        print(f"{key:32s} {1e3 * value / steps:8.3f} {COUNTS[key] // steps:6d}")
    print(f"{'forwards of all primitives':32s} {1e3 * own / steps:8.3f}")
    print(f"{'everything else':32s} {1e3 * (total - own) / steps:8.3f}")


if __name__ == "__main__":
    main()
