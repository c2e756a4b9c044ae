"""Outputs and gradients equal PyTorch's: committed fixtures, and live when torch is importable."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.fixtures.make_ops import cases
from tests.parity import HAVE_TORCH, assert_close, load

from .specs import SPECS

BY_NAME = {s.name: s for s in SPECS}
FIXTURES = load("ops")
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def compare(case: str, ref: dict) -> None:
    name, _, dtype = case.split(".")
    spec = BY_NAME[name]
    inputs = []
    i = 0
    while f"in{i}" in ref:
        inputs.append(cr.tensor(ref[f"in{i}"], requires_grad=True))
        i += 1
    out = spec.fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    total = None
    for k, o in enumerate(outs):
        if f"out{k}" not in ref:
            continue
        assert o.dtype == np.dtype(dtype), f"{case}: output dtype {o.dtype}"
        assert_close(o, ref[f"out{k}"], what=f"{case} output {k}", **TOL[dtype])
        term = (o * cr.tensor(ref[f"gout{k}"])).sum()
        total = term if total is None else total + term
    total.backward()
    for j, x in enumerate(inputs):
        if f"grad{j}" in ref:
            assert x.grad is not None, f"{case}: no gradient for input {j}"
            assert_close(x.grad, ref[f"grad{j}"], what=f"{case} grad {j}", **TOL[dtype])


@pytest.mark.parametrize("case", sorted(FIXTURES))
def test_matches_torch_fixture(case):
    compare(case, FIXTURES[case])


def test_fixtures_cover_every_parity_case():
    missing = sorted(set(cases()) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_ops.py: fixtures missing for {missing}"


LIVE = sorted(cases())


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("case", LIVE)
def test_matches_torch_live(case):
    compare(case, cases()[case]())
