"""GradientMonitor: what it records, what it diagnoses (naming layers), what it writes, and that it changes nothing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import GradientHealthWarning, GradientMonitor, HealthThresholds
from chainrule.nn import functional as F


def batch(n=32, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return cr.tensor(rng.normal(size=(n, features)).astype(np.float32)), cr.tensor(rng.integers(0, classes, n))


def train_steps(model, monitor, steps, lr=0.1, loss_scale=None, x=None, y=None):
    x, y = (x, y) if x is not None else batch(features=model[0].in_features)
    opt = optim.SGD(model.parameters(), lr=lr)
    for i in range(steps):
        loss = F.cross_entropy(model(x), y)
        if loss_scale is not None:
            loss = loss * loss_scale(i)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if monitor is not None:
            monitor.step()
    return opt


def kinds(monitor):
    return set(monitor.first_issues)


def test_vanishing_in_a_deep_sigmoid_net_names_the_early_layers():
    cr.manual_seed(0)
    layers = [nn.Linear(8, 16), nn.Sigmoid()]
    for _ in range(14):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 2)
    issue = monitor.first_issues["vanishing"]
    assert issue.step == 0
    assert issue.layers[0] == "0"  # the first Linear
    assert "30" not in issue.layers  # the output layer is the reference, not a culprit
    norms = [monitor.history[-1]["layers"][n]["grad_norm"] for n in monitor.layer_names]
    assert norms[0] < 1e-3 * norms[-1]
    report = monitor.report()
    assert "VANISHING" in report and "hint:" in report and "kaiming" in report


def test_a_healthy_net_has_no_problems_and_records_every_k_steps():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))
    monitor = GradientMonitor(model, every=3, on_issue=None)
    train_steps(model, monitor, 7, lr=0.05)
    assert [h["step"] for h in monitor.history] == [0, 3, 6]
    assert monitor.first_issues == {}
    assert monitor.layer_names == ["0", "2", "4"]
    last = monitor.history[-1]
    assert set(last["params"]) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    for record in monitor.history:
        for layer in record["layers"].values():
            assert 0 < layer["update_ratio"] < 0.5  # every record saw the weights before its step
    names = [a["name"] for a in last["activations"]]
    assert names == ["0", "1", "2", "3", "4"]  # forward order, layers and activations
    assert "No problems found." in monitor.report()


def test_update_ratio_and_statistics_match_a_hand_computation():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    x, y = batch()
    before = model[0].weight.numpy().copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    hidden = model[1](model[0](x)).numpy().copy()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    monitor.step()
    g = model[0].weight.grad.numpy().astype(np.float64)
    entry = monitor.history[0]["params"]["0.weight"]
    assert entry["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-6)
    expected_ratio = np.linalg.norm(model[0].weight.numpy() - before) / np.linalg.norm(before)
    assert entry["update_ratio"] == pytest.approx(expected_ratio, rel=1e-5)
    assert entry["update_ratio"] == pytest.approx(0.1 * np.linalg.norm(g) / np.linalg.norm(before), rel=1e-4)
    assert entry["zero_fraction"] == pytest.approx(np.mean(g == 0))
    relu = next(a for a in monitor.history[0]["activations"] if a["name"] == "1")
    assert relu["mean"] == pytest.approx(hidden.mean(), rel=1e-6)
    assert relu["std"] == pytest.approx(hidden.std(), rel=1e-5)
    assert relu["dead"] == pytest.approx(np.mean(~(hidden > 0).any(axis=0)))


def test_dead_relus_are_named_once_they_persist():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with cr.no_grad():
        model[0].bias.fill_(-100.0)  # every pre-activation is negative: the ReLU is dead
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 1)
    assert "dead" not in kinds(monitor)  # one record is not enough (a zero-initialized layer looks the same)
    train_steps(model, monitor, 1)
    issue = monitor.first_issues["dead"]
    assert "1" in issue.layers and "0" in issue.layers  # the ReLU module and the Linear layer feeding it
    assert "100%" in issue.message


def test_zero_initialized_residual_branch_is_not_a_problem():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(8, 8), nn.Linear(8, 8)
            nn.init.zeros_(self.fc2.weight)  # the "zero last layer" trick: fc1 gets no gradient at step 0

        def forward(self, x):
            return x + self.fc2(self.fc1(x).relu())

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), Block(), Block(), nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 4, lr=0.05)
    assert monitor.first_issues == {}


def test_saturated_tanh_and_sigmoid():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 3))
    with cr.no_grad():
        model[0].weight.mul_(60.0)
        model[2].weight.mul_(60.0)
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 1, lr=0.0)
    issue = monitor.first_issues["saturated"]
    assert issue.layers == ["1", "3"]
    acts = {a["name"]: a for a in monitor.history[0]["activations"]}
    assert acts["1"]["saturated"] > 0.5 and acts["3"]["saturated"] > 0.5


class AmplifyGradient(cr.autograd.Function):
    """Identity forward; backward multiplies the gradient by 10 (an exploding Jacobian, forward left alone)."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return g * 10.0


