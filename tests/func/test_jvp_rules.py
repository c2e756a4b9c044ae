"""Every primitive's jvp rule: against central differences and, through the transpose identity, against its vjp.

The cases are the gradcheck specs (tests/ops/specs*.py): hypothesis draws the
shapes (broadcasting, 0-d, size-1 dims) and the memory layouts, as for the vjp
rules.  In float64:

- ``J v`` from forward mode equals ``(f(x + eps v) - f(x - eps v)) / 2 eps``;
- ``<u, J v> == <J^T u, v>`` with ``J^T u`` from reverse mode (exact on both
  sides, so the tolerance is tight);
- second order: the jvp of the jvp against central differences of the jvp
  (the rules are themselves differentiable in forward mode).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd.graph import PRIMITIVES
from chainrule.func._forward import jvp

from ..ops.helpers import make_inputs
from ..ops.specs import SPECS

layouts = st.sampled_from(["c", "t", "s"])
_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _draw_case(data, spec):
    shapes = spec.shapes(data.draw)
    kinds = [data.draw(layouts) for _ in shapes]
    seed = data.draw(st.integers(0, 2**16))
    return shapes, kinds, seed


def _outputs(out):
    return out if isinstance(out, tuple) else (out,)


def _differentiable(spec, inputs):
    """Indices of the outputs that carry a derivative (float, recorded): integer indices and statistics do not."""
    outs = _outputs(spec.fn(*inputs))
    return [i for i, o in enumerate(outs) if o.dtype.kind == "f" and o.requires_grad]


def _case(spec, data):
    shapes, kinds, seed = _draw_case(data, spec)
    inputs = make_inputs(spec, shapes, kinds, seed)
    rng = np.random.default_rng(seed + 1)
    tangents = tuple(cr.from_numpy(rng.standard_normal(x.shape)) for x in inputs)
    return inputs, tangents, rng


def _shifted(inputs, tangents, step):
    # inputs that require grad, as the specs' own (some specs differentiate inside: double-backward primitives)
    return [cr.from_numpy(x.numpy() + step * t.numpy()).requires_grad_() for x, t in zip(inputs, tangents)]


def _central(fn, inputs, tangents, eps):
    plus = _outputs(fn(*_shifted(inputs, tangents, eps)))
    minus = _outputs(fn(*_shifted(inputs, tangents, -eps)))
    return [(p.detach().numpy() - m.detach().numpy()) / (2 * eps) for p, m in zip(plus, minus)]


# cases where a rule refuses on purpose, with NotImplementedError naming the op (spec name: what it says)
UNSUPPORTED = {
    "scatter_reduce_prod_zeros": "reduce='prod' with zeros",  # as in PyTorch, no forward mode there
}


def _refused(spec, call) -> bool:
    """True when ``spec`` is a case its jvp rule refuses on purpose and it did, with the expected message."""
    if spec.name not in UNSUPPORTED:
        return False
    try:
        call()
    except NotImplementedError as exc:
        assert UNSUPPORTED[spec.name] in str(exc), exc
        return True
    return False  # this draw avoided the refused case: check it as any other


def test_every_primitive_has_a_jvp_rule():
    missing = sorted(name for name, prim in PRIMITIVES.items() if prim.jvp is None)
    assert not missing, f"primitives without a jvp rule (defjvp beside the vjp): {missing}"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=5, **_settings)
@given(data=st.data())
def test_jvp_matches_central_differences(spec, data):
    inputs, tangents, _ = _case(spec, data)
    keep = _differentiable(spec, inputs)
    primals = tuple(inputs)
    if _refused(spec, lambda: jvp(lambda *xs: spec.fn(*xs), primals, tangents)):
        return
    out, tangent_out = jvp(lambda *xs: spec.fn(*xs), primals, tangents)
    expected = _central(spec.fn, primals, tangents, spec.eps)
    for i in keep:
        got = _outputs(tangent_out)[i]
        primal = _outputs(out)[i].detach().numpy()
        assert got.shape == primal.shape
        assert got.dtype == primal.dtype
        finite = np.isfinite(primal)  # a NaN output (a mean over only ignored targets) has no derivative to compare
        np.testing.assert_allclose(
            got.detach().numpy()[finite],
            expected[i][finite],
            rtol=spec.rtol,
            atol=spec.atol,
            err_msg=f"{spec.name}: output {i}",
        )


# specs whose vjp is, on purpose, not the adjoint of the primitive's own forward (spec name: why); none now.
# (embedding_dense_backward with scale_grad_by_freq would be one: its vjp follows PyTorch's double backward.)
NOT_ADJOINT: dict[str, str] = {}


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=5, **_settings)
@given(data=st.data())
def test_jvp_is_the_transpose_of_the_vjp(spec, data):
    if spec.name in NOT_ADJOINT:
        pytest.skip(NOT_ADJOINT[spec.name])
    inputs, tangents, rng = _case(spec, data)
    keep = _differentiable(spec, inputs)
    if not keep or _refused(spec, lambda: jvp(lambda *xs: spec.fn(*xs), tuple(inputs), tangents)):
        return
    _, tangent_out = jvp(lambda *xs: spec.fn(*xs), tuple(inputs), tangents)
    outs = _outputs(spec.fn(*inputs))
    cotangents = [cr.from_numpy(rng.standard_normal(outs[i].shape)) for i in keep]
    lhs = sum(float((u.numpy() * _outputs(tangent_out)[i].detach().numpy()).sum()) for u, i in zip(cotangents, keep))
    grads = cr.autograd.grad([outs[i] for i in keep], inputs, grad_outputs=cotangents, allow_unused=True)
    rhs = sum(float((g.numpy() * t.numpy()).sum()) for g, t in zip(grads, tangents) if g is not None)
    scale = 1.0 + sum(np.abs(u.numpy()).sum() for u in cotangents) * sum(np.abs(t.numpy()).sum() for t in tangents)
    # exact on both sides: float64 rounding only, unless the spec goes through float32 (its atol says so)
    tol = 1e-9 if spec.atol <= 1e-5 else 1e-6
    assert abs(lhs - rhs) <= tol * scale, f"{spec.name}: <u, Jv> = {lhs} but <J^T u, v> = {rhs}"


SECOND = [s for s in SPECS if s.second_order]


@pytest.mark.parametrize("spec", SECOND, ids=[s.name for s in SECOND])
@settings(max_examples=2, **_settings)
@given(data=st.data())
def test_jvp_of_jvp_matches_central_differences(spec, data):
    inputs, tangents, rng = _case(spec, data)
    keep = _differentiable(spec, inputs)
    if not keep:
        return
    primals = tuple(inputs)
    directions = tuple(cr.from_numpy(rng.standard_normal(x.shape)) for x in inputs)

    def first(*xs):
        return tuple(_outputs(jvp(lambda *ys: spec.fn(*ys), xs, tangents)[1])[i] for i in keep)

    _, second = jvp(first, primals, directions)
    expected = _central(first, primals, directions, 1e-5)
    for got, want, i in zip(second, expected, keep):
        np.testing.assert_allclose(
            got.detach().numpy(), want, rtol=1e-3, atol=1e-4, err_msg=f"{spec.name}: output {i}, second order"
        )


# jvp rules whose Tensor-op form cannot run on vmap-batched inputs yet (they read raw arrays): spec -> owner's note
_RAW = "its jvp rule reads raw arrays (a check or a mask), which vmap refuses; it works unbatched"
NOT_BATCHABLE: dict[str, str] = {
    "det": _RAW,  # ops/matrix.py
    "cumprod": _RAW,  # ops/sorting.py
    "cumprod_zeros": _RAW,
    "cumprod_0d": _RAW,
    "logcumsumexp": _RAW,
    "logcumsumexp_spread": _RAW,
    "scatter_reduce_amax": _RAW,  # ops/index.py
    "scatter_reduce_amax_exclude_self": _RAW,
    "scatter_reduce_amin": _RAW,
    "scatter_reduce_amin_exclude_self": _RAW,
    "scatter_reduce_prod": _RAW,
    "scatter_reduce_prod_exclude_self": _RAW,
    "scatter_reduce_prod_zeros": _RAW,
}


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=2, **_settings)
@given(data=st.data())
def test_vmap_of_jvp_equals_a_loop_of_jvps(spec, data):
    """vmap(jvp(f)) over a batch of two samples (primals and tangents batched) is the jvps stacked."""
    from chainrule.func import vmap

    shapes, kinds, seed = _draw_case(data, spec)
    samples = [make_inputs(spec, shapes, kinds, seed + i, requires_grad=False) for i in range(2)]
    rng = np.random.default_rng(seed)
    tangents = [[cr.from_numpy(rng.standard_normal(x.shape)) for x in sample] for sample in samples]
    n = len(shapes)
    primals_b = [cr.stack([s[j] for s in samples]) for j in range(n)]
    tangents_b = [cr.stack([t[j] for t in tangents]) for j in range(n)]
    try:
        vmap(lambda *xs: spec.fn(*xs))(*primals_b)
    except Exception:  # noqa: BLE001 - the forward itself does not vmap (func/_vmap.py's business, tested there)
        pytest.skip("the forward does not vmap")
    if spec.name in NOT_BATCHABLE:
        pytest.xfail(NOT_BATCHABLE[spec.name])

    def one(*args):
        return jvp(lambda *xs: spec.fn(*xs), tuple(args[:n]), tuple(args[n:]))[1]

    try:
        batched = _outputs(vmap(one)(*primals_b, *tangents_b))
    except NotImplementedError as exc:  # a rule that says it cannot run under vmap (max pooling)
        assert "vmap" in str(exc), exc
        return
    looped = [_outputs(one(*samples[i], *tangents[i])) for i in range(2)]
    for k, got in enumerate(batched):
        if got.dtype.kind != "f":
            continue
        want = np.stack([looped[0][k].numpy(), looped[1][k].numpy()])
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12, err_msg=f"{spec.name}: output {k}")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=2, **_settings)
@given(data=st.data())
def test_float32_in_float32_tangent_out(spec, data):
    """A rule keeps float32 (a rule that changed the dtype would raise a DTypeError naming its primitive)."""
    shapes, kinds, seed = _draw_case(data, spec)
    inputs = tuple(make_inputs(spec, shapes, kinds, seed, dtype="float32"))
    tangents = tuple(cr.ones_like(x) for x in inputs)
    if _refused(spec, lambda: jvp(lambda *xs: spec.fn(*xs), inputs, tangents)):
        return
    out, tangent = jvp(lambda *xs: spec.fn(*xs), inputs, tangents)
    for o, t in zip(_outputs(out), _outputs(tangent)):
        assert t.dtype == o.dtype, f"{spec.name}: a {o.dtype} output has a {t.dtype} tangent"
