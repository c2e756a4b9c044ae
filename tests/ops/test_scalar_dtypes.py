"""A Python int meeting an integer tensor is weak, as in PyTorch: the tensor's dtype is kept (floor_divide, %, fmod,
where and the other ops that turn a scalar operand into a tensor)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CASES = {
    "floordiv": lambda x: x // 2,
    "rfloordiv": lambda x: 20 // x,
    "mod": lambda x: x % 3,
    "rmod": lambda x: 20 % x,
    "floor_divide": lambda x: (cr if isinstance(x, cr.Tensor) else torch).floor_divide(x, 2),
    "remainder": lambda x: (cr if isinstance(x, cr.Tensor) else torch).remainder(x, 3),
    "fmod": lambda x: (cr if isinstance(x, cr.Tensor) else torch).fmod(x, 3),
    "where": lambda x: (cr if isinstance(x, cr.Tensor) else torch).where(x > 5, x, 0),
}


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_integer_tensor_keeps_its_dtype_against_a_python_int(case, dtype):
    values = np.array([7, 9, 8, 1], dtype=dtype) if dtype == "uint8" else np.array([7, -7, 8, -1], dtype=dtype)
    ours = CASES[case](cr.tensor(values))
    theirs = CASES[case](torch.from_numpy(values.copy()))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_a_float_scalar_still_makes_an_integer_tensor_float():
    assert (cr.tensor([7, 8], dtype=cr.int32) // 2.0).dtype == cr.get_default_dtype()


def test_a_python_int_out_of_the_tensors_range_promotes_instead_of_overflowing():
    small = cr.tensor([1, 2, 250], dtype=cr.uint8)
    np.testing.assert_array_equal((small // 300).numpy(), [0, 0, 0])
    np.testing.assert_array_equal((small % 300).numpy(), [1, 2, 250])
    np.testing.assert_array_equal((small // 2).numpy(), [0, 1, 125])
    assert (small // 2).dtype == cr.uint8


def test_arithmetic_with_a_python_int_out_of_range_is_a_dtype_error():
    with pytest.raises(cr.DTypeError, match=r"add_scalar.*300.*uint8"):
        cr.tensor([1, 2], dtype=cr.uint8) + 300
