"""Data parallelism over real MPI ranks: 2 ranks with global batch B equal 1 rank with batch B; faults end the job.

Each test launches ``mpiexec -n 2`` on tests/distributed/worker.py (a few
seconds each) and compares what the ranks wrote with a reference computed
here, in one process, from the same data, weights and batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.distributed import scenarios as S
from tests.distributed.mpi import requires_mpi, run_mpi

pytestmark = requires_mpi


def load_ranks(directory, scenario, ranks=2):
    return [dict(np.load(directory / f"{scenario}-rank{r}.npz", allow_pickle=False)) for r in range(ranks)]


@pytest.fixture(scope="module")
def equivalence(tmp_path_factory):
    out = tmp_path_factory.mktemp("equivalence")
    proc, _ = run_mpi(2, ["-m", "tests.distributed.worker", "equivalence", str(out)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    return load_ranks(out, "equivalence")


@pytest.fixture(scope="module")
def behaviours(tmp_path_factory):
    out = tmp_path_factory.mktemp("behaviours")
    proc, _ = run_mpi(2, ["-m", "tests.distributed.worker", "behaviours", str(out)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    return load_ranks(out, "behaviours")


def params(results, key):
    return {k.split("/", 1)[1]: v for k, v in results.items() if k.startswith(key + "/") and "/#" not in k}


@pytest.mark.parametrize("kind, bn, opt", [c for c in S.CONFIGS if c[1] != "local"])
def test_two_ranks_end_where_one_rank_with_the_global_batch_ends(equivalence, kind, bn, opt):
    key = S.config_key(kind, bn, opt)
    reference = S.reference(kind, bn, opt)
    for rank in (0, 1):
        got = params(equivalence[rank], key)
        assert set(got) == set(reference)
        for name, value in reference.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=f"{key} {name} rank {rank}")
    # the starting point was different from the end point (the steps did something)
    start = {k: v for k, v in S.state_arrays(S.build_model(kind, bn)).items() if not k.startswith("buffer:")}
    assert any(np.abs(reference[k] - start[k]).max() > 1e-3 for k in start)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_plain_batchnorm_is_not_synchronized(equivalence, opt):
    """Ranks stay identical to each other, but normalize with local statistics: not the single-process result."""
    key = S.config_key("cnn", "local", opt)
    rank0, rank1 = params(equivalence[0], key), params(equivalence[1], key)
    reference = S.reference("cnn", "local", opt)
    weights = [k for k in reference if not k.startswith("buffer:")]
    for name in weights:
        np.testing.assert_array_equal(rank0[name], rank1[name])
    assert max(np.abs(rank0[k] - reference[k]).max() for k in weights) > 1e-4
    # running statistics are rank-local after the last step's own update (broadcast from rank 0 at each forward)
    assert np.abs(rank0["buffer:1.running_mean"] - rank1["buffer:1.running_mean"]).max() > 1e-5


def test_buckets_start_during_backward(equivalence):
    for kind, bn, opt in S.CONFIGS:
        key = S.config_key(kind, bn, opt)
        assert equivalence[0][f"{key}/#buckets"] >= 2
        assert equivalence[0][f"{key}/#steps"] == S.STEPS
        assert equivalence[0][f"{key}/#early"] >= S.STEPS  # at least one bucket per step before backward ended


def test_no_sync_accumulates_then_averages_the_sum(behaviours):
    r0, r1 = behaviours
    expected = (r0["no_sync/local_weight"] + r1["no_sync/local_weight"]) / 2
    for r in (r0, r1):
        np.testing.assert_allclose(r["no_sync/weight"], expected, rtol=1e-6, atol=1e-6)


def test_parameters_unused_on_some_ranks_get_the_same_average_everywhere(behaviours):
    r0, r1 = behaviours
    assert not r0["unused/local_b_weight"].any() and r1["unused/local_b_weight"].any()
    for name in ("a", "b"):
        expected = (r0[f"unused/local_{name}_weight"] + r1[f"unused/local_{name}_weight"]) / 2
        for r in (r0, r1):
            np.testing.assert_allclose(r[f"unused/{name}_weight"], expected, rtol=1e-6, atol=1e-6)
    assert bool(r0["unused/c_is_none"]) and bool(r1["unused/c_is_none"])


def test_a_weight_read_outside_its_module_call_is_still_averaged(behaviours):
    r0, r1 = behaviours
    expected = (r0["bypass/local_weight"] + r1["bypass/local_weight"]) / 2
    for r in (r0, r1):
        np.testing.assert_allclose(r["bypass/weight"], expected, rtol=1e-6, atol=1e-6)
        assert int(r["bypass/unbucketed"]) == 4  # weight and bias, two steps


def test_mistakes_are_reported_on_every_rank(behaviours):
    for r in behaviours:
        assert "outside any module call" in str(r["outside/message"])
        assert "differ from rank 0" in str(r["mismatch/message"])
    np.testing.assert_array_equal(behaviours[0]["broadcast/weight"], behaviours[1]["broadcast/weight"])


@pytest.mark.parametrize(
    "how, expected",
    [
        ("raise", ["[rank 1]", "RuntimeError: injected failure on rank 1", "aborting all 2 ranks"]),
        ("kill", [("BAD TERMINATION", "signal 9", "Killed", "killed")]),  # the launcher's words: MPICH, Open MPI
        ("hang", ["[rank 0]", "DistributedTimeoutError", "did not complete within 3 s", "aborting all 2 ranks"]),
    ],
)
def test_a_failing_rank_ends_the_whole_job(tmp_path, how, expected):
    """An exception, a SIGKILL or a stuck rank: mpiexec exits non-zero within seconds, with a message."""
    proc, seconds = run_mpi(2, ["-m", "tests.distributed.worker", f"fault-{how}", str(tmp_path)], dist_timeout=3)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert seconds < 30, f"took {seconds:.1f} s"
    for text in expected:
        alternatives = text if isinstance(text, tuple) else (text,)
        assert any(t in output for t in alternatives), output
    assert not list(tmp_path.glob("*.npz"))  # no rank finished
