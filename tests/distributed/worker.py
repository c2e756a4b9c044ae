"""Run under mpiexec by tests/distributed: ``python -m tests.distributed.worker SCENARIO OUT_DIR``.

Each rank writes ``OUT_DIR/<scenario>-rank<r>.npz``; the tests compare those
with a single-process reference.  The fault scenarios make one rank fail on
purpose and are judged by the launcher's exit status and stderr.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.distributed import DistributedDataParallel, DistributedError
from tests.distributed import scenarios as S

SMALL_BUCKETS = {"bucket_cap_mb": 0.004, "first_bucket_cap_mb": 0.001}


def equivalence(group, out):
    results = {}
    for kind, bn, opt in S.CONFIGS:
        model = S.build_model(kind, bn)
        ddp = DistributedDataParallel(model, **SMALL_BUCKETS)
        optimizer = S.build_optimizer(opt, ddp.parameters())
        S.train(ddp, optimizer, kind, group.size, group.rank)
        key = S.config_key(kind, bn, opt)
        for name, value in S.state_arrays(ddp).items():
            results[f"{key}/{name}"] = value
        results[f"{key}/#buckets"] = np.array(ddp.stats["buckets"] / max(ddp.stats["steps"], 1))
        results[f"{key}/#early"] = np.array(ddp.stats["launched_during_backward"])
        results[f"{key}/#steps"] = np.array(ddp.stats["steps"])
    return results


class TwoHeads(nn.Module):
    """Head b is used only where the forward is told to; head c is never used."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.a = nn.Linear(8, 3)
        self.b = nn.Linear(8, 3)
        self.c = nn.Linear(8, 3)

    def forward(self, x, use_b):
        h = self.body(x).relu()
        out = self.a(h)
        return out + self.b(h) if use_b else out


class Bypass(nn.Module):
    """Calls ``inner`` for its bias only: the weight is read directly (no module call)."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(6, 3)
        self.other = nn.Linear(6, 3)

    def forward(self, x):
        return F.linear(x, self.inner.weight, self.inner.bias) + self.other(x)


def features(rank, n=4):
    return cr.tensor(np.random.default_rng(100 + rank).standard_normal((n, 6)).astype(np.float32))


def behaviours(group, out):
    """no_sync accumulation, parameters unused on some ranks, gradients that bypass the module call, errors."""
    results = {}
    rank = group.rank

    # no_sync: two micro-batches, the first accumulated locally; .grad ends as the average of the sums
    cr.manual_seed(1)
    model = nn.Linear(6, 3)
    ddp = DistributedDataParallel(model)
    with ddp.no_sync():
        ddp(features(rank)).sum().backward()
    ddp(features(rank + 10)).pow(2).sum().backward()
    results["no_sync/weight"] = model.weight.grad.numpy().copy()
    local = nn.Linear(6, 3)
    local.load_state_dict(model.state_dict())
    local(features(rank)).sum().backward()
    local(features(rank + 10)).pow(2).sum().backward()
    results["no_sync/local_weight"] = local.weight.grad.numpy().copy()

    # head b used on rank 1 only, head c on no rank
    cr.manual_seed(2)
    model = TwoHeads()
    ddp = DistributedDataParallel(model, **SMALL_BUCKETS)
    ddp(features(rank), use_b=rank == 1).sum().backward()
    results["unused/b_weight"] = model.b.weight.grad.numpy().copy()
    results["unused/a_weight"] = model.a.weight.grad.numpy().copy()
    results["unused/c_is_none"] = np.array(model.c.weight.grad is None)
    local = TwoHeads()
    local.load_state_dict(model.state_dict())
    local(features(rank), use_b=rank == 1).sum().backward()
    results["unused/local_b_weight"] = (
        local.b.weight.grad.numpy().copy() if local.b.weight.grad is not None else np.zeros((3, 8), np.float32)
    )
    results["unused/local_a_weight"] = local.a.weight.grad.numpy().copy()

    # a weight read without calling its module still gets the average (one extra blocking all-reduce)
    cr.manual_seed(3)
    model = Bypass()
    ddp = DistributedDataParallel(model)
    ddp(features(rank)).sum().backward()
    ddp.zero_grad()
    ddp(features(rank)).sum().backward()  # a second step, after the bucket rebuild
    results["bypass/weight"] = model.inner.weight.grad.numpy().copy()
    results["bypass/unbucketed"] = np.array(ddp.stats["unbucketed"])
    local = Bypass()
    local.load_state_dict(model.state_dict())
    local(features(rank)).sum().backward()
    results["bypass/local_weight"] = local.inner.weight.grad.numpy().copy()

    # a penalty on a weight outside the forward is refused with a clear error, on every rank
    cr.manual_seed(4)
    model = nn.Sequential(nn.Linear(6, 3))
    ddp = DistributedDataParallel(model)
    message = ""
    try:
        (ddp(features(rank)).sum() + (model[0].weight ** 2).sum()).backward()
    except DistributedError as exc:
        message = str(exc)
    results["outside/message"] = np.array(message)

    # ranks that build different models are told so at construction, on every rank
    message = ""
    try:
        DistributedDataParallel(nn.Linear(6, 3 + rank))
    except DistributedError as exc:
        message = str(exc)
    results["mismatch/message"] = np.array(message)

    # rank 0's weights win at construction
    cr.manual_seed(50 + rank)
    model = nn.Linear(6, 3)
    DistributedDataParallel(model)
    results["broadcast/weight"] = model.weight.numpy().copy()
    return results


def fault(group, out, how):
    """Train; rank 1 fails at step 2 in the way asked for."""
    model = S.build_model("mlp")
    ddp = DistributedDataParallel(model)
    optimizer = S.build_optimizer("sgd", ddp.parameters())
    x, y = S.data("mlp")
    for step, idx in enumerate(S.batches(group.size, group.rank, steps=4)):
        if step == 2 and group.rank == 1:
            if how == "raise":
                raise RuntimeError("injected failure on rank 1")
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "hang":
                time.sleep(120)
        loss = F.cross_entropy(ddp(cr.tensor(x[idx])), cr.tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {}


def main(argv):
    scenario, out = argv[0], Path(argv[1])
    group = dist.init()
    if scenario == "equivalence":
        results = equivalence(group, out)
    elif scenario == "behaviours":
        results = behaviours(group, out)
    elif scenario == "trainer":  # OUT_DIR is the run directory; then epochs and the step at which rank 1 dies
        S.trainer_run(out, int(argv[2]), crash_at_step=int(argv[3]) if len(argv) > 3 else None)
        return
    elif scenario.startswith("fault-"):
        results = fault(group, out, scenario.split("-", 1)[1])
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    np.savez(out / f"{scenario}-rank{group.rank}.npz", **results)


if __name__ == "__main__":
    main(sys.argv[1:])
