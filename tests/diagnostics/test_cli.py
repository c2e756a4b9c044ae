"""chainrule train --monitor / --find-lr / --seeds / --grad-clip / --nonfinite."""

from __future__ import annotations

import json
import re

import pytest

from chainrule import nn
from chainrule.train import recipes
from chainrule.train.cli import main

QUICK = ["train", "--recipe", "digits-mlp", "--epochs", "2", "--no-progress"]


def test_monitor_writes_report_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*QUICK, "--monitor", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"gradient health (none): {out / 'gradient_report.txt'}" in text
    report = (out / "gradient_report.txt").read_text()
    assert "one every 5 steps" in report and "No problems found." in report
    assert (out / "gradients.png").is_file()
    assert len(json.loads((out / "gradients.json").read_text())["history"]) == 16  # 2 x 40 steps / 5


def test_monitor_warns_once_for_a_sick_recipe(tmp_path, capsys, monkeypatch):
    def sigmoid_tower():
        layers = [nn.Flatten(), nn.Linear(64, 16), nn.Sigmoid()]
        for _ in range(14):
            layers += [nn.Linear(16, 16), nn.Sigmoid()]
        return nn.Sequential(*layers, nn.Linear(16, 10))

    sick = recipes.Recipe("sigmoid-tower", "16 sigmoid layers", recipes._digits_data(True), sigmoid_tower)
    monkeypatch.setitem(recipes.RECIPES, "sigmoid-tower", sick)
    out = tmp_path / "sick"
    argv = ["train", "--recipe", "sigmoid-tower", "--epochs", "2", "--no-progress", "--no-plots", "--monitor", "--out"]
    assert main([*argv, str(out)]) == 0
    text = capsys.readouterr().out
    warnings = [line for line in text.splitlines() if line.startswith("warning: gradient monitor")]
    assert len(warnings) == 1 and "gradients vanish towards the input" in warnings[0]
    assert "gradient health (vanishing)" in text
    assert "VANISHING" in (out / "gradient_report.txt").read_text()
    assert not (out / "gradients.png").exists()  # --no-plots


def test_find_lr_then_train_with_its_suggestion(tmp_path, capsys):
    out = tmp_path / "lr"
    assert main([*QUICK, "--find-lr", "--find-lr-steps", "60", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    suggested = float(re.search(r"suggested learning rate (\S+)", text).group(1))
    assert f"adam lr {suggested}," in text  # the run used it
    saved = json.loads((out / "lr_finder.json").read_text())
    assert float(f"{saved['suggestion']:.3g}") == suggested
    assert (out / "lr_finder.png").is_file()
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", text).group(1))
    assert accuracy >= 0.9


def test_seeds_report_mean_and_spread(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main([*QUICK, "--no-plots", "--seeds", "0,1,2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    per_seed = [
        float(re.search(r"test_accuracy (\S+)", (out / f"seed-{s}" / "result.txt").read_text()).group(1))
        for s in (0, 1, 2)
    ]
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1, 2]
    acc = summary["summary"]["test_accuracy"]
    assert acc["mean"] == pytest.approx(sum(per_seed) / 3, abs=1e-4)
    assert acc["min"] == pytest.approx(min(per_seed), abs=1e-4) and acc["max"] == pytest.approx(max(per_seed), abs=1e-4)
    assert acc["std"] > 0  # different seeds, different runs
    assert re.search(r"seeds 0, 1, 2: test accuracy mean 0\.\d{4}, std 0\.\d{4}", text)


def test_grad_clip_and_nonfinite_options_reach_the_trainer(tmp_path, capsys):
    out = tmp_path / "clip"
    assert main([*QUICK, "--no-plots", "--grad-clip", "0.5", "--nonfinite", "raise", "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "a,b"], "comma-separated integers"),
        (["--seeds", "1,1"], "lists a seed twice"),
        (["--find-lr", "--lr", "0.1"], "--find-lr chooses the learning rate"),
        (["--monitor", "0"], "positive integer"),
        (["--nonfinite", "ignore"], "invalid choice"),
    ],
)
def test_mistakes_are_one_line(extra, message, capsys):
    try:
        status = main([*QUICK, *extra])
    except SystemExit as exc:  # argparse's own checks exit with status 2
        status = exc.code
    assert status in (1, 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]


def test_resume_cannot_be_combined_with_seeds(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.safetensors"
    checkpoint.write_bytes(b"x")
    assert main([*QUICK, "--seeds", "0,1", "--resume", str(checkpoint)]) == 1
    assert "--resume continues one run" in capsys.readouterr().err
