"""jvp, jacfwd and linearize against torch.func in float64 (values to 1e-10), and how they compose."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.forward import forward_levels
from chainrule.errors import DTypeError, ShapeError
from chainrule.func._forward import jacfwd, jvp, linearize

from ..ops.helpers import make_inputs
from ..ops.specs import SPECS

torch = pytest.importorskip("torch")
tf = torch.func

TOL = dict(rtol=1e-10, atol=1e-10)


def _arr(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def _pair(seed, *shape):
    a = _arr(seed, *shape)
    return cr.from_numpy(a.copy()), torch.from_numpy(a.copy())


def _close(ours, theirs):
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            _close(ours[k], theirs[k])
    elif isinstance(theirs, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _close(a, b)
    else:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **TOL)


# the same function written for both libraries: (chainrule version, torch version)
def _mlp(lib):
    def f(x, w, b):
        return ((x @ w.T + b).tanh() * x.sum()).exp().sum(-1)

    return f


def _both(name):
    fns = {
        "sin_exp": (lambda x: x.sin() * x.exp(), lambda x: x.sin() * x.exp()),
        "softmax": (lambda x: x.softmax(-1) * x, lambda x: x.softmax(-1) * x),
        "norm_div": (lambda x: x / x.norm(), lambda x: x / x.norm()),
        "logsumexp": (lambda x: x.logsumexp(-1), lambda x: x.logsumexp(-1)),
        "reshape_matmul": (
            lambda x: x.reshape(-1, 2).T @ x.reshape(-1, 2),
            lambda x: x.reshape(-1, 2).T @ x.reshape(-1, 2),
        ),
        "index_cumsum": (lambda x: x[:, 1:].cumsum(0) ** 2, lambda x: x[:, 1:].cumsum(0) ** 2),
        "max_min": (lambda x: x.amax(0) - x.amin(1).sum(), lambda x: x.amax(0) - x.amin(1).sum()),
    }
    return fns[name]


@pytest.mark.parametrize(
    "name", ["sin_exp", "softmax", "norm_div", "logsumexp", "reshape_matmul", "index_cumsum", "max_min"]
)
def test_jvp_matches_torch(name):
    ours, theirs = _both(name)
    x, xt = _pair(0, 3, 4)
    v, vt = _pair(1, 3, 4)
    out, tangent = jvp(ours, (x,), (v,))
    out_t, tangent_t = tf.jvp(theirs, (xt,), (vt,))
    _close(out, out_t)
    _close(tangent, tangent_t)


def test_jvp_several_primals_pytrees_and_aux():
    def ours(params, xs):
        h = (xs[0] @ params["w"].T + params["b"]).tanh()
        return {"y": h * xs[1], "s": [h.sum(), (h * h).mean()]}, h.detach()

    theirs = ours  # the same code runs on both libraries
    x0, x0t = _pair(2, 5, 3)
    x1, x1t = _pair(3, 5, 4)
    w, wt = _pair(4, 4, 3)
    b, bt = _pair(5, 4)
    tw, twt = _pair(6, 4, 3)
    tb, tbt = _pair(7, 4)
    t0, t0t = _pair(8, 5, 3)
    t1, t1t = _pair(9, 5, 4)
    out, tangent, aux = jvp(ours, ({"w": w, "b": b}, [x0, x1]), ({"w": tw, "b": tb}, [t0, t1]), has_aux=True)
    out_t, tangent_t, aux_t = tf.jvp(
        theirs, ({"w": wt, "b": bt}, [x0t, x1t]), ({"w": twt, "b": tbt}, [t0t, t1t]), has_aux=True
    )
    _close(out, out_t)
    _close(tangent, tangent_t)
    _close(aux, aux_t)


def test_jvp_of_an_output_that_does_not_depend_on_the_primals():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    c = cr.tensor([3.0, 4.0], dtype=cr.float64)
    _, tangent = jvp(lambda x: (x * 2, c * 1), (x,), (cr.ones_like(x),))
    assert tangent[1].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="does not depend"):
        jvp(lambda x: (x * 2, c * 1), (x,), (cr.ones_like(x),), strict=True)


@pytest.mark.parametrize("argnums", [0, 1, (0, 2), (2, 1)])
def test_jacfwd_matches_torch(argnums):
    f = _mlp(None)
    x, xt = _pair(10, 2, 3)
    w, wt = _pair(11, 4, 3)
    b, bt = _pair(12, 4)
    _close(jacfwd(f, argnums=argnums)(x, w, b), tf.jacfwd(f, argnums=argnums)(xt, wt, bt))


def test_jacfwd_pytrees_and_aux():
    def f(params, x):
        y = (x @ params["w"] + params["b"]).sin()
        return (y, {"sq": (y * y).sum(0)}), y.sum()

    w, wt = _pair(13, 3, 2)
    b, bt = _pair(14, 2)
    x, xt = _pair(15, 4, 3)
    jac, aux = jacfwd(f, has_aux=True)({"w": w, "b": b}, x)
    jac_t, aux_t = tf.jacfwd(f, has_aux=True)({"w": wt, "b": bt}, xt)
    _close(jac, jac_t)
    _close(aux, aux_t)


def test_jacfwd_of_jacrev_is_the_hessian():
    def f(x):
        return (x.sin() * x.cumsum(0)).sum() + (x @ x) ** 2

    x, xt = _pair(16, 4)
    _close(jacfwd(cr.func.jacrev(f))(x), tf.hessian(f)(xt))
    # and forward over forward
    _close(jacfwd(jacfwd(f))(x), tf.hessian(f)(xt))


def test_jvp_of_grad_and_grad_of_jvp():
    def f(x):
        return (x.tanh() * x.exp()).sum()

    x, xt = _pair(17, 5)
    v, vt = _pair(18, 5)
    # forward over reverse: a Hessian-vector product
    _, hvp = jvp(cr.func.grad(f), (x,), (v,))
    _, hvp_t = tf.jvp(tf.grad(f), (xt,), (vt,))
    _close(hvp, hvp_t)
    # reverse over forward: the gradient of a directional derivative is the same Hessian-vector product
    g = cr.func.grad(lambda x: jvp(f, (x,), (v,))[1])(x)
    _close(g, hvp_t)


def test_jvp_of_jvp_is_a_second_directional_derivative():
    def f(x):
        return (x.sin() * x).sum()

    x, xt = _pair(19, 4)
    u, ut = _pair(20, 4)
    v, vt = _pair(21, 4)
    _, second = jvp(lambda x: jvp(f, (x,), (u,))[1], (x,), (v,))
    _, second_t = tf.jvp(lambda x: tf.jvp(f, (x,), (ut,))[1], (xt,), (vt,))
    _close(second, second_t)


def test_nested_levels_are_kept_apart():
    # perturbation confusion: d/dx [x * d/dy (x + y)] = 1, not 2
    x = cr.tensor(3.0, dtype=cr.float64)
    one = cr.ones_like(x)

    def inner(x):
        return x * jvp(lambda y: x + y, (x,), (one,))[1]

    assert jvp(inner, (x,), (one,))[1].item() == 1.0


def test_linearize_matches_torch():
    def f(x):
        return (x.exp() * x.cos()).cumsum(0)

    x, xt = _pair(22, 5)
    v, vt = _pair(23, 5)
    out, fn = linearize(f, x)
    out_t, fn_t = tf.linearize(f, xt)
    _close(out, out_t)
    _close(fn(v), fn_t(vt))
    _close(fn(v * 2), fn_t(vt * 2))


def test_layers_through_functional_call():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.LayerNorm(4), cr.nn.GELU(), cr.nn.Linear(4, 2)).double()
    params = dict(model.named_parameters())
    tparams = {k: cr.from_numpy(_arr(i, *p.shape)) for i, (k, p) in enumerate(params.items())}
    x, xt = _pair(30, 5, 3)

    tmodel = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.GELU(), torch.nn.Linear(4, 2)
    ).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(model.named_parameters(), tmodel.named_parameters()):
            q.copy_(torch.from_numpy(p.numpy()))
    tparams_t = {k: torch.from_numpy(v.numpy()) for k, v in tparams.items()}
    params_t = dict(tmodel.named_parameters())
    params_t = {k: v.detach() for k, v in params_t.items()}
    _, tangent = jvp(lambda p: cr.func.functional_call(model, p, (x,)), (params,), (tparams,))
    _, tangent_t = tf.jvp(lambda p: tf.functional_call(tmodel, p, (xt,)), (params_t,), (tparams_t,))
    _close(tangent, tangent_t)


def test_errors():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    with pytest.raises(TypeError, match="tuple"):
        jvp(cr.sin, x, (x,))
    with pytest.raises(ShapeError, match="shape"):
        jvp(cr.sin, (x,), (cr.ones(3, dtype=cr.float64),))
    with pytest.raises(DTypeError, match="dtype"):
        jvp(cr.sin, (x,), (cr.ones(2, dtype=cr.float32),))
    with pytest.raises(ValueError, match="randomness"):
        jacfwd(lambda x: x * cr.rand(2, dtype=cr.float64))(x)
    assert jacfwd(lambda x: x * cr.rand(2, dtype=cr.float64), randomness="same")(x).shape == (2, 2)
    with pytest.raises(ValueError, match="argnums"):
        jacfwd(cr.sin, argnums=3)(x)
    assert forward_levels() == ()  # every level closed, errors included


def test_float32_stays_float32():
    x = cr.tensor([0.5, 1.0], dtype=cr.float32)
    out, tangent = jvp(lambda x: (x.tanh() * 2.0).softmax(0), (x,), (cr.ones_like(x),))
    assert out.dtype == cr.float32 and tangent.dtype == cr.float32
    assert jacfwd(lambda x: x.exp() * 0.5)(x).dtype == cr.float32


def test_levels_are_per_thread():
    seen = []
    x = cr.tensor([1.0], dtype=cr.float64)

    def other():
        seen.append(forward_levels())

    def f(x):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        return x * 2

    jvp(f, (x,), (cr.ones_like(x),))
    assert seen == [()]


def test_vmap_of_jvp_and_jvp_of_vmap_match_torch():
    w, wt = _pair(40, 4, 4)
    x, xt = _pair(41, 3, 4)
    v, vt = _pair(42, 3, 4)

    def ours(r):
        return (r @ w).tanh().sum()

    def theirs(r):
        return (r @ wt).tanh().sum()

    per_row = cr.func.vmap(lambda r, t: jvp(ours, (r,), (t,))[1])(x, v)
    per_row_t = tf.vmap(lambda r, t: tf.jvp(theirs, (r,), (t,))[1])(xt, vt)
    _close(per_row, per_row_t)
    _close(jvp(cr.func.vmap(ours), (x,), (v,))[1], tf.jvp(tf.vmap(theirs), (xt,), (vt,))[1])


def test_jacfwd_vmaps_the_basis(monkeypatch):
    import chainrule.func._forward as forward

    def no_loop(*args):
        raise AssertionError("jacfwd fell back to the loop of jvps")

    monkeypatch.setattr(forward, "_columns_by_loop", no_loop)
    x, xt = _pair(43, 3)
    w, wt = _pair(44, 2, 3)
    _close(
        jacfwd(lambda w, x: (w @ x).sin(), argnums=(0, 1))(w, x),
        tf.jacfwd(lambda w, x: (w @ x).sin(), argnums=(0, 1))(wt, xt),
    )


def test_in_place_ops_carry_tangents():
    def f(x):
        y = x * 2
        y += x.sin()
        y.mul_(x)
        y[0] = x[1] ** 3
        return y

    x, xt = _pair(45, 3)
    v, vt = _pair(46, 3)
    _close(jvp(f, (x,), (v,))[1], tf.jvp(f, (xt,), (vt,))[1])


def test_fill_and_copy_carry_tangents():
    def f(x):
        y = x * 1.0
        y.copy_(x.flip(0) ** 2)
        z = x * 1.0
        z.fill_(3.0)
        return y + z

    x, xt = _pair(47, 3)
    v, vt = _pair(48, 3)
    _close(jvp(f, (x,), (v,))[1], tf.jvp(f, (xt,), (vt,))[1])


def test_in_place_writes_into_views_are_refused_under_jvp():
    def f(x):
        y = x * 1.0
        y[1:].copy_(x[:2] ** 2)  # y's tangent would not follow
        return y

    x = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)
    with pytest.raises(cr.errors.ChainruleError, match="view"):
        jvp(f, (x,), (cr.ones_like(x),))
    assert forward_levels() == ()


def _twins(ours, theirs):
    """Copy our model's parameters into the torch twin (same names); returns (params, torch params)."""
    with torch.no_grad():
        named = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            named[name].copy_(torch.from_numpy(p.numpy()))
    params = dict(ours.named_parameters())
    return params, {k: v.detach() for k, v in theirs.named_parameters()}


