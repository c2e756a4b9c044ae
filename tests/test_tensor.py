"""Tensor creation, conversion, dtypes, printing and seeding."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_default_dtypes():
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True]).dtype == cr.bool
    assert cr.tensor(np.zeros(2)).dtype == cr.float64  # numpy arrays keep their dtype
    assert cr.zeros(2, 3).dtype == cr.float32
    assert cr.arange(5).dtype == cr.int64
    assert cr.arange(0, 1, 0.25).dtype == cr.float32
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64


def test_python_scalars_never_upcast_float32():
    x = cr.ones(3)
    for out in (
        x * 0.5,
        0.5 * x,
        x + 1e-10,
        x / 3,
        x**2.5,
        2.0**x,
        x - 1,
        1 - x,
        x.clamp(0.1, 0.9),
        x.masked_fill(x._data > 0, 2.5),
        cr.where(x > 0, x, 0.0),
    ):
        assert out.dtype == cr.float32
    assert (x * np.float64(0.5)).dtype == cr.float32


def test_creation_functions():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.ones([4]).tolist() == [1.0] * 4
    assert cr.full((2,), 7).tolist() == [7, 7] and cr.full((2,), 7).dtype == cr.int64
    assert cr.full((2,), 1.5).dtype == cr.float32
    assert cr.empty(3, 2).shape == (3, 2)
    assert cr.arange(2, 8, 2).tolist() == [2, 4, 6]
    np.testing.assert_allclose(cr.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert cr.eye(3).numpy().trace() == 3
    x = cr.randn(2, 3)
    for like in (cr.zeros_like(x), cr.ones_like(x), cr.empty_like(x), cr.rand_like(x), cr.randn_like(x)):
        assert like.shape == (2, 3) and like.dtype == cr.float32
    assert cr.full_like(x, 3.0).tolist() == [[3.0] * 3] * 2
    r = cr.randint(0, 5, (100,))
    assert r.dtype == cr.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert sorted(cr.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    u = cr.rand(1000)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3, dtype=np.float32)
    shared = cr.from_numpy(a)
    copied = cr.tensor(a)
    a[0] = 5
    assert shared._data[0] == 5 and copied._data[0] == 0
    assert np.shares_memory(shared.numpy(), a)


def test_conversions_and_facts():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.size() == (2, 2) and x.size(1) == 2
    assert x.numel() == 4 and x.dim() == 2 and len(x) == 2
    assert x.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert x.sum().item() == 10.0
    assert x.double().dtype == cr.float64 and x.double().float().dtype == cr.float32
    assert x.to(cr.float64).dtype == cr.float64 and x.to("cpu") is x
    assert str(x.device) == "cpu"
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d._data, x._data)
    c = x.clone()
    assert c.requires_grad and not np.shares_memory(c._data, x._data)
    assert x.long().dtype == cr.int64 and x.int().dtype == cr.int32 and x.bool().dtype == cr.bool
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor(3)) == 3
    assert x.is_leaf and not (x * 2).is_leaf and (x * 2).grad_fn.name == "mul_scalar"


def test_item_needs_one_element():
    with pytest.raises(ValueError, match="4 elements"):
        cr.ones(4).item()


def test_repr_like_pytorch():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([0.5, 1.25])) == "tensor([0.5000, 1.2500])"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(cr.tensor([1.0], dtype=cr.float64)) == "tensor([1.], dtype=chainrule.float64)"
    assert "grad_fn=<mul_scalar>" in repr(cr.tensor([1.0], requires_grad=True) * 2)
    text = repr(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert text == "tensor([[1., 2.],\n        [3., 4.]])"


def test_manual_seed_makes_every_random_function_repeat():
    def draw():
        return [cr.rand(3).tolist(), cr.randn(2).tolist(), cr.randint(0, 100, (3,)).tolist(), cr.randperm(4).tolist()]

    cr.manual_seed(123)
    first = draw()
    cr.manual_seed(123)
    assert draw() == first
    cr.manual_seed(124)
    assert draw() != first


def test_explicit_generators_are_independent():
    g1 = cr.Generator().manual_seed(7)
    g2 = cr.Generator().manual_seed(7)
    cr.manual_seed(0)
    a = cr.randn(4, generator=g1)
    cr.randn(10)  # draws from the default generator do not disturb g2
    b = cr.randn(4, generator=g2)
    assert a.tolist() == b.tolist()


def test_rng_state_round_trip_is_json():
    import json

    cr.manual_seed(5)
    cr.rand(3)
    state = json.loads(json.dumps(cr.get_rng_state()))
    expected = cr.rand(4).tolist()
    cr.set_rng_state(state)
    assert cr.rand(4).tolist() == expected


def test_tensor_is_not_picklable():
    import pickle

    with pytest.raises(TypeError, match="safetensors"):
        pickle.dumps(cr.ones(2))


def test_bool_and_comparisons():
    x = cr.tensor([1.0, -2.0, 3.0])
    assert (x > 0).tolist() == [True, False, True]
    assert ((x > 0) & (x < 2)).tolist() == [True, False, False]
    assert (~(x > 0)).tolist() == [False, True, False]
    assert bool(cr.tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert cr.equal(x, x.clone())


# ------------------------------------------------------------------ .data as in PyTorch (issue 17)


def test_data_is_a_detached_tensor_sharing_memory():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert type(d) is cr.Tensor and not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d._data, w._data)
    h = (w * 2).data
    assert h.grad_fn is None and not h.requires_grad


def test_in_place_writes_through_data_change_the_parameter():
    p = cr.nn.Parameter(cr.ones(3))
    p.grad = cr.full((3,), 2.0)
    p.data.add_(p.grad, alpha=-0.5)
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0, 0.0])
    p.data.copy_(cr.tensor([1.0, 2.0, 3.0]))
    p.data.mul_(0.5)
    np.testing.assert_array_equal(p.numpy(), [0.5, 1.0, 1.5])
    p.data.uniform_(-0.1, 0.1)
    assert float(p.abs().max()) <= 0.1
    p.data.normal_()
    p.data.zero_()
    assert p.sum().item() == 0.0
    assert p.requires_grad and p.is_leaf and p.dtype == cr.float32


def test_data_setter_takes_a_tensor_or_array_and_may_change_shape_and_dtype():
    p = cr.nn.Parameter(cr.ones(3))
    other = cr.zeros(2, 2)
    p.data = other
    assert p.shape == (2, 2) and p.requires_grad and isinstance(p, cr.nn.Parameter)
    assert np.shares_memory(p._data, other._data)  # PyTorch shares too
    p.data = np.ones(4)
    assert p.shape == (4,) and p.dtype == cr.float64
    with pytest.raises(TypeError, match="Tensor.data"):
        p.data = [1.0, 2.0]
    with pytest.raises(cr.errors.DTypeError, match="floating point"):
        p.data = cr.tensor([1, 2])


def test_writes_through_data_do_not_bump_the_version_counter():
    # PyTorch: .data has its own version counter, so autograd does not see writes through it
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = w * w  # saves w
    w.data.mul_(10)
    y.sum().backward()  # no "modified in place" error, the gradient uses the new values
    np.testing.assert_array_equal(w.grad.numpy(), [20.0, 40.0])
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    x.detach().mul_(10)  # detach() shares the counter: backward refuses
    with pytest.raises(cr.errors.GradientError):
        y.sum().backward()


def test_optimizer_style_update_through_data_under_grad_mode():
    model = cr.nn.Linear(3, 2)
    x = cr.randn(4, 3)
    model(x).sum().backward()
    before = model.weight.detach().clone()
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-0.1)  # no no_grad() needed, as in PyTorch
    np.testing.assert_allclose(model.weight.numpy(), (before - 0.1 * model.weight.grad).numpy())


# ------------------------------------------------------------------ 0-d results of every dtype (issue 17)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.sum() > 0,
        lambda x: (x.sum() > 0).float(),
        lambda x: ~(x.sum() > 0),
        lambda x: (x.sum() > 0) & (x.sum() < 100),
        lambda x: (x.sum() > 0) | (x.sum() < 100),
        lambda x: x.sum().isnan(),
        lambda x: x.sum() == x.sum(),
        lambda x: x.sum().sigmoid(),
        lambda x: x.sum().long(),
        lambda x: x.argmax(),
        lambda x: x[0],
    ],
)
def test_zero_d_results_print_convert_and_compare(make):
    value = make(cr.tensor([1.0, 2.0, 3.0]))
    assert value.shape == () and type(value._data) is np.ndarray
    assert repr(value).startswith("tensor(") and str(value) == repr(value)
    python = value.tolist()
    assert type(python) in (bool, int, float) and python == value.item()
    assert value.numpy().shape == () and value.numpy() == python
    assert bool(value) == bool(python) and int(value) == int(python) and float(value) == float(python)


def test_bool_repr_pads_only_when_false_is_shown():
    assert repr(cr.tensor([True])) == "tensor([True])"
    assert repr(cr.tensor([True, False])) == "tensor([ True, False])"
    assert repr(cr.tensor(True)) == "tensor(True)"


def test_parameter_repr_shows_requires_grad():
    assert repr(cr.nn.Parameter(cr.ones(2))) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"


# ------------------------------------------------------------------ bugs found earlier (issue 17)


def test_to_copy_true_copies():
    x = cr.ones(3)
    assert x.to(cr.float32) is x
    y = x.to(cr.float32, copy=True)
    assert y is not x and not np.shares_memory(y._data, x._data)


def test_t_refuses_more_than_two_dims():
    assert cr.ones(2, 3).t().shape == (3, 2) and cr.ones(3).t().shape == (3,)
    with pytest.raises(cr.errors.ShapeError, match="t\\(\\)"):
        cr.ones(2, 3, 4).t()


def test_mean_of_integers_is_refused_as_in_pytorch():
    with pytest.raises(cr.errors.DTypeError, match="mean"):
        cr.arange(4).mean()
    assert cr.arange(4).mean(dtype=cr.float32).item() == 1.5


def test_cuda_without_cupy_is_a_device_error():
    if cr.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(cr.errors.DeviceError):
        cr.ones(2).cuda()
    with pytest.raises(cr.errors.DeviceError):
        cr.zeros(2, device="cuda")


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_integer_division_with_rounding_stays_integer(mode):
    a = cr.tensor([7, -7, 7, -7, 6, 0])
    b = cr.tensor([2, 2, -2, -2, 3, 5])
    expected = {"trunc": [3, -3, -3, 3, 2, 0], "floor": [3, -4, -4, 3, 2, 0]}[mode]
    out = cr.div(a, b, rounding_mode=mode)
    assert out.dtype == cr.int64 and out.tolist() == expected


# ------------------------------------------------------------------ Tensor surface PyTorch programs use (issue 17)


def test_type_names_and_conversions():
    x = cr.tensor([1.0, 2.0])
    assert x.type() == "torch.FloatTensor" and cr.tensor([1]).type() == "torch.LongTensor"
    assert cr.tensor([True]).type() == "torch.BoolTensor" and x.double().type() == "torch.DoubleTensor"
    assert x.type(cr.LongTensor).dtype == cr.int64 and x.type("torch.DoubleTensor").dtype == cr.float64
    assert x.type(cr.float32) is x and x.type(cr.int32).dtype == cr.int32
    with pytest.raises(TypeError, match="unknown"):
        x.type("torch.FancyTensor")


def test_small_tensor_facts():
    x = cr.zeros(2, 3)
    assert x.nelement() == 6 and not x.is_complex() and not x.is_sparse and x.is_floating_point()
    assert x.clone(memory_format=cr.preserve_format).shape == (2, 3)
    assert x.contiguous(memory_format=cr.contiguous_format) is x


def test_new_factories_take_pytorch_keywords():
    x = cr.tensor([1.0], dtype=cr.float64)
    z = x.new_zeros((2, 3), requires_grad=True)
    assert z.shape == (2, 3) and z.dtype == cr.float64 and z.requires_grad and z.is_leaf
    assert x.new_ones(2, dtype=cr.int64).dtype == cr.int64
    assert x.new_full((2,), 3.0).tolist() == [3.0, 3.0]
    assert x.new_empty(size=(1, 2)).shape == (1, 2)
    assert x.new_tensor([1, 2], requires_grad=True).requires_grad


def test_narrow_refuses_to_run_past_the_end():
    assert cr.arange(5).narrow(0, 3, 2).tolist() == [3, 4]
    assert cr.arange(5).narrow(0, -2, 2).tolist() == [3, 4]
    assert cr.arange(5).narrow(0, 5, 0).shape == (0,)
    with pytest.raises(cr.errors.IndexingError, match="narrow"):
        cr.arange(5).narrow(0, 3, 4)


@pytest.mark.parametrize("name", ["lerp", "addcmul", "addcdiv"])
def test_pointwise_three_operand_ops_match_pytorch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((3,)), 1.5 + rng.random((2, 1))]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    kwargs = {} if name == "lerp" else {"value": 0.7}
    out, expected = getattr(cr, name)(*ours, **kwargs), getattr(torch, name)(*theirs, **kwargs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    in_place = cr.tensor(arrays[0]).float()
    getattr(in_place, name + "_")(*(cr.tensor(a).float() for a in arrays[1:]), **kwargs)
    np.testing.assert_allclose(in_place.numpy(), expected.detach().numpy(), rtol=1e-5)
    assert in_place.dtype == cr.float32
    assert getattr(cr, name)(*(cr.tensor(a).float() for a in arrays), **kwargs).dtype == cr.float32
    with pytest.raises(cr.errors.ShapeError, match=name):
        getattr(cr, name)(cr.ones(2), cr.ones(3), cr.ones(2), **kwargs)
