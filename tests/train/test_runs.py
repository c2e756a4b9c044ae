"""Runs that survive their users: resume from the file alone, no silent overwrite, a log that matches the
checkpoint, and one clear line for every bad argument."""

from __future__ import annotations

import errno
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.io import load
from chainrule.train import run as cli  # the train command lives in train/run.py
from chainrule.train.cli import main
from chainrule.train.settings import CosineCycles, RunSettings, SettingsError

QUICK = ["train", "--recipe", "digits-mlp", "--no-progress", "--no-plots"]


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "Traceback" not in err[0]
    return err[0]


def test_resume_from_the_file_alone_keeps_the_runs_settings(tmp_path, capsys):
    """The README's commands: a run with non-default settings, then --resume with only --epochs."""
    out = tmp_path / "mlp"
    assert main([*QUICK, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.05", "--seed", "1", "--out", str(out)]) == 0
    ckpt = out / "checkpoint.safetensors"
    saved = load(ckpt)["extra"]["run"]
    assert saved["recipe"] == "digits-mlp" and saved["optimizer"] == "sgd" and saved["lr"] == 0.05
    assert saved["seed"] == 1 and saved["schedule"] == [2]
    capsys.readouterr()
    assert main(["train", "--no-progress", "--no-plots", "--resume", str(ckpt), "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "recipe digits-mlp" in printed and "sgd lr 0.05" in printed
    records = _lines(out / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    # the first cycle ended at zero; the added epoch is a new cycle that starts at the base rate
    assert records[0]["lr"] == pytest.approx(0.05) and records[2]["lr"] == pytest.approx(0.05)
    assert load(ckpt)["extra"]["run"]["schedule"] == [2, 3]


def test_resuming_a_finished_run_without_more_epochs_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*QUICK, "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    ckpt = str(out / "checkpoint.safetensors")
    assert main(["train", "--no-progress", "--resume", ckpt]) == 1
    assert "already holds all 1 epoch" in _error(capsys)
    assert main(["train", "--no-progress", "--resume", ckpt, "--epochs", "1"]) == 1
    assert "nothing to train" in _error(capsys)


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--lr", "0.5", "lr"),
        ("--optimizer", "adam", "optimizer"),
        ("--recipe", "digits-cnn", "recipe"),
        ("--batch-size", "7", "batch_size"),
        ("--seed", "3", "seed"),
        ("--weight-decay", "0.1", "weight_decay"),
    ],
)
def test_a_flag_that_conflicts_with_the_checkpoint_is_one_line(tmp_path, capsys, flag, value, named):
    out = tmp_path / "run"
    assert main([*QUICK, "--epochs", "1", "--optimizer", "sgd", "--out", str(out)]) == 0
    capsys.readouterr()
    status = main(["train", "--resume", str(out / "checkpoint.safetensors"), "--epochs", "2", flag, value])
    assert status == 1
    line = _error(capsys)
    assert flag in line and named in line and "conflicts with the checkpoint" in line


def test_a_flag_that_agrees_with_the_checkpoint_is_accepted(tmp_path):
    out = tmp_path / "run"
    assert main([*QUICK, "--epochs", "1", "--lr", "0.01", "--out", str(out)]) == 0
    ckpt = str(out / "checkpoint.safetensors")
    assert main([*QUICK, "--lr", "0.01", "--epochs", "2", "--resume", ckpt]) == 0
    assert len(_lines(out / "metrics.jsonl")) == 2


def test_an_earlier_run_is_never_overwritten_without_being_asked(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*QUICK, "--epochs", "2", "--out", str(out)]) == 0
    before = (out / "checkpoint.safetensors").read_bytes()
    capsys.readouterr()
    assert main([*QUICK, "--epochs", "1", "--out", str(out)]) == 1
    line = _error(capsys)
    assert "already holds a run" in line and "--overwrite" in line and "--resume" in line
    assert (out / "checkpoint.safetensors").read_bytes() == before
    assert main([*QUICK, "--epochs", "1", "--out", str(out), "--overwrite"]) == 0
    assert [r["epoch"] for r in _lines(out / "metrics.jsonl")] == [1]


def test_out_naming_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert main([*QUICK, "--epochs", "1", "--out", str(target)]) == 1
    assert "is a file" in _error(capsys)


def test_a_log_ahead_of_its_checkpoint_is_cut_back_on_resume(tmp_path):
    """The process died after an epoch was logged but before its checkpoint: resume keeps the log and the checkpoint
    in agreement (epochs 1, 2, 3, not 1, 2, 2, 3)."""
    out = tmp_path / "run"
    assert main([*QUICK, "--epochs", "2", "--out", str(out)]) == 0
    log = out / "metrics.jsonl"
    log.write_text(log.read_text() + json.dumps({"epoch": 3, "train_loss": 0.1}) + "\n")
    assert (
        main(["train", "--no-progress", "--no-plots", "--resume", str(out / "checkpoint.safetensors"), "--epochs", "3"])
        == 0
    )
    assert [r["epoch"] for r in _lines(log)] == [1, 2, 3]


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    from chainrule.train import trainer

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "checkpoint.safetensors"))

    monkeypatch.setattr(trainer, "save_checkpoint", full)
    assert main([*QUICK, "--epochs", "1", "--out", str(tmp_path / "run")]) == 1
    assert "No space left on device" in _error(capsys)


def test_a_checkpoint_without_run_settings_cannot_be_resumed_from_the_file_alone(tmp_path, capsys):
    from chainrule.train.checkpoint import save_checkpoint

    model = cr.nn.Linear(2, 2)
    path = save_checkpoint(tmp_path / "checkpoint.safetensors", model, epoch=1)
    assert main(["train", "--resume", str(path)]) == 1
    assert "holds no run settings" in _error(capsys)


