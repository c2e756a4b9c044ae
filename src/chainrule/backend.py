"""The backend seam: which array module (``xp``) holds a tensor's data.

NumPy is the CPU backend.  CuPy, when installed, is the CUDA backend.  Op code
asks :func:`array_module` for the module that owns its arrays and never calls
NumPy directly for array math, so the same derivative table runs on both.

Dtypes are NumPy dtype objects (``chainrule.float32 is numpy.dtype("float32")``).
"""

from __future__ import annotations

import numpy as np

from . import _cblas, _dnnl, _kernels, _mkl
from . import threads as _threads

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_DTYPE_NAMES: dict[str, np.dtype] = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int8": int8,
    "int16": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "uint8": uint8,
    "bool": bool_,
}

_default_dtype = [float32]


def tune_allocator(mmap_threshold: int = 256 * 2**20, trim_threshold: int = 512 * 2**20) -> bool:
    """Keep large freed blocks in glibc's heap instead of returning them to the kernel.

    A training step allocates and frees many arrays of a few MB.  With glibc's
    defaults each of them is a fresh mmap, so every step pays page faults and
    kernel zeroing on all of its temporaries (measured: exact GELU on 512K
    floats, 16 ms with the defaults, 7 ms with this).  Raising the mmap and
    trim thresholds lets the heap reuse the memory.  Peak memory is unchanged;
    memory freed after the peak is returned later.  Runs once at import on
    Linux with glibc; ``CHAINRULE_MALLOC_TUNING=0`` turns it off.  Returns
    whether it took effect.
    """
    import ctypes  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, int(mmap_threshold)) == 1
        ok = libc.mallopt(m_trim_threshold, int(trim_threshold)) == 1 and ok
    except (OSError, AttributeError):
        return False
    return ok


def _tune_on_import():
    import os  # noqa: PLC0415

    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1") != "0":
        tune_allocator()


_tune_on_import()


def get_default_dtype() -> np.dtype:
    """The floating dtype used when none is given (float32 unless changed).

    It is the dtype of tensors made from Python floats and of ``zeros``,
    ``ones``, ``rand``, ... called without ``dtype``.

    Returns:
        A NumPy dtype (``cr.float32 is numpy.dtype("float32")``).

    Examples:
        >>> cr.get_default_dtype()
        dtype('float32')
    """
    return _default_dtype[0]


def set_default_dtype(dtype) -> None:
    """Set the floating dtype for new tensors made from Python floats.

    It also becomes the dtype of ``zeros``, ``ones``, ``rand``, ... called
    without ``dtype``; tensors that exist keep theirs.

    Args:
        dtype: a floating dtype: ``cr.float16``, ``cr.float32``, ``cr.float64``, a NumPy dtype or a name such as
            ``"float64"``.

    Raises:
        TypeError: ``dtype`` is not a floating dtype (or an unknown name).

    Examples:
        >>> cr.set_default_dtype(cr.float64)
        >>> cr.tensor([1.5]).dtype, cr.zeros(2).dtype
        (dtype('float64'), dtype('float64'))
        >>> cr.set_default_dtype(cr.float32)  # back to the default
    """
    dt = as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_dtype[0] = dt


def as_dtype(dtype) -> np.dtype:
    """Turn a dtype-like value (np.float32, "float32", cr.float32) into a numpy dtype."""
    if dtype is None:
        return _default_dtype[0]
    if isinstance(dtype, str):
        try:
            return _DTYPE_NAMES[dtype.removeprefix("torch.").removeprefix("chainrule.")]
        except KeyError:
            raise TypeError(f"unknown dtype name {dtype!r}") from None
    return np.dtype(dtype)


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


# --------------------------------------------------------------------------
# array modules and devices

_cupy = None
_cupy_checked = False


