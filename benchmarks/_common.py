"""Shared setup for benchmarks: equal thread counts, timing, interleaved worker processes, table printing."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


# --------------------------------------------------------------------------- interleaved worker processes
#
# A comparison of two libraries runs each in a process of its own (both keep thread pools that spin after their
# work and would slow the other's in one process).  This VM's speed also drifts: spells of tens of seconds in which
# every step takes up to 1.5x longer come and go (same process, both threads busy on their own CPUs, no steal
# time).  Timing one library's process and then the other's lets a spell land on one library alone, so both
# processes stay alive side by side and take turns: a short block of steps each, the order alternating, with a
# pause between blocks (the idle process's threads go to sleep), and the ratio is the median of the per-block
# ratios of neighbouring blocks, which saw the same machine.

_PROTOCOL = "@bench "  # the prefix of a worker's protocol lines on stdout (anything else it prints is skipped)


def serve(run_block, finish):
    """Worker side: say ready, then answer each ``go`` line on stdin with ``run_block()`` and the ``end`` line with
    ``finish()`` (both JSON-serializable), then return."""
    print(_PROTOCOL + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        print(_PROTOCOL + json.dumps(run_block()), flush=True)
    print(_PROTOCOL + json.dumps(finish()), flush=True)


class Served:
    """Parent side: a worker process started with ``cmd`` and ``env`` that speaks ``serve``'s protocol."""

    def __init__(self, label, cmd, env):
        self.label = label
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True
        )
        self._read()  # ready: built, warmed up

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(_PROTOCOL):
                return json.loads(line[len(_PROTOCOL) :])
        self.proc.wait()
        self.errors.seek(0)
        raise RuntimeError(f"{self.label} failed:\n{self.errors.read()[-3000:]}")

    def block(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self._read()

    def finish(self):
        self.proc.stdin.write("end\n")
        self.proc.stdin.flush()
        result = self._read()
        self.proc.wait()
        self.errors.close()
        return result


def interleave(workers, blocks, pause=0.1):
    """Run ``blocks`` blocks on each of two ``Served`` workers in turn (the first goes first in even blocks, the
    second in odd ones), sleeping ``pause`` seconds before each; returns the two lists of block results."""
    first, second = workers
    results = ([], [])
    for b in range(blocks):
        order = ((0, first), (1, second)) if b % 2 == 0 else ((1, second), (0, first))
        for i, worker in order:
            time.sleep(pause)
            results[i].append(worker.block())
    return results


def side_by_side(start, libs, blocks, rounds):
    """``{lib: (block results, final results)}``: ``rounds`` times, a ``Served`` worker per library from
    ``start(lib)``, started in the order of ``libs`` (the first may write what the others read, such as initial
    weights), taking ``blocks`` turns (``interleave``; which of a pair goes first alternates by round), then
    finished.  A library alone runs its blocks back to back."""
    runs = {lib: ([], []) for lib in libs}
    for r in range(rounds):
        workers = [start(lib) for lib in libs]
        if len(workers) == 1:
            results = [[workers[0].block() for _ in range(blocks)]]
        else:
            order = workers if r % 2 == 0 else workers[::-1]
            results = interleave(order, blocks)
            results = results if r % 2 == 0 else results[::-1]
        for lib, worker, got in zip(libs, workers, results):
            runs[lib][0].extend(got)
            runs[lib][1].append(worker.finish())
    return runs


def paired_ratio(ours, theirs, key="step_ms"):
    """The median over blocks of ``ours[i][key] / theirs[i][key]`` (blocks run next to each other)."""
    return statistics.median(a[key] / b[key] for a, b in zip(ours, theirs))
