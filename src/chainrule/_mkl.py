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

``CHAINRULE_BLAS=numpy`` turns it off, ``CHAINRULE_BLAS=mkl`` makes a missing
library an error, ``CHAINRULE_MKL_LIB=/path/libmkl_rt.so.2`` names the
library.  Threads: MKL's OpenMP layer when ``intel-openmp`` is installed
beside it (``MKL_NUM_THREADS`` / threadpoolctl set the count), else MKL's
sequential layer; ``MKL_THREADING_LAYER`` overrides.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

import numpy as np

__all__ = ["ENABLED", "LIBRARY", "erf", "matmul", "matmul_add"]

# products with fewer multiply-adds than this stay on NumPy (the ctypes call costs ~2 us)
MIN_WORK = 1 << 17

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_P, _I = ctypes.c_void_p, ctypes.c_int

ENABLED = False
LIBRARY = None
_gemm = {}
_erf = {}


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
    global ENABLED, LIBRARY
    choice = os.environ.get("CHAINRULE_BLAS", "auto").strip().lower()
    if choice in ("numpy", "openblas", "off", "0", "none"):
        return
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # MKL's own allocator keeps freed buffers for reuse: measurably more resident memory than torch
        # for no speed we could measure on training steps, so it is turned off (before MKL allocates anything)
        lib.mkl_disable_fast_mm()
        if "MKL_THREADING_LAYER" not in os.environ:
            here = os.path.dirname(path)
            has_omp = bool(glob.glob(os.path.join(here, "libiomp5*")))
            lib.MKL_Set_Threading_Layer(ctypes.c_int(0 if has_omp else 1))  # 0 INTEL (OpenMP), 1 SEQUENTIAL
        for dtype, name, scalar in (
            (np.float32, "cblas_sgemm", ctypes.c_float),
            (np.float64, "cblas_dgemm", ctypes.c_double),
        ):
            fn = getattr(lib, name)
            fn.restype = None
            fn.argtypes = [_I, _I, _I, _I, _I, _I, scalar, _P, _I, _P, _I, scalar, _P, _I]
            _gemm[np.dtype(dtype)] = fn
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


def _operand(a):
    """(transpose flag, leading dimension, address) of a 2-D array MKL can read in place, or None."""
    rows, cols = a.shape
    s0, s1 = a.strides
    size = a.itemsize
    flags = a.flags
    if s1 == size or cols == 1:
        if s0 % size == 0 and s0 // size >= cols:
            address = _address(a) if flags.c_contiguous and flags.writeable else _interface_address(a)
            return _NO_TRANS, s0 // size, address
    if s0 == size or rows == 1:
        if s1 % size == 0 and s1 // size >= rows:
            at = a.T
            address = _address(at) if flags.f_contiguous and flags.writeable else _interface_address(a)
            return _TRANS, s1 // size, address
    return None


def _address(a):
    """The address of a C-contiguous, writeable array's first element (3x cheaper than ``a.ctypes.data``)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(a))


def _interface_address(a):
    return a.__array_interface__["data"][0]


def _gemm2d(fn, a, b, c, beta=0.0):
    oa = _operand(a)
    ob = _operand(b) if oa is not None else None
    if ob is None:
        return False
    m, k = a.shape
    n = b.shape[1]
    fn(_ROW_MAJOR, oa[0], ob[0], m, n, k, 1.0, oa[2], oa[1], ob[2], ob[1], beta, _address(c), n)
    return True


def matmul_add(a, b, out):
    """``out += a @ b`` for 2-D NumPy arrays (``out`` C-contiguous) in one GEMM; False where MKL does not apply."""
    fn = _gemm.get(a.dtype)
    if fn is None or b.dtype != a.dtype or out.dtype != a.dtype or a.ndim != 2 or b.ndim != 2:
        return False
    m, k = a.shape
    if b.shape[0] != k or out.shape != (m, b.shape[1]) or not out.flags.c_contiguous or min(out.shape) == 0:
        return False
    return k > 0 and _gemm2d(fn, a, b, out, beta=1.0)


def matmul(a, b, out=None):
    """``a @ b`` for NumPy arrays, through MKL's GEMM where it applies; None where it does not.

    Handles 2-D @ 2-D (optionally into ``out``, a C-contiguous 2-D array) and a
    stack of 3-D on either side (looping over the stack); the caller falls back
    to NumPy on None.
    """
    fn = _gemm.get(a.dtype)
    if fn is None or b.dtype != a.dtype or not (2 <= a.ndim <= 3 and 2 <= b.ndim <= 3):
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
        return c if _gemm2d(fn, a, b, c) else None
    if out is not None:
        return None
    batch = a.shape[0] if a.ndim == 3 else b.shape[0]
    if (a.ndim == 3 and a.shape[0] != batch) or (b.ndim == 3 and b.shape[0] != batch) or batch > 256:
        return None
    c = np.empty((batch, m, n), dtype=a.dtype)
    for i in range(batch):
        if not _gemm2d(fn, a[i] if a.ndim == 3 else a, b[i] if b.ndim == 3 else b, c[i]):
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
