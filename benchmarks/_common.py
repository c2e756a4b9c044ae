"""Shared setup for benchmarks: equal thread counts, timing, table printing."""

from __future__ import annotations

import os
import statistics
import time

# The default configuration is what a user gets: each library's own thread count, no variables set.
# CHAINRULE_BENCH_THREADS=n pins both libraries to n threads (an extra, labelled configuration).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
THREADS = int(os.environ["CHAINRULE_BENCH_THREADS"]) if os.environ.get("CHAINRULE_BENCH_THREADS") else None
if THREADS is not None:
    for var in THREAD_VARS:
        os.environ.setdefault(var, str(THREADS))


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    if THREADS is not None:
        torch.set_num_threads(THREADS)
    return torch


def thread_label(torch=None):
    """How many threads each library used, for a table title."""
    import chainrule

    if THREADS is not None:
        return f"{THREADS} thread(s) each (pinned)"
    theirs = f", torch {torch.get_num_threads()}" if torch is not None else ""
    ours = chainrule.get_num_threads() if hasattr(chainrule, "get_num_threads") else "?"  # older versions lack it
    return f"default threads (chainrule {ours}{theirs})"


def calls_per_sample(fn, min_time=0.05):
    """How many calls of ``fn`` (a power of two) take at least ``min_time`` seconds."""
    number = 1
    while time_calls(fn, number) * number < min_time:
        number *= 2
    return number


def time_calls(fn, number):
    """Seconds per call over ``number`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def median_time(fn, repeats=7, number=None, min_time=0.05):
    """Median seconds per call over ``repeats`` timings of ``number`` calls (auto-sized)."""
    fn()
    if number is None:
        number = calls_per_sample(fn, min_time)
    return statistics.median([time_calls(fn, number) for _ in range(repeats)])


def phased_step(lib, model, opt, x, y):
    """(step, times): a cross-entropy training step that appends its forward, backward and optimizer
    seconds to ``times[phase]`` (lists), for chainrule or torch alike."""
    times = {"forward": [], "backward": [], "optimizer": []}

    def step():
        t0 = time.perf_counter()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        for phase, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
            times[phase].append(seconds)

    return step, times


def print_table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
