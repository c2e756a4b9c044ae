"""nn.Module: registration, traversal, modes, state dicts, hooks, containers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(cr.ones(4))
        self.register_buffer("steps", cr.zeros(1))
        self.register_buffer("scratch", cr.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.b = Block()
        self.shared = self.a.fc  # the same module under two names: its parameters are listed once

    def forward(self, x):
        return self.b.fc(self.a(x)[:, :3]).sum()


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["a.scale", "a.fc.weight", "a.fc.bias", "b.scale", "b.fc.weight", "b.fc.bias"]
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_buffers()] == ["a.steps", "a.scratch", "b.steps", "b.scratch"]
    assert [n for n, _ in net.named_children()] == ["a", "b", "shared"]  # as in PyTorch
    assert len(list(net.modules())) == 5  # net, a, a.fc, b, b.fc
    assert isinstance(net.a.scale, nn.Parameter) and not isinstance(net.a.steps, nn.Parameter)
    assert net.a.note == "plain attribute"
    assert net.get_submodule("a.fc") is net.a.fc and net.get_parameter("b.fc.bias") is net.b.fc.bias


def test_state_dict_keys_and_round_trip():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == [
        "a.scale",
        "a.steps",
        "a.fc.weight",
        "a.fc.bias",
        "b.scale",
        "b.steps",
        "b.fc.weight",
        "b.fc.bias",
        "shared.weight",
        "shared.bias",
    ]  # state_dict lists shared modules under each name
    assert "a.scratch" not in sd  # non-persistent buffer
    other = Net()
    result = other.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in other.state_dict().items():
        assert np.array_equal(v.numpy(), sd[k].numpy())


def test_load_state_dict_names_every_problem():
    net = Net()
    sd = dict(net.state_dict())
    del sd["a.scale"]
    sd["extra.weight"] = cr.zeros(2)
    sd["b.fc.weight"] = cr.zeros(5, 5)
    with pytest.raises(ShapeError) as info:
        Net().load_state_dict(sd)
    text = str(info.value)
    assert "a.scale" in text and "extra.weight" in text and "b.fc.weight" in text and "(5, 5)" in text
    sd["b.fc.weight"] = net.b.fc.weight.detach()
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["a.scale"] and result.unexpected_keys == ["extra.weight"]


def test_train_eval_zero_grad_apply_to_requires_grad():
    net = Net()
    net.eval()
    assert not net.training and not net.a.fc.training
    net.train()
    assert net.b.training
    net(cr.randn(2, 3)).backward()
    assert net.a.fc.weight.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3
    net.double()
    assert all(p.dtype == cr.float64 for p in net.parameters())
    assert net.a.steps.dtype == cr.float64
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_parameters_keep_identity_through_to():
    net = Net()
    params = list(net.parameters())
    net.to(cr.float64)
    assert all(a is b for a, b in zip(params, net.parameters()))


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0.0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1.0)
    out = lin(cr.ones(1, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.numpy(), lin.bias.numpy()[None] + 1.0, rtol=1e-6)
    pre.remove()
    post.remove()
    lin(cr.ones(1, 2))
    assert calls == ["pre", "post"]


def test_full_backward_hook_sees_and_can_replace_grads():
    lin = nn.Linear(3, 2)
    x = cr.randn(4, 3, requires_grad=True)
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["in"] = grad_input[0].numpy().copy()
        seen["out"] = grad_output[0].numpy().copy()
        return (grad_input[0] * 0.0,)

    lin.register_full_backward_hook(hook)
    (lin(x) * 2.0).sum().backward()
    np.testing.assert_allclose(seen["out"], np.full((4, 2), 2.0))
    np.testing.assert_allclose(seen["in"], 2.0 * np.ones((4, 2)) @ lin.weight.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 0.0)
    assert lin.weight.grad is not None


def test_backward_hook_when_input_needs_no_grad():
    lin = nn.Linear(3, 2)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    lin(cr.randn(4, 3)).sum().backward()
    assert seen == [((None,), (4, 2))]


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2
    assert seq(cr.randn(5, 2)).shape == (5, 1)
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.insert(0, nn.Tanh())
    assert len(ml) == 4 and len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 2)})
    assert set(md.keys()) == {"enc", "dec"} and "enc" in md and len(list(md.parameters())) == 4
    pl = nn.ParameterList([cr.ones(2), cr.zeros(3)])
    assert len(list(pl.parameters())) == 2


def test_repr_is_readable():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert repr(seq) == "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"


def test_assigning_before_init_and_wrong_types():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cr.ones(1))

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Bad()
    m = Block()
    with pytest.raises(TypeError, match="Parameter"):
        m.scale = cr.ones(4)


def test_modules_are_not_pickled():
    with pytest.raises(TypeError, match="state_dict"):
        pickle.dumps(nn.Linear(2, 2))


def test_deepcopy_makes_independent_weights_and_keeps_ties():
    import copy

    net = Net()
    twin = copy.deepcopy(net)
    assert twin.a.fc.weight is not net.a.fc.weight
    assert twin.shared is twin.a.fc  # a tie inside the model survives the copy
    np.testing.assert_array_equal(twin.b.fc.weight.numpy(), net.b.fc.weight.numpy())
    with cr.no_grad():
        twin.b.fc.weight.add_(1.0)
    assert not np.array_equal(twin.b.fc.weight.numpy(), net.b.fc.weight.numpy())
    assert isinstance(twin.a.scale, nn.Parameter) and twin.a.scale.requires_grad
    with pytest.raises(cr.GradientError, match="leaf"):
        copy.deepcopy(net.a.fc.weight * 2)
