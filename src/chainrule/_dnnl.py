"""Intel's oneDNN through ctypes: float32 convolutions, GEMMs, elementwise, normalization, attention, RNNs.

PyTorch's CPU convolutions are oneDNN's direct (JIT-compiled, blocked)
kernels; chainrule's own (``ops/conv.py``: im2col, the padded grid, planes)
are GEMMs on NumPy's OpenBLAS, 1.4-1.9x slower on the resnet workload's
shapes on one thread and 2.4-3.4x with two (``benchmarks/conv_onednn.py``).
Intel publishes oneDNN as a wheel built on GNU OpenMP (``onednn-cpu-gomp``,
Linux x86-64, no other dependency than the system's ``libgomp.so.1``); where
it is installed (a core dependency on Linux x86-64, see pyproject.toml) and
its library loads (on first use), these run on it, float32 NumPy arrays
only:

* the three products of a convolution (forward, input gradient, weight
  gradient), as oneDNN primitives over the channels-last memory chainrule's
  convolutions already use, so no activation is reordered: only the weights
  (a few KB) go to and from oneDNN's blocked layout;
* 2-D GEMMs (``backend.matmul``, ``addmm``) through ``dnnl_sgemm``, which
  reads the same transposed-in-place operands CBLAS does, or through the
  matmul primitive on the same operands (which adds a linear layer's bias
  itself), whichever measured faster for the shape (``gemm``);
* GELU forward and backward (exact and tanh form) on its vectorized
  elementwise kernels (``ops/elementwise.py``);
* layer norm over trailing axes and softmax / log_softmax over the innermost
  axis, forward and backward (``ops/layers.py``, ``ops/nn.py``);
* batched products (attention) on its matmul primitive;
* attention scores, ``scale * q @ k^T + mask`` in one matmul with post-ops
  (``ops/attention.py``);
* LSTM and GRU layers on its RNN primitives (PyTorch's CPU path), forward
  and backward (``ops/recurrent.py``).

Everything else (float64, CuPy, shapes oneDNN has only reference code for)
stays on chainrule's NumPy kernels, which are also the reference the tests
compare against (``tests/test_onednn.py``).

Primitives are built once per shape, thread count and kind, and kept; each
call creates its memory objects around the NumPy buffers (ctypes releases the
GIL for the call) and passes a scratchpad it allocates itself, so primitives
can run from several Python threads at once.

Threads: oneDNN runs on GNU OpenMP's pool.  How many threads a call gets is
``chainrule.threads``'s decision (``threads.omp_call``, ``gemm_call(...,
omp=True)``): the same count as the BLAS, one while its measurements say
threads do not pay, the count fixed by shape in deterministic mode.  The
count is set per call with ``omp_set_num_threads`` (a per-thread setting); a
primitive's thread count is fixed when it is built, so each count has its own
primitive.  While OpenMP's threads work, NumPy's OpenBLAS is held at one
thread, so that one pool spins at a time.

``CHAINRULE_DNNL=off`` turns this off (the NumPy paths), ``CHAINRULE_DNNL=on``
makes a missing library an ImportError at import, ``CHAINRULE_DNNL_LIB=/path/libdnnl.so.3``
names the library.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os
import sys
import threading
import time
from statistics import median

import numpy as np

from ._cblas import _TRANS as _CBLAS_TRANS
from ._cblas import _address as _cblas_address
from ._cblas import _operand as _cblas_operand

__all__ = [
    "ENABLED",
    "LIBRARY",
    "VERSION",
    "available",
    "backward_data",
    "backward_weights",
    "batched_matmul",
    "batched_prepare",
    "batched_supports",
    "eltwise_operands",
    "eltwise_prepare",
    "forward",
    "gelu",
    "gelu_backward",
    "gemm_operands",
    "info",
    "prepare",
    "sgemm",
    "supports",
    "work",
]

ENABLED: bool | None = None  # None until a first call asks (the library is 55 MB: loaded on first use)
LIBRARY: str | None = None
VERSION: str | None = None

_P = ctypes.c_void_p
_Dims = ctypes.c_int64 * 12  # dnnl_dims_t: int64_t[DNNL_MAX_NDIMS]


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _P)]


class _Version(ctypes.Structure):
    _fields_ = [
        ("major", ctypes.c_int),
        ("minor", ctypes.c_int),
        ("patch", ctypes.c_int),
        ("hash", ctypes.c_char_p),
        ("cpu_runtime", ctypes.c_uint),
        ("gpu_runtime", ctypes.c_uint),
    ]


# values from oneDNN 3's dnnl_types.h / dnnl_common_types.h
_F32, _ANY = 3, 1
_FORWARD_TRAINING, _CONVOLUTION_DIRECT = 64, 1
_SCRATCHPAD_USER = 1
_Q_IMPL_INFO, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_SCRATCHPAD = 8, 131, 132, 136
_Q_EXEC_ARG = 255  # dnnl_query_exec_arg_md: the descriptor of an execute argument, by its DNNL_ARG_* index
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS, _ARG_SCRATCHPAD = 1, 17, 33, 41, 80
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS = 129, 145, 161
_CPU_RUNTIME_OMP = 2  # DNNL_RUNTIME_OMP

_lib = None
_omp_set_num_threads = None
_engine = _P()
_local = threading.local()  # a stream per Python thread, and the OpenMP count last set on it
_lock = threading.Lock()
_plans: dict = {}
_MAX_PLANS = 1024  # beyond this many shapes, primitives are built for the call and destroyed after it


_ON = ("on", "1", "dnnl", "onednn", "true")


class DnnlError(RuntimeError):
    """A oneDNN call failed (a status other than success)."""


def _check(status, what):
    if status != 0:
        raise DnnlError(f"oneDNN {what} failed (dnnl_status_t {status})")


def _candidates():
    named = os.environ.get("CHAINRULE_DNNL_LIB")
    if named:
        return [named] if os.path.exists(named) else []
    found = []
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        found += sorted(glob.glob(os.path.join(prefix, "lib", "libdnnl.so.3*")))[:1]
    return found


def _declare(lib):
    for name in (
        "dnnl_engine_create",
        "dnnl_stream_create",
        "dnnl_stream_wait",
        "dnnl_memory_desc_create_with_strides",
        "dnnl_memory_desc_destroy",
        "dnnl_memory_create",
        "dnnl_memory_set_data_handle",
        "dnnl_memory_destroy",
        "dnnl_primitive_attr_create",
        "dnnl_primitive_attr_set_scratchpad_mode",
        "dnnl_primitive_attr_set_post_ops",
        "dnnl_primitive_attr_destroy",
        "dnnl_post_ops_create",
        "dnnl_post_ops_append_eltwise",
        "dnnl_post_ops_append_binary",
        "dnnl_post_ops_append_sum",
        "dnnl_post_ops_destroy",
        "dnnl_convolution_forward_primitive_desc_create",
        "dnnl_convolution_backward_data_primitive_desc_create",
        "dnnl_convolution_backward_weights_primitive_desc_create",
        "dnnl_eltwise_forward_primitive_desc_create",
        "dnnl_eltwise_backward_primitive_desc_create",
        "dnnl_layer_normalization_forward_primitive_desc_create",
        "dnnl_layer_normalization_backward_primitive_desc_create",
        "dnnl_softmax_forward_primitive_desc_create",
        "dnnl_softmax_backward_primitive_desc_create",
        "dnnl_matmul_primitive_desc_create",
        "dnnl_lstm_forward_primitive_desc_create",
        "dnnl_lstm_backward_primitive_desc_create",
        "dnnl_lbr_gru_forward_primitive_desc_create",
        "dnnl_lbr_gru_backward_primitive_desc_create",
        "dnnl_reorder_primitive_desc_create",
        "dnnl_primitive_desc_query",
        "dnnl_primitive_desc_destroy",
        "dnnl_primitive_create",
        "dnnl_primitive_destroy",
        "dnnl_primitive_execute",
    ):
        getattr(lib, name).restype = ctypes.c_int
    lib.dnnl_primitive_desc_query_md.restype = _P
    lib.dnnl_primitive_desc_query_md.argtypes = [_P, ctypes.c_int, ctypes.c_int]
    lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
    lib.dnnl_memory_desc_get_size.argtypes = [_P]
    lib.dnnl_memory_desc_equal.restype = ctypes.c_int
    lib.dnnl_memory_desc_equal.argtypes = [_P, _P]
    lib.dnnl_version.restype = ctypes.POINTER(_Version)
    lib.dnnl_sgemm.restype = ctypes.c_int
    lib.dnnl_sgemm.argtypes = [ctypes.c_char, ctypes.c_char] + [ctypes.c_int64] * 3 + [
        ctypes.c_float, _P, ctypes.c_int64, _P, ctypes.c_int64, ctypes.c_float, _P, ctypes.c_int64,
    ]  # fmt: skip


def _load():
    global ENABLED, LIBRARY, VERSION, _lib, _omp_set_num_threads
    ENABLED = False
    choice = os.environ.get("CHAINRULE_DNNL", "auto").strip().lower()
    if choice in ("off", "0", "numpy", "none", "false"):
        return
    failures = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            _declare(lib)
            version = lib.dnnl_version().contents
            if version.major != 3 or version.cpu_runtime != _CPU_RUNTIME_OMP:
                failures.append(f"{path}: oneDNN {version.major}.{version.minor}, CPU runtime {version.cpu_runtime}")
                continue
            gomp = ctypes.CDLL("libgomp.so.1")  # loaded with libdnnl: the same library, its OpenMP runtime
            _check(lib.dnnl_engine_create(ctypes.byref(_engine), 1, ctypes.c_size_t(0)), "engine_create")
        except (OSError, AttributeError, DnnlError) as exc:
            failures.append(f"{path}: {exc}")
            continue
        _omp_set_num_threads = gomp.omp_set_num_threads
        _omp_set_num_threads.argtypes = [ctypes.c_int]
        _omp_set_num_threads.restype = None
        _lib, LIBRARY, ENABLED = lib, path, True
        VERSION = f"{version.major}.{version.minor}.{version.patch}"
        return
    if choice in _ON:
        detail = "; ".join(failures) or "no libdnnl.so.3 in the environment"
        raise ImportError(
            f"CHAINRULE_DNNL={choice} but oneDNN could not be loaded ({detail}); pip install onednn-cpu-gomp"
        )


def _omp_threads(threads):
    """OpenMP's count for this Python thread's next parallel regions (a per-thread setting, kept per thread)."""
    local = _local
    if getattr(local, "threads", 0) != threads:
        _omp_set_num_threads(threads)
        local.threads = threads


def _stream(threads):
    """This Python thread's stream, with OpenMP's count for its next regions set to ``threads``."""
    stream = getattr(_local, "stream", None)
    if stream is None:
        stream = _local.stream = _P()
        _check(_lib.dnnl_stream_create(ctypes.byref(stream), _engine, ctypes.c_uint(1)), "stream_create")
    _omp_threads(threads)
    return stream


# --------------------------------------------------------------------------- GEMM


def gemm_operands(a, b, c):
    """The arguments of ``sgemm`` after the thread count, for ``c = a @ b`` (+ beta c): float32 2-D NumPy
    operands oneDNN can read in place (unit stride on one axis), ``c`` C-contiguous, writeable and not
    overlapping them; None where that does not hold (the caller uses NumPy)."""
    if a.dtype != np.float32 or b.dtype != np.float32 or c.dtype != np.float32 or a.ndim != 2 or b.ndim != 2:
        return None
    if not available():
        return None
    m, k = a.shape
    n = b.shape[1]
    if b.shape[0] != k or c.shape != (m, n) or min(m, n, k) == 0 or not c.flags.c_contiguous or not c.flags.writeable:
        return None
    oa = _cblas_operand(a)
    ob = _cblas_operand(b) if oa is not None else None
    if ob is None:
        return None
    return oa[0] == _CBLAS_TRANS, ob[0] == _CBLAS_TRANS, m, n, k, oa[2], oa[1], ob[2], ob[1], c


def sgemm(threads, ta, tb, m, n, k, a, lda, b, ldb, c, beta=0.0, bias=None):
    """``c = op(a) @ op(b) + beta * c`` (row-major, float32) through ``dnnl_sgemm`` on ``threads`` of OpenMP's
    threads; ``gemm_operands`` gives the arguments after ``threads``.  With ``bias`` (n float32s, beta 0):
    ``op(a) @ op(b) + bias``, the bias copied into ``c`` first and the product added to it.  Returns ``c``."""
    if bias is not None:
        np.copyto(c, bias)
        beta = 1.0
    _omp_threads(threads)
    status = _lib.dnnl_sgemm(
        b"T" if ta else b"N", b"T" if tb else b"N", m, n, k, 1.0, a, lda, b, ldb, beta, c.ctypes.data, n
    )
    _check(status, "sgemm")
    return c


# Two kernels for one product: ``dnnl_sgemm``, and the matmul primitive on the same operands read in place,
# for which oneDNN 3.2 chooses its brgemm kernel and which adds a bias itself (sgemm's caller copies the bias
# into c first, a pass over c, and sgemm reads it back).  On two threads the primitive took 0.64-0.9x sgemm's
# time for a linear layer's forward (x @ W^T, W read transposed) on mlp's, deep's, nanoGPT's and MiniLM's
# widest shapes (MiniLM's (2048, 1536) @ (1536, 384) with its bias: 11.3 against 14.2 ms), about the same on
# the other forwards and input gradients, and up to 1.2x on weight gradients and 1.45x on small products
# (``benchmarks/gemm_kernels.py``).  No rule of shapes says which: each product's shape and thread count
# tries both after its first ``_GEMM_WARM`` calls (``_GEMM_UNTIMED`` calls of each, then ``_GEMM_TRIAL`` timed
# ones of each, alternating), again after ``_GEMM_RETRY`` calls (the first trial ran while the process warmed up)
# and after 10x as many calls each time (2,000, 20,000, ...), and keeps the faster.  On one thread the primitive
# gained at most 7% and lost up to 1.2x, and a product kept on one thread by its shape must round the same in
# every run (the thread policy makes a result depend on timing only where it measures threads): those stay on
# dnnl_sgemm.
_GEMM_WARM = 8  # calls of a shape on sgemm before its trial: a shape seen a few times only (variable batch or
# sequence lengths) builds no primitive (some 0.5 ms each, kept in the plan cache the convolutions use too)
_GEMM_UNTIMED = 3  # calls of each kernel per trial before its timed ones: the kernel a trial switches to runs its
# first calls slower (deep's 64x256 @ 256x256^T forward on the primitive: 818 (building it), 100, 85, then 72-74 us;
# again 119, 82, 78, then 70-73 after 190 calls on sgemm), which held such shapes on sgemm
_GEMM_TRIAL = 4  # timed calls of each kernel per trial
_GEMM_RETRY = 200  # calls of a shape before its second trial; each later one comes after 10x as many (a trial in
# one of this VM's slow spells, where both kernels took 90-100 us for deep's forward product against 62-66 on the
# primitive and 71-78 on sgemm in quiet minutes, chose either, and that choice held for the rest of the process)
_GEMM_GAIN = 0.95  # the primitive is kept where it takes at most this fraction of dnnl_sgemm's time
_GEMM_SHAPES, _GEMM_KEYS = 256, 4096  # at most this many shapes tried, and counted; the others run on sgemm
_gemm_tried = [0]  # shapes whose trial started


class _GemmChoice:
    """One product shape's measured choice of kernel (``gemm``)."""

    __slots__ = ("calls", "seconds", "matmul", "tried", "retry")

    def __init__(self, beta):
        self.calls = 0
        self.seconds = ([], [])  # sgemm's and the primitive's call times in the running trial
        self.matmul = None if beta in (0.0, 1.0) else False  # True: the primitive; None: not decided yet
        self.tried = False  # whether its trial started (counted against _GEMM_SHAPES)
        self.retry = _GEMM_RETRY  # the call count of its next trial

    def restart(self):
        self.seconds, self.matmul = ([], []), None
        self.retry *= 10


