"""Metrics computed per batch and averaged over an epoch (weighted by batch size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..backend import to_numpy


def accuracy(output, target) -> float:
    """Fraction of rows whose arg-max class equals the target class index."""
    pred = to_numpy(output.data).argmax(axis=-1)
    return float((pred == to_numpy(target.data)).mean())


class MetricsLog:
    """Appends one JSON object per epoch to ``metrics.jsonl`` (flushed each time)."""

    def __init__(self, path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")
            f.flush()

    def read(self) -> list:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
