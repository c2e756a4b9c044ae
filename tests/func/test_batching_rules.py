"""Every primitive under vmap: batching the gradcheck specs' inputs equals stacking the per-sample results.

For each spec of tests/ops/specs*.py, hypothesis draws the per-sample shapes
and, for every input, whether it is batched and at which dimension; vmap over
the batch must give (float64, to 1e-12) what calling the op on each sample and
stacking gives.  A test also requires every registered primitive to have a
batching rule or to declare the loop fallback, and vmap to name the primitive
when neither exists.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd.graph import LOOP_FALLBACK, PRIMITIVES, primitive
from chainrule.errors import ChainruleError
from chainrule.func._vmap import VmapError, rule_for, vmap

from ..ops.specs import SPECS

BATCH = 3
_RAW = "the op layer computes on the raw values in a way vmap cannot batch (NumPy over all axes, advanced indexing)"
_GRAD = "autograd.grad inside vmap on batched tensors (use chainrule.func.grad, which batches)"
_SHAPE = "the result's shape depends on the values (an error in torch.func too)"
# specs whose function vmap may refuse with a clear error, and why; every other spec must batch exactly
UNSUPPORTED = {
    "setitem": "a batched value written into a tensor that is not batched (an error in torch.func too)",
    **dict.fromkeys(["conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward"], _GRAD),
    **dict.fromkeys(["getitem_mask", "masked_select", "index_put_bool"], _SHAPE),
    **dict.fromkeys(["std_dim", "adaptive_max_pool2d", "median_all", "mode"], _RAW),
}
_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_every_primitive_has_a_rule_or_a_loop_fallback():
    missing = sorted(name for name, prim in PRIMITIVES.items() if rule_for(prim) is None)
    assert not missing, f"primitives with neither a batching rule nor a declared loop fallback: {missing}"


def test_a_primitive_without_rule_is_named():
    @primitive("_test_unbatchable")
    def _unbatchable(xp, x):
        return x * 2

    try:
        from chainrule.autograd.graph import apply1

        with pytest.raises(VmapError, match="_test_unbatchable"):
            vmap(lambda x: apply1(_unbatchable, x))(cr.zeros(3, 2))
    finally:
        del PRIMITIVES["_test_unbatchable"]


def test_loop_fallback_is_declared_only_where_meant():
    looped = sorted(name for name, prim in PRIMITIVES.items() if rule_for(prim) == LOOP_FALLBACK)
    allowed = {"embedding_dense_backward", "embedding_sparse"}
    assert set(looped) <= allowed, set(looped) - allowed


def _outputs(out):
    return out if isinstance(out, tuple) else (out,)


def _sample_inputs(spec, shapes, rng):
    return [spec.domain_for(i)(rng.standard_normal(shape)) for i, shape in enumerate(shapes)]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=4, **_settings)
@given(data=st.data())
def test_vmap_equals_stacked_samples(spec, data):
    shapes = spec.shapes(data.draw)
    seed = data.draw(st.integers(0, 2**16))
    batched = [data.draw(st.booleans()) for _ in shapes]
    if not any(batched):
        batched[data.draw(st.integers(0, len(shapes) - 1))] = True
    dims = [data.draw(st.integers(0, len(s))) if b else None for s, b in zip(shapes, batched)]
    rng = np.random.default_rng(seed)
    samples = [_sample_inputs(spec, shapes, rng) for _ in range(BATCH)]
    inputs = []
    for i, d in enumerate(dims):
        if d is None:
            inputs.append(cr.tensor(samples[0][i], dtype=cr.float64, requires_grad=True))
        else:
            inputs.append(cr.tensor(np.stack([s[i] for s in samples], axis=d), dtype=cr.float64, requires_grad=True))
    # the per-sample reference: the unbatched inputs take sample 0's values, as above
    expected = []
    for b in range(BATCH):
        args = [
            cr.tensor(samples[b if d is not None else 0][i], dtype=cr.float64, requires_grad=True)
            for i, d in enumerate(dims)
        ]
        try:
            expected.append(_outputs(spec.fn(*args)))
        except ChainruleError:  # shapes the op itself refuses (a spec written for torch's edge cases)
            assume(False)
    try:
        got = _outputs(vmap(spec.fn, in_dims=tuple(dims))(*inputs))
    except ChainruleError:
        if spec.name in UNSUPPORTED:  # refused with a clear error (on these values: some read them only at times)
            return
        raise
    assert len(got) == len(expected[0])
    for k, g in enumerate(got):
        want = np.stack([e[k].numpy() for e in expected])
        assert g.shape == want.shape, f"{spec.name} output {k}: shape {g.shape}, expected {want.shape}"
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-12, err_msg=f"{spec.name} output {k}")
