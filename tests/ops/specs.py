"""The op table as test cases: how to call each primitive, on what inputs, and torch's twin.

Each OpSpec says which primitives it exercises (``covers``); a test checks that
every registered primitive is covered, so a new primitive cannot land untested.

``fn`` takes chainrule tensors, ``torch_fn`` (optional) takes torch tensors;
both return a tensor or a tuple.  ``shapes(draw)`` picks input shapes (a
hypothesis draw function), ``domain`` maps raw normal samples into the op's
domain (away from kinks and poles, where central differences are meaningless).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd.graph import apply1 as _apply1

# ------------------------------------------------------------------ shapes

dims = st.integers(min_value=1, max_value=3)


@st.composite
def shape_st(draw, min_dims=0, max_dims=3):
    n = draw(st.integers(min_value=min_dims, max_value=max_dims))
    return tuple(draw(dims) for _ in range(n))


@st.composite
def broadcast_pair(draw, min_dims=0):
    """(shape_a, shape_b) that broadcast: b drops leading dims and/or sets some to 1 (or the reverse)."""
    a = draw(shape_st(min_dims=min_dims))
    drop = draw(st.integers(min_value=0, max_value=len(a)))
    b = list(a[drop:])
    for i in range(len(b)):
        if draw(st.booleans()):
            b[i] = 1
    b = tuple(b)
    return (a, b) if draw(st.booleans()) else (b, a)


def unary(draw):
    return [draw(shape_st())]


def unary_nd(min_dims):
    return lambda draw: [draw(shape_st(min_dims=min_dims))]


def binary(draw):
    return list(draw(broadcast_pair()))


# ------------------------------------------------------------------ domains


def away_from_zero(x):
    return np.sign(x) * (0.2 + np.abs(x)) + (x == 0) * 0.5


def positive(x):
    return 0.3 + np.abs(x)


def unit_interval(x):
    return 0.1 + 0.8 / (1 + np.exp(-x))


def distinct(x):
    """Spread values so no two are within 0.05 of each other (no ties for max/sort)."""
    flat = x.ravel()
    order = np.argsort(flat, kind="stable")
    spread = np.empty_like(flat)
    spread[order] = np.linspace(-2, 2, flat.size) if flat.size > 1 else 0.3
    rng = np.random.default_rng(flat.size)
    return (spread + rng.uniform(-0.01, 0.01, flat.size)).reshape(x.shape)


def ident(x):
    return x


@dataclass
class OpSpec:
    name: str
    fn: object
    shapes: object
    covers: tuple
    torch_fn: object = None
    domain: object = ident
    domains: tuple = ()  # per-input domain override
    second_order: bool = True
    extra_inputs: object = None  # draw -> list of constant (non-differentiable) numpy inputs
    eps: float = 1e-6
    keeps_dtype: bool = True  # float32 in gives float32 out
    rtol: float = 1e-3
    atol: float = 1e-5
    notes: str = ""
    parity_shapes: list = field(default_factory=list)

    def domain_for(self, i):
        return self.domains[i] if i < len(self.domains) and self.domains[i] is not None else self.domain


SPECS: list[OpSpec] = []


def spec(name, fn, shapes, covers, torch_fn=None, **kw):
    SPECS.append(OpSpec(name, fn, shapes, tuple(covers), torch_fn, **kw))


# ------------------------------------------------------------------ elementwise binary

spec("add", lambda a, b: a + b, binary, ["add"], lambda a, b: a + b, parity_shapes=[[(2, 3), (3,)]])
spec("sub", lambda a, b: a - b, binary, ["sub"], lambda a, b: a - b, parity_shapes=[[(2, 3), (2, 1)]])
spec("mul", lambda a, b: a * b, binary, ["mul"], lambda a, b: a * b, parity_shapes=[[(2, 3), (3,)]])
spec(
    "div",
    lambda a, b: a / b,
    binary,
    ["div"],
    lambda a, b: a / b,
    domains=(None, away_from_zero),
    parity_shapes=[[(2, 3), (3,)]],
)
spec(
    "pow",
    lambda a, b: a**b,
    binary,
    ["pow"],
    lambda a, b: a**b,
    domains=(positive, None),
    parity_shapes=[[(2, 3), (3,)]],
)
spec(
    "maximum",
    lambda a, b: cr.maximum(a, b),
    binary,
    ["maximum"],
    lambda a, b: __import__("torch").maximum(a, b),
    domains=(distinct, lambda x: distinct(x) + 0.1),
    parity_shapes=[[(2, 3), (3,)]],
)
spec(
    "minimum",
    lambda a, b: cr.minimum(a, b),
    binary,
    ["minimum"],
    lambda a, b: __import__("torch").minimum(a, b),
    domains=(distinct, lambda x: distinct(x) + 0.1),
    parity_shapes=[[(2, 3), (3,)]],
)
spec(
    "remainder",
    lambda a, b: cr.remainder(a, b),
    binary,
    ["remainder"],
    lambda a, b: __import__("torch").remainder(a, b),
    domains=(lambda x: x * 0.3 + 0.01, lambda x: 2.0 + np.abs(x)),
    parity_shapes=[[(2, 3), (3,)]],
)

# ------------------------------------------------------------------ with scalars

spec("add_scalar", lambda a: a + 2.5, unary, ["add_scalar"], lambda a: a + 2.5, parity_shapes=[[(2, 3)]])
spec("radd_scalar", lambda a: 2.5 + a, unary, ["add_scalar"], lambda a: 2.5 + a)
spec("sub_scalar", lambda a: a - 1.5, unary, ["add_scalar"], lambda a: a - 1.5)
spec("rsub_scalar", lambda a: 1.5 - a, unary, ["rsub_scalar"], lambda a: 1.5 - a, parity_shapes=[[(2, 3)]])
spec("mul_scalar", lambda a: a * -3.0, unary, ["mul_scalar"], lambda a: a * -3.0, parity_shapes=[[(2, 3)]])
spec("div_scalar", lambda a: a / 4.0, unary, ["div_scalar"], lambda a: a / 4.0, parity_shapes=[[(2, 3)]])
spec(
    "rdiv_scalar",
    lambda a: 2.0 / a,
    unary,
    ["rdiv_scalar"],
    lambda a: 2.0 / a,
    domain=away_from_zero,
    parity_shapes=[[(2, 3)]],
)
spec("pow_scalar", lambda a: a**3, unary, ["pow_scalar"], lambda a: a**3, parity_shapes=[[(2, 3)]])
spec("pow_scalar_frac", lambda a: a**1.5, unary, ["pow_scalar"], lambda a: a**1.5, domain=positive)
spec("square", lambda a: a**2, unary, ["pow_scalar"], lambda a: a**2)
spec(
    "rsqrt", lambda a: a.rsqrt(), unary, ["pow_scalar"], lambda a: a.rsqrt(), domain=positive, parity_shapes=[[(2, 3)]]
)
spec("rpow_scalar", lambda a: 2.0**a, unary, ["rpow_scalar"], lambda a: 2.0**a, parity_shapes=[[(2, 3)]])

# ------------------------------------------------------------------ unary

for _name, _dom in [
    ("neg", ident),
    ("abs", away_from_zero),
    ("exp", ident),
    ("expm1", ident),
    ("log", positive),
    ("log1p", positive),
    ("sqrt", positive),
    ("sin", ident),
    ("cos", ident),
    ("tanh", ident),
    ("sigmoid", ident),
    ("erf", ident),
    ("relu", away_from_zero),
]:
    spec(
        _name,
        (lambda n: lambda a: getattr(cr, n)(a))(_name),
        unary,
        [_name],
        (lambda n: lambda a: getattr(__import__("torch"), n)(a))(_name),
        domain=_dom,
        parity_shapes=[[(2, 3)]],
    )

spec(
    "leaky_relu",
    lambda a: cr.leaky_relu(a, 0.1),
    unary,
    ["leaky_relu"],
    lambda a: __import__("torch").nn.functional.leaky_relu(a, 0.1),
    domain=away_from_zero,
    parity_shapes=[[(2, 3)]],
)
spec(
    "elu",
    lambda a: cr.elu(a, 1.3),
    unary,
    ["elu"],
    lambda a: __import__("torch").nn.functional.elu(a, 1.3),
    domain=away_from_zero,
    parity_shapes=[[(2, 3)]],
)
spec(
    "gelu",
    lambda a: cr.gelu(a),
    unary,
    ["gelu"],
    lambda a: __import__("torch").nn.functional.gelu(a),
    parity_shapes=[[(2, 3)]],
)
spec(
    "gelu_tanh",
    lambda a: cr.gelu(a, approximate="tanh"),
    unary,
    ["gelu"],
    lambda a: __import__("torch").nn.functional.gelu(a, approximate="tanh"),
    parity_shapes=[[(2, 3)]],
)
spec(
    "silu",
    lambda a: cr.silu(a),
    unary,
    ["silu"],
    lambda a: __import__("torch").nn.functional.silu(a),
    parity_shapes=[[(2, 3)]],
)
spec(
    "softplus",
    lambda a: cr.softplus(a, beta=2.0, threshold=3.0),
    unary,
    ["softplus"],
    lambda a: __import__("torch").nn.functional.softplus(a, beta=2.0, threshold=3.0),
    domain=lambda x: away_from_zero(x) * 1.2 + (np.abs(x * 2.4 - 3.0) < 0.1) * 0.3,
    parity_shapes=[[(2, 3)]],
)
spec(
    "clamp",
    lambda a: a.clamp(-0.5, 0.7),
    unary,
    ["clamp"],
    lambda a: a.clamp(-0.5, 0.7),
    domain=lambda x: x + 0.13 * (np.abs(x + 0.5) < 0.05) + 0.13 * (np.abs(x - 0.7) < 0.05),
    parity_shapes=[[(2, 3)]],
)
spec(
    "clamp_min",
    lambda a: a.clamp(min=0.2),
    unary,
    ["clamp"],
    lambda a: a.clamp(min=0.2),
    domain=lambda x: x + 0.13 * (np.abs(x - 0.2) < 0.05),
)
for _name in ["sign", "floor", "ceil", "round", "trunc"]:
    spec(
        _name,
        (lambda n: lambda a: getattr(cr, n)(a) * a)(_name),
        unary,
        [_name, "mul"],
        (lambda n: lambda a: getattr(__import__("torch"), n)(a) * a)(_name),
        domain=lambda x: np.floor(x * 3) / 3 + 0.17,
        parity_shapes=[[(2, 3)]],
    )
spec(
    "floor_divide",
    lambda a, b: cr.floor_divide(a, b) * a,
    binary,
    ["floor_divide", "mul"],
    domains=(lambda x: np.floor(x * 3) + 0.5, lambda x: 2.0 + 0 * x),
    second_order=False,
)
spec(
    "where",
    lambda a, b: cr.where(a > 0, a, b),
    binary,
    ["where"],
    lambda a, b: __import__("torch").where(a > 0, a, b),
    domain=away_from_zero,
    parity_shapes=[[(2, 3), (3,)]],
)
spec(
    "where_scalar",
    lambda a: cr.where(a > 0, a, 0.5),
    unary,
    ["masked_fill"],
    lambda a: __import__("torch").where(a > 0, a, 0.5),
    domain=away_from_zero,
)
spec(
    "masked_fill",
    lambda a: a.masked_fill(a._data > 0.3, -1.0),
    unary,
    ["masked_fill"],
    lambda a: a.masked_fill(a > 0.3, -1.0),
    domain=lambda x: x + 0.15 * (np.abs(x - 0.3) < 0.1),
)
spec(
    "cast",
    lambda a: (a.float() * 2).double(),
    unary,
    ["cast"],
    eps=1e-2,
    rtol=1e-3,
    atol=1e-4,
    keeps_dtype=False,
    notes="float32 round trip: linear, so a large eps is exact and beats float32 rounding",
)
spec("clone", lambda a: a.clone() * 1.0, unary, ["clone"], lambda a: a.clone() * 1.0)
spec(
    "to_device",
    lambda a: _apply1(cr.autograd.PRIMITIVES["to_device"], a, "cpu", "cpu") * 2.0,
    unary,
    ["to_device"],
    lambda a: a.to("cpu") * 2.0,
    notes="CPU to CPU: the GPU path is tested on GPU machines",
)

# ------------------------------------------------------------------ reductions


def draw_min2(draw):
    return draw(shape_st(min_dims=0, max_dims=2)) + (2,)


def _red_shapes(draw):
    return [draw(shape_st(min_dims=1))]


spec("sum_all", lambda a: a.sum(), unary, ["sum"], lambda a: a.sum(), parity_shapes=[[(2, 3)]])
spec("sum_dim", lambda a: a.sum(dim=-1), _red_shapes, ["sum"], lambda a: a.sum(dim=-1), parity_shapes=[[(2, 3)]])
spec(
    "sum_dims_keep",
    lambda a: a.sum(dim=(0, -1), keepdim=True),
    unary_nd(2),
    ["sum"],
    lambda a: a.sum(dim=(0, -1), keepdim=True) if a.ndim > 1 else a.sum(dim=0, keepdim=True),
    parity_shapes=[[(2, 3, 2)]],
)
spec("mean_all", lambda a: a.mean(), unary, ["mean"], lambda a: a.mean(), parity_shapes=[[(2, 3)]])
spec(
    "mean_dim",
    lambda a: a.mean(dim=0, keepdim=True),
    _red_shapes,
    ["mean"],
    lambda a: a.mean(dim=0, keepdim=True),
    parity_shapes=[[(2, 3)]],
)
spec(
    "var",
    lambda a: a.var(),
    lambda d: [draw_min2(d)],
    ["mean", "sub", "mul", "sum"],
    lambda a: a.var(),
    parity_shapes=[[(2, 3)]],
)
spec(
    "std_dim",
    lambda a: a.std(dim=-1, correction=0),
    _red_shapes,
    ["sqrt"],
    lambda a: a.std(dim=-1, correction=0),
    domain=distinct,
    parity_shapes=[[(2, 3)]],
)
spec(
    "amax",
    lambda a: a.amax(dim=-1),
    _red_shapes,
    ["amax"],
    lambda a: a.amax(dim=-1),
    domain=distinct,
    parity_shapes=[[(2, 3)]],
)
spec("amin_all", lambda a: a.amin(), unary, ["amin"], lambda a: a.amin(), domain=distinct, parity_shapes=[[(2, 3)]])
spec("max_all", lambda a: a.max(), unary, ["amax"], lambda a: a.max(), domain=distinct)
spec(
    "max_dim",
    lambda a: a.max(dim=0)[0],
    _red_shapes,
    ["max_dim"],
    lambda a: a.max(dim=0)[0],
    domain=distinct,
    parity_shapes=[[(3, 2)]],
)
spec(
    "min_dim_keep",
    lambda a: a.min(dim=-1, keepdim=True).values,
    _red_shapes,
    ["min_dim"],
    lambda a: a.min(dim=-1, keepdim=True).values,
    domain=distinct,
    parity_shapes=[[(3, 2)]],
)
spec(
    "logsumexp",
    lambda a: a.logsumexp(dim=-1),
    _red_shapes,
    ["logsumexp"],
    lambda a: a.logsumexp(dim=-1),
    parity_shapes=[[(2, 3)]],
)
spec(
    "prod_all", lambda a: a.prod(), unary, ["prod"], lambda a: a.prod(), domain=away_from_zero, parity_shapes=[[(2, 3)]]
)
spec("prod_dim", lambda a: a.prod(dim=0), _red_shapes, ["prod"], lambda a: a.prod(dim=0), domain=away_from_zero)
spec("norm", lambda a: a.norm(), unary, ["norm2"], lambda a: a.norm(), domain=away_from_zero, parity_shapes=[[(2, 3)]])
spec(
    "norm_dim",
    lambda a: a.norm(dim=-1, keepdim=True),
    _red_shapes,
    ["norm2"],
    lambda a: a.norm(dim=-1, keepdim=True),
    domain=away_from_zero,
)
spec(
    "norm_p3", lambda a: a.norm(p=3), unary, ["abs", "pow_scalar", "sum"], lambda a: a.norm(p=3), domain=away_from_zero
)
spec("cumsum", lambda a: a.cumsum(0), _red_shapes, ["cumsum", "flip"], lambda a: a.cumsum(0), parity_shapes=[[(3, 2)]])

# ------------------------------------------------------------------ shape


def _draw_6(draw):
    return [(2, 3)]


spec("reshape", lambda a: a.reshape(3, 2), _draw_6, ["reshape"], lambda a: a.reshape(3, 2), parity_shapes=[[(2, 3)]])
spec("reshape_any", lambda a: a.reshape(-1), unary, ["reshape"], lambda a: a.reshape(-1))
spec(
    "transpose",
    lambda a: a.transpose(0, -1),
    _red_shapes,
    ["permute"],
    lambda a: a.transpose(0, -1),
    parity_shapes=[[(2, 3)]],
)
spec(
    "permute",
    lambda a: a.permute(2, 0, 1),
    unary_nd(3),
    ["permute"],
    lambda a: a.permute(2, 0, 1),
    parity_shapes=[[(2, 3, 2)]],
)
spec(
    "expand",
    lambda a: a.expand(2, *a.shape[:-1], 3) if a.shape[-1:] == (1,) else a.expand(2, *a.shape),
    _red_shapes,
    ["expand"],
    parity_shapes=[[(2, 1)]],
    torch_fn=lambda a: a.expand(2, *a.shape[:-1], 3) if a.shape[-1:] == (1,) else a.expand(2, *a.shape),
)
spec("flip", lambda a: a.flip(0), _red_shapes, ["flip"], lambda a: a.flip(0), parity_shapes=[[(2, 3)]])
spec("contiguous", lambda a: a.T.contiguous() * 1.0, unary_nd(2), ["contiguous"], lambda a: a.T.contiguous() * 1.0)
spec(
    "cat",
    lambda a, b: cr.cat([a, b], dim=0),
    lambda d: [(2, 3), (d(dims), 3)],
    ["cat"],
    lambda a, b: __import__("torch").cat([a, b], dim=0),
    parity_shapes=[[(2, 3), (1, 3)]],
)
spec(
    "stack",
    lambda a, b: cr.stack([a, b], dim=1),
    lambda d: [s := d(shape_st()), s],
    ["stack"],
    lambda a, b: __import__("torch").stack([a, b], dim=1) if a.ndim >= 1 else __import__("torch").stack([a, b], dim=0),
    parity_shapes=[[(2, 3), (2, 3)]],
)
spec(
    "split",
    lambda a: a.split(1, dim=0)[0] * 2.0 + a.split(1, dim=0)[-1],
    _red_shapes,
    ["split"],
    lambda a: a.split(1, dim=0)[0] * 2.0 + a.split(1, dim=0)[-1],
    parity_shapes=[[(3, 2)]],
)
spec("chunk", lambda a: a.chunk(2, dim=-1)[0], lambda d: [(2, 4)], ["split"], lambda a: a.chunk(2, dim=-1)[0])
spec(
    "pad",
    lambda a: cr.pad(a, (1, 2)),
    _red_shapes,
    ["pad"],
    lambda a: __import__("torch").nn.functional.pad(a, (1, 2)),
    parity_shapes=[[(2, 3)]],
)
spec(
    "repeat",
    lambda a: a.repeat(2, 1),
    lambda d: [(d(dims), d(dims))],
    ["expand", "reshape", "contiguous"],
    lambda a: a.repeat(2, 1),
    parity_shapes=[[(2, 3)]],
)
spec(
    "squeeze_unsqueeze",
    lambda a: a.unsqueeze(1).squeeze(),
    unary,
    ["reshape"],
    lambda a: a.unsqueeze(0).squeeze() if a.ndim == 0 else a.unsqueeze(1).squeeze(),
)

# ------------------------------------------------------------------ indexing

spec(
    "getitem_basic",
    lambda a: a[1:, ::2],
    lambda d: [(3, 4)],
    ["getitem"],
    lambda a: a[1:, ::2],
    parity_shapes=[[(3, 4)]],
)
spec("getitem_int", lambda a: a[-1], _red_shapes, ["getitem"], lambda a: a[-1])
spec(
    "getitem_advanced",
    lambda a: a[[0, 2, 0]],
    lambda d: [(3, d(dims))],
    ["index"],
    lambda a: a[[0, 2, 0]],
    parity_shapes=[[(3, 2)]],
)
spec("getitem_mask", lambda a: a[a._data > 0], unary_nd(1), ["index"], lambda a: a[a > 0], domain=away_from_zero)
spec("getitem_second_order", lambda a: (a[[1, 1]] * a[[1, 0]]).sum(), lambda d: [(3,)], ["index", "index_scatter"])


def _setitem_fn(a, b):
    out = a * 1.0
    out[0] = b
    return out


spec(
    "setitem",
    _setitem_fn,
    lambda d: [(3, 2), (2,)],
    ["setitem"],
    lambda a, b: __import__("torch").cat([b[None], (a * 1.0)[1:]]),
    parity_shapes=[[(3, 2), (2,)]],
)
IDX = np.array([[0, 2], [1, 1], [2, 0]])
spec(
    "gather",
    lambda a: a.gather(1, IDX),
    lambda d: [(3, 3)],
    ["gather"],
    lambda a: a.gather(1, __import__("torch").tensor(IDX)),
    parity_shapes=[[(3, 3)]],
)
spec(
    "scatter_add",
    lambda a, b: a.scatter_add(1, IDX, b),
    lambda d: [(3, 3), (3, 2)],
    ["scatter_add"],
    lambda a, b: a.scatter_add(1, __import__("torch").tensor(IDX), b),
    parity_shapes=[[(3, 3), (3, 2)]],
)
spec(
    "index_select",
    lambda a: a.index_select(0, np.array([2, 0, 2])),
    lambda d: [(3, d(dims))],
    ["index_select"],
    lambda a: a.index_select(0, __import__("torch").tensor([2, 0, 2])),
    parity_shapes=[[(3, 2)]],
)
spec(
    "index_add",
    lambda a, b: a.index_add(0, np.array([1, 1]), b, alpha=2.0),
    lambda d: [(3, 2), (2, 2)],
    ["index_add"],
    lambda a, b: a.index_add(0, __import__("torch").tensor([1, 1]), b, alpha=2.0),
    parity_shapes=[[(3, 2), (2, 2)]],
)

# ------------------------------------------------------------------ linear algebra


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(dims), draw(dims), draw(dims)
    kind = draw(st.sampled_from(["mm", "vec_mat", "mat_vec", "dot", "batched", "batched_2d"]))
    b = draw(dims)
    return {
        "mm": [(n, k), (k, m)],
        "vec_mat": [(k,), (b, k, m)],
        "mat_vec": [(b, n, k), (k,)],
        "dot": [(k,), (k,)],
        "batched": [(b, n, k), (1, k, m)],
        "batched_2d": [(b, n, k), (k, m)],
    }[kind]


spec(
    "matmul",
    lambda a, b: a @ b,
    lambda d: d(matmul_shapes()),
    ["matmul"],
    lambda a, b: a @ b,
    parity_shapes=[[(2, 3), (3, 4)], [(2, 2, 3), (3, 4)], [(3,), (2, 3, 4)], [(2, 3), (3,)]],
)
spec(
    "einsum_attention",
    lambda q, k: cr.einsum("bqd,bkd->bqk", q, k),
    lambda d: [(2, 3, 2), (2, 2, 2)],
    ["einsum"],
    lambda q, k: __import__("torch").einsum("bqd,bkd->bqk", q, k),
    parity_shapes=[[(2, 3, 2), (2, 2, 2)]],
)
spec(
    "einsum_bilinear",
    lambda x, w, y: cr.einsum("i,ij,j->", x, w, y),
    lambda d: [(2,), (2, 3), (3,)],
    ["einsum"],
    lambda x, w, y: __import__("torch").einsum("i,ij,j->", x, w, y),
    parity_shapes=[[(2,), (2, 3), (3,)]],
)
spec(
    "einsum_reduce",
    lambda x: cr.einsum("...ij->...j", x),
    lambda d: [(2, 3, 2)],
    ["einsum"],
    lambda x: __import__("torch").einsum("...ij->...j", x),
)
spec(
    "outer",
    lambda a, b: cr.outer(a, b),
    lambda d: [(d(dims),), (d(dims),)],
    ["mul", "reshape"],
    lambda a, b: __import__("torch").outer(a, b),
)

# ------------------------------------------------------------------ fused


spec("softmax", lambda a: a.softmax(-1), _red_shapes, ["softmax"], lambda a: a.softmax(-1), parity_shapes=[[(2, 3)]])
spec(
    "log_softmax",
    lambda a: a.log_softmax(0),
    _red_shapes,
    ["log_softmax"],
    lambda a: a.log_softmax(0),
    parity_shapes=[[(3, 2)]],
)
spec(
    "select_helper",
    lambda a: cr.relu(a) * a,
    unary,
    ["relu", "select"],
    lambda a: __import__("torch").relu(a) * a,
    domain=away_from_zero,
)


# ------------------------------------------------------------------ other families
# Each area of the library keeps its primitives' specs in tests/ops/specs_<area>.py,
# calling ``spec(...)`` from this module; they are loaded here.
def _load_area_specs():
    import importlib
    import pkgutil
    from pathlib import Path

    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("specs_"):
            importlib.import_module(f"{__package__}.{info.name}")


_load_area_specs()
