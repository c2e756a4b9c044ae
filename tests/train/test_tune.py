"""chainrule.tune (search, report, PruningCallback) and the chainrule tune command: tiny searches only."""

from __future__ import annotations

import json
import sys

import pytest

optuna = pytest.importorskip("optuna", reason="needs optuna: the tune extra")

import chainrule as cr  # noqa: E402
from chainrule.data import DataLoader, TensorDataset  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.train import Trainer, accuracy  # noqa: E402
from chainrule.train.cli import main  # noqa: E402
from chainrule.tune import PruningCallback, choice, integer, loguniform, report, search, uniform  # noqa: E402


def test_search_finds_the_minimum_of_a_quadratic():
    def objective(params, trial):
        return (params["x"] - 2.0) ** 2 + (0.0 if params["kind"] == "b" else 1.0) + params["n"]

    result = search(objective, {"x": uniform(-5, 5), "kind": choice("a", "b"), "n": integer(0, 3)}, trials=25, seed=1)
    assert result.counts() == {"complete": 25}
    assert result.best_value < 1.5  # a random point averages about 14
    assert set(result.best_params) == {"x", "kind", "n"}
    assert result.seconds > 0


def test_search_prunes_from_reported_values():
    epochs_run = []

    def objective(params, trial):
        for epoch in range(1, 6):
            epochs_run.append(epoch)
            report(trial, params["lr"] * epoch, epoch)  # larger lr: worse at every epoch
        return params["lr"] * 5

    result = search(objective, {"lr": loguniform(1e-4, 1.0)}, trials=15, seed=0)
    assert result.counts().get("pruned", 0) >= 1
    assert len(epochs_run) < 15 * 5


def test_search_continues_a_stored_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    calls = []

    def objective(params, trial):
        calls.append(params["x"])
        return params["x"] ** 2

    search(objective, {"x": uniform(-1, 1)}, trials=3, storage=storage, study_name="s")
    result = search(objective, {"x": uniform(-1, 1)}, trials=5, storage=storage, study_name="s")
    assert len(calls) == 5 and len(result.study.trials) == 5


def test_space_and_arguments_are_checked():
    with pytest.raises(ValueError, match="low > 0"):
        loguniform(0, 1)
    with pytest.raises(TypeError, match="use chainrule.tune"):
        search(lambda p, t: 0.0, {"x": (0, 1)}, trials=1)
    with pytest.raises(ValueError, match="trials"):
        search(lambda p, t: 0.0, {"x": uniform(0, 1)}, trials=0)


def _digits_trainer(callbacks):
    cr.manual_seed(0)
    x, y = cr.randn(64, 4), cr.randint(0, 2, (64,))
    model = cr.nn.Linear(4, 2)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    return Trainer(
        model,
        cr.optim.SGD(model.parameters(), lr=0.1),
        F.cross_entropy,
        loader,
        loader,
        metrics={"accuracy": accuracy},
        callbacks=callbacks,
        progress=False,
        log=None,
        plots=False,
    )


def test_pruning_callback_stops_the_fit_and_raises():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    trial = study.ask()
    callback = PruningCallback(trial, "val_accuracy")
    trainer = _digits_trainer([callback])
    with pytest.raises(optuna.TrialPruned):
        trainer.fit(5)
    assert len(trainer.history) == 1 and callback.pruned_epoch == 1
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: trainer.history[0]["val_accuracy"]}


def test_pruning_callback_names_a_missing_metric():
    study = optuna.create_study()
    trainer = _digits_trainer([PruningCallback(study.ask(), "val_rmse")])
    with pytest.raises(KeyError, match="val_rmse.*val_accuracy"):
        trainer.fit(1)


# ---------------------------------------------------------------------------
# chainrule tune


def _tune(tmp_path, *extra):
    return main(["tune", "--recipe", "digits-mlp", "--epochs", "2", "--study-dir", str(tmp_path / "study"), *extra])


