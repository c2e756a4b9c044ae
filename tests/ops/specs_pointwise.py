"""Gradcheck specs for the three-operand pointwise ops (``ops/pointwise.py``): lerp, addcmul, addcdiv.

They are composites of add, sub, mul and div; the specs check their first and second derivatives through
every input, with broadcasting.  Live parity with PyTorch is in tests/test_tensor.py.
"""

from __future__ import annotations

from hypothesis import strategies as st

import chainrule as cr

from .specs import away_from_zero, broadcast_pair, spec, unit_interval


def _three(draw):
    a, b = draw(broadcast_pair())
    return [a, b, b if draw(st.booleans()) else a]


spec("lerp", lambda a, b, w: cr.lerp(a, b, w), _three, ["add", "sub", "mul"], domains=(None, None, unit_interval))
spec("lerp_scalar", lambda a, b: cr.lerp(a, b, 0.3), lambda draw: list(draw(broadcast_pair())), ["add", "sub"])
spec("addcmul", lambda a, b, c: cr.addcmul(a, b, c, value=0.5), _three, ["add", "mul"])
spec(
    "addcdiv",
    lambda a, b, c: cr.addcdiv(a, b, c, value=-2.0),
    _three,
    ["add", "div"],
    domains=(None, None, away_from_zero),
)