_gemm_choices: dict = {}  # (sgemm's arguments but the arrays, threads) -> _GemmChoice


def gemm(threads, ta, tb, m, n, k, a, lda, b, ldb, c, beta=0.0, bias=None):
    """``sgemm``'s product on the kernel measured faster for its shape and thread count (more than one):
    ``dnnl_sgemm`` or the matmul primitive (``matmul_gemm``).  Returns ``c``."""
    args = (ta, tb, m, n, k, a, lda, b, ldb, c, beta, bias)
    if threads == 1:
        return sgemm(threads, *args)
    key = (ta, tb, m, n, k, lda, ldb, beta, bias is not None, threads)
    choice = _gemm_choices.get(key)
    if choice is None:
        if len(_gemm_choices) >= _GEMM_KEYS:
            return sgemm(threads, *args)
        choice = _gemm_choices[key] = _GemmChoice(beta)
    calls = choice.calls = choice.calls + 1
    if calls <= _GEMM_WARM:
        return sgemm(threads, *args)
    if calls == _GEMM_WARM + 1 and choice.matmul is None:  # the trial starts, if the shapes tried leave room
        choice.tried = _gemm_tried[0] < _GEMM_SHAPES
        _gemm_tried[0] += choice.tried
        choice.matmul = None if choice.tried else False
    if calls == choice.retry and choice.tried:
        choice.restart()
    if choice.matmul is not None:
        return (matmul_gemm if choice.matmul else sgemm)(threads, *args)
    arm = calls & 1
    start = time.perf_counter()
    if not arm:
        sgemm(threads, *args)
    elif matmul_gemm(threads, *args) is None:  # oneDNN had no brgemm kernel for it: dnnl_sgemm only
        choice.matmul = False
        return sgemm(threads, *args)
    choice.seconds[arm].append(time.perf_counter() - start)
    timed_sgemm, timed_matmul = choice.seconds  # (a Python thread's race only mixes the timings)
    if min(len(timed_sgemm), len(timed_matmul)) >= _GEMM_UNTIMED + _GEMM_TRIAL:
        choice.matmul = median(timed_matmul[_GEMM_UNTIMED:]) <= _GEMM_GAIN * median(timed_sgemm[_GEMM_UNTIMED:])
    return c


