"""Every documented mistake raises a chainrule error naming the op, the shapes and a hint."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import DTypeError, GradientError, IndexingError, ShapeError


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)


def test_matmul_needs_dimensions():
    with pytest.raises(ShapeError, match="matmul"):
        cr.tensor(1.0) @ cr.ones(2)


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"add.*\(2, 3\).*\(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(ShapeError, match=r"mul.*\(3,\).*\(2,\)"):
        cr.ones(3, requires_grad=True) * cr.ones(2)


@pytest.mark.parametrize(
    ("op", "args"),
    [
        (cr.log, (cr.tensor([0.0, 1.0]),)),
        (lambda a, b: a / b, (cr.tensor([1.0, 0.0]), cr.tensor([0.0, 0.0]))),
        (cr.sqrt, (cr.tensor([-1.0]),)),
    ],
)
def test_a_numpy_warning_turned_error_by_the_caller_stays_that_warning(op, args):
    # under -W error (or pytest's filterwarnings = error) NumPy's floating-point warning is raised as an exception:
    # chainrule passes it on as it is, not dressed as a ShapeError
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="encountered"):
            op(*args)
    with np.errstate(all="ignore"):
        assert op(*args).shape == args[0].shape  # and without the filter the IEEE result comes back


def test_cat_shape_mismatch():
    with pytest.raises(ShapeError, match=r"cat: tensor 1 has shape \(2, 4\).*\(2, 3\)"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)], dim=0)


def test_reshape_wrong_size():
    with pytest.raises(ShapeError, match=r"reshape.*\(2, 3\).*6 elements.*\(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)


def test_float_dtype_mismatch_is_refused():
    with pytest.raises(DTypeError, match=r"float32.*float64"):
        cr.ones(2) + cr.ones(2, dtype=cr.float64)
    with pytest.raises(DTypeError, match="matmul"):
        cr.ones(2, 2) @ cr.ones(2, 2, dtype=cr.float64)


def test_int_with_float_promotes_to_float():
    out = cr.arange(3) * cr.ones(3)
    assert out.dtype == cr.float32
    assert (cr.arange(3) * 0.5).dtype == cr.float32


def test_requires_grad_on_integer_tensor():
    with pytest.raises(DTypeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(DTypeError):
        cr.arange(3).requires_grad_()


def test_index_out_of_range():
    with pytest.raises(IndexingError, match=r"index.*\(3,\)|out of bounds"):
        cr.ones(3)[[0, 5]]
    with pytest.raises(IndexError):
        cr.ones(3, requires_grad=True)[7]


def test_backward_non_scalar_and_unused_input():
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(GradientError, match="single-element"):
        (x * 2).backward()
    y = cr.ones(1, requires_grad=True)
    with pytest.raises(GradientError, match="not part of the graph"):
        cr.autograd.grad((x * 2).sum(), [y])


def test_errors_are_runtime_errors_too():
    # PyTorch raises RuntimeError for these; code catching that keeps working
    with pytest.raises(RuntimeError):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(RuntimeError):
        cr.ones(2) + cr.ones(2, dtype=cr.float64)


def test_no_numpy_traceback_leaks():
    try:
        cr.ones(2, 3) + cr.ones(4)
    except ShapeError as exc:
        assert "operands could not be broadcast" in str(exc)  # numpy's reason is kept in the message
        assert exc.__class__.__module__ == "chainrule.errors"


def test_device_mismatch_message_without_gpu():
    with pytest.raises(RuntimeError, match="CuPy|cuda"):
        cr.ones(2).to("cuda")


def test_gather_index_dtype():
    with pytest.raises(DTypeError, match="gather.*integer"):
        cr.ones(2, 2).gather(0, np.array([[0.5, 1.0]]))


def test_inplace_broadcast_target():
    x = cr.ones(3)
    with pytest.raises(ShapeError, match="in-place"):
        x.add_(cr.ones(2, 3))
