"""Data-parallel throughput on one machine, and the cost model for many.

    python benchmarks/distributed.py                  # throughput + communication tables (about 3 minutes)
    python benchmarks/distributed.py --repeats 1      # quicker, noisier
    python benchmarks/distributed.py --cost-model     # only the N-machine predictions

Part 1 runs the mlp and cnn workloads as 1 rank x 2 BLAS threads and as
2 ranks x 1 thread (``mpiexec -n 2``), with the workload's batch as the
global batch (2 ranks: half each, the same arithmetic per step), and, for
reference, 1 rank x 1 thread and 2 ranks with the whole batch each (weak
scaling).  Each configuration runs in fresh processes, ``--repeats`` times,
interleaved; the table shows medians.

Part 2 splits a 2-rank step (three phases in the same processes, interleaved):
``compute`` is the step with no communication at all (``no_sync``);
``allreduce`` is the time of the step's bucket all-reduces alone, measured
after a barrier (pure communication); ``wait`` is how long a rank blocks at
the end of backward for its buckets, with all-reduces started during
backward (overlap, the default) or only after it (no overlap).  The waits
also contain load imbalance between the ranks (this machine's two cores are
shared).  ``comm share`` = allreduce / step (overlap); ``done in bwd`` is
the share of the gradient bytes whose all-reduce had already completed when
backward ended (DDP tests its requests at that moment): communication fully
hidden behind backward.

Part 3 is the cost model for N machines (ring all-reduce), with the compute
time per step measured here for the ResNet and estimated for BERT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORKLOADS = {"mlp": 128, "cnn": 64}  # global batch

# ----------------------------------------------------------------------------- models


def build(workload: str):
    from chainrule import nn

    if workload == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )
    if workload == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 10),
        )
    if workload == "resnet":
        return small_resnet()
    raise SystemExit(f"unknown workload {workload}")


def small_resnet():
    """The speed issue's ResNet: BatchNorm ResNet on 3x32x32, 7 3x3 convs + 2 1x1 shortcuts, 16-32-64 channels."""
    from chainrule import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = None
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn1(self.conv1(x)).relu()
            out = self.bn2(self.conv2(out))
            return (out + (x if self.shortcut is None else self.shortcut(x))).relu()

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        Block(16, 16, 1),
        Block(16, 32, 2),
        Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def batch(workload: str, n: int, rng):
    import numpy as np

    import chainrule as cr

    shape = {"mlp": (n, 1, 28, 28), "cnn": (n, 1, 28, 28), "resnet": (n, 3, 32, 32)}[workload]
    return cr.tensor(rng.standard_normal(shape).astype(np.float32)), cr.tensor(rng.integers(0, 10, n))


# ----------------------------------------------------------------------------- one configuration (in each rank)


def worker(args):
    import numpy as np

    import chainrule as cr
    import chainrule.distributed as dist
    import chainrule.nn.functional as F

    group = dist.init()
    cr.manual_seed(0)
    model = build(args.workload)
    ddp = dist.DistributedDataParallel(model)
    optimizer = cr.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    global_batch = WORKLOADS[args.workload]
    local = global_batch if args.scaling == "weak" else global_batch // group.size
    rng = np.random.default_rng(group.rank)
    data = [batch(args.workload, local, rng) for _ in range(4)]

    def step(i):
        x, y = data[i % len(data)]
        began = time.perf_counter()
        loss = F.cross_entropy(ddp(x), y)
        optimizer.zero_grad()
        mid = time.perf_counter()
        loss.backward()
        backward = time.perf_counter() - mid
        optimizer.step()
        last = ddp.last_step
        done = last.get("reduced_during_backward", 0) / last["bytes"] if last.get("bytes") else 0.0
        return time.perf_counter() - began, backward, last.get("wait_s", 0.0), done

    phases = ["overlap"] if group.size == 1 else ["overlap", "no-overlap", "compute"]
    samples = {p: [] for p in phases}
    for i in range(3):
        step(i)
    for _ in range(args.rounds):
        for phase in phases:
            ddp.overlap = phase != "no-overlap"
            group.barrier()
            for i in range(args.steps):
                if phase == "compute":
                    with ddp.no_sync():
                        samples[phase].append(step(i))
                else:
                    samples[phase].append(step(i))
    result = {"ranks": group.size, "local_batch": local, "global_batch": local * group.size}
    for phase, rows in samples.items():
        keys = ("step", "backward", "wait", "done_in_backward")
        result[phase] = {k: statistics.median(r[j] for r in rows) for j, k in enumerate(keys)}
        result[phase]["done_in_backward"] = statistics.fmean(r[3] for r in rows)
    if group.size > 1:  # the step's all-reduces alone, after a barrier: pure communication time
        buffers = [np.zeros_like(b.buffer) for b in ddp._buckets]
        times = []
        for _ in range(15):
            group.barrier()
            began = time.perf_counter()
            for b in buffers:
                group.all_reduce(b)
            times.append(time.perf_counter() - began)
        result["allreduce"] = statistics.median(times)
        result["bytes"] = int(sum(b.nbytes for b in buffers))
        result["buckets"] = len(buffers)
        # every rank's medians, so imbalance shows: the slowest rank sets the pace
        mine = np.array([result["overlap"]["step"]])
        result["rank_steps"] = group.all_gather(mine).ravel().tolist()
    if group.rank == 0:
        print("RESULT " + json.dumps(result), flush=True)


