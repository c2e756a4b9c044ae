"""Helpers for writing jvp rules: the forward-mode rules beside each vjp in ``ops/`` are built from these.

``linear_jvp`` (the primitive applied to the tangent), ``jvp_from_vjp`` (an
elementwise op's diagonal Jacobian is its own transpose), ``composite_jvp``
(push the tangents through a Tensor-op form of the op), ``add_tangents`` and
``zeros_like``.  The levels and the propagation itself live in ``forward.py``.
"""

from __future__ import annotations

import sys

from ..backend import array_module
from ..tensor import _wrap
from .forward import enter_level, exit_level
from .graph import PRIMITIVES, apply1


def add_tangents(*terms):
    """The sum of the terms that are not None (None if all are: a zero tangent)."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


def zeros_like(t):
    """A zero tangent for ``t``: for multi-input linear ops that need every input (cat, where)."""

    data = t._data
    return _wrap(_xp(data).zeros(data.shape, dtype=data.dtype))


def _xp(array):

    return array_module(array)


def _mark(rule, kind: str):
    """Note how a helper-made rule was made and where it was declared, for the derivative index."""
    frame = sys._getframe(2)  # the ops module line that called linear_jvp / jvp_from_vjp
    rule.jvp_kind = kind
    rule.declared_at = (frame.f_code.co_filename, frame.f_lineno)
    return rule


def linear_jvp(prim):
    """The jvp rule of a one-input primitive that is linear in its input: the primitive on the tangent."""

    def rule(ctx, tangent):
        return apply1(prim, tangent, *ctx.args)

    return _mark(rule, "linear")


def jvp_from_vjp(vjp):
    """The jvp rule of an elementwise primitive, from its vjp: exact, and no slower.

    Each input's Jacobian is diagonal once the input is broadcast to the
    output's shape, hence self-adjoint: the vjp applied to the (broadcast)
    tangent, before the engine would sum it back, is the jvp.  The vjp is run
    once per input that has a tangent, with ``ctx.next`` asking for that input
    alone.
    """

    def rule(ctx, *tangents):
        total = None
        shape = ctx.out.shape
        count = len(tangents)
        for i, tangent in enumerate(tangents):
            if tangent is None:
                continue
            if tangent._data.shape != shape:
                tangent = tangent.expand(shape)
            ctx.next = tuple([True if j == i else None for j in range(count)])
            term = vjp(ctx, tangent)
            if type(term) is tuple:
                term = term[i]
            if term is not None:
                total = term if total is None else total + term
        return total

    rule.__doc__ = f"jvp of an elementwise op, from its vjp {vjp.__name__} (a diagonal Jacobian is self-adjoint)"
    return _mark(rule, "from the vjp")


def composite_jvp(ctx, tangents, composite):
    """The output tangents of ``composite(*inputs)``, a Tensor-op form of the same primitive, by forward mode.

    For fused primitives (recurrent layers): the tangents are pushed through
    the composite's own primitives under a temporary innermost level, so the
    rule is exact forward mode at the cost of one more forward in Tensor ops.
    Returns one tangent per output of ``composite`` (a tuple when it returns one).
    """

    level, token = enter_level()
    try:
        reshape = PRIMITIVES["reshape"]
        duals = []
        for t, tangent in zip(ctx.saved, tangents):
            if tangent is None:
                duals.append(t)
                continue
            shape = t._data.shape
            dual = apply1(reshape, t, shape, shape)
            level.set(dual, tangent)
            duals.append(dual)
        outs = composite(*duals)
        if type(outs) is tuple:
            return tuple([level.get(o) for o in outs])
        return level.get(outs)
    finally:
        exit_level(token)
