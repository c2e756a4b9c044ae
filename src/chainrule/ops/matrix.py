"""Matrix functions: inverse, determinant, solve, the decompositions (SVD, symmetric eigen, Cholesky, QR), cdist.

Forwards call the backend's ``linalg`` (LAPACK through NumPy, or CuPy), batched
over leading dimensions; the vjps are PyTorch's formulas written in Tensor ops,
so ``create_graph=True`` differentiates them again. A decomposition with
several outputs keeps them as arrays for a first-order backward; when the
backward is itself recorded it recomputes the decomposition from the saved
input as a recorded op, so second derivatives see how the factors move with
the input (at the cost of one more factorization). The public names are
gathered in ``chainrule.linalg``.
"""

from __future__ import annotations

from collections import namedtuple

from ..autograd.graph import apply1, apply2, primitive
from ..backend import array_module
from ..errors import DTypeError, LinAlgError, ShapeError
from ..tensor import Tensor, _wrap
from . import reduce
from .registry import op

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])


# ---------------------------------------------------------------------------
# checks and helpers


def _check_matrix(name: str, a, square: bool = True) -> None:
    """A float tensor of shape (*, m, n), square if asked, or a clear error."""
    if not isinstance(a, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(a).__name__}")
    shape, dtype = a._data.shape, a._data.dtype
    if len(shape) < 2 or (square and shape[-1] != shape[-2]):
        what = "a square matrix or a batch of them, shape (*, n, n)" if square else "a matrix, shape (*, m, n)"
        raise ShapeError(f"{name}: expected {what}, got shape {tuple(shape)}")
    if dtype.kind != "f" or dtype.itemsize < 4:
        raise DTypeError(
            f"{name}: expected a float32 or float64 tensor, got {dtype} (shape {tuple(shape)}); "
            "convert it with .float() or .double()"
        )


def _lapack(name: str, fn, *arrays, reason: str = ""):
    """Call a backend linalg function; its LinAlgError becomes ours, naming the op, the reason and the shapes."""
    try:
        return fn(*arrays)
    except Exception as exc:  # noqa: BLE001 - NumPy's and CuPy's LinAlgError have no common base
        if type(exc).__name__ != "LinAlgError":
            raise
        shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
        raise LinAlgError(f"{name}: {reason or exc} (input shape {shapes})") from None


_SINGULAR = "the matrix (or one in the batch) is singular, so it has no inverse"


def _eye_like(t: Tensor, n: int) -> Tensor:
    xp = array_module(t._data)
    return _wrap(xp.eye(n, dtype=t._data.dtype))


def _diag_embed(v: Tensor) -> Tensor:
    """(*, n) -> (*, n, n) with v on the diagonal, differentiably."""
    return v.unsqueeze(-1) * _eye_like(v, v._data.shape[-1])


def _given(g: Tensor) -> bool:
    """Whether an output's gradient carries anything (the engine fills missing ones with zeros)."""
    return g.requires_grad or bool(g._data.any())


# ---------------------------------------------------------------------------
# inverse, determinant, solve


@primitive("inv", save_output=True)
def _inv(xp, a):
    return _lapack("inverse", xp.linalg.inv, a, reason=_SINGULAR)


@_inv.defvjp
def _inv_vjp(ctx, g):
    yt = ctx.output().mT  # d(A^-1) = -A^-1 dA A^-1
    return -(yt @ g @ yt)


@_inv.defjvp
def _inv_jvp(ctx, t_a):
    y = ctx.output()
    return -(y @ t_a @ y)


@op(method=True)
def inverse(a: Tensor) -> Tensor:
    """The inverse of a square matrix, batched over leading dimensions.

    The gradient is ``-Y.mT @ g @ Y.mT`` with ``Y`` the inverse. Also
    ``chainrule.linalg.inv``.

    Args:
        a: the matrix or matrices, shape ``(*, n, n)``, float32 or float64.

    Returns:
        A tensor of shape ``(*, n, n)`` in ``a``'s dtype.

    Raises:
        ShapeError: ``a`` is not a (batch of) square matrices.
        DTypeError: ``a`` is not float32 or float64.
        LinAlgError: a matrix is singular (as ``torch.linalg.inv``).

    Examples:
        >>> a = cr.tensor([[2.0, 0.0], [1.0, 1.0]])
        >>> cr.inverse(a)
        tensor([[ 0.5000,  0.0000],
                [-0.5000,  1.0000]])
        >>> a.inverse() @ a
        tensor([[1., 0.],
                [0., 1.]])
    """
    _check_matrix("inverse", a)
    return apply1(_inv, a)