def cupy_module():
    """The cupy module, or None when CuPy is not installed or no GPU is usable."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: PLC0415 - optional dependency

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
            _cupy = None
    return _cupy


def array_module(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if type(array) is np.ndarray:
        return np
    cp = cupy_module()
    if cp is not None and isinstance(array, cp.ndarray):
        return cp
    return np


class Device:
    """A device: ``Device("cpu")`` or ``Device("cuda", 0)``; compares equal to its string.

    Exported as ``cr.device``. A device without an index compares equal to
    every device of its type (``cr.device("cuda") == "cuda:1"``).

    Args:
        spec: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, or a Device (copied).
        index: the GPU's index for ``"cuda"``; ignored for the CPU. ``"cuda:N"`` sets it too.

    Raises:
        ValueError: ``spec`` names another kind of device.

    Examples:
        >>> d = cr.device("cuda:1")
        >>> d, str(d), d.type, d.index
        (device(type='cuda', index=1), 'cuda:1', 'cuda', 1)
        >>> cr.device("cpu") == "cpu", cr.zeros(1).device
        (True, device(type='cpu'))
    """

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            index = int(idx)
        if spec not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu' or 'cuda[:N]'")
        self.type = spec
        self.index = index if spec == "cuda" else None

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        if not isinstance(other, Device):
            return NotImplemented
        if self.type != other.type:
            return False
        return self.index is None or other.index is None or self.index == other.index

    def __hash__(self):
        return hash(self.type)


CPU = Device("cpu")


def device_of(array) -> Device:
    if type(array) is np.ndarray:
        return CPU
    cp = cupy_module()
    if cp is not None and isinstance(array, cp.ndarray):
        return Device("cuda", array.device.id)
    return CPU


def module_for_device(device) -> object:
    dev = Device(device)
    if dev.type == "cpu":
        return np
    cp = cupy_module()
    if cp is None:
        from .errors import DeviceError  # noqa: PLC0415

        raise DeviceError(
            f"device {dev} requested but CuPy with a working CUDA GPU is not available; "
            "install chainrule[cuda] on a machine with an NVIDIA GPU"
        )
    return cp


def to_device(array, device):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    dev = Device(device)
    if dev == device_of(array):
        return array
    if dev.type == "cpu":
        return array.get()
    cp = module_for_device(dev)
    with cp.cuda.Device(dev.index or 0):
        return cp.asarray(array)


def to_numpy(array) -> np.ndarray:
    return array if type(array) is np.ndarray else array.get()


# --------------------------------------------------------------------------
# functions NumPy lacks: one adapter each, chosen per array module


# erf(x) ~= x P(x^2) / Q(x^2) on |x| <= 4, clamped to [-1, 1]: a (5, 5) rational fitted for chainrule by
# iteratively reweighted least squares against scipy's erf.  Evaluated in float32 its error is below
# 3.3e-7 relative (about 5 ulp) everywhere, and it is 2-3x faster than scipy.special.erf on float32 arrays.
_ERF_P = (1.12837916e00, 1.91267993e-01, 5.28090575e-02, 3.78916059e-03, 2.83034530e-04, 2.01110707e-06)
_ERF_Q = (1.0, 5.02839722e-01, 1.14416735e-01, 1.50167004e-02, 1.16392276e-03, 3.75942020e-05)


def _erf_float32(x):
    # clamped to the fitted range (erf is 1.0 in float32 from |x| = 3.92 on; unclamped, the rational gave
    # 1 - 1 ulp just past 4 and NaN from |x| ~ 6000 on, its x**10 overflowing); +-inf give +-1, NaN stays NaN
    x = np.clip(x, -4.0, 4.0)
    t = x * x
    num = t * _ERF_P[-1]
    den = t * _ERF_Q[-1]
    for k in range(len(_ERF_P) - 2, 0, -1):
        num += _ERF_P[k]
        num *= t
        den += _ERF_Q[k]
        den *= t
    num += _ERF_P[0]
    den += _ERF_Q[0]
    num *= x
    num /= den
    # one clip, not np.minimum then np.maximum: NumPy's minimum/maximum against a scalar run a slow loop
    # (about 200 against 60 us over 524,288 float32); the same bits, NaN kept
    np.clip(num, -1.0, 1.0, out=num)
    return num


def erf(xp, x):
    """The error function, elementwise, keeping x's dtype."""
    if xp is np:
        if _mkl.ENABLED and x.dtype in (np.float32, np.float64):
            out = _mkl.erf(x)
            if out is not None:
                return out
        if x.dtype in (np.float32, np.float16):
            xf = x.astype(np.float32, copy=False)
            out = _kernels.erf_float32(xf)  # one compiled pass with the numba extra, else 25 NumPy passes
            if out is None:
                out = _erf_float32(xf)
            return out.astype(x.dtype, copy=False)
        from scipy.special import erf as _erf  # noqa: PLC0415 - import cost paid once

        return _erf(x).astype(x.dtype, copy=False)
    from cupyx.scipy.special import erf as _cerf  # noqa: PLC0415

    return _cerf(x)


