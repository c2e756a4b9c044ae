"""nn.Sequential runs an nn.Linear and the nn.ReLU right after it as one op (``ops/layers.linear_relu``).

The fused op runs the same kernels as the two modules, so outputs and gradients must be equal bit for bit
to calling the modules one by one; anything that could see the pair's inside (hooks, an instance ``forward``,
a subclass, autocast) keeps the two calls.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.func import functional_call, grad, jvp, vmap


def _model(dtype=np.float32, inplace=False, bias=True):
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 8, bias=bias), nn.ReLU(inplace=inplace), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3), nn.ReLU()
    )
    return model.to(dtype) if dtype != np.float32 else model


def _one_by_one(model, x):
    for module in model:
        x = module(x)
    return x


def _names(t):
    """The primitives from t's node back to the input, in order of application."""
    names, node = [], t.grad_fn
    while node is not None:
        names.append(node.name)
        node = next((e[0] for e in node.next if type(e) is tuple), None)
    return names[::-1]


def _input(dtype=np.float32, rows=5):
    return cr.from_numpy(np.random.default_rng(1).standard_normal((rows, 6)).astype(dtype)).requires_grad_()


def _grads(model, x, out):
    (out * out).sum().backward()
    grads = [p.grad._data.copy() for p in model.parameters()] + [x.grad._data.copy()]
    model.zero_grad()
    x.grad = None
    return grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_pairs_equal_the_modules_bit_for_bit(dtype, inplace, bias):
    model, x = _model(dtype, inplace, bias), _input(dtype)
    fused = model(x)
    assert _names(fused) == ["linear_relu", "linear_relu", "linear_relu"]
    fused_grads = _grads(model, x, fused)
    plain = _one_by_one(model, x)
    assert _names(plain) == ["linear", "relu", "linear", "relu", "linear", "relu"]
    assert fused._data.tobytes() == plain._data.tobytes()
    for a, b in zip(fused_grads, _grads(model, x, plain)):
        assert a.tobytes() == b.tobytes()


def test_only_adjacent_linear_then_relu_fuse():
    cr.manual_seed(0)
    model = nn.Sequential(nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2))
    out = model(cr.randn(3, 4, requires_grad=True))
    assert _names(out) == ["relu", "linear", "linear_relu", "tanh", "linear"]


def test_relu_at_the_kink_and_nan_as_the_modules():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with cr.no_grad():
        model[0].weight.copy_(cr.tensor([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]]))
        model[0].bias.zero_()
    x = cr.tensor([[0.0, 1.0], [2.0, float("nan")], [-3.0, 4.0]], requires_grad=True)
    fused, plain = model(x), _one_by_one(model, x)
    assert fused._data.tobytes() == plain._data.tobytes()  # 0 at 0 (never -0.0), NaN kept
    assert np.isnan(fused._data[1, 1]) and not np.signbit(fused._data[0]).any()
    assert [g.tobytes() for g in _grads(model, x, fused)] == [g.tobytes() for g in _grads(model, x, plain)]


def test_double_backward_equals_the_modules():
    model, x = _model(np.float64), _input(np.float64)

    def second(forward):
        out = forward(x)
        (g,) = cr.autograd.grad((out**3).sum(), [x], create_graph=True)
        (gg,) = cr.autograd.grad((g * g).sum(), [model[2].weight])
        return g._data, gg._data

    for a, b in zip(second(model), second(lambda x: _one_by_one(model, x))):
        assert a.tobytes() == b.tobytes()


