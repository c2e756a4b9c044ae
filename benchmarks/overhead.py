"""Per-op overhead on tiny (4x4) float32 tensors: chainrule against PyTorch in the same run.

For each op it times the forward alone (inputs require grad, so the op is
recorded) and forward + backward (``y.backward(g)`` with a fixed upstream
gradient).  Times are medians of 7 runs, the two libraries' runs interleaved
(a drifting machine treats both alike), in microseconds per op; the ratio is
chainrule / PyTorch (below 1 means chainrule is faster).

    python benchmarks/overhead.py
"""

from __future__ import annotations

import statistics

import numpy as np
from _common import calls_per_sample, import_torch, print_table, thread_label, time_calls

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


def callables(lib_name, make, ones_like):
    """{op: (forward, forward + backward)} for one library."""
    a, b = make(), make()
    out = {}
    for name, fn in ops(lib_name).items():
        g = ones_like(fn(a, b))

        def forward(fn=fn):
            fn(a, b)

        def forward_backward(fn=fn, g=g):
            fn(a, b).backward(g)

        out[name] = (forward, forward_backward)
    return out


def paired_medians(fns, repeats=7, min_time=0.05):
    """Median seconds per call of each function, their timings interleaved (a drifting machine treats all alike)."""
    for fn in fns.values():  # warm-up: PyTorch's first backward starts its engine's threads
        for _ in range(200):
            fn()
    numbers = {key: calls_per_sample(fn, min_time) for key, fn in fns.items()}
    samples = {key: [] for key in fns}
    for r in range(repeats):
        for key in list(fns) if r % 2 == 0 else reversed(list(fns)):
            samples[key].append(time_calls(fns[key], numbers[key]))
    return {key: statistics.median(v) for key, v in samples.items()}


def main():
    torch = import_torch()
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 4)).astype(np.float32)
    libs = {"chainrule": callables("chainrule", lambda: cr.tensor(base, requires_grad=True), cr.ones_like)}
    if torch is not None:
        libs["torch"] = callables("torch", lambda: torch.tensor(base, requires_grad=True), torch.ones_like)
    rows = []
    for name in ops("chainrule"):
        t = paired_medians({(lib, kind): libs[lib][name][kind] for lib in libs for kind in (0, 1)})
        fwd, fb = t[("chainrule", 0)] * 1e6, t[("chainrule", 1)] * 1e6
        if torch is not None:
            tf, tfb = t[("torch", 0)] * 1e6, t[("torch", 1)] * 1e6
            rows.append(
                [name, f"{fwd:.2f}", f"{tf:.2f}", f"{fwd / tf:.2f}", f"{fb:.2f}", f"{tfb:.2f}", f"{fb / tfb:.2f}"]
            )
        else:
            rows.append([name, f"{fwd:.2f}", "-", "-", f"{fb:.2f}", "-", "-"])
    version = torch.__version__ if torch else "not installed"
    print_table(
        f"Per-op overhead, 4x4 float32, microseconds (median of 7, interleaved); torch {version}; "
        f"{thread_label(torch)}",
        ["op", "fwd chainrule", "fwd torch", "ratio", "fwd+bwd chainrule", "fwd+bwd torch", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
