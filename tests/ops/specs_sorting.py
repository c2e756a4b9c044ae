"""Gradcheck specs for sorting, running reductions, triangles/diagonals, scatter and friends (loaded by specs.py).

The ops of ``ops/sorting.py`` and ``ops/diagonal.py``, the scatter/index_put/
take_along_dim/masked_select additions of ``ops/index.py``, roll and meshgrid
(``ops/shape.py``), and einsum with a repeated index.  Index arguments are
built inside each ``fn`` from the drawn shapes with a fixed seed.  Where the
derivative depends on which index wins a tie or a duplicate write, the specs
stay away from ties (``distinct`` values, duplicate-free scatter indices); the
tie and duplicate choices are checked against PyTorch in
tests/ops/test_sorting.py, which also holds the parity cases.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import chainrule as cr

from .specs import away_from_zero, dims, distinct, shape_st, spec, unary


def _at_least(n_dims):
    return lambda draw: [draw(shape_st(min_dims=n_dims))]


def with_zeros(x):
    """Nonzero values with exact zeros at the first and middle positions (cumprod's other rule)."""
    out = away_from_zero(x).copy()
    flat = out.reshape(-1)
    flat[0] = 0.0
    flat[flat.size // 2] = 0.0
    return out


def spread(x):
    return 30.0 * x


def _seeded(shape):
    return np.random.default_rng(sum(shape) * 7 + len(shape))


# ------------------------------------------------------------------ sort, topk, running extremes

spec("sort", lambda a: a.sort().values, _at_least(1), ["gather"], domain=distinct)
spec("sort_descending_dim0", lambda a: cr.sort(a, 0, descending=True)[0], _at_least(1), ["gather"], domain=distinct)
spec("sort_0d", lambda a: a.sort().values, lambda d: [()], ["gather"])
spec("topk", lambda a: a.topk(min(2, a.shape[-1])).values, _at_least(1), ["gather"], domain=distinct)
spec("topk_smallest", lambda a: cr.topk(a, 1, 0, largest=False)[0], _at_least(1), ["gather"], domain=distinct)
spec("msort", lambda a: cr.msort(a), _at_least(1), ["gather"], domain=distinct)
spec("kthvalue", lambda a: cr.kthvalue(a, 1, -1).values, _at_least(1), ["gather"], domain=distinct)
spec("median_dim", lambda a: a.median(0, keepdim=True).values, _at_least(1), ["gather"], domain=distinct)
spec("median_all", lambda a: cr.median(a), unary, ["sub", "mul", "sum"], domain=distinct)
spec("cummax", lambda a: a.cummax(-1).values, _at_least(1), ["gather"], domain=distinct)
spec("cummin", lambda a: cr.cummin(a, 0)[0], _at_least(1), ["gather"], domain=distinct)
spec("take_along_dim_sort", lambda a: a.take_along_dim(a.argsort(-1), -1), _at_least(1), ["gather"], domain=distinct)

# ------------------------------------------------------------------ cumulative products and log-sum-exps

spec("cumprod", lambda a: a.cumprod(-1), _at_least(1), ["cumprod"], domain=away_from_zero)
spec("cumprod_zeros", lambda a: a.cumprod(0), _at_least(1), ["cumprod"], domain=with_zeros)
spec("cumprod_0d", lambda a: a.cumprod(0), lambda d: [()], ["cumprod"], domain=away_from_zero)
spec("logcumsumexp", lambda a: a.logcumsumexp(-1), _at_least(1), ["logcumsumexp"])
spec("logcumsumexp_spread", lambda a: cr.logcumsumexp(a, 0), _at_least(1), ["logcumsumexp"], domain=spread)

# ------------------------------------------------------------------ triangles and diagonals

spec("tril", lambda a: a.tril(), _at_least(2), ["tril"])
spec("tril_offset", lambda a: cr.tril(a, -1), _at_least(2), ["tril"])
spec("triu", lambda a: a.triu(1), _at_least(2), ["triu"])
spec("diagonal", lambda a: a.diagonal(), _at_least(2), ["diagonal"])
spec("diagonal_offset_dims", lambda a: cr.diagonal(a, 1, -1, 0), _at_least(2), ["diagonal"])
spec("diagonal_below", lambda a: a.diagonal(-1, -2, -1), _at_least(2), ["diagonal"])
spec("diag_embed", lambda a: cr.diag_embed(a), _at_least(1), ["diagonal_scatter"])
spec("diag_embed_offset_dims", lambda a: cr.diag_embed(a, -1, 0, -1), _at_least(1), ["diagonal_scatter"])
spec("diag_vector", lambda a: cr.diag(a, 1), lambda d: [(d(dims),)], ["diagonal_scatter"])
spec("diag_matrix", lambda a: a.diag(-1), lambda d: [(d(dims) + 1, d(dims))], ["diagonal"])
spec("trace", lambda a: a.trace(), lambda d: [(d(dims), d(dims))], ["diagonal", "sum"])

# ------------------------------------------------------------------ roll, meshgrid


spec("roll", lambda a: a.roll(1, 0), _at_least(1), ["roll"])
spec("roll_flat", lambda a: cr.roll(a, -2), unary, ["roll"])
spec("roll_dims", lambda a: a.roll((2, -1), (-1, 0)), _at_least(2), ["roll"])


def _two_vectors(draw):
    return [(draw(dims),), (draw(dims),)]


spec("meshgrid_ij", lambda a, b: cr.meshgrid(a, b, indexing="ij"), _two_vectors, ["reshape", "expand"])
spec("meshgrid_xy", lambda a, b: cr.meshgrid([a, b], indexing="xy"), _two_vectors, ["reshape", "expand"])

# ------------------------------------------------------------------ scatter, index_put, take_along_dim, masked_select


@st.composite
def _scatter_shapes(draw):
    """(x shape, src shape): src at least as large as the index in every dim; index fits x outside dim 1."""
    rows, cols, src_cols = draw(dims), draw(dims), draw(dims)
    return [(rows + draw(st.integers(0, 1)), cols), (rows, src_cols + 1)]


def _unique_index(x_shape, src_shape):
    """Along dim 1: per row, distinct targets in x (no duplicate writes, so the derivative is defined)."""
    rng = _seeded(x_shape + src_shape)
    rows, width = src_shape[0], min(x_shape[1], src_shape[1])
    return np.stack([rng.permutation(x_shape[1])[:width] for _ in range(rows)])


spec(
    "scatter",
    lambda x, s: x.scatter(1, _unique_index(x.shape, s.shape), s),
    lambda d: d(_scatter_shapes()),
    ["scatter", "select", "gather", "pad"],
)
spec(
    "scatter_value",
    lambda x: cr.scatter(x, 1, _unique_index(x.shape, (x.shape[0], max(1, x.shape[1] - 1))), value=2.5),
    lambda d: [d(_scatter_shapes())[0]],
    ["scatter"],
)
spec(
    "scatter_reduce_add",
    lambda x, s: x.scatter(1, _seeded(s.shape).integers(0, x.shape[1], (s.shape[0], 1)), s, reduce="add"),
    lambda d: d(_scatter_shapes()),
    ["scatter_add"],
)


def distinct_apart(x):
    """``distinct`` values shifted off the grid of ``distinct``'s: no ties between the two inputs either."""
    return 0.9 * distinct(x) + 0.0317


def _reduce_index(x, s):
    """Along dim 1, with repeats: several values of s meet at one place of x."""
    return _seeded(x.shape + s.shape).integers(0, x.shape[1], s.shape)


for _reduce, _domain in (
    ("sum", None),
    ("mean", None),
    ("amax", distinct),
    ("amin", distinct),
    ("prod", away_from_zero),
):
    for _self in (True, False):
        spec(
            f"scatter_reduce_{_reduce}{'' if _self else '_exclude_self'}",
            (lambda r, inc: lambda x, s: x.scatter_reduce(1, _reduce_index(x, s), s, r, include_self=inc))(
                _reduce, _self
            ),
            lambda d: d(_scatter_shapes()),
            ["scatter_reduce"],
            domains=(_domain, distinct_apart) if _domain is distinct else (_domain, _domain) if _domain else (),
        )
spec(
    "scatter_reduce_prod_zeros",
    lambda x, s: cr.scatter_reduce(x, 1, _reduce_index(x, s), s, "prod"),
    lambda d: d(_scatter_shapes()),
    ["scatter_reduce"],
    domain=with_zeros,
    second_order=False,  # the second derivative through zeros is not supported (NotImplementedError)
)


def _index_put_shapes(draw):
    lead = draw(dims) + 1
    return [(lead, draw(dims)), (2, 1)]


def _rows_unique(x):
    return (np.array([x.shape[0] - 1, 0]),)


def _rows_repeated(x):
    return (np.array([0, 0]),)


spec(
    "index_put",
    lambda x, v: cr.index_put(x, _rows_unique(x), v),
    _index_put_shapes,
    ["index_put", "select", "index"],
)
spec(
    "index_put_accumulate",
    lambda x, v: x.index_put(_rows_repeated(x), v, accumulate=True),
    _index_put_shapes,
    ["index_put", "index"],
)
spec(
    "index_put_bool",
    lambda x, v: x.index_put((x._data > 0,), v.sum()),
    lambda d: [d(shape_st(min_dims=1)), (1,)],
    ["index_put"],
    domain=away_from_zero,
)


@st.composite
def _take_shapes(draw):
    """x of shape (r, n) and indices that broadcast against it outside dim 1."""
    rows, n = draw(dims), draw(dims)
    return [(rows if draw(st.booleans()) else 1, n), (rows, draw(dims))]


def _take_index(x, shape_of_index):
    return _seeded(shape_of_index).integers(0, x.shape[1], shape_of_index)


spec(
    "take_along_dim",
    lambda x, i: x.take_along_dim(_take_index(x, i.shape), 1) * i,
    lambda d: d(_take_shapes()),
    ["gather", "expand", "mul"],
)
spec(
    "take_along_dim_flat",
    lambda x: cr.take_along_dim(x, np.array([0, x.numel() - 1, 0])),
    unary,
    ["gather", "reshape"],
)
spec(
    "masked_select",
    lambda x: cr.masked_select(x, x._data > 0),
    _at_least(1),
    ["index"],
    domain=away_from_zero,
)
spec(
    "masked_select_broadcast",
    lambda x: x.masked_select(np.array([True, False, True])),
    lambda d: [d(shape_st(max_dims=2)) + (1,)],
    ["index", "expand"],
)

# ------------------------------------------------------------------ einsum with a repeated index (a diagonal)


def _square(draw):
    n = draw(dims)
    return [(n, n)]


spec("einsum_diagonal", lambda a: cr.einsum("ii->i", a), _square, ["einsum"])
spec("einsum_trace", lambda a: cr.einsum("ii", a), _square, ["einsum"])
spec("einsum_iij", lambda a: cr.einsum("iij->j", a), lambda d: [(n := d(dims), n, d(dims))], ["einsum"])
spec("einsum_iii", lambda a: cr.einsum("iii->i", a), lambda d: [(n := d(dims), n, n)], ["einsum"])
spec(
    "einsum_diag_times",
    lambda a, b: cr.einsum("ij,ii->j", a, b),
    lambda d: [(n := d(dims), d(dims)), (n, n)],
    ["einsum"],
)


# ------------------------------------------------------------------ index_fill, index_copy, take, masked_scatter,
# repeat_interleave, diagflat, diagonal_scatter, mode (composites)

spec(
    "index_fill",
    lambda x, v: x.index_fill(-1, np.array([0]), v.sum()),
    lambda d: [d(shape_st(min_dims=1)), (1,)],
    ["sum"],
)
spec(
    "index_copy",
    lambda x, s: cr.index_copy(x, 0, np.array([x.shape[0] - 1, 0])[: s.shape[0]], s),
    lambda d: [(d(st.integers(2, 3)), m := d(dims)), (2, m)],
    ["index_put", "select", "index"],
)


def _pattern(shape):
    """A fixed mask (every other element, row-major) that does not read the values (so vmap can batch it)."""
    return (np.arange(int(np.prod(shape))) % 2 == 0).reshape(shape)


spec("take", lambda x: cr.take(x, np.array([[0, -1], [0, 0]])), unary, ["index", "reshape"])
spec(
    "masked_scatter",
    lambda x, s: x.masked_scatter(_pattern(x.shape), s),
    lambda d: [(shape := d(shape_st(min_dims=1))), (int(np.prod(shape)) + 1,)],
    ["index_put", "getitem", "reshape"],
)
spec("repeat_interleave", lambda x: x.repeat_interleave(2, dim=0), _at_least(1), ["index_select"])
spec(
    "repeat_interleave_counts",
    lambda x: cr.repeat_interleave(x, np.arange(x.shape[-1]) % 3, dim=-1),
    _at_least(1),
    ["index_select"],
)
spec("repeat_interleave_flat", lambda x: cr.repeat_interleave(x, 3), unary, ["index_select", "reshape"])
spec("diagflat", lambda x: cr.diagflat(x, -1), unary, ["diagonal_scatter"])
spec(
    "diagonal_scatter",
    lambda x, s: cr.diagonal_scatter(x, s, 1, -1, 0),
    lambda d: [(n := d(dims), m := d(dims)), (max(0, min(m, n - 1)),)],
    ["diagonal_scatter"],
)
spec("mode", lambda x: cr.mode(x, 0).values, _at_least(1), ["gather"], domain=distinct)  # all counts 1: the minimum
