"""``chainrule.nn.modules.utils``: the argument helpers PyTorch programs import (``_pair(3) == (3, 3)``)."""

from __future__ import annotations

import collections.abc
from itertools import repeat

__all__: list[str] = []


def _ntuple(n: int, name: str = "parse"):
    """A function that repeats a single value n times and passes an iterable through unchanged, as PyTorch's."""

    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")
