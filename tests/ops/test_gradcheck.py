"""Every primitive: first- and second-order gradients against central differences (float64).

Shapes are drawn by hypothesis (broadcasting, 0-d, size-1 dims) and inputs
come in three memory layouts: contiguous, transposed and strided slices.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

from .helpers import make_inputs
from .specs import SPECS

layouts = st.sampled_from(["c", "t", "s"])
_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _draw_case(data, spec):
    shapes = spec.shapes(data.draw)
    kinds = [data.draw(layouts) for _ in shapes]
    seed = data.draw(st.integers(0, 2**16))
    return shapes, kinds, seed


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=6, **_settings)
@given(data=st.data())
def test_first_order(spec, data):
    shapes, kinds, seed = _draw_case(data, spec)
    inputs = make_inputs(spec, shapes, kinds, seed)
    assert cr.autograd.gradcheck(spec.fn, inputs, eps=spec.eps, atol=spec.atol, rtol=spec.rtol)


SECOND = [s for s in SPECS if s.second_order]


@pytest.mark.parametrize("spec", SECOND, ids=[s.name for s in SECOND])
@settings(max_examples=3, **_settings)
@given(data=st.data())
def test_second_order(spec, data):
    shapes, kinds, seed = _draw_case(data, spec)
    inputs = make_inputs(spec, shapes, kinds, seed)
    assert cr.autograd.gradgradcheck(spec.fn, inputs, eps=spec.eps, atol=spec.atol, rtol=spec.rtol)


def test_every_primitive_is_covered():
    covered = set()
    for spec in SPECS:
        covered.update(spec.covers)
    missing = sorted(set(cr.autograd.PRIMITIVES) - covered)
    assert not missing, f"primitives without a gradcheck spec: {missing}"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@settings(max_examples=3, **_settings)
@given(data=st.data())
def test_float32_in_float32_out(spec, data):
    """float32 inputs give float32 outputs and float32 gradients (no silent upcast)."""
    shapes, kinds, seed = _draw_case(data, spec)
    inputs = make_inputs(spec, shapes, kinds, seed, dtype="float32")
    out = spec.fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        if spec.keeps_dtype:
            assert o.dtype == cr.float32, f"{spec.name}: output is {o.dtype}"
    total = None
    for o in outs:
        if o.requires_grad:
            total = o.sum() if total is None else total + o.sum()
    total.backward()
    for x in inputs:
        if x.grad is not None:
            assert x.grad.dtype == cr.float32, f"{spec.name}: gradient is {x.grad.dtype}"
