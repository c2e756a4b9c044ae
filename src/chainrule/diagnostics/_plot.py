"""Matplotlib for the diagnostics' PNGs: optional, headless, written atomically."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from ..io import atomic_write

_warned = False


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None (with one warning) when matplotlib is missing."""
    global _warned
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        if not _warned:
            warnings.warn("matplotlib is not installed: no plots (pip install 'chainrule[train]')", stacklevel=3)
            _warned = True
        return None
    return plt


def save_figure(plt, fig, path) -> Path:
    """Render ``fig`` to PNG bytes and write them atomically; closes the figure."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    return atomic_write(Path(path), buffer.getvalue())
