"""The derivative table, by family.  Importing this package registers every primitive."""

from . import compare, elementwise, index, linalg, nn, reduce, shape  # noqa: F401
from .methods import _bind

_bind()