def _build_gemm(ta, tb, m, n, k, lda, ldb, accumulate, bias):
    """The matmul primitive for ``sgemm``'s product, or None where oneDNN's kernel for it is not brgemm (then it
    is ``dnnl_sgemm``'s own)."""
    mds = [_md((m, k), (1, lda) if ta else (lda, 1)), _md((k, n), (1, ldb) if tb else (ldb, 1))]
    mds += [_md((1, n), (n, 1)) if bias else None, _md((m, n), (n, 1))]

    def add_to_c(post_ops):  # beta = 1: a sum post-op adds the product to what c holds
        _check(_lib.dnnl_post_ops_append_sum(post_ops, ctypes.c_float(1.0), 0, 0), "post_ops_append_sum")

    try:
        with _post_ops_attr(add_to_c if accumulate else None) as attr:
            pd = _P()
            _check(_lib.dnnl_matmul_primitive_desc_create(ctypes.byref(pd), _engine, *mds, attr), "matmul")
    finally:
        for md in mds:
            if md is not None:
                _lib.dnnl_memory_desc_destroy(md)
    if not _impl(pd).startswith("brg"):
        _lib.dnnl_primitive_desc_destroy(pd)
        return None
    plan = _Plan(pd)
    plan.plain = True  # its memory descriptors are the callers' strides (no padding): see _execute_plan
    return plan


def matmul_gemm(threads, ta, tb, m, n, k, a, lda, b, ldb, c, beta=0.0, bias=None):
    """``sgemm``'s product (beta 0 or 1; with ``bias``, beta 0) on the matmul primitive, operands read in place
    and the bias added by the primitive; returns ``c``, or None where oneDNN has no brgemm kernel for it."""
    key = ("gemm", ta, tb, m, n, k, lda, ldb, beta != 0.0, bias is not None, threads)

    def body(plan, stream):
        args = [(_ARG_SRC, a), (_ARG_WEIGHTS, b), (_ARG_DST, c)]
        if bias is not None:
            args.append((_ARG_BIAS, bias))
        _execute_plan(plan, stream, args)
        return c

    build = lambda: _build_gemm(ta, tb, m, n, k, lda, ldb, beta != 0.0, bias is not None)  # noqa: E731
    return _run(_plan(key, build), threads, body)


# --------------------------------------------------------------------------- plans


def _md(shape, strides):
    md = _P()
    _check(
        _lib.dnnl_memory_desc_create_with_strides(ctypes.byref(md), len(shape), _Dims(*shape), _F32, _Dims(*strides)),
        "memory_desc_create",
    )
    return md


def _any_md(shape):
    md = _P()
    _check(
        _lib.dnnl_memory_desc_create_with_tag(ctypes.byref(md), len(shape), _Dims(*shape), _F32, _ANY),
        "memory_desc_create",
    )
    return md


def _dense(shape):
    """C-order strides (in elements) of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _channels_last_strides(shape):
    """Strides (elements) of an (N, C, *S) array laid out as (N, *S, C)."""
    n, c, *spatial = shape
    s = _dense((n, *spatial, c))
    return (s[0], 1, *s[1:-1])


def _primitive(pd):
    prim = _P()
    _check(_lib.dnnl_primitive_create(ctypes.byref(prim), pd), "primitive_create")
    return prim


def _impl(pd):
    name = ctypes.c_char_p()
    _lib.dnnl_primitive_desc_query(pd, _Q_IMPL_INFO, 0, ctypes.byref(name))
    return (name.value or b"?").decode()


def _size(pd, what):
    return _lib.dnnl_memory_desc_get_size(_lib.dnnl_primitive_desc_query_md(pd, what, 0))


class _Reorder:
    """A reorder primitive from memory laid out as ``src`` into memory laid out as ``dst`` (descriptors the caller
    keeps alive), with its scratchpad's size."""

    def __init__(self, src, dst):
        self.src, self.dst, self.pd = src, dst, _P()
        _check(
            _lib.dnnl_reorder_primitive_desc_create(ctypes.byref(self.pd), src, _engine, dst, _engine, _ATTR),
            "reorder_primitive_desc_create",
        )
        self.prim = _primitive(self.pd)
        self.scratch = _size(self.pd, _Q_SCRATCHPAD)
        self.bound = _Bound()
        self.plain = False

    def describe(self, arg):
        """The descriptor its argument ``arg`` (source or destination) is read with."""
        return self.src if arg == _ARG_SRC else self.dst

    def run(self, a, out, stream):
        """``a`` reordered into ``out``; returns ``out``."""
        _execute_plan(self, stream, [(_ARG_SRC, a), (_ARG_DST, out)])
        return out

    def destroy(self):
        self.bound.release()
        _lib.dnnl_primitive_destroy(self.prim)
        _lib.dnnl_primitive_desc_destroy(self.pd)


def _reorder(src, dst):
    """A ``_Reorder`` from ``src`` to ``dst``, or None where the two layouts are the same."""
    return None if _lib.dnnl_memory_desc_equal(src, dst) else _Reorder(src, dst)


class _Plan:
    """One primitive and what its calls need: the memory descriptors (owned by its primitive descriptor),
    a reorder between the plain weights and the primitive's layout (None when they are the same), and the
    sizes of its scratchpads."""

    def __init__(self, pd, weights_query=None, plain_weights=None, to_plain=False):
        self.pd = pd
        self.impl = _impl(pd)
        self.prim = _primitive(pd)
        self.scratch = _size(pd, _Q_SCRATCHPAD)
        self.bound = _Bound()
        self.ran = False  # whether the primitive has run (its first call is the slow one: see _cold)
        self.plain = False  # whether every argument is plain strided memory (see _execute_plan)
        self.reorder = None
        if weights_query is None:
            return
        ours = _P(_lib.dnnl_primitive_desc_query_md(pd, weights_query, 0))
        self.weights_bytes = _lib.dnnl_memory_desc_get_size(ours)
        self.reorder = _reorder(ours, plain_weights) if to_plain else _reorder(plain_weights, ours)

    def describe(self, arg):
        """The descriptor the primitive expects for its argument ``arg`` (a DNNL_ARG_* index; owned by ``pd``)."""
        return _lib.dnnl_primitive_desc_query_md(self.pd, _Q_EXEC_ARG, arg)

    def destroy(self):
        self.bound.release()  # a transient plan: only the thread that made it ran it
        _lib.dnnl_primitive_destroy(self.prim)
        if self.reorder is not None:
            self.reorder.destroy()
        _lib.dnnl_primitive_desc_destroy(self.pd)


_ATTR = _P()  # user-managed scratchpad: each call passes its own, so primitives run from several threads at once


def _attr():
    if not _ATTR:
        _check(_lib.dnnl_primitive_attr_create(ctypes.byref(_ATTR)), "primitive_attr_create")
        _check(_lib.dnnl_primitive_attr_set_scratchpad_mode(_ATTR, _SCRATCHPAD_USER), "set_scratchpad_mode")
    return _ATTR


@contextlib.contextmanager
def _post_ops_attr(fill):
    """The attribute for a primitive descriptor whose post-ops ``fill(post_ops)`` appends (user scratchpad, as
    ``_attr``), freed on exit; ``_attr()`` itself where ``fill`` is None."""
    if fill is None:
        yield _attr()
        return
    attr, post_ops = _P(), _P()
    try:
        _check(_lib.dnnl_primitive_attr_create(ctypes.byref(attr)), "primitive_attr_create")
        _check(_lib.dnnl_primitive_attr_set_scratchpad_mode(attr, _SCRATCHPAD_USER), "set_scratchpad_mode")
        _check(_lib.dnnl_post_ops_create(ctypes.byref(post_ops)), "post_ops_create")
        fill(post_ops)
        _check(_lib.dnnl_primitive_attr_set_post_ops(attr, post_ops), "set_post_ops")
        yield attr
    finally:
        if post_ops:
            _lib.dnnl_post_ops_destroy(post_ops)
        if attr:
            _lib.dnnl_primitive_attr_destroy(attr)


