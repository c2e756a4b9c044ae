"""vmap: in_dims/out_dims, nesting, chunks, randomness, errors, composition, and torch.func in float64.

Per-primitive batching rules are checked in test_batching_rules.py; here the
transform itself: where the batch dimension comes from and goes to, nested
levels, ``chunk_size``, the randomness policies, the errors, vmap of grad/jvp
(per-sample gradients of a small CNN against a loop), and torch.func.vmap on
the same functions (values to 1e-10) when torch is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import graph
from chainrule.func import functional_call, grad, jvp, vmap
from chainrule.func._vmap import VmapError, is_batched

TOL = 1e-10
RNG = np.random.default_rng(0)


def _t(*shape):
    return cr.tensor(RNG.standard_normal(shape), dtype=cr.float64)


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a.numpy()), np.asarray(b.numpy()), rtol=tol, atol=tol)


def _stack(results, dim=0):
    return cr.stack(results, dim=dim)


# --------------------------------------------------------------------------- in_dims / out_dims


def test_default_maps_over_the_first_dimension():
    x = _t(4, 3)
    _close(vmap(lambda r: (r * r).sum())(x), _stack([(x[i] * x[i]).sum() for i in range(4)]))


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_in_dim_anywhere_including_negative(dim):
    x = _t(2, 3, 4)
    n = x.shape[dim]
    expected = _stack([x.movedim(dim, 0)[i].exp() for i in range(n)])
    _close(vmap(lambda a: a.exp(), in_dims=dim)(x), expected)


def test_none_in_dims_share_the_argument():
    x, w = _t(5, 3), _t(3, 2)
    _close(vmap(lambda a, w: a @ w, in_dims=(0, None))(x, w), x @ w)


def test_nested_pytree_in_dims():
    xs = {"a": _t(3, 2), "b": [_t(2, 3), _t(4)]}

    def f(tree, scale):
        return tree["a"].sum() * scale + tree["b"][0].sum() + tree["b"][1].sum()

    scale = _t(3)
    got = vmap(f, in_dims=({"a": 0, "b": [1, None]}, 0))(xs, scale)
    expected = _stack([f({"a": xs["a"][i], "b": [xs["b"][0][:, i], xs["b"][1]]}, scale[i]) for i in range(3)])
    _close(got, expected)


def test_pytree_outputs_and_out_dims():
    x = _t(4, 3)
    a, (b, c) = vmap(lambda r: (r * 2, (r.sum(), r.exp())), out_dims=(1, (0, -1)))(x)
    _close(a, (x * 2).T)
    _close(b, x.sum(1))
    _close(c, x.exp().T)


def test_unbatched_output_is_expanded_or_kept_with_out_dims_none():
    x, w = _t(3, 2), _t(2)
    same, per = vmap(lambda r, w: (w * 1.0, r + w), in_dims=(0, None), out_dims=(None, 0))(x, w)
    _close(same, w)
    _close(per, x + w)
    expanded = vmap(lambda r, w: w * 1.0, in_dims=(0, None))(x, w)
    assert expanded.shape == (3, 2)
    _close(expanded, cr.stack([w, w, w]))


def test_keyword_arguments_are_not_batched():
    x, w = _t(3, 2), _t(2)
    _close(vmap(lambda r, *, w: r * w)(x, w=w), x * w)


# --------------------------------------------------------------------------- nesting, chunks


def test_nested_vmap_is_an_outer_map():
    a, b = _t(3, 4), _t(5, 4)
    pairwise = vmap(vmap(lambda u, v: (u * v).sum(), in_dims=(None, 0)), in_dims=(0, None))(a, b)
    _close(pairwise, a @ b.T)


def test_nested_vmap_over_two_dims_of_one_tensor():
    x = _t(2, 3, 4)
    _close(vmap(vmap(lambda v: v.softmax(0)))(x), x.softmax(-1))
    _close(vmap(vmap(lambda v: v.sum(), in_dims=1), in_dims=2)(x), x.sum(0).T)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
def test_chunk_size_gives_the_same_result(chunk):
    x, w = _t(7, 3), _t(3, 3)

    def f(r, w):
        return (r @ w).tanh(), r.sum()

    full = vmap(f, in_dims=(0, None))(x, w)
    chunked = vmap(f, in_dims=(0, None), chunk_size=chunk)(x, w)
    for a, b in zip(full, chunked):
        _close(a, b)


def test_bad_arguments_are_refused():
    x = _t(3, 2)
    with pytest.raises(ValueError, match="chunk_size"):
        vmap(lambda a: a, chunk_size=0)
    with pytest.raises(ValueError, match="randomness"):
        vmap(lambda a: a, randomness="sometimes")
    with pytest.raises(VmapError, match="no input is batched"):
        vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(VmapError, match="different batch sizes"):
        vmap(lambda a, b: a + b)(x, _t(4, 2))
    with pytest.raises(VmapError, match="out of range"):
        vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(VmapError, match="only tensors can be batched"):
        vmap(lambda a, n: a * n, in_dims=(0, 0))(x, 2.0)
    with pytest.raises(VmapError, match="in_dims has 1 entries"):
        vmap(lambda a, b: a, in_dims=(0,))(x, x)
    with pytest.raises(VmapError, match="differs between samples"):
        vmap(lambda a: a * 2, out_dims=None)(x)


def test_reading_values_inside_vmap_is_an_error():
    x = _t(3, 2)
    with pytest.raises(VmapError, match="cannot be read inside vmap"):
        vmap(lambda a: a.sum().item())(x)
    with pytest.raises(VmapError, match="cannot be read inside vmap"):
        vmap(lambda a: float(a.sum()))(x)


def test_comparisons_and_masks_stay_batched():
    x = _t(4, 5)
    _close(vmap(lambda r: cr.where(r > 0, r, r * 0.1))(x), cr.where(x > 0, x, x * 0.1))
    _close(vmap(lambda r: r.masked_fill(r < -0.5, 0.0))(x), x.masked_fill(x < -0.5, 0.0))


def test_a_batched_tensor_used_after_its_vmap_is_refused():
    leaked = []
    vmap(lambda a: leaked.append(a) or a)(_t(3, 2))
    assert is_batched(leaked[0])
    with pytest.raises(VmapError, match="outside the vmap"):
        leaked[0] * 2


def test_the_hook_is_off_outside_vmap():
    assert graph.vmap_depth() == 0
    seen = []
    vmap(lambda a: seen.append(graph.vmap_depth()) or a)(_t(2, 2))
    vmap(vmap(lambda a: seen.append(graph.vmap_depth()) or a))(_t(2, 2))
    assert seen == [1, 2] and graph.vmap_depth() == 0


# --------------------------------------------------------------------------- randomness


def test_randomness_error_is_the_default():
    with pytest.raises(VmapError, match="randomness"):
        vmap(lambda a: F.dropout(a, 0.5))(cr.ones(4, 6))
    with pytest.raises(VmapError, match="randomness"):
        vmap(lambda a: a + cr.rand(6))(cr.ones(4, 6))


def test_randomness_same_and_different():
    cr.manual_seed(1)
    same = vmap(lambda a: F.dropout(a, 0.5), randomness="same")(cr.ones(8, 50)).numpy()
    assert (same == same[0]).all() and 0 < (same == 0).mean() < 1
    different = vmap(lambda a: F.dropout(a, 0.5), randomness="different")(cr.ones(8, 50)).numpy()
    assert not (different == different[0]).all()
    assert set(np.unique(different)) <= {0.0, 2.0}
    shared = vmap(lambda a: a + cr.rand(6), randomness="same")(cr.zeros(3, 6)).numpy()
    assert (shared == shared[0]).all()


# --------------------------------------------------------------------------- composition


def test_grad_through_vmap():
    x = _t(4, 3).requires_grad_()
    (g,) = cr.autograd.grad(vmap(lambda r: (r.tanh() * r).sum())(x).sum(), [x])
    _close(g, x.tanh() + x * (1 - x.tanh() ** 2))


def test_vmap_of_grad_is_per_sample():
    w, xs = _t(3), _t(5, 3)

    def loss(w, x):
        return (x @ w).tanh() ** 2

    per_sample = vmap(grad(loss), in_dims=(None, 0))(w, xs)
    expected = _stack([grad(loss)(w, xs[i]) for i in range(5)])
    _close(per_sample, expected)


def _small_cnn():
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)
    )
    return model.double()


def test_per_sample_gradients_of_a_cnn_match_a_loop():
    model = _small_cnn()
    x = cr.randn(6, 1, 6, 6, dtype=cr.float64)
    y = cr.tensor([0, 1, 2, 3, 4, 0])
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, sample, target):
        return F.cross_entropy(functional_call(model, p, (sample.unsqueeze(0),)), target.unsqueeze(0))

    got = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    leaves = list(model.parameters())
    for i in range(6):
        grads = cr.autograd.grad(F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]), leaves)
        for name, g in zip(params, grads):
            _close(got[name][i], g, tol=1e-12)


def test_cross_entropy_with_batched_targets_weights_and_smoothing():
    logits, targets = _t(4, 3, 5), cr.tensor(RNG.integers(0, 5, (4, 3)))
    weight = cr.tensor(RNG.uniform(0.5, 2.0, 5), dtype=cr.float64)
    for kw in ({}, {"weight": weight}, {"label_smoothing": 0.2}, {"weight": weight, "label_smoothing": 0.1}):
        for reduction in ("mean", "sum", "none"):
            got = vmap(lambda a, t, r=reduction, kw=kw: F.cross_entropy(a, t, reduction=r, **kw))(logits, targets)
            expected = _stack([F.cross_entropy(logits[i], targets[i], reduction=reduction, **kw) for i in range(4)])
            _close(got, expected)


# --------------------------------------------------------------------------- torch.func


def _torch():
    return pytest.importorskip("torch")


def _both(*shape):
    a = RNG.standard_normal(shape)
    return cr.tensor(a, dtype=cr.float64), _torch().tensor(a)


def _close_torch(ours, theirs):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=TOL, atol=TOL)


def test_against_torch_mlp_with_in_and_out_dims():
    torch = _torch()
    (x, X), (w1, W1), (w2, W2) = _both(3, 6, 4), _both(4, 5), _both(5, 3)

    def ours(x, w1, w2):
        return (x @ w1).tanh() @ w2, ((x @ w1).softmax(-1) * x.sum()).sum(0)

    def theirs(x, w1, w2):
        return torch.tanh(x @ w1) @ w2, ((x @ w1).softmax(-1) * x.sum()).sum(0)

    dims = dict(in_dims=(1, None, None), out_dims=(-1, 0))
    _close_torch(vmap(ours, **dims)(x, w1, w2), torch.func.vmap(theirs, **dims)(X, W1, W2))


def test_against_torch_conv_with_per_sample_weights():
    torch = _torch()
    (x, X), (w, W), (b, B) = _both(4, 2, 3, 7, 7), _both(4, 5, 3, 3, 3), _both(5)

    def ours(x, w, b):
        return F.max_pool2d(F.conv2d(x, w, b, padding=1).relu(), 2)

    def theirs(x, w, b):
        return torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(x, w, b, padding=1).relu(), 2)

    dims = dict(in_dims=(0, 0, None))
    _close_torch(vmap(ours, **dims)(x, w, b), torch.func.vmap(theirs, **dims)(X, W, B))


def test_against_torch_nested_and_per_sample_grad():
    torch = _torch()
    (a, A), (b, B), (w, W) = _both(3, 4), _both(5, 4), _both(4)
    _close_torch(
        vmap(vmap(lambda u, v: (u * v).sum().sin(), (None, 0)), (0, None))(a, b),
        torch.func.vmap(torch.func.vmap(lambda u, v: (u * v).sum().sin(), (None, 0)), (0, None))(A, B),
    )

    def loss(w, x, lib):
        return ((x * w).sum().tanh() - 0.5) ** 2

    _close_torch(
        vmap(grad(lambda w, x: loss(w, x, cr)), in_dims=(None, 0))(w, a),
        torch.func.vmap(torch.func.grad(lambda w, x: loss(w, x, torch)), in_dims=(None, 0))(W, A),
    )


def test_against_torch_vmap_of_jvp():
    torch = _torch()
    (x, X), (t, T), (w, W) = _both(4, 3), _both(4, 3), _both(3, 3)

    def f(x, w):
        return ((x @ w).tanh() * x).sum(-1)

    ours = vmap(lambda x, t: jvp(lambda x: f(x, w), (x,), (t,)))(x, t)
    theirs = torch.func.vmap(lambda x, t: torch.func.jvp(lambda x: f(x, W), (x,), (t,)))(X, T)
    _close_torch(ours, theirs)


def test_batched_indices_into_an_embedding_and_nll_targets():
    idx = cr.tensor(RNG.integers(0, 7, (4, 5)))
    w = _t(7, 3)
    for kw in ({}, {"padding_idx": 2}, {"scale_grad_by_freq": True}):
        got = vmap(lambda i, kw=kw: F.embedding(i, w, **kw))(idx)
        _close(got, _stack([F.embedding(idx[b], w, **kw) for b in range(4)]))
    logp, targets = _t(4, 3, 5).log_softmax(-1), cr.tensor(RNG.integers(0, 5, (4, 3)))
    _close(vmap(F.nll_loss)(logp, targets), _stack([F.nll_loss(logp[b], targets[b]) for b in range(4)]))


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_per_sample_gradients_of_an_embedding_model(padding_idx):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Embedding(7, 3, padding_idx=padding_idx), nn.Flatten(0), nn.Linear(15, 2)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    idx, y = cr.tensor(RNG.integers(0, 7, (4, 5))), cr.tensor(RNG.integers(0, 2, (4,)))

    def loss(p, i, t):
        return F.cross_entropy(functional_call(model, p, (i,)).unsqueeze(0), t.unsqueeze(0))

    got = vmap(grad(loss), in_dims=(None, 0, 0))(params, idx, y)
    for b in range(4):
        for name, g in grad(loss)(params, idx[b], y[b]).items():
            _close(got[name][b], g)


def test_raw_numpy_along_an_axis_stays_batched():
    """Op-layer code that sorts or compares raw arrays along an axis runs on the batch (axis shifted)."""
    x = _t(3, 4, 5)
    for f in (lambda a: a.argsort(-1), lambda a: a.argsort(0, descending=True), lambda a: (a > 0.1) & (a < 1.0)):
        got = vmap(f)(x)
        assert np.array_equal(got.numpy(), _stack([f(x[i]) for i in range(3)]).numpy())


def test_backward_inside_vmap_is_refused():
    def f(a):
        y = (a * a).sum()
        y.backward()
        return y

    with pytest.raises(cr.errors.GradientError, match="vmap"):
        vmap(f)(_t(3, 4).requires_grad_())


def test_writes_into_a_batched_tensor():
    def f(a, b):
        out = a * 1.0
        out[0] = 5.0
        out[1:3] = b
        return out * 2

    x, b = _t(3, 4), _t(3, 2)
    _close(vmap(f)(x, b), _stack([f(x[i], b[i]) for i in range(3)]))
    # a batch with gradient history looks like a leaf to the in-place check: refused, not silently wrong
    with pytest.raises(cr.errors.GradientError, match="in-place"):
        vmap(f)(x.detach().requires_grad_(), b)
    with pytest.raises(VmapError, match="vmap"):  # a batched value into a tensor that is not: as torch.func
        vmap(f, in_dims=(None, 0))(x[0], b)


def test_custom_function_runs_once_per_sample():
    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _t(3, 4)
    _close(vmap(lambda a: Square.apply(a).sum())(x), (x * x).sum(1))
    _close(vmap(grad(lambda a: Square.apply(a).sum()))(x), 2 * x)
    _close(vmap(vmap(Square.apply))(x), x * x)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_over_a_batch_of_sequence_batches(kind):
    cr.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
    xs = _t(5, 6, 2, 3)  # 5 samples of (L=6, N=2, features=3)

    def run(x):
        out, state = layer(x)
        return out, state if kind != "LSTM" else state[0]

    got = vmap(run)(xs)
    for k, g in enumerate(got):
        _close(g, _stack([run(xs[i])[k] for i in range(5)]))
    params = {k: v.detach() for k, v in layer.named_parameters()}

    def loss(p, x):
        return (functional_call(layer, p, (x,))[0] ** 2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, xs[:2])
    for i in range(2):
        for name, g in grad(loss)(params, xs[i]).items():
            _close(per_sample[name][i], g)


def test_vmap_state_is_per_thread():
    import threading

    seen, started, release = [], threading.Event(), threading.Event()

    def inside(a):
        started.set()
        release.wait(5)
        return a * 2

    worker = threading.Thread(target=lambda: seen.append(vmap(inside)(_t(3, 2)).shape))
    worker.start()
    started.wait(5)
    assert graph.vmap_depth() == 0  # this thread is not inside the other thread's vmap
    x = _t(2, 2)
    _close(x * 2, x + x)
    release.set()
    worker.join(5)
    assert seen == [(3, 2)]


def test_cross_entropy_with_targets_batched_at_two_levels():
    logits, targets = _t(2, 3, 4, 5), cr.tensor(RNG.integers(0, 5, (2, 3, 4)))
    weight = cr.tensor(RNG.uniform(0.5, 2.0, 5), dtype=cr.float64)

    def f(a, t):
        return F.cross_entropy(a, t, weight=weight, label_smoothing=0.1)

    got = vmap(vmap(f))(logits, targets)
    _close(got, _stack([_stack([f(logits[i, j], targets[i, j]) for j in range(3)]) for i in range(2)]))
    got = vmap(vmap(f, in_dims=(0, None)), in_dims=(None, 0))(logits[0], targets[:, 0])
    _close(got, _stack([_stack([f(logits[0, j], targets[i, 0]) for j in range(3)]) for i in range(2)]))
