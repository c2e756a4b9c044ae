"""cr.io.save / load: every object save accepts loads back equal; anything else is refused before a byte is written;
any change to any byte of a saved file is detected on load."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.io import CheckpointError, load, save

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = ["bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
DTYPES += ["float16", "float32", "float64", "complex64"]
# keys chosen to collide with the old format's markers and its dotted array names
NASTY_KEYS = ["__tensor__", "__array__", "__dict__", "__tuple__", "__keytypes__", "__float__", "a.b", "a", "b", "1", ""]


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.standard_normal((*shape, 2)) * 100
    if dtype.kind == "c":
        base = base + 1j * rng.standard_normal(base.shape)
    arr = base.astype(dtype)[..., 0]  # a strided view: non-contiguous unless the last axis was 1 wide
    if draw(st.booleans()) and arr.ndim >= 2:
        arr = arr.T  # Fortran-ordered
    if draw(st.booleans()) and dtype.kind == "f" and arr.size:
        arr = arr.copy()
        arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -0.0]))
    return arr


@st.composite
def tensors(draw):
    t = cr.from_numpy(np.array(draw(arrays())))
    if draw(st.booleans()):
        t = cr.nn.Parameter(t) if t.dtype.kind == "f" else t
    return t


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(NASTY_KEYS),
)
numpy_scalars = st.builds(lambda a: a.reshape(-1)[0] if a.size else a.dtype.type(0), arrays())
leaves = st.one_of(scalars, tensors(), arrays(), numpy_scalars)
keys = st.one_of(st.sampled_from(NASTY_KEYS), st.text(max_size=5), st.integers(-3, 3))
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)


def assert_same(a, b, where="top"):
    assert type(a) is type(b), f"{where}: {type(a).__name__} came back as {type(b).__name__}"
    if isinstance(a, cr.Tensor):
        assert a._is_param == b._is_param, where
        return assert_same(a.numpy(), b.numpy(), where)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
        if a.dtype.kind == "f":
            assert np.array_equal(np.signbit(a), np.signbit(b)), where
        return None
    if isinstance(a, np.generic):
        return assert_same(np.asarray(a), np.asarray(b), where)
    if isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), where
        return None
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} came back as {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
        return None
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
        return None
    assert a == b, f"{where}: {a!r} came back as {b!r}"
    return None


@SETTINGS
@given(values)
def test_everything_save_accepts_loads_back_equal(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("rt") / "x.safetensors"
    save(obj, path)
    assert_same(obj, load(path))


def test_the_old_formats_collisions_round_trip(tmp_path):
    t1, t2, a, b = cr.ones(2), cr.zeros(3), cr.tensor([1.0]), cr.tensor([2.0])
    cases = [
        {"a.b": t1, "a": {"b": t2}},  # both were stored as the array "a.b"
        {1: a, "1": b},  # both were the key "1"
        {"__tensor__": "w"},  # a user value that looked like the format's own marker
        {"__keytypes__": {"x": "int"}, "x": 1},
        [{"__tuple__": [1]}, (1,)],
    ]
    for i, obj in enumerate(cases):
        path = save(obj, tmp_path / f"{i}.safetensors")
        assert_same(obj, load(path))


class Unstorable:
    pass


REFUSED = [
    {"s": {1, 2}},
    {"b": b"bytes"},
    {"c": 1 + 2j},
    {(1, 2): "tuple key"},
    {True: "bool key"},
    {1.5: "float key"},
    {"o": Unstorable()},
    {"f": lambda: 0},
    {"u": np.array(["text"])},
    {"obj": np.array([object()], dtype=object)},
    {"c128": np.zeros(2, dtype=np.complex128)},
    {"dt": np.zeros(2, dtype="datetime64[s]")},
]


@pytest.mark.parametrize("obj", REFUSED, ids=[repr(o)[:30] for o in REFUSED])
def test_what_cannot_come_back_equal_is_refused_before_writing(tmp_path, obj):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="save"):
        save(obj, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_cycle_or_a_very_deep_nest_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    deep: list = []
    for _ in range(500):
        deep = [deep]
    for obj in (loop, deep):
        with pytest.raises(TypeError, match="nested"):
            save(obj, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


def _checkpoint(tmp_path):
    model = cr.nn.Linear(3, 2)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    model(cr.randn(4, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "extra": {"lr": 1e-3}}
    return save(state, tmp_path / "ckpt.safetensors")


def test_every_single_byte_change_is_detected(tmp_path):
    path = _checkpoint(tmp_path)
    raw = path.read_bytes()
    load(path)  # the unchanged file loads
    missed = []
    for i in range(len(raw)):
        for flip in (0x01, 0x80):
            changed = bytearray(raw)
            changed[i] ^= flip
            path.write_bytes(bytes(changed))
            try:
                load(path)
            except CheckpointError:
                continue
            missed.append((i, flip))
    assert missed == [], f"{len(missed)} changes loaded silently, first at byte {missed[0][0]}"


def test_editing_the_metadata_is_detected(tmp_path):
    """The attack from the issue: raise the learning rate in the JSON metadata, keep the arrays."""
    path = _checkpoint(tmp_path)
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    structure = json.loads(header["__metadata__"]["structure"])
    text = json.dumps(structure).replace("0.001", "1000000.0")
    assert text != json.dumps(structure)
    header["__metadata__"]["structure"] = text
    new_header = json.dumps(header).encode()
    new_header += b" " * (-len(new_header) % 8)
    path.write_bytes(len(new_header).to_bytes(8, "little") + new_header + raw[8 + length :])
    with pytest.raises(CheckpointError, match="edited|corrupted"):
        load(path)


def test_truncation_at_every_length_is_one_clear_error(tmp_path):
    path = _checkpoint(tmp_path)
    raw = path.read_bytes()
    for n in range(0, len(raw), max(1, len(raw) // 97)):
        path.write_bytes(raw[:n])
        with pytest.raises(CheckpointError):
            load(path)


def test_files_of_the_old_format_are_refused_with_a_reason(tmp_path):
    import safetensors.numpy as stn

    path = tmp_path / "old.safetensors"
    meta = {"format": "chainrule/1", "structure": json.dumps({"w": {"__tensor__": "w"}}), "sha256": "0" * 64}
    path.write_bytes(stn.save({"w": np.ones(2, np.float32)}, metadata=meta))
    with pytest.raises(CheckpointError, match="older chainrule"):
        load(path)


@SETTINGS
@given(st.binary(max_size=300), st.integers(0, 400))
def test_garbage_headers_are_one_clear_error(tmp_path_factory, junk, length):
    path = tmp_path_factory.mktemp("g") / "g.safetensors"
    path.write_bytes(length.to_bytes(8, "little") + junk)
    with pytest.raises(CheckpointError):
        load(path)


def test_saving_keeps_no_temporary_files(tmp_path):
    _checkpoint(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]
