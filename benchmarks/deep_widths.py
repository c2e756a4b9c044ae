"""Where the deep workload's gap to PyTorch comes from: the same 50-layer MLP at several widths.

    python benchmarks/deep_widths.py            # widths 4 and 256 (the steps.py workload), batch 64
    python benchmarks/deep_widths.py 4 64 256

At width 4 the arrays are tiny, so a step is nothing but per-layer glue: module
calls, graph recording, the engine, small NumPy/ATen calls.  At width 256 the
same glue runs around real work (three 64x256x256 GEMMs per layer, the ReLU and
its mask, the bias).  Forward, backward and optimizer times are medians of
steps alternating between the two libraries in one process (SGD, batch 64,
1 thread each); the last columns are per-layer differences.  A second table
times one of the layer's GEMMs three ways: ``torch.mm``, MKL's ``cblas_sgemm``
called through ctypes with everything precomputed, and chainrule's
``backend.matmul`` (the same call with its checks; needs the mkl extra).
"""

# ruff: noqa: I001 - _common must load before numpy (it sets the BLAS thread count)
from __future__ import annotations

import sys
import timeit

from _common import import_torch, phased_step, print_table, thread_label
import numpy as np

import chainrule as cr
from chainrule import _mkl, backend

LAYERS = 50
BATCH = 64


def stepper(lib, width):
    lib.manual_seed(0)
    layers = []
    for _ in range(LAYERS):
        layers += [lib.nn.Linear(width, width), lib.nn.ReLU()]
    model = lib.nn.Sequential(*layers, lib.nn.Linear(width, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((BATCH, width)).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, BATCH))
    return phased_step(lib, model, opt, x, y)


def main():
    torch = import_torch()
    if torch is None:
        sys.exit("deep_widths.py compares against PyTorch: pip install torch==2.13.0")
    widths = [int(w) for w in sys.argv[1:]] or [4, 256]
    rows = []
    for width in widths:
        ours, our_times = stepper(cr, width)
        theirs, their_times = stepper(torch, width)
        for _ in range(5):
            ours()
            theirs()
        for times in (our_times, their_times):
            for values in times.values():
                values.clear()
        for _ in range(40):
            ours()
            theirs()
        row = [width]
        for phase in our_times:
            a, b = (1e3 * float(np.median(t[phase])) for t in (our_times, their_times))
            row += [f"{a:.2f}", f"{b:.2f}"]
        total = sum(float(np.median(v)) for v in our_times.values())
        total_t = sum(float(np.median(v)) for v in their_times.values())
        row += [f"{total / total_t:.2f}", f"{1e6 * (total - total_t) / LAYERS:+.0f}"]
        rows.append(row)
    print_table(
        f"Deep MLP ({LAYERS} Linear+ReLU layers, batch {BATCH}) by width, ms per step, median of 40 alternating "
        f"steps; {thread_label(torch)}",
        ["width", "fwd cr", "fwd torch", "bwd cr", "bwd torch", "opt cr", "opt torch", "ratio", "us/layer cr-torch"],
        rows,
    )

    if _mkl.ENABLED:
        gemm_table(torch)


def gemm_table(torch):
    """One forward GEMM of the width-256 layer: PyTorch, a bare MKL call, chainrule's backend.matmul."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, 256)).astype(np.float32)
    w = rng.standard_normal((256, 256)).astype(np.float32)
    out = np.empty((BATCH, 256), dtype=np.float32)
    fn = _mkl._gemm[np.dtype(np.float32)]
    px, pw, po = x.ctypes.data, w.ctypes.data, out.ctypes.data
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    calls = {
        "torch.mm": lambda: torch.mm(xt, wt.t()),
        "MKL, bare ctypes call": lambda: fn(101, 111, 112, BATCH, 256, 256, 1.0, px, 256, pw, 256, 0.0, po, 256),
        "backend.matmul": lambda: backend.matmul(np, x, w.T),
    }
    best = {name: [] for name in calls}
    for _ in range(7):  # interleaved repeats, best of each
        for name, call in calls.items():
            best[name].append(min(timeit.repeat(call, number=200, repeat=3)) / 200)
    rows = [[name, f"{1e6 * float(np.median(v)):.1f}"] for name, v in best.items()]
    print_table(f"One {BATCH}x256 @ 256x256 float32 GEMM, us (median of 7 interleaved best-of-3)", ["call", "us"], rows)


if __name__ == "__main__":
    main()
