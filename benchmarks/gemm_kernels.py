"""oneDNN's two GEMM kernels on the linear layers' products of the workloads: which is faster, per shape.

    python benchmarks/gemm_kernels.py              # one and two threads (this machine's default count)
    python benchmarks/gemm_kernels.py --rounds 5   # more alternating rounds per shape

chainrule's float32 2-D products run on oneDNN (``src/chainrule/_dnnl.py``), on one of two kernels:
``dnnl_sgemm``, or oneDNN's matmul primitive on the same operands (its brgemm kernel), which also adds a
linear layer's bias itself (sgemm's caller copies the bias into the result first and sgemm adds the product
to it).  ``_dnnl.gemm`` tries both at each shape's first calls and keeps the faster; this table shows what it
chooses between.  For each linear layer ``y = x @ W^T + b`` of the steps.py workloads, nanoGPT and MiniLM:
the forward with its bias (``x @ W^T + b``, W read transposed), the input gradient (``g @ W``) and the weight
gradient (``g^T @ x``), each timed with the two kernels alternately in one process (median of ``--rounds``
rounds of ``median_time``), ratio matmul / sgemm.
"""

# ruff: noqa: I001 - the BLAS choice must be set before chainrule loads
from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("CHAINRULE_BLAS", "numpy")  # the quickstart install
from _common import median_time, print_table  # noqa: E402

import numpy as np  # noqa: E402

from chainrule import _dnnl, threads  # noqa: E402

#: (workload, batch rows, in features, out features) of the linear layers timed
LAYERS = [
    ("mlp", 128, 784, 512),
    ("mlp", 128, 512, 512),
    ("deep", 64, 256, 256),
    ("transformer", 1024, 128, 512),
    ("transformer", 1024, 512, 128),
    ("nanogpt", 1024, 128, 384),
    ("nanogpt", 1024, 128, 512),
    ("nanogpt", 1024, 512, 128),
    ("minilm", 2048, 384, 1152),
    ("minilm", 2048, 384, 384),
    ("minilm", 2048, 384, 1536),
    ("minilm", 2048, 1536, 384),
]


def _products(rows, fan_in, fan_out, rng):
    x = rng.standard_normal((rows, fan_in), dtype=np.float32)
    w = rng.standard_normal((fan_out, fan_in), dtype=np.float32)
    g = rng.standard_normal((rows, fan_out), dtype=np.float32)
    bias = rng.standard_normal(fan_out, dtype=np.float32)
    return {
        "forward x @ W^T + b": (x, w.T, bias),
        "input grad g @ W": (g, w, None),
        "weight grad g^T @ x": (g.T, x, None),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per product (median)")
    args = parser.parse_args()
    if not _dnnl.available():
        raise SystemExit("oneDNN (onednn-cpu-gomp) is not installed here")
    counts = sorted({1, threads.get_num_threads()})
    rng = np.random.default_rng(0)
    rows = []
    for workload, batch, fan_in, fan_out in LAYERS:
        for name, (a, b, bias) in _products(batch, fan_in, fan_out, rng).items():
            c = np.empty((a.shape[0], b.shape[1]), np.float32)
            operands = _dnnl.gemm_operands(a, b, c)
            row = [workload, name, "x".join(map(str, (a.shape[0], a.shape[1], b.shape[1])))]
            for n in counts:
                kernels = {
                    "sgemm": lambda n=n, ops=operands, bias=bias: _dnnl.sgemm(n, *ops, 0.0, bias),
                    "matmul": lambda n=n, ops=operands, bias=bias: _dnnl.matmul_gemm(n, *ops, 0.0, bias),
                }
                if kernels["matmul"]() is None:
                    row += ["-", "-", "no brgemm"]
                    continue
                times = {kernel: [] for kernel in kernels}
                for _ in range(args.rounds):
                    for kernel, fn in kernels.items():
                        times[kernel].append(median_time(fn, repeats=3))
                sgemm, matmul = (statistics.median(times[k]) * 1e3 for k in kernels)
                row += [f"{sgemm:.3f}", f"{matmul:.3f}", f"{matmul / sgemm:.2f}"]
            rows.append(row)
    header = ["workload", "product", "m x k x n"]
    for n in counts:
        header += [f"sgemm ms ({n}t)", f"matmul ms ({n}t)", f"matmul/sgemm ({n}t)"]
    print(f"oneDNN {_dnnl.VERSION}: dnnl_sgemm against the matmul primitive, float32, medians")
    print_table("", header, rows)


if __name__ == "__main__":
    main()
