"""Loading crafted files under a cap on memory: a lowered address-space limit plus tracemalloc's peak.

``with memory_cap() as used:`` lowers this process's soft ``RLIMIT_AS`` to
what it maps now plus ``headroom`` (so an allocation a loader should never
make fails at once with MemoryError instead of swapping the machine), traces
Python and NumPy allocations, and restores both on exit; ``used.peak`` is
then the largest traced total in bytes.  Linux only (it reads
/proc/self/status); elsewhere the tests that use it skip.
"""

from __future__ import annotations

import contextlib
import os
import tracemalloc

import pytest

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

HAVE_CAP = resource is not None and hasattr(resource, "RLIMIT_AS") and os.path.exists("/proc/self/status")
needs_cap = pytest.mark.skipif(not HAVE_CAP, reason="needs RLIMIT_AS and /proc/self/status (Linux)")


def _mapped_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


class Used:
    peak: int = 0


@contextlib.contextmanager
def memory_cap(headroom: int = 768 << 20):
    """Cap the address space at its current size + ``headroom``; trace allocations (``.peak``)."""
    if not HAVE_CAP:
        pytest.skip("needs RLIMIT_AS and /proc/self/status (Linux)")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _mapped_bytes() + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    used = Used()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield used
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        used.peak = tracemalloc.get_traced_memory()[1]
        if not was_tracing:
            tracemalloc.stop()


def outcome(call, *errors):
    """("ok", result) or ("error", exception) for one of ``errors``; anything else propagates (the test fails)."""
    try:
        return "ok", call()
    except errors as exc:
        return "error", exc