def _np_matmul(a, b, out):
    return np.matmul(a, b, out=out)


# products with fewer multiply-adds than this go straight to NumPy (MKL's floor; OpenBLAS's is higher)
_BLAS_FLOOR = min(_mkl.MIN_WORK, _threads.SERIAL_WORK)


def matmul(xp, a, b, out=None):
    """``a @ b`` (into ``out`` if given), on the threads ``chainrule.threads`` gives its size.

    On NumPy a product that is to run on one thread goes to MKL's GEMM when the
    mkl extra is installed; a larger one runs in NumPy's OpenBLAS, whose
    threads chainrule sizes (see ``chainrule.threads``).  Small products go
    straight to NumPy (this function is on every layer's path: the check is
    kept to a few attribute reads).
    """
    if xp is np and a.size * b.shape[-1] >= _BLAS_FLOOR:  # a product's multiply-adds, or more (batched b)
        return _large_matmul(a, b, out)
    return a @ b if out is None else xp.matmul(a, b, out=out)


def _large_matmul(a, b, out):
    if a.ndim < 2 or b.ndim < 2:  # matrix-vector products: NumPy's rules, OpenBLAS's own threads
        return np.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    work = max(a.size * n, b.size * m)  # multiply-adds, batch dimensions included
    # a float32 2-D product goes to oneDNN's GEMM where it is installed, on OpenMP's threads (see _dnnl.py)
    if m * k * n >= _threads.SERIAL_WORK and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype == np.float32:
        c = np.empty((m, n), np.float32) if out is None else out
        operands = _dnnl.gemm_operands(a, b, c)
        if operands is not None:
            return _threads.gemm_call(m, k, n, _onednn_gemm(), *operands, work=work, omp=True)
    # a float32 batched product goes to oneDNN's matmul as a whole (threads over the batch, operands read in place)
    if out is None and a.ndim > 2 and work >= _threads.SERIAL_WORK and _dnnl.batched_supports(a, b):
        c = batched_onednn(a, b)
        if c is not None:
            return c
    # each matrix of a batch is its own BLAS call; MKL (the extra) takes those that are to run on one thread
    if _mkl.ENABLED and work >= _mkl.MIN_WORK and _threads.plan_gemm(m, k, n) == 1:
        result = _mkl.matmul(a, b, out)
        if result is not None:
            return result
    if m * k * n >= _threads.SERIAL_WORK:
        return _threads.gemm_call(m, k, n, _np_matmul, a, b, out, work=work)
    return np.matmul(a, b, out=out)


def _onednn_gemm():
    """oneDNN's GEMM: the kernel measured faster per shape (``_dnnl.gemm``), or ``dnnl_sgemm`` alone in
    deterministic mode (the choice by timing would make the rounding depend on it)."""
    return _dnnl.sgemm if _threads.are_deterministic_algorithms_enabled() else _dnnl.gemm


