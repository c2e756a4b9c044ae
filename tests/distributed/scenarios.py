"""Models, data and training steps shared by the MPI worker (tests/distributed/worker.py) and the tests.

The tests compute the single-process reference in the pytest process with
the same functions the ranks run under mpiexec, so both sides draw the same
data, the same initial weights and the same batches.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.distributed import DistributedDataParallel, DistributedSampler, SyncBatchNorm

GLOBAL_BATCH = 16
STEPS = 3
SAMPLES = 64


def data(kind: str):
    rng = np.random.default_rng(1234)
    if kind == "mlp":
        x = rng.standard_normal((SAMPLES, 12)).astype(np.float32)
    else:
        x = rng.standard_normal((SAMPLES, 2, 6, 6)).astype(np.float32)
    y = rng.integers(0, 4, SAMPLES)
    return x, y


def build_model(kind: str, batchnorm: str = "none"):
    """kind 'mlp' (12-32-32-4) or 'cnn' (conv, batch norm, relu, linear); batchnorm 'none' | 'local' | 'sync'."""
    cr.manual_seed(7)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    norm = SyncBatchNorm(4) if batchnorm == "sync" else nn.BatchNorm2d(4)
    # no conv bias in front of batch norm: its gradient would be pure rounding noise, which Adam amplifies to +-lr
    layers = [nn.Conv2d(2, 4, 3, padding=1, bias=batchnorm == "none")]
    if batchnorm != "none":
        layers.append(norm)
    layers += [nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 4)]
    return nn.Sequential(*layers)


def build_optimizer(name: str, params):
    if name == "sgd":
        return cr.optim.SGD(params, lr=0.1, momentum=0.9)
    return cr.optim.Adam(params, lr=0.01)


def batches(num_replicas: int, rank: int, steps: int = STEPS, epoch: int = 0):
    """This rank's index batches for ``steps`` steps of the global batch GLOBAL_BATCH."""
    sampler = DistributedSampler(range(SAMPLES), num_replicas, rank, shuffle=True, seed=3)
    sampler.set_epoch(epoch)
    order = sampler.indices()
    local = GLOBAL_BATCH // num_replicas
    return [order[i * local : (i + 1) * local] for i in range(steps)]


def train(model, optimizer, kind: str, num_replicas: int = 1, rank: int = 0, steps: int = STEPS):
    """``steps`` SGD/Adam steps on this rank's batches; returns the losses."""
    x, y = data(kind)
    losses = []
    for idx in batches(num_replicas, rank, steps):
        loss = F.cross_entropy(model(cr.tensor(x[idx])), cr.tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def state_arrays(module) -> dict:
    """Every parameter and buffer as a NumPy array, by name (buffers start with 'buffer:')."""
    if isinstance(module, DistributedDataParallel):
        module = module.module
    params = {name for name, _ in module.named_parameters()}
    return {(k if k in params else f"buffer:{k}"): np.array(v._data) for k, v in module.state_dict().items()}


CONFIGS = [
    (kind, bn, opt) for opt in ("sgd", "adam") for kind, bn in (("mlp", "none"), ("cnn", "local"), ("cnn", "sync"))
]


def config_key(kind, bn, opt) -> str:
    return f"{kind}-{bn}-{opt}"


def reference(kind: str, bn: str, opt: str) -> dict:
    """One process, global batch GLOBAL_BATCH, plain BatchNorm in place of SyncBatchNorm."""
    model = build_model(kind, "local" if bn == "sync" else bn)
    train(model, build_optimizer(opt, model.parameters()), kind)
    return state_arrays(model)


def trainer_run(run_dir, epochs: int, resume=None, crash_at_step: int | None = None) -> dict:
    """The Trainer, data-parallel over the world (of one in pytest): Adam on the mlp data, checkpoints in run_dir.

    ``crash_at_step``: rank 1 kills itself (SIGKILL) when computing that step's loss (counted over the run).
    """
    import os
    import signal

    from chainrule.data import TensorDataset
    from chainrule.distributed import DistributedTraining
    from chainrule.train import Trainer

    training = DistributedTraining()
    x, y = data("mlp")
    dataset = TensorDataset(cr.tensor(x), cr.tensor(y))
    model = training.wrap(build_model("mlp"))
    optimizer = build_optimizer("adam", model.parameters())
    steps = [0]

    def loss_fn(output, target):
        steps[0] += model.training
        if crash_at_step is not None and training.rank == 1 and steps[0] == crash_at_step and model.training:
            os.kill(os.getpid(), signal.SIGKILL)
        return F.cross_entropy(output, target)

    trainer = Trainer(
        model,
        optimizer,
        loss_fn,
        training.train_loader(dataset, GLOBAL_BATCH, seed=3),
        training.eval_loader(dataset, 24),
        run_dir=run_dir,
        progress=False,
        plots=False,
        distributed=training,
    )
    trainer.fit(epochs, resume=resume)
    return state_arrays(model)
