"""Gradcheck specs for ``fmod``, ``clamp`` with tensor bounds and ``hardtanh`` (``ops/elementwise.py``).

Inputs stay away from fmod's jumps (a near a multiple of b) and from clamp's
ties; the ties themselves, where PyTorch's choice of subgradient matters, are
tested against PyTorch in tests/ops/test_linalg.py.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

from .specs import binary, spec, unary


def _dividend(x):
    return np.round(x * 2) + 0.3  # a / b with b in (0.7, 1.3) or its negative: far from every integer


def _divisor(x):
    return np.where(x < 0, -1.0, 1.0) * (1.0 + 0.02 * np.tanh(x))


spec("fmod", lambda a, b: cr.fmod(a, b), binary, ["fmod"], domains=(_dividend, _divisor))


def _clamp_shapes(draw):
    a, b = binary(draw)
    return [a, b, b]


spec(
    "clamp_tensor",
    lambda x, lo, hi: cr.clamp(x, lo, hi),
    _clamp_shapes,
    ["clamp_tensor"],
    domains=(
        lambda x: x * 3,
        lambda x: x * 0.01 - 1.0 + 0.3 * np.round(x),
        lambda x: x * 0.01 + 1.0 + 0.3 * np.round(x),
    ),
)
spec(
    "hardtanh",
    lambda x: F.hardtanh(x, -1.0, 0.5),
    unary,
    ["hardtanh"],
    domain=lambda x: np.round(x * 4) / 4 + 0.1,
)
spec(
    "clamp_tensor_min",
    lambda x, lo: cr.clamp(x, min=lo),
    binary,
    ["clamp_tensor"],
    domains=(lambda x: np.round(x * 4) / 4 + 0.1, lambda x: np.round(x * 4) / 4 - 0.02),
)