def batched_onednn(a, b, order=None):
    """``a @ b`` for ``_dnnl.batched_supports`` operands on oneDNN's matmul, on the threads ``threads.omp_call``
    chooses, as a new array (its memory along the axes in ``order``, default C order); None where oneDNN has no
    kernel for it."""
    work = max(a.size * b.shape[-1], b.size * a.shape[-2])
    return _threads.omp_call(
        "matmul",
        work,
        lambda n: _dnnl.batched_matmul(a, b, n, order),
        lambda counts: _dnnl.batched_prepare(a, b, counts, order),
    )


def _gemm_into(a, b, out, beta):
    """``out = a @ b + beta * out`` in one GEMM call on NumPy arrays (2-D, out C-contiguous); False if it cannot."""
    work = a.shape[0] * a.shape[1] * b.shape[1]
    if work >= _threads.SERIAL_WORK:
        operands = _dnnl.gemm_operands(a, b, out)
        if operands is not None:
            _threads.gemm_call(a.shape[0], a.shape[1], b.shape[1], _onednn_gemm(), *operands, beta, omp=True)
            return True
    if _mkl.ENABLED and _threads.plan_gemm(a.shape[0], a.shape[1], b.shape[1]) == 1 and _mkl.BLAS.gemm(a, b, out, beta):
        return True
    blas = _cblas.numpy_blas()
    if blas is None:
        return False
    if work < _threads.SERIAL_WORK:
        return blas.gemm(a, b, out, beta)
    return _threads.gemm_call(a.shape[0], a.shape[1], b.shape[1], blas.gemm, a, b, out, beta)


def matmul_add(xp, a, b, out):
    """``out += a @ b`` for 2-D arrays, in one GEMM call on NumPy (no temporary product).

    Through NumPy's own OpenBLAS (or MKL on one thread) by ctypes, with
    ``out`` C-contiguous; other cases add a temporary.
    """
    if (
        xp is np
        and a.ndim == b.ndim == out.ndim == 2
        and a.dtype == b.dtype == out.dtype
        and a.dtype.char in "fd"
        and out.flags.c_contiguous
        and _gemm_into(a, b, out, 1.0)
    ):
        return out
    out += matmul(xp, a, b)
    return out


def addmm(xp, bias, a, b):
    """``bias + a @ b`` for 2-D a and b and a bias broadcast along rows.

    For a product large enough for the call, the bias is copied into the
    result first and the GEMM adds to it (beta = 1, as PyTorch's addmm): one
    pass fewer than adding the bias afterwards.  On oneDNN the GEMM gets the
    bias (``_dnnl.gemm``): its matmul primitive adds it without that pass.
    """
    if (
        xp is np
        and a.shape[0] * a.shape[1] * b.shape[-1] >= _mkl.MIN_WORK
        and a.dtype == b.dtype == bias.dtype
        and a.dtype.char in "fd"
        and b.ndim == 2
    ):
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        if _bias_gemm(a, b, out, bias):
            return out
        np.copyto(out, bias)
        if _gemm_into(a, b, out, 1.0):
            return out
    out = matmul(xp, a, b)
    out += bias
    return out


