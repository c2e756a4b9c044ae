"""Every code block in README.md and docs/*.md runs as it stands, and the outputs it shows are checked.

The conventions the pages follow:

* a fenced block names its language: ``python`` blocks run, each on its own
  (a fresh namespace, in a temporary directory); ``sh`` blocks hold commands
  and ``text`` blocks hold output or pictures, which are not run;
* a block that cannot run here (it needs a GPU, MPI, a data set from the
  system's packages, minutes of training) starts with a comment that says so:
  ``# illustrative: <why>``;
* a block that uses an optional extra runs where the extra is installed and is
  skipped, with chainrule's own message, where it is not (chainrule raises a
  ``MissingExtraError``, an ImportError, naming the extra);
* a line ``print(...)  # -> <expected>`` shows what it prints: the test checks
  the printed text against ``<expected>`` (``...`` matches anything).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python", "sh", "text"}
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.S | re.M)
SHOWN = re.compile(r"^(\s*)print\((.*)\)\s*# -> (.*)$")


def _blocks():
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield f"{page.relative_to(ROOT)}:{line}", match.group(1).strip(), match.group(2)


BLOCKS = list(_blocks())


def _illustrative(code: str) -> bool:
    first = next((line for line in code.splitlines() if line.strip()), "")
    return first.strip().lower().startswith("# illustrative:")


RUNNABLE = [(where, code) for where, lang, code in BLOCKS if lang == "python" and not _illustrative(code)]


def _matches(got: str, expected: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.strip().split("..."))
    return re.fullmatch(pattern, got.strip(), re.S) is not None


def _with_checks(code: str) -> str:
    """Turn each ``print(...)  # -> expected`` into a call that prints and compares."""
    out = []
    for line in code.splitlines():
        match = SHOWN.match(line)
        if match:
            indent, args, expected = match.groups()
            out.append(f"{indent}__shown__({expected.strip()!r}, {args})")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_every_block_names_its_language():
    unnamed = [where for where, lang, _ in BLOCKS if lang not in LANGUAGES]
    assert not unnamed, f"blocks without python/sh/text as their language: {unnamed}"


@pytest.mark.parametrize("where, code", RUNNABLE, ids=[w for w, _ in RUNNABLE])
def test_python_blocks_run_as_they_stand(where, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    wrong = []

    def shown(expected, *values):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            print(*values)
        got = buffer.getvalue()
        print(got, end="")
        if not _matches(got, expected):
            wrong.append(f"printed {got.strip()!r}, the page shows {expected!r}")

    namespace = {"__name__": "__doc_block__", "__shown__": shown}
    try:
        exec(compile(_with_checks(code), where, "exec"), namespace)  # noqa: S102 - our own documentation
    except ImportError as exc:
        if type(exc).__name__ != "MissingExtraError":  # chainrule.tune's and chainrule.onnx's
            raise
        pytest.skip(f"{where}: {exc}")
    assert not wrong, f"{where}: " + "; ".join(wrong)


def test_the_pages_show_some_outputs():
    """The convention is used (a regression guard: a page reformatted without its checks fails here)."""
    shown = sum(1 for _, lang, code in BLOCKS if lang == "python" for line in code.splitlines() if SHOWN.match(line))
    assert shown >= 5
