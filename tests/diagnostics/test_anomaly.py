"""detect_anomaly: the first op that makes a NaN or inf, forward or backward, named with the user's source line."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import AnomalyError, detect_anomaly, set_detect_anomaly
from chainrule.autograd.anomaly import is_anomaly_enabled
from chainrule.autograd.mode import anomaly_state
from chainrule.nn import functional as F


def here():
    """The line number of the caller's call to here()."""
    return inspect.currentframe().f_back.f_lineno


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
    assert anomaly_state() is None, "a test left anomaly mode on"


def test_forward_nan_names_op_shapes_and_line():
    x = cr.tensor([[1.0, -1.0, 2.0]], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = here() + 1
        y = (x * 2).log()  # noqa: F841
    err = info.value
    assert err.op == "log" and err.phase == "forward"
    text = str(err)
    assert "forward of 'log' produced NaN" in text and "from finite inputs" in text
    assert "input 0: (1, 3) float32" in text
    assert f"{__file__}:{line}" in text
    assert "y = (x * 2).log()" in text
    assert err.trace.location == (__file__, line, "test_forward_nan_names_op_shapes_and_line")


def test_backward_inf_names_the_vjp_and_where_the_op_was_made():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        line = here() + 1
        y = x.sqrt().sum()
        with pytest.raises(AnomalyError) as info:
            y.backward()
    err = info.value
    assert err.op == "sqrt" and err.phase == "backward"
    assert "backward of 'sqrt' returned inf (1 of 2 values) in the gradient for its input 0 (shape (2,))" in str(err)
    assert f"{__file__}:{line}" in str(err) and "y = x.sqrt().sum()" in str(err)
    assert x.grad is None  # stopped before anything reached the leaf


def test_the_first_bad_op_is_reported_not_a_later_one():
    # the NaN made by sqrt(-1) flows through three more ops; only sqrt is blamed
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        ((x.sqrt() * 3).exp() + 1).sum()
    assert info.value.op == "sqrt"


def test_op_inside_a_layer_points_at_the_users_line_not_the_library():
    cr.manual_seed(0)
    layer = nn.Linear(3, 2)
    with cr.no_grad():
        layer.weight[0, 0] = math.nan
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = here() + 1
        layer(cr.ones(4, 3))
    err = info.value
    assert err.op == "linear"
    assert "already contained NaN" in str(err)
    assert err.trace.location[:2] == (__file__, line)
    assert "Linear.forward" in str(err)  # the chainrule path is shown, after the user's line


def test_nan_in_data_is_reported_as_coming_from_outside():
    w = cr.ones(3, requires_grad=True)
    data = cr.tensor([1.0, math.nan, 2.0])
    with detect_anomaly(), pytest.raises(AnomalyError, match="already contained NaN"):
        w * data


def test_cross_entropy_of_nan_logits_and_custom_functions():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x / 0.0

        @staticmethod
        def backward(ctx, g):
            return g

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        Bad.apply(x)
    assert info.value.op == "Bad" and "produced inf" in str(info.value)

    class NanBackward(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * math.nan

    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        NanBackward.apply(x).sum().backward()
    assert info.value.op == "NanBackward" and info.value.phase == "backward"


def test_intended_infinities_are_not_anomalies():
    x = cr.randn(2, 4, requires_grad=True)
    mask = np.array([[False, True, False, True]] * 2)
    with detect_anomaly():
        masked = x.masked_fill(mask, -math.inf)  # asked for: the argument is -inf
        weights = masked.softmax(-1)  # -inf in, finite out
        additive = x + cr.tensor(np.where(mask, -np.inf, 0.0).astype(np.float32))  # passes an inf on
        (weights.sum() + additive.softmax(-1).sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_a_fully_masked_row_is_caught():
    x = cr.randn(2, 3, requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        x.masked_fill(np.ones((2, 3), bool), -math.inf).softmax(-1)
    assert "NaN" in str(info.value)


def test_same_values_and_gradients_with_and_without():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = cr.randn(6, 5), cr.tensor([0, 1, 2, 0, 1, 2])

    def run():
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss.item(), [p.grad.numpy().copy() for p in model.parameters()]

    plain = run()
    with detect_anomaly():
        checked = run()
    assert plain[0] == checked[0]
    for a, b in zip(plain[1], checked[1]):
        assert np.array_equal(a, b)


def test_switching_nesting_decorator_and_plain_call():
    assert not is_anomaly_enabled()
    with detect_anomaly():
        assert is_anomaly_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()

    @detect_anomaly()
    def inside():
        return is_anomaly_enabled()

    assert inside() and not is_anomaly_enabled()

    @set_detect_anomaly(True)
    def also_inside():
        return is_anomaly_enabled()

    assert not is_anomaly_enabled()  # decorating does not switch it on
    assert also_inside() and not is_anomaly_enabled()

    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()

    with pytest.raises(ValueError), detect_anomaly():
        raise ValueError("the mode is restored on errors too")
    assert not is_anomaly_enabled()


def test_traces_only_while_on_and_check_nan_false_records_without_checking():
    x = cr.tensor([-1.0], requires_grad=True)
    assert x.sqrt().grad_fn.trace is None  # off: nothing recorded, no cost
    with detect_anomaly(check_nan=False):
        y = x.sqrt()  # NaN, but values are not checked
    assert math.isnan(y.item())
    assert y.grad_fn.trace is not None and y.grad_fn.trace.location[0] == __file__
    with cr.no_grad(), detect_anomaly():
        z = x.sqrt()  # not recorded, so not checked (documented)
    assert math.isnan(z.item())


def test_a_graph_recorded_before_anomaly_mode_still_gets_a_clear_backward_error():
    x = cr.tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()
    with detect_anomaly(), pytest.raises(AnomalyError, match="recorded before anomaly detection was on"):
        y.backward()


def test_anomaly_error_is_a_runtime_and_floating_point_error():
    assert issubclass(AnomalyError, RuntimeError)
    assert issubclass(AnomalyError, FloatingPointError)
    assert issubclass(AnomalyError, cr.ChainruleError)
    assert cr.diagnostics.detect_anomaly is detect_anomaly
