"""Atomic file writes: a crash mid-write leaves the previous file intact.

The bytes go to a temporary file in the same directory, which is flushed and
fsync'ed, then renamed over the target (``os.replace`` is atomic on POSIX and
Windows); finally the directory is fsync'ed so the rename itself is durable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path, data: bytes | None = None, writer=None) -> Path:
    """Write ``data`` (or call ``writer(file)``) to ``path`` atomically; returns the path.

    The bytes go to a temporary file in the same directory, which is flushed
    and fsync'ed and then renamed over ``path``: a crash leaves either the old
    file or the new one, never a partial file. Missing parent directories are
    created; the file gets the usual permissions (0666 minus the umask).

    Args:
        path: the file to write (a str or Path).
        data: the bytes to write, or None.
        writer: a function called with the open binary file, after ``data`` is written, to write more; or None.

    Returns:
        ``path`` as a ``Path``.

    Examples:
        >>> cr.io.atomic_write("notes.txt", b"hello")
        PosixPath('notes.txt')
        >>> _ = cr.io.atomic_write("more.txt", writer=lambda f: f.write(b"written by a function"))
        >>> open("more.txt").read()
        'written by a function'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a saved file gets the usual permissions
        with os.fdopen(fd, "wb") as f:
            if data is not None:
                f.write(data)
            if writer is not None:
                writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
