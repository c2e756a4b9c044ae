"""Compiled elementwise kernels (the optional ``numba`` extra), each beside the NumPy reference it must equal.

An elementwise chain in NumPy is one pass over memory per operation, each
allocating or writing a whole array: Adam's update is ten passes, the
float32 error function (exact GELU) twenty-five, ReLU's gradient three.  A
loop compiled by numba does each in one pass.  Measured on this project's
2-core machine (float32, one thread, min of 9): Adam's moments and step over
200,000 elements 79 us against 270 us for the ten NumPy passes; erf over
524,288 elements 145 us against 800-2,100 us; ReLU's gradient over 802,816
elements 111 us against 201 us.  Only kernels that measured faster are here:
exact GELU's gradient compiled (one pass with numba's scalar ``exp``) took
1,259 us against 460 us for its seven NumPy passes (NumPy's ``exp`` is
vectorized), so it stays in NumPy.  Compiling costs about a second per
kernel the first time (numba caches the machine code beside this file,
``cache=True``), and importing numba about 0.3 s, paid on the first call,
never at import.

The kernels repeat the reference's float32 (or float64) operations in the
same order, without fast-math (no reassociation, no fused multiply-add), so
their results are bit for bit the NumPy path's: ``tests/test_kernels.py``
checks that on every kernel where numba is installed.

``pip install 'chainrule[numba]'`` installs it; without numba, or with
``CHAINRULE_KERNELS=numpy``, everything runs on the NumPy references.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["adam_moments", "available", "erf_float32", "relu_grad"]

_STATE: dict = {}


def available() -> bool:
    """Whether the compiled kernels are in use (numba importable and not turned off)."""
    ok = _STATE.get("ok")
    if ok is None:
        ok = False
        if os.environ.get("CHAINRULE_KERNELS", "auto").lower() != "numpy":
            try:
                import numba  # noqa: F401, PLC0415

                ok = True
            except ImportError:
                ok = False
            if ok:
                _one_blas_pool()
        _STATE["ok"] = ok
    return ok


def _compiled(name: str):
    """The numba function ``name``, compiled (or loaded from numba's cache) on first use."""
    fn = _STATE.get(name)
    if fn is None:
        import numba  # noqa: PLC0415

        # error_model="numpy": a division by zero gives inf/nan as NumPy does, and lets the loop vectorize
        jit = numba.njit(cache=True, error_model="numpy", nogil=True)
        compiled = jit(_SOURCES[name])

        def first_call(*args):
            # numba compiles (and may load SciPy's OpenBLAS) on the first call, not at njit()
            out = compiled(*args)
            _one_blas_pool()
            _STATE[name] = compiled  # later calls go straight to the compiled function
            return out

        fn = _STATE[name] = first_call
    return fn


def _one_blas_pool() -> None:
    """Hold every BLAS but NumPy's at one thread.

    numba loads SciPy's own OpenBLAS (for its ``np.linalg`` support), a second
    build with its own pool of threads: two pools spinning on the same cores is
    what once made training 10x slower on a busy machine (docs/architecture.md,
    threads).  chainrule never calls that copy, so one thread is all it needs.
    """
    import threadpoolctl  # noqa: PLC0415

    from . import _cblas  # noqa: PLC0415

    ours = _cblas.numpy_blas()
    keep = ours.path if ours is not None else None
    for lib in threadpoolctl.ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and lib.filepath != keep and lib.num_threads != 1:
            lib.set_num_threads(1)


# --------------------------------------------------------------------------- Adam's moments and step


def adam_moments_reference(g, m, v, out, denom, beta1, beta2, step_size, bias_correction2_sqrt, eps):
    """NumPy: ``m``, ``v`` updated in place and ``out = -step_size * m / (sqrt(v) / bc2 + eps)``.

    Ten passes, ``out`` and ``denom`` work arrays: the operations of ``Adam._update``.
    """
    np.subtract(g, m, out=out)  # m += (1 - beta1) * (g - m): PyTorch's lerp
    out *= 1 - beta1
    m += out
    v *= beta2  # v = beta2 * v + (1 - beta2) * g * g
    np.multiply(g, 1 - beta2, out=out)
    out *= g
    v += out
    np.sqrt(v, out=denom)
    denom /= bias_correction2_sqrt
    denom += eps
    np.multiply(m, -step_size, out=out)
    out /= denom


def _adam_loop(g, m, v, out, keep1, beta2, keep2, neg_step, bc2, eps):  # pragma: no cover - compiled
    for i in range(g.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * keep1
        m[i] = mi
        vi = v[i] * beta2 + (gi * keep2) * gi
        v[i] = vi
        out[i] = (mi * neg_step) / (np.sqrt(vi) / bc2 + eps)


def adam_moments(g, m, v, out, denom, beta1, beta2, step_size, bias_correction2_sqrt, eps) -> None:
    """``adam_moments_reference`` on 1-D contiguous arrays of one dtype: one compiled pass where available."""
    if available() and g.dtype.char in "fd":
        f = g.dtype.type  # the scalars rounded to the arrays' dtype, as NumPy does with a Python float
        _compiled("adam")(
            g, m, v, out, f(1 - beta1), f(beta2), f(1 - beta2), f(-step_size), f(bias_correction2_sqrt), f(eps)
        )
        return
    adam_moments_reference(g, m, v, out, denom, beta1, beta2, step_size, bias_correction2_sqrt, eps)


# --------------------------------------------------------------------------- the float32 error function

# A rational approximation erf(x) ~ x * P(x^2) / Q(x^2) (degree 5 over 5) (see backend._erf_float32, the
# NumPy reference), of x clamped to [-4, 4]; the result clamped to [-1, 1].
_ERF_P = (1.12837916e00, 1.91267993e-01, 5.28090575e-02, 3.78916059e-03, 2.83034530e-04, 2.01110707e-06)
_ERF_Q = (1.0, 5.02839722e-01, 1.14416735e-01, 1.50167004e-02, 1.16392276e-03, 3.75942020e-05)


def _erf_loop(x, out, p, q, bounds):  # pragma: no cover - compiled
    for i in range(x.size):
        xi = x[i]
        if xi > bounds[1]:  # (bounds in x's dtype, so xi keeps it); NaN compares false and stays NaN
            xi = bounds[1]
        elif xi < bounds[0]:
            xi = bounds[0]
        t = xi * xi
        num = t * p[5]
        den = t * q[5]
        for k in range(4, 0, -1):
            num = (num + p[k]) * t
            den = (den + q[k]) * t
        num = (num + p[0]) * xi / (den + q[0])
        out[i] = num  # (stores cast: num stays in the array's precision)
        if num > 1.0:
            out[i] = 1.0
        elif num < -1.0:
            out[i] = -1.0


def erf_float32(x):
    """erf of a C-contiguous float32 array in one compiled pass, equal to ``backend._erf_float32``; None if unavailable.

    As the reference, +-inf give +-1 and NaN gives NaN.
    """
    if not available() or x.dtype != np.float32 or not x.flags.c_contiguous:
        return None
    out = np.empty_like(x)
    _compiled("erf")(
        x.reshape(-1),
        out.reshape(-1),
        np.array(_ERF_P, dtype=np.float32),
        np.array(_ERF_Q, dtype=np.float32),
        np.array([-4.0, 4.0], dtype=np.float32),
    )
    return out


# --------------------------------------------------------------------------- the ReLU gradient


def _contiguous_like(*arrays) -> bool:
    """All NumPy arrays of the first one's shape and float dtype (float32/float64), C-contiguous."""
    first = arrays[0]
    return (
        all(
            type(a) is np.ndarray and a.shape == first.shape and a.dtype == first.dtype and a.flags.c_contiguous
            for a in arrays
        )
        and first.dtype.char in "fd"
    )


def _relu_grad_loop(g_bits, y_bits, out, lowest):  # pragma: no cover - compiled
    for i in range(g_bits.size):
        y = y_bits[i]
        out[i] = g_bits[i] if (y > 0 or y == lowest) else 0


def relu_grad(g, y):
    """ReLU's gradient from its output in one pass on the bits, as ``backend.select_positive``; None if unavailable.

    The reference keeps g where ``(-bits(y)) >> (width - 1)`` is all ones:
    where y's bits read as a signed integer are positive (y > 0, or a NaN
    without its sign bit) or the lowest integer (-0.0); the loop tests the
    same, so the results are bit for bit equal.
    """
    if not available() or not _contiguous_like(g, y):
        return None
    ints = np.dtype(f"i{g.dtype.itemsize}")
    out = np.empty(g.shape, dtype=ints)
    _compiled("relu_grad")(g.reshape(-1).view(ints), y.reshape(-1).view(ints), out.reshape(-1), np.iinfo(ints).min)
    return out.view(g.dtype)


_SOURCES: dict[str, Any] = {"adam": _adam_loop, "erf": _erf_loop, "relu_grad": _relu_grad_loop}
