"""Metrics computed per batch and averaged over an epoch (weighted by batch size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..backend import to_numpy


def accuracy(output, target) -> float:
    """Fraction of rows whose arg-max class equals the target class index.

    Args:
        output: scores or logits, shape ``(N, C)`` (or ``(..., C)``).
        target: class indices, shape ``(N,)`` (or the leading shape of ``output``).

    Returns:
        A Python float in [0, 1].

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.train import accuracy
        >>> accuracy(cr.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), cr.tensor([1, 1, 1]))
        0.6666666666666666
    """
    pred = to_numpy(output._data).argmax(axis=-1)
    return float((pred == to_numpy(target._data)).mean())


class MetricsLog:
    """``metrics.jsonl``: one JSON object per epoch, the whole file rewritten atomically each time."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, records) -> None:
        """Replace the log with ``records`` (the trainer's history: the epochs its checkpoint holds)."""
        from ..io import atomic_write  # noqa: PLC0415

        text = "".join(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n" for record in records)
        atomic_write(self.path, text.encode())

    def read(self) -> list:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
