"""Sorting, running reductions, diagonals, scatter and friends: PyTorch parity, ties, dtypes and errors.

Gradchecks (first and second order) live in tests/ops/specs_sorting.py; here the
same cases run on PyTorch and chainrule (tests/fixtures/make_sorting.py), and
the choices at ties and duplicate indices that docs/subgradients.md states are
checked one by one.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError, DTypeError, GradientError, IndexingError, ShapeError
from tests.fixtures.make_sorting import CASES, run
from tests.parity import HAVE_TORCH, load

FIXTURES = load("sorting")


def compare(got: dict, ref: dict, case: str) -> None:
    for key, expected in ref.items():
        if not key.startswith(("out", "grad")):
            continue
        assert key in got, f"{case}: no {key}"
        actual = got[key]
        assert actual.shape == expected.shape, f"{case} {key}: shape {actual.shape} != {expected.shape}"
        assert actual.dtype == expected.dtype, f"{case} {key}: dtype {actual.dtype} != {expected.dtype}"
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12, err_msg=f"{case} {key}")
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=f"{case} {key}")
    extra = {k for k in got if k.startswith("grad")} - set(ref)
    assert not extra, f"{case}: gradients PyTorch does not give: {sorted(extra)}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch_fixture(case):
    ref = FIXTURES[case]
    compare(run(cr, case, ref), ref, case)


def test_fixtures_cover_every_case():
    missing = sorted(set(CASES) - set(FIXTURES))
    assert not missing, f"run tests/fixtures/make_sorting.py: fixtures missing for {missing}"


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch_live(case):
    import torch

    with np.errstate(all="ignore"):
        ref = run(torch, case)
    compare(run(cr, case, ref), ref, case)


# ---------------------------------------------------------------------------
# the documented choices at ties and duplicates (docs/subgradients.md)


def grad_of(fn, values, dtype=cr.float64):
    x = cr.tensor(values, dtype=dtype, requires_grad=True)
    out = fn(x)
    (out if out.ndim == 0 else (out * cr.arange(1, out.numel() + 1, dtype=dtype).reshape(out.shape)).sum()).backward()
    return x.grad.numpy()


def test_sort_ties_keep_their_order_and_their_gradient():
    # values [1, 3, 1, 3] sort stably to positions [0, 2, 1, 3]: the k-th output's gradient (k + 1) goes there
    np.testing.assert_array_equal(grad_of(lambda x: x.sort().values, [1.0, 3.0, 1.0, 3.0]), [1, 3, 2, 4])
    np.testing.assert_array_equal(grad_of(lambda x: x.sort(descending=True).values, [1.0, 3.0, 1.0, 3.0]), [3, 1, 4, 2])


def test_topk_ties_take_the_first():
    assert cr.topk(cr.tensor([1.0, 0.0, 1.0, 0.0, 1.0]), 2).indices.tolist() == [0, 2]
    np.testing.assert_array_equal(grad_of(lambda x: x.topk(2).values, [1.0, 0.0, 1.0]), [1, 0, 2])


def test_cummax_and_cummin_ties_name_the_last():
    values, indices = cr.cummax(cr.tensor([1.0, 3.0, 3.0, 2.0, 3.0]), 0)
    assert indices.tolist() == [0, 1, 2, 2, 4]
    np.testing.assert_array_equal(grad_of(lambda x: x.cummax(0).values, [1.0, 3.0, 3.0, 2.0, 3.0]), [1, 2, 7, 0, 5])
    assert cr.cummin(cr.tensor([2, 1, 1, 3, 1]), 0).indices.tolist() == [0, 1, 2, 2, 4]


def test_scatter_duplicates_last_write_wins_and_every_source_gets_its_gradient():
    out = cr.scatter(cr.zeros(3, dtype=cr.float64), 0, cr.tensor([0, 0]), cr.tensor([1.0, 2.0], dtype=cr.float64))
    assert out.tolist() == [2.0, 0.0, 0.0]
    src = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    x = cr.ones(3, dtype=cr.float64, requires_grad=True)
    (cr.scatter(x, 0, cr.tensor([0, 0]), src) * cr.tensor([5.0, 6.0, 7.0], dtype=cr.float64)).sum().backward()
    assert src.grad.tolist() == [5.0, 5.0]  # the overwritten duplicate too, as in PyTorch
    assert x.grad.tolist() == [0.0, 6.0, 7.0]


def test_index_put_duplicates():
    v = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    out = cr.index_put(cr.zeros(2, dtype=cr.float64), (cr.tensor([1, 1]),), v)
    assert out.tolist() == [0.0, 2.0]
    (out * cr.tensor([3.0, 4.0], dtype=cr.float64)).sum().backward()
    assert v.grad.tolist() == [4.0, 4.0]
    summed = cr.index_put(cr.zeros(2, dtype=cr.float64), (cr.tensor([1, 1]),), v.detach(), accumulate=True)
    assert summed.tolist() == [0.0, 3.0]


def test_median_without_dim_splits_ties_evenly():
    np.testing.assert_allclose(grad_of(lambda x: x.median(), [2.0, 1.0, 2.0, 1.0, 2.0]), [1 / 3, 0, 1 / 3, 0, 1 / 3])
    assert cr.median(cr.tensor([1.0, 2.0, 3.0, 4.0])).item() == 2.0  # the lower middle, no averaging


def test_topk_partition_path_matches_the_full_sort():
    # rows of 256 or more with small k take the partition path: it must pick exactly what the stable sort picks
    rng = np.random.default_rng(5)
    for high in (3, 50, 10**6):
        x = cr.tensor(rng.integers(0, high, (3, 500)).astype(np.float64))
        for largest in (True, False):
            fast = x.topk(7, largest=largest)
            order = x.sort(descending=largest)
            assert fast.indices.tolist() == order.indices[:, :7].tolist()
            assert fast.values.tolist() == order.values[:, :7].tolist()
        assert x.T.topk(4, dim=0).indices.tolist() == x.T.sort(0, descending=True).indices[:4].tolist()


def test_triangle_indices_match_torch_layout():
    assert cr.tril_indices(3, 4, 1).tolist() == [[0, 0, 1, 1, 1, 2, 2, 2, 2], [0, 1, 0, 1, 2, 0, 1, 2, 3]]
    assert cr.triu_indices(3, 3, -1).tolist() == [[0, 0, 0, 1, 1, 1, 2, 2], [0, 1, 2, 0, 1, 2, 1, 2]]
    assert cr.triu_indices(0, 3).shape == (2, 0) and cr.tril_indices(2, 2, dtype=cr.int32).dtype == cr.int32
    x = cr.arange(9.0).reshape(3, 3)
    assert x[tuple(cr.tril_indices(3, 3))].tolist() == [0.0, 3.0, 4.0, 6.0, 7.0, 8.0]


def test_cumprod_with_zeros_is_exact():
    # d/dx_i of sum_j prod_{k<=j} x_k at x = [2, 0, 3]: [1 + 0 + 0, 2 + 2*3, 0]
    np.testing.assert_array_equal(grad_of(lambda x: x.cumprod(0).sum(), [2.0, 0.0, 3.0]), [1.0, 8.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda x: x.cumprod(0).sum(), [0.0, 0.0, 3.0]), [1.0, 0.0, 0.0])


def test_logcumsumexp_gradient_stays_finite_far_apart():
    x = cr.tensor([-1000.0, 0.0, 1000.0], dtype=cr.float64, requires_grad=True)
    out = x.logcumsumexp(0)
    np.testing.assert_allclose(out.numpy(), [-1000.0, 0.0, 1000.0])
    (out * cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -2.0, 3.0])
    y = cr.tensor([-np.inf, -np.inf, 0.0], dtype=cr.float64, requires_grad=True)
    y.logcumsumexp(0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 1.0])


# ---------------------------------------------------------------------------
# dtypes, shapes, return types


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.sort().values,
        lambda x: x.topk(2).values,
        lambda x: x.kthvalue(2).values,
        lambda x: x.median(),
        lambda x: x.median(1).values,
        lambda x: x.cumprod(1),
        lambda x: x.cummax(1).values,
        lambda x: x.logcumsumexp(1),
        lambda x: x.tril(),
        lambda x: x.diagonal(),
        lambda x: cr.diag_embed(x),
        lambda x: x.trace(),
        lambda x: x.roll(1, 1),
        lambda x: x.scatter(1, cr.tensor([[0], [1]]), 1.0),
        lambda x: x.scatter_reduce(1, cr.tensor([[0, 0], [1, 2]]), x[:, :2] * 2, "mean"),
        lambda x: x.scatter_reduce(1, cr.tensor([[0, 0], [1, 2]]), x[:, :2] * 2, "prod", include_self=False),
        lambda x: x.index_put((cr.tensor([0]),), cr.tensor(2.0)),
        lambda x: x.take_along_dim(cr.tensor([[0], [2]]), 1),
        lambda x: x.masked_select(x > 0),
        lambda x: x.index_fill(1, cr.tensor([0]), 2.0),
        lambda x: x.masked_scatter(x > 0, x.reshape(-1)),
        lambda x: x.repeat_interleave(2, 1),
        lambda x: cr.diagonal_scatter(x, x[0, :2]),
        lambda x: x.mode(1).values,
        lambda x: cr.meshgrid(x[0], x[1])[0],
        lambda x: cr.einsum("ii->i", x[:, :2]),
    ],
)
def test_float32_stays_float32(fn):
    x = cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, requires_grad=True)
    out = fn(x)
    assert out.dtype == cr.float32
    out.sum().backward()
    assert x.grad.dtype == cr.float32


def test_integer_inputs():
    x = cr.tensor([[3, 1, 2]], dtype=cr.int32)
    assert x.sort().values.dtype == cr.int32 and x.sort().indices.dtype == cr.int64
    assert x.cumprod(1).dtype == cr.int64 and x.cumprod(1).tolist() == [[3, 3, 6]]
    assert x.cummin(1).values.tolist() == [[3, 1, 1]]
    assert cr.searchsorted(cr.tensor([1, 2, 3]), cr.tensor([2]), out_int32=True).dtype == cr.int32
    assert cr.tensor([True, False]).sort().values.tolist() == [False, True]


def test_half_precision_runs_in_float32():
    x = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float16)
    assert x.cumprod(0).dtype == cr.float16 and x.cumprod(0).tolist() == [1.0, 2.0, 6.0]
    assert x.logcumsumexp(0).dtype == cr.float16


def test_zero_dim_and_empty():
    s = cr.tensor(2.0, requires_grad=True)
    values, indices = s.sort()
    assert values.shape == () and indices.shape == () and indices.item() == 0
    assert s.cumprod(0).item() == 2.0 and s.cummax(0).indices.item() == 0
    assert s.topk(1).values.item() == 2.0
    assert s.logcumsumexp(0).item() == pytest.approx(2.0)
    empty = cr.zeros(0, 3)
    assert empty.sort(0).values.shape == (0, 3) and empty.cumprod(0).shape == (0, 3)
    assert cr.zeros(2, 0).topk(0).values.shape == (2, 0)


def test_return_types():
    out = cr.sort(cr.tensor([2.0, 1.0]))
    assert out._fields == ("values", "indices")
    assert isinstance(cr.unique(cr.tensor([1, 1])), cr.Tensor)
    assert len(cr.unique(cr.tensor([1, 1]), return_counts=True)) == 2
    assert isinstance(cr.meshgrid(cr.ones(2), cr.ones(3)), tuple)
    assert cr.searchsorted(cr.tensor([1.0, 2.0]), 1.5).shape == ()


def test_in_place_forms():
    x = cr.ones(3, 3)
    assert x.tril_() is x and x.sum().item() == 6.0
    assert cr.ones(2, 2).triu_(1).tolist() == [[0.0, 1.0], [0.0, 0.0]]
    y = cr.tensor([1.0, 2.0, 3.0])
    assert y.cumprod_(0) is y and y.tolist() == [1.0, 2.0, 6.0]
    z = cr.zeros(3)
    z.scatter_(0, cr.tensor([2]), value=7.0)
    z.index_put_((cr.tensor([0]),), cr.tensor(1.0), accumulate=True)
    assert z.tolist() == [1.0, 0.0, 7.0]
    leaf = cr.ones(2, 2, requires_grad=True)
    with pytest.raises(GradientError):
        leaf.tril_()


def test_in_place_is_recorded():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1.0
    y.triu_()
    y.scatter_(1, cr.tensor([[0], [0]]), cr.tensor([[10.0], [20.0]]))
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_in_place_forms_that_read_their_input_keep_a_copy():
    # cumprod_ and scatter_reduce_ need the values they overwrite for the gradient: recorded on a copy
    x = cr.tensor([2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1.0
    y.cumprod_(0)
    y.scatter_reduce_(0, cr.tensor([0, 0]), cr.tensor([5.0, 1.0]), "amax")
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 12.0, 2.0 + 8.0, 6.0])  # y[0] became 5: x[0] only via y[1], y[2]


def test_scatter_reduce_prod_second_order_through_zeros_refuses():
    x = cr.tensor([0.0, 2.0], dtype=cr.float64, requires_grad=True)
    out = cr.scatter_reduce(x, 0, cr.tensor([0]), cr.tensor([3.0], dtype=cr.float64), "prod").sum()
    (grad,) = cr.autograd.grad(out, [x], retain_graph=True)
    assert grad.tolist() == [3.0, 1.0]
    with pytest.raises(NotImplementedError, match="prod"):
        cr.autograd.grad(out, [x], create_graph=True)


def test_diag_embed_and_diagonal_are_adjoint():
    x = cr.randn(2, 3, dtype=cr.float64)
    m = cr.diag_embed(x, 1, 0, 2)
    assert m.shape == (4, 2, 4)
    np.testing.assert_array_equal(m.diagonal(1, 0, 2).numpy(), x.numpy())


# ---------------------------------------------------------------------------
# errors: the op's name, the shapes, a hint; never a NumPy traceback


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: cr.tril(cr.ones(3)), ShapeError, ["tril", "(3,)"]),
        (lambda: cr.ones(2, 2).triu(1.5), TypeError, ["triu", "int"]),
        (lambda: cr.diagonal(cr.ones(3)), ShapeError, ["diagonal", "2 dimensions"]),
        (lambda: cr.ones(2, 2).diagonal(0, 1, 1), ShapeError, ["diagonal", "same dimension"]),
        (lambda: cr.diag(cr.ones(2, 2, 2)), ShapeError, ["diag", "(2, 2, 2)"]),
        (lambda: cr.trace(cr.ones(3)), ShapeError, ["trace", "2-d"]),
        (lambda: cr.diag_embed(cr.tensor(1.0)), ShapeError, ["diag_embed", "0-d"]),
        (lambda: cr.sort(cr.ones(2), dim=3), ShapeError, ["sort", "dim 3"]),
        (lambda: cr.topk(cr.ones(3), 4), ShapeError, ["topk", "k=4", "size 3"]),
        (lambda: cr.topk(cr.ones(3), 1.0), TypeError, ["topk", "int"]),
        (lambda: cr.kthvalue(cr.ones(3), 0), ShapeError, ["kthvalue", "k=0", "size 3"]),
        (lambda: cr.median(cr.ones(0)), ShapeError, ["median", "empty"]),
        (lambda: cr.median(cr.ones(2, 0), 1), ShapeError, ["median", "empty"]),
        (lambda: cr.tril_indices(-1, 2), ShapeError, ["tril_indices", "negative"]),
        (lambda: cr.unique(cr.tensor(1), dim=0), ShapeError, ["unique", "0-d"]),
        (lambda: cr.cumprod(cr.ones(2), 1), ShapeError, ["cumprod", "dim 1"]),
        (lambda: cr.logcumsumexp(cr.tensor([1, 2]), 0), DTypeError, ["logcumsumexp", "int64"]),
        (lambda: cr.roll(cr.ones(2, 2), (1, 2), 0), ShapeError, ["roll", "same length"]),
        (lambda: cr.roll(cr.ones(2, 2), (1, 2)), ShapeError, ["roll", "dims=None"]),
        (lambda: cr.roll(cr.ones(2, 2), 1.5), TypeError, ["roll", "int"]),
        (lambda: cr.repeat_interleave(cr.ones(2), 1.5), TypeError, ["repeat_interleave", "int"]),
        (
            lambda: cr.take_along_dim(cr.ones(2, 2), cr.tensor([[5]]), 1),
            IndexingError,
            ["take_along_dim", "size 2"],
        ),
        (
            lambda: cr.scatter(cr.ones(2, 2), 1, cr.zeros(3, 1, dtype=cr.int64), cr.ones(3, 1)),
            ShapeError,
            ["scatter", "(3, 1)", "input (2, 2)"],
        ),
        (lambda: cr.meshgrid(cr.ones(2, 2)), ShapeError, ["meshgrid", "(2, 2)"]),
        (lambda: cr.meshgrid(cr.ones(2), indexing="yx"), ValueError, ["meshgrid", "'yx'"]),
        (lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([3]), value=1.0), IndexingError, ["scatter", "[0, 3)"]),
        (lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([0.0]), value=1.0), DTypeError, ["scatter", "integer"]),
        (
            lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([0]), cr.ones(1, dtype=cr.float64)),
            DTypeError,
            ["scatter", "float64", "float32"],
        ),
        (lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([[0]]), value=1.0), ShapeError, ["scatter", "dims"]),
        (lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([0])), ValueError, ["scatter", "src and value"]),
        (lambda: cr.scatter(cr.zeros(3), 0, cr.tensor([0]), value=1.0, reduce="max"), ValueError, ["reduce"]),
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, cr.tensor([0]), cr.ones(1), "max"),
            ValueError,
            ["scatter_reduce", "'amax'", "'max'"],
        ),
        (
            lambda: cr.scatter_reduce(cr.zeros(3), 0, cr.tensor([0]), 1.0, "sum"),
            TypeError,
            ["scatter_reduce", "Tensor"],
        ),
        (lambda: cr.index_put(cr.zeros(3), cr.tensor([0]), cr.ones(1)), TypeError, ["index_put", "tuple"]),
        (lambda: cr.index_put(cr.zeros(3), (cr.tensor([5]),), cr.ones(1)), IndexingError, ["index_put", "(3,)"]),
        (
            lambda: cr.index_put(cr.zeros(3), (cr.tensor([0, 1]),), cr.ones(3)),
            ShapeError,
            ["index_put", "(3,)", "(2,)"],
        ),
        (lambda: cr.take_along_dim(cr.ones(2, 2), cr.tensor([0]), 1), ShapeError, ["take_along_dim", "dims"]),
        (
            lambda: cr.take_along_dim(cr.ones(2, 2), cr.tensor([[0], [0], [0]]), 1),
            ShapeError,
            ["take_along_dim", "broadcast"],
        ),
        (lambda: cr.masked_select(cr.ones(2), cr.tensor([1, 0])), DTypeError, ["masked_select", "bool"]),
        (lambda: cr.masked_select(cr.ones(2), cr.tensor([True] * 3)), ShapeError, ["masked_select", "(3,)"]),
        (lambda: cr.searchsorted(cr.ones(2, 3), cr.ones(3, 3)), ShapeError, ["searchsorted", "(2, 3)"]),
        (lambda: cr.searchsorted(cr.ones(3), 1.0, right=True, side="left"), ValueError, ["searchsorted", "side"]),
        (lambda: cr.bucketize(cr.ones(3), cr.ones(2, 2)), ShapeError, ["bucketize", "1-d"]),
        (lambda: cr.index_fill(cr.ones(2, 3), 1, cr.tensor([3]), 0.0), IndexingError, ["index_fill", "size 3"]),
        (lambda: cr.index_fill(cr.ones(3), 0, cr.tensor([0]), cr.ones(2)), ShapeError, ["index_fill", "0-d"]),
        (lambda: cr.index_copy(cr.ones(3, 2), 0, cr.tensor([0]), cr.ones(2, 2)), ShapeError, ["index_copy", "(1, 2)"]),
        (lambda: cr.take(cr.ones(2, 2), cr.tensor([4])), IndexingError, ["take", "4 elements"]),
        (
            lambda: cr.masked_scatter(cr.ones(3), cr.tensor([True, True, False]), cr.ones(1)),
            ShapeError,
            ["masked_scatter", "selects 2"],
        ),
        (lambda: cr.repeat_interleave(cr.ones(3), cr.tensor([1, 2])), ShapeError, ["repeat_interleave", "3 counts"]),
        (lambda: cr.repeat_interleave(cr.ones(2), -1), ValueError, ["repeat_interleave", "negative"]),
        (lambda: cr.bincount(cr.tensor([1, -1])), ValueError, ["bincount", "negative"]),
        (lambda: cr.bincount(cr.ones(2)), DTypeError, ["bincount", "integers"]),
        (lambda: cr.histc(cr.tensor([1, 2])), DTypeError, ["histc", "floating"]),
        (lambda: cr.mode(cr.ones(2, 0)), ShapeError, ["mode", "empty"]),
        (lambda: cr.diagonal_scatter(cr.ones(3, 3), cr.ones(2)), ShapeError, ["diagonal_scatter", "(3,)"]),
    ],
)
def test_clear_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_scatter_multiply_has_no_gradient():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="multiply"):
        cr.scatter(x, 0, cr.tensor([1]), value=3.0, reduce="multiply")
    with cr.no_grad():
        out = cr.scatter(x, 0, cr.tensor([1, 1]), cr.tensor([2.0, 3.0]), reduce="multiply")
    assert out.tolist() == [1.0, 6.0, 1.0]


def test_errors_are_chainrule_errors():
    with pytest.raises(ChainruleError):
        cr.tril(cr.ones(2))
