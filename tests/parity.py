"""Parity with PyTorch: committed fixtures, plus a live comparison when torch is importable.

Convention: a fixture script ``tests/fixtures/make_<area>.py`` defines
``CASES = {name: make_fn}`` where ``make_fn()`` uses torch 2.13.0 and returns a
dict of NumPy arrays (inputs, weights, outputs, gradients).  Running the script
writes ``tests/fixtures/<area>.npz`` (keys ``<case>/<array>``).  Tests load
the npz (no torch needed) and, when torch is importable, also call
``make_fn()`` live.  Fixtures are loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def save(area: str, cases: dict) -> Path:
    """Run every case's maker and write ``<area>.npz``."""
    arrays = {}
    for name, make in cases.items():
        for key, value in make().items():
            arrays[f"{name}/{key}"] = np.asarray(value)
    path = FIXTURES / f"{area}.npz"
    np.savez_compressed(path, **arrays)
    return path


def load(area: str) -> dict:
    """{case: {array name: array}} from ``<area>.npz``."""
    out: dict = {}
    with np.load(FIXTURES / f"{area}.npz", allow_pickle=False) as data:
        for key in data.files:
            case, _, name = key.partition("/")
            out.setdefault(case, {})[name] = data[key]
    return out


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what=""):
    actual = np.asarray(getattr(actual, "_data", actual), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
