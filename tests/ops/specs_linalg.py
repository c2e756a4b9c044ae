"""Gradcheck specs for ``chainrule.linalg`` (``ops/matrix.py``): inverse, det, slogdet, solve, the
decompositions, the norms and cdist.

Each domain keeps the inputs where the function is smooth: matrices well away
from singular, symmetric positive-definite ones for Cholesky, eigenvalues and
singular values at least about 1 apart (the eigenvector and singular-vector
gradients divide by their gaps). The outputs of eigh, svd and qr are made
independent of the sign of each vector (``Q * Q[..., :1, :]``), which is all a
gradient can be defined for. PyTorch parity is in tests/ops/test_linalg.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import chainrule as cr

from .specs import away_from_zero, dims, spec

batch = st.lists(st.integers(min_value=1, max_value=2), min_size=0, max_size=2).map(tuple)


def square(draw):
    return [draw(batch) + (draw(dims),) * 2]


def square_and_rhs(draw):
    n, b = draw(dims), draw(batch)
    kind = draw(st.sampled_from(["matrix", "vector", "broadcast"]))
    rhs = {"matrix": b + (n, draw(dims)), "vector": (n,), "broadcast": (n, draw(dims))}[kind]
    return [b + (n, n), rhs]


def rectangular(draw):
    return [draw(batch) + (draw(dims), draw(dims))]


def tall(draw):
    m, n = draw(dims), draw(dims)
    return [draw(batch) + (max(m, n), min(m, n))]


def well_conditioned(x):
    """Far from singular: the identity times a margin above the random part's spread."""
    n = x.shape[-1]
    return x * 0.3 + np.eye(n) * (1.5 + n * 0.3)


def spd(x):
    """Symmetric positive-definite: x @ x.T + n * I."""
    return x @ np.swapaxes(x, -1, -2) * 0.3 + np.eye(x.shape[-1]) * x.shape[-1]


def spread_eigenvalues(x):
    """A symmetric matrix with eigenvalues 1, 2, ..., n (plus a small nonsymmetric part fn removes)."""
    n = x.shape[-1]
    q, _ = np.linalg.qr(x + np.eye(n) * 0.1)
    sym = (q * np.arange(1.0, n + 1)[..., None, :]) @ np.swapaxes(q, -1, -2)
    return sym + 0.05 * x


def spread_singular_values(x):
    """A matrix with singular values 1, 2, ..., min(m, n): gaps of 1 and none near 0."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return (u * np.arange(1.0, s.shape[-1] + 1)[::-1]) @ vh


def sym(a):
    return (a + a.mT) * 0.5


def _gauge(v, axis_row=True):
    """Vectors (columns) times their first entry: the same for v and -v."""
    return v * v[..., :1, :]


spec("inverse", lambda a: cr.inverse(a), square, ["inv"], domain=well_conditioned)
spec("det", lambda a: cr.det(a), square, ["det", "inv"], domain=well_conditioned)
spec("slogdet", lambda a: cr.slogdet(a)[1], square, ["slogdet", "inv"], domain=well_conditioned)
spec(
    "solve",
    lambda a, b: cr.linalg.solve(a, b),
    square_and_rhs,
    ["solve"],
    domains=(well_conditioned, None),
)
spec(
    "solve_left_false",
    lambda a, b: cr.linalg.solve(a, b, left=False),
    lambda d: [(2, 3, 3), (2, 2, 3)],
    ["solve"],
    domains=(well_conditioned, None),
)
spec(
    "svd",
    lambda a: (lambda r: (_gauge(r.U), r.S, _gauge(r.Vh.mT)))(cr.linalg.svd(a, full_matrices=False)),
    rectangular,
    ["svd"],
    domain=spread_singular_values,
)
spec(
    "svd_full",
    lambda a: (lambda r: (_gauge(r.U[..., : r.S.shape[-1]]), r.S))(cr.linalg.svd(a)),
    rectangular,
    ["svd"],
    domain=spread_singular_values,
)
spec("svdvals", lambda a: cr.linalg.svdvals(a), rectangular, ["svd"], domain=spread_singular_values)
spec(
    "eigh",
    lambda a: (lambda r: (r.eigenvalues, _gauge(r.eigenvectors)))(cr.linalg.eigh(sym(a))),
    square,
    ["eigh"],
    domain=spread_eigenvalues,
)
spec("eigvalsh", lambda a: cr.linalg.eigvalsh(sym(a), UPLO="U"), square, ["eigh"], domain=spread_eigenvalues)
spec("cholesky", lambda a: cr.linalg.cholesky(sym(a)), square, ["cholesky", "inv"], domain=spd)
spec("cholesky_upper", lambda a: cr.linalg.cholesky(sym(a), upper=True), square, ["cholesky"], domain=spd)
spec(
    "qr",
    lambda a: tuple(cr.linalg.qr(a)),
    tall,
    ["qr", "solve"],
    domain=lambda x: spread_singular_values(x) + 0.0,
)
spec("vector_norm_3", lambda a: cr.linalg.vector_norm(a, 3, dim=-1), lambda d: [(2, 3)], ["pow_scalar", "sum"])
spec(
    "vector_norm_half",
    lambda a: cr.linalg.vector_norm(a, 0.5),
    lambda d: [(2, 3)],
    ["pow_scalar", "sum"],
    domain=away_from_zero,
)
for _ord in ("fro", "nuc", 2, -2):
    spec(
        f"matrix_norm_{_ord}",
        lambda a, o=_ord: cr.linalg.matrix_norm(a, o),
        rectangular,
        ["svd", "norm2"],
        domain=spread_singular_values,
    )
for _ord in (1, float("inf")):
    spec(
        f"matrix_norm_{_ord}",
        lambda a, o=_ord: cr.linalg.matrix_norm(a, o, dim=(0, -1), keepdim=True),
        lambda d: [(3, 2, 3)],
        ["abs", "sum", "amax"],
        domain=lambda x: away_from_zero(x) * (1.0 + np.arange(x.size).reshape(x.shape) * 0.37),
    )


def pairs(draw):
    b, m = draw(batch), draw(dims)
    return [b + (draw(dims), m), b + (draw(dims), m)]


for _p in (2.0, 1.0, 3.0, float("inf")):
    spec(
        f"cdist_{_p}",
        lambda a, b, p=_p: cr.cdist(a, b, p=p),
        pairs,
        ["norm2", "sub"],
        domains=(None, lambda x: x + 0.37),
    )
