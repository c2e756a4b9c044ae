"""Distances and normalization along a dimension: ``normalize``, ``cosine_similarity``, ``pairwise_distance``.

Composites of the derivative table (``vector_norm`` from ``ops/matrix.py``);
``cdist`` itself is ``chainrule.cdist``.
"""

from __future__ import annotations

from ...ops import elementwise as _ew
from ...ops.matrix import vector_norm
from ...ops.shape import broadcast_tensors
from ...tensor import Tensor

__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:  # noqa: A002
    """Divide ``input`` by its ``p``-norm along ``dim``: ``x / max(norm(x), eps)``.

    Where the norm is below ``eps`` the input is divided by ``eps`` and the
    norm gets no gradient, as in PyTorch.

    Args:
        input: the input, any shape ``(*)`` with at least ``dim + 1`` dimensions, float.
        p: the order of the norm (default 2.0).
        dim: the dimension along which slices get norm 1 (default 1).
        eps: the smallest divisor (default 1e-12).
        out: not supported (must be None).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        ValueError: ``out`` is given.

    Examples:
        >>> F.normalize(cr.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """
    if out is not None:
        raise ValueError("normalize: out= is not supported; use the returned tensor")
    norm = vector_norm(input, p, dim=dim, keepdim=True)
    return input / _ew.clamp(norm, min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim``: ``sum(x1 / |x1| * x2 / |x2|)``.

    Each input is divided by its 2-norm clamped to at least ``eps``; as in
    PyTorch the clamp is invisible to the gradient (it flows as if the norm
    were used unclamped). The inputs broadcast.

    Args:
        x1: the first input, shape ``(*, D, *)`` (``D`` at ``dim``), float.
        x2: the second input, broadcastable with ``x1``, in its dtype.
        dim: the dimension of the vectors (default 1).
        eps: the smallest norm (default 1e-8).

    Returns:
        The broadcast shape without ``dim``, in the inputs' dtype, in ``[-1, 1]``.

    Examples:
        >>> a = cr.tensor([[1.0, 0.0], [1.0, 1.0]])
        >>> F.cosine_similarity(a, cr.tensor([[1.0, 1.0]]))
        tensor([0.7071, 1.0000])
    """
    x1, x2 = broadcast_tensors(x1, x2)

    def unit(x):
        norm = vector_norm(x, 2, dim=dim, keepdim=True)
        constant = norm.detach()
        return x / (norm + (_ew.clamp(constant, min=eps) - constant))  # PyTorch clamps the norm under no_grad

    return (unit(x1) * unit(x2)).sum(dim=dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dimension (rows paired one to one).

    ``eps`` keeps the distance between equal rows away from the norm's kink,
    as in PyTorch. The inputs broadcast; ``chainrule.cdist`` gives all pairs.

    Args:
        x1: the first rows, shape ``(N, D)`` or ``(D)``, float.
        x2: the second rows, broadcastable with ``x1``, in its dtype.
        p: the order of the norm (default 2.0).
        eps: added to the differences (default 1e-6).
        keepdim: keep the last dimension as size 1 (default False).

    Returns:
        A tensor of shape ``(N)`` (``(N, 1)`` with ``keepdim``; 0-d for 1-d inputs).

    Examples:
        >>> F.pairwise_distance(cr.tensor([[0.0, 0.0], [1.0, 1.0]]), cr.tensor([[3.0, 4.0]]), eps=0.0)
        tensor([5.0000, 3.6056])
    """
    return vector_norm(x1 - x2 + eps, p, dim=-1, keepdim=keepdim)