def _tangents_for(params, seed):
    ours = {k: cr.from_numpy(_arr(seed + i, *p.shape)) for i, (k, p) in enumerate(params.items())}
    return ours, {k: torch.from_numpy(v.numpy()) for k, v in ours.items()}


@pytest.mark.parametrize("kind", ["cnn", "lstm", "gru", "attention"])
def test_jvp_through_nn_layers_matches_torch(kind):
    cr.manual_seed(0)
    nn, tnn = cr.nn, torch.nn
    if kind == "cnn":
        ours = nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1),
            nn.BatchNorm2d(3, track_running_stats=False),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(12, 4),
        )
        theirs = tnn.Sequential(
            tnn.Conv2d(2, 3, 3, padding=1),
            tnn.BatchNorm2d(3, track_running_stats=False),  # torch.func refuses in-place buffer updates
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Flatten(),
            tnn.Linear(12, 4),
        )
        shape = (5, 2, 4, 4)
    elif kind in ("lstm", "gru"):
        ours = getattr(nn, kind.upper())(3, 4, num_layers=2, batch_first=True)
        theirs = getattr(tnn, kind.upper())(3, 4, num_layers=2, batch_first=True)
        shape = (2, 5, 3)
    else:
        ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        theirs = tnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        shape = (2, 3, 8)
    ours, theirs = ours.double(), theirs.double()
    params, params_t = _twins(ours, theirs)
    tangents, tangents_t = _tangents_for(params, 50)
    x, xt = _pair(60, *shape)
    target = np.random.default_rng(61).integers(0, 4, size=shape[0])

    def loss(out):
        out = out[0] if isinstance(out, tuple) else out
        return out.reshape(shape[0], -1)[:, :4]

    def f(p, x):
        y = loss(cr.func.functional_call(ours, p, (x,)))
        return y, cr.nn.functional.cross_entropy(y, cr.from_numpy(target))

    def f_t(p, x):
        y = loss(tf.functional_call(theirs, p, (x,)))
        return y, torch.nn.functional.cross_entropy(y, torch.from_numpy(target))

    out, tangent = jvp(f, (params, x), (tangents, x * 0.5))
    if kind == "attention":  # torch has no forward AD for its CPU attention kernel: central differences instead
        eps = 1e-6
        shifted = [
            f(
                {k: cr.from_numpy(p.numpy() + s * eps * tangents[k].numpy()) for k, p in params.items()},
                x * (1 + s * eps * 0.5),
            )
            for s in (1, -1)
        ]
        for got, plus, minus in zip(tangent, *shifted):
            np.testing.assert_allclose(got.numpy(), (plus.numpy() - minus.numpy()) / (2 * eps), rtol=1e-6, atol=1e-7)
        return
    out_t, tangent_t = tf.jvp(f_t, (params_t, xt), (tangents_t, xt * 0.5))
    _close(out, out_t)
    _close(tangent, tangent_t)


