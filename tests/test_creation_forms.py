"""Every creation function's positional and keyword forms, against PyTorch's shapes and dtypes (issue 17).

Each row is one call written once as source text and run on both libraries (``lib`` is ``chainrule`` or
``torch``), so a form PyTorch reads differently (``randint(3, (10,))`` is high and size, not low and high)
shows up as a shape or dtype mismatch.  Rows that draw random numbers compare only shape and dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

FORMS = [
    # tensor / as_tensor / from_numpy
    "lib.tensor(3)",
    "lib.tensor(2.5)",
    "lib.tensor(True)",
    "lib.tensor([1, 2])",
    "lib.tensor([[1.0, 2.0]])",
    "lib.tensor([1, 2], dtype=lib.float64)",
    "lib.tensor([], dtype=lib.float32)",
    "lib.tensor(np.arange(3, dtype=np.int32))",
    "lib.as_tensor([1, 2])",
    "lib.as_tensor([1.0, 2.0], dtype=lib.float64)",
    "lib.as_tensor(np.ones(3, dtype=np.float32))",
    "lib.asarray([1, 2])",
    "lib.asarray(np.ones(2), dtype=lib.float32)",
    "lib.from_numpy(np.zeros((2, 3), dtype=np.float64))",
    "lib.from_numpy(np.zeros(3, dtype=np.int16))",
    # zeros / ones / empty
    "lib.zeros(2, 3)",
    "lib.zeros((2, 3))",
    "lib.zeros([2, 3])",
    "lib.zeros(size=(2, 3))",
    "lib.zeros(())",
    "lib.zeros([])",
    "lib.zeros(0)",
    "lib.zeros(2, dtype=lib.int64)",
    "lib.zeros(2, 3, requires_grad=True)",
    "lib.ones(4)",
    "lib.ones((1, 2), dtype=lib.bool)",
    "lib.ones(size=[3])",
    "lib.empty(2, 2)",
    "lib.empty((3,), dtype=lib.float64)",
    "lib.empty(size=(1, 2))",
    # full
    "lib.full((2, 2), 7)",
    "lib.full((2,), 7.0)",
    "lib.full((2,), True)",
    "lib.full([3], 1.5, dtype=lib.float64)",
    "lib.full(size=(2, 3), fill_value=0.5)",
    "lib.full((), 3)",
    # *_like
    "lib.zeros_like(lib.ones(2, 3, dtype=lib.float64))",
    "lib.ones_like(lib.tensor([1, 2]))",
    "lib.ones_like(lib.tensor([1, 2]), dtype=lib.float32)",
    "lib.empty_like(lib.zeros(3))",
    "lib.full_like(lib.zeros(3), 2)",
    "lib.full_like(lib.tensor([1, 2]), 2.7)",
    "lib.full_like(lib.zeros(2), fill_value=1.0, dtype=lib.float64)",
    "lib.rand_like(lib.zeros(2, 3))",
    "lib.rand_like(lib.zeros(2, dtype=lib.float64))",
    "lib.randn_like(lib.zeros(2, 3), dtype=lib.float64)",
    "lib.randint_like(lib.zeros(2, 3), 10)",
    "lib.randint_like(lib.zeros(2, 3), 3, 10)",
    "lib.randint_like(lib.zeros(4, dtype=lib.int64), low=2, high=5)",
    "lib.zeros_like(lib.zeros(2), memory_format=lib.preserve_format)",
    # arange / linspace / logspace / eye
    "lib.arange(5)",
    "lib.arange(5.0)",
    "lib.arange(1, 5)",
    "lib.arange(1, 5, 2)",
    "lib.arange(0, 1, 0.25)",
    "lib.arange(end=4)",
    "lib.arange(start=1, end=4)",
    "lib.arange(0, 10, step=3)",
    "lib.arange(5, dtype=lib.float64)",
    "lib.arange(lib.tensor(4))",
    "lib.arange(10, 0, -3)",
    "lib.linspace(0, 1, 5)",
    "lib.linspace(0, 1, steps=5)",
    "lib.linspace(start=0, end=10, steps=3)",
    "lib.linspace(0, 1, 5, dtype=lib.float64)",
    "lib.linspace(-1, 1, 1)",
    "lib.logspace(0, 2, 3)",
    "lib.logspace(0, 2, 3, base=2)",
    "lib.logspace(0, 2, steps=3, base=2.0, dtype=lib.float64)",
    "lib.eye(3)",
    "lib.eye(2, 3)",
    "lib.eye(3, dtype=lib.int64)",
    "lib.eye(n=2, m=4)",
    # random
    "lib.rand(2, 3)",
    "lib.rand((2, 3))",
    "lib.rand(size=(2, 3))",
    "lib.rand(3, dtype=lib.float64)",
    "lib.rand(())",
    "lib.randn(4)",
    "lib.randn([2, 2])",
    "lib.randn(2, 3, requires_grad=True)",
    "lib.randn(size=(5,), dtype=lib.float64)",
    "lib.randint(3, (10,))",
    "lib.randint(3, 10, (2, 2))",
    "lib.randint(10, size=(3,))",
    "lib.randint(0, 10, size=(3,))",
    "lib.randint(low=2, high=5, size=(4,))",
    "lib.randint(high=5, size=(4,))",
    "lib.randint(5, (2,), dtype=lib.int32)",
    "lib.randint(5, ())",
    "lib.randperm(5)",
    "lib.randperm(5, dtype=lib.int32)",
    "lib.randperm(n=3)",
    "lib.normal(0.0, 1.0, (2, 3))",
    "lib.normal(0.0, 1.0, size=(4,))",
    "lib.normal(2.0, 0.5, (3,), dtype=lib.float64)",
    "lib.normal(lib.zeros(3), lib.ones(3))",
    "lib.normal(lib.zeros(2, 3), 2.0)",
    "lib.normal(1.0, lib.ones(4))",
    "lib.normal(mean=lib.zeros(3), std=lib.ones(3))",
    "lib.multinomial(lib.tensor([0.2, 0.3, 0.5]), 2)",
    "lib.multinomial(lib.tensor([[0.2, 0.8], [0.5, 0.5]]), 3, replacement=True)",
    "lib.multinomial(lib.tensor([1.0, 1.0, 1.0]), num_samples=3)",
    "lib.bernoulli(lib.full((3,), 0.5))",
    "lib.bernoulli(lib.full((2,), 0.5, dtype=lib.float64))",
]

RANDOM = ("rand", "randn", "randint", "randperm", "normal", "multinomial", "bernoulli", "empty")


def _run(source, lib):
    return eval(source, {"lib": lib, "np": np})  # noqa: S307 - the rows above, nothing from outside


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("source", FORMS)
def test_creation_form_matches_pytorch(source):
    expected = _run(source, torch)
    got = _run(source, cr)
    assert isinstance(got, cr.Tensor), f"{source}: {type(got).__name__}"
    assert tuple(got.shape) == tuple(expected.shape), f"{source}: shape {got.shape} vs torch {tuple(expected.shape)}"
    assert _dtype_name(got) == _dtype_name(expected), f"{source}: dtype {got.dtype} vs torch {expected.dtype}"
    assert got.requires_grad == expected.requires_grad, source
    if not any(f"lib.{name}" in source for name in RANDOM):
        np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-6, err_msg=source)


@pytest.mark.parametrize(
    "source",
    [
        "lib.randint(10, size=(1000,))",
        "lib.randint(3, (1000,))",
        "lib.randint(-2, 3, (1000,))",
    ],
)
def test_randint_draws_inside_its_bounds(source):
    got = _run(source, cr).numpy()
    expected = _run(source, torch).numpy()
    assert set(np.unique(got)) == set(np.unique(expected))  # 1000 draws hit every value of a small range


def test_multinomial_errors_name_the_op():
    with pytest.raises(ValueError, match="multinomial"):
        cr.multinomial(cr.tensor([1.0, 0.0]), 2)  # more samples than nonzero weights, without replacement
    with pytest.raises(ValueError, match="multinomial"):
        cr.multinomial(cr.tensor([1.0, -1.0]), 1)


def test_typed_constructors_and_memory_formats():
    assert cr.LongTensor([1, 2]).dtype == cr.int64 and cr.FloatTensor(2, 3).shape == (2, 3)
    assert cr.DoubleTensor(cr.tensor([1.0])).dtype == cr.float64 and cr.BoolTensor([1, 0]).tolist() == [True, False]
    assert cr.IntTensor(np.arange(3)).dtype == cr.int32 and cr.FloatTensor().shape == (0,)
    assert isinstance(cr.zeros(2), cr.FloatTensor) and not isinstance(cr.zeros(2), cr.LongTensor)
    assert repr(cr.channels_last) == "torch.channels_last"


def test_normal_statistics():
    x = cr.normal(2.0, 0.5, (20000,), dtype=cr.float64)
    assert abs(float(x.mean()) - 2.0) < 0.02 and abs(float(x.std()) - 0.5) < 0.02
    y = cr.normal(cr.tensor([0.0, 100.0]), cr.tensor([1e-6, 1e-6]))
    np.testing.assert_allclose(y.numpy(), [0.0, 100.0], atol=1e-3)


@pytest.mark.parametrize(
    "source",
    [
        "lib.randint(5)",  # size is required
        "lib.zeros(-1)",
        "lib.normal(lib.zeros(2), lib.ones(3))",
    ],
)
def test_bad_creation_arguments_raise(source):
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        _run(source, torch)
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        _run(source, cr)