def _cofactor(xp, a):
    """The cofactor matrix (the gradient of det) from the SVD: correct for singular matrices too."""
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), axis=-1), axis=-1), axis=-1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)


@primitive("det", save=True, save_output=True)
def _det(xp, a):
    return xp.linalg.det(a)


@_det.defvjp
def _det_vjp(ctx, g):
    (a,) = ctx.saved
    d = ctx.output()
    scale = g.unsqueeze(-1).unsqueeze(-1)
    if (d._data == 0).any():
        # A singular matrix has no inverse; its cofactor matrix is still the gradient (first order)
        return scale * _wrap(_cofactor(array_module(a._data), a._data))
    return (scale * d.unsqueeze(-1).unsqueeze(-1)) * inverse(a).mT  # d det = det * tr(A^-1 dA)


@_det.defjvp
def _det_jvp(ctx, t_a):
    (a,) = ctx.saved
    d = ctx.output()
    if (d._data == 0).any():
        return (_wrap(_cofactor(array_module(a._data), a._data)) * t_a).sum((-2, -1))
    return d * (inverse(a).mT * t_a).sum((-2, -1))  # d det = det * tr(A^-1 dA)


@op(method=True)
def det(a: Tensor) -> Tensor:
    """The determinant of a square matrix, batched over leading dimensions.

    The gradient is ``g * det(A) * inverse(A).mT``; at an exactly singular
    matrix it is the cofactor matrix, computed from the SVD (so it is defined
    there, as in PyTorch). Also ``chainrule.linalg.det``.

    Differs from PyTorch: at an exactly singular matrix the gradient is
    correct to first order only (a second derivative taken there treats the
    cofactor matrix as a constant).

    Args:
        a: the matrix or matrices, shape ``(*, n, n)``, float32 or float64.

    Returns:
        A tensor of shape ``(*)`` in ``a``'s dtype.

    Raises:
        ShapeError: ``a`` is not a (batch of) square matrices.
        DTypeError: ``a`` is not float32 or float64.

    Examples:
        >>> a = cr.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
        >>> d = cr.det(a)
        >>> d.backward()
        >>> d, a.grad
        (tensor(5., grad_fn=<det>), tensor([[ 3., -1.],
                [-1.,  2.]]))
    """
    _check_matrix("det", a)
    return apply1(_det, a)


@primitive("slogdet", save=True, multi=True, nondiff=(0,))
def _slogdet(xp, a):
    sign, logabsdet = xp.linalg.slogdet(a)
    return xp.asarray(sign), xp.asarray(logabsdet)


@_slogdet.defvjp
def _slogdet_vjp(ctx, g_sign, g_logabsdet):
    (a,) = ctx.saved
    try:
        inv_t = inverse(a).mT  # d log|det A| = tr(A^-1 dA)
    except LinAlgError:
        raise LinAlgError(
            f"slogdet: the gradient of log|det| at a singular matrix is infinite (input shape {a.shape})"
        ) from None
    return g_logabsdet.unsqueeze(-1).unsqueeze(-1) * inv_t


@_slogdet.defjvp
def _slogdet_jvp(ctx, t_a):
    (a,) = ctx.saved
    return None, (inverse(a).mT * t_a).sum((-2, -1))


@op(method=True)
def slogdet(a: Tensor):
    """The sign and the log of the absolute value of the determinant, batched over leading dimensions.

    ``det(A) = sign * exp(logabsdet)`` without the overflow of ``det`` for
    large matrices. ``logabsdet`` is ``-inf`` for a singular matrix. The
    gradient of ``logabsdet`` is ``g * inverse(A).mT``; ``sign`` has none.
    Also ``chainrule.linalg.slogdet``.

    Args:
        a: the matrix or matrices, shape ``(*, n, n)``, float32 or float64.

    Returns:
        A named tuple ``(sign, logabsdet)`` of two tensors of shape ``(*)`` in
        ``a``'s dtype.

    Raises:
        ShapeError: ``a`` is not a (batch of) square matrices.
        DTypeError: ``a`` is not float32 or float64.
        LinAlgError: backward at a singular matrix (the gradient is infinite).

    Examples:
        >>> sign, logabsdet = cr.slogdet(cr.tensor([[-2.0, 0.0], [0.0, 3.0]]))
        >>> sign, logabsdet
        (tensor(-1.), tensor(1.7918))
    """
    _check_matrix("slogdet", a)
    return SlogdetResult(*apply1(_slogdet, a))


