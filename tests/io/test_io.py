"""Saving without pickle: round trips, detection of truncated/altered files, atomic writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import CheckpointError, atomic_write, load, load_file, save, save_file


def test_round_trip_of_nested_state(tmp_path):
    state = {
        "weights": {"w": cr.randn(3, 2), "b": cr.zeros(2, dtype=cr.float64), "n": cr.tensor([1, 2])},
        "opt": {"state": {0: {"step": 7, "m": cr.ones(2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "misc": (1, 2.5, None, "text", True, float("inf")),
    }
    path = save(state, tmp_path / "s.safetensors")
    back = load(path)
    assert np.array_equal(back["weights"]["w"].numpy(), state["weights"]["w"].numpy())
    assert back["weights"]["b"].dtype == cr.float64 and back["weights"]["n"].dtype == cr.int64
    assert back["opt"]["state"][0]["step"] == 7 and 0 in back["opt"]["state"]
    assert back["opt"]["param_groups"] == [{"lr": 0.1, "params": [0]}]
    assert back["misc"] == (1, 2.5, None, "text", True, float("inf"))


def test_truncated_file_is_detected(tmp_path):
    path = save({"w": cr.randn(100)}, tmp_path / "t.safetensors")
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match="truncated|not a readable"):
        load(path)


def test_altered_file_is_detected(tmp_path):
    path = save({"w": cr.randn(100)}, tmp_path / "a.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x55
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted"):
        load(path)


def test_foreign_and_garbage_files(tmp_path):
    plain = save_file({"w": cr.ones(2)}, tmp_path / "plain.safetensors")
    assert load_file(plain)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(CheckpointError, match="not written by chainrule"):
        load(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors")
    with pytest.raises(CheckpointError):
        load(junk)


def test_objects_that_need_pickle_are_refused(tmp_path):
    with pytest.raises(TypeError, match="without pickle"):
        save({"f": lambda: 0}, tmp_path / "x.safetensors")


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, b"old")

    def failing(f):
        f.write(b"partial new contents")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        atomic_write(path, writer=failing)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # the temporary file is gone


@pytest.mark.slow
def test_kill_during_checkpoint_write_leaves_previous_loadable(tmp_path):
    """SIGKILL a process that rewrites a 40 MB checkpoint in a loop; the file always loads."""
    target = tmp_path / "ckpt.safetensors"
    script = textwrap.dedent(
        f"""
        import numpy as np, chainrule as cr
        from chainrule.io import save
        i = 0
        while True:
            save({{"w": cr.tensor(np.full(10_000_000, float(i), dtype=np.float32)), "i": i}}, {str(target)!r})
            i += 1
        """
    )
    for delay in (0.9, 1.3, 1.7):
        proc = subprocess.Popen([sys.executable, "-c", script])
        try:
            deadline = time.time() + 60
            while not target.exists() and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(delay)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        state = load(target)
        w = state["w"].numpy()
        assert w.shape == (10_000_000,) and np.all(w == state["i"])


def test_saved_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    path = atomic_write(tmp_path / "f.bin", b"x")
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
