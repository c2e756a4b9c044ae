"""Activation checkpointing: activation memory and step time, plain against checkpointed.

A deep MLP (default: 200 layers of width 1024, batch 256, float32) takes
training steps several ways: storing every activation, checkpoint_sequential
with sqrt(depth) segments, and checkpoint_sequential with three memory
budgets (chainrule picks what to recompute).  Each variant runs in its own
process.  Step time is the median of untraced steps; activation memory is the
peak of NumPy's traced allocations (tracemalloc) during one more step, minus
what was allocated before it (weights and gradients exist already and
gradients accumulate in place).  Weights use He initialization so that 200
ReLU layers keep their scale (PyTorch's default init shrinks the activations
into float32 denormals, which are ~100x slower on x86).

    python benchmarks/checkpointing.py
    python benchmarks/checkpointing.py --layers 50 --width 512   # quicker
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import print_table, thread_label


def build(layers, width, batch):
    import chainrule as cr
    from chainrule import nn

    cr.manual_seed(0)
    mods = []
    for _ in range(layers):
        lin = nn.Linear(width, width)
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        mods += [lin, nn.ReLU()]
    model = nn.Sequential(*mods, nn.Linear(width, 10))
    x = cr.randn(batch, width)
    y = cr.randint(0, 10, (batch,))
    for p in model.parameters():
        p.grad = cr.zeros_like(p)
    return model, x, y


def worker(mode, value, layers, width, batch, steps):
    import chainrule as cr
    from chainrule.utils import checkpoint_sequential, plan_segments

    model, x, y = build(layers, width, batch)
    plan = "-"
    if mode == "plain":
        run = model
    elif mode == "segments":
        run = lambda t: checkpoint_sequential(model, int(value), t)  # noqa: E731
    else:
        k, s, _ = plan_segments(model, x, int(value))
        plan = f"{k} of {len(model)} modules in {s} segments" if k else "nothing recomputed"
        run = lambda t: checkpoint_sequential(model, None, t, memory_budget=int(value))  # noqa: E731
    import tracemalloc

    loss = cr.nn.functional.cross_entropy(run(x), y)
    loss.backward()  # warm-up (and the plan's measuring pass)
    times = []
    for _ in range(steps):
        model.zero_grad(set_to_none=False)  # gradients accumulate in place
        start = time.perf_counter()
        cr.nn.functional.cross_entropy(run(x), y).backward()
        times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=False)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cr.nn.functional.cross_entropy(run(x), y).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"time": statistics.median(times), "activation": peak - base, "plan": plan}


def plain_estimate(args):
    """plan_segments' estimate for the plain run; the budgets are fractions of it."""
    from chainrule.utils import plan_segments

    model, x, _ = build(args.layers, args.width, args.batch)
    return plan_segments(model, x, 2**62)[2]


def run_variant(mode, value, args):
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        mode,
        "--value",
        str(value),
        "--layers",
        str(args.layers),
        "--width",
        str(args.width),
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--value")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.value, args.layers, args.width, args.batch, args.steps)))
        return
    n_modules = 2 * args.layers + 1
    segments = max(1, round(math.sqrt(n_modules)))
    activations = plain_estimate(args)
    variants = [("plain", 0, "stored (plain)"), ("segments", segments, f"{segments} segments")]
    variants += [("budget", int(activations * f), f"budget {activations * f / 2**20:.0f} MB") for f in (0.5, 0.3, 0.2)]
    print(f"  plan_segments' estimate for the plain run: {activations / 2**20:.0f} MB", file=sys.stderr)
    rows = []
    plain = None
    for mode, value, label in variants:
        r = run_variant(mode, value, args)
        if "error" in r:
            rows.append([label, r["error"][:60], "-", "-", "-", "-"])
            continue
        plain = plain or r
        rows.append(
            [
                label,
                r["plan"],
                f"{r['activation'] / 2**20:.0f}",
                f"{plain['activation'] / r['activation']:.2f}",
                f"{r['time'] * 1e3:.0f}",
                f"{r['time'] / plain['time']:.2f}",
            ]
        )
        print(f"  done {label}", file=sys.stderr)
    print_table(
        f"Activation checkpointing: MLP {args.layers} x {args.width}, batch {args.batch}, float32, "
        f"{thread_label()}, median of {args.steps} steps (forward + backward)",
        ["run", "plan", "activation MB", "memory saved x", "step ms", "time x"],
        rows,
    )


if __name__ == "__main__":
    main()