# ---------------------------------------------------------------- every op with a torch twin (the gradcheck specs)

PARITY = [(s, i) for s in SPECS if s.torch_fn is not None for i in range(len(s.parity_shapes))]


@pytest.mark.parametrize("spec, k", PARITY, ids=[f"{s.name}-{k}" for s, k in PARITY])
def test_jvp_of_every_op_matches_torch(spec, k):
    shapes = spec.parity_shapes[k]
    inputs = tuple(make_inputs(spec, shapes, ["c"] * len(shapes), seed=k, requires_grad=False))
    rng = np.random.default_rng(100 + k)
    tangents = tuple(cr.from_numpy(rng.standard_normal(x.shape)) for x in inputs)
    inputs_t = tuple(torch.from_numpy(x.numpy().copy()) for x in inputs)
    tangents_t = tuple(torch.from_numpy(t.numpy().copy()) for t in tangents)
    try:
        out_t, tangent_t = tf.jvp(spec.torch_fn, inputs_t, tangents_t)
    except (NotImplementedError, RuntimeError) as exc:
        pytest.skip(f"torch has no forward AD here: {str(exc).splitlines()[0][:80]}")
    out, tangent = jvp(lambda *xs: spec.fn(*xs), inputs, tangents)
    outs, tangents_out = _as_tuple(out), _as_tuple(tangent)
    for o, t, o_t, t_t in zip(outs, tangents_out, _as_tuple(out_t), _as_tuple(tangent_t)):
        if not torch.is_floating_point(o_t):
            continue
        np.testing.assert_allclose(o.numpy(), o_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(t.numpy(), t_t.detach().numpy(), rtol=1e-9, atol=1e-10, err_msg=spec.name)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def test_grad_of_jvp_leaves_no_reference_cycles():
    import gc

    x = cr.tensor([0.5, -1.0, 2.0], dtype=cr.float64, requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            t = jvp(lambda x: x.tanh().exp().sum(), (x,), (cr.ones_like(x),))[1]
            cr.autograd.grad(t, x)
        del t
        assert gc.collect() == 0  # the graph is freed by reference counting alone
    finally:
        gc.enable()


def test_vmap_of_jvp_through_max_along_a_dim():
    x = cr.from_numpy(_arr(70, 3, 4))
    x[0, 1] = x[0, 0] = 5.0  # a tie: the first maximum is the one picked, as argmax does
    v = cr.from_numpy(_arr(71, 3, 4))
    for keepdim in (False, True):

        def f(x, keepdim=keepdim):
            return x.max(dim=0, keepdim=keepdim).values

        batched = cr.func.vmap(lambda x, v: jvp(f, (x,), (v,))[1])(x, v)
        one_by_one = cr.stack([jvp(f, (x[i],), (v[i],))[1] for i in range(3)])
        np.testing.assert_array_equal(batched.numpy(), one_by_one.numpy())
    with pytest.raises(NotImplementedError, match="max_pool"):
        cr.func.vmap(lambda x, v: jvp(lambda x: cr.nn.functional.max_pool1d(x[None], 2), (x,), (v,))[1])(x, v)


def test_custom_functions_under_forward_mode():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x * x * x

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 3 * ctx.x * ctx.x

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 3 * ctx.x * ctx.x

    class Double(cr.autograd.Function):  # no jvp
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    one = cr.ones_like(x)
    assert jvp(Cube.apply, (x,), (one,))[1].tolist() == [3.0, 12.0]
    # its jvp is differentiable again: forward over forward, and reverse over forward
    assert jvp(lambda x: jvp(Cube.apply, (x,), (one,))[1], (x,), (one,))[1].tolist() == [6.0, 12.0]
    assert cr.func.grad(lambda x: jvp(Cube.apply, (x,), (one,))[1].sum())(x).tolist() == [6.0, 12.0]
    with pytest.raises(cr.errors.GradientError, match="Double.*jvp"):
        jvp(Double.apply, (x,), (one,))
    assert Double.apply(x).tolist() == [2.0, 4.0]  # outside forward mode nothing changes


def test_jvp_through_a_module_with_a_full_backward_hook():
    lin = cr.nn.Linear(3, 2).double()
    lin.register_full_backward_hook(lambda module, grad_input, grad_output: None)
    x = cr.from_numpy(_arr(80, 4, 3)).requires_grad_()
    v = cr.from_numpy(_arr(81, 4, 3))
    _, tangent = jvp(lambda x: lin(x).tanh().sum(), (x,), (v,))
    with cr.no_grad():
        expected = ((1 - lin(x).tanh() ** 2) * (v @ lin.weight.T)).sum()
    np.testing.assert_allclose(tangent.item(), expected.item(), rtol=1e-12)
