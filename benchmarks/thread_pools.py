"""What a second core costs to use, per call: why chainrule's default-thread steps trail PyTorch's (issue 18).

    python benchmarks/thread_pools.py            # medians of 300 calls each (about a minute)
    python benchmarks/thread_pools.py --calls 1000

PyTorch runs its elementwise kernels on its OpenMP threads, whose idle
threads spin for a moment after each parallel region, so a region costs
microseconds.  NumPy's elementwise kernels run on the calling thread only,
and chainrule's products run on NumPy's OpenBLAS, whose idle threads spin for
~80 ms after each threaded call.  This probe times the ways a pure-NumPy
library could use the second core for part of one call, against one thread
and against PyTorch's 1 and 2 threads:

* **Python thread**: a worker thread woken by a lock hand-off runs half of
  the call (NumPy releases the GIL inside its loops; OpenBLAS held at one
  thread, so the halves do not wake its pool).
* **numba prange** (with the numba extra): a parallel region on numba's
  threading layer (GNU OpenMP here); for the products, each half is one
  single-threaded CBLAS call (SciPy's OpenBLAS, held at one thread) made
  from inside the region.
* **OpenBLAS, 2 threads**: NumPy's own product on two threads.

Rows: an empty two-part region; elementwise ``tanh``/``multiply`` on
float32 arrays of several sizes; the products that dominate the deep, lstm
and resnet workloads.  The PyTorch columns are there for how its time moves
from one thread to two (its ``tanh`` is slower than NumPy's on some CPUs:
what it gains from its second thread is the point).  PyTorch runs in a child process (its OpenMP threads
and NumPy's OpenBLAS threads would otherwise spin beside each other).
Each row's columns run interleaved, call by call, so that a machine whose
speed drifts moves them together.
"""

# ruff: noqa: B023 - each row's closures are timed before the loop moves on
from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
from _common import print_table

ELEMENTWISE = (65_536, 262_144, 1_048_576, 4_194_304)
# (label, m, k, n, b transposed): x @ W.T of deep's forward (batch 64); the LSTM backward's chunked GEMM;
# the convolution grid's product of resnet's 16-channel 3x3 layers (batch 32, 33 x 33 padded grid, 9 taps)
PRODUCTS = (
    ("deep forward x @ W.T (64x256 @ 256x256)", 64, 256, 256, True),
    ("lstm backward chunk (512x256 @ 256x193)", 512, 256, 193, False),
    ("conv grid (34848x144 @ 144x16)", 34848, 144, 16, False),
)


def _median_us(fns, calls):
    """Median microseconds per call of each function, the functions called in turn."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(calls):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [1e6 * statistics.median(t) for t in times]


class PythonHalves:
    """One worker thread that runs the second half of a call while the caller runs the first."""

    def __init__(self):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.job = None
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, args = self.job
            fn(*args)
            self.done.release()

    def run(self, first, second):
        self.job = second
        self.go.release()
        first[0](*first[1])
        self.done.acquire()


def _numba_parts():
    """(empty region, elementwise multiply in halves, GEMM in halves, layer name) on numba's threads, or None."""
    try:
        import numba
        from llvmlite import ir
        from numba import njit, prange, types
        from numba.extending import intrinsic
    except ImportError:
        return None
    import scipy

    from chainrule import _cblas

    scipy_blas = None
    for path in glob.glob(os.path.join(os.path.dirname(scipy.__file__) + ".libs", "*openblas*")):
        lib = ctypes.CDLL(path)
        names = _cblas._openblas_names(lib)
        if names is not None:
            scipy_blas = _cblas.Cblas(lib, path, names[0], index=names[2], threads=names[1])
            scipy_blas.set_threads(1)
            wide = names[2] is ctypes.c_int64
            break
    if scipy_blas is None:
        return None
    address = ctypes.cast(scipy_blas._gemm[np.dtype(np.float32)], ctypes.c_void_p).value

    @intrinsic
    def call_sgemm(typingctx, fptr, tb, m, n, k, a, lda, b, ldb, c, ldc):
        sig = types.void(fptr, tb, m, n, k, a, lda, b, ldb, c, ldc)

        def codegen(context, builder, signature, args):
            i32, index, f32 = ir.IntType(32), ir.IntType(64 if wide else 32), ir.FloatType()
            ptr = ir.IntType(8).as_pointer()
            fnty = ir.FunctionType(
                ir.VoidType(), [i32, i32, i32, index, index, index, f32, ptr, index, ptr, index, f32, ptr, index]
            )
            v = [
                context.cast(builder, x, t, types.int64 if wide else types.int32) for x, t in zip(args, signature.args)
            ]
            fn = builder.inttoptr(args[0], fnty.as_pointer())
            p = [builder.inttoptr(args[i], ptr) for i in (5, 7, 9)]
            one, zero = ir.Constant(f32, 1.0), ir.Constant(f32, 0.0)
            flags = [ir.Constant(i32, 101), ir.Constant(i32, 111), builder.trunc(args[1], i32)]
            builder.call(fn, [*flags, v[2], v[3], v[4], one, p[0], v[6], p[1], v[8], zero, p[2], v[10]])
            return context.get_dummy_value()

        return sig, codegen

    @njit(parallel=True)
    def empty(x):
        for p in prange(2):
            x[p] = p

    @njit(parallel=True)
    def multiply(x, y, out):
        for i in prange(x.size):  # numba cuts the range among its threads
            out[i] = x[i] * y[i]

    @njit(parallel=True)
    def gemm_halves(fptr, a, b, c, transposed):
        m, k = a.shape
        n = c.shape[1]
        ldb = b.shape[1]
        item = a.itemsize
        for p in prange(2):
            if m >= n:
                r0, r1 = m * p // 2, m * (p + 1) // 2
                call_sgemm(
                    fptr, 112 if transposed else 111, r1 - r0, n, k,
                    a.ctypes.data + r0 * k * item, k, b.ctypes.data, ldb, c.ctypes.data + r0 * n * item, n,
                )  # fmt: skip
            else:
                c0, c1 = n * p // 2, n * (p + 1) // 2
                step = c0 * (ldb if transposed else 1) * item
                call_sgemm(
                    fptr, 112 if transposed else 111, m, c1 - c0, k,
                    a.ctypes.data, k, b.ctypes.data + step, ldb, c.ctypes.data + c0 * item, n,
                )  # fmt: skip

    scratch = np.zeros(2)
    empty(scratch)

    def gemm(a, b, c, transposed):
        gemm_halves(address, a, b, c, transposed)

    return (lambda: empty(scratch)), multiply, gemm, numba.threading_layer()


