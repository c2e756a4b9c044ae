"""RNN, LSTM, GRU and cells: gradients against central differences (float64), the two backward paths of the
fused layer ops, shapes and layouts, dropout between layers, initialization, state-dict names and errors.

Parity with PyTorch (values and gradients) is in test_recurrent_parity.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.ops.recurrent import gru_layer, lstm_layer, rnn_layer


def _randomize(module, rng, scale=0.5):
    with cr.no_grad():
        for _, p in module.named_parameters():
            p.copy_(cr.tensor(rng.uniform(-scale, scale, p.shape)))


def _params(module):
    return [p for _, p in module.named_parameters()]


def _module_fn(module, n_states):
    """fn(x, *states, *params) -> every output, for gradcheck (the params are the module's own tensors)."""

    def fn(x, *rest):
        states = rest[:n_states]
        if not states:
            hx = None
        elif len(states) == 2:
            hx = tuple(states)
        else:
            hx = states[0]
        out, h = module(x, hx)
        return (out, *h) if isinstance(h, tuple) else (out, h)

    return fn


# ---------------------------------------------------------------------------------------- gradcheck

MODULES = {
    "lstm_2layer_bidir": (lambda: nn.LSTM(2, 2, num_layers=2, bidirectional=True), (3, 2, 2), 2),
    "lstm_batch_first_nobias": (lambda: nn.LSTM(2, 3, bias=False, batch_first=True), (2, 3, 2), 2),
    "lstm_unbatched": (lambda: nn.LSTM(2, 2), (3, 2), 0),
    "gru_2layer_bidir": (lambda: nn.GRU(2, 2, num_layers=2, bidirectional=True), (3, 2, 2), 1),
    "gru_batch_first": (lambda: nn.GRU(3, 2, batch_first=True), (2, 3, 3), 1),
    "rnn_tanh_2layer_bidir": (lambda: nn.RNN(2, 3, num_layers=2, bidirectional=True), (3, 2, 2), 1),
    "rnn_relu": (lambda: nn.RNN(2, 3, nonlinearity="relu"), (3, 2, 2), 0),
}


def _setup(name, seed=0):
    factory, shape, n_states = MODULES[name]
    module = factory().double()
    rng = np.random.default_rng(seed)
    _randomize(module, rng)
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    layers = module.num_layers * (2 if module.bidirectional else 1)
    batched = len(shape) == 3
    batch = shape[0] if module.batch_first else shape[1]
    state_shape = (layers, batch, module.hidden_size) if batched else (layers, module.hidden_size)
    states = [cr.tensor(rng.standard_normal(state_shape) * 0.5, requires_grad=True) for _ in range(n_states)]
    return module, x, states


@pytest.mark.parametrize("name", sorted(MODULES))
def test_gradcheck_input_states_and_parameters(name):
    module, x, states = _setup(name)
    fn = _module_fn(module, len(states))
    assert gradcheck(fn, (x, *states, *_params(module)), eps=1e-6, atol=1e-6, rtol=1e-4)


SECOND_ORDER = ["lstm_2layer_bidir", "gru_batch_first", "rnn_tanh_2layer_bidir"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_gradgradcheck_input_and_states(name):
    """Second order through the Tensor-op backward (create_graph=True) of the fused layers."""
    module, x, states = _setup(name, seed=1)
    fn = _module_fn(module, len(states))
    assert gradgradcheck(fn, (x, *states), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradgradcheck_reaches_parameters():
    module = nn.LSTM(2, 2).double()
    _randomize(module, np.random.default_rng(3))
    x = cr.tensor(np.random.default_rng(4).standard_normal((2, 1, 2)), requires_grad=True)
    fn = _module_fn(module, 0)
    assert gradgradcheck(fn, (x, module.weight_hh_l0, module.bias_ih_l0), eps=1e-6, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------------------- the two backward paths


def _layer_case(kind, reverse, seed):
    rng = np.random.default_rng(seed)
    steps, batch, features, hidden = 4, 3, 2, 3
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]

    def t(*shape):
        return cr.tensor(rng.standard_normal(shape) * 0.6, requires_grad=True)

    x = t(steps, batch, features)
    states = [t(batch, hidden) for _ in range(2 if kind == "lstm" else 1)]
    weights = [t(gates * hidden, features), t(gates * hidden, hidden), t(gates * hidden), t(gates * hidden)]
    inputs = [x, *states, *weights]
    if kind == "lstm":
        return inputs, lambda *a: lstm_layer(*a, reverse=reverse)
    if kind == "gru":
        return inputs, lambda *a: gru_layer(*a, reverse=reverse)
    return inputs, lambda *a: rnn_layer(*a, nonlinearity="tanh", reverse=reverse)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_backward_paths_agree(kind, reverse):
    """The raw-array BPTT (first order) and the Tensor-op BPTT (create_graph) give the same gradients."""
    inputs, fn = _layer_case(kind, reverse, seed=7)
    outs = fn(*inputs)
    rng = np.random.default_rng(8)
    seeds = [cr.tensor(rng.standard_normal(o.shape)) for o in outs]
    fast = cr.autograd.grad(list(outs), inputs, seeds)
    outs = fn(*inputs)
    graph = cr.autograd.grad(list(outs), inputs, seeds, create_graph=True)
    for i, (a, b) in enumerate(zip(fast, graph)):
        assert a.shape == b.shape == inputs[i].shape
        np.testing.assert_allclose(a._data, b._data, rtol=1e-10, atol=1e-12, err_msg=f"input {i}")
    assert all(g.requires_grad for g in graph)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_gradients_over_several_weight_gradient_chunks(reverse):
    """The LSTM's weight gradients are taken a few steps at a time (4H * N * steps <= 2**17): 19 steps at
    H = 64, N = 64 run as chunks of 8, 8 and 3, and must equal the Tensor-op backward."""
    rng = np.random.default_rng(11)
    steps, batch, features, hidden = 19, 64, 5, 64

    def t(*shape):
        return cr.tensor(rng.standard_normal(shape) * 0.3, requires_grad=True)

    inputs = [
        t(steps, batch, features),
        t(batch, hidden),
        t(batch, hidden),
        t(4 * hidden, features),
        t(4 * hidden, hidden),
        t(4 * hidden),
        t(4 * hidden),
    ]
    seeds = [cr.tensor(rng.standard_normal(s)) for s in ((steps, batch, hidden), (batch, hidden), (batch, hidden))]
    fast = cr.autograd.grad(list(lstm_layer(*inputs, reverse=reverse)), inputs, seeds)
    graph = cr.autograd.grad(list(lstm_layer(*inputs, reverse=reverse)), inputs, seeds, create_graph=True)
    for i, (a, b) in enumerate(zip(fast, graph)):
        np.testing.assert_allclose(a._data, b._data, rtol=1e-10, atol=1e-11, err_msg=f"input {i}")


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("wanted", [(0,), (0, 1), (3, 5), (4, 6), (1, 2, 3)], ids=str)
def test_gradients_of_some_inputs_equal_those_of_all(kind, wanted):
    """Asking for a subset of the gradients (frozen weights, no state gradients) changes none of them."""
    inputs, fn = _layer_case(kind, False, seed=9)
    wanted = [i for i in wanted if i < len(inputs)]
    outs = fn(*inputs)
    seeds = [cr.tensor(np.random.default_rng(10).standard_normal(o.shape)) for o in outs]
    everything = cr.autograd.grad(list(outs), inputs, seeds)
    outs = fn(*inputs)
    some = cr.autograd.grad(list(outs), [inputs[i] for i in wanted], seeds)
    for i, g in zip(wanted, some):
        np.testing.assert_allclose(g._data, everything[i]._data, rtol=1e-12, atol=1e-14, err_msg=f"input {i}")


def test_reverse_direction_is_the_forward_direction_on_flipped_time():
    inputs, forward = _layer_case("lstm", False, seed=11)
    _, backward = _layer_case("lstm", True, seed=11)
    x, rest = inputs[0], inputs[1:]
    out_rev, h_rev, c_rev = backward(x, *rest)
    out_fwd, h_fwd, c_fwd = forward(x.flip(0), *rest)
    np.testing.assert_allclose(out_rev._data, out_fwd.flip(0)._data, rtol=1e-12)
    np.testing.assert_allclose(h_rev._data, h_fwd._data, rtol=1e-12)
    np.testing.assert_allclose(c_rev._data, c_fwd._data, rtol=1e-12)


def test_lstm_matches_an_unrolled_composite():
    """The fused layer against the LSTM equations written with Tensor ops (gate order i, f, g, o)."""
    inputs, fn = _layer_case("lstm", False, seed=5)
    x, h, c, w_ih, w_hh, b_ih, b_hh = inputs
    out, h_n, c_n = fn(*inputs)
    outs = []
    for t in range(x.shape[0]):
        i, f, g, o = (x[t] @ w_ih.mT + b_ih + h @ w_hh.mT + b_hh).chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        outs.append(h)
    np.testing.assert_allclose(out._data, cr.stack(outs)._data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n._data, h._data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_n._data, c._data, rtol=1e-12, atol=1e-14)


def test_gru_matches_an_unrolled_composite():
    """GRU equations with PyTorch's n gate: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    inputs, fn = _layer_case("gru", False, seed=6)
    x, h, w_ih, w_hh, b_ih, b_hh = inputs
    out, h_n = fn(*inputs)
    for t in range(x.shape[0]):
        xr, xz, xn = (x[t] @ w_ih.mT + b_ih).chunk(3, dim=-1)
        hr, hz, hn = (h @ w_hh.mT + b_hh).chunk(3, dim=-1)
        r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(out[t]._data, h._data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n._data, h._data, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_shapes_and_float32(cls, batch_first, bidirectional):
    module = cls(3, 4, num_layers=2, batch_first=batch_first, bidirectional=bidirectional)
    x = cr.randn(5, 2, 3)  # (L, N) or, batch first, (N, L)
    out, h = module(x)
    directions = 2 if bidirectional else 1
    assert out.shape == (5, 2, 4 * directions) and out.dtype == cr.float32
    batch = 5 if batch_first else 2
    states = h if isinstance(h, tuple) else (h,)
    for s in states:
        assert s.shape == (2 * directions, batch, 4) and s.dtype == cr.float32
    (out.sum() + sum(s.sum() for s in states)).backward()
    assert all(p.grad is not None and p.grad.dtype == cr.float32 for p in module.parameters())


def test_h_n_is_the_last_output_of_each_direction():
    module = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    out, h_n = module(cr.randn(2, 5, 3))
    np.testing.assert_array_equal(h_n[0]._data, out[:, -1, :4]._data)  # forward direction: last time step
    np.testing.assert_array_equal(h_n[1]._data, out[:, 0, 4:]._data)  # backward direction: first time step


def test_unbatched_equals_batch_of_one():
    module = nn.LSTM(3, 4, num_layers=2)
    x = cr.randn(5, 3)
    h0, c0 = cr.randn(2, 4), cr.randn(2, 4)
    out, (h, c) = module(x, (h0, c0))
    out_b, (h_b, c_b) = module(x.unsqueeze(1), (h0.unsqueeze(1), c0.unsqueeze(1)))
    assert out.shape == (5, 4) and h.shape == c.shape == (2, 4)
    np.testing.assert_allclose(out._data, out_b[:, 0]._data, rtol=1e-6)
    np.testing.assert_allclose(c._data, c_b[:, 0]._data, rtol=1e-6)


def test_initial_state_is_used():
    module = nn.RNN(2, 3)
    x = cr.randn(4, 2, 2)
    out_zero, _ = module(x)
    out_given, _ = module(x, cr.zeros(1, 2, 3))
    out_other, _ = module(x, cr.ones(1, 2, 3))
    np.testing.assert_array_equal(out_zero._data, out_given._data)
    assert not np.allclose(out_zero._data, out_other._data)


@pytest.mark.parametrize("cls, n_states", [(nn.RNNCell, 1), (nn.LSTMCell, 2), (nn.GRUCell, 1)])
def test_cells_equal_one_step_of_the_layer(cls, n_states):
    layer_cls = {nn.RNNCell: nn.RNN, nn.LSTMCell: nn.LSTM, nn.GRUCell: nn.GRU}[cls]
    cell, layer = cls(3, 4), layer_cls(3, 4)
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = cr.randn(2, 3)
    states = [cr.randn(2, 4) for _ in range(n_states)]
    hx = tuple(states) if n_states == 2 else states[0]
    cell_out = cell(x, hx)
    _, layer_state = layer(x.unsqueeze(0), tuple(s.unsqueeze(0) for s in states) if n_states == 2 else hx.unsqueeze(0))
    cell_out = cell_out if isinstance(cell_out, tuple) else (cell_out,)
    layer_state = layer_state if isinstance(layer_state, tuple) else (layer_state,)
    for a, b in zip(cell_out, layer_state):
        np.testing.assert_allclose(a._data, b[0]._data, rtol=1e-6)
    unbatched = cell(x[0], tuple(s[0] for s in states) if n_states == 2 else states[0][0])
    unbatched = unbatched if isinstance(unbatched, tuple) else (unbatched,)
    assert all(u.shape == (4,) for u in unbatched)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cell_gradcheck(cls):
    cell = cls(2, 3).double()
    _randomize(cell, np.random.default_rng(2))
    x = cr.tensor(np.random.default_rng(3).standard_normal((2, 2)), requires_grad=True)

    def fn(x, *params):
        out = cell(x)
        return out if isinstance(out, tuple) else (out,)

    assert gradcheck(fn, (x, *_params(cell)), atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------------------------------- dropout


def _relay(dropout):
    """Layer 0: relu of a positive projection; layer 1 passes its input through (identity W_ih, W_hh = 0)."""
    module = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False, dropout=dropout)
    with cr.no_grad():
        module.weight_ih_l0.copy_(cr.full((4, 3), 0.5))
        module.weight_hh_l0.copy_(cr.zeros(4, 4))
        module.weight_ih_l1.copy_(cr.eye(4))
        module.weight_hh_l1.copy_(cr.zeros(4, 4))
    return module


def test_dropout_between_layers_statistics():
    p = 0.3
    module = _relay(p)
    cr.manual_seed(0)
    x = cr.rand(50, 40, 3) + 0.1
    layer0 = (x @ cr.full((3, 4), 0.5)).relu()  # what layer 1 receives before dropout
    out, _ = module(x)
    kept = out._data != 0
    n = kept.size
    fraction_dropped = 1 - kept.mean()
    assert abs(fraction_dropped - p) < 4 * math.sqrt(p * (1 - p) / n)  # binomial, 4 standard deviations
    np.testing.assert_allclose(out._data[kept], layer0._data[kept] / (1 - p), rtol=1e-5)
    module.eval()
    out_eval, _ = module(x)
    np.testing.assert_allclose(out_eval._data, layer0._data, rtol=1e-6)


def test_dropout_masks_differ_between_calls_and_follow_the_seed():
    module = _relay(0.5)
    x = cr.rand(6, 5, 3) + 0.1
    cr.manual_seed(1)
    a, _ = module(x)
    b, _ = module(x)
    cr.manual_seed(1)
    c, _ = module(x)
    assert not np.array_equal(a._data, b._data)
    np.testing.assert_array_equal(a._data, c._data)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)


# ---------------------------------------------------------------------------------------- parameters


def test_parameter_names_follow_pytorch():
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = list(module.state_dict())
    expected = [
        f"{kind}_l{layer}{suffix}"
        for layer in range(2)
        for suffix in ("", "_reverse")
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    assert names == expected
    shapes = {n: tuple(p.shape) for n, p in module.named_parameters()}
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_ih_l1_reverse"] == (16, 8)
    assert shapes["weight_hh_l1"] == (16, 4) and shapes["bias_hh_l0_reverse"] == (16,)
    assert [len(group) for group in module.all_weights] == [4, 4, 4, 4]
    assert list(nn.GRU(2, 3, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU, nn.LSTMCell])
def test_initialization_is_uniform_within_one_over_sqrt_hidden(cls):
    cr.manual_seed(0)
    hidden = 64
    module = cls(32, hidden)
    bound = 1 / math.sqrt(hidden)
    values = np.concatenate([p._data.ravel() for p in module.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b / sqrt(3)
    assert abs(values.mean()) < 0.02 * bound


def test_repr_names_the_settings():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


def test_functional_lstm_equals_the_module():
    module = nn.LSTM(3, 4, bidirectional=True)
    x = cr.randn(5, 2, 3)
    out, (h, c) = module(x)
    out_f, (h_f, c_f) = F.lstm(x, None, [p for p in module.parameters()], bidirectional=True)
    np.testing.assert_array_equal(out._data, out_f._data)
    np.testing.assert_array_equal(c._data, c_f._data)


def test_double_module_runs_in_float64():
    module = nn.GRU(3, 4).double()
    out, h = module(cr.randn(2, 2, 3, dtype=cr.float64))
    assert out.dtype == h.dtype == cr.float64


# ---------------------------------------------------------------------------------------- errors


def test_input_size_mismatch_names_layer_and_shapes():
    with pytest.raises(cr.ShapeError, match=r"LSTM: expected input_size=5 .* got shape \(3, 4, 7\)"):
        nn.LSTM(5, 6)(cr.randn(3, 4, 7))


def test_wrong_number_of_dimensions():
    with pytest.raises(cr.ShapeError, match="GRU: expected a 2-d"):
        nn.GRU(3, 4)(cr.randn(2, 3, 4, 3))


def test_initial_state_shape_mismatch():
    with pytest.raises(cr.ShapeError, match=r"LSTM: expected c_0 of shape \(2, 3, 4\), got \(2, 1, 4\)"):
        nn.LSTM(2, 4, num_layers=2)(cr.randn(5, 3, 2), (cr.zeros(2, 3, 4), cr.zeros(2, 1, 4)))
    with pytest.raises(cr.ShapeError, match=r"RNN: expected h_0 of shape \(1, 4\)"):
        nn.RNN(2, 4)(cr.randn(5, 2), cr.zeros(1, 1, 4))  # unbatched input needs a 2-d state


def test_lstm_state_must_be_a_pair():
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        nn.LSTM(2, 3)(cr.randn(4, 1, 2), cr.zeros(1, 1, 3))


def test_dtype_mismatch_is_an_error():
    with pytest.raises(cr.DTypeError, match="float64 but the weights are float32"):
        nn.LSTM(2, 3)(cr.randn(4, 1, 2, dtype=cr.float64))


def test_cell_errors():
    with pytest.raises(cr.ShapeError, match=r"GRUCell: expected input_size=3"):
        nn.GRUCell(3, 4)(cr.randn(2, 5))
    with pytest.raises(cr.ShapeError, match=r"LSTMCell: expected cx of shape \(2, 4\)"):
        nn.LSTMCell(3, 4)(cr.randn(2, 3), (cr.zeros(2, 4), cr.zeros(3, 4)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(2, 3, num_layers=2, dropout=1.5)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(2, 3, proj_size=2)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(2, 0)


def test_backward_after_changing_a_weight_in_place_is_an_error():
    module = nn.LSTM(2, 3)
    out, _ = module(cr.randn(4, 1, 2))
    with cr.no_grad():
        module.weight_hh_l0.mul_(2)
    with pytest.raises(cr.GradientError, match="lstm_layer"):
        out.sum().backward()
