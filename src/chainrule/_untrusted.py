"""Reading files that someone else produced: names kept inside their directory, JSON and text read with limits.

Every loader of a directory or bundle from elsewhere (a Hugging Face model
directory, a recommender bundle, a dataset folder) goes through these
helpers, so the same three promises hold for all of them:

* a file name that comes from the outside (a shard named in an index, or
  one of the loader's own fixed names, which may be a symlink) is opened
  only if it resolves, symlinks followed, to a regular file inside the
  directory the loader was given; anything else is refused with the same
  message whether or not the outside path exists;
* JSON is parsed from at most ``MAX_JSON_BYTES`` of strict UTF-8, and a
  parse failure of any kind (syntax, NaN or Infinity, nesting deep enough
  to exhaust the recursion limit, an integer too long to convert) is one
  error of the loader's class naming the file;
* text that NumPy stores fixed-width (one column of ids or titles) is
  refused when its longest entry would make the array many times larger
  than the text itself.

Each helper takes the loader's error class (a ``ValueError`` subclass) so
the caller's users see one kind of exception.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from pathlib import Path, PurePath

import numpy as np

__all__ = ["MAX_JSON_BYTES", "inside", "parse_json", "printable", "read_json", "regular_file", "string_array"]

# config.json, model.safetensors.index.json: kilobytes in practice (an index of a 100B-parameter model is ~100 KB)
MAX_JSON_BYTES = 32 << 20


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def inside(root: Path, name, error: type[Exception], what: str) -> Path:
    """``root / name`` with every symlink resolved, if that is inside ``root`` (itself already resolved).

    ``name`` comes from the outside (an index file's shard name, or a fixed
    name such as ``config.json`` that may be a symlink).  Absolute names,
    names with a ``..`` component, names that are not non-empty strings and
    names that resolve outside ``root`` raise ``error``; the message says
    only that the name is refused, never whether the outside path exists.
    ``what`` names where the name came from (``"{index} (weight_map entry 'x')"``).
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise error(f"{what} gives {_short(name)} where a file name inside {root} belongs")
    refused = error(
        f"{what}: {_short(name)} is not a file inside {root} (an absolute name, a '..', or a symlink out of it); "
        "a directory from elsewhere may only refer to files inside itself, so it is refused "
        "(copy the file into the directory if you trust it)"
    )
    pure = PurePath(name)
    if pure.is_absolute() or ".." in pure.parts:
        raise refused
    try:
        resolved = (root / pure).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long for the system
        raise refused from None
    if resolved != root and root not in resolved.parents:
        raise refused
    return resolved


def regular_file(path: Path, error: type[Exception]) -> bool:
    """True if ``path`` is a regular file, False if nothing is there; ``error`` for a directory, FIFO, device...

    A FIFO or a device would block or never end when read; a loader treats
    them as refused rather than waiting.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {path} ({type(exc).__name__})") from None
    if not stat.S_ISREG(mode):
        raise error(f"{path} is not a regular file (a directory, FIFO or device cannot be read as one)")
    return True


def parse_json(raw: bytes, error: type[Exception], where: str):
    """The JSON value in ``raw`` (strict UTF-8, no NaN/Infinity); any failure is one ``error`` naming ``where``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{where} is not UTF-8 text (byte {exc.start}, line {line}); JSON files must be UTF-8") from None

    def no_constant(name):
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{where} is not usable JSON (nested too deeply to read)") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with more digits than Python converts
        raise error(f"{where} is not usable JSON ({exc})") from None


def read_json(path: Path, error: type[Exception], limit: int = MAX_JSON_BYTES):
    """Parse the JSON file ``path`` (a regular file of at most ``limit`` bytes); ``error`` for anything else."""
    where = str(path)
    if not regular_file(path, error):
        raise FileNotFoundError(f"no such file: {path}")
    too_large = f"{where} is larger than {limit >> 20} MiB, far more than a JSON file of settings needs; refused"
    try:
        with open(path, "rb") as f:
            # the size first: read(limit + 1) would allocate limit + 1 bytes whatever the file holds
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise error(too_large)
            raw = f.read(size)
    except OSError as exc:
        raise error(f"{where}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    return parse_json(raw, error, where)


def string_array(strings: list, error: type[Exception], where: str, what: str, names=None) -> np.ndarray:
    """``np.asarray(strings, dtype=str)``, refused when fixed width would blow it far beyond the text's size.

    NumPy stores every entry at the width of the longest (4 bytes a
    character), so one very long entry among many short ones asks for
    ``count x longest`` characters.  Allowed: up to 16 times the total text
    plus 64 Ki characters, which fits every real table of ids or titles.
    ``names(i)`` says where entry ``i`` came from ("line 7"), for the message.
    """
    if not strings:
        return np.asarray(strings, dtype=str)
    lengths = [len(s) for s in strings]
    longest = max(lengths)
    if len(strings) * longest > 16 * sum(lengths) + (1 << 16):
        at = lengths.index(longest)
        place = names(at) if names is not None else f"entry {at}"
        raise error(
            f"{where}: the {what} at {place} is {longest:,} characters long while the average is "
            f"{sum(lengths) / len(lengths):.0f}; a table of {len(strings):,} {what}s that wide would take "
            f"{4 * len(strings) * longest / 2**20:,.0f} MiB (refused: is a separator or quote missing?)"
        )
    return np.asarray(strings, dtype=str)


def file_size(path: Path) -> int:
    """The size of ``path`` in bytes (0 if it cannot be read)."""
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return 0


_UNPRINTED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format marks (bidi), line/paragraph breaks


def printable(text) -> str:
    """``str(text)`` with control and format characters escaped (``\\x1b``, ``\\u202e``), safe to print to a terminal.

    Titles and labels from a file made elsewhere could otherwise carry
    terminal escape sequences or bidirectional overrides into the output.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in _UNPRINTED else ch for ch in text)
