"""Indexing semantics and gradients: views, repeats, masks, gather/scatter."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def x64(shape, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_repeated_indices_accumulate():
    x = x64((4,))
    x[[0, 0, 3]].sum().backward()
    np.testing.assert_allclose(x.grad._data, [2.0, 0.0, 0.0, 1.0])


def test_index_select_and_index_add_repeats():
    x = x64((3, 2))
    x.index_select(0, np.array([1, 1, 2])).sum().backward()
    np.testing.assert_allclose(x.grad._data, [[0, 0], [2, 2], [1, 1]])
    base = cr.zeros(3)
    out = base.index_add(0, np.array([0, 0]), cr.tensor([1.0, 2.0]))
    assert out.tolist() == [3.0, 0.0, 0.0]


def test_basic_indexing_is_a_view_and_int_index_keeps_0d():
    x = cr.arange(6).reshape(2, 3)
    row = x[1]
    assert np.shares_memory(row._data, x._data)
    elem = cr.arange(3.0)[1]
    assert elem.shape == () and np.shares_memory(elem._data, elem._data)


def test_boolean_mask_matches_numpy():
    data = np.random.default_rng(1).standard_normal((3, 4))
    x = cr.tensor(data, requires_grad=True)
    mask = data > 0
    out = x[cr.tensor(mask)]
    np.testing.assert_allclose(out._data, data[mask])
    out.sum().backward()
    np.testing.assert_allclose(x.grad._data, mask.astype(float))


def test_mixed_index_with_none_and_ellipsis():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = cr.tensor(data)
    for idx in [(None, 0), (..., 1), (slice(None), [0, 2]), (1, ..., None), (-1, 0)]:
        np.testing.assert_allclose(x[idx]._data, data[idx])


def test_gather_scatter_match_numpy_semantics():
    data = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    out = cr.tensor(data).gather(1, idx)
    np.testing.assert_allclose(out._data, np.take_along_axis(data, idx, 1))
    scattered = cr.zeros(3, 4, dtype=cr.float64).scatter_add(1, idx, cr.ones(3, 2, dtype=cr.float64))
    expected = np.zeros((3, 4))
    np.add.at(expected, (np.arange(3)[:, None], idx), 1.0)
    np.testing.assert_allclose(scattered._data, expected)


def test_setitem_without_grad_and_broadcast_value():
    x = cr.zeros(2, 3)
    x[:, 1] = 5.0
    x[0] = cr.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[1.0, 2.0, 3.0], [0.0, 5.0, 0.0]]


def test_masked_fill_and_where_gradients():
    x = x64((5,))
    mask = x._data > 0
    (x.masked_fill(mask, 0.0) * 3).sum().backward()
    np.testing.assert_allclose(x.grad._data, np.where(mask, 0.0, 3.0))


def test_max_with_dim_routes_gradient_to_returned_index_and_amax_splits_ties():
    x = cr.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    values, indices = x.max(dim=1)
    assert indices.tolist() == [1, 0]
    values.sum().backward()
    np.testing.assert_allclose(x.grad._data, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad._data, [[0, 0.5, 0.5], [0.5, 0, 0.5]])


def test_maximum_ties_split_evenly():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([1.0, 1.0], requires_grad=True)
    cr.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad._data, [0.5, 1.0])
    np.testing.assert_allclose(b.grad._data, [0.5, 0.0])


def test_prod_gradient_with_zeros_is_exact():
    x = cr.tensor(np.array([2.0, 0.0, 3.0, 4.0]), requires_grad=True)
    x.prod().backward()
    np.testing.assert_allclose(x.grad._data, [0.0, 24.0, 0.0, 0.0])
    y = cr.tensor(np.array([0.0, 0.0, 3.0]), requires_grad=True)
    assert cr.autograd.gradgradcheck(lambda t: t.prod(), (y,))


def test_norm_gradient_at_zero_is_zero():
    x = cr.zeros(3, requires_grad=True)
    x.norm().backward()
    np.testing.assert_allclose(x.grad._data, [0, 0, 0])


def test_split_chunk_unbind_stack_cat_round_trip():
    x = x64((4, 3))
    parts = x.split([1, 3], dim=0)
    assert [p.shape for p in parts] == [(1, 3), (3, 3)]
    assert [c.shape for c in x.chunk(3, dim=1)] == [(4, 1)] * 3
    rows = x.unbind(0)
    back = cr.stack(rows, dim=0)
    np.testing.assert_allclose(back._data, x._data)
    (cr.cat(parts, 0) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad._data, np.full((4, 3), 2.0))


def test_only_some_split_outputs_used():
    x = x64((4,))
    a, b = x.split(2)
    (a * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3, 3, 0, 0])