@primitive("solve", save=(0,), save_output=True)
def _solve(xp, a, b):
    return _lapack("solve", xp.linalg.solve, a, b, reason=_SINGULAR)


@_solve.defvjp
def _solve_vjp(ctx, g):
    (a,) = ctx.saved
    gb = apply2(_solve, a.mT, g)  # X = A^-1 B: gB = A^-T g, gA = -gB X^T
    ga = -(gb @ ctx.output().mT) if ctx.next[0] is not None else None
    return ga, (gb if ctx.next[1] is not None else None)


@_solve.defjvp
def _solve_jvp(ctx, t_a, t_b):
    a = ctx.saved[0]
    rhs = t_b if t_a is None else (-(t_a @ ctx.output()) if t_b is None else t_b - t_a @ ctx.output())
    return apply2(_solve, a, rhs)  # dX = A^-1 (dB - dA X)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803 - PyTorch's names
    """The solution ``X`` of ``A @ X = B`` (or ``X @ A = B`` with ``left=False``), batched and broadcast.

    ``B`` is a batch of vectors when it is 1-d or has shape ``A.shape[:-1]``
    (PyTorch's rule), and a batch of matrices otherwise; batch dimensions
    broadcast. Faster and more accurate than ``inv(A) @ B``. The gradients
    are ``gB = solve(A.mT, g)`` and ``gA = -gB @ X.mT``.

    Args:
        A: the square matrices, shape ``(*, n, n)``, float32 or float64.
        B: the right-hand sides, shape ``(*, n)``, ``(*, n, k)`` (``(*, k, n)``
            with ``left=False``), in ``A``'s dtype.
        left: solve ``A @ X = B`` (the default) or ``X @ A = B``.

    Returns:
        ``X``, of ``B``'s shape (with the batch dimensions broadcast).

    Raises:
        ShapeError: ``A`` is not square, or ``B``'s sizes do not fit ``A``.
        DTypeError: ``A`` or ``B`` is not float32 or float64, or their dtypes differ.
        LinAlgError: a matrix ``A`` is singular.

    Examples:
        >>> A = cr.tensor([[2.0, 0.0], [0.0, 4.0]])
        >>> cr.linalg.solve(A, cr.tensor([2.0, 2.0]))
        tensor([1.0000, 0.5000])
        >>> cr.linalg.solve(A, cr.ones(2, 3)).shape
        (2, 3)
    """
    _check_matrix("solve", A)
    if not isinstance(B, Tensor) or B._data.ndim == 0:
        raise ShapeError(f"solve: B must be a tensor with at least one dimension, got {getattr(B, 'shape', B)!r}")
    if not left:  # X @ A = B is A.mT @ X.mT = B.mT
        return solve(A.mT, B) if B._data.ndim == 1 else solve(A.mT, B.mT).mT
    n = A._data.shape[-1]
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    rhs = B.unsqueeze(-1) if vector else B
    if rhs._data.shape[-2] != n:
        raise ShapeError(
            f"solve: A of shape {A.shape} needs B with {n} rows (shape (*, {n}) or (*, {n}, k)), got shape {B.shape}"
        )
    try:
        import numpy as np  # noqa: PLC0415

        np.broadcast_shapes(A._data.shape[:-2], rhs._data.shape[:-2])
    except ValueError:
        raise ShapeError(f"solve: batch dimensions of A {A.shape} and B {B.shape} do not broadcast") from None
    if B._data.dtype != A._data.dtype:
        raise DTypeError(f"solve: A is {A._data.dtype} and B is {B._data.dtype}; convert one so they match")
    out = apply2(_solve, A, rhs)
    return out.squeeze(-1) if vector else out


# ---------------------------------------------------------------------------
# decompositions


@primitive("svd", save=True, multi=True, extra=True)
def _svd(xp, a, full_matrices):
    factors = _lapack("svd", lambda x: xp.linalg.svd(x, full_matrices=full_matrices), a)
    return tuple(factors), tuple(factors)


