"""The backend's array helpers: erf, select, relu, axpy, matmul_add."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf as scipy_erf

from chainrule import backend


def test_float32_erf_is_accurate_everywhere():
    x = np.linspace(-7, 7, 400_001, dtype=np.float32)
    x = np.concatenate([x, np.float32([0.0, -0.0, 1e-30, -1e-12, 3.9, 4.0, 4.1])])
    got = backend.erf(np, x).astype(np.float64)
    want = scipy_erf(x.astype(np.float64))
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-38)
    assert rel.max() < 5e-7
    assert np.all(np.abs(got) <= 1.0)
    assert backend.erf(np, x).dtype == np.float32


def test_erf_special_values():
    out = backend.erf(np, np.float32([np.nan, np.inf, -np.inf]))
    assert np.isnan(out[0]) and out[1] == 1.0 and out[2] == -1.0
    assert backend.erf(np, np.float64([0.5])).dtype == np.float64


def test_select_is_exact_even_for_inf_and_nan():
    x = np.array([1.0, np.inf, np.nan, -2.0, np.nan], dtype=np.float32)
    mask = np.array([True, False, False, True, True])
    out = backend.select(np, x, mask)
    assert out[0] == 1.0 and out[1] == 0.0 and out[2] == 0.0 and out[3] == -2.0 and np.isnan(out[4])
    inverse = backend.select(np, x, mask, keep=False)
    assert inverse[0] == 0.0 and inverse[1] == np.inf and np.isnan(inverse[2])
    strided = np.arange(12, dtype=np.float64).reshape(3, 4).T
    m = strided > 4
    np.testing.assert_array_equal(backend.select(np, strided, m), np.where(m, strided, 0))


def _relu_inputs(dtype):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 6, 9, 11)).astype(dtype)  # 2376 values: 2 rows of 1024 and a remainder
    base.flat[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -np.nan]
    return {
        "contiguous": base,
        "channels_last": np.ascontiguousarray(base.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
        "strided": base[:, ::2],
        "whole_rows": rng.standard_normal((2, 2048)).astype(dtype),
        "small": base[0, 0],
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_equals_maximum_in_every_layout(dtype):
    for name, x in _relu_inputs(dtype).items():
        out = backend.relu(np, x)
        np.testing.assert_array_equal(out, np.maximum(x, 0), err_msg=name)
        assert out.dtype == dtype and out.shape == x.shape
        assert not np.signbit(out[~np.isnan(out)]).any(), name  # -0.0 comes out as +0.0
        assert not np.shares_memory(out, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_select_positive_is_the_relu_gradient(dtype):
    for name, x in _relu_inputs(dtype).items():
        y = backend.relu(np, x)
        g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
        g.flat[-4:] = [np.inf, -np.inf, np.nan, 1.0]
        got = backend.select_positive(np, g, y)
        # where y > 0 the gradient passes, where y == 0 it is an exact 0 (even for inf / nan g); a NaN output
        # passes it on (PyTorch's threshold_backward does the same) unless its sign bit is set
        want = np.where((y > 0) | (np.isnan(y) & ~np.signbit(y)), g, 0)
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.dtype == dtype


def test_axpy_in_place():
    y = np.ones(5, dtype=np.float32)
    x = np.arange(5, dtype=np.float32)
    out = backend.axpy(np, -2.0, x, y)
    assert out is y
    np.testing.assert_allclose(y, 1 - 2 * np.arange(5))
    z = np.ones((3, 4), dtype=np.float64)[:, ::2]  # not contiguous: the fallback path
    backend.axpy(np, 0.5, np.ones((3, 2)), z)
    np.testing.assert_allclose(z, 1.5)


def test_allocator_tuning_reports_whether_it_applied():
    import sys

    result = backend.tune_allocator()
    assert isinstance(result, bool)
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert result


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_matches_scipy_to_rounding_without_warnings(dtype):
    from scipy.special import expit

    x = np.concatenate([np.linspace(-1000, 1000, 40_001), [0.0, -0.0, 1e-30, -88.5, 88.5, np.inf, -np.inf]])
    x = x.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = backend.sigmoid(np, x)
    assert got.dtype == dtype
    want = expit(x.astype(np.float64))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2 * eps, atol=np.finfo(dtype).tiny * 1e8)
    assert float(got[-2]) == 1.0 and float(got[-1]) < 1e-37
    assert np.isnan(backend.sigmoid(np, np.array([np.nan], dtype=dtype))[0])


def test_sums_over_rows_and_last_axis_are_gemvs_that_match_numpy():
    rng = np.random.default_rng(3)
    for rows, cols in [(5, 3), (20000, 16)]:
        m = rng.standard_normal((rows, cols)).astype(np.float32)
        np.testing.assert_allclose(backend.sum_rows(np, m), m.sum(axis=0, dtype=np.float64), rtol=1e-4, atol=1e-3)
        stack = m.reshape(-1, cols, rows // 5 if rows > 5 else 1)
        np.testing.assert_allclose(backend.sum_last(np, stack), stack.sum(axis=-1), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("size", [7, 10_000, 300_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_through_numpys_blas(size, dtype):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal(size).astype(dtype), rng.standard_normal(size).astype(dtype)
    expected = y + np.asarray(-0.25, dtype) * x
    assert backend.axpy(np, -0.25, x, y) is y
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    strided = rng.standard_normal(2 * size).astype(dtype)[::2]  # not contiguous: NumPy's two passes
    y2 = y.copy()
    backend.axpy(np, 2.0, strided, y2)
    np.testing.assert_allclose(y2, y + 2 * strided, rtol=1e-6, atol=1e-6)


def test_axpy_with_numpys_blas_held_at_one_thread_skips_the_thread_plan(monkeypatch):
    """While NumPy's BLAS is held at one thread (oneDNN's threads at work), axpy calls it directly: no plan, no
    lowering and restoring of the count, the same result."""
    from chainrule import _cblas, threads

    if _cblas.numpy_blas() is None:
        pytest.skip("NumPy is not linked to a findable OpenBLAS")
    threads._configure()
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(50_000).astype(np.float32), rng.standard_normal(50_000).astype(np.float32)
    expected = y + np.float32(-0.5) * x
    saved = threads._STATE.lowered
    threads._STATE.lowered = saved or 2  # held (the count it had is what get_num_threads reports meanwhile)
    try:
        monkeypatch.setattr(threads, "blas_call", lambda *a: pytest.fail("blas_call while the BLAS is held"))
        backend.axpy(np, -0.5, x, y)
    finally:
        threads._STATE.lowered = saved
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
