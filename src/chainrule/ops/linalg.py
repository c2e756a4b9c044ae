"""Linear algebra: matmul (batched, with NumPy's 1-d rules), einsum, outer."""

from __future__ import annotations

import string

import numpy as np

from .. import backend, threads
from ..autograd.graph import apply2, applyn, primitive
from ..autograd.jvp_rules import add_tangents
from ..autograd.mode import autocast_state
from ..errors import ShapeError
from ..tensor import Tensor, _wrap
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
            k, m = a._data.shape[-1], g._data.shape[-1]
            gb = a.reshape(-1, k).mT @ g.reshape(-1, m)
        else:
            gb = a.mT @ g
    return ga, gb


@_matmul.defjvp
def _matmul_jvp(ctx, ta, tb):
    a, b = ctx.saved
    return add_tangents(
        apply2(_matmul, ta, b, *ctx.args) if ta is not None else None,
        apply2(_matmul, a, tb, *ctx.args) if tb is not None else None,
    )


@op(method=True)
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch rules: batched over leading dims, 1-d operands promoted.

    The shapes, with ``...`` any batch dimensions (broadcast between the two):

    - ``(n, k) @ (k, m) -> (n, m)``, and ``(..., n, k) @ (..., k, m) -> (..., n, m)``;
    - ``(k) @ (k) -> ()``: the dot product, a 0-d tensor;
    - ``(k) @ (..., k, m) -> (..., m)`` and ``(..., n, k) @ (k) -> (..., n)``: the
      1-d operand is treated as a row (or column) that is removed afterwards.

    The gradients are ``g @ b.mT`` for ``a`` and ``a.mT @ g`` for ``b``, summed
    over the batch dimensions an operand was broadcast along (an ``(N, n, k)``
    batch times a ``(k, m)`` weight takes one GEMM for the weight's gradient).
    Inside ``chainrule.amp.autocast`` floating operands are cast to the
    low-precision dtype first. Also the ``@`` operator.

    Args:
        a: the left operand, shape ``(k)``, ``(n, k)`` or ``(*, n, k)``.
        b: the right operand, shape ``(k)``, ``(k, m)`` or ``(*, k, m)``, in ``a``'s dtype.

    Returns:
        A tensor of the shape above, in the operands' dtype.

    Raises:
        TypeError: an operand is not a Tensor.
        ShapeError: an operand is 0-d, the inner dimensions differ, or the batch
            dimensions do not broadcast.
        DTypeError: the operands have different float dtypes.

    Examples:
        >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.matmul(a, cr.tensor([1.0, 1.0]))
        tensor([3., 7.])
        >>> a @ a
        tensor([[ 7., 10.],
                [15., 22.]])
        >>> (cr.ones(5, 2, 3) @ cr.ones(3, 4)).shape
        (5, 2, 4)
    """
    if autocast_state() is not None:
        a, b = cast_for_gemm(a, b)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    sa, sb = a._data.shape, b._data.shape
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
    """Matrix product of two 2-d tensors: ``(n, k) @ (k, m) -> (n, m)``.

    ``chainrule.matmul`` restricted to matrices (no batching, no 1-d promotion).

    Args:
        a: the left matrix, shape ``(n, k)``.
        b: the right matrix, shape ``(k, m)``, in ``a``'s dtype.

    Returns:
        A tensor of shape ``(n, m)``, in the operands' dtype.

    Raises:
        ShapeError: an operand is not 2-d, or the inner dimensions differ.

    Examples:
        >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.mm(a, cr.tensor([[1.0], [0.5]]))
        tensor([[2.],
                [5.]])
    """
    if a._data.ndim != 2 or b._data.ndim != 2:
        raise ShapeError(f"mm: expected 2-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product of two 3-d tensors: ``(B, n, k) @ (B, k, m) -> (B, n, m)``.

    ``chainrule.matmul`` restricted to one batch dimension of equal size (no
    broadcasting).

    Args:
        a: the left batch of matrices, shape ``(B, n, k)``.
        b: the right batch of matrices, shape ``(B, k, m)``, in ``a``'s dtype.

    Returns:
        A tensor of shape ``(B, n, m)``, in the operands' dtype.

    Raises:
        ShapeError: an operand is not 3-d, the batch sizes differ, or the inner
            dimensions differ.

    Examples:
        >>> cr.bmm(cr.ones(2, 3, 4), cr.ones(2, 4, 5)).shape
        (2, 3, 5)
        >>> cr.bmm(cr.tensor([[[1.0, 2.0]], [[3.0, 4.0]]]), cr.tensor([[[1.0], [1.0]], [[0.0], [1.0]]]))
        tensor([[[3.]],
        <BLANKLINE>
                [[4.]]])
    """
    if a._data.ndim != 3 or b._data.ndim != 3 or a._data.shape[0] != b._data.shape[0]:
        raise ShapeError(f"bmm: expected 3-d tensors with equal batch size, got {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def dot(a: Tensor, b: Tensor) -> Tensor:
    """The dot product ``sum(a * b)`` of two 1-d tensors.

    Args:
        a: a vector, shape ``(k)``.
        b: a vector, shape ``(k)``, in ``a``'s dtype.

    Returns:
        A 0-d tensor in the operands' dtype.

    Raises:
        ShapeError: an operand is not 1-d, or the lengths differ.

    Examples:
        >>> cr.dot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
        tensor(11.)
    """
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise ShapeError(f"dot: expected 1-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


@op(method=True)
def outer(a: Tensor, b: Tensor) -> Tensor:
    """The outer product ``out[i, j] = a[i] * b[j]`` of two 1-d tensors.

    Written as ``a.unsqueeze(1) * b.unsqueeze(0)``, so it needs no derivative
    rule of its own.

    Args:
        a: a vector, shape ``(n)``.
        b: a vector, shape ``(m)``.

    Returns:
        A tensor of shape ``(n, m)``, in the operands' common dtype.

    Raises:
        ShapeError: an operand is not 1-d.

    Examples:
        >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 10.0, 100.0]))
        tensor([[  1.,  10., 100.],
                [  2.,  20., 200.]])
    """
    if a._data.ndim != 1 or b._data.ndim != 1:
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
        counts: dict[str, int] = {}
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
        others = [(s, op) for j, (s, op) in enumerate(zip(inputs, operands)) if j != i]
        available = set(output).union(*[set(s) for s, _ in others])
        letters = "".join(dict.fromkeys(sub))  # each letter once: a repeated one is a diagonal
        target = "".join(c for c in letters if c in available)
        eq = ",".join([output] + [s for s, _ in others]) + "->" + target
        grad = einsum(eq, g, *[op for _, op in others])
        shape = operands[i]._data.shape
        sizes = dict(zip(sub, shape))
        if target != letters:  # indices summed away inside this operand alone: broadcast back
            kept = tuple(sizes[c] if c in available else 1 for c in letters)
            grad = grad.reshape(kept).expand(tuple(sizes[c] for c in letters))
        if letters != sub:
            grad = _onto_diagonal(grad, letters, sub, sizes)
        grads.append(grad)
    return tuple(grads)


@_einsum.defjvp
def _einsum_jvp(ctx, *tangents):
    # multilinear: one einsum per operand with a tangent, that operand replaced by it
    terms = []
    for i, tangent in enumerate(tangents):
        if tangent is not None:
            operands = list(ctx.saved)
            operands[i] = tangent
            terms.append(applyn(_einsum, operands, *ctx.args))
    return add_tangents(*terms)


def _onto_diagonal(grad: Tensor, letters: str, sub: str, sizes: dict) -> Tensor:
    """The gradient of an operand with a repeated letter (``'ii'``, ``'iij'``): ``grad`` on its diagonal.

    ``grad`` has one dimension per distinct letter; each repeat of a letter gets a fresh letter tied to
    the first by an identity matrix, so the result is zero off the diagonal (another einsum, hence
    differentiable again).
    """
    xp = backend.array_module(grad._data)
    fresh = iter(c for c in string.ascii_letters if c not in sub)
    full, ties, seen = [], [], set()
    for c in sub:
        if c in seen:
            f = next(fresh)
            full.append(f)
            ties.append(c + f)
        else:
            seen.add(c)
            full.append(c)
    eyes = [_wrap(xp.eye(sizes[t[0]], dtype=grad._data.dtype)) for t in ties]
    return einsum(",".join([letters, *ties]) + "->" + "".join(full), grad, *eyes)


@op()
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('bhqd,bhkd->bhqk', q, k)``; ellipses are allowed.

    Each operand gets one letter per dimension; letters shared between operands
    are multiplied along, and letters missing from the output (after ``->``) are
    summed over. Without ``->`` the output is NumPy's implicit one: the letters
    that appear once, in alphabetical order. ``...`` stands for the dimensions
    not named, broadcast between operands; a dimension of size 1 broadcasts
    against its letter's size elsewhere. Computed by ``numpy.einsum`` with
    ``optimize=True``; the gradient of each operand is another einsum. Inside
    ``chainrule.amp.autocast`` floating operands are cast to the low-precision
    dtype first.

    A letter repeated within one operand takes its diagonal (``'ii->i'``,
    the trace ``'ii'``); that operand's gradient lies on the same diagonal.

    Args:
        equation: the subscripts, such as ``'ij,jk->ik'``; spaces are ignored.
        *operands: the tensors, one per comma-separated term of ``equation`` and
            with one dimension per letter; also accepted as a single list or tuple.

    Returns:
        A tensor with one dimension per output letter (the ellipsis's dimensions
        first in implicit mode), in the operands' dtype.

    Raises:
        TypeError: an operand is not a Tensor.
        ShapeError: the number of terms differs from the number of operands, a
            term has the wrong number of letters for its operand, or one letter
            has two different sizes.
        DTypeError: the operands have different float dtypes.

    Examples:
        >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.einsum("ij,jk->ik", a, a)
        tensor([[ 7., 10.],
                [15., 22.]])
        >>> cr.einsum("ij->j", a), cr.einsum("ii", a)
        (tensor([4., 6.]), tensor(5.))
        >>> q, k = cr.randn(2, 4, 5, 8), cr.randn(2, 4, 6, 8)
        >>> cr.einsum("bhqd,bhkd->bhqk", q, k).shape
        (2, 4, 5, 6)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, operand in enumerate(operands):
        if not isinstance(operand, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(operand).__name__}, not a Tensor")
    if autocast_state() is not None:
        operands = cast_for_gemm(*operands)
    inputs, output = _parse_einsum(equation, [operand._data.shape for operand in operands])
    sizes: dict[str, int] = {}
    for sub, operand in zip(inputs, operands):
        for c, s in zip(sub, operand._data.shape):
            if sizes.setdefault(c, s) != s and s != 1 and sizes[c] != 1:
                raise ShapeError(
                    f"einsum: index '{c}' has size {sizes[c]} in one operand and {s} in another "
                    f"({equation}, shapes {[op.shape for op in operands]})"
                )
    dtypes = {op._data.dtype for op in operands}
    if len(dtypes) > 1:
        from .elementwise import same_dtype  # noqa: PLC0415

        operands = tuple(same_dtype(list(operands), "einsum"))
    return applyn(_einsum, operands, (tuple(inputs), output))