def test_tune_command_runs_trials_and_reports(tmp_path, capsys):
    assert _tune(tmp_path, "--trials", "3", "--no-plots", "--params", "lr,batch_size=16|32") == 0
    out = capsys.readouterr().out
    study_dir = tmp_path / "study"
    summary = json.loads((study_dir / "summary.json").read_text())
    assert summary["complete"] + summary["pruned"] == 3 and summary["failed"] == 0
    assert summary["metric"] == "val_accuracy" and summary["direction"] == "maximize"
    best = summary["best"]
    assert best["command"].startswith("chainrule train --recipe digits-mlp --epochs 2 --lr ")
    assert "--batch-size" in best["command"] and best["command"].endswith("--seed 0")
    assert 0.0 <= best["value"] <= 1.0 and "test_accuracy" in best
    # trial 0 is the recipe's defaults, so the best is at least as good on validation
    assert summary["defaults"]["trial"] == 0 and summary["defaults"]["params"] == {"lr": 0.002, "batch_size": 32}
    assert best["value"] >= summary["defaults"]["value"]
    for k in range(3):
        assert (study_dir / f"trial-{k:04d}" / "metrics.jsonl").is_file()
    assert "best trials (higher val_accuracy is better)" in out and "best: chainrule train" in out
    # the best command reproduces the best trial's validation value
    args = best["command"].split()[1:] + ["--out", str(tmp_path / "again"), "--no-progress", "--no-plots"]
    assert main(args) == 0
    records = [json.loads(line) for line in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    assert max(r["val_accuracy"] for r in records) == pytest.approx(best["value"])

    # the same command continues the study; a flag that differs from it is one error line
    assert _tune(tmp_path, "--trials", "4", "--no-plots") == 0
    assert json.loads((study_dir / "summary.json").read_text())["complete"] + summary["pruned"] >= 4
    capsys.readouterr()
    assert main(["tune", "--study-dir", str(study_dir), "--epochs", "3", "--trials", "5"]) == 1
    assert "--epochs differs from the search" in capsys.readouterr().err


def test_tune_plots_and_importances(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the train extra)")
    assert _tune(tmp_path, "--trials", "3", "--params", "lr,weight_decay") == 0
    out = capsys.readouterr().out
    assert "parameter importances" in out
    for name in ("optimization_history.png", "parallel_coordinate.png", "slice.png"):
        assert (tmp_path / "study" / name).stat().st_size > 1000, name


def test_tune_reruns_an_interrupted_trial(tmp_path):
    from chainrule.train import tune  # noqa: PLC0415

    assert _tune(tmp_path, "--trials", "1", "--no-plots", "--params", "lr") == 0
    study = optuna.load_study(study_name="chainrule", storage=f"sqlite:///{tmp_path / 'study' / 'study.db'}")
    stale = study.ask({"lr": optuna.distributions.FloatDistribution(2e-4, 2e-2, log=True)})  # left running
    assert tune._rerun_interrupted(study) == 1
    assert study.trials[stale.number].state == optuna.trial.TrialState.FAIL
    assert _tune(tmp_path, "--trials", "2", "--no-plots", "--params", "lr") == 0
    study = optuna.load_study(study_name="chainrule", storage=f"sqlite:///{tmp_path / 'study' / 'study.db'}")
    assert study.trials[-1].params == study.trials[stale.number].params


def test_a_jobs_worker_that_starts_late_still_runs_its_share(tmp_path):
    """--jobs splits the trials when it starts the workers: a worker that starts after another has finished a
    trial runs its part anyway (counting the study's finished trials itself, it ran one fewer)."""
    from chainrule.train import tune  # noqa: PLC0415

    # --trials 2 --jobs 2 gives each worker one; worker 0 has finished its trial when worker 1 starts
    assert [tune._share(2, k, 2) for k in range(2)] == [1, 1] and [tune._share(3, k, 2) for k in range(2)] == [2, 1]
    assert _tune(tmp_path, "--trials", "1", "--no-plots", "--params", "lr") == 0  # the study and worker 0's trial
    study_dir = tmp_path / "study"
    definition = tune._read_definition(study_dir)
    assert (
        tune._share(
            tune._remaining(optuna.load_study(study_name="chainrule", storage=tune._storage(study_dir)), 2), 1, 2
        )
        == 0
    )
    tune._optimize(definition, study_dir, 2, None, worker=1, jobs=2, share=1)
    study = optuna.load_study(study_name="chainrule", storage=tune._storage(study_dir))
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 2


def test_other_jobs_workers_wait_for_worker_0_to_claim_the_queued_trial(tmp_path):
    """Optuna's SQLite storage can hand one queued trial to two processes that claim it at once (a --jobs 2 run
    once ran trial 0 twice and ended a trial short): workers 1.. wait until worker 0 has claimed one."""
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    from chainrule.train import tune  # noqa: PLC0415

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'q.db'}", study_name="q")
    assert tune._await_queue(study, timeout=1.0)  # nothing queued: at once
    study.enqueue_trial({"lr": 0.002})
    began = time.monotonic()
    assert not tune._await_queue(study, timeout=0.3)  # queued and unclaimed: it waits, then says so
    assert time.monotonic() - began >= 0.3
    claim = threading.Timer(0.3, study.ask)  # worker 0 claims the queued trial (it is now running)
    claim.start()
    began = time.monotonic()
    assert tune._await_queue(study, timeout=10.0)
    claim.join()
    assert 0.25 <= time.monotonic() - began < 5.0
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING
    assert study.trials[0].system_attrs["fixed_params"] == {"lr": 0.002}


def test_tune_jobs_run_in_processes(tmp_path, capsys):
    assert _tune(tmp_path, "--trials", "2", "--jobs", "2", "--no-plots", "--params", "lr") == 0
    out = capsys.readouterr().out
    assert "2 worker processes" in out
    summary = json.loads((tmp_path / "study" / "summary.json").read_text())
    assert summary["complete"] + summary["pruned"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("momentum", "cannot tune 'momentum'"),
        ("lr=0.1:0.01", "0 < LOW < HIGH"),
        ("optimizer=adam|lbfgs", "unknown lbfgs"),
        ("lr,lr", "names lr twice"),
        ("batch_size=x|y", "not a number"),
        ("lr=0.1", "LOW:HIGH"),
    ],
)
def test_tune_refuses_bad_params(tmp_path, capsys, params, message):
    assert _tune(tmp_path, "--trials", "1", "--params", params) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "study").exists()


def test_tune_without_optuna_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert _tune(tmp_path, "--trials", "1") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'chainrule[tune]'" in err
    assert not (tmp_path / "study").exists()
