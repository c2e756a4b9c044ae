"""Optional Intel MKL kernels for the CPU hot spots: GEMM and erf.

NumPy's wheels bring OpenBLAS.  On the matrix shapes a training step uses
(a batch of 128 through a 784x512 layer, an im2col product of 12544x144 by
144x32) its single-precision GEMM runs 1.1-1.5x slower than the MKL that
PyTorch's CPU wheels link, and convolution and linear layers spend most of
their time there.  ``pip install chainrule[mkl]`` installs Intel's ``mkl``
wheel; when its ``libmkl_rt`` is found in the environment, chainrule calls
``cblas_sgemm``/``cblas_dgemm`` and ``vsErf``/``vdErf`` directly through
ctypes (which releases the GIL for the call) for float32/float64 NumPy arrays
large enough for the call overhead (about 2 us) not to matter.  Everything
else stays on NumPy.

Threads: MKL runs on its sequential layer, one thread per call, so that a
process has one BLAS thread pool, NumPy's OpenBLAS, which ``chainrule.threads``
drives (MKL's OpenMP layer would be a second pool spinning on the same cores).
``chainrule.threads`` sends a GEMM to MKL when it is to run on one thread and
to NumPy's OpenBLAS when it gets several.  ``MKL_THREADING_LAYER`` set by
the user is left alone.

``CHAINRULE_BLAS=numpy`` turns it off, ``CHAINRULE_BLAS=mkl`` makes a missing
library an error, ``CHAINRULE_MKL_LIB=/path/libmkl_rt.so.2`` names the
library.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

import numpy as np

from ._cblas import Cblas

__all__ = ["BLAS", "ENABLED", "LIBRARY", "erf", "matmul", "matmul_add"]

# products with fewer multiply-adds than this stay on NumPy (the ctypes call costs ~2 us)
MIN_WORK = 1 << 17

_P, _I = ctypes.c_void_p, ctypes.c_int

ENABLED = False
LIBRARY = None
BLAS: Cblas | None = None
_erf: dict = {}


def _candidates():
    named = os.environ.get("CHAINRULE_MKL_LIB")
    if named:
        return [named] if os.path.exists(named) else []
    found = []
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for pattern in ("libmkl_rt.so*", "libmkl_rt*.dylib"):
            found += sorted(glob.glob(os.path.join(prefix, "lib", pattern)), reverse=True)
    return found


def _load():
    global ENABLED, LIBRARY, BLAS
    choice = os.environ.get("CHAINRULE_BLAS", "auto").strip().lower()
    if choice in ("numpy", "openblas", "off", "0", "none"):
        return
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # the threading layer first: MKL loads it on its first call, whichever that is
        if "MKL_THREADING_LAYER" not in os.environ:
            lib.MKL_Set_Threading_Layer(ctypes.c_int(1))  # 1: SEQUENTIAL (see the module docstring)
        # MKL's own allocator keeps freed buffers for reuse: measurably more resident memory than torch
        # for no speed we could measure on training steps, so it is turned off (before MKL allocates anything)
        lib.mkl_disable_fast_mm()
        BLAS = Cblas(lib, path, {"sgemm": "cblas_sgemm", "dgemm": "cblas_dgemm"})
        for dtype, name in ((np.float32, "vsErf"), (np.float64, "vdErf")):
            fn = getattr(lib, name)
            fn.restype = None
            fn.argtypes = [_I, _P, _P]
            _erf[np.dtype(dtype)] = fn
        ENABLED, LIBRARY = True, path
        return
    if choice == "mkl":
        raise ImportError(
            "CHAINRULE_BLAS=mkl but no libmkl_rt was found; pip install 'chainrule[mkl]' "
            "or name the library with CHAINRULE_MKL_LIB"
        )


def matmul_add(a, b, out):
    """``out += a @ b`` for 2-D NumPy arrays (``out`` C-contiguous) in one GEMM; False where MKL does not apply."""
    if BLAS is None or a.ndim != 2 or b.ndim != 2 or min(out.shape, default=0) == 0 or a.shape[1] == 0:
        return False
    return BLAS.gemm(a, b, out, beta=1.0)


def matmul(a, b, out=None):
    """``a @ b`` for NumPy arrays, through MKL's GEMM where it applies; None where it does not.

    Handles 2-D @ 2-D (optionally into ``out``, a C-contiguous 2-D array) and a
    stack of 3-D on either side (looping over the stack); the caller falls back
    to NumPy on None.
    """
    if BLAS is None or a.dtype.char not in "fd" or b.dtype != a.dtype or not (2 <= a.ndim <= 3 and 2 <= b.ndim <= 3):
        return None
    m, k = a.shape[-2:]
    k2, n = b.shape[-2:]
    if k != k2 or m * n * k < MIN_WORK or min(m, n, k) == 0:
        return None
    if a.ndim == 2 and b.ndim == 2:
        if out is None:
            c = np.empty((m, n), dtype=a.dtype)
        elif out.shape == (m, n) and out.dtype == a.dtype and out.flags.c_contiguous:
            c = out
        else:
            return None
        return c if BLAS.gemm(a, b, c) else None
    if out is not None:
        return None
    batch = a.shape[0] if a.ndim == 3 else b.shape[0]
    if (a.ndim == 3 and a.shape[0] != batch) or (b.ndim == 3 and b.shape[0] != batch) or batch > 256:
        return None
    c = np.empty((batch, m, n), dtype=a.dtype)
    for i in range(batch):
        if not BLAS.gemm(a[i] if a.ndim == 3 else a, b[i] if b.ndim == 3 else b, c[i]):
            return None
    return c


def erf(x):
    """erf(x) for a float32/float64 NumPy array (a new contiguous array), or None where MKL does not apply."""
    fn = _erf.get(x.dtype)
    if fn is None or x.size < 1024 or x.size >= 2**31:
        return None
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    fn(x.size, x.ctypes.data, out.ctypes.data)
    return out


_load()
