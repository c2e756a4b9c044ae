"""chainrule.compile: a captured step replays bit for bit what eager runs, and falls back where it cannot."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

compile_module = sys.modules["chainrule.compile"]


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS thread: the GEMMs' thread count is chosen by timing, and it changes the float rounding."""
    before = cr.get_num_threads()
    cr.set_num_threads(1)
    yield
    cr.set_num_threads(before)


def _model(name):
    if name == "tiny":
        return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)), (16, 32)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        return model, (128, 784)
    if name == "deep":
        layers = []
        for _ in range(49):
            layers += [nn.Linear(256, 256), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(256, 10)), (64, 256)

    class Encoder(nn.Module):  # benchmarks/steps.py's transformer
        def __init__(self):
            super().__init__()
            self.block = nn.TransformerEncoderLayer(
                128, 4, 512, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.block(x).mean(dim=1))

    return Encoder(), (16, 64, 128)


def _pair(name, optimizer):
    """Two copies of a model (same weights) with their optimizers, and a few batches."""
    cr.manual_seed(0)
    first, shape = _model(name)
    second, _ = _model(name)
    second.load_state_dict(first.state_dict())
    make = {"sgd": lambda p: cr.optim.SGD(p, lr=0.01, momentum=0.9), "adam": lambda p: cr.optim.Adam(p, lr=1e-3)}
    rng = np.random.default_rng(1)
    batches = [
        (cr.tensor(rng.standard_normal(shape).astype(np.float32)), cr.tensor(rng.integers(0, 10, size=shape[0])))
        for _ in range(3)
    ]
    return (
        (first, make[optimizer](list(first.parameters()))),
        (second, make[optimizer](list(second.parameters()))),
        batches,
    )


