"""Fault handling: one failing rank ends the whole job with a clear message instead of a hang.

MPI gives no help here by default: a rank that raises and exits leaves the
others blocked in their next collective (and itself blocked in
``MPI_Finalize``).  So, in a job of more than one rank:

* an uncaught exception on any rank prints ``[rank r] ...`` with the
  traceback and calls ``MPI_Abort``, which makes the launcher kill every rank
  and exit with a non-zero status;
* a rank that the launcher terminates (SIGTERM, because another rank died)
  says so on stderr before it goes;
* a rank that dies outright (SIGKILL, out of memory) is noticed by the
  launcher (MPICH's hydra and Open MPI both kill the rest of the job);
* a rank that waits longer than the timeout in a collective raises
  ``DistributedTimeoutError`` (see ``comm.py``), which is an uncaught
  exception like any other.

:func:`run_guarded` does the same for a function that returns an exit status
(the ``chainrule`` command): a non-zero status on one rank aborts the job.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

_INSTALLED = False


def _say(rank: int, text: str) -> None:
    prefix = f"[rank {rank}] "
    lines = text.rstrip("\n").splitlines() or [""]
    try:
        sys.stderr.write("".join(prefix + line + "\n" for line in lines))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def abort_with(world, message: str, code: int = 1, exc: BaseException | None = None) -> None:
    """Print ``message`` (and the traceback of ``exc``) prefixed with this rank, then abort every rank."""
    if exc is not None:
        _say(world.rank, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    _say(world.rank, f"chainrule.distributed: {message}; aborting all {world.size} ranks")
    # MPI_Abort has the launcher kill every rank at once; without a pause it sometimes exits before it has
    # forwarded what this rank just wrote (seen about once in 20 runs: a failed job with no message at all)
    time.sleep(0.25)
    world.abort(code)


def install_fault_handlers(world) -> None:
    """Abort the job on an uncaught exception; report a SIGTERM from the launcher (once per process)."""
    global _INSTALLED  # noqa: PLW0603
    if _INSTALLED:
        return
    _INSTALLED = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        if world.size <= 1:
            previous(exc_type, exc, tb)
            return
        name = exc_type.__name__
        abort_with(world, f"rank {world.rank} of {world.size} failed with {name}: {exc}", 1, exc)

    sys.excepthook = excepthook
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def on_sigterm(signum, frame):
            _say(
                world.rank,
                "chainrule.distributed: terminated by the launcher (SIGTERM), most likely because another rank "
                "failed; see that rank's message",
            )
            os._exit(128 + signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)


def run_guarded(fn, *args, group, **kwargs) -> int:
    """Call ``fn(*args, **kwargs)`` (which returns an exit status); on any rank's failure abort the whole job.

    An exception, or a non-zero status, on one rank of several aborts every
    rank with that rank's message.  With one rank this is a plain call.
    ``group``: the process group, ``chainrule.distributed.init()`` (launch sits
    below comm, which installs this module's fault handlers).

    Args:
        fn: the function to run, returning an exit status (0 for success).
        args: positional arguments for ``fn``.
        group: the ``ProcessGroup`` (keyword only), usually ``chainrule.distributed.init()``.
        kwargs: keyword arguments for ``fn``.

    Returns:
        ``fn``'s status (on success).

    Examples:
        >>> import chainrule.distributed as dist
        >>> dist.run_guarded(lambda name: print(f"hello {name}") or 0, "world", group=dist.init())
        hello world
        0
    """
    if group.size <= 1:
        return fn(*args, **kwargs)
    try:
        status = fn(*args, **kwargs)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if status:
            abort_with(group, f"rank {group.rank} of {group.size} exited with status {status}", status)
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure must end the job, whatever it is
        abort_with(group, f"rank {group.rank} of {group.size} failed with {type(exc).__name__}: {exc}", 1, exc)
        raise
    if status:
        abort_with(group, f"rank {group.rank} of {group.size} exited with status {status}", int(status))
    return status
