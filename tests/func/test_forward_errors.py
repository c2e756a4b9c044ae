"""Forward mode refuses, with one clear error, the ops it has no rule for (never a silent zero tangent)."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.func import jvp


def test_scatter_multiply_under_jvp_raises():
    x = cr.ones(3, dtype=cr.float64)
    src = cr.full((3,), 2.0, dtype=cr.float64)
    index = cr.tensor([0, 1, 1])
    with pytest.raises(NotImplementedError, match="scatter: reduce='multiply' has no forward-mode rule"):
        jvp(lambda a: a.scatter(0, index, src, reduce="multiply"), (x,), (cr.ones(3, dtype=cr.float64),))
    # with a tangent only on an input the op does not see, it runs
    out, tangent = jvp(
        lambda a: a * 2 + x.scatter(0, index, src, reduce="multiply"), (x,), (cr.ones(3, dtype=cr.float64),)
    )
    assert out.tolist() == [4.0, 6.0, 3.0]
    assert tangent.tolist() == [2.0, 2.0, 2.0]
