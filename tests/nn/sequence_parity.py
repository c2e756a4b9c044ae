"""The parity tests shared by the recurrent, attention and transformer suites (one driver, three areas).

Committed fixtures (tests/fixtures/recurrent.npz, made by
tests/fixtures/make_recurrent.py with torch 2.13.0) are compared without
torch; when torch is importable each case also runs live.  One driver
(``make_recurrent.run``) runs both libraries.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.make_recurrent import CASES, CONFIGS, compare
from tests.parity import HAVE_TORCH, load


def parity_tests(kinds):
    """The three tests for the fixture cases whose kind is in ``kinds``; a test module binds them to test_ names."""
    names = sorted(n for n, c in CONFIGS.items() if c["kind"] in kinds)
    fixtures = load("recurrent")

    @pytest.mark.parametrize("name", names)
    def matches_torch_fixture(name):
        assert name in fixtures, f"run tests/fixtures/make_recurrent.py: no fixture for {name}"
        compare(name, fixtures[name])

    def fixtures_record_every_gradient():
        """Guard against a driver that records nothing: every input and parameter has a finite gradient of its
        shape, every input's is non-zero, and so is some parameter's."""
        for name in names:
            arrays = fixtures[name]
            params = [k for k in arrays if k.startswith("param.")]
            inputs = [k for k in arrays if k.startswith("input.")]
            assert inputs, name
            assert params or CONFIGS[name]["kind"] == "sdpa", name
            for mode in ("train", "eval"):
                for key in params + inputs:
                    grad = arrays[f"{mode}.grad.{key}"]
                    assert grad.shape == arrays[key].shape and np.isfinite(grad).all(), f"{name}: {mode} grad of {key}"
                for key in inputs:
                    assert (arrays[f"{mode}.grad.{key}"] != 0).any(), f"{name}: {mode} gradient of {key} is zero"
                assert not params or any((arrays[f"{mode}.grad.{k}"] != 0).any() for k in params), name

    @pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
    @pytest.mark.parametrize("name", names)
    def matches_torch_live(name):
        compare(name, CASES[name]())

    return matches_torch_fixture, fixtures_record_every_gradient, matches_torch_live