# ----------------------------------------------------------------------------- the driver


def mpiexec():
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("mpiexec", path=path)


def run_config(workload, ranks, threads, scaling, args, extra_env=None):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(extra_env or {})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", workload, "--scaling", scaling]
    cmd += ["--steps", str(args.steps), "--rounds", str(args.rounds)]
    if ranks > 1:
        cmd = [mpiexec(), "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


def throughput(args):
    from _common import print_table

    configs = [
        ("1 rank x 1 thread", 1, 1, "strong"),
        ("1 rank x 2 threads", 1, 2, "strong"),
        ("2 ranks x 1 thread", 2, 1, "strong"),
        ("2 ranks x 1 thread, weak", 2, 1, "weak"),
    ]
    results = {}
    for _ in range(args.repeats):
        for workload in WORKLOADS:
            for name, ranks, threads, scaling in configs:
                results.setdefault((workload, name), []).append(run_config(workload, ranks, threads, scaling, args))
    rows, split = [], []
    for workload in WORKLOADS:
        base = None
        for name, ranks, *_ in configs:
            runs = results[(workload, name)]
            step = statistics.median(r["overlap"]["step"] for r in runs)
            rate = runs[0]["global_batch"] / step
            base = rate if name == "1 rank x 2 threads" else base
            rows.append([workload, name, runs[0]["global_batch"], f"{step * 1e3:.2f}", f"{rate:,.0f}", ""])
            if ranks > 1:
                med = {
                    k: statistics.median(r[p][k] for r in runs)
                    for p, k in [("overlap", "step"), ("overlap", "wait"), ("overlap", "backward")]
                }
                no_overlap = statistics.median(r["no-overlap"]["step"] for r in runs)
                wait_no = statistics.median(r["no-overlap"]["wait"] for r in runs)
                compute = statistics.median(r["compute"]["step"] for r in runs)
                comm = statistics.median(r["allreduce"] for r in runs)
                done = statistics.fmean(r["overlap"]["done_in_backward"] for r in runs)
                split.append(
                    [
                        workload,
                        name.split(", ")[-1] if "weak" in name else "strong",
                        f"{runs[0]['bytes'] / 2**20:.2f} MB / {runs[0]['buckets']}",
                        f"{compute * 1e3:.2f}",
                        f"{med['backward'] * 1e3:.2f}",
                        f"{comm * 1e3:.2f}",
                        f"{wait_no * 1e3:.2f}",
                        f"{med['wait'] * 1e3:.2f}",
                        f"{no_overlap * 1e3:.2f}",
                        f"{med['step'] * 1e3:.2f}",
                        f"{comm / med['step']:.0%}",
                        f"{done:.0%}",
                    ]
                )
        for row in rows:
            if row[0] == workload and base:
                row[5] = f"{float(row[4].replace(',', '')) / base:.2f}x"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}; medians of {args.repeats} run(s)")
    print_table(
        "Throughput (samples/s; 'weak' = the whole batch on each rank)",
        ["workload", "layout", "global batch", "step ms", "samples/s", "vs 1x2"],
        rows,
    )
    print_table(
        "Where a 2-rank step goes (ms; per rank)",
        [
            "workload",
            "scaling",
            "grads / buckets",
            "compute",
            "backward",
            "allreduce",
            "wait no-ovl",
            "wait ovl",
            "step no-ovl",
            "step ovl",
            "comm share",
            "done in bwd",
        ],
        split,
    )


# ----------------------------------------------------------------------------- the cost model

# published or given parameter counts
BERT_PARAMS = 22_713_216  # all-MiniLM-L6-v2 (6 layers, width 384, 30,522-token vocabulary)
BERT_ENCODER_PARAMS = 6 * (4 * 384 * 384 + 4 * 384 + 2 * 384 * 1536 + 1536 + 384 + 4 * 384)
RESNET101_PARAMS = 44_549_160  # torchvision resnet101


def ring_seconds(nbytes, ranks, gbit, latency, buckets=1):
    """Ring all-reduce: 2(N-1) steps, each moving nbytes/N, plus a latency per step and bucket."""
    if ranks == 1:
        return 0.0
    bandwidth = gbit * 1e9 / 8
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency * buckets


def measure_step(workload, local_batch, steps=3):
    import numpy as np

    import chainrule as cr
    import chainrule.nn.functional as F

    cr.manual_seed(0)
    model = build(workload)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = batch(workload, local_batch, np.random.default_rng(0))
    times = []
    for _ in range(steps + 1):
        began = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:]), sum(p.numel() for p in model.parameters())


