"""The diagnostics examples do what their docstrings say (short runs here, the full runs marked slow)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _quiet():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_vanishing_gradients_short():
    vg = load("vanishing_gradients")
    results = vg.main(epochs=2, verbose=False)
    sigmoid, residual = results["sigmoid"], results["residual"]
    assert sigmoid["linear_layers"] == residual["linear_layers"] == 20
    issue = sigmoid["monitor"].first_issues["vanishing"]
    assert issue.step == 0 and issue.layers[:3] == ["0", "2", "4"]  # the first Linear layers, by name
    first, last = (sigmoid["monitor"].history[-1]["layers"][n]["grad_norm"] for n in ("0", "38"))
    assert first < 1e-9 * last
    assert sigmoid["loss"] > 2.2  # stalled at chance (ln 10 = 2.30)
    assert residual["monitor"].first_issues == {}
    assert residual["loss"] < 1.2 and residual["accuracy"] > 0.8  # learning (10 epochs reach >= 95%: slow test)


@pytest.mark.slow
def test_vanishing_gradients_full(tmp_path):
    vg = load("vanishing_gradients")
    results = vg.main(out=tmp_path, verbose=False)
    assert results["sigmoid"]["accuracy"] < 0.2  # never gets past guessing
    assert results["residual"]["accuracy"] >= 0.95
    assert "VANISHING" in (tmp_path / "sigmoid" / "gradient_report.txt").read_text()
    assert "No problems found." in (tmp_path / "residual" / "gradient_report.txt").read_text()


def test_deep_residual_short():
    deep = load("deep_residual")
    results = deep.main(epochs=1, verbose=False)
    assert results["linear_layers"] == 102
    assert len(results["monitor"].layer_names) == 203  # 102 Linear + 101 LayerNorm
    assert results["monitor"].first_issues == {}
    losses = results["losses"]
    assert np.isfinite(losses).all() and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3


@pytest.mark.slow
def test_deep_residual_full():
    deep = load("deep_residual")
    results = deep.main(verbose=False)
    assert results["linear_layers"] > 100
    assert results["accuracy"] >= 0.95
    assert results["monitor"].first_issues == {}


def test_exploding_gradients_short():
    ex = load("exploding_gradients")
    unclipped, clipped = ex.train(None, epochs=1), ex.train(1.0, epochs=1)
    issue = unclipped["monitor"].first_issues["exploding"]
    assert issue.step <= 1 and "updates as large as the weights" in issue.message
    assert max(unclipped["grad_norms"][:3]) > 50
    assert unclipped["accuracy"] < 0.2  # collapsed: one class for everything
    assert "exploding" not in clipped["monitor"].first_issues
    assert clipped["accuracy"] > unclipped["accuracy"] + 0.3


@pytest.mark.slow
def test_exploding_gradients_full():
    ex = load("exploding_gradients")
    results = ex.main(verbose=False)
    assert results["unclipped"]["accuracy"] < 0.2
    assert results["clipped"]["accuracy"] >= 0.93
    assert "exploding" in results["unclipped"]["monitor"].first_issues
    assert "exploding" not in results["clipped"]["monitor"].first_issues


def test_straight_through_estimator():
    st = load("straight_through")
    import chainrule as cr

    # the custom Function's gradient is hardtanh's: 1 inside [-1, 1], 0 outside, while sign's own is 0
    x = cr.tensor([-2.0, -1.0, 0.0, 0.5, 1.5], requires_grad=True)
    y = st.SignSTE.apply(x)
    assert y.tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert (
        cr.autograd.gradcheck(
            lambda t: st.SignSTE.apply(t),
            (cr.tensor([0.3], dtype=cr.float64, requires_grad=True),),
            raise_exception=False,
        )
        is False
    )  # not the true derivative

    results = st.main(verbose=False)
    ste, sign = results["ste"], results["sign"]
    assert ste["hidden_values"] == sign["hidden_values"] == [-1.0, 1.0]  # binary units in both
    assert sign["first_layer_grad_norm"] == 0.0 and sign["first_layer_moved"] == 0.0
    assert ste["first_layer_grad_norm"] > 0.0 and ste["first_layer_moved"] > 0.0
    assert ste["accuracy"] >= 0.93
    assert ste["accuracy"] > sign["accuracy"] + 0.1