@_svd.defvjp
def _svd_vjp(ctx, g_u, g_s, g_vh):
    # PyTorch's svd_backward (real case); see also Townsend, "Differentiating the SVD" (2016)
    (a,) = ctx.saved
    full = ctx.args[0]
    if ctx.create_graph:
        u, s, vh = svd(a, full_matrices=full)
    else:
        u, s, vh = (_wrap(x) for x in ctx.extra)
    m, n = a._data.shape[-2:]
    k = min(m, n)
    if full and m != n:  # the extra columns are not unique: their gradients are dropped, as in PyTorch
        u, g_u, vh, g_vh = u[..., :k], g_u[..., :k], vh[..., :k, :], g_vh[..., :k, :]
    has_u, has_v = _given(g_u), _given(g_vh)
    if not has_u and not has_v:
        return u @ (g_s.unsqueeze(-1) * vh) if m >= n else (u * g_s.unsqueeze(-2)) @ vh
    s2 = s * s
    e = s2.unsqueeze(-2) - s2.unsqueeze(-1) + _eye_like(s, k)  # E[i, j] = s_j^2 - s_i^2, 1 on the diagonal
    inner = None
    if has_u:
        uhgu = u.mT @ g_u
        inner = (uhgu - uhgu.mT) * s.unsqueeze(-2)
    if has_v:
        vhgv = vh @ g_vh.mT
        term = s.unsqueeze(-1) * (vhgv - vhgv.mT)
        inner = term if inner is None else inner + term
    ga = inner / e + _diag_embed(g_s)
    if m > n and has_u:
        gus = g_u / s.unsqueeze(-2)
        ga = (u @ ga + gus - u @ (u.mT @ gus)) @ vh
    elif m < n and has_v:
        sgv = g_vh / s.unsqueeze(-1)
        ga = u @ (ga @ vh + sgv - (sgv @ vh.mT) @ vh)
    else:
        ga = u @ ga @ vh
    return ga


@_svd.defjvp
def _svd_jvp(ctx, t_a):
    # U^T dA V = U^T dU S + dS - S V^T dV: the diagonal is dS, the rest gives the rotations of U and V
    # (F = 1 / (s_j^2 - s_i^2) off the diagonal), and the parts outside the spans come from the projections
    a = ctx.saved[0]
    u, s, vh = ctx.output(0), ctx.output(1), ctx.output(2)
    m, n = a._data.shape[-2:]
    k = min(m, n)
    full = ctx.args[0] and m != n
    if full:
        u, vh = u[..., :k], vh[..., :k, :]
    v = vh.mT
    dp = u.mT @ t_a @ v
    eye = _eye_like(s, k)
    s2 = s * s
    f = (1.0 - eye) / (s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye)
    s_row, s_col = s.unsqueeze(-2), s.unsqueeze(-1)
    du = u @ (f * (dp * s_row + s_col * dp.mT))
    dv = v @ (f * (s_col * dp + dp.mT * s_row))
    ds = (dp * eye).sum(-1)
    if m > k:
        du = du + (t_a @ v - u @ (u.mT @ t_a @ v)) / s_row
    if n > k:
        dv = dv + (t_a.mT @ u - v @ (v.mT @ t_a.mT @ u)) / s_row
    dvh = dv.mT
    if full:  # the extra columns of U (rows of Vh) are not unique: no tangent, as they get no gradient
        from .shape import cat  # noqa: PLC0415

        xp = array_module(a._data)
        batch = t_a._data.shape[:-2]
        if m > k:
            du = cat([du, _wrap(xp.zeros(batch + (m, m - k), dtype=a._data.dtype))], dim=-1)
        if n > k:
            dvh = cat([dvh, _wrap(xp.zeros(batch + (n - k, n), dtype=a._data.dtype))], dim=-2)
    return du, ds, dvh


