"""Data-parallel runs end to end: ``chainrule train --distributed`` under mpiexec, crashes, resuming on other rank counts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from chainrule.io import load
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.cli import main
from tests.distributed import scenarios as S
from tests.distributed.mpi import requires_mpi, run_mpi

pytestmark = requires_mpi

CLI = ["-m", "chainrule.train.cli", "train", "--distributed", "--recipe", "digits-mlp", "--no-progress", "--no-plots"]


def weights(path):
    return {k: np.asarray(v._data if hasattr(v, "_data") else v) for k, v in load(path)["model"].items()}


@pytest.mark.slow
def test_cli_runs_on_two_ranks_and_resumes_on_one_or_two(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    proc, _ = run_mpi(2, [*CLI, "--epochs", "2", "--out", str(two)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("test accuracy") == 1  # rank 0 alone prints
    assert proc.stdout.count("epoch 2 ") == 1
    assert sorted(p.name for p in two.iterdir()) == [
        "best.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "result.txt",
    ]
    assert len((two / "metrics.jsonl").read_text().splitlines()) == 2
    shutil.copytree(two, one)

    resume = ["--epochs", "3", "--resume"]
    proc, _ = run_mpi(2, [*CLI, *resume, str(two / "checkpoint.safetensors")], timeout=120)
    assert proc.returncode == 0, proc.stderr
    # the same run continued by a single process (--distributed without a launcher: a world of one)
    assert main([*CLI[2:], *resume, str(one / "checkpoint.safetensors")]) == 0
    for run in (one, two):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    a, b = weights(two / "checkpoint.safetensors"), weights(one / "checkpoint.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_cli_mistakes_end_every_rank_with_one_line(tmp_path):
    proc, seconds = run_mpi(2, [*CLI, "--batch-size", "31", "--epochs", "1", "--out", str(tmp_path)], timeout=60)
    assert proc.returncode != 0
    assert "must be divisible by the number of ranks (2)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert seconds < 30


@pytest.mark.slow
def test_a_crash_loses_at_most_the_last_epoch_and_the_run_resumes_on_one_rank(tmp_path):
    run = tmp_path / "run"
    # 4 steps per epoch: rank 1 dies in the middle of epoch 3
    proc, seconds = run_mpi(2, ["-m", "tests.distributed.worker", "trainer", str(run), "5", "10"], timeout=120)
    assert proc.returncode != 0 and seconds < 60
    state = load_checkpoint(run / "checkpoint.safetensors", restore_rng=False)
    assert state["epoch"] == 2
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no half-written temporary file left

    # continue in this process (a world of one) and compare with an uninterrupted single-process run
    resumed = S.trainer_run(run, 5, resume=run / "checkpoint.safetensors")
    straight = S.trainer_run(tmp_path / "straight", 5)
    for name, value in straight.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 5
