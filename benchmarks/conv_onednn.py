"""chainrule's convolution kernels against PyTorch's (oneDNN) on the resnet workload's shapes (one thread).

    python benchmarks/conv_onednn.py            # forward, input gradient, weight gradient per conv
    python benchmarks/conv_onednn.py --no-mkldnn  # PyTorch's own im2col path instead of oneDNN
    python benchmarks/conv_onednn.py --cnn        # the cnn workload's two convolutions instead
    python benchmarks/conv_onednn.py --threads 2  # both libraries pinned to two threads
    python benchmarks/conv_onednn.py --mkl        # chainrule with the mkl extra (default: NumPy's OpenBLAS)
    python benchmarks/conv_onednn.py --numpy      # chainrule's own NumPy kernels (CHAINRULE_DNNL=off)

chainrule's float32 convolutions run on oneDNN where it is installed (a core
dependency on Linux x86-64: ``src/chainrule/_dnnl.py``), so the default run
compares oneDNN on chainrule's channels-last memory with PyTorch's oneDNN;
``--numpy`` times chainrule's own kernels (im2col, grid, planes) instead.

Both libraries are pinned to one thread, or ``--threads`` (CHAINRULE_BENCH_THREADS
is set before NumPy loads; chainrule's thread policy still decides each GEMM).
chainrule's inputs are laid out as in the network: channels-last memory behind
(N, C, H, W) views (every conv after the stem reads the previous layer's
channels-last output), the stem's input contiguous NCHW.
The input-gradient and weight-gradient columns each include laying the output
gradient out on the grid (the vjp builds it once and passes it to both).
PyTorch's are ``aten.convolution_backward`` with one output requested.
"""

# ruff: noqa: I001 - the thread count must be set before NumPy loads
from __future__ import annotations

import os
import sys

THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
os.environ["CHAINRULE_BENCH_THREADS"] = THREADS
os.environ["CHAINRULE_BLAS"] = "mkl" if "--mkl" in sys.argv else "numpy"  # the quickstart install: OpenBLAS
if "--numpy" in sys.argv:
    os.environ["CHAINRULE_DNNL"] = "off"
from _common import import_torch, median_time  # noqa: E402 (sets the BLAS thread variables)

import numpy as np  # noqa: E402

from chainrule import _dnnl  # noqa: E402
from chainrule.ops import conv as C  # noqa: E402

# (name, cin, cout, size, kernel, stride, pad): the nine convolutions of steps.py's resnet (batch 32)
SHAPES = (
    ("stem 3->16 3x3 32x32", 3, 16, 32, 3, 1, 1),
    ("block1 16->16 3x3 32x32 (x2)", 16, 16, 32, 3, 1, 1),
    ("block2.conv1 16->32 3x3/2", 16, 32, 32, 3, 2, 1),
    ("block2.conv2 32->32 3x3 16x16", 32, 32, 16, 3, 1, 1),
    ("block2.down 16->32 1x1/2", 16, 32, 32, 1, 2, 0),
    ("block3.conv1 32->64 3x3/2", 32, 64, 16, 3, 2, 1),
    ("block3.conv2 64->64 3x3 8x8", 64, 64, 8, 3, 1, 1),
    ("block3.down 32->64 1x1/2", 32, 64, 16, 1, 2, 0),
)
# the cnn workload's two (batch 64)
CNN_SHAPES = (
    ("conv1 1->16 3x3 28x28", 1, 16, 28, 3, 1, 1),
    ("conv2 16->32 3x3 14x14", 16, 32, 14, 3, 1, 1),
)
BATCH = 64 if "--cnn" in sys.argv else 32


def channels_last(a, contiguous_nchw=False):
    """(N, C, H, W) view of channels-last memory (as chainrule's convolutions hand it on)."""
    if contiguous_nchw:
        return np.ascontiguousarray(a)
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def ours(cin, cout, size, k, stride, pad, rng, stem):
    x = channels_last(rng.standard_normal((BATCH, cin, size, size), dtype=np.float32), stem)
    w = rng.standard_normal((cout, cin, k, k), dtype=np.float32)
    geom = C.conv_geometry((size, size), (k, k), (stride,) * 2, ((pad, pad),) * 2, (1, 1), 1)
    y, cache = C._conv.fwd(np, x, w, geom)
    g = channels_last(rng.standard_normal(y.shape, dtype=np.float32))
    return (
        median_time(lambda: C._conv.fwd(np, x, w, geom)),
        median_time(lambda: C._conv_input_grad.fwd(np, g, w, geom, None)),
        median_time(lambda: C._conv_weight_grad.fwd(np, x, g, geom, cache, None)),
        "oneDNN"
        if _dnnl.supports(geom, x, w)
        else "grid"
        if C._use_grid(np, geom, cin)
        else "planes"
        if C._use_planes(np, geom, x)
        else "im2col",
    )


def theirs(torch, cin, cout, size, k, stride, pad, rng):
    x = torch.from_numpy(rng.standard_normal((BATCH, cin, size, size), dtype=np.float32))
    w = torch.from_numpy(rng.standard_normal((cout, cin, k, k), dtype=np.float32))
    y = torch.nn.functional.conv2d(x, w, None, stride, pad)
    g = torch.randn_like(y)
    args = ([stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1)

    def back(mask):
        return lambda: torch.ops.aten.convolution_backward(g, x, w, None, *args, mask)

    with torch.no_grad():
        return (
            median_time(lambda: torch.nn.functional.conv2d(x, w, None, stride, pad)),
            median_time(back([True, False, False])),
            median_time(back([False, True, False])),
        )


def main():
    torch = import_torch()
    torch.backends.mkldnn.enabled = "--no-mkldnn" not in sys.argv
    rng = np.random.default_rng(0)
    label = "oneDNN" if torch.backends.mkldnn.enabled else "torch (no mkldnn)"
    print(f"{THREADS} thread(s) each, batch {BATCH}; microseconds, chainrule / {label} (ratio)")
    print("| conv | path | forward | input grad | weight grad |\n|---|---|---|---|---|")
    totals = np.zeros((2, 3))
    for i, (name, cin, cout, size, k, stride, pad) in enumerate(CNN_SHAPES if "--cnn" in sys.argv else SHAPES):
        *a, path = ours(cin, cout, size, k, stride, pad, rng, stem=i == 0)
        b = theirs(torch, cin, cout, size, k, stride, pad, rng)
        times = 2 if "(x2)" in name else 1
        totals += times * np.array([a, b])
        cells = " | ".join(f"{x * 1e6:.0f} / {y * 1e6:.0f} ({x / y:.2f})" for x, y in zip(a, b))
        print(f"| {name} | {path} | {cells} |", flush=True)
    cells = " | ".join(f"{x * 1e3:.2f} / {y * 1e3:.2f} ms ({x / y:.2f})" for x, y in zip(*totals))
    print(f"| all (first input grad included) | | {cells} |")


if __name__ == "__main__":
    main()