def svd(A: Tensor, full_matrices: bool = True):  # noqa: N803
    """The singular value decomposition ``A = U @ diag(S) @ Vh``, batched over leading dimensions.

    ``S`` is in descending order. The gradient is PyTorch's (``svd_backward``);
    like any SVD gradient it is well defined only for a loss that does not
    depend on the signs of the singular vectors (``U * S @ Vh``, ``S``,
    ``U @ U.mT``, ...), and it is infinite where two singular values are equal
    and the loss depends on ``U`` or ``Vh`` (then the vectors are not unique).
    With ``full_matrices=True`` the columns of ``U`` (rows of ``Vh``) past
    ``min(m, n)`` get no gradient, as in PyTorch; pass ``full_matrices=False``
    when differentiating.

    Args:
        A: the matrix or matrices, shape ``(*, m, n)``, float32 or float64.
        full_matrices: return the full ``U`` ``(*, m, m)`` and ``Vh``
            ``(*, n, n)`` (the default, as PyTorch) or the reduced ``(*, m, k)``
            and ``(*, k, n)`` with ``k = min(m, n)``.

    Returns:
        A named tuple ``(U, S, Vh)``; ``S`` has shape ``(*, k)``; all in ``A``'s dtype.

    Raises:
        ShapeError: ``A`` has fewer than two dimensions.
        DTypeError: ``A`` is not float32 or float64.
        LinAlgError: the SVD did not converge.

    Examples:
        >>> A = cr.tensor([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]])
        >>> U, S, Vh = cr.linalg.svd(A, full_matrices=False)
        >>> S
        tensor([3., 2.])
        >>> U.shape, Vh.shape, cr.linalg.svd(A).U.shape
        ((3, 2), (2, 2), (3, 3))
        >>> cr.allclose(U * S @ Vh, A)
        True
    """
    _check_matrix("svd", A, square=False)
    return SVDResult(*apply1(_svd, A, bool(full_matrices)))


