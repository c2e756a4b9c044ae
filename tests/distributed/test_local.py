"""chainrule.distributed in one process (no MPI): the world of one, DDP as a transparent wrapper, SyncBatchNorm."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.distributed import (
    DistributedConfigError,
    DistributedDataParallel,
    DistributedTimeoutError,
    ProcessGroup,
    SyncBatchNorm,
)
from chainrule.distributed.sync_batchnorm import sync_batch_norm


def test_a_process_not_started_by_mpi_is_a_world_of_one(monkeypatch):
    for name in ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(name, raising=False)
    assert not dist.launched_by_mpi()
    group = dist.init()
    assert (dist.get_rank(), dist.get_world_size(), dist.is_main_process()) == (0, 1, True)
    assert group.comm is None and dist.is_initialized()
    dist.barrier()


def test_collectives_in_a_world_of_one():
    t = cr.tensor([1.0, 2.0])
    assert dist.all_reduce(t) is t and t.tolist() == [1.0, 2.0]
    assert dist.all_reduce(3) == 3
    assert dist.all_reduce(3, op=dist.ReduceOp.AVG) == 3.0
    assert dist.all_reduce([1.5, 2], op=dist.ReduceOp.MAX) == [1.5, 2.0]
    assert dist.broadcast(t, src=0) is t
    assert dist.all_gather(t).shape == (1, 2)
    with pytest.raises(DistributedConfigError, match="expected a Tensor"):
        dist.all_reduce("3")
    with pytest.raises(DistributedConfigError, match="unknown reduce op"):
        dist.all_reduce(np.ones(2), op="mean")
    with pytest.raises(DistributedConfigError, match="root rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(DistributedConfigError, match="'avg' needs floating-point"):
        dist.all_reduce(np.ones(2, dtype=np.int64), op="avg")


def test_timeout_settings_are_checked(monkeypatch):
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "soon")
    with pytest.raises(DistributedConfigError, match="CHAINRULE_DIST_TIMEOUT"):
        ProcessGroup(None)
    monkeypatch.setenv("CHAINRULE_DIST_TIMEOUT", "2.5")
    assert ProcessGroup(None).timeout == 2.5
    with pytest.raises(DistributedConfigError, match="positive"):
        ProcessGroup(None, timeout=0)
    assert issubclass(DistributedTimeoutError, TimeoutError)


def mlp():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def test_ddp_with_one_rank_is_transparent():
    plain, wrapped = mlp(), mlp()
    ddp = DistributedDataParallel(wrapped)
    x = cr.randn(4, 5)
    out_plain, out_ddp = plain(x), ddp(x)
    assert np.array_equal(out_plain.numpy(), out_ddp.numpy())
    out_plain.sum().backward()
    out_ddp.sum().backward()
    for a, b in zip(plain.parameters(), ddp.parameters()):
        assert np.array_equal(a.grad.numpy(), b.grad.numpy())
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
    assert ddp.require_backward_grad_sync


def test_ddp_state_dict_is_the_wrapped_modules():
    ddp = DistributedDataParallel(mlp())
    keys = list(ddp.state_dict())
    assert keys == list(mlp().state_dict()) and not any(k.startswith("module.") for k in keys)
    other = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    other.load_state_dict(ddp.state_dict())
    ddp.load_state_dict(other.state_dict())
    assert np.array_equal(other[0].weight.numpy(), ddp.module[0].weight.numpy())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"bucket_cap_mb": 0}, "bucket_cap_mb"), ({"first_bucket_cap_mb": -1}, "first_bucket_cap_mb")],
)
def test_ddp_bad_arguments(kwargs, match):
    with pytest.raises(DistributedConfigError, match=match):
        DistributedDataParallel(mlp(), **kwargs)
    with pytest.raises(DistributedConfigError, match="wraps a Module"):
        DistributedDataParallel(lambda x: x)


def test_global_batch_must_divide_over_ranks():
    class Two:
        rank, size = 0, 2

    training = dist.DistributedTraining(group=Two())
    assert training.local_batch_size(64) == 32
    with pytest.raises(DistributedConfigError, match="divisible by the number of ranks"):
        training.local_batch_size(63)


def test_sync_batchnorm_with_one_rank_is_batchnorm():
    x = cr.randn(6, 3, 4, 4)
    bn, sbn = nn.BatchNorm2d(3), SyncBatchNorm(3)
    for mode in ("train", "eval"):
        getattr(bn, mode)()
        getattr(sbn, mode)()
        assert np.allclose(bn(x).numpy(), sbn(x).numpy(), atol=1e-6)
    assert np.allclose(bn.running_var.numpy(), sbn.running_var.numpy())


def test_convert_sync_batchnorm_keeps_the_parameters():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4)))
    weight = model[1].weight
    model[1].eval()
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert type(model[1]) is SyncBatchNorm and type(model[2][0]) is SyncBatchNorm
    assert model[1].weight is weight and not model[1].training
    assert list(model.state_dict()) == list(
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4))).state_dict()
    )


class MirrorGroup:
    """Two ranks that hold identical data: every sum over ranks is twice the local value."""

    rank, size, timeout = 0, 2, 5.0

    def all_reduce(self, array, op="sum", what=""):
        array *= 2
        return array


def test_sync_batchnorm_matches_batchnorm_over_the_global_batch():
    """Forward, running statistics and input/weight gradients equal BatchNorm on [x, x] (float64)."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((3, 2, 4, 5))
    g_np = rng.standard_normal((3, 2, 4, 5))
    w_np, b_np = rng.standard_normal(2), rng.standard_normal(2)

    x = cr.tensor(x_np, requires_grad=True)
    w, b = cr.tensor(w_np, requires_grad=True), cr.tensor(b_np, requires_grad=True)
    rm, rv = cr.zeros(2, dtype=cr.float64), cr.ones(2, dtype=cr.float64)
    y = sync_batch_norm(x, rm, rv, w, b, 0.1, 1e-5, MirrorGroup())
    y.backward(cr.tensor(g_np))

    xx = cr.tensor(np.concatenate([x_np, x_np]), requires_grad=True)
    ww, bb = cr.tensor(w_np, requires_grad=True), cr.tensor(b_np, requires_grad=True)
    rm2, rv2 = cr.zeros(2, dtype=cr.float64), cr.ones(2, dtype=cr.float64)
    yy = nn.functional.batch_norm(xx, rm2, rv2, ww, bb, True, 0.1, 1e-5)
    yy.backward(cr.tensor(np.concatenate([g_np, g_np])))

    assert np.allclose(y.numpy(), yy.numpy()[:3], atol=1e-12)
    assert np.allclose(x.grad.numpy(), xx.grad.numpy()[:3], atol=1e-10)
    # every rank's weight gradient is its own share; DDP then averages the two identical shares
    assert np.allclose(w.grad.numpy() * 2, ww.grad.numpy(), atol=1e-10)
    assert np.allclose(rm.numpy(), rm2.numpy()) and np.allclose(rv.numpy(), rv2.numpy())
