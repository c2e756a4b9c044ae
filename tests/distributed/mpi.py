"""Helpers for tests that launch ranks with mpiexec (skipped, saying why, without mpi4py or mpiexec)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def find_mpiexec():
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("mpiexec", path=path)


MPIEXEC = find_mpiexec()
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None

requires_mpi = pytest.mark.skipif(
    not (MPIEXEC and HAVE_MPI4PY),
    reason="needs mpi4py and an mpiexec (pip install 'chainrule[mpi]', e.g. pip install mpi4py mpich)",
)


def run_mpi(ranks: int, args, timeout: float = 60, dist_timeout: float = 30, env=None):
    """Run ``mpiexec -n ranks python ARGS`` from the repository root; returns (CompletedProcess, seconds)."""
    full_env = dict(os.environ)
    full_env.update(
        {
            "CHAINRULE_DIST_TIMEOUT": str(dist_timeout),
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src"), full_env.get("PYTHONPATH", "")]),
        }
    )
    full_env.update(env or {})
    began = time.perf_counter()
    proc = subprocess.run(
        [MPIEXEC, "-n", str(ranks), sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.perf_counter() - began