def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values of ``A``, in descending order, batched over leading dimensions.

    The gradient is ``U @ diag(g) @ Vh`` (defined even where singular values
    repeat).

    Args:
        A: the matrix or matrices, shape ``(*, m, n)``, float32 or float64.

    Returns:
        A tensor of shape ``(*, min(m, n))`` in ``A``'s dtype.

    Raises:
        ShapeError: ``A`` has fewer than two dimensions.
        DTypeError: ``A`` is not float32 or float64.

    Examples:
        >>> cr.linalg.svdvals(cr.tensor([[0.0, 2.0], [-5.0, 0.0]]))
        tensor([5., 2.])
    """
    _check_matrix("svdvals", A, square=False)
    return apply1(_svd, A, False)[1]


@primitive("eigh", save=True, multi=True, extra=True)
def _eigh(xp, a, uplo):
    factors = _lapack("eigh", lambda x: xp.linalg.eigh(x, UPLO=uplo), a)
    return tuple(factors), tuple(factors)


@_eigh.defvjp
def _eigh_vjp(ctx, g_l, g_q):
    # PyTorch's linalg_eig_backward for Hermitian input: gA = Q (skew(Q^T gQ) / E + diag(gL)) Q^T
    (a,) = ctx.saved
    if ctx.create_graph:
        lam, q = eigh(a, UPLO=ctx.args[0])
    else:
        lam, q = (_wrap(x) for x in ctx.extra)
    inner = _diag_embed(g_l)
    if _given(g_q):
        n = a._data.shape[-1]
        qhgq = q.mT @ g_q
        e = lam.unsqueeze(-2) - lam.unsqueeze(-1) + _eye_like(lam, n)  # E[i, j] = l_j - l_i, 1 on the diagonal
        inner = inner + ((qhgq - qhgq.mT) * 0.5) / e
    return q @ inner @ q.mT


@_eigh.defjvp
def _eigh_jvp(ctx, t_a):
    # dL = diag(Q^T dA Q), dQ = Q (F o Q^T dA Q), F = 1 / (l_j - l_i) off the diagonal; dA is taken
    # symmetric, as the gradient is (the transpose of the vjp)
    lam, q = ctx.output(0), ctx.output(1)
    n = lam._data.shape[-1]
    eye = _eye_like(lam, n)
    dp = q.mT @ ((t_a + t_a.mT) * 0.5) @ q
    f = (1.0 - eye) / (lam.unsqueeze(-2) - lam.unsqueeze(-1) + eye)
    return (dp * eye).sum(-1), q @ (f * dp)


def eigh(A: Tensor, UPLO: str = "L"):  # noqa: N803
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix, batched.

    Only the lower (``UPLO='L'``) or upper triangle is read. ``A = Q @
    diag(L) @ Q.mT``. The gradient is PyTorch's, a symmetric matrix; like any
    eigenvector gradient it is meaningful only for a loss that does not depend
    on the eigenvectors' signs, and it is infinite where two eigenvalues are
    equal and the loss depends on their eigenvectors (the vectors are not
    unique there). The eigenvalues alone (``eigvalsh``) have a gradient
    everywhere.

    Args:
        A: the symmetric matrix or matrices, shape ``(*, n, n)``, float32 or float64.
        UPLO: ``'L'`` (the default) or ``'U'``: the triangle that is read.

    Returns:
        A named tuple ``(eigenvalues, eigenvectors)`` of shapes ``(*, n)`` and
        ``(*, n, n)``, in ``A``'s dtype; the eigenvectors are the columns.

    Raises:
        ShapeError: ``A`` is not a (batch of) square matrices.
        DTypeError: ``A`` is not float32 or float64.
        ValueError: ``UPLO`` is not ``'L'`` or ``'U'``.
        LinAlgError: the algorithm did not converge.

    Examples:
        >>> L, Q = cr.linalg.eigh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]))
        >>> L
        tensor([1., 3.])
        >>> cr.allclose(Q.mT @ Q, cr.eye(2), atol=1e-6)
        True
    """
    _check_matrix("eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return EighResult(*apply1(_eigh, A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues of a symmetric matrix, in ascending order, batched over leading dimensions.

    The gradient is ``Q @ diag(g) @ Q.mT``, defined even where eigenvalues repeat.

    Args:
        A: the symmetric matrix or matrices, shape ``(*, n, n)``, float32 or float64.
        UPLO: ``'L'`` (the default) or ``'U'``: the triangle that is read.

    Returns:
        A tensor of shape ``(*, n)`` in ``A``'s dtype.

    Raises:
        ShapeError: ``A`` is not a (batch of) square matrices.
        DTypeError: ``A`` is not float32 or float64.

    Examples:
        >>> cr.linalg.eigvalsh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]))
        tensor([1., 3.])
    """
    return eigh(A, UPLO)[0]


@primitive("cholesky", save_output=True)
def _cholesky(xp, a, upper):
    low = _lapack("cholesky", xp.linalg.cholesky, a, reason="the matrix (or one in the batch) is not positive-definite")
    return xp.ascontiguousarray(low.swapaxes(-1, -2)) if upper else low


@_cholesky.defvjp
def _cholesky_vjp(ctx, g):
    # PyTorch's cholesky_backward: gA = sym(L^-T phi(L^T gL) L^-1), phi = lower triangle with half the diagonal
    low = ctx.output()
    if ctx.args[0]:
        low, g = low.mT, g.mT
    n = low._data.shape[-1]
    xp = array_module(low._data)
    half_tril = _wrap((xp.tril(xp.ones((n, n))) - 0.5 * xp.eye(n)).astype(low._data.dtype))
    low_inv = inverse(low)
    phi = (low.mT @ g) * half_tril
    ga = low_inv.mT @ phi @ low_inv
    return (ga + ga.mT) * 0.5


@_cholesky.defjvp
def _cholesky_jvp(ctx, t_a):
    # dL = L phi(L^-1 dA L^-T), phi = lower triangle with half the diagonal; dA taken symmetric
    low = ctx.output()
    if ctx.args[0]:
        low = low.mT
    n = low._data.shape[-1]
    xp = array_module(low._data)
    half_tril = _wrap((xp.tril(xp.ones((n, n))) - 0.5 * xp.eye(n)).astype(low._data.dtype))
    low_inv = inverse(low)
    d_low = low @ ((low_inv @ ((t_a + t_a.mT) * 0.5) @ low_inv.mT) * half_tril)
    return d_low.mT if ctx.args[0] else d_low


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """The Cholesky factor of a symmetric positive-definite matrix: ``A = L @ L.mT``, batched.

    Only the lower triangle of ``A`` is read. The gradient is PyTorch's, a
    symmetric matrix.

    Args:
        A: the symmetric positive-definite matrix or matrices, shape ``(*, n, n)``,
            float32 or float64.
        upper: return the upper factor ``U = L.mT`` (``A = U.mT @ U``) instead.

    Returns:
        A lower (upper) triangular tensor of shape ``(*, n, n)`` in ``A``'s dtype.

    Raises:
        ShapeError: ``A`` is not a (batch of) square matrices.
        DTypeError: ``A`` is not float32 or float64.
        LinAlgError: a matrix is not positive-definite (as ``torch.linalg.cholesky``).

    Examples:
        >>> L = cr.linalg.cholesky(cr.tensor([[4.0, 2.0], [2.0, 2.0]]))
        >>> L
        tensor([[2., 0.],
                [1., 1.]])
        >>> L @ L.mT
        tensor([[4., 2.],
                [2., 2.]])
    """
    _check_matrix("cholesky", A)
    return apply1(_cholesky, A, bool(upper))


@primitive("qr", save=True, multi=True, extra=True)
def _qr(xp, a, mode):
    q, r = _lapack("qr", lambda x: xp.linalg.qr(x, mode=mode), a)
    return (q, r), (q, r)


@_qr.defvjp
def _qr_vjp(ctx, g_q, g_r):
    # PyTorch's linalg_qr_backward (m >= n, or square): gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q
    (a,) = ctx.saved
    if ctx.create_graph:
        q, r = qr(a, mode=ctx.args[0])
    else:
        q, r = (_wrap(x) for x in ctx.extra)
    m, n = a._data.shape[-2:]
    _qr_differentiable(a, ctx.args[0])
    xp = array_module(q._data)
    k = r._data.shape[-2]
    lower = _wrap(xp.tril(xp.ones((k, k)), -1).astype(q._data.dtype))
    mt = r @ g_r.mT - g_q.mT @ q
    copyltu = mt * lower + (mt * lower).mT + mt * _eye_like(q, k)  # the lower triangle mirrored up
    b = g_q + q @ copyltu
    return solve(r, b.mT).mT  # b @ R^-T, R^-T = (R^-1)^T: solve R X = b^T, gA = X^T


def _qr_differentiable(a, mode):
    m, n = a._data.shape[-2:]
    if m < n:
        raise NotImplementedError(
            f"qr: the derivative for a wide matrix (m < n, shape {a.shape}) is not implemented; transpose it first"
        )
    if mode == "complete" and m > n:
        raise NotImplementedError(
            f"qr: mode='complete' of a tall matrix (shape {a.shape}) is not differentiable (its extra columns of Q "
            "are not unique), as in PyTorch; use mode='reduced'"
        )


@_qr.defjvp
def _qr_jvp(ctx, t_a):
    # A = QR: C = Q^T dA R^-1 = Q^T dQ + dR R^-1, a skew part below the diagonal plus an upper triangle
    (a,) = ctx.saved
    _qr_differentiable(a, ctx.args[0])
    q, r = ctx.output(0), ctx.output(1)
    n = r._data.shape[-1]
    xp = array_module(q._data)
    below = _wrap(xp.tril(xp.ones((n, n)), -1).astype(q._data.dtype))
    da_rinv = solve(r, t_a, left=False)  # dA R^-1
    c = q.mT @ da_rinv
    omega = c * below - (c * below).mT
    upper = c - omega  # dR R^-1
    return da_rinv - q @ upper, upper @ r


def qr(A: Tensor, mode: str = "reduced"):  # noqa: N803
    """The QR decomposition ``A = Q @ R``, ``Q`` with orthonormal columns and ``R`` upper triangular, batched.

    The gradient (and the jvp) is PyTorch's, for ``m >= n``; it needs ``R``
    to be invertible (``A`` of full rank). As in PyTorch, ``mode='complete'``
    of a tall ``A`` is not differentiable (the extra columns of ``Q`` are not
    unique): backward raises NotImplementedError.

    Differs from PyTorch: the derivative for a wide ``A`` (``m < n``) is not
    implemented (backward raises NotImplementedError); ``mode='r'`` is
    differentiable (PyTorch refuses, as it does not compute ``Q`` then).

    Args:
        A: the matrix or matrices, shape ``(*, m, n)``, float32 or float64.
        mode: ``'reduced'`` (the default: ``Q`` ``(*, m, k)``, ``R`` ``(*, k, n)``,
            ``k = min(m, n)``), ``'complete'`` (``Q`` ``(*, m, m)``, ``R`` ``(*, m, n)``)
            or ``'r'`` (``Q`` empty).

    Returns:
        A named tuple ``(Q, R)`` in ``A``'s dtype.

    Raises:
        ShapeError: ``A`` has fewer than two dimensions.
        DTypeError: ``A`` is not float32 or float64.
        ValueError: ``mode`` is not one of the three.

    Examples:
        >>> Q, R = cr.linalg.qr(cr.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> cr.allclose(Q @ R, cr.tensor([[3.0, 1.0], [4.0, 2.0]]))
        True
        >>> R.abs()
        tensor([[5.0000, 2.2000],
                [0.0000, 0.4000]])
    """
    _check_matrix("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "r":
        r = apply1(_qr, A, "reduced")[1]
        return QRResult(_wrap(array_module(A._data).zeros((0,), dtype=A._data.dtype)), r)
    if mode == "complete" and A._data.shape[-2] > A._data.shape[-1]:
        q, r = apply1(_qr, A, "complete")  # rows of R past n are zero; no gradient formula needs them
        return QRResult(q, r)
    return QRResult(*apply1(_qr, A, "reduced"))


# ---------------------------------------------------------------------------
# norms and distances


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The vector ``ord``-norm of ``x`` over ``dim`` (all elements by default): ``sum(|x|**ord) ** (1/ord)``.

    ``ord=inf`` is ``max(|x|)``, ``-inf`` is ``min(|x|)`` and ``0`` counts the
    nonzero elements (no gradient). The gradient where the norm is 0 is 0 for
    every ``ord`` (PyTorch's subgradient); ties of ``inf``/``-inf`` share it.

    Args:
        x: the input, any shape ``(*)``, float.
        ord: the order: any float, ``inf`` or ``-inf`` (default 2).
        dim: the dimension (int) or dimensions (tuple) to reduce; None (the
            default) reduces all.
        keepdim: keep the reduced dimensions as size 1 (default False).
        dtype: if given, ``x`` is cast to it first.

    Returns:
        ``x``'s shape without the reduced dimensions, in ``x``'s float dtype.

    Raises:
        TypeError: ``ord`` is not a number.

    Examples:
        >>> x = cr.tensor([[3.0, -4.0], [0.0, 1.0]])
        >>> cr.linalg.vector_norm(x), cr.linalg.vector_norm(x, 1, dim=1)
        (tensor(5.0990), tensor([7., 1.]))
        >>> cr.linalg.vector_norm(x, float("inf"), dim=0, keepdim=True)
        tensor([[3., 4.]])
    """
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(ord, str) or not isinstance(ord, (int, float)):
        raise TypeError(f"vector_norm: ord must be a number (or inf), got {ord!r}")
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
    p = float(ord)
    if p in (2.0, 1.0, 0.0) or p in (float("inf"), float("-inf")):
        return reduce.norm(x, p, dim, keepdim)
    # sum(|x|^p)^(1/p) with the gradient 0 where the norm is 0 (the power's derivative is inf * 0 there)
    powered = reduce.sum(x.abs() ** p, dim=dim, keepdim=keepdim)
    zero = powered._data == 0
    if not zero.any():
        return powered ** (1.0 / p)
    from .elementwise import select, where  # noqa: PLC0415

    safe = where(_wrap(zero), 1.0, powered)
    return select(safe ** (1.0 / p), zero, keep=False)


@op()
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise ``p``-norm distances between the rows of ``x1`` and the rows of ``x2``, batched.

    ``out[..., i, j] = vector_norm(x1[..., i, :] - x2[..., j, :], p)``. Where
    two rows coincide the gradient is 0 (PyTorch's subgradient for every
    ``p``). Computed from the ``(*, P, R, M)`` differences, so its memory grows
    with ``P * R * M``.

    Differs from PyTorch: ``compute_mode`` is accepted and ignored (the
    distances always come from the differences, never from the matrix-product
    shortcut, so they are exact where two rows nearly coincide).

    Args:
        x1: the first set of rows, shape ``(*, P, M)``, float.
        x2: the second set, shape ``(*, R, M)``, in ``x1``'s dtype; the batch
            dimensions broadcast.
        p: the order of the norm, ``p >= 0`` (default 2.0; ``inf`` allowed).
        compute_mode: accepted for PyTorch compatibility; ignored.

    Returns:
        A tensor of shape ``(*, P, R)`` in the inputs' dtype.

    Raises:
        ShapeError: an input has fewer than two dimensions, or the row lengths differ.
        ValueError: ``p`` is negative.

    Examples:
        >>> a = cr.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> b = cr.tensor([[3.0, 4.0]])
        >>> cr.cdist(a, b)
        tensor([[5.0000],
                [3.6056]])
        >>> cr.cdist(a, b, p=1)
        tensor([[7.],
                [5.]])
    """
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor) or t._data.ndim < 2:
            raise ShapeError(f"cdist: {name} must be a tensor of shape (*, rows, M), got {getattr(t, 'shape', t)!r}")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise ShapeError(f"cdist: x1 {x1.shape} and x2 {x2.shape} must have rows of the same length (last dimension)")
    if p < 0:
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return vector_norm(diff, p, dim=-1)
