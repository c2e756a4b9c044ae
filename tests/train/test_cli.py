"""The chainrule command: the default recipe, listing, and one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chainrule.train.cli import main


def run_cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "chainrule.train.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_default_train_reaches_97_percent_on_digits(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("train", "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"test accuracy (\d\.\d+)", proc.stdout)
    assert match and float(match.group(1)) >= 0.97, proc.stdout
    assert f"run directory: {out}" in proc.stdout
    for name in ("metrics.jsonl", "checkpoint.safetensors", "best.safetensors", "loss.png", "result.txt"):
        assert (out / name).is_file(), name


def test_compile_trains_the_default_recipe_to_the_same_result(tmp_path, capsys):
    """--compile replays each batch's forward and backward (chainrule.compile): the run's result is eager's (equal
    to float32 rounding: with two threads the BLAS's thread count is a measured choice in either run)."""
    results = []
    for flags in ([], ["--compile"]):
        argv = ["train", "--epochs", "3", "--no-progress", "--no-plots", "--out", str(tmp_path / str(len(flags)))]
        assert main([*argv, *flags]) == 0
        found = re.search(r"test accuracy (\d\.\d+)  test loss (\d\.\d+)", capsys.readouterr().out)
        results.append((float(found.group(1)), float(found.group(2))))
    (acc, loss), (acc_c, loss_c) = results
    assert acc >= 0.9 and abs(acc - acc_c) <= 0.01 and abs(loss - loss_c) <= 1e-3, results


def test_compile_is_refused_by_recipes_with_their_own_loop(tmp_path, capsys):
    code = main(["train", "--recipe", "movielens-mf", "--compile", "--no-progress", "--out", str(tmp_path / "mf")])
    assert code != 0
    assert "recipe movielens-mf runs its own training loop; --compile" in capsys.readouterr().err


def test_resume_continues_a_run(tmp_path):
    out = tmp_path / "mlp"
    assert (
        main(["train", "--recipe", "digits-mlp", "--epochs", "2", "--no-progress", "--no-plots", "--out", str(out)])
        == 0
    )
    assert (
        main(
            [
                "train",
                "--recipe",
                "digits-mlp",
                "--epochs",
                "3",
                "--no-progress",
                "--no-plots",
                "--resume",
                str(out / "checkpoint.safetensors"),
            ]
        )
        == 0
    )
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3


def test_recipes_lists_the_three(capsys):
    assert main(["recipes"]) == 0
    text = capsys.readouterr().out
    for name in ("digits-cnn", "digits-mlp", "fashion-mnist-cnn"):
        assert name in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--recipe", "nope"], "unknown recipe"),
        (["train", "--epochs", "-3"], "positive integer"),
        (["train", "--optimizer", "lbfgs"], "invalid choice"),
        (["train", "--data", "/no/such/dir"], "does not exist"),
        (["train", "--resume", "/no/such/file.safetensors"], "does not exist"),
        (["train", "--bogus"], "unrecognized arguments"),
    ],
)
def test_mistakes_give_one_line_and_nonzero_exit(args, message):
    proc = run_cli(*args, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_unreadable_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "checkpoint.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    proc = run_cli("train", "--recipe", "digits-mlp", "--no-progress", "--resume", str(bad), timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "not a readable" in lines[0], proc.stderr