def _bias_gemm(a, b, out, bias):
    """``out = a @ b + bias`` on oneDNN's GEMM for float32 operands it reads in place and a bias of one value
    per column; False where that does not hold."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if m * k * n < _threads.SERIAL_WORK or a.dtype != np.float32 or bias.size != n or bias.shape[-1] != n:
        return False
    operands = _dnnl.gemm_operands(a, b, out)
    if operands is None:
        return False
    bias = np.ascontiguousarray(bias.reshape(n))
    _threads.gemm_call(m, k, n, _onednn_gemm(), *operands, 0.0, bias, omp=True)
    return True


def sum_rows(xp, m):
    """The column sums of a 2-D array, ``ones(rows) @ m``, as one GEMV on one BLAS thread.

    A GEMV is 5-20x faster than NumPy's sum over the leading axis of a narrow
    array; a second thread never made it faster (up to 1.5x slower), and
    OpenBLAS would give it one from 9,216 elements on.
    """
    ones = xp.ones(m.shape[0], dtype=m.dtype)
    if xp is np and m.size >= 8192:
        return _threads.blas_call(1, _np_matmul, ones, m, None)
    return ones @ m


def sum_last(xp, m):
    """``m @ ones(m.shape[-1])``: the sums over the last axis of an array of 2 or more axes, on one BLAS thread."""
    ones = xp.ones(m.shape[-1], dtype=m.dtype)
    if xp is np and m.size >= 8192:
        return _threads.blas_call(1, _np_matmul, m, ones, None)
    return m @ ones


def dot(xp, a, b):
    """The inner product of two 1-D arrays (BLAS dot), on one thread while the machine is busy."""
    if xp is np and a.size >= 16384:
        return _threads.blas_call(_threads.plan(a.size), np.dot, a, b)
    return xp.dot(a, b)


_RELU_CHUNK = 65536  # relu's elements per comparison
_ZEROS: dict = {}  # dtype -> _RELU_CHUNK zeros (relu)


def relu(xp, x, inplace=False):
    """max(x, 0), with NaN kept, as a new array in x's memory order (``inplace``: written into x, returned).

    On NumPy, ``maximum`` against a scalar takes a slow loop (measured 2-3x the
    time of the same op against an array of zeros, and 4x a copy); so a float
    array laid out contiguously (in any axis order) is compared, as 1-d chunks of
    up to 65,536 elements, with a cached 1-d array of zeros.  (Compared as rows of
    a 2-d view against one broadcast row of zeros, as it was, the 2-d loop took
    4.2 against 2.2 us for deep's 16,384 elements, 27 against 17 for 131,072.)
    """
    if xp is not np or x.dtype.kind != "f" or x.size < 2048:
        return xp.maximum(x, 0, out=x) if inplace else xp.maximum(x, 0)
    out = x if inplace else np.empty_like(x)  # same memory order as x
    if x.flags.c_contiguous:
        flat, flat_out = x.reshape(-1), out.reshape(-1)
    else:
        flat, flat_out = x.ravel(order="K"), out.ravel(order="K")
        if not (np.may_share_memory(flat, x) and np.may_share_memory(flat_out, out)):
            return xp.maximum(x, 0, out=x) if inplace else xp.maximum(x, 0)  # not contiguous in any order
    zeros = _ZEROS.get(x.dtype)
    if zeros is None:
        zeros = _ZEROS[x.dtype] = np.zeros(_RELU_CHUNK, dtype=x.dtype)
    n = flat.size
    if n <= _RELU_CHUNK:
        np.maximum(flat, zeros[:n], out=flat_out)
        return out
    for start in range(0, n, _RELU_CHUNK):
        stop = min(start + _RELU_CHUNK, n)
        np.maximum(flat[start:stop], zeros[: stop - start], out=flat_out[start:stop])
    return out


def select_positive(xp, g, y):
    """g where y > 0, exact zeros elsewhere: the ReLU gradient, from its output y (>= 0 or NaN).

    On NumPy, three integer passes over float bits instead of a comparison and a
    select: for y >= 0 (never -0.0: ``relu`` returns +0.0 for it) the bit pattern
    read as a signed integer is > 0 exactly when y > 0, so ``(-bits) >> 31`` is an
    all-ones word there and 0 where y == 0; AND-ing g's bits with it keeps or
    zeroes g exactly (also an inf or NaN g).  Where y is NaN, g is kept, as in
    PyTorch's threshold_backward (except for a NaN with its sign bit set: 0).
    """
    if xp is not np or g.dtype != y.dtype or g.dtype.kind != "f" or g.shape != y.shape or not g.ndim:
        return select(xp, g, y > 0)
    fused = _kernels.relu_grad(g, y)  # one compiled pass with the numba extra (the same bits)
    if fused is not None:
        return fused
    ints = np.dtype(f"i{g.dtype.itemsize}")
    word = np.negative(y.view(ints))
    np.right_shift(word, 8 * g.dtype.itemsize - 1, out=word)
    word &= g.view(ints)
    return word.view(g.dtype)


def select(xp, x, mask, keep=True):
    """x where ``mask == keep``, exact zeros elsewhere (also where x is inf or nan).

    On NumPy a float array is masked by AND-ing its bits with an all-ones or
    all-zeros word per element: about 8x faster than ``numpy.where`` with an
    irregular mask, and still exact.
    """
    if xp is np and x.dtype.kind == "f" and x.ndim and x.shape == np.shape(mask):  # 0-d: ~mask is a scalar
        bits = np.dtype(f"u{x.dtype.itemsize}")
        m = mask if keep else ~mask
        word = m.view(np.uint8).astype(bits)
        np.negative(word, out=word)  # True -> all ones, False -> 0
        word &= x.view(bits)
        return word.view(x.dtype)
    return xp.where(mask, x, 0) if keep else xp.where(mask, 0, x)


def axpy(xp, alpha, x, y):
    """y += alpha * x in place, in one pass (BLAS axpy of NumPy's OpenBLAS) where possible.

    Below 16,384 elements NumPy's two passes are as cheap as the ctypes call
    (about 2 us).  OpenBLAS threads an axpy of more than 10,000 elements
    (measured: 0.5-0.6x the one-thread time from 100,000), except while the
    machine is busy.
    """
    if (
        xp is np
        and y.size >= 16384
        and y.dtype == x.dtype
        and y.dtype.char in "fd"
        and y.flags.c_contiguous
        and x.flags.c_contiguous
    ):
        blas = _cblas.numpy_blas()
        if blas is not None and x.size == y.size:
            if _threads.blas_held():  # one thread whatever plan says: 4.7 against 5.7 us for 20,000 floats
                blas.axpy(alpha, x, y)
            else:
                _threads.blas_call(_threads.plan(_threads.SERIAL_WORK), blas.axpy, alpha, x, y)
            return y
    y += alpha * x
    return y


_EXP_LIMIT: dict = {}


def sigmoid(xp, x):
    """The logistic function ``1 / (1 + exp(-x))``, keeping x's dtype.

    On NumPy: ``exp(-x)`` is clamped below the dtype's overflow, so no overflow
    warning (the result is then below 1e-38 in float32, where the exact value
    rounds to 0 or a subnormal; float16 is computed in float32); for x < 0 the
    reciprocal of a large number keeps full relative precision.  Four passes,
    3.5-6x faster than ``scipy.special.expit`` on float32 (and SciPy's
    special functions load SciPy's own OpenBLAS, a second BLAS thread pool).
    """
    if xp is np and x.dtype.kind == "f":
        if x.dtype.itemsize < 4:  # float16: a clamp at exp(11) would leave sigmoid(-inf) at 1.7e-5
            return sigmoid(xp, x.astype(np.float32)).astype(x.dtype)
        limit = _EXP_LIMIT.get(x.dtype)
        if limit is None:
            limit = _EXP_LIMIT[x.dtype] = x.dtype.type(np.floor(np.log(np.finfo(x.dtype).max)))
        t = np.negative(x, out=np.empty_like(x))  # an array even for a 0-d x (NumPy would return a scalar)
        np.clip(t, -np.inf, limit, out=t)  # as np.minimum (NaN kept), but NumPy's min against a scalar loops slowly
        np.exp(t, out=t)
        t += 1
        return np.reciprocal(t, out=t)
    return 0.5 * (xp.tanh(0.5 * x) + 1)


def scatter_add(xp, target, index, values):
    """target[index] += values, accumulating repeated indices (unbuffered)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, index, values)
    return target


def scatter_extreme(xp, target, index, values, largest: bool):
    """target[index] = max (``largest``) or min of itself and values, for every element (unbuffered)."""
    if xp is np:
        (np.maximum if largest else np.minimum).at(target, index, values)
    else:
        import cupyx  # noqa: PLC0415

        (cupyx.scatter_max if largest else cupyx.scatter_min)(target, index, values)
    return target
