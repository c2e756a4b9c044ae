"""Per-op overhead on tiny (4x4) float32 tensors: chainrule against PyTorch in the same run.

For each op it times the forward alone (inputs require grad, so the op is
recorded) and forward + backward (``y.backward(g)`` with a fixed upstream
gradient).  Times are medians of 7 runs, in microseconds per op; the ratio is
chainrule / PyTorch (below 1 means chainrule is faster).

    python benchmarks/overhead.py
"""

from __future__ import annotations

import numpy as np
from _common import THREADS, import_torch, median_time, print_table

import chainrule as cr

IDX = np.array([0, 2])


def ops(lib):
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "matmul": lambda a, b: a @ b,
        "sum": lambda a, b: a.sum(),
        "relu": lambda a, b: a.relu(),
        "exp": lambda a, b: a.exp(),
        "index": lambda a, b: a[1:3],
        "reshape": lambda a, b: a.reshape(2, 8),
    }


def bench(lib_name, make, ones_like):
    a, b = make(), make()
    results = {}
    for name, fn in ops(lib_name).items():
        y = fn(a, b)
        g = ones_like(y)

        def forward(fn=fn):
            fn(a, b)

        def forward_backward(fn=fn, g=g):
            fn(a, b).backward(g)

        results[name] = (median_time(forward) * 1e6, median_time(forward_backward) * 1e6)
    return results


def main():
    torch = import_torch()
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 4)).astype(np.float32)
    ours = bench("chainrule", lambda: cr.tensor(base, requires_grad=True), cr.ones_like)
    theirs = None
    if torch is not None:
        theirs = bench("torch", lambda: torch.tensor(base, requires_grad=True), torch.ones_like)
    rows = []
    for name, (fwd, fb) in ours.items():
        if theirs:
            tf, tfb = theirs[name]
            rows.append(
                [name, f"{fwd:.2f}", f"{tf:.2f}", f"{fwd / tf:.2f}", f"{fb:.2f}", f"{tfb:.2f}", f"{fb / tfb:.2f}"]
            )
        else:
            rows.append([name, f"{fwd:.2f}", "-", "-", f"{fb:.2f}", "-", "-"])
    version = torch.__version__ if torch else "not installed"
    print_table(
        f"Per-op overhead, 4x4 float32, microseconds (median of 7); torch {version}; {THREADS} thread(s)",
        ["op", "fwd chainrule", "fwd torch", "ratio", "fwd+bwd chainrule", "fwd+bwd torch", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
