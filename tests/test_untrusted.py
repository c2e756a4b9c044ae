"""The helpers every loader of files from elsewhere goes through (chainrule/_untrusted.py)."""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule._untrusted import inside, parse_json, printable, read_json, regular_file, string_array


class Refused(ValueError):
    pass


PARTS = st.sampled_from(["a", "b.txt", "..", ".", "", "in_link", "out_link", "loop", "dir", "outside", "x"])
NAMES = st.one_of(
    st.lists(PARTS, min_size=1, max_size=5).map("/".join),
    st.lists(PARTS, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p)),
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=2), max_size=2),
)


def _world(base: Path, outside_exists: bool) -> Path:
    root = base / "root"
    (root / "dir").mkdir(parents=True)
    (root / "a").write_text("inside")
    (root / "dir" / "b.txt").write_text("inside too")
    (base / "outside").mkdir()
    if outside_exists:
        (base / "outside" / "x").write_text("secret")
    os.symlink(root / "dir", root / "in_link")
    os.symlink(base / "outside", root / "out_link")
    os.symlink(root / "loop", root / "loop")
    return root.resolve()


@settings(max_examples=200, deadline=None)
@given(name=NAMES)
def test_inside_accepts_exactly_the_relative_names_that_resolve_inside_and_says_nothing_about_the_outside(name):
    said = {}
    with tempfile.TemporaryDirectory() as tmp:
        for exists in (True, False):
            base = Path(tmp) / ("with" if exists else "sans")
            root = _world(base, exists)
            try:
                resolved = inside(root, name, Refused, "test")
            except Refused as exc:
                said[exists] = str(exc).replace(str(base), "<base>")
                continue
            # accepted: a relative name without '..' whose real path is in root
            assert isinstance(name, str) and not os.path.isabs(name) and ".." not in Path(name).parts
            real = os.path.realpath(root / name)
            assert resolved == Path(real) and os.path.commonpath([real, str(root)]) == str(root)
    if said:
        assert len(said) == 2 and said[True] == said[False]  # refused in both worlds, in the same words


def test_regular_file_refuses_fifos_and_directories_and_reports_absence(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    assert regular_file(tmp_path / "file", Refused) and not regular_file(tmp_path / "missing", Refused)
    for name in ("fifo", "."):
        with pytest.raises(Refused, match="not a regular file"):
            regular_file(tmp_path / name, Refused)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.binary(max_size=64)
    | st.text(max_size=64).map(str.encode)
    | st.builds(json.dumps, st.floats()).map(str.encode)
)
def test_parse_json_returns_a_value_or_raises_only_the_loaders_error(raw):
    try:
        value = parse_json(raw, Refused, "f.json")
    except Refused as exc:
        assert str(exc).startswith("f.json ")
        return
    assert json.loads(raw) == value or value != value  # NaN never comes back: refused above


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not usable JSON"),
        (b'{"a": "\xff"}', "not UTF-8 text .byte 7, line 1."),
        (b'{"a": 1,}', "not valid JSON"),
    ],
)
def test_parse_json_names_what_is_wrong(raw, match):
    with pytest.raises(Refused, match=match):
        parse_json(raw, Refused, "f.json")


def test_read_json_refuses_a_file_larger_than_its_limit_without_reading_it(tmp_path):
    (tmp_path / "big.json").write_bytes(b" " * 2000 + b"{}")
    assert read_json(tmp_path / "big.json", Refused, limit=4096) == {}
    with pytest.raises(Refused, match="larger than"):
        read_json(tmp_path / "big.json", Refused, limit=1024)
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "none.json", Refused)


@settings(max_examples=200, deadline=None)
@given(
    # NumPy's fixed-width strings drop trailing NULs, which is NumPy's own business
    strings=st.lists(st.text(st.characters(blacklist_characters="\x00"), max_size=6), max_size=40),
    long=st.integers(0, 200_000),
    at=st.integers(0, 40),
)
def test_string_array_is_never_far_larger_than_its_text(strings, long, at):
    strings = [*strings[:at], "z" * long, *strings[at:]]
    total = sum(map(len, strings))
    try:
        array = string_array(strings, Refused, "f.csv", "id", names=lambda i: f"line {i + 1}")
    except Refused as exc:
        assert f"line {strings.index('z' * long) + 1}" in str(exc) and f"{long:,} characters long" in str(exc)
        return
    assert array.tolist() == strings
    assert array.nbytes <= 4 * (16 * total + (1 << 16))


@given(text=st.text(max_size=40))
def test_printable_escapes_every_control_and_format_character_and_keeps_the_rest(text):
    shown = printable(text)
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in shown)
    if text.isprintable():
        assert shown == text
    assert np.all([ch in shown for ch in text if ch.isprintable()])
