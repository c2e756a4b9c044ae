"""Loss and accuracy curves as PNG files (matplotlib is an optional extra; files are written atomically)."""

from __future__ import annotations

from pathlib import Path


def plot_history(history: list, run_dir) -> list:
    """Write loss.png and (when present) accuracy.png; returns the paths written."""
    from ..diagnostics._plot import pyplot, save_figure  # noqa: PLC0415 - matplotlib only when plotting

    plt = pyplot()
    if plt is None or not history:
        return []
    run_dir = Path(run_dir)
    written = []
    epochs = [h["epoch"] for h in history]
    for metric, filename in (("loss", "loss.png"), ("accuracy", "accuracy.png")):
        series = {k: [h.get(k) for h in history] for k in (f"train_{metric}", f"val_{metric}")}
        series = {k: v for k, v in series.items() if any(x is not None for x in v)}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
        for name, values in series.items():
            ax.plot(epochs, values, marker="o", label=name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        written.append(save_figure(plt, fig, run_dir / filename))
    return written