BAD = {
    "--epochs": ["0", "-3", "1.5", "nan", "abc", ""],
    "--batch-size": ["0", "-1", "2.0", "inf"],
    "--lr": ["0", "-0.1", "nan", "inf", "-inf", "1e999", "abc"],
    "--weight-decay": ["-1", "nan", "inf", "x"],
    "--seed": ["-1", "1.5", str(2**64), "seed"],
    "--grad-clip": ["0", "-1", "nan", "inf"],
    "--optimizer": ["lbfgs", ""],
    "--nonfinite": ["ignore"],
    "--recipe": ["no-such-recipe"],
    "--seeds": ["", "a,b", "1,1", "-1,2"],
    "--monitor": ["0", "-5"],
    "--find-lr-steps": ["0"],
    "--data": ["/no/such/dir"],
    "--resume": ["/no/such/file.safetensors"],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(BAD)).flatmap(lambda flag: st.tuples(st.just(flag), st.sampled_from(BAD[flag]))))
def test_bad_arguments_are_one_line_and_a_nonzero_exit(capsys, flag_value):
    flag, value = flag_value
    capsys.readouterr()
    try:
        status = main(["train", "--no-progress", flag, value])
    except SystemExit as exc:  # argparse's own checks exit with status 2
        status = exc.code
    assert status in (1, 2), (flag, value)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), (flag, value, err)


def test_settings_from_a_checkpoint_are_checked():
    good = RunSettings("digits-mlp", 2, 32, 0.01, "adam", 0.0, schedule=[2]).to_dict()
    RunSettings.from_dict(good)
    for key, value in [
        ("lr", float("nan")),
        ("lr", -1.0),
        ("epochs", 0),
        ("batch_size", "32"),
        ("seed", -1),
        ("schedule", []),
        ("schedule", [3, 2]),
        ("nonfinite", "x"),
        ("weight_decay", math.inf),
    ]:
        with pytest.raises(SettingsError):
            RunSettings.from_dict({**good, key: value})
    with pytest.raises(SettingsError):
        RunSettings.from_dict({**good, "extra_key": 1})


def test_cosine_cycles_match_cosine_annealing_and_restart_at_each_added_cycle():
    def rates(make, epochs):
        model = cr.nn.Linear(2, 2)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        sched = make(opt)
        out = []
        for _ in range(epochs):
            out.append(opt.param_groups[0]["lr"])
            sched.step()
        return out

    plain = rates(lambda o: cr.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5), 5)
    assert rates(lambda o: CosineCycles(o, [5]), 5) == pytest.approx(plain, abs=1e-15)
    extended = rates(lambda o: CosineCycles(o, [5, 8]), 8)
    assert extended[:5] == pytest.approx(plain, abs=1e-15)
    assert extended[5] == pytest.approx(0.1) and extended[5] > extended[6] > extended[7] > 0


def test_the_run_directory_check_runs_before_any_work(tmp_path, capsys, monkeypatch):
    """A refused --out costs nothing: no data loaded, no model built."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text("{}\n")
    monkeypatch.setattr(cli, "_build", lambda *a, **k: pytest.fail("built a model before refusing --out"))
    assert main([*QUICK, "--out", str(out)]) == 1
    assert "already holds a run" in _error(capsys)


def _paths(node, prefix=()):
    """Every path into a nest of dicts/lists/tuples (the places a mutation can land)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _replace(node, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        out = dict(node)
        if value is _DELETE and not rest:
            del out[head]
        else:
            out[head] = _replace(node[head], rest, value)
        return out
    items = list(node)
    if value is _DELETE and not rest:
        del items[head]
    else:
        items[head] = _replace(items[head], rest, value)
    return type(node)(items)


_DELETE = object()
JUNK = st.one_of(
    st.just(_DELETE),
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(lambda n: cr.zeros(n), st.integers(0, 5)),
    st.builds(lambda: [[[[[]]]]]),
)


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "run"
    assert main([*QUICK, "--epochs", "1", "--out", str(out)]) == 0
    return load(out / "checkpoint.safetensors", as_tensors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_malformed_checkpoints_are_one_line_never_a_traceback(tmp_path_factory, trained_checkpoint, data):
    """Checkpoints with a valid checksum but contents from someone else (any part replaced, deleted or retyped)."""
    from chainrule.io import save

    paths = list(_paths(trained_checkpoint))
    path = data.draw(st.sampled_from(paths[1:]))
    state = _replace(trained_checkpoint, path, data.draw(JUNK))
    run = tmp_path_factory.mktemp("mut")
    ckpt = save(state, run / "checkpoint.safetensors")
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["train", "--no-progress", "--no-plots", "--resume", str(ckpt), "--epochs", "2"])
    lines = err.getvalue().strip().splitlines()
    if status != 0:
        assert status == 1 and len(lines) == 1 and lines[0].startswith("error:"), (path, lines)


def test_without_the_optional_extras_training_works_and_says_what_it_leaves_out(tmp_path):
    """The base install (numpy, scipy, threadpoolctl, safetensors): matplotlib and tqdm hidden from the process."""
    import subprocess
    import sys

    hide = (
        "import importlib.abc, importlib.util, sys\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('matplotlib', 'tqdm'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in ('matplotlib', 'tqdm') else _find(n, *a)\n"
        "from chainrule.train.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", hide, *QUICK[:3], "--epochs", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    notes = proc.stderr.strip().splitlines()
    assert notes[0].startswith("note: matplotlib is not installed") and notes[1].startswith("note: tqdm")
    assert "test accuracy" in proc.stdout and (out / "checkpoint.safetensors").is_file()
    assert not (out / "loss.png").exists()
