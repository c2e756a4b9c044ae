"""Every loss equals PyTorch's: outputs and input gradients, for every reduction and option.

Committed fixtures (tests/fixtures/loss.npz, made by tests/fixtures/make_loss.py
with torch 2.13.0) are compared without torch; when torch is importable each
case also runs live.  The same driver (``make_loss.run``) runs both libraries.
Each case is also run through the loss's Module (``nn.CrossEntropyLoss`` ...),
which must give the functional result.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.fixtures.make_loss import CASES, SPECS, run
from tests.parity import HAVE_TORCH, assert_close, load

FIXTURES = load("loss")
TOL = dict(rtol=2e-5, atol=2e-6)

MODULES = {
    "mse_loss": cr.nn.MSELoss,
    "l1_loss": cr.nn.L1Loss,
    "smooth_l1_loss": cr.nn.SmoothL1Loss,
    "huber_loss": cr.nn.HuberLoss,
    "cross_entropy": cr.nn.CrossEntropyLoss,
    "nll_loss": cr.nn.NLLLoss,
    "binary_cross_entropy": cr.nn.BCELoss,
    "binary_cross_entropy_with_logits": cr.nn.BCEWithLogitsLoss,
    "kl_div": cr.nn.KLDivLoss,
    "margin_ranking_loss": cr.nn.MarginRankingLoss,
}


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
    missing = sorted(set(SPECS) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_loss.py: fixtures missing for {missing}"


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_matches_torch_live(name):
    compare(name, CASES[name]())


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_module_equals_functional(name):
    spec, ref = SPECS[name], FIXTURES[name]
    tensors = {k: cr.tensor(ref[k]) for k in spec["arrays"]}
    kwargs = dict(spec["kwargs"])
    kwargs.update({k: tensors[v] for k, v in spec["tensor_kwargs"].items()})
    module = MODULES[spec["fn"]](**kwargs)
    out = module(*[tensors[a] for a in spec["args"]])
    assert_close(out, ref["output"], what=f"{name} via {type(module).__name__}", **TOL)


def test_reductions_are_all_covered():
    """Each loss is checked with every reduction it accepts."""
    seen: dict = {}
    for spec in SPECS.values():
        seen.setdefault(spec["fn"], set()).add(spec["kwargs"].get("reduction", "mean"))
    for fn, reductions in seen.items():
        wanted = {"none", "mean", "sum"} | ({"batchmean"} if fn == "kl_div" else set())
        assert reductions == wanted, f"{fn}: reductions {sorted(reductions)} tested"


def test_extreme_logits_stay_finite():
    """BCE-with-logits at +-100 and cross-entropy at +-1000: finite losses and gradients."""
    for name in ("bce_logits_extreme", "bce_logits_extreme_pos_weight", "ce_large_logits"):
        result = run(cr, name, given=FIXTURES[name])
        for key in ("output", "grad_input"):
            assert np.isfinite(result[key]).all(), f"{name} {key}: {result[key]}"
