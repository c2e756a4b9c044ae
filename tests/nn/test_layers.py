"""The basic layers equal PyTorch's: outputs, input and parameter gradients, running statistics.

Committed fixtures (tests/fixtures/layers.npz, made by tests/fixtures/make_layers.py
with torch 2.13.0) are compared without torch; when torch is importable each
case also runs live.  The same driver (``make_layers.run``) runs both
libraries, in training and eval mode.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.fixtures.make_layers import CASES, LAYER_CASES, run
from tests.parity import HAVE_TORCH, assert_close, load

FIXTURES = load("layers")
TOL = dict(rtol=1e-4, atol=2e-5)


def compare(name: str, expected: dict) -> None:
    actual = run(cr, name, given=expected)
    assert sorted(actual) == sorted(expected), f"{name}: recorded arrays differ"
    for key, want in expected.items():
        got = actual[key]
        if want.dtype.kind == "f":
            assert got.dtype == np.float32, f"{name} {key}: {got.dtype}, expected float32"
        assert_close(got, want, what=f"{name} {key}", **TOL)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_matches_torch_fixture(name):
    compare(name, FIXTURES[name])


def test_fixtures_cover_every_case():
    missing = sorted(set(LAYER_CASES) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_layers.py: fixtures missing for {missing}"


def test_fixtures_record_gradients_of_every_parameter():
    """Guard against a driver that silently records nothing: parameterized layers have parameter grads."""
    for name, arrays in FIXTURES.items():
        params = [k.split("/", 1)[1] for k in arrays if k.startswith("param/")]
        for p in params:
            assert f"train0/grad/{p}" in arrays, f"{name}: no gradient recorded for {p}"
        if LAYER_CASES[name].get("index_high") is None:
            assert any(k.endswith("/grad_input") for k in arrays), f"{name}: no input gradient recorded"


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_matches_torch_live(name):
    compare(name, CASES[name]())