def _step_of(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _bits(t):
    return t._data.tobytes()


def _assert_same_models(a, b):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert _bits(p) == _bits(q), name
        assert _bits(p.grad) == _bits(q.grad), name


@pytest.mark.parametrize(
    ("name", "optimizer", "steps"),
    [("tiny", "sgd", 8), ("mlp", "sgd", 5), ("deep", "sgd", 5), ("transformer", "adam", 5)],
)
def test_replay_is_bit_for_bit_eager(name, optimizer, steps):
    (m1, o1), (m2, o2), batches = _pair(name, optimizer)
    eager, compiled = _step_of(m1, o1), cr.compile(_step_of(m2, o2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: every step is captured
        for i in range(steps):
            x, y = batches[i % len(batches)]
            assert _bits(eager(x, y)) == _bits(compiled(x, y)), i
    _assert_same_models(m1, m2)
    assert f"replayed: {steps - 2} call(s)" in compiled.explain()


def test_new_signature_traces_again_and_keeps_both_plans():
    (m1, o1), (m2, o2), batches = _pair("tiny", "sgd")
    eager, compiled = _step_of(m1, o1), cr.compile(_step_of(m2, o2))
    x, y = batches[0]
    for i in range(8):
        xi, yi = (x, y) if i % 2 else (x[:5], y[:5])  # two batch sizes, alternating
        assert _bits(eager(xi, yi)) == _bits(compiled(xi, yi))
    _assert_same_models(m1, m2)
    assert "2 signature(s)" in compiled.explain()
    assert compiled.explain().count("replayed: 2 call(s)") == 2


def _armed_tiny():
    """tiny with SGD twice, one step eager and one compiled, after three steps each (the plan armed):
    ((m1, o1), (m2, o2), eager, compiled, (x, y), plan)."""
    (m1, o1), (m2, o2), batches = _pair("tiny", "sgd")
    eager, compiled = _step_of(m1, o1), cr.compile(_step_of(m2, o2))
    x, y = batches[0]
    for _ in range(3):
        eager(x, y), compiled(x, y)
    (plan,) = [entry[1] for entry in compiled.plans.values()]
    return (m1, o1), (m2, o2), eager, compiled, (x, y), plan


def test_guard_miss_on_a_module_flag_or_a_parameter_traces_again():
    (m1, _), (m2, _), eager, compiled, (x, y), plan = _armed_tiny()
    m2.eval(), m1.eval()  # a flag the trace read: the plan no longer holds
    assert not plan.valid()
    for _ in range(3):
        assert _bits(eager(x, y)) == _bits(compiled(x, y))
    _assert_same_models(m1, m2)


def test_optimizer_and_scheduler_run_live():
    (m1, o1), (m2, o2), batches = _pair("tiny", "sgd")
    s1 = cr.optim.lr_scheduler.StepLR(o1, step_size=2, gamma=0.5)
    s2 = cr.optim.lr_scheduler.StepLR(o2, step_size=2, gamma=0.5)

    def make(model, opt, sched):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            return loss, {"logits_sum": model(x).sum()}

        return step

    eager, compiled = make(m1, o1, s1), cr.compile(make(m2, o2, s2))
    for i in range(7):
        x, y = batches[i % 3]
        (l1, d1), (l2, d2) = eager(x, y), compiled(x, y)
        assert _bits(l1) == _bits(l2) and _bits(d1["logits_sum"]) == _bits(d2["logits_sum"])
        if i == 4:
            o1.param_groups[0]["momentum"] = o2.param_groups[0]["momentum"] = 0.5  # read live by step()
    assert o1.param_groups[0]["lr"] == o2.param_groups[0]["lr"] == 0.01 * 0.5**3
    _assert_same_models(m1, m2)
    assert "replayed: 5" in compiled.explain()


def _eager_case(body):
    """Run a step whose body the trace cannot capture, compiled and eager: same results, a warning, eager."""
    cr.manual_seed(0)
    w1 = cr.randn(4, 3, requires_grad=True)
    w2 = cr.tensor(w1._data.copy(), requires_grad=True)
    x = cr.randn(2, 4)

    def make(w):
        opt = cr.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = body(x, w)
            loss.backward()
            opt.step()
            return loss

        return step

    eager, compiled = make(w1), cr.compile(make(w2))
    cr.manual_seed(5)
    expected = [_bits(eager(x)) for _ in range(4)]
    cr.manual_seed(5)
    with pytest.warns(RuntimeWarning, match="runs eagerly") as record:
        got = [_bits(compiled(x)) for _ in range(4)]
    assert got == expected and _bits(w1) == _bits(w2)
    assert len(record) == 1  # once per reason
    assert "eager (" in compiled.explain()
    return compiled.explain()


def test_python_read_of_a_tensor_is_eager():
    def body(x, w):
        y = x @ w
        return y.sum() * 2.0 if y.sum().item() > 0 else y.sum()

    assert "item" in _eager_case(body)


def test_random_draw_is_eager():
    assert "random draw" in _eager_case(lambda x, w: (x @ w + cr.randn(2, 3)).sum())


def test_dropout_replays_fresh_masks_in_eager_order():
    cr.manual_seed(0)
    first = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10), nn.Dropout(0.1))
    second = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 10), nn.Dropout(0.1))
    second.load_state_dict(first.state_dict())
    eager = _step_of(first, cr.optim.SGD(first.parameters(), lr=0.1))
    compiled = cr.compile(_step_of(second, cr.optim.SGD(second.parameters(), lr=0.1)))
    rng = np.random.default_rng(0)
    x, y = cr.tensor(rng.standard_normal((16, 32)).astype(np.float32)), cr.tensor(rng.integers(0, 10, 16))
    cr.manual_seed(7)
    expected = [_bits(eager(x, y)) for _ in range(6)]
    cr.manual_seed(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = [_bits(compiled(x, y)) for _ in range(6)]
    assert got == expected and len(set(got)) == 6  # fresh masks: every loss differs
    _assert_same_models(first, second)
    assert "replayed: 4" in compiled.explain()
    after_compiled = cr.random.numpy_rng().random()  # the generator is where eager leaves it
    cr.manual_seed(7)
    for _ in range(6):
        eager(x, y)
    assert cr.random.numpy_rng().random() == after_compiled


def test_in_place_write_is_eager():
    def body(x, w):
        y = x @ w
        y += 1.0
        return y.sum()

    assert "eager (" in _eager_case(body)  # seen as a tensor rewritten outside the op table


def test_hook_is_eager():
    def body(x, w):
        y = x @ w
        y.register_hook(lambda g: g * 2)
        return y.sum()

    assert "register_hook" in _eager_case(body)


def test_fresh_array_each_call_is_eager():
    def body(x, w):
        return (x @ w * cr.tensor(np.full(3, 2.0, np.float32))).sum()  # a new constant each call

    assert "different steps" in _eager_case(body)


def test_custom_function_is_eager():
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    assert "eager" in _eager_case(lambda x, w: Double.apply(x @ w).sum())


def test_modes_run_eagerly_without_tracing():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    compiled = cr.compile(lambda x: (w * x).sum())
    with cr.autograd.detect_anomaly():
        compiled(cr.tensor([1.0, 1.0]))
    assert compiled.plans == {}
    with cr.no_grad():  # grad mode is part of the key
        for _ in range(3):
            out = compiled(cr.tensor([1.0, 1.0]))
    assert not out.requires_grad
    out = compiled(cr.tensor([1.0, 1.0]))
    assert out.requires_grad and len(compiled.plans) == 2


def test_trace_leaves_no_patch_behind():
    prim = next(iter(cr.autograd.graph.PRIMITIVES.values()))
    before = (prim.fwd, cr.Tensor.item, cr.nn.Module.__call__, cr.optim.SGD.step, cr.autograd.graph._record)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    compiled = cr.compile(lambda x: (w * x).sum())
    compiled(cr.tensor([1.0, 1.0]))
    with pytest.raises(cr.ShapeError):  # an error inside the traced step
        cr.compile(lambda x: (w * x) + cr.ones(3))(cr.tensor([1.0, 1.0]))
    after = (prim.fwd, cr.Tensor.item, cr.nn.Module.__call__, cr.optim.SGD.step, cr.autograd.graph._record)
    assert before == after
    assert compile_module._TRACE is None
    assert type(vars(cr.Tensor)["grad"]).__name__ == "member_descriptor"
    assert cr.nn.Module.__setattr__.__qualname__ == "Module.__setattr__"
    assert not hasattr(cr.amp.GradScaler.step, "__wrapped__")  # functools.wraps marks the wrappers


def test_returned_input_and_aliasing():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    compiled = cr.compile(lambda a, b: (a * b * w, a))
    x, y = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
    for _ in range(3):
        out, same = compiled(x, x)
        assert same is x and out.tolist() == [1.0, 8.0]
    for _ in range(3):
        out, same = compiled(x, y)
        assert same is x and out.tolist() == [3.0, 16.0]


def test_leaf_hook_added_after_capture_and_explicit_gradient_take_the_engine():
    w1 = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w2 = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ones = cr.ones(3)

    def make(w):
        def step(x):
            w.grad = None  # replayed
            (w * x).backward(ones)  # an explicit gradient: the engine's own walk
            (w * x).sum().backward()  # the captured walk
            return w.grad

        return step

    eager, compiled = make(w1), cr.compile(make(w2))
    x = cr.tensor([1.0, -1.0, 2.0])
    for i in range(5):
        if i == 3:  # a hook on a leaf, added after the plan was armed: it must run
            w1.register_hook(lambda g: g * 10)
            w2.register_hook(lambda g: g * 10)
        assert eager(x).tolist() == compiled(x).tolist()
    assert "replayed: 3" in compiled.explain()


def test_assigning_data_is_eager():
    def body(x, w):
        y = x @ w
        w.data = w.data  # not seen by a replay
        return y.sum()

    assert "Tensor.data" in _eager_case(body)


def test_shapes_that_depend_on_the_data_fall_back():
    w1 = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w2 = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)

    def make(w):
        opt = cr.optim.SGD([w], lr=0.1)

        def step(x, mask):
            opt.zero_grad()
            loss = (w * x)[mask].sum()  # how many elements: the mask's data decides
            loss.backward()
            opt.step()
            return loss

        return step

    eager, compiled = make(w1), cr.compile(make(w2))
    x = cr.tensor([1.0, 2.0, 3.0, 4.0])
    masks = [cr.tensor([True, False, True, False]), cr.tensor([True, True, True, False])]
    with pytest.warns(RuntimeWarning, match="depends on the data"):
        for i in range(6):
            m = masks[0] if i < 4 else masks[1]  # the same mask while the plan is made, then another
            assert _bits(eager(x, m)) == _bits(compiled(x, m))
    assert _bits(w1) == _bits(w2)
    assert "depends on the data" in compiled.explain()


