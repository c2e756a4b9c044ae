"""The errors chainrule raises.

Each subclasses the built-in exception a Python user would try first *and*
RuntimeError, which PyTorch raises for the same mistakes, so code written
against either keeps working.
"""

from __future__ import annotations


class ChainruleError(RuntimeError):
    """Base of every error chainrule raises on purpose."""


class ShapeError(ChainruleError, ValueError):
    """Shapes that do not fit the op (broadcasting, matmul, cat, reshape, layers)."""


class DTypeError(ChainruleError, TypeError):
    """Dtypes that do not fit the op (mixed float widths, grad on integers, ...)."""


class DeviceError(ChainruleError):
    """Tensors on different devices met in one op."""


class IndexingError(ChainruleError, IndexError):
    """An index out of range or of the wrong kind."""


class LinAlgError(ChainruleError, ValueError):
    """A matrix a linear-algebra op cannot handle: singular, not positive-definite, no convergence.

    ``chainrule.linalg.LinAlgError``; a RuntimeError like PyTorch's ``torch.linalg.LinAlgError``.

    Examples:
        >>> try:
        ...     cr.linalg.inv(cr.zeros(2, 2))
        ... except cr.linalg.LinAlgError as error:
        ...     print(error)
        inverse: the matrix (or one in the batch) is singular, so it has no inverse (input shape (2, 2))
    """


class GradientError(ChainruleError):
    """A backward that cannot run: freed graph, modified saved tensor, non-scalar root, ..."""


def describe(tensors) -> str:
    """``a: (2, 3) float32, b: (4,) float64`` for an error message."""
    parts = []
    for name, t in tensors:
        data = getattr(t, "_data", t)
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", None)
        if shape is None:
            parts.append(f"{name}: {type(t).__name__} {t!r}")
        else:
            parts.append(f"{name}: {tuple(shape)} {dtype}")
    return ", ".join(parts)