def gemm_flops_per_second(size=512, threads_note=""):
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    a @ a
    began = time.perf_counter()
    for _ in range(10):
        a @ a
    return 10 * 2 * size**3 / (time.perf_counter() - began)


def cost_model(args):
    from _common import print_table

    resnet_step, resnet_params = measure_step("resnet", args.resnet_batch)
    flops = gemm_flops_per_second()
    tokens = args.bert_batch * args.bert_seq
    # forward + backward = 3 x forward; forward = 2 x (encoder weights) x tokens + attention (2 x 2 x S x d per token)
    bert_flops = 3 * (2 * BERT_ENCODER_PARAMS * tokens + 6 * 2 * 2 * args.bert_seq * 384 * tokens)
    bert_step = bert_flops / (flops * args.bert_efficiency)
    # Horovod's docs: 16 Pascal GPUs, ResNet-101, batch 64 each, "total images/sec: 1656.82" -> ~104 images/s per GPU
    gpu_resnet101 = 64 / (1656.82 / 16)
    # the same models on a fast accelerator: what the CuPy backend would face (assumed, not measured)
    gpu_bert = bert_flops / (100e12 * 0.3)
    gpu_resnet = resnet_step / 200
    models = [
        ("ResNet (chainrule, 1 core)", resnet_params, resnet_step, f"batch {args.resnet_batch}, measured"),
        ("BERT MiniLM (chainrule, 1 core)", BERT_PARAMS, bert_step, f"{args.bert_batch}x{args.bert_seq} tok, est."),
        ("ResNet (fast GPU)", resnet_params, gpu_resnet, "1 core / 200, assumed"),
        ("BERT MiniLM (fast GPU)", BERT_PARAMS, gpu_bert, "30% of 100 TFLOP/s, assumed"),
        ("ResNet-101 (Horovod's setting)", RESNET101_PARAMS, gpu_resnet101, "batch 64, 104 img/s per GPU"),
    ]
    networks = [(10, 30e-6), (25, 10e-6), (100, 5e-6)]
    rows = []
    for name, params, step, note in models:
        nbytes = 4 * params
        buckets = max(1, -(-nbytes // (25 * 2**20)))
        for gbit, latency in networks:
            if gbit == 25 and "Horovod" not in name:
                continue
            for ranks in (8, 64, 128) if "Horovod" in name else (8, 64):
                comm = ring_seconds(nbytes, ranks, gbit, latency, buckets)
                # no overlap: the whole all-reduce after backward; overlap: all but the last bucket can hide
                # behind backward (2/3 of the step), the last one (the first layers' gradients) cannot
                last = ring_seconds(min(nbytes, 25 * 2**20), ranks, gbit, latency, 1)
                exposed = max(comm - 2 / 3 * step, last if buckets > 1 else comm)
                rows.append(
                    [
                        name,
                        f"{params / 1e6:.2f}M",
                        f"{nbytes / 2**20:.1f}",
                        f"{step * 1e3:.1f}",
                        f"{gbit}",
                        ranks,
                        f"{comm * 1e3:.1f}",
                        f"{step / (step + comm):.0%}",
                        f"{step / (step + exposed):.0%}",
                        note,
                    ]
                )
    print(f"GEMM throughput on this machine (1 thread): {flops / 1e9:.1f} GFLOP/s")
    print_table(
        "Cost model: ring all-reduce of float32 gradients, 25 MB buckets; efficiency = compute / (compute + exposed)",
        [
            "model",
            "params",
            "MB/step",
            "compute ms",
            "Gb/s",
            "ranks",
            "allreduce ms",
            "eff. no overlap",
            "eff. overlap",
            "compute basis",
        ],
        rows,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=[*WORKLOADS, "resnet"], help=argparse.SUPPRESS)
    parser.add_argument("--scaling", default="strong", choices=["strong", "weak"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per phase and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the phases (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh runs per configuration (default 3)")
    parser.add_argument("--cost-model", action="store_true", help="only the N-machine predictions")
    parser.add_argument("--resnet-batch", type=int, default=128)
    parser.add_argument("--bert-batch", type=int, default=32)
    parser.add_argument("--bert-seq", type=int, default=128)
    parser.add_argument(
        "--bert-efficiency", type=float, default=0.5, help="share of GEMM peak a BERT step reaches (default 0.5)"
    )
    args = parser.parse_args()
    if args.worker:
        worker(argparse.Namespace(workload=args.worker, **{k: v for k, v in vars(args).items() if k != "worker"}))
        return
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.path.insert(0, str(HERE))
    if not args.cost_model:
        if mpiexec() is None:
            raise SystemExit("needs mpiexec and mpi4py: pip install mpi4py mpich")
        throughput(args)
    cost_model(args)


if __name__ == "__main__":
    main()
