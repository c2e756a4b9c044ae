"""The derivative table, by family.  Importing this package registers every primitive and public op
(``registry.py``) and binds the ops' Tensor methods."""

# every family registers its ops before they are bound
from . import (
    attention,
    compare,
    conv,
    diagonal,
    elementwise,
    index,
    layers,
    linalg,
    loss,
    matrix,
    nn,
    pool,
    recurrent,
    reduce,
    shape,
    sorting,
    sparse,
)  # noqa: F401
from .methods import _bind

_bind()