def test_a_module_option_or_a_swapped_layer_traces_again():
    (m1, o1), (m2, o2), eager, compiled, (x, y), plan = _armed_tiny()
    assert plan.valid()
    m1[4], m2[4] = nn.Linear(64, 10), nn.Linear(64, 10)  # a new head: its parameters are not the plan's
    m2[4].load_state_dict(m1[4].state_dict())
    o1.add_param_group({"params": list(m1[4].parameters())})
    o2.add_param_group({"params": list(m2[4].parameters())})
    assert not plan.valid()
    for _ in range(3):
        assert _bits(eager(x, y)) == _bits(compiled(x, y))
    _assert_same_models(m1, m2)


def test_module_state_set_by_the_step():
    cr.manual_seed(0)

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1  # Python state: a replay would not count
            return self.fc(x) * (2.0 if self.calls % 2 else 1.0)

    model = Counting()
    compiled = cr.compile(lambda x: model.train()(x).sum())  # train(): sets flags that are already set
    x = cr.ones(2, 3)
    with pytest.warns(RuntimeWarning, match="sets Counting.calls"):
        got = [compiled(x).item() for _ in range(6)]
    assert model.calls == 6 and got[0] == 2 * got[1] == got[2]


def test_grad_scaler_and_detached_input_are_eager():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    scaler = cr.amp.GradScaler()

    def scaled(x):
        opt.zero_grad()
        scaler.scale((w * x).sum()).backward()
        scaler.step(opt)
        scaler.update()
        return w

    compiled = cr.compile(scaled)
    with pytest.warns(RuntimeWarning, match="GradScaler"):
        for _ in range(3):
            compiled(cr.ones(2))
    compiled = cr.compile(lambda x: (w * x.detach()).sum())
    with pytest.warns(RuntimeWarning, match="outside the op table"):
        for _ in range(3):
            compiled(cr.ones(2))