def _geometry(x_shape, w_shape, geom):
    """(src, weights, dst dims; strides, dilates, padding_l, padding_r) in oneDNN's terms, for ``geom``."""
    n, c = x_shape[:2]
    o = w_shape[0]
    g = geom.groups
    weights = (g, o // g, c // g, *geom.kernel) if g > 1 else tuple(w_shape)
    return (
        (n, c, *geom.in_size),
        weights,
        (n, o, *geom.out_size),
        tuple(geom.stride),
        tuple(d - 1 for d in geom.dilation),
        tuple(lo for lo, _ in geom.padding),
        tuple(hi for _, hi in geom.padding),
    )


def _build_conv(kind, x_shape, w_shape, geom, bias):
    """The plan for ``kind`` ('forward', 'data', 'weights'), or None where oneDNN has only its reference code."""
    src, weights, dst, strides, dilates, pad_l, pad_r = _geometry(x_shape, w_shape, geom)
    attr = _attr()
    src_md, dst_md = _md(src, _channels_last_strides(src)), _md(dst, _channels_last_strides(dst))
    wany, plain = _any_md(weights), _md(weights, _dense(weights))
    bias_md = _md((dst[1],), (1,)) if bias else None
    spatial = [_Dims(*v) for v in (strides, dilates, pad_l, pad_r)]
    fwd = _P()
    _check(
        _lib.dnnl_convolution_forward_primitive_desc_create(
            ctypes.byref(fwd), _engine, _FORWARD_TRAINING, _CONVOLUTION_DIRECT, src_md, wany, bias_md, dst_md,
            *spatial, attr,
        ),
        "convolution_forward_primitive_desc_create",
    )  # fmt: skip
    if kind == "forward":
        pd, query, to_plain = fwd, _Q_WEIGHTS, False
    else:
        pd = _P()
        if kind == "data":
            status = _lib.dnnl_convolution_backward_data_primitive_desc_create(
                ctypes.byref(pd), _engine, _CONVOLUTION_DIRECT, src_md, wany, dst_md, *spatial, fwd, attr
            )
            query, to_plain = _Q_WEIGHTS, False
        else:
            status = _lib.dnnl_convolution_backward_weights_primitive_desc_create(
                ctypes.byref(pd), _engine, _CONVOLUTION_DIRECT, src_md, wany, None, dst_md, *spatial, fwd, attr
            )
            query, to_plain = _Q_DIFF_WEIGHTS, True
        _lib.dnnl_primitive_desc_destroy(fwd)
        _check(status, f"convolution_backward_{kind}_primitive_desc_create")
    for md in (src_md, dst_md, wany) + ((bias_md,) if bias_md else ()):
        _lib.dnnl_memory_desc_destroy(md)
    if _impl(pd).startswith("ref"):
        _lib.dnnl_primitive_desc_destroy(pd)
        _lib.dnnl_memory_desc_destroy(plain)
        return None
    return _Plan(pd, query, plain, to_plain)


def _build_eltwise(alg, backward, n):
    """The plan of an elementwise primitive (``alg``, forward or backward) over n contiguous float32."""
    md, zero, attr = _md((n,), (1,)), ctypes.c_float(0.0), _attr()
    return _pair_plan(
        "eltwise",
        [md],
        lambda p: _lib.dnnl_eltwise_forward_primitive_desc_create(
            p, _engine, _FORWARD_TRAINING, alg, md, md, zero, zero, attr
        ),
        (
            lambda p, fwd: _lib.dnnl_eltwise_backward_primitive_desc_create(
                p, _engine, alg, md, md, md, zero, zero, fwd, attr
            )
        )
        if backward
        else None,
    )


def _pair_plan(what, mds, forward, backward=None):
    """The plan of the primitive descriptor ``forward(pointer)`` makes (a ``dnnl_<what>_forward_primitive_desc_create``
    call), or with ``backward`` of the one ``backward(pointer, forward_pd)`` makes with the forward as its hint;
    None where oneDNN has only reference code.  The memory descriptors ``mds`` are destroyed after."""
    fwd = _P()
    try:
        _check(forward(ctypes.byref(fwd)), f"{what}_forward_primitive_desc_create")
        pd = fwd
        if backward:
            pd = _P()
            status = backward(ctypes.byref(pd), fwd)
            _lib.dnnl_primitive_desc_destroy(fwd)
            _check(status, f"{what}_backward_primitive_desc_create")
    finally:
        for md in mds:
            _lib.dnnl_memory_desc_destroy(md)
    return _plan_from(pd)


def _plan_from(pd):
    """A plan of ``pd``, or None (``pd`` destroyed) where oneDNN chose its reference code (NumPy is faster)."""
    if _impl(pd).startswith("ref"):
        _lib.dnnl_primitive_desc_destroy(pd)
        return None
    return _Plan(pd)


def _plan(key, build):
    """The plan cached under ``key`` (its last item the thread count), built by ``build()`` on first use: (plan
    or None where oneDNN has only reference code, whether it is transient: the caller destroys it after use)."""
    plan = _plans.get(key, False)
    if plan is not False:
        return plan, False
    with _lock:
        plan = _plans.get(key, False)
        if plan is not False:
            return plan, False
        _stream(key[-1])  # oneDNN sizes a primitive's work split by the calling thread's OpenMP count
        try:
            plan = build()
        except DnnlError:
            plan = None
        if len(_plans) < _MAX_PLANS or plan is None:
            _plans[key] = plan
            return plan, False
        return plan, True


def _conv_plan(kind, x_shape, w_shape, geom, bias, threads):
    key = ("conv", kind, tuple(x_shape), tuple(w_shape), geom, bias, threads)
    return _plan(key, lambda: _build_conv(kind, x_shape, w_shape, geom, bias))


def _cold(plans):
    """What the ``*_prepare`` functions answer for ``plans``, (thread count, ``_plan``'s (plan, transient)) pairs:
    None where a plan is None (oneDNN has no kernel), else the counts whose primitive has not run yet.

    A primitive's first call is the slow one (oneDNN generates its code and the call touches fresh memory): the
    lstm workload's layer took 3-12x its later calls' time per multiply-add on one thread, 1.5-4x on two, and a
    thread-count trial of a few calls (``threads.omp_call``) counted them.  A transient plan (built for one call:
    see ``_MAX_PLANS``) is destroyed here and counts as warm, since every call of its shape is a first one.
    """
    cold = []
    for n, (plan, transient) in plans:
        if plan is None:
            return None
        if transient:
            plan.destroy()
        elif not plan.ran:
            cold.append(n)
    return tuple(cold)


# --------------------------------------------------------------------------- calls


def prepare(kind, x_shape, w_shape, geom, bias, counts) -> tuple[int, ...] | None:
    """Build the convolution plans of ``kind`` for each thread count in ``counts``: None where oneDNN has no
    kernel, else the counts whose plans have not run yet (``_cold``)."""
    return _cold((n, _conv_plan(kind, x_shape, w_shape, geom, bias, n)) for n in counts)


def supports(geom, *arrays) -> bool:
    """Whether a convolution of geometry ``geom`` on ``arrays`` (NumPy float32) can go to oneDNN at all."""
    if any(type(a) is not np.ndarray or a.dtype != np.float32 for a in arrays):
        return False
    if not 1 <= len(geom.kernel) <= 3 or not available():
        return False
    # oneDNN's sizes follow the floor formula exactly; a transposed convolution's output padding does not
    for size, k, s, (lo, hi), d, out in zip(
        geom.in_size, geom.kernel, geom.stride, geom.padding, geom.dilation, geom.out_size
    ):
        if (size + lo + hi - d * (k - 1) - 1) // s + 1 != out:
            return False
    return True


def _channels_last(a):
    """An (N, C, *S) array as a dense channels-last buffer (a view when it already is one)."""
    if a.strides == tuple(s * a.itemsize for s in _channels_last_strides(a.shape)):
        return a
    nd = a.ndim
    return np.ascontiguousarray(a.transpose(0, *range(2, nd), 1)).transpose(0, nd - 1, *range(1, nd - 1))


def _memory(md, address):
    mem = _P()
    md = md if isinstance(md, _P) else _P(md)  # a descriptor we made, or one a primitive descriptor owns (an int)
    _check(_lib.dnnl_memory_create(ctypes.byref(mem), md, _engine, _P(address)), "memory_create")
    return mem


class _Memories(dict):
    """One thread's memory objects of one primitive, by DNNL_ARG_* index: made at the first call and pointed at
    each later call's arrays (``dnnl_memory_set_data_handle``: 2.2 against 3.6 us for a memory object made and
    destroyed per argument and call, which also queried its descriptor).  Destroyed with the dict (its thread's
    end) or by ``release`` (a transient plan)."""

    def release(self):
        if _lib is not None:
            for mem in self.values():
                _lib.dnnl_memory_destroy(mem)
        self.clear()

    def __del__(self):
        self.release()


class _Bound(threading.local):
    """Per thread, a primitive's ``_Memories`` (each thread its own: a memory object's handle is state) and, for
    each argument list it was called with (the tuple of its DNNL_ARG_* indices), the ``_Arg`` array that
    ``dnnl_primitive_execute`` reads and the memory objects in it, made at the first such call."""

    def __init__(self):
        self.memories = _Memories()
        self.packed = {}

    def release(self):
        self.packed.clear()
        self.memories.release()


def _address_of(array):
    """The address of an array's first element (an int passes through): 0.55 against 1.0 us for ``a.ctypes.data``
    where the array is C-contiguous and writeable (most arguments: fresh outputs, activations, weights)."""
    if type(array) is int:
        return array
    flags = array.flags
    if flags.c_contiguous and flags.writeable and array.size:
        return _cblas_address(array)
    return array.ctypes.data


def _pack(plan, memories, layout):
    """(the ``_Arg`` array, the memory objects, the addresses they were last pointed at) of a call of ``plan``
    with arguments ``layout`` (DNNL_ARG_* indices), each read with the descriptor ``plan.describe(arg)`` gives;
    memory objects made here without a buffer (every call points them at its arrays)."""
    mems = []
    for arg in layout:
        mem = memories.get(arg)
        if mem is None:
            md = _scratch_md(plan.scratch) if arg == _ARG_SCRATCHPAD else plan.describe(arg)
            mem = memories[arg] = _memory(md, None)
        mems.append(mem)
    return (_Arg * len(layout))(*[_Arg(arg, mem) for arg, mem in zip(layout, mems)]), mems, [None] * len(layout)


def _execute_plan(plan, stream, args):
    """Run the primitive of ``plan`` (a ``_Plan`` or ``_Reorder``) on ``args``, (DNNL_ARG_* index, NumPy array or
    address) pairs.  The memory objects and the argument array are kept in ``plan.bound`` per thread and argument
    list (``_pack``); a call points the memory objects at its arrays and runs (the argument array rebuilt per call
    cost ~1.3 us per argument).  A ``plain`` plan's memory objects keep the address they have when it is the
    same (a layer's weight and bias, call after call); the others are pointed again, as oneDNN zero-pads a
    blocked layout's padding when it is given a buffer."""
    if plan.scratch:
        args = [*args, (_ARG_SCRATCHPAD, np.empty(plan.scratch, np.uint8))]
    bound = plan.bound
    layout = tuple([arg for arg, _ in args])
    slot = bound.packed.get(layout)
    if slot is None:
        slot = bound.packed[layout] = _pack(plan, bound.memories, layout)
    packed, mems, last = slot
    plain = plan.plain
    for i, (mem, (_, array)) in enumerate(zip(mems, args)):
        address = _address_of(array)
        if address != last[i]:  # (never equal where not plain: last stays None)
            _check(_lib.dnnl_memory_set_data_handle(mem, _P(address)), "memory_set_data_handle")
            if plain:
                last[i] = address
    _check(_lib.dnnl_primitive_execute(plan.prim, stream, len(args), packed), "primitive_execute")
    _check(_lib.dnnl_stream_wait(stream), "stream_wait")
    plan.ran = True


_scratch_mds: dict = {}


def _scratch_md(nbytes):
    md = _scratch_mds.get(nbytes)
    if md is None:
        md = _P()
        # a plain 1-D u8 buffer: oneDNN reads the scratchpad as bytes (dnnl_u8 = 6)
        _check(
            _lib.dnnl_memory_desc_create_with_strides(ctypes.byref(md), 1, _Dims(nbytes), 6, _Dims(1)),
            "memory_desc_create",
        )
        _scratch_mds[nbytes] = md
    return md


def _weights_in(plan, w, stream):
    """The weights in the plan's layout: ``w`` itself, or its reordered copy."""
    w = np.ascontiguousarray(w)
    if plan.reorder is None:
        return w
    return plan.reorder.run(w, np.empty(plan.weights_bytes // 4, np.float32), stream)


def _run(plan_and_transient, threads, body):
    plan, transient = plan_and_transient
    if plan is None:
        return None
    try:
        return body(plan, _stream(threads))
    finally:
        if transient:
            plan.destroy()


def forward(x, w, b, geom, threads):
    """conv(x, w) + b as an (N, *out, O) contiguous float32 array, or None where oneDNN does not apply."""
    n = x.shape[0]
    out_shape = (n, *geom.out_size, w.shape[0])

    def body(plan, stream):
        y = np.empty(out_shape, np.float32)
        args = [(_ARG_SRC, _channels_last(x)), (_ARG_WEIGHTS, _weights_in(plan, w, stream)), (_ARG_DST, y)]
        if b is not None:
            args.append((_ARG_BIAS, np.ascontiguousarray(b)))
        _execute_plan(plan, stream, args)
        return y

    return _run(_conv_plan("forward", x.shape, w.shape, geom, b is not None, threads), threads, body)


def backward_data(g, w, geom, x_shape, threads):
    """The input gradient of conv for the output gradient g, as an (N, *in, C) contiguous array, or None."""
    out_shape = (x_shape[0], *geom.in_size, x_shape[1])

    def body(plan, stream):
        dx = np.empty(out_shape, np.float32)
        args = [(_ARG_DIFF_DST, _channels_last(g)), (_ARG_WEIGHTS, _weights_in(plan, w, stream)), (_ARG_DIFF_SRC, dx)]
        _execute_plan(plan, stream, args)
        return dx

    return _run(_conv_plan("data", x_shape, w.shape, geom, False, threads), threads, body)


def backward_weights(x, g, w_shape, geom, threads):
    """The weight gradient of conv, (O, C / groups, *K) contiguous, or None."""

    def body(plan, stream):
        raw = np.empty(plan.weights_bytes // 4, np.float32)
        _execute_plan(
            plan, stream, [(_ARG_SRC, _channels_last(x)), (_ARG_DIFF_DST, _channels_last(g)), (_ARG_DIFF_WEIGHTS, raw)]
        )
        if plan.reorder is None:
            return raw.reshape(w_shape)
        return plan.reorder.run(raw, np.empty(w_shape, np.float32), stream)

    return _run(_conv_plan("weights", x.shape, w_shape, geom, False, threads), threads, body)


# --------------------------------------------------------------------------- elementwise

_GELU_ERF, _GELU_TANH = 49, 43  # dnnl_alg_kind_t
_ELTWISE = {"none": _GELU_ERF, "tanh": _GELU_TANH}
_ELTWISE_NAMES = {_GELU_ERF: "gelu_erf", _GELU_TANH: "gelu_tanh"}
ELTWISE_MIN = 4096  # smaller arrays stay on NumPy: a call costs some 7 us of Python and ctypes (GELU of 64 floats)


def eltwise_operands(first, *more):
    """``(first, *more)`` for oneDNN's memory-bound kernels (elementwise, layer norm, softmax), ``more`` made
    C-contiguous (copied only then); None where they cannot go there: ``first`` must be a C-contiguous NumPy
    float32 array of at least ``ELTWISE_MIN`` elements, ``more`` NumPy float32 arrays of its shape."""
    if type(first) is not np.ndarray or first.dtype != np.float32 or first.size < ELTWISE_MIN:
        return None
    if not first.flags.c_contiguous or not available():
        return None
    if any(type(a) is not np.ndarray or a.dtype != np.float32 or a.shape != first.shape for a in more):
        return None
    return (first, *(np.ascontiguousarray(a) for a in more))


def _eltwise_plan(alg, backward, n, threads):
    key = ("eltwise", alg, backward, n, threads)
    return _plan(key, lambda: _build_eltwise(alg, backward, n))


def eltwise_prepare(approximate, backward, n, counts) -> tuple[int, ...] | None:
    """Build the GELU plans (``approximate``: 'none' or 'tanh') for each thread count (``prepare``'s answer)."""
    return _cold((t, _eltwise_plan(_ELTWISE[approximate], backward, n, t)) for t in counts)


def gelu(x, approximate, threads):
    """GELU of a C-contiguous float32 array (exact: x Phi(x); 'tanh': the tanh form), or None."""

    def body(plan, stream):
        out = np.empty_like(x)
        _execute_plan(plan, stream, [(_ARG_SRC, x), (_ARG_DST, out)])
        return out

    return _run(_eltwise_plan(_ELTWISE[approximate], False, x.size, threads), threads, body)


def gelu_backward(x, g, approximate, threads):
    """g * GELU'(x) for C-contiguous float32 arrays of one shape, or None."""

    def body(plan, stream):
        out = np.empty_like(x)
        _execute_plan(plan, stream, [(_ARG_SRC, x), (_ARG_DIFF_DST, g), (_ARG_DIFF_SRC, out)])
        return out

    return _run(_eltwise_plan(_ELTWISE[approximate], True, x.size, threads), threads, body)


# --------------------------------------------------------------------------- layer norm and softmax

_USE_SCALE, _USE_SHIFT = 2, 4  # dnnl_normalization_flags_t
_BACKWARD, _BACKWARD_DATA = 128, 160  # dnnl_prop_kind_t
_ARG_MEAN, _ARG_VARIANCE, _ARG_SCALE, _ARG_SHIFT, _ARG_DIFF_SCALE, _ARG_DIFF_SHIFT = 49, 50, 51, 52, 255, 256
_SOFTMAX_ACCURATE, _SOFTMAX_LOG = 196608, 196609  # dnnl_alg_kind_t
_LINEAR, _BINARY_ADD = 0x26, 0x1FFF0  # dnnl_eltwise_linear, dnnl_binary_add
_ARG_POST_OP_1_SRC_1 = 32768 * 2 | 2  # DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1: the bias of a binary post-op


def _build_layer_norm(rows, cols, eps, affine, backward):
    """Layer normalization of a (rows, cols) C-contiguous float32 matrix over its rows' cols elements;
    ``affine`` = (with a weight, with a bias)."""
    src, stat = _md((rows, cols), (cols, 1)), _md((rows,), (1,))
    scale, shift = affine
    flags = ctypes.c_uint((_USE_SCALE if scale else 0) | (_USE_SHIFT if shift else 0))
    epsilon, attr = ctypes.c_float(eps), _attr()
    prop = _BACKWARD if scale or shift else _BACKWARD_DATA
    return _pair_plan(
        "layer_normalization",
        [src, stat],
        lambda p: _lib.dnnl_layer_normalization_forward_primitive_desc_create(
            p, _engine, _FORWARD_TRAINING, src, src, stat, epsilon, flags, attr
        ),
        (
            lambda p, fwd: _lib.dnnl_layer_normalization_backward_primitive_desc_create(
                p, _engine, prop, src, src, src, stat, epsilon, flags, fwd, attr
            )
        )
        if backward
        else None,
    )


def _layer_norm_plan(rows, cols, eps, affine, backward, threads):
    key = ("layer_norm", rows, cols, eps, tuple(affine), backward, threads)
    return _plan(key, lambda: _build_layer_norm(rows, cols, eps, affine, backward))


def layer_norm_prepare(rows, cols, eps, affine, backward, counts) -> tuple[int, ...] | None:
    """Build the layer-norm plans (``affine``: with a weight, with a bias) for each thread count (``prepare``'s
    answer)."""
    return _cold((t, _layer_norm_plan(rows, cols, eps, affine, backward, t)) for t in counts)


def _affine_args(weight, bias):
    args = [] if weight is None else [(_ARG_SCALE, np.ascontiguousarray(weight))]
    return args + ([] if bias is None else [(_ARG_SHIFT, np.ascontiguousarray(bias))])


def layer_norm(x, weight, bias, eps, threads):
    """(out, mean, variance) of layer normalization over the last axis of the 2-D float32 ``x`` (biased
    variance; ``weight`` and ``bias`` of x.shape[1] elements, either may be None), or None."""
    rows, cols = x.shape

    def body(plan, stream):
        out = np.empty_like(x)
        mean, var = np.empty(rows, np.float32), np.empty(rows, np.float32)
        args = [(_ARG_SRC, x), (_ARG_DST, out), (_ARG_MEAN, mean), (_ARG_VARIANCE, var), *_affine_args(weight, bias)]
        _execute_plan(plan, stream, args)
        return out, mean, var

    affine = (weight is not None, bias is not None)
    return _run(_layer_norm_plan(rows, cols, eps, affine, False, threads), threads, body)


def layer_norm_backward(x, g, mean, var, weight, bias, eps, threads):
    """(dx, dweight, dbias) of ``layer_norm`` for the output gradient g (dweight None without weight, dbias None
    without bias; oneDNN reads the bias too, though the gradients do not depend on it)."""
    rows, cols = x.shape

    def body(plan, stream):
        dx = np.empty_like(x)
        dw = None if weight is None else np.empty(cols, np.float32)
        db = None if bias is None else np.empty(cols, np.float32)
        args = [(_ARG_SRC, x), (_ARG_DIFF_DST, g), (_ARG_MEAN, mean), (_ARG_VARIANCE, var), (_ARG_DIFF_SRC, dx)]
        args += _affine_args(weight, bias)
        args += [(arg, a) for arg, a in ((_ARG_DIFF_SCALE, dw), (_ARG_DIFF_SHIFT, db)) if a is not None]
        _execute_plan(plan, stream, args)
        return dx, dw, db

    affine = (weight is not None, bias is not None)
    return _run(_layer_norm_plan(rows, cols, eps, affine, True, threads), threads, body)


def _build_softmax(shape, axis, log, backward):
    """softmax (``log``: log_softmax) of a C-contiguous float32 array of ``shape`` along ``axis``."""
    md = _md(shape, _dense(shape))
    alg, attr = _SOFTMAX_LOG if log else _SOFTMAX_ACCURATE, _attr()
    return _pair_plan(
        "softmax",
        [md],
        lambda p: _lib.dnnl_softmax_forward_primitive_desc_create(
            p, _engine, _FORWARD_TRAINING, alg, md, md, axis, attr
        ),
        (lambda p, fwd: _lib.dnnl_softmax_backward_primitive_desc_create(p, _engine, alg, md, md, md, axis, fwd, attr))
        if backward
        else None,
    )


def _softmax_plan(shape, axis, log, backward, threads):
    key = ("softmax", tuple(shape), axis, log, backward, threads)
    return _plan(key, lambda: _build_softmax(tuple(shape), axis, log, backward))


def softmax_prepare(shape, axis, log, backward, counts) -> tuple[int, ...] | None:
    """Build the softmax plans for each thread count (``prepare``'s answer)."""
    return _cold((t, _softmax_plan(shape, axis, log, backward, t)) for t in counts)


def softmax(x, axis, log, threads):
    """softmax (``log``: log_softmax) of a C-contiguous float32 array along ``axis`` (0 <= axis < ndim), or None."""

    def body(plan, stream):
        out = np.empty_like(x)
        _execute_plan(plan, stream, [(_ARG_SRC, x), (_ARG_DST, out)])
        return out

    return _run(_softmax_plan(x.shape, axis, log, False, threads), threads, body)


def softmax_backward(y, g, axis, log, threads):
    """The input gradient of softmax (``log``: log_softmax) from its output y and the output gradient g, or None."""

    def body(plan, stream):
        out = np.empty_like(y)
        args = [(_ARG_DST, y), (_ARG_DIFF_DST, g), (_ARG_DIFF_SRC, out)]
        _execute_plan(plan, stream, args)
        return out

    return _run(_softmax_plan(y.shape, axis, log, True, threads), threads, body)


# --------------------------------------------------------------------------- batched matmul


def _build_matmul(a_shape, a_strides, b_shape, b_strides, c_shape, post=None, c_strides=None):
    """A batched product of float32 operands laid out as given (strides in elements) into a dense result; with
    ``post`` = (scale, bias shape or None), ``scale * (a @ b) + bias`` (oneDNN post-ops: an eltwise linear, a
    binary add of a dense bias broadcast over its axes of 1); ``c_strides``: the result's (default: dense)."""
    a_md, b_md = _md(a_shape, a_strides), _md(b_shape, b_strides)
    c_md = _md(c_shape, c_strides or _dense(c_shape))
    mds = [a_md, b_md, c_md]

    def scale_and_add(post_ops):  # scale * (a @ b), then + bias
        scale, bias_shape = post
        linear = _lib.dnnl_post_ops_append_eltwise(post_ops, _LINEAR, ctypes.c_float(scale), ctypes.c_float(0.0))
        _check(linear, "post_ops_append_eltwise")
        if bias_shape is not None:
            mds.append(_md(bias_shape, _dense(bias_shape)))
            _check(_lib.dnnl_post_ops_append_binary(post_ops, _BINARY_ADD, mds[-1]), "post_ops_append_binary")

    try:
        with _post_ops_attr(None if post is None else scale_and_add) as attr:
            pd = _P()
            status = _lib.dnnl_matmul_primitive_desc_create(ctypes.byref(pd), _engine, a_md, b_md, None, c_md, attr)
            _check(status, "matmul_primitive_desc_create")
    finally:
        for md in mds:
            _lib.dnnl_memory_desc_destroy(md)
    return _plan_from(pd)


def _element_strides(a):
    """``a``'s strides in elements, a size-1 axis given one past the array's extent (oneDNN reads nothing
    along it); None where a stride is negative, zero on a longer axis (a broadcast view) or not whole."""
    strides = []
    for size, stride in zip(a.shape, a.strides):
        if size > 1 and (stride <= 0 or stride % a.itemsize):
            return None
        strides.append(stride // a.itemsize)
    extent = 1 + max((st * (n - 1) for st, n in zip(strides, a.shape) if n > 1), default=0)
    return tuple(st if n > 1 else extent for st, n in zip(strides, a.shape))


def batched_supports(a, b) -> bool:
    """Whether ``a @ b`` (NumPy float32, one number of axes from 3 on, batch axes equal or 1) can go to oneDNN."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != np.float32 or b.dtype != np.float32:
        return False
    if a.ndim != b.ndim or not 3 <= a.ndim <= 6 or a.shape[-1] != b.shape[-2] or min(a.shape + b.shape) == 0:
        return False
    if any(p != q and 1 not in (p, q) for p, q in zip(a.shape[:-2], b.shape[:-2])):
        return False
    return available()


def _batched_shape(a, b):
    """The shape of ``a @ b`` for ``batched_supports`` operands (batch axes of 1 broadcast)."""
    return (*(max(p, q) for p, q in zip(a.shape[:-2], b.shape[:-2])), a.shape[-2], b.shape[-1])


def _batched_key(a, b, threads, order=None, post=None):
    post_key = None if post is None else (post[0], None if post[1] is None else post[1].shape)
    return ("matmul", a.shape, _element_strides(a), b.shape, _element_strides(b), order, post_key, threads)


def batched_prepare(a, b, counts, order=None, post=None) -> tuple[int, ...] | None:
    """Build the batched-product plans for each thread count: None where oneDNN has no kernel (or the strides
    are ones it cannot take), else ``prepare``'s answer."""
    return _cold((n, _batched_plan(a, b, n, order, post)) for n in counts)


def _order_strides(shape, order):
    """Strides (elements) of an array of ``shape`` whose memory runs along the axes in ``order`` (None: C order)."""
    if order is None:
        return _dense(shape)
    dense = _dense([shape[i] for i in order])
    strides = [0] * len(shape)
    for position, axis in enumerate(order):
        strides[axis] = dense[position]
    return tuple(strides)


def _ordered(shape, order):
    """A new float32 array of ``shape`` whose memory runs along the axes in ``order`` (None: C order)."""
    if order is None:
        return np.empty(shape, np.float32)
    return np.empty([shape[i] for i in order], np.float32).transpose(np.argsort(order))


def _batched_plan(a, b, threads, order=None, post=None):
    key = _batched_key(a, b, threads, order, post)
    if key[2] is None or key[4] is None:
        return None, False
    shape = _batched_shape(a, b)
    return _plan(
        key, lambda: _build_matmul(a.shape, key[2], b.shape, key[4], shape, key[6], _order_strides(shape, order))
    )


def batched_matmul(a, b, threads, order=None, post=None):
    """``a @ b`` for ``batched_supports`` operands, read in place, as a new array, C-contiguous or with its memory
    along the axes in ``order`` (the attention writes its output in the heads-split layout of its queries, so
    that merging the heads back is a view); with ``post`` = (scale, bias or None), ``scale * (a @ b) + bias``
    (see ``scores``); or None."""

    def body(plan, stream):
        c = _ordered(_batched_shape(a, b), order)
        args = [(_ARG_SRC, a), (_ARG_WEIGHTS, b), (_ARG_DST, c)]
        if post is not None and post[1] is not None:
            args.append((_ARG_POST_OP_1_SRC_1, post[1]))
        _execute_plan(plan, stream, args)
        return c

    return _run(_batched_plan(a, b, threads, order, post), threads, body)


def scores_prepare(q, kt, bias, scale, counts) -> tuple[int, ...] | None:
    """Build the attention-scores plans for each thread count (``prepare``'s answer)."""
    return batched_prepare(q, kt, counts, post=(scale, bias))


def scores(q, kt, bias, scale, threads):
    """``scale * (q @ kt) + bias`` in one oneDNN matmul (the product's post-ops add the scale and the bias), for
    ``batched_supports`` operands read in place and a C-contiguous float32 ``bias`` of the result's number of
    axes (axes of 1 broadcast) or None: a new C-contiguous array, or None."""
    return batched_matmul(q, kt, threads, post=(scale, bias))


# --------------------------------------------------------------------------- LSTM and GRU layers

_FORWARD_INFERENCE = 96  # dnnl_prop_kind_t
_LEFT2RIGHT, _RIGHT2LEFT = 1, 2  # dnnl_rnn_direction_t
_DIFF_WEIGHTS_OVERWRITE = 1  # dnnl_rnn_flags_t: backward writes the weight gradients (default: adds to them)
_ARG_WEIGHTS_ITER, _ARG_WORKSPACE, _ARG_DIFF = 34, 64, 128  # DNNL_ARG_DIFF_X = DNNL_ARG_X + 128 for these
_STATES = (2, 3)  # DNNL_ARG_SRC_ITER, DNNL_ARG_SRC_ITER_C: h0 (and the LSTM's c0)
_FINALS = (18, 19)  # DNNL_ARG_DST_ITER, DNNL_ARG_DST_ITER_C: h_n (and c_n)
# per cell: gates, bias rows (the linear-before-reset GRU has a fourth: the recurrent part of its candidate) and
# the name in oneDNN's primitive-descriptor constructors
_CELLS = {"lstm": (4, 4, "lstm"), "gru": (3, 4, "lbr_gru")}


def sequence_layout(a):
    """'tnc' for a dense time-major (L, N, C) float32 array, 'ntc' for the time-major view of a dense batch-first
    one (``x.transpose(0, 1)`` of an (N, L, C) array: the layout of an RNN's input with batch_first), else None."""
    length, batch, channels = a.shape
    strides = tuple(s // a.itemsize for s in a.strides)
    if strides == (batch * channels, channels, 1) or a.flags.c_contiguous:
        return "tnc"
    if strides == (channels, length * channels, 1):
        return "ntc"
    return None


_SEQUENCE_ORDER = {"tnc": None, "ntc": (1, 0, 2)}  # a layout's memory order of the (L, N, C) axes


def _gates_md(gates, hidden, cols):
    """A (G*H, cols) PyTorch-layout weight matrix, its gates in oneDNN's order, as oneDNN's (1, 1, cols, G, H)."""
    rows = gates * hidden
    return _md((1, 1, cols, gates, hidden), (rows * cols, rows * cols, 1, hidden * cols, cols))


class _RnnPlan(_Plan):
    """An LSTM or GRU primitive (forward training or inference, or backward) and the reorders of its weights:
    from (G*H, F) and (G*H, H) matrices in PyTorch's layout into the primitive's, and for backward its weight
    gradients back (None where the layouts are the same)."""

    def __init__(self, pd, gates, features, hidden, backward):
        super().__init__(pd)
        self.user = [_gates_md(gates, hidden, features), _gates_md(gates, hidden, hidden)]
        self.weights = [self.describe(_ARG_WEIGHTS), self.describe(_ARG_WEIGHTS_ITER)]
        self.workspace = _lib.dnnl_memory_desc_get_size(self.describe(_ARG_WORKSPACE))  # bytes; 0 for inference
        self.reorders = [_reorder(u, _P(w)) for u, w in zip(self.user, self.weights)]
        if backward:
            self.diff = [self.describe(_ARG_DIFF + _ARG_WEIGHTS), self.describe(_ARG_DIFF + _ARG_WEIGHTS_ITER)]
            self.reorders += [_reorder(_P(d), u) for d, u in zip(self.diff, self.user)]

    def move(self, i, a, out, stream):
        """Reorder ``a`` into ``out`` with the plan's i-th reorder (``a`` itself where there is none)."""
        reorder = self.reorders[i]
        return a if reorder is None else reorder.run(a, out, stream)

    def destroy(self):
        for reorder in self.reorders:
            if reorder is not None:
                reorder.destroy()
        for md in self.user:
            _lib.dnnl_memory_desc_destroy(md)
        super().destroy()


def _build_rnn(cell, length, batch, features, hidden, reverse, layout, kind):
    """The plan of one LSTM or GRU (``cell``) layer over (L, N, F) inputs in ``layout``, ``kind`` 'inference',
    'training' or 'backward'.  Its output is time-major ('tnc') whatever ``layout`` is, as PyTorch's: written
    there by the forward (0.15 ms less of the lstm workload's forward than writing batch-first and keeping a
    time-major copy for the backward), read there by the backward, and a batch-first caller gets a view."""
    gates, bias_rows, name = _CELLS[cell]

    def seq(channels, layout):
        shape = (length, batch, channels)
        return _md(shape, _order_strides(shape, _SEQUENCE_ORDER[layout]))

    state = (1, 1, batch, hidden)
    x_md, out_md = seq(features, layout), seq(hidden, "tnc")
    state_md, bias_md = _md(state, _dense(state)), _md((1, 1, bias_rows, hidden), _dense((1, 1, bias_rows, hidden)))
    w_md, wi_md = _any_md((1, 1, features, gates, hidden)), _any_md((1, 1, hidden, gates, hidden))
    mds = [x_md, out_md, state_md, bias_md, w_md, wi_md]
    direction, attr = _RIGHT2LEFT if reverse else _LEFT2RIGHT, _attr()
    if cell == "lstm":
        operands = (x_md, state_md, state_md, w_md, wi_md, None, None, bias_md, out_md, state_md, state_md)
    else:
        operands = (x_md, state_md, w_md, wi_md, bias_md, out_md, state_md)
    prop = _FORWARD_INFERENCE if kind == "inference" else _FORWARD_TRAINING
    forward = getattr(_lib, f"dnnl_{name}_forward_primitive_desc_create")
    fwd, pd = _P(), _P()
    try:
        _check(forward(ctypes.byref(fwd), _engine, prop, direction, *operands, 0, attr), f"{name}_forward")
        if kind != "backward":
            return _RnnPlan(fwd, gates, features, hidden, False)
        backward = getattr(_lib, f"dnnl_{name}_backward_primitive_desc_create")
        status = backward(
            ctypes.byref(pd), _engine, _BACKWARD, direction, *operands, *operands, _DIFF_WEIGHTS_OVERWRITE, fwd, attr
        )
        _lib.dnnl_primitive_desc_destroy(fwd)
        _check(status, f"{name}_backward")
        return _RnnPlan(pd, gates, features, hidden, True)
    finally:
        for md in mds:
            _lib.dnnl_memory_desc_destroy(md)


def _rnn_plan(cell, shape, hidden, reverse, layout, kind, threads):
    key = ("rnn", cell, kind, tuple(shape), hidden, reverse, layout, threads)
    return _plan(key, lambda: _build_rnn(cell, *shape, hidden, reverse, layout, kind))


def rnn_supports(*arrays) -> bool:
    """Whether an RNN layer's ``arrays`` (input, states, weights, biases; or the gradients of its outputs) can go to
    oneDNN: NumPy float32, no empty axis (pass the input through ``sequence_operand``)."""
    if any(type(a) is not np.ndarray or a.dtype != np.float32 or not a.size for a in arrays):
        return False
    return available()


def sequence_operand(a):
    """An (L, N, C) float32 array as oneDNN's RNN forward reads it: ``a`` itself in a layout ``sequence_layout``
    names, else a time-major copy."""
    return a if sequence_layout(a) is not None else np.ascontiguousarray(a)


def rnn_prepare(cell, shape, hidden, reverse, layout, kind, counts) -> tuple[int, ...] | None:
    """Build the plans of ``kind`` for each thread count in ``counts`` (the backward's are time-major;
    ``prepare``'s answer)."""
    return _cold((n, _rnn_plan(cell, shape, hidden, reverse, layout, kind, n)) for n in counts)


def _weights_for(plan, stream, w_ih, w_hh):
    return [
        plan.move(i, np.ascontiguousarray(w), np.empty(_lib.dnnl_memory_desc_get_size(_P(md)) // 4, np.float32), stream)
        for i, (w, md) in enumerate(zip((w_ih, w_hh), plan.weights))
    ]


def rnn(cell, x, states, w_ih, w_hh, bias, reverse, training, threads):
    """One LSTM layer (``cell`` 'lstm': ``states`` (h0, c0), ``bias`` b_ih + b_hh) or linear-before-reset GRU layer
    ('gru': (h0,), the bias's four rows of H), weights (G*H, .) in PyTorch's layout with the gates in oneDNN's
    order (the LSTM's i, f, g, o are; the GRU's are u, r, o), over ``x`` (L, N, F; a ``sequence_operand``):
    (out (L, N, H) time-major and C-contiguous, the final states, the workspace ``rnn_backward`` reads or None
    without ``training``), or None where oneDNN does not take it."""
    hidden = w_hh.shape[1]
    layout = sequence_layout(x)
    kind = "training" if training else "inference"

    def body(plan, stream):
        out = np.empty((x.shape[0], x.shape[1], hidden), np.float32)
        finals = tuple(np.empty_like(s) for s in states)
        workspace = np.empty(plan.workspace, np.uint8) if training else None
        w_layer, w_iter = _weights_for(plan, stream, w_ih, w_hh)
        args = [(_ARG_SRC, x), *((arg, np.ascontiguousarray(s)) for arg, s in zip(_STATES, states))]
        args += [(_ARG_WEIGHTS, w_layer), (_ARG_WEIGHTS_ITER, w_iter), (_ARG_BIAS, bias), (_ARG_DST, out)]
        args += list(zip(_FINALS, finals))
        if training:
            args.append((_ARG_WORKSPACE, workspace))
        _execute_plan(plan, stream, args)
        return out, finals, workspace

    return _run(_rnn_plan(cell, x.shape, hidden, reverse, layout, kind, threads), threads, body)


def rnn_backward(cell, x, states, w_ih, w_hh, bias, out, finals, workspace, g_out, g_finals, reverse, threads):
    """(dx, the states' gradients, dw_ih, dw_hh, dbias) of ``rnn``'s training forward, from its outputs and
    workspace and the gradients of its outputs; None where oneDNN does not take it (a workspace of another size).

    The sequences (x, out, g_out and dx) are time-major here whatever the forward's layout: its workspace does not
    depend on it, and the backward over time-major memory measured faster (2.78 against 3.0 ms for the lstm
    workload's layer, two threads), more than the copies cost.
    """
    hidden = w_hh.shape[1]
    x, out, g_out = (np.ascontiguousarray(a) for a in (x, out, g_out))
    contiguous = np.ascontiguousarray

    def body(plan, stream):
        if plan.workspace != workspace.size:
            return None
        dx, d_states, d_bias = np.empty_like(x), tuple(np.empty_like(s) for s in states), np.empty_like(bias)
        d_layer, d_iter = (np.empty(_lib.dnnl_memory_desc_get_size(_P(md)) // 4, np.float32) for md in plan.diff)
        w_layer, w_iter = _weights_for(plan, stream, w_ih, w_hh)
        args = [(_ARG_SRC, x), *((arg, contiguous(s)) for arg, s in zip(_STATES, states))]
        args += [(_ARG_WEIGHTS, w_layer), (_ARG_WEIGHTS_ITER, w_iter), (_ARG_BIAS, bias), (_ARG_DST, out)]
        args += [*zip(_FINALS, finals), (_ARG_WORKSPACE, workspace), (_ARG_DIFF + _ARG_SRC, dx)]
        args += [(_ARG_DIFF + arg, d) for arg, d in zip(_STATES, d_states)]
        args += [(_ARG_DIFF + _ARG_WEIGHTS, d_layer), (_ARG_DIFF + _ARG_WEIGHTS_ITER, d_iter)]
        args += [(_ARG_DIFF + _ARG_BIAS, d_bias), (_ARG_DIFF + _ARG_DST, g_out)]
        args += [(_ARG_DIFF + arg, contiguous(g)) for arg, g in zip(_FINALS, g_finals)]
        _execute_plan(plan, stream, args)
        dw_ih = plan.move(2, d_layer, np.empty(w_ih.shape, np.float32), stream).reshape(w_ih.shape)
        dw_hh = plan.move(3, d_iter, np.empty(w_hh.shape, np.float32), stream).reshape(w_hh.shape)
        return dx, d_states, dw_ih, dw_hh, d_bias

    return _run(_rnn_plan(cell, x.shape, hidden, reverse, "tnc", "backward", threads), threads, body)


def work(x_shape, w_shape, geom) -> int:
    """Multiply-adds of one of the three products (they all have the same count)."""
    return x_shape[0] * math.prod(geom.out_size) * math.prod(w_shape)


def available() -> bool:
    """Whether oneDNN is loaded (loading it now if nothing has asked yet)."""
    if ENABLED is None:
        with _lock:
            if ENABLED is None:
                _load()
    return bool(ENABLED)


def _describe(key):
    if key[0] == "conv":
        _, kind, x_shape, w_shape, geom, _, threads = key
        return f"conv {kind} x{x_shape} w{w_shape} stride {geom.stride} padding {geom.padding} threads={threads}"
    if key[0] == "layer_norm":
        _, rows, cols, _, affine, backward, threads = key
        return f"layer_norm {'backward' if backward else 'forward'} {rows}x{cols} threads={threads}"
    if key[0] == "matmul":
        _, a_shape, _, b_shape, _, _, post, threads = key
        if post is None:
            return f"matmul {a_shape} @ {b_shape} threads={threads}"
        return f"attention scores {post[0]:g} * {a_shape} @ {b_shape} + bias {post[1]} threads={threads}"
    if key[0] == "rnn":
        _, cell, kind, shape, hidden, reverse, layout, threads = key
        way = " reverse" if reverse else ""
        return f"{cell} {kind}{way} {layout} x{shape} hidden {hidden} threads={threads}"
    if key[0] == "softmax":
        _, shape, axis, log, backward, threads = key
        name = "log_softmax" if log else "softmax"
        return f"{name} {'backward' if backward else 'forward'} {shape} axis {axis} threads={threads}"
    if key[0] == "gemm":
        return f"gemm {_describe_gemm(key[1:])}"
    _, alg, backward, n, threads = key
    return f"eltwise {_ELTWISE_NAMES.get(alg, alg)} {'backward' if backward else 'forward'} n={n} threads={threads}"


def _describe_gemm(key):
    ta, tb, m, n, k, lda, ldb, beta, bias, threads = key
    a = f"({k}, {m})^T" if ta else f"({m}, {k})"
    b = f"({n}, {k})^T" if tb else f"({k}, {n})"
    plus = (f" + {float(beta):g} c" if beta else "") + (" + bias" if bias else "")
    return f"{a} @ {b}{plus} lda={lda} ldb={ldb} threads={threads}"


def info() -> dict:
    """What is loaded, the implementation oneDNN chose for each primitive built so far, and for each GEMM
    shape measured by ``gemm`` the kernel it runs ('matmul', 'sgemm' or 'trying')."""
    available()
    return {
        "enabled": ENABLED,
        "library": LIBRARY,
        "version": VERSION,
        "primitives": {
            _describe(key): (plan.impl if plan is not None else "NumPy (oneDNN has only reference code)")
            for key, plan in list(_plans.items())
        },
        "gemm_kernels": {
            _describe_gemm(key): {None: "trying", True: "matmul", False: "sgemm"}[choice.matmul]
            for key, choice in list(_gemm_choices.items())
        },
    }


if os.environ.get("CHAINRULE_DNNL", "").strip().lower() in _ON:
    _load()  # asked for by name: a missing library is an ImportError now, not at the first convolution
