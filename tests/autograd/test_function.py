"""Custom ops through cr.autograd.Function."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GradientError


class Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3.0 * x * x


class ScaledExp(cr.autograd.Function):
    """Saves its output and takes a non-tensor argument."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        out = (x * scale).exp()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out * ctx.scale, None


class SplitSign(cr.autograd.Function):
    """Two outputs, one of them marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.mark_non_differentiable(mask)
        ctx.save_for_backward(x)
        return x * 2.0, mask

    @staticmethod
    def backward(ctx, grad_out, grad_mask):
        assert ctx.needs_input_grad == (True,)
        return grad_out * 2.0


def x64(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_custom_function_gradcheck_first_and_second_order():
    x = x64([0.5, -1.2, 2.0])
    assert cr.autograd.gradcheck(Cube.apply, (x,))
    assert cr.autograd.gradgradcheck(Cube.apply, (x,))


def test_saved_output_and_non_tensor_argument():
    x = x64([0.1, 0.4])
    assert cr.autograd.gradcheck(lambda t: ScaledExp.apply(t, 1.5), (x,))
    assert cr.autograd.gradgradcheck(lambda t: ScaledExp.apply(t, 1.5), (x,))


def test_non_differentiable_output():
    x = x64([1.0, -1.0])
    y, mask = SplitSign.apply(x)
    assert y.requires_grad and not mask.requires_grad
    assert mask.dtype == cr.bool
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, [2.0, 2.0])


def test_needs_input_grad_and_no_grad_inputs():
    seen = {}

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    a = x64([1.0])
    b = cr.tensor(np.array([2.0]))
    Probe.apply(a, b).sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_allclose(a.grad._data, [1.0])


def test_forward_runs_without_recording():
    class Inside(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            inner = x * 2.0
            assert not inner.requires_grad
            return inner

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    x = x64([1.0])
    assert Inside.apply(x).requires_grad


def test_backward_returning_wrong_type_is_an_error():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g._data  # an array, not a Tensor

    with pytest.raises(TypeError, match="Bad.backward"):
        Bad.apply(x64([1.0])).sum().backward()


def test_saved_tensors_freed_after_backward():
    seen = {}

    class Keep(Cube):
        @staticmethod
        def forward(ctx, x):
            seen["ctx"] = ctx
            return Cube.forward(ctx, x)

    x = x64([1.0])
    y = Keep.apply(x)
    y.sum().backward()
    with pytest.raises(GradientError, match="freed"):
        seen["ctx"].saved_tensors


def test_ctx_attributes_never_collide_with_the_graph():
    class Busy(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.args, ctx.next, ctx.saved, ctx.shapes, ctx.out = "a", "b", "c", "d", "e"
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            assert (ctx.args, ctx.next, ctx.saved, ctx.shapes, ctx.out) == ("a", "b", "c", "d", "e")
            return g * 2.0

    x = x64([1.0, 2.0])
    (Busy.apply(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad._data, 4 * x._data)


def test_custom_function_in_a_bigger_graph_matches_builtin():
    x = x64([0.3, -0.8, 1.1])
    (Cube.apply(x.sin()) * 2.0).sum().backward()
    custom = x.grad._data.copy()
    x.grad = None
    ((x.sin() ** 3) * 2.0).sum().backward()
    np.testing.assert_allclose(custom, x.grad._data)
