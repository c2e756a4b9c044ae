"""The reverse-mode transforms (grad, grad_and_value, vjp, jacrev, hessian) and functional_call.

Each transform is compared with torch.func on the same function in float64
(values to 1e-10) when torch is installed; jacrev is also checked against
central differences and the nesting rules (no perturbation confusion, no
leaked requires_grad, no .grad touched) without torch.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import DTypeError, ShapeError
from chainrule.func import functional_call, grad, grad_and_value, hessian, jacrev, vjp
from chainrule.func._pytree import tree_flatten, tree_map, tree_unflatten

TOL = 1e-10
RNG = np.random.default_rng(0)


def _arr(*shape):
    return RNG.standard_normal(shape)


def _cr(a):
    return cr.tensor(a, dtype=cr.float64)


def _close(ours, theirs, tol=TOL):
    """Compare a chainrule pytree with a torch (or NumPy) pytree of the same structure."""
    a, spec_a = tree_flatten(ours)
    b, spec_b = tree_flatten(theirs)
    assert len(a) == len(b), (spec_a, spec_b)
    for x, y in zip(a, b):
        x = x._data if isinstance(x, cr.Tensor) else np.asarray(x)
        y = y.detach().numpy() if hasattr(y, "detach") else np.asarray(y)
        assert x.shape == y.shape, (x.shape, y.shape)
        np.testing.assert_allclose(x, y, rtol=TOL, atol=tol)


# the same functions written twice: chainrule (lib=cr) and torch (lib=torch)
def f_scalar(lib, x):
    return (lib.sin(x) * x).sum()


def f_two(lib, x, y):
    return lib.tanh(x @ y).sum() + (x**2).sum()


def f_vector(lib, x):
    return lib.exp(x) * x.sum()


def f_params(lib, params, x):
    hidden = lib.tanh(x @ params["w"] + params["b"])
    return (hidden**2).mean() + (params["extra"][0] * params["extra"][1]).sum()


def _torch_tree(tree, torch):
    return tree_map(lambda t: torch.tensor(t._data) if isinstance(t, cr.Tensor) else t, tree)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------- pytrees


def test_pytree_round_trip():
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    tree = {"x": [1, (2, 3)], "y": Pair(4, {"z": 5}), "n": None}
    leaves, spec = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4, 5, None]
    assert tree_unflatten([v * 10 if v else v for v in leaves], spec) == {
        "x": [10, (20, 30)],
        "y": Pair(40, {"z": 50}),
        "n": None,
    }
    with pytest.raises(ValueError, match="holds 6 leaves"):
        tree_unflatten([1], spec)


# ----------------------------------------------------------------- grad against torch.func


def test_grad_matches_torch(torch):
    x = _arr(5)
    _close(grad(lambda v: f_scalar(cr, v))(_cr(x)), torch.func.grad(lambda v: f_scalar(torch, v))(torch.tensor(x)))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_grad_argnums(torch, argnums):
    x, y = _arr(3, 4), _arr(4, 2)
    ours = grad(lambda a, b: f_two(cr, a, b), argnums=argnums)(_cr(x), _cr(y))
    theirs = torch.func.grad(lambda a, b: f_two(torch, a, b), argnums=argnums)(torch.tensor(x), torch.tensor(y))
    _close(ours, theirs)


def test_grad_pytree_and_aux(torch):
    params = {"w": _cr(_arr(3, 4)), "b": _cr(_arr(4)), "extra": [_cr(_arr(2)), _cr(_arr(2))]}
    x = _cr(_arr(5, 3))

    def ours_fn(p, v):
        loss = f_params(cr, p, v)
        return loss, {"loss": loss, "twice": loss * 2}

    def torch_fn(p, v):
        loss = f_params(torch, p, v)
        return loss, {"loss": loss, "twice": loss * 2}

    g, aux = grad(ours_fn, has_aux=True)(params, x)
    tg, taux = torch.func.grad(torch_fn, has_aux=True)(_torch_tree(params, torch), torch.tensor(x._data))
    _close(g, tg)
    _close(aux, taux)
    assert isinstance(g["extra"], list) and not aux["loss"].requires_grad
    (g2, (value, aux2)) = grad_and_value(ours_fn, has_aux=True)(params, x)
    tg2, (tvalue, _) = torch.func.grad_and_value(torch_fn, has_aux=True)(
        _torch_tree(params, torch), torch.tensor(x._data)
    )
    _close((g2, value), (tg2, tvalue))
    assert not value.requires_grad


def test_grad_of_grad_matches_torch(torch):
    x = _arr(4)

    def ours(v):
        return (grad(lambda u: f_scalar(cr, u))(v) * v).sum()

    def theirs(v):
        return (torch.func.grad(lambda u: f_scalar(torch, u))(v) * v).sum()

    _close(grad(ours)(_cr(x)), torch.func.grad(theirs)(torch.tensor(x)))
    s = _cr(0.3)
    assert abs(grad(grad(grad(cr.sin)))(s).item() + np.cos(0.3)) < 1e-14


def test_nested_levels_do_not_confuse_each_other(torch):
    x = _cr(2.0)
    # d/dx [ d/dy (x * y) at y = x ] = d/dx x = 1 (perturbation confusion would give 2)
    assert grad(lambda a: grad(lambda b: a * b)(a))(x).item() == 1.0
    assert torch.func.grad(lambda a: torch.func.grad(lambda b: a * b)(a))(torch.tensor(2.0)).item() == 1.0
    # the inner function closes over the outer input: d/dx [x * d/dy (x * y**2) at y = 3] = d/dx 6x**2 = 12x
    assert grad(lambda a: a * grad(lambda b: a * b**2)(_cr(3.0)))(x).item() == pytest.approx(24.0, abs=1e-12)


def test_grad_leaves_inputs_alone():
    x = _cr([1.0, 2.0])
    g = grad(lambda v: (v**2).sum())(x)
    assert not g.requires_grad and not x.requires_grad and x.grad is None
    # an input that requires grad: .grad untouched, and the result is part of its graph (as in PyTorch)
    xr = _cr([1.0, 2.0]).requires_grad_()
    g = grad(lambda v: (v**3).sum())(xr)
    assert xr.grad is None and g.requires_grad
    (second,) = cr.autograd.grad(g.sum(), xr)
    np.testing.assert_allclose(second._data, 6 * xr._data)
    # a closed-over tensor that requires grad stays connected as well
    w = _cr([3.0]).requires_grad_()
    g = grad(lambda v: (v * w).sum())(x)
    assert g.requires_grad and w.grad is None
    # under no_grad nothing is connected
    with cr.no_grad():
        g = grad(lambda v: (v**3).sum())(xr)
    assert not g.requires_grad


def test_grad_unused_input_is_zero():
    g = grad(lambda a, b: (a * 2).sum(), argnums=(0, 1))(_cr([1.0]), _cr([[1.0, 2.0]]))
    np.testing.assert_array_equal(g[1]._data, np.zeros((1, 2)))
    assert grad(lambda a: cr.tensor(1.0, dtype=cr.float64))(_cr([1.0, 2.0])).tolist() == [0.0, 0.0]


def test_grad_errors():
    with pytest.raises(ShapeError, match="scalar"):
        grad(lambda v: v * 2)(_cr([1.0, 2.0]))
    with pytest.raises(DTypeError, match="floating point"):
        grad(lambda v: v.sum())(cr.tensor([1, 2]))
    with pytest.raises(IndexError, match="out of range"):
        grad(lambda v: v.sum(), argnums=2)(_cr([1.0]))
    with pytest.raises(TypeError, match="has_aux"):
        grad(lambda v: v.sum(), has_aux=True)(_cr([1.0]))


def test_float32_stays_float32():
    x = cr.tensor([1.0, 2.0])
    assert grad(lambda v: (v**2).sum())(x).dtype == cr.float32
    assert jacrev(cr.tanh)(x).dtype == cr.float32


# ----------------------------------------------------------------- vjp


def test_vjp_matches_torch(torch):
    x, y = _arr(3, 4), _arr(4, 2)

    def ours(a, b):
        return {"prod": cr.tanh(a @ b), "sum": [a.sum(), (b**2).sum(0)]}

    def theirs(a, b):
        return {"prod": torch.tanh(a @ b), "sum": [a.sum(), (b**2).sum(0)]}

    out, fn = vjp(ours, _cr(x), _cr(y))
    tout, tfn = torch.func.vjp(theirs, torch.tensor(x), torch.tensor(y))
    _close(out, tout)
    ct = {"prod": _arr(3, 2), "sum": [np.array(0.7), _arr(2)]}
    _close(fn(tree_map(_cr, ct)), tfn(tree_map(torch.tensor, ct)))
    _close(fn(tree_map(_cr, ct)), tfn(tree_map(torch.tensor, ct)))  # callable again
    with pytest.raises(ValueError, match="structure"):
        fn(_cr(x))
    with pytest.raises(ShapeError, match="cotangent 0"):
        fn({"prod": _cr(_arr(2, 2)), "sum": [_cr(0.0), _cr(_arr(2))]})


def test_vjp_has_aux_and_grad_through_vjp_fn(torch):
    x = _arr(3)
    out, fn, aux = vjp(lambda v: (cr.exp(v), v.sum()), _cr(x), has_aux=True)
    assert not out.requires_grad and not aux.requires_grad
    np.testing.assert_allclose(fn(_cr(np.ones(3)))[0]._data, np.exp(x), rtol=TOL)

    # a vjp inside grad: d/dx sum(J(x)^T u) for f = exp, u = 1 is exp(x)
    def ours(v):
        _, inner = vjp(cr.exp, v)
        return inner(cr.ones(3, dtype=cr.float64))[0].sum()

    def theirs(v):
        _, inner = torch.func.vjp(torch.exp, v)
        return inner(torch.ones(3, dtype=torch.float64))[0].sum()

    _close(grad(ours)(_cr(x)), torch.func.grad(theirs)(torch.tensor(x)))


# ----------------------------------------------------------------- jacrev and hessian


def _central_jacobian(f, x, eps=1e-6):
    out = f(x)
    jac = np.zeros(out.shape + x.shape)
    flat = x.reshape(-1)
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = eps
        jac.reshape(out.size, -1)[:, i] = (
            (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * eps)
        ).reshape(-1)
    return jac


def test_jacrev_against_finite_differences():
    x = _arr(2, 3)
    ours = jacrev(lambda v: f_vector(cr, v))(_cr(x))
    numeric = _central_jacobian(lambda a: f_vector(cr, _cr(a))._data, x)
    assert ours.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(ours._data, numeric, atol=1e-7)


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_jacrev_matches_torch(torch, argnums):
    x, y = _arr(3, 4), _arr(4, 2)

    def ours(a, b):
        return {"p": cr.tanh(a @ b), "s": (a**2).sum()}, a.mean()

    def theirs(a, b):
        return {"p": torch.tanh(a @ b), "s": (a**2).sum()}, a.mean()

    jac, aux = jacrev(ours, argnums=argnums, has_aux=True)(_cr(x), _cr(y))
    tjac, taux = torch.func.jacrev(theirs, argnums=argnums, has_aux=True)(torch.tensor(x), torch.tensor(y))
    _close((jac, aux), (tjac, taux))
    _close(
        jacrev(lambda a: f_vector(cr, a), chunk_size=2)(_cr(x)),
        torch.func.jacrev(lambda a: f_vector(torch, a))(torch.tensor(x)),
    )


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_hessian_matches_torch(torch, argnums):
    x, y = _arr(3, 2), _arr(2, 2)
    ours = hessian(lambda a, b: f_two(cr, a, b), argnums=argnums)(_cr(x), _cr(y))
    theirs = torch.func.hessian(lambda a, b: f_two(torch, a, b), argnums=argnums)(torch.tensor(x), torch.tensor(y))
    _close(ours, theirs)


def test_reverse_over_reverse_matches_torch(torch):
    x, y = _arr(3, 2), _arr(2, 2)
    ours = jacrev(jacrev(lambda a, b: f_two(cr, a, b), argnums=(0, 1)), argnums=(0, 1))(_cr(x), _cr(y))
    theirs = torch.func.hessian(lambda a, b: f_two(torch, a, b), argnums=(0, 1))(torch.tensor(x), torch.tensor(y))
    _close(ours, theirs)
    # the rows one at a time (chunk_size=1: a loop) give the same
    _close(jacrev(jacrev(lambda a: f_scalar(cr, a)), chunk_size=1)(_cr(x)), hessian(lambda a: f_scalar(cr, a))(_cr(x)))


def test_hessian_vector_product_by_grad_of_grad(torch):
    x, v = _arr(4), _arr(4)

    def hvp(f, point, vector):
        return grad(lambda p: (grad(f)(p) * vector).sum())(point)

    ours = hvp(lambda a: f_scalar(cr, a), _cr(x), _cr(v))
    theirs = torch.func.hessian(lambda a: f_scalar(torch, a))(torch.tensor(x)) @ torch.tensor(v)
    _close(ours, theirs)


# ----------------------------------------------------------------- functional_call


def _to_torch_module(ours, theirs, torch):
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})
    return theirs.double()


def _check_functional_call(model, torch_model, x, torch, loss=lambda out: (out**2).sum()):
    params = {k: _cr(RNG.standard_normal(v.shape)) for k, v in model.named_parameters()}
    tparams = {k: torch.tensor(v._data) for k, v in params.items()}
    before = {k: v._data.copy() for k, v in model.state_dict().items()}
    out = functional_call(model, params, (_cr(x),))
    tout = torch.func.functional_call(torch_model, tparams, (torch.tensor(x),))
    _close(out, tout)
    # the model is a function of its parameters: grad through functional_call
    g = grad(lambda p: loss(functional_call(model, p, (_cr(x),))))(params)
    tg = torch.func.grad(lambda p: loss(torch.func.functional_call(torch_model, p, (torch.tensor(x),))))(tparams)
    _close(g, tg)
    for k, v in model.state_dict().items():
        if not k.startswith(("running_", "num_batches")):
            np.testing.assert_array_equal(v._data, before[k])
    assert all(p.grad is None for p in model.parameters())


def test_functional_call_linear_and_conv(torch):
    linear = nn.Linear(3, 2).double()
    _check_functional_call(linear, _to_torch_module(linear, torch.nn.Linear(3, 2), torch), _arr(4, 3), torch)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    _check_functional_call(
        conv, _to_torch_module(conv, torch.nn.Conv2d(2, 3, 3, padding=1), torch), _arr(2, 2, 5, 5), torch
    )


def test_functional_call_batch_norm_buffers(torch):
    bn = nn.BatchNorm1d(3).double()
    tbn = _to_torch_module(bn, torch.nn.BatchNorm1d(3), torch)
    # training mode: the buffers passed in are the ones updated (in place); the module's own stay as they were
    x = _arr(6, 3)
    buffers = {"running_mean": _cr(np.zeros(3)), "running_var": _cr(np.ones(3))}
    own_mean = bn.running_mean._data.copy()
    functional_call(bn, buffers, _cr(x))
    tbuffers = {"running_mean": torch.zeros(3, dtype=torch.float64), "running_var": torch.ones(3, dtype=torch.float64)}
    torch.func.functional_call(tbn, tbuffers, torch.tensor(x))
    _close(buffers, tbuffers)
    np.testing.assert_array_equal(bn.running_mean._data, own_mean)
    # eval mode uses the buffers given, and the output is differentiable in the parameters (torch refuses
    # grad in training mode, where the update mutates a captured buffer)
    bn.eval()
    tbn.eval()
    _close(functional_call(bn, buffers, _cr(x)), torch.func.functional_call(tbn, tbuffers, torch.tensor(x)))
    _check_functional_call(bn, tbn, x, torch)


def test_functional_call_transformer(torch):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True).double()
    tlayer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    _check_functional_call(
        layer, _to_torch_module(layer, tlayer, torch), _arr(2, 5, 8), torch, loss=lambda out: (out * out.mean()).sum()
    )


def test_functional_call_restores_on_error_and_checks_names():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    original = model[0].weight
    with pytest.raises(Exception):  # noqa: B017 - whatever the layer raises
        functional_call(model, {"0.weight": cr.zeros(5, 7)}, cr.zeros(1, 2))
    assert model[0].weight is original
    with pytest.raises(ValueError, match=r"missing \['0.bias'"):
        functional_call(
            model, {k: v for k, v in model.named_parameters() if k != "0.bias"}, cr.zeros(1, 2), strict=True
        )
    with pytest.raises(ValueError, match="more than one"):
        functional_call(model, ({"0.bias": cr.zeros(2)}, {"0.bias": cr.zeros(2)}), cr.zeros(1, 2))
    with pytest.raises(AttributeError, match="names no submodule"):
        functional_call(model, {"7.weight": cr.zeros(2)}, cr.zeros(1, 2))


def test_functional_call_tied_weights():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    model = Tied()
    eye = cr.eye(2)
    x = cr.tensor([[1.0, 2.0]])
    assert functional_call(model, {"a.weight": eye * 2}, x).tolist() == [[4.0, 8.0]]
    assert functional_call(model, {"a.weight": eye * 2}, x, tie_weights=False).tolist() != [[4.0, 8.0]]
    with pytest.raises(ValueError, match="tied"):
        functional_call(model, {"a.weight": eye, "b.weight": eye * 2}, x)


def test_functional_call_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor

    model = nn.Linear(3, 1).double()
    x = _cr(np.ones((1, 3)))

    def run(k):
        params = {"weight": _cr(np.full((1, 3), float(k))), "bias": _cr(np.zeros(1))}
        return [functional_call(model, params, x).item() for _ in range(50)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    assert all(r == [3.0 * k] * 50 for k, r in enumerate(results))
    assert model.weight.shape == (1, 3) and not np.all(model.weight._data == 7.0)


# ----------------------------------------------------------------- compositions with vmap


def test_jacrev_chunk_sizes_agree():
    w = _cr(_arr(4, 5))

    def f(a):
        return {"t": cr.tanh(a @ w).sum(0) * a.sum(), "s": (a**2).sum()}

    x = _cr(_arr(3, 4))
    looped = jacrev(f, chunk_size=1)(x)
    for chunk_size in (None, 2, 4, 100):
        _close(jacrev(f, chunk_size=chunk_size)(x), tree_map(lambda t: t._data, looped))
    with pytest.raises(ValueError, match="chunk_size"):
        jacrev(f, chunk_size=0)


@pytest.mark.slow  # torch.func.vmap's first call in a process takes seconds
def test_vmap_of_grad_of_functional_call_matches_torch(torch):
    from chainrule.func import vmap

    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4)).double()
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 4)
    )
    tmodel = _to_torch_module(model, tmodel, torch)
    params = {k: v.detach() for k, v in model.named_parameters()}
    tparams = {k: torch.tensor(v._data) for k, v in params.items()}
    x, y = _arr(5, 1, 6, 6), RNG.integers(0, 4, 5)

    def loss(p, sample, target):
        out = functional_call(model, p, (sample.unsqueeze(0),))
        return cr.nn.functional.cross_entropy(out, target.unsqueeze(0))

    def tloss(p, sample, target):
        out = torch.func.functional_call(tmodel, p, (sample.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, target.unsqueeze(0))

    ours = vmap(grad(loss), in_dims=(None, 0, 0))(params, _cr(x), cr.tensor(y))
    theirs = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(tparams, torch.tensor(x), torch.tensor(y))
    _close(ours, theirs)
    assert not any(g.requires_grad for g in ours.values())
    # and the same as one grad per sample
    for i in range(5):
        _close(tree_map(lambda g, i=i: g[i], ours), grad(loss)(params, _cr(x[i]), cr.tensor(y[i])))


def test_vmap_of_jacrev_and_hessian(torch):
    from chainrule.func import vmap

    w = _arr(4, 3)
    xs = _arr(6, 2, 4)

    def f(lib, a):
        return lib.tanh(a @ lib.tensor(w)).sum(0)

    def g(lib, a):
        return (lib.tanh(a @ lib.tensor(w)) ** 2).sum()

    tw = torch.tensor(w)
    _close(
        vmap(jacrev(lambda a: f(cr, a)))(_cr(xs)),
        torch.func.vmap(torch.func.jacrev(lambda a: torch.tanh(a @ tw).sum(0)))(torch.tensor(xs)),
    )
    _close(
        vmap(hessian(lambda a: g(cr, a)))(_cr(xs)),
        torch.func.vmap(torch.func.hessian(lambda a: (torch.tanh(a @ tw) ** 2).sum()))(torch.tensor(xs)),
    )
    # vjp inside vmap, cotangents batched with the primals
    cts = _arr(6, 3)
    ours = vmap(lambda a, c: vjp(lambda v: f(cr, v), a)[1](c)[0])(_cr(xs), _cr(cts))
    theirs = torch.func.vmap(lambda a, c: torch.func.vjp(lambda v: torch.tanh(v @ tw).sum(0), a)[1](c)[0])(
        torch.tensor(xs), torch.tensor(cts)
    )
    _close(ours, theirs)


# ----------------------------------------------------------------- compositions with forward mode


def test_forward_over_reverse_matches_torch(torch):
    from chainrule.func import jacfwd, jvp

    x, v = _arr(2, 3), _arr(2, 3)
    w = _arr(3, 3)

    def ours_f(a):
        return (cr.tanh(a @ _cr(w)) ** 2).sum() + (cr.sin(a) * a).sum()

    def torch_f(a):
        return (torch.tanh(a @ torch.tensor(w)) ** 2).sum() + (torch.sin(a) * a).sum()

    _close(jacfwd(jacrev(ours_f))(_cr(x)), torch.func.jacfwd(torch.func.jacrev(torch_f))(torch.tensor(x)))
    # jvp of grad: a Hessian-vector product by forward over reverse
    _close(
        jvp(grad(ours_f), (_cr(x),), (_cr(v),)),
        torch.func.jvp(torch.func.grad(torch_f), (torch.tensor(x),), (torch.tensor(v),)),
    )
    # grad of (jvp of grad): the gradient of <v, H(x) v>... with respect to v
    _close(
        grad(lambda t: (jvp(grad(ours_f), (_cr(x),), (t,))[1] * t).sum())(_cr(v)),
        torch.func.grad(lambda t: (torch.func.jvp(torch.func.grad(torch_f), (torch.tensor(x),), (t,))[1] * t).sum())(
            torch.tensor(v)
        ),
    )


def test_vmap_of_forward_over_reverse(torch):
    from chainrule.func import jacfwd, jvp, vmap

    xs, ts, w = _arr(5, 2, 3), _arr(5, 2, 3), _arr(3, 3)
    tw = torch.tensor(w)

    def ours_f(a):
        return (cr.tanh(a @ _cr(w)) ** 2).sum()

    def torch_f(a):
        return (torch.tanh(a @ tw) ** 2).sum()

    _close(
        vmap(lambda a, t: jvp(grad(ours_f), (a,), (t,)))(_cr(xs), _cr(ts)),
        torch.func.vmap(lambda a, t: torch.func.jvp(torch.func.grad(torch_f), (a,), (t,)))(
            torch.tensor(xs), torch.tensor(ts)
        ),
    )
    ours = vmap(jacfwd(jacrev(ours_f)))(_cr(xs))
    _close(ours, torch.func.vmap(torch.func.hessian(torch_f))(torch.tensor(xs)))
    assert not ours.requires_grad
    np.testing.assert_allclose(
        vmap(lambda a, t: jvp(cr.sin, (a,), (t,))[1])(_cr(xs), _cr(ts))._data, np.cos(xs) * ts, rtol=TOL
    )


def test_vmap_over_stacked_parameters_is_an_ensemble():
    from chainrule.func import vmap

    models = [nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double() for _ in range(5)]
    names = [name for name, _ in models[0].named_parameters()]
    stacked = {k: cr.stack([dict(m.named_parameters())[k].detach() for m in models]) for k in names}
    x = _cr(_arr(7, 3))
    own = models[0][0].weight
    out = vmap(lambda p, v: functional_call(models[0], p, (v,)), in_dims=(0, None))(stacked, x)
    assert models[0][0].weight is own  # the module's own parameter is back
    np.testing.assert_allclose(out._data, np.stack([m(x).detach()._data for m in models]), rtol=TOL, atol=TOL)
