"""Constructor argument checks shared by the layers.

A layer built with an impossible configuration (a kernel of 0, a negative
padding, channels that groups cannot split, a dropout probability of 2)
fails in its constructor, with a message naming the layer, the argument and
the value, instead of running and returning a wrong shape, or failing deep
inside the first forward.  PyTorch checks some of these in its constructors
and the rest in its kernels; chainrule checks all of them up front.

Exception types follow PyTorch's: a value of the wrong type (a float where
an int belongs, a string where a number does) is a ``TypeError``; a value out
of range is a :class:`LayerArgumentError`, which is both a ``ValueError``
(what PyTorch's constructors raise) and a ``RuntimeError`` (what its kernels
raise for the same mistakes), so ``except`` clauses written for either catch it.
Booleans are refused where an integer size belongs (PyTorch reads True as 1).
"""

from __future__ import annotations

import math
import numbers
import operator

from ...errors import ChainruleError, ShapeError

__all__ = ["LayerArgumentError"]


class LayerArgumentError(ChainruleError, ValueError):
    """A layer's constructor got a value out of range for one of its arguments."""


class _IndivisibleError(LayerArgumentError, ShapeError):
    """Sizes that do not split evenly (channels by groups, embed_dim by heads): a ShapeError too, as before."""


def integer(layer: str, name: str, value) -> int:
    """``value`` as an int (ints and NumPy integers; not bools, floats or strings)."""
    if isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r} (a bool)")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{layer}: {name} must be an int, got {value!r} ({type(value).__name__})") from None


def size(layer: str, name: str, value, minimum: int = 0) -> int:
    """An int of at least ``minimum`` (0: a size that may be empty; 1: a count that must not be)."""
    number = integer(layer, name, value)
    if number < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise LayerArgumentError(f"{layer}: {name} must be {what}, got {value!r}")
    return number


def sizes(layer: str, name: str, value, n: int, minimum: int = 0) -> tuple:
    """An int or a sequence of ``n`` ints, each at least ``minimum``, as an n-tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise LayerArgumentError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        items = tuple(integer(layer, name, v) for v in value)
    else:
        items = (integer(layer, name, value),) * n
    if any(v < minimum for v in items):
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise LayerArgumentError(f"{layer}: every {name} must be {what}, got {value!r}")
    return items


def real(layer: str, name: str, value) -> float:
    """``value`` as a float (ints, floats and NumPy numbers; not bools or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def probability(layer: str, name: str, value) -> float:
    """A number in [0, 1] (a dropout probability)."""
    p = real(layer, name, value)
    if not 0.0 <= p <= 1.0:
        raise LayerArgumentError(f"{layer}: {name} must be a probability between 0 and 1, got {value!r}")
    return p


def nonnegative(layer: str, name: str, value, strict: bool = False, hint: str = "") -> float:
    """A finite number >= 0 (> 0 with ``strict``), e.g. an eps."""
    number = real(layer, name, value)
    if not math.isfinite(number) or number < 0 or (strict and number == 0):
        what = "a positive" if strict else "a non-negative"
        raise LayerArgumentError(f"{layer}: {name} must be {what} finite number, got {value!r}{hint}")
    return number


def choice(layer: str, name: str, value, choices) -> str:
    """One of the strings ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise LayerArgumentError(f"{layer}: {name} must be one of {listed}, got {value!r}")
    return value


def divisible(layer: str, name: str, value: int, by_name: str, by: int) -> None:
    if value % by:
        raise _IndivisibleError(f"{layer}: {name} ({value}) must be divisible by {by_name} ({by})")