class Amplify(nn.Module):
    def forward(self, x):
        return AmplifyGradient.apply(x)


def test_exploding_across_depth_and_over_time():
    cr.manual_seed(0)
    layers = [nn.Linear(8, 8)]
    for _ in range(4):
        layers += [Amplify(), nn.Tanh(), nn.Linear(8, 8)]
    model = nn.Sequential(*layers, nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 1, lr=0.0)
    issue = monitor.first_issues["exploding"]
    assert "towards the input" in issue.message and issue.layers[0] == "0"
    assert "vanishing" not in kinds(monitor)

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 4, lr=0.0, loss_scale=lambda i: 1e4 if i == 3 else 1.0)
    issue = monitor.first_issues["exploding"]
    assert issue.step == 3 and "grew" in issue.message


def test_non_finite_gradients_are_named():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    model[2].bias.grad._data[0] = math.nan
    monitor = GradientMonitor(model, every=1, on_issue=None)
    issues = monitor.step()
    assert [i.kind for i in issues] == ["nonfinite"]
    assert issues[0].layers == ["2"]
    assert monitor.state()["history"][0]["layers"]["2"]["grad_norm"] == "nan"  # JSON-safe


def test_on_issue_once_per_kind_and_the_default_warning():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with cr.no_grad():
        model[0].bias.fill_(-100.0)
    seen = []
    monitor = GradientMonitor(model, every=1, on_issue=seen.append)
    train_steps(model, monitor, 5)
    assert [i.kind for i in seen] == ["dead"]
    assert monitor.issue_counts["dead"] == 4

    with pytest.warns(GradientHealthWarning, match="dead units"):
        train_steps(model, GradientMonitor(model, every=1), 2)


def test_thresholds_are_configurable():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3))
    strict = GradientMonitor(model, every=1, on_issue=None, thresholds=HealthThresholds(vanishing_ratio=0.9))
    train_steps(model, strict, 1, lr=0.0)
    assert "vanishing" in kinds(strict)
    strict.detach()
    relaxed = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, relaxed, 1, lr=0.0)
    assert "vanishing" not in kinds(relaxed)


def hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_detached_it_leaves_no_hook_and_does_nothing():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    with GradientMonitor(model, every=1, on_issue=None) as monitor:
        assert monitor.attached and hooks(model) == 4  # root pre-hook + 2 layers + ReLU
        train_steps(model, monitor, 2)
    assert not monitor.attached and hooks(model) == 0
    train_steps(model, monitor, 3)
    assert len(monitor.history) == 2 and monitor.steps == 2
    monitor.attach()
    train_steps(model, monitor, 1)
    assert len(monitor.history) == 3


def test_monitoring_does_not_change_training():
    def run(with_monitor):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        monitor = GradientMonitor(model, every=2, on_issue=None) if with_monitor else None
        train_steps(model, monitor, 6)
        return [p.numpy().copy() for p in model.parameters()]

    for a, b in zip(run(False), run(True)):
        assert np.array_equal(a, b)


def test_evaluation_passes_are_not_recorded():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    with cr.no_grad():
        model(x * 1000)  # an evaluation pass in between must not replace the training activations
    monitor.step()
    relu = next(a for a in monitor.history[0]["activations"] if a["name"] == "1")
    with cr.no_grad():
        assert relu["mean"] == pytest.approx(model[1](model[0](x)).mean().item(), rel=1e-6)


def test_save_writes_report_json_and_png(tmp_path):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    train_steps(model, monitor, 3)
    written = monitor.save(tmp_path)
    assert set(written) == {"report", "json", "plot"}
    assert (tmp_path / "gradient_report.txt").read_text() == monitor.report()
    state = json.loads((tmp_path / "gradients.json").read_text())
    assert len(state["history"]) == 3 and state["layers"] == ["0", "2"]
    assert (tmp_path / "gradients.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_mistakes_are_clear():
    model = nn.Sequential(nn.Linear(8, 3))
    monitor = GradientMonitor(model, every=1, on_issue=None)
    with pytest.raises(cr.GradientError, match="after loss.backward"):
        monitor.step()
    with pytest.raises(ValueError, match="every"):
        GradientMonitor(model, every=0)
    with pytest.raises(ValueError, match="no parameters"):
        GradientMonitor(nn.ReLU())
