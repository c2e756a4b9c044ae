"""The reverse-mode engine: traversal, accumulation, hooks, modes, release, versions."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GradientError


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_long_chain_needs_no_recursion():
    limit = sys.getrecursionlimit()
    x = t64([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    assert sys.getrecursionlimit() == limit
    np.testing.assert_allclose(x.grad._data, [1.0001**10_000], rtol=1e-9)


def test_shared_subgraph_diamond_and_self_use():
    x = t64([2.0, -3.0])
    a = x * 3.0
    b = a.exp()
    c = a * a
    (b + c).sum().backward()
    # d/dx [exp(3x) + 9x^2] = 3 exp(3x) + 18 x
    np.testing.assert_allclose(x.grad._data, 3 * np.exp(3 * x._data) + 18 * x._data)
    z = t64([1.5])
    (z + z).sum().backward()
    np.testing.assert_allclose(z.grad._data, [2.0])
    w = t64([1.5])
    (w * w * w).sum().backward()
    np.testing.assert_allclose(w.grad._data, [3 * 1.5**2])


def test_retain_graph_accumulates_exactly_twice():
    x = t64([1.0, 2.0, 3.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad._data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad._data, 2 * first)


def test_second_backward_through_freed_graph_raises():
    x = t64([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(GradientError, match="second time|freed"):
        y.backward()


def test_saved_arrays_released_after_backward():
    x = t64(np.ones(4))
    y = x.exp()
    node = y.grad_fn
    z = y.sum()
    assert node.out is not None
    z.backward()
    assert node.out is None


def test_backward_needs_gradient_for_non_scalar():
    x = t64([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(GradientError, match=r"shape \(2,\).*gradient"):
        y.backward()
    y.backward(cr.tensor(np.array([1.0, 10.0])))
    np.testing.assert_allclose(x.grad._data, [2.0, 20.0])


def test_backward_gradient_shape_must_match():
    x = t64([1.0, 2.0])
    with pytest.raises(cr.ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(cr.ones(3, dtype=cr.float64))


def test_backward_on_tensor_without_history_raises():
    with pytest.raises(GradientError, match="does not require grad"):
        cr.ones(2).sum().backward()


def test_grad_function_leaves_dot_grad_alone():
    x = t64([1.0, 2.0])
    y = t64([3.0, 4.0])
    out = (x * y).sum()
    gx, gy = cr.autograd.grad(out, [x, y])
    np.testing.assert_allclose(gx._data, y._data)
    np.testing.assert_allclose(gy._data, x._data)
    assert x.grad is None and y.grad is None


def test_grad_of_intermediate():
    x = t64([1.0, 2.0])
    h = x * 3.0
    out = (h * h).sum()
    (gh,) = cr.autograd.grad(out, h)
    np.testing.assert_allclose(gh._data, 2 * h._data)


def test_grad_unused_input_raises_or_none():
    x = t64([1.0])
    unused = t64([2.0])
    out = (x * 2.0).sum()
    with pytest.raises(GradientError, match="not part of the graph"):
        cr.autograd.grad(out, [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad(out, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx._data, [2.0])


def test_grad_input_that_does_not_require_grad():
    x = t64([1.0])
    c = t64([1.0], requires_grad=False)
    with pytest.raises(GradientError, match="does not require grad"):
        cr.autograd.grad((x * c).sum(), [c])


def test_hessian_vector_product():
    # f(x) = sum(x^3) + x0*x1 ; H = diag(6x) + [[0,1],[1,0]]
    x = t64([1.0, 2.0])
    v = t64([0.5, -1.0], requires_grad=False)
    f = (x**3).sum() + x[0] * x[1]
    (g,) = cr.autograd.grad(f, x, create_graph=True)
    (hv,) = cr.autograd.grad((g * v).sum(), x)
    hessian = np.diag(6 * x._data) + np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(hv._data, hessian @ v._data)


def test_grad_of_grad_via_backward_create_graph():
    x = t64([0.3, -0.7])
    y = x.tanh().sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    # d/dx (1 - tanh^2) = -2 tanh (1 - tanh^2)
    th = np.tanh(x._data)
    np.testing.assert_allclose(x.grad._data, -2 * th * (1 - th**2))


def test_third_order():
    x = t64([0.4])
    y = x.sin()
    (g1,) = cr.autograd.grad(y, x, create_graph=True)
    (g2,) = cr.autograd.grad(g1, x, create_graph=True)
    (g3,) = cr.autograd.grad(g2, x)
    np.testing.assert_allclose(g3._data, -np.cos(x._data))


def test_no_grad_records_nothing_and_works_as_decorator():
    x = t64([1.0])
    with cr.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None

    @cr.no_grad()
    def f(t):
        return t * 2.0

    assert not f(x).requires_grad
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with cr.enable_grad():
            assert (x * 2.0).requires_grad
        assert not (x * 2.0).requires_grad


def test_set_grad_enabled_three_ways():
    x = t64([1.0])
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)

    @cr.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert cr.is_grad_enabled()
    assert not f(x).requires_grad


def test_leaf_grads_never_share_memory():
    a = t64([1.0, 2.0])
    b = t64([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad._data, b.grad._data)
    a.grad._data += 1
    np.testing.assert_allclose(b.grad._data, [1.0, 1.0])


def test_user_gradient_is_not_aliased_into_grad():
    a = t64([1.0, 2.0])
    seed = cr.tensor(np.array([1.0, 1.0]))
    (a * 1.0).backward(seed)
    seed._data[0] = 100.0
    assert a.grad._data[0] == 1.0


def test_broadcast_gradients_are_summed_back():
    a = t64(np.ones((2, 3)))
    b = t64(np.ones((3,)))
    c = t64(np.ones((2, 1)))
    (a * b * c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (2, 1)
    np.testing.assert_allclose(b.grad._data, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(c.grad._data, [[3.0], [3.0]])


def test_deterministic_results():
    def run():
        cr.manual_seed(3)
        x = cr.randn(5, 4, requires_grad=True)
        w = cr.randn(4, 3, requires_grad=True)
        h = (x @ w).tanh()
        (h * h + h.exp()).sum().backward()
        return x.grad._data.copy(), w.grad._data.copy()

    a, b = run(), run()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ------------------------------------------------------------------ hooks and retain_grad


def test_retain_grad_on_intermediate():
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad._data, 2 * h._data)
    assert h.retains_grad


def test_non_leaf_has_no_grad_without_retain():
    x = t64([1.0, 2.0])
    h = x * 3.0
    (h * h).sum().backward()
    assert h.grad is None


def test_hook_can_replace_gradient():
    x = t64([1.0, 2.0])
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: seen.append(g._data.copy()))
    h.register_hook(lambda g: g * 0.0)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * h._data)
    np.testing.assert_allclose(x.grad._data, [0.0, 0.0])


def test_leaf_hook_and_remove():
    x = t64([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10.0)
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad._data, [10.0, 10.0])
    handle.remove()
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad._data, [1.0, 1.0])


# ------------------------------------------------------------------ memory


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = cr.randn(3, requires_grad=True)
        y = (x.exp() * x).sum()
        node_ref = weakref.ref(y.grad_fn)
        y.backward()
        del y
        assert node_ref() is None, "the graph must be freed by reference counting alone"
        h = x * 2.0
        h.retain_grad()
        ref = weakref.ref(h)
        del h
        assert ref() is None
    finally:
        gc.enable()


# ------------------------------------------------------------------ in place and versions


def test_modifying_saved_tensor_raises_naming_op_and_versions():
    x = t64([1.0, 2.0])
    h = x * 1.0
    y = h * h  # mul saves h
    h.add_(1.0)
    with pytest.raises(GradientError, match=r"mul.*version is 1.*was 0"):
        y.sum().backward()


def test_modifying_saved_output_raises():
    x = t64([1.0, 2.0])
    y = x.exp()  # exp saves its output
    y.mul_(2.0)
    with pytest.raises(GradientError, match="exp"):
        y.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises():
    x = t64([1.0])
    with pytest.raises(GradientError, match="leaf"):
        x.add_(1.0)
    with cr.no_grad():
        x.add_(1.0)
    assert x._data[0] == 2.0


def test_inplace_ops_keep_gradients_right():
    x = t64([1.0, -2.0, 3.0])
    h = x * 2.0
    h.add_(1.0)
    const = 2 * x._data + 1
    h.mul_(cr.tensor(const))
    h.relu_()
    h.sum().backward()
    # h = relu((2x + 1) * const) -> d/dx = 2 * const where positive
    expected = np.where((2 * x._data + 1) * const > 0, 2 * const, 0)
    np.testing.assert_allclose(x.grad._data, expected)


def test_setitem_records_gradient():
    x = t64([1.0, 2.0, 3.0])
    v = t64([10.0])
    out = x * 1.0
    out[1:2] = v * 2.0
    (out * t64([1.0, 2.0, 3.0], False)).sum().backward()
    np.testing.assert_allclose(x.grad._data, [1.0, 0.0, 3.0])
    np.testing.assert_allclose(v.grad._data, [4.0])


def test_inplace_on_view_while_recording_is_refused():
    x = t64([1.0, 2.0])
    h = x * 1.0
    v = h[0:1]
    with pytest.raises(GradientError, match="view"):
        v.mul_(2.0)


def test_version_counter_bumps():
    x = cr.zeros(3)
    assert x._version is None or x._version[0] == 0
    x.add_(1.0)
    x[0] = 5.0
    assert x._version[0] == 2
    d = x.detach()
    d.zero_()
    assert x._version[0] == 3 and x._data[0] == 0.0


def test_leaf_gradients_are_accumulated_as_soon_as_they_are_complete():
    """A weight used late in forward has its .grad before backward reaches the first ops."""
    seen = {}
    late = t64([2.0])

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            seen["late_grad"] = None if late.grad is None else late.grad._data.copy()
            return g

    x = t64([1.0, 3.0])
    (Probe.apply(x) * late).sum().backward()
    np.testing.assert_allclose(seen["late_grad"], [4.0])
    np.testing.assert_allclose(x.grad._data, [2.0, 2.0])
