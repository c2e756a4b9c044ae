"""The optional MKL kernels (chainrule[mkl]): same results as NumPy, and a clean fallback."""

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import _mkl, backend

needs_mkl = pytest.mark.skipif(not _mkl.ENABLED, reason="the mkl extra is not installed (pip install 'chainrule[mkl]')")


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return (a.T if ta else a), (b.T if tb else b)


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_matches_numpy_for_every_layout(dtype, ta, tb):
    rng = np.random.default_rng(0)
    a, b = _operands(rng, 70, 90, 60, ta, tb, dtype)
    got = _mkl.matmul(a, b)
    assert got is not None and got.dtype == dtype and got.shape == (70, 60)
    np.testing.assert_allclose(got, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


@needs_mkl
def test_gemm_on_strided_views_stacks_and_into_out():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((200, 300)).astype(np.float32)
    a, b = big[10:90, 5:105], big[100:200, 150:250]  # row strides larger than the widths
    np.testing.assert_allclose(_mkl.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)
    stack = rng.standard_normal((5, 64, 96)).astype(np.float32)
    w = rng.standard_normal((96, 48)).astype(np.float32)
    np.testing.assert_allclose(_mkl.matmul(stack, w), stack @ w, rtol=1e-5, atol=1e-4)
    st = stack.transpose(0, 2, 1)
    np.testing.assert_allclose(_mkl.matmul(w.T, st), w.T @ st, rtol=1e-5, atol=1e-4)
    out = np.full((64, 48), np.nan, dtype=np.float32)
    assert backend.matmul(np, stack[0], w, out=out) is out
    np.testing.assert_allclose(out, stack[0] @ w, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("path", ["mkl", "openblas"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_add_accumulates_in_place(path, dtype, monkeypatch):
    """backend.matmul_add (the grid convolution's accumulating GEMM) on MKL and on NumPy's OpenBLAS by ctypes."""
    if path == "mkl" and not _mkl.ENABLED:
        pytest.skip("the mkl extra is not installed")
    monkeypatch.setattr(_mkl, "ENABLED", path == "mkl")
    rng = np.random.default_rng(5)
    buf = rng.standard_normal((700, 24)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    cases = [
        (buf[7:607], rng.standard_normal((24, 40)).astype(dtype)),  # a row slice of a buffer (the grid's case)
        (buf[:600].T.copy().T, rng.standard_normal((40, 24)).astype(dtype).T),  # both Fortran-ordered
        (buf[:600, ::2], rng.standard_normal((12, 40)).astype(dtype)),  # strided: copied, still right
    ]
    for a, b in cases:
        out = rng.standard_normal((a.shape[0], b.shape[1])).astype(dtype)
        expected = out + a @ b
        assert backend.matmul_add(np, a, b, out) is out
        np.testing.assert_allclose(out, expected, **tol)


@pytest.mark.parametrize("path", ["mkl", "numpy"])
@pytest.mark.parametrize("shape", [(64, 256, 128), (4, 3, 5)], ids=["large", "small"])
def test_addmm_equals_product_plus_bias(path, shape, monkeypatch):
    """backend.addmm (the linear layer's forward): bias copied in first and added by the GEMM, or added after."""
    if path == "mkl" and not _mkl.ENABLED:
        pytest.skip("the mkl extra is not installed")
    monkeypatch.setattr(_mkl, "ENABLED", path == "mkl")
    rng = np.random.default_rng(6)
    m, k, n = shape
    a = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    out = backend.addmm(np, bias, a, w.T)
    assert out.shape == (m, n) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, a @ w.T + bias, rtol=1e-5, atol=1e-4)


@needs_mkl
def test_gemm_declines_what_it_cannot_do():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((8, 8)).astype(np.float32)
    assert _mkl.matmul(a, a) is None  # too small to pay for the call
    big = rng.standard_normal((128, 256)).astype(np.float32)
    assert _mkl.matmul(big, big.astype(np.float64).T) is None  # mixed dtypes
    assert _mkl.matmul(big[:, ::2], big[:, ::2].T) is None  # no unit stride: NumPy copies instead
    np.testing.assert_allclose(backend.matmul(np, big[:, ::2], big[:, ::2].T), big[:, ::2] @ big[:, ::2].T, rtol=1e-5)
    ints = np.ones((128, 128), dtype=np.int64)
    assert _mkl.matmul(ints, ints) is None


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_matches_scipy(dtype):
    from scipy.special import erf

    x = np.linspace(-6, 6, 20001).astype(dtype)
    got = _mkl.erf(x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, erf(x.astype(np.float64)), rtol=2e-7 if dtype == np.float32 else 1e-14, atol=1e-7)


@needs_mkl
def test_layers_agree_with_and_without_mkl():
    """The same linear + conv + LSTM step on MKL and on NumPy's BLAS gives the same loss and gradients."""
    script = (
        "import numpy as np, chainrule as cr\n"
        "from chainrule import nn\n"
        "cr.manual_seed(0)\n"
        "conv, lin, lstm = nn.Conv2d(3, 16, 3, padding=1), nn.Linear(16 * 16 * 16, 64), nn.LSTM(64, 64)\n"
        "x = cr.randn(8, 3, 16, 16)\n"
        "h = lin(conv(x).relu().flatten(1))\n"
        "out, _ = lstm(h.unsqueeze(0).expand(4, 8, 64))\n"
        "loss = nn.functional.gelu(out).square().mean()\n"
        "loss.backward()\n"
        "grads = [p.grad.numpy() for m in (conv, lin, lstm) for p in m.parameters()]\n"
        "np.savez(__import__('sys').argv[1], loss=loss.numpy(), *grads)\n"
    )
    results = []
    for choice in ("mkl", "numpy"):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"chainrule_mkl_{os.getpid()}_{choice}.npz")
        env = dict(os.environ, CHAINRULE_BLAS=choice)
        subprocess.run([sys.executable, "-c", script, path], env=env, check=True, timeout=120)
        with np.load(path) as data:
            results.append({k: data[k] for k in data.files})
        os.remove(path)
    mkl, numpy = results
    assert mkl.keys() == numpy.keys()
    for k in mkl:
        np.testing.assert_allclose(mkl[k], numpy[k], rtol=2e-4, atol=1e-6, err_msg=k)


def test_blas_choice_is_honoured():
    code = "import chainrule._mkl as m; print(m.ENABLED)"
    off = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ, CHAINRULE_BLAS="numpy"), capture_output=True, text=True
    )
    assert off.stdout.strip() == "False"
    forced = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ, CHAINRULE_BLAS="mkl"), capture_output=True, text=True
    )
    if _mkl._candidates():  # installed: asking for it turns it on
        assert forced.stdout.strip() == "True"
    else:  # missing: asking for it is an error that says how to install it
        assert forced.returncode != 0 and "pip install 'chainrule[mkl]'" in forced.stderr


def test_matmul_results_do_not_depend_on_the_backend_dtype():
    a = cr.randn(64, 128)
    b = cr.randn(128, 64)
    assert (a @ b).dtype == cr.float32
    assert (a.double() @ b.double()).dtype == cr.float64
