"""Data-parallel training over MPI: ``chainrule[mpi]`` (mpi4py and an MPI library such as MPICH).

``mpiexec -n 4 python train.py`` starts four ranks; each joins with
``init()``, wraps its model in ``DistributedDataParallel`` (gradients
averaged over ranks during backward), and reads its shard of the data
through a ``DistributedSampler``.  Run without a launcher, the same script
is a world of one and needs no MPI.  See docs/distributed.md.
"""

from .collectives import (
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    differentiable_all_reduce,
    get_local_rank,
    get_rank,
    get_world_size,
    is_main_process,
)
from .comm import ProcessGroup, ReduceOp, init, is_initialized, launched_by_mpi, world
from .ddp import DistributedDataParallel
from .errors import DistributedConfigError, DistributedError, DistributedTimeoutError
from .launch import run_guarded
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm
from .training import DistributedTraining

init_process_group = init

__all__ = [
    "DistributedConfigError",
    "DistributedDataParallel",
    "DistributedError",
    "DistributedSampler",
    "DistributedTimeoutError",
    "DistributedTraining",
    "ProcessGroup",
    "ReduceOp",
    "SyncBatchNorm",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "differentiable_all_reduce",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init",
    "init_process_group",
    "is_initialized",
    "is_main_process",
    "launched_by_mpi",
    "run_guarded",
    "world",
]
