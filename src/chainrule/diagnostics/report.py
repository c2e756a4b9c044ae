"""The GradientMonitor's text report and its PNG (gradient norm over depth and over time)."""

from __future__ import annotations

import math

import numpy as np

from ._plot import pyplot, save_figure

_ORDER = ("nonfinite", "exploding", "vanishing", "dead", "saturated")


def _num(value, fmt=".2e") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-" if fmt != "%" else "-"
    if fmt == "%":
        return f"{value:.0%}"
    return format(value, fmt)


def _table(header, rows) -> list:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return lines


def text_report(monitor) -> str:
    history = monitor.history
    lines = ["Gradient health report", "======================", ""]
    if not history:
        lines.append(f"Nothing recorded yet (every {monitor.every} steps; {monitor.steps} steps so far).")
        return "\n".join(lines) + "\n"
    first, last = history[0], history[-1]
    lines.append(
        f"{len(monitor.layer_names)} layers with parameters; {len(history)} records, one every {monitor.every} "
        f"steps (steps {first['step']} to {last['step']})."
    )
    lines.append("")
    if monitor.first_issues:
        lines.append("PROBLEMS")
        for kind in sorted(monitor.first_issues, key=lambda k: _ORDER.index(k) if k in _ORDER else 99):
            issue = monitor.first_issues[kind]
            count = monitor.issue_counts.get(kind, 0)
            lines.append(
                f"- {kind.upper()}: first at step {issue.step}, in {count} of {len(history)} records. {issue.message}."
            )
            lines.append(f"  hint: {issue.hint}")
        current = {i.kind for i in monitor.last_issues}
        gone = [k for k in monitor.first_issues if k not in current]
        if gone:
            lines.append(f"(not present at the last record: {', '.join(gone)})")
    else:
        lines.append("No problems found.")
    lines.append("")

    lines.append(f"Layers at the last record (step {last['step']}), input to output")
    rows = []
    acts = {a["name"]: a for a in last["activations"]}
    for i, (name, v) in enumerate(last["layers"].items()):
        out = acts.get(name, {})
        rows.append(
            [
                str(i),
                name,
                v["type"],
                f"{v['numel']:,}",
                _num(v["grad_norm"]),
                _num(v["update_ratio"]),
                _num(v["zero_fraction"], "%"),
                _num(v.get("dead_units"), "%") if "dead_units" in v else "-",
                _num(out.get("mean"), ".3g") if out else "-",
                _num(out.get("std"), ".3g") if out else "-",
            ]
        )
    header = ["#", "layer", "type", "params", "grad norm", "update/weight", "zero grad", "dead units"]
    lines += _table([*header, "out mean", "out std"], rows)
    act_rows = [
        [
            a["name"],
            a["kind"],
            _num(a["mean"], ".3g"),
            _num(a["std"], ".3g"),
            _num(a.get("dead"), "%") if "dead" in a else "-",
            _num(a.get("saturated"), "%") if "saturated" in a else "-",
        ]
        for a in last["activations"]
        if a["kind"] != "layer"
    ]
    if act_rows:
        lines.append("")
        lines.append("Activations at the last record")
        lines += _table(["activation", "kind", "mean", "std", "dead", "saturated"], act_rows)
    lines.append("")
    lines.append("Gradient norm over time")
    names = monitor.layer_names
    picks = _picks(history)
    cols = [("total", None)]
    if names:
        cols += [(f"first ({names[0]})", names[0]), (f"last ({names[-1]})", names[-1])]
    rows = []
    for h in picks:
        row = [str(h["step"]), _num(h["total_norm"])]
        row += [_num(h["layers"].get(n, {}).get("grad_norm")) for _, n in cols[1:]]
        rows.append(row)
    lines += _table(["step", *[c for c, _ in cols]], rows)
    finite = [h["total_norm"] for h in history if math.isfinite(h["total_norm"])]
    if finite:
        lines.append(f"total norm: min {min(finite):.2e}, max {max(finite):.2e}, last {last['total_norm']:.2e}")
    return "\n".join(lines) + "\n"


def _picks(history, count: int = 8) -> list:
    if len(history) <= count:
        return history
    idx = sorted({round(i) for i in np.linspace(0, len(history) - 1, count)})
    return [history[i] for i in idx]


def _positive(values):
    arr = np.array([v if v is not None else np.nan for v in values], dtype=np.float64)
    arr[~np.isfinite(arr) | (arr <= 0)] = np.nan
    return arr


def plot_monitor(monitor, path):
    plt = pyplot()
    history = monitor.history
    if plt is None or not history:
        return None
    names = monitor.layer_names
    fig, (depth_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    picks = _picks(history, 6)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(picks)))
    # over depth, the layers with a weight matrix (Linear, Conv, ...): norm layers' small gradients would zig-zag
    matrix = [n for n in names if history[-1]["layers"].get(n, {}).get("matrix")]
    depth_names = matrix or names
    x = np.arange(len(depth_names))
    marker = "o" if len(depth_names) <= 40 else None
    for h, color in zip(picks, colors):
        y = _positive([h["layers"].get(n, {}).get("grad_norm") for n in depth_names])
        depth_ax.plot(x, y, marker=marker, markersize=3, color=color, label=f"step {h['step']}")
    depth_ax.set_yscale("log")
    depth_ax.xaxis.get_major_locator().set_params(integer=True)
    depth_ax.set_xlabel("layer with a weight matrix (input -> output)" if matrix else "layer (input -> output)")
    depth_ax.set_ylabel("gradient norm")
    depth_ax.set_title("gradient norm over depth")
    if len(depth_names) <= 12:
        depth_ax.set_xticks(x)
        depth_ax.set_xticklabels(depth_names, rotation=60, ha="right", fontsize=7)
    depth_ax.grid(alpha=0.3, which="both")
    depth_ax.legend(fontsize=7)

    steps = [h["step"] for h in history]
    series = [("total", [h["total_norm"] for h in history])]
    if depth_names:
        shown = depth_names if len(depth_names) < 3 else [depth_names[0], depth_names[len(depth_names) // 2]]
        shown = [*shown, depth_names[-1]]
        for n in dict.fromkeys(shown):
            series.append((f"layer {n}", [h["layers"].get(n, {}).get("grad_norm") for h in history]))
    for label, values in series:
        time_ax.plot(
            steps,
            _positive(values),
            label=label,
            linewidth=2 if label == "total" else 1,
            marker="o" if len(steps) <= 40 else None,
            markersize=3,
        )
    bad = [h["step"] for h in history if "nonfinite" in h.get("issues", ())]
    for s in bad:
        time_ax.axvline(s, color="red", alpha=0.3)
    time_ax.set_yscale("log")
    time_ax.set_xlabel("step")
    time_ax.set_title("gradient norm over time" + (" (red: non-finite)" if bad else ""))
    time_ax.grid(alpha=0.3, which="both")
    time_ax.legend(fontsize=7)
    kinds = ", ".join(monitor.first_issues) or "none"
    fig.suptitle(f"gradient health (problems: {kinds})", fontsize=10)
    fig.tight_layout()
    return save_figure(plt, fig, path)