def test_matches_torch():
    torch = pytest.importorskip("torch")
    model, x = _model(np.float64), _input(np.float64)
    t_model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()
    t_model.append(torch.nn.ReLU())
    t_model.load_state_dict({k: torch.from_numpy(v._data.copy()) for k, v in model.state_dict().items()})
    tx = torch.from_numpy(x._data.copy()).requires_grad_()
    t_out = t_model(tx)
    (t_out * t_out).sum().backward()
    out = model(x)
    grads = _grads(model, x, out)
    np.testing.assert_allclose(out._data, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    t_grads = [p.grad.numpy() for p in t_model.parameters()] + [tx.grad.numpy()]
    for a, b in zip(grads, t_grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _hook_cases():
    def pre(m):
        m.register_forward_pre_hook(lambda mod, args: None)

    def post(m):
        m.register_forward_hook(lambda mod, args, out: None)

    def backward(m):
        m.register_full_backward_hook(lambda mod, gi, go: None)

    def instance_forward(m):
        m.forward = type(m).forward.__get__(m)

    return {"pre": pre, "post": post, "backward": backward, "instance_forward": instance_forward}


@pytest.mark.parametrize("case", list(_hook_cases()))
@pytest.mark.parametrize("which", [0, 1])
def test_a_hooked_module_keeps_both_calls(case, which):
    model = _model()
    _hook_cases()[case](model[which])
    names = [n for n in _names(model(_input())) if not n.startswith("_")]  # (backward hooks add identity nodes)
    assert names == ["linear", "relu", "linear_relu", "linear_relu"]


def test_a_forward_hook_on_the_relu_sees_the_linear_output():
    model, x = _model(), _input()
    seen = []
    model[1].register_forward_hook(lambda mod, args, out: seen.append((args[0]._data.copy(), out._data.copy())))
    model(x)
    pre = model[0](x)._data
    assert seen[0][0].tobytes() == pre.tobytes() and seen[0][1].tobytes() == np.maximum(pre, 0).tobytes()


def test_subclasses_are_not_fused():
    class MyReLU(nn.ReLU):
        def forward(self, input):  # noqa: A002
            return super().forward(input) * 2.0

    class MyLinear(nn.Linear):
        pass

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), MyReLU(), MyLinear(4, 4), nn.ReLU())
    x = cr.randn(2, 4, requires_grad=True)
    out = model(x)
    assert _names(out) == ["linear", "relu", "mul_scalar", "linear", "relu"]
    assert out._data.tobytes() == _one_by_one(model, x)._data.tobytes()


def test_autocast_keeps_both_calls():
    model, x = _model(), _input()
    with cr.amp.autocast("cpu", dtype=cr.float16):
        out = model(x)
        plain = _one_by_one(model, x)
    assert "linear_relu" not in _names(out)
    assert out._data.tobytes() == plain._data.tobytes()


def test_bad_input_gets_the_linear_layers_error():
    model = _model()
    with pytest.raises(cr.errors.ShapeError, match=r"Linear.*expected input of shape \(\*, 6\)"):
        model(cr.randn(2, 5))
    with pytest.raises(cr.errors.DTypeError, match="float64"):
        model(cr.randn(2, 6, dtype=cr.float64))


def test_transforms_through_the_fused_op():
    model, x = _model(np.float64), _input(np.float64).detach()
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xb):
        return (functional_call(model, p, (xb,)) ** 2).sum()

    # per-sample gradients: vmap over the batch of grad (the weights' tangents batched inside)
    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x[:, None])
    for i in range(x.shape[0]):
        one = grad(loss)(params, x[i : i + 1])
        for name in params:
            np.testing.assert_allclose(per_sample[name]._data[i], one[name]._data, rtol=1e-12, atol=1e-14)
    # batched weights: vmap over a stack of parameter sets
    stacked = {k: cr.stack([v, v * 0.5]) for k, v in params.items()}
    outs = vmap(lambda p: functional_call(model, p, (x,)))(stacked)
    for i, scale in enumerate((1.0, 0.5)):
        ref = functional_call(model, {k: v * scale for k, v in params.items()}, (x,))
        np.testing.assert_allclose(outs._data[i], ref._data, rtol=1e-12, atol=1e-14)
    # forward mode against the two-module graph
    tangent = cr.from_numpy(np.random.default_rng(2).standard_normal(x.shape))
    _, t_fused = jvp(model, (x,), (tangent,))
    _, t_plain = jvp(lambda x: _one_by_one(model, x), (x,), (tangent,))
    assert t_fused._data.tobytes() == t_plain._data.tobytes()


def test_compiled_step_equals_eager():
    def setup():
        model, x = _model(), _input().detach()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        return model, step, x

    (m1, eager, x), (m2, step, _) = setup(), setup()
    compiled = cr.compile(step)
    for _ in range(4):
        assert eager(x)._data.tobytes() == compiled(x)._data.tobytes()
    assert "replayed" in compiled.explain()
    assert all(p._data.tobytes() == q._data.tobytes() for p, q in zip(m1.parameters(), m2.parameters()))
