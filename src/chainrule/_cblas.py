"""CBLAS through ctypes: GEMM with beta (accumulate in place), AXPY, and a BLAS library's thread count.

Two libraries are reached this way:

* the OpenBLAS that NumPy itself links (``numpy.libs/libscipy_openblas64_*``
  in NumPy's wheels).  ``out += a @ b`` and ``y += alpha * x`` go to it in
  one call each, instead of to SciPy's BLAS, which is a second OpenBLAS build
  with a second pool of threads: two pools spinning on the same cores made a
  training step 1.6-3x slower (see ``chainrule.threads``).  Its thread-count
  functions are what ``chainrule.threads`` sets per call.
* Intel MKL when the mkl extra is installed (``chainrule._mkl``).

A ``Cblas`` reads 2-D operands in place when one of their axes has unit
stride (transposed views included) and says no (returns False) otherwise;
callers then fall back to NumPy.  ctypes releases the GIL for each call.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

__all__ = ["Cblas", "load_numpy_blas", "numpy_blas"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_P = ctypes.c_void_p


def _address(a):
    """The address of a C-contiguous, writeable array's first element (3x cheaper than ``a.ctypes.data``)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(a))


def _interface_address(a):
    return a.__array_interface__["data"][0]


def _operand(a):
    """(transpose flag, leading dimension, address) of a 2-D array BLAS can read in place, or None."""
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


class Cblas:
    """GEMM and AXPY of one BLAS library for float32/float64, and its thread count where it has one.

    ``index`` is the library's integer type for sizes and strides (``c_int``,
    or ``c_int64`` for an ILP64 build such as NumPy's OpenBLAS).
    """

    def __init__(self, lib, path: str, names: dict, index=ctypes.c_int, threads=None):
        self.path = path
        self._gemm = {}
        self._axpy = {}
        for dtype, scalar, gemm_name, axpy_name in (
            (np.float32, ctypes.c_float, names["sgemm"], names.get("saxpy")),
            (np.float64, ctypes.c_double, names["dgemm"], names.get("daxpy")),
        ):
            fn = getattr(lib, gemm_name)
            fn.restype = None
            fn.argtypes = [ctypes.c_int] * 3 + [index] * 3 + [scalar, _P, index, _P, index, scalar, _P, index]
            self._gemm[np.dtype(dtype)] = fn
            if axpy_name:
                fn = getattr(lib, axpy_name)
                fn.restype = None
                fn.argtypes = [index, scalar, _P, index, _P, index]
                self._axpy[np.dtype(dtype)] = fn
        self.get_threads = self.set_threads = None
        if threads is not None:
            get_name, set_name = threads
            self.get_threads = getattr(lib, get_name)
            self.get_threads.restype, self.get_threads.argtypes = ctypes.c_int, []
            self.set_threads = getattr(lib, set_name)
            self.set_threads.restype, self.set_threads.argtypes = None, [ctypes.c_int]

    def gemm(self, a, b, c, beta: float = 0.0) -> bool:
        """``c = a @ b + beta * c`` for 2-D arrays (c C-contiguous and writeable); False where it does not apply."""
        fn = self._gemm.get(a.dtype)
        if fn is None or b.dtype != a.dtype or c.dtype != a.dtype:
            return False
        m, k = a.shape
        n = b.shape[1]
        if b.shape[0] != k or c.shape != (m, n) or not (c.flags.c_contiguous and c.flags.writeable):
            return False
        if m == 0 or n == 0:
            return True
        if k == 0:
            if beta == 0.0:
                c[...] = 0
            return True
        oa = _operand(a)
        ob = _operand(b) if oa is not None else None
        if ob is None:
            return False
        fn(_ROW_MAJOR, oa[0], ob[0], m, n, k, 1.0, oa[2], oa[1], ob[2], ob[1], beta, _address(c), n)
        return True

    def axpy(self, alpha: float, x, y) -> bool:
        """``y += alpha * x`` for C-contiguous arrays of one dtype and size; False where it does not apply."""
        fn = self._axpy.get(y.dtype)
        if fn is None or x.dtype != y.dtype or x.size != y.size or not y.flags.writeable:
            return False
        if not (x.flags.c_contiguous and y.flags.c_contiguous):
            return False
        if y.size:
            fn(y.size, alpha, _address(x) if x.flags.writeable else _interface_address(x), 1, _address(y), 1)
        return True


def _numpy_library_dirs():
    """Where NumPy's wheels keep the libraries they bundle (Linux/Windows ``numpy.libs``, macOS ``.dylibs``)."""
    here = os.path.dirname(os.path.abspath(np.__file__))
    return (here + ".libs", os.path.join(here, ".dylibs"))


def _openblas_names(lib):
    """The symbol names of an OpenBLAS build (prefixed and suffixed in NumPy's and SciPy's wheels), or None."""
    for prefix in ("scipy_", ""):
        for suffix in ("64_", ""):
            if hasattr(lib, f"{prefix}cblas_sgemm{suffix}") and hasattr(lib, f"{prefix}openblas_get_config{suffix}"):
                config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
                config.restype = ctypes.c_char_p
                ilp64 = b"USE64BITINT" in (config() or b"")

                def name(base, prefix=prefix, suffix=suffix):
                    return f"{prefix}{base}{suffix}"

                names = {op: name(f"cblas_{op}") for op in ("sgemm", "dgemm", "saxpy", "daxpy")}
                threads = (name("openblas_get_num_threads"), name("openblas_set_num_threads"))
                return names, threads, (ctypes.c_int64 if ilp64 else ctypes.c_int)
    return None


def load_numpy_blas():
    """A ``Cblas`` for the OpenBLAS that NumPy uses, or None (another BLAS, or it cannot be found).

    threadpoolctl lists the BLAS libraries loaded in the process; NumPy's is
    the OpenBLAS inside NumPy's own package folder (SciPy's wheels bring a
    second one, which chainrule never calls).
    """
    try:
        import threadpoolctl  # noqa: PLC0415 - a core dependency, imported when threads are first needed
    except ImportError:
        return None
    dirs = _numpy_library_dirs()
    found = [
        info["filepath"]
        for info in threadpoolctl.threadpool_info()
        if info.get("internal_api") == "openblas" and os.path.dirname(info["filepath"]) in dirs
    ]
    for path in found:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same handle
        except OSError:
            continue
        names = _openblas_names(lib)
        if names is None:
            continue
        symbols, threads, index = names
        try:
            return Cblas(lib, path, symbols, index=index, threads=threads)
        except AttributeError:
            continue
    return None


_NUMPY_BLAS: list = []


def numpy_blas():
    """The ``Cblas`` of NumPy's OpenBLAS (found once, on first use), or None."""
    if not _NUMPY_BLAS:
        _NUMPY_BLAS.append(load_numpy_blas())
    return _NUMPY_BLAS[0]
