"""Linear algebra: matmul (batched, with NumPy's 1-d rules), einsum, outer."""

from __future__ import annotations

import string

import numpy as np

from .. import backend, threads
from ..autograd.graph import apply2, applyn, primitive
from ..autograd.mode import autocast_state
from ..errors import ShapeError
from ..tensor import Tensor
from .casting import cast_for_gemm
from .registry import op


@primitive("matmul", save="cross")
def _matmul(xp, a, b, nda, ndb):
    return backend.matmul(xp, a, b)


@_matmul.defvjp
def _matmul_vjp(ctx, g):
    a, b = ctx.saved  # "cross": a is kept only when b needs a gradient, and b only when a does
    n = ctx.next
    ga = gb = None
    nda, ndb = ctx.args
    if nda == 1 and ndb == 1:  # dot product: g is 0-d
        ga = g * b if n[0] is not None else None
        gb = g * a if n[1] is not None else None
        return ga, gb
    if nda == 1:  # (k) @ (..., k, m) -> (..., m)
        if n[0] is not None:
            ga = (g.unsqueeze(-2) @ b.mT).squeeze(-2)
        if n[1] is not None:
            gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        return ga, gb
    if ndb == 1:  # (..., n, k) @ (k) -> (..., n)
        if n[0] is not None:
            ga = g.unsqueeze(-1) * b
        if n[1] is not None:
            gb = (a.mT @ g.unsqueeze(-1)).squeeze(-1)
        return ga, gb
    if n[0] is not None:
        ga = g @ b.mT
    if n[1] is not None:
        if ndb == 2 and nda > 2:
            # one GEMM over the folded batch instead of a batched product summed afterwards
            k, m = a.data.shape[-1], g.data.shape[-1]
            gb = a.reshape(-1, k).mT @ g.reshape(-1, m)
        else:
            gb = a.mT @ g
    return ga, gb


@op(method=True)
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch rules: batched over leading dims, 1-d operands promoted."""
    if autocast_state() is not None:
        a, b = cast_for_gemm(a, b)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    sa, sb = a.data.shape, b.data.shape
    if not sa or not sb:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} cannot be multiplied: the first's last dimension ({ka}) must "
            f"equal the second's {'only' if len(sb) == 1 else 'second-to-last'} dimension ({kb})"
        )
    if len(sa) > 2 and len(sb) > 2:
        try:
            import numpy as np  # noqa: PLC0415

            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dimensions of {sa} and {sb} do not broadcast") from None
    return apply2(_matmul, a, b, len(sa), len(sb))


@op(method=True)
def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.data.ndim != 2 or b.data.ndim != 2:
        raise ShapeError(f"mm: expected 2-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.data.ndim != 3 or b.data.ndim != 3 or a.data.shape[0] != b.data.shape[0]:
        raise ShapeError(f"bmm: expected 3-d tensors with equal batch size, got {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.data.ndim != 1 or b.data.ndim != 1:
        raise ShapeError(f"dot: expected 1-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def outer(a: Tensor, b: Tensor) -> Tensor:
    """a[i] * b[j] for 1-d a and b."""
    if a.data.ndim != 1 or b.data.ndim != 1:
        raise ShapeError(f"outer: expected 1-d tensors, got shapes {a.shape} and {b.shape}")
    return a.unsqueeze(1) * b.unsqueeze(0)


# ---------------------------------------------------------------------------
# einsum


def _parse_einsum(equation: str, shapes):
    """Explicit subscripts: (list of input strings, output string), ellipses spelled out."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ShapeError(f"einsum: '{equation}' names {len(inputs)} operands but {len(shapes)} were given")
    used = set(eq) - set(".,->")
    spare = [c for c in string.ascii_letters if c not in used]
    ell_ndim = 0
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            ell_ndim = max(ell_ndim, len(shape) - (len(sub) - 3))
    ell = "".join(spare[:ell_ndim])
    expanded = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            n = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[ell_ndim - n :] if n else "")
        if len(sub) != len(shape):
            raise ShapeError(f"einsum: subscripts '{sub}' do not match an operand of shape {shape}")
        expanded.append(sub)
    if out is None:
        counts = {}
        for sub in expanded:
            for c in sub:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return expanded, out


@primitive("einsum", save=True)
def _einsum(xp, *operands_and_eq):
    *operands, (inputs, output) = operands_and_eq
    eq = ",".join(inputs) + "->" + output
    if xp is np:  # einsum's products run in BLAS (tensordot): on one thread while the machine is busy
        return threads.blas_call(threads.plan(threads.SERIAL_WORK), _np_einsum, eq, *operands)
    return xp.einsum(eq, *operands, optimize=True)


def _np_einsum(eq, *operands):
    return np.einsum(eq, *operands, optimize=True)


@_einsum.defvjp
def _einsum_vjp(ctx, g):
    inputs, output = ctx.args[0]
    operands = ctx.saved
    grads = []
    for i, (sub, edge) in enumerate(zip(inputs, ctx.next)):
        if edge is None:
            grads.append(None)
            continue
        if len(set(sub)) != len(sub):
            raise NotImplementedError(
                f"einsum: the gradient for an operand with a repeated index ('{sub}') is not supported"
            )
        others = [(s, op) for j, (s, op) in enumerate(zip(inputs, operands)) if j != i]
        available = set(output).union(*[set(s) for s, _ in others])
        target = "".join(c for c in sub if c in available)
        eq = ",".join([output] + [s for s, _ in others]) + "->" + target
        grad = einsum(eq, g, *[op for _, op in others])
        if target != sub:  # indices summed away inside this operand alone: broadcast back
            shape = operands[i].data.shape
            kept = tuple(shape[k] if c in available else 1 for k, c in enumerate(sub))
            grad = grad.reshape(kept).expand(shape)
        grads.append(grad)
    return tuple(grads)


@op()
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('bhqd,bhkd->bhqk', q, k)``; ellipses are allowed."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, operand in enumerate(operands):
        if not isinstance(operand, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(operand).__name__}, not a Tensor")
    if autocast_state() is not None:
        operands = cast_for_gemm(*operands)
    inputs, output = _parse_einsum(equation, [operand.data.shape for operand in operands])
    sizes = {}
    for sub, operand in zip(inputs, operands):
        for c, s in zip(sub, operand.data.shape):
            if sizes.setdefault(c, s) != s and s != 1 and sizes[c] != 1:
                raise ShapeError(
                    f"einsum: index '{c}' has size {sizes[c]} in one operand and {s} in another "
                    f"({equation}, shapes {[op.shape for op in operands]})"
                )
    dtypes = {op.data.dtype for op in operands}
    if len(dtypes) > 1:
        from .shape import _same_dtype  # noqa: PLC0415

        operands = tuple(_same_dtype(list(operands), "einsum"))
    return applyn(_einsum, operands, (tuple(inputs), output))