def _operands(m, k, n, transposed, rng):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if transposed else (k, n), dtype=np.float32)
    return a, b, np.empty((m, n), np.float32)


def torch_child(calls):
    """PyTorch's figures (1 and 2 threads), as JSON on stdout: run in its own process."""
    import torch

    rng = np.random.default_rng(0)
    result = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for size in ELEMENTWISE:
            x, y = (torch.from_numpy(rng.standard_normal(size, dtype=np.float32)) for _ in range(2))
            out = torch.empty_like(x)
            t, m = _median_us([lambda: torch.tanh(x, out=out), lambda: torch.mul(x, y, out=out)], calls)
            result[f"tanh {size} {threads}"], result[f"multiply {size} {threads}"] = t, m
        for label, m, k, n, transposed in PRODUCTS:
            a, b, c = (torch.from_numpy(v) for v in _operands(m, k, n, transposed, rng))
            bb = b.t() if transposed else b
            result[f"{label} {threads}"] = _median_us([lambda: torch.mm(a, bb, out=c)], calls)[0]
        time.sleep(0.3)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        torch_child(args.calls)
        return
    theirs = {}
    child = subprocess.run(
        [sys.executable, __file__, "--torch-child", "--calls", str(args.calls)],
        check=False,
        capture_output=True,
        text=True,
    )
    if child.returncode == 0:
        theirs = json.loads(child.stdout.strip().splitlines()[-1])
    from chainrule import _cblas

    blas = _cblas.numpy_blas()
    if blas is None:
        sys.exit("NumPy's OpenBLAS was not found: this probe times OpenBLAS's threads")
    halves = PythonHalves()
    numba_parts = _numba_parts()
    rng = np.random.default_rng(0)

    def torch_cols(key):
        return [f"{theirs[f'{key} {t}']:.1f}" if f"{key} {t}" in theirs else "-" for t in (1, 2)]

    blas.set_threads(1)
    rows = []
    nothing = (lambda: None, ())
    region = _median_us([lambda: halves.run(nothing, nothing)], 10 * args.calls)[0]
    numba_region = _median_us([numba_parts[0]], 10 * args.calls)[0] if numba_parts else None
    rows.append(
        ["empty two-part region", "-", f"{region:.1f}", f"{numba_region:.1f}" if numba_region else "-", "-", "-", "-"]
    )
    for size in ELEMENTWISE:
        x, y = (rng.standard_normal(size, dtype=np.float32) for _ in range(2))
        out = np.empty_like(x)
        h = size // 2
        for name, fn, operands in (("tanh", np.tanh, (x,)), ("multiply", np.multiply, (x, y))):
            first = (fn, tuple(a[:h] for a in operands) + (out[:h],))
            second = (fn, tuple(a[h:] for a in operands) + (out[h:],))
            fns = [lambda fn=fn, operands=operands: fn(*operands, out), lambda f=first, s=second: halves.run(f, s)]
            if numba_parts and name == "multiply":
                fns.append(lambda: numba_parts[1](x, y, out))
            t = _median_us(fns, args.calls)
            ours = f"{t[2]:.1f}" if len(t) > 2 else "-"
            rows.append(
                [f"{name} {size:,} float32", f"{t[0]:.1f}", f"{t[1]:.1f}", ours, "-", *torch_cols(f"{name} {size}")]
            )
    for label, m, k, n, transposed in PRODUCTS:
        a, b, c = _operands(m, k, n, transposed, rng)
        bb = b.T if transposed else b
        h = m // 2 if m >= n else n // 2

        def one():
            np.matmul(a, bb, out=c)

        def python_halves():
            if m >= n:
                halves.run((np.matmul, (a[:h], bb, c[:h])), (np.matmul, (a[h:], bb, c[h:])))
            else:
                halves.run((np.matmul, (a, bb[:, :h], c[:, :h])), (np.matmul, (a, bb[:, h:], c[:, h:])))

        fns = [one, python_halves]
        if numba_parts:
            fns.append(lambda: numba_parts[2](a, b, c, transposed))
        t = _median_us(fns, args.calls)
        blas.set_threads(2)
        two = _median_us([one], args.calls)[0]
        blas.set_threads(1)
        time.sleep(0.3)  # OpenBLAS's idle threads spin for a while: not into the next row
        ours = f"{t[2]:.1f}" if len(t) > 2 else "-"
        rows.append([label, f"{t[0]:.1f}", f"{t[1]:.1f}", ours, f"{two:.1f}", *torch_cols(label)])
    layer = numba_parts[3] if numba_parts else "numba not installed"
    print_table(
        f"Microseconds per call, medians of {args.calls} (the empty region: of {10 * args.calls})",
        [
            "call",
            "one thread",
            "Python thread, halves",
            f"numba prange, halves ({layer})",
            "OpenBLAS 2 threads",
            "torch 1 thread",
            "torch 2 threads",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
