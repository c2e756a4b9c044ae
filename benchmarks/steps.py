"""Training-step benchmark: chainrule against PyTorch on seven workloads, in one run.

Each workload's step (forward, loss, backward, optimizer update; float32) is
timed in a process per library (each library's spinning threads would slow
the other's steps in a shared process).  The two processes live side by side
and take turns, a block of 5 steps each, the order alternating, 8 blocks per
process and two pairs of processes (``_common.interleave``): a machine whose
speed drifts (this shared VM has spells of up to 1.5x slower steps lasting
tens of seconds) then treats both alike, and the ratio is the median of the
ratios of neighbouring blocks.  Both start from the same initial
weights (PyTorch's initialization, copied into chainrule through
load_state_dict) and the same batch.

The first table is the default configuration, what a user gets: chainrule as
the README's quickstart installs it (NumPy's OpenBLAS, no extras), each
library with its default thread count, no environment variable set.  It
gives median milliseconds per step, the ratio chainrule / PyTorch,
backward / forward time, the peak RSS a step adds to the resident set
between steps (after one step has run, so imports and optimizer state are
not counted for either library), and the achieved GFLOP/s as a fraction of
this machine's float32 matmul peak (the faster of NumPy's and MKL's
1024x1024 GEMM, with default threads).  The second table repeats the timing
in the other configurations, labelled: both libraries pinned to one thread,
chainrule with the mkl extra (Intel MKL for the GEMMs that run on one
thread) and with the numba extra (compiled elementwise kernels,
``chainrule._kernels``), each with default threads and with one; an extra
that is not installed is skipped.  Step-0 losses are printed side
by side: equal losses mean both libraries did the same work.

    python benchmarks/steps.py                     # all workloads, every configuration, 80 timed steps each
    python benchmarks/steps.py --quick             # one pair of processes, 4 blocks each, per configuration
    python benchmarks/steps.py --only cnn,lstm --configs default,one-thread
    python benchmarks/steps.py --configs 4-threads # both libraries pinned to 4 threads
    python benchmarks/steps.py --device cuda --batch-scale 8   # on a GPU: chainrule on CuPy vs PyTorch CUDA

On a GPU the memory column is still host RSS and the peak fraction is against
the CPU GEMM peak; the times and ratios are what the GPU comparison needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("mlp", "tiny", "cnn", "transformer", "deep", "resnet", "lstm")


# --------------------------------------------------------------------------- models (written once for both libraries)


def build(name, lib):
    """(model, optimizer factory, batch shapes) for workload ``name`` in library ``lib`` (torch or chainrule)."""
    nn = lib.nn
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        return model, ("sgd", 0.01), (128, 784)
    if name == "tiny":
        model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        return model, ("sgd", 0.01), (16, 32)
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1568, 10),
        )
        return model, ("sgd", 0.01), (64, 1, 28, 28)
    if name == "deep":
        layers = []
        for _ in range(49):
            layers += [nn.Linear(256, 256), nn.ReLU()]
        model = nn.Sequential(*layers, nn.Linear(256, 10))
        return model, ("sgd", 0.01), (64, 256)
    if name == "transformer":

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = nn.TransformerEncoderLayer(
                    128, 4, 512, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
                )
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.block(x).mean(dim=1))

        return Encoder(), ("adam", 1e-3), (16, 64, 128)
    if name == "lstm":

        class Recurrent(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(64, 128, batch_first=True)
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.head(out[:, -1])

        return Recurrent(), ("adam", 1e-3), (32, 32, 64)
    if name == "resnet":

        class Block(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(cout)
                self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(cout)
                self.down = None
                if stride != 1 or cin != cout:
                    self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                self.relu = nn.ReLU()

            def forward(self, x):
                out = self.relu(self.bn1(self.conv1(x)))
                out = self.bn2(self.conv2(out))
                return self.relu(out + (x if self.down is None else self.down(x)))

        model = nn.Sequential(
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
        return model, ("sgd_momentum", 0.01), (32, 3, 32, 32)
    raise ValueError(f"unknown workload {name!r}")


def flops_per_step(name):
    """Multiply-adds x2 of the forward pass, x3 for forward + backward (the usual estimate)."""

    def linear(b, i, o):
        return 2 * b * i * o

    def conv(b, cin, cout, h, w, k):
        return 2 * b * cout * h * w * cin * k * k

    if name == "mlp":
        fwd = linear(128, 784, 512) + linear(128, 512, 512) + linear(128, 512, 10)
    elif name == "tiny":
        fwd = linear(16, 32, 64) + linear(16, 64, 64) + linear(16, 64, 10)
    elif name == "cnn":
        fwd = conv(64, 1, 16, 28, 28, 3) + conv(64, 16, 32, 14, 14, 3) + linear(64, 1568, 10)
    elif name == "deep":
        fwd = 49 * linear(64, 256, 256) + linear(64, 256, 10)
    elif name == "transformer":
        b, seq, d = 16, 64, 128
        fwd = (
            4 * linear(b * seq, d, d) + 2 * (2 * b * seq * seq * d) + linear(b * seq, d, 512) + linear(b * seq, 512, d)
        )
        fwd += linear(b, d, 10)
    elif name == "lstm":
        fwd = 32 * linear(32, 64 + 128, 4 * 128) + linear(32, 128, 10)
    elif name == "resnet":
        b = 32
        fwd = conv(b, 3, 16, 32, 32, 3) + 2 * conv(b, 16, 16, 32, 32, 3)
        fwd += conv(b, 16, 32, 16, 16, 3) + conv(b, 32, 32, 16, 16, 3) + conv(b, 16, 32, 16, 16, 1)
        fwd += conv(b, 32, 64, 8, 8, 3) + conv(b, 64, 64, 8, 8, 3) + conv(b, 32, 64, 8, 8, 1) + linear(b, 64, 10)
    else:
        raise ValueError(name)
    return 3 * fwd


# --------------------------------------------------------------------------- one library, one workload (a process)


def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak_rss():
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def prepare(name, lib_name, weights_path, batch_seed=0):
    """A function that runs one training step of ``name`` in ``lib_name`` and returns its timings and loss."""
    import time

    import numpy as np

    if lib_name == "torch":
        import torch as lib

        if os.environ.get("CHAINRULE_BENCH_THREADS"):
            lib.set_num_threads(int(os.environ["CHAINRULE_BENCH_THREADS"]))
        lib.manual_seed(0)
        tensor = lib.from_numpy
    else:
        import chainrule as lib

        lib.manual_seed(0)
        tensor = lib.from_numpy
    model, (opt_name, lr), shape = build(name, lib)
    if lib_name == "torch":
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        if weights_path:
            np.savez(weights_path, **state)
    else:
        with np.load(weights_path, allow_pickle=False) as data:
            model.load_state_dict({k: data[k] for k in data.files})
    device = os.environ.get("CHAINRULE_BENCH_DEVICE", "cpu")
    if device != "cpu":
        model.to(device)
    params = list(model.parameters())
    optim = lib.optim
    if opt_name == "sgd":
        opt = optim.SGD(params, lr=lr)
    elif opt_name == "sgd_momentum":
        opt = optim.SGD(params, lr=lr, momentum=0.9)
    else:
        opt = optim.Adam(params, lr=lr)
    rng = np.random.default_rng(batch_seed)
    shape = (shape[0] * int(os.environ.get("CHAINRULE_BENCH_BATCH_SCALE", "1")), *shape[1:])
    x = tensor(rng.standard_normal(shape).astype(np.float32)).to(device)
    y = tensor(rng.integers(0, 10, shape[0]).astype(np.int64)).to(device)
    loss_fn = lib.nn.functional.cross_entropy
    model.train()
    sync = (lambda: None) if device == "cpu" else lib.cuda.synchronize  # GPU work is asynchronous

    def step():
        sync()
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        sync()
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        opt.step()
        sync()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t0, loss

    return step


def worker(name, lib_name, steps, weights_path):
    """One library alone in this process, serving blocks of ``steps`` timed steps (``_common.serve``): each
    block's median forward, backward and step times; at the end the step-0 loss and the peak RSS a step adds.

    Each library runs in its own process: both keep pools of threads that
    spin for a while after their work (OpenBLAS's, PyTorch's OpenMP), and in
    one process each library's spinning threads would slow the other's steps.
    Three steps run before anything is measured, so lazily imported code and
    state created once (optimizer moments) count for neither library: the
    memory figure is what a step allocates and frees (activations,
    gradients, temporaries) above the resident set.
    """
    import statistics

    step = prepare(name, lib_name, weights_path)
    loss0 = float(step()[3].item())
    step()
    step()
    try:  # return freed heap to the kernel, so that the baseline is live memory only (both libraries use malloc)
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    windowed = _reset_peak_rss()
    baseline = _status_mb("VmRSS")

    def run_block():
        times = ([], [], [])
        for _ in range(steps):
            t = step()
            for j in range(3):
                times[j].append(t[j])
        return {key: 1e3 * statistics.median(ts) for key, ts in zip(("fwd_ms", "bwd_ms", "step_ms"), times)}

    def finish():
        if lib_name == "torch":
            import torch

            result = {"threads": torch.get_num_threads()}
        else:
            import chainrule

            result = {"threads": chainrule.get_num_threads(), "busy": chainrule.threads.info()["machine_busy"]}
        result.update(loss0=loss0, rss_growth_mb=_status_mb("VmHWM") - baseline, windowed=windowed)
        return result

    sys.path.insert(0, str(HERE))
    from _common import serve

    serve(run_block, finish)


# --------------------------------------------------------------------------- the parent: run all, print the table


def matmul_peak_gflops():
    import time

    import numpy as np

    from chainrule import backend

    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    best = 0.0
    for gemm in (np.matmul, lambda x, y: backend.matmul(np, x, y)):  # NumPy's BLAS, and MKL where installed
        gemm(a, a)
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(3):
                gemm(a, a)
            samples.append((time.perf_counter() - t) / 3)
        best = max(best, 2 * 1024**3 / sorted(samples)[2] / 1e9)
    return best


def mkl_installed():
    from chainrule import _mkl

    return bool(_mkl._candidates())


def numba_installed():
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def configurations(names):
    """{name: (label, CHAINRULE_BLAS, pinned threads or None, CHAINRULE_KERNELS, CHAINRULE_DNNL)} for the names
    asked for."""
    known = {
        "default": ("default: quickstart install, default threads", "numpy", None, "numpy", "auto"),
        "one-thread": ("one thread each", "numpy", 1, "numpy", "auto"),
        "no-onednn": ("without oneDNN (CHAINRULE_DNNL=off), default threads", "numpy", None, "numpy", "off"),
        "no-onednn-one-thread": ("without oneDNN, one thread each", "numpy", 1, "numpy", "off"),
        "mkl": ("mkl extra, default threads", "mkl", None, "numpy", "auto"),
        "mkl-one-thread": ("mkl extra, one thread each", "mkl", 1, "numpy", "auto"),
        "numba": ("numba extra, default threads", "numpy", None, "auto", "auto"),
        "numba-one-thread": ("numba extra, one thread each", "numpy", 1, "auto", "auto"),
    }
    chosen = {}
    for name in names:
        if name.endswith("-threads") and name.split("-")[0].isdigit():
            count = int(name.split("-")[0])
            chosen[name] = (f"{count} threads each", "numpy", count, "numpy", "auto")
        elif name in known:
            if known[name][1] == "mkl" and not mkl_installed():
                print(f"  skipping {name}: the mkl extra is not installed", file=sys.stderr)
                continue
            if known[name][3] == "auto" and not numba_installed():
                print(f"  skipping {name}: the numba extra is not installed", file=sys.stderr)
                continue
            chosen[name] = known[name]
        else:
            sys.exit(
                f"steps.py: unknown configuration {name!r} "
                "(default, one-thread, no-onednn, no-onednn-one-thread, mkl, mkl-one-thread, numba, numba-one-thread, "
                "N-threads)"
            )
    return chosen


def _summary(blocks, finals):
    """One library's figures over all its blocks: median step, forward and backward times of the blocks, the
    first process's step-0 loss and thread count, the median RSS growth over its processes."""
    import statistics

    result = {key: statistics.median(b[key] for b in blocks) for key in ("fwd_ms", "bwd_ms", "step_ms")}
    result.update(loss0=finals[0]["loss0"], threads=finals[0]["threads"])
    result["rss_growth_mb"] = statistics.median(f["rss_growth_mb"] for f in finals)
    return result


def start_worker(name, lib_name, steps, weights_path, config):
    """A ``Served`` worker process of ``lib_name`` in ``config``'s environment, built and warmed up."""
    from _common import Served

    _, blas, threads, kernels, dnnl = config
    thread_vars = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in thread_vars}
    env.pop("CHAINRULE_BENCH_THREADS", None)
    env["CHAINRULE_BLAS"] = blas
    env["CHAINRULE_KERNELS"] = kernels  # the quickstart install has no numba: off unless the configuration says
    env["CHAINRULE_DNNL"] = dnnl  # the quickstart install has oneDNN (Linux x86-64): on unless the configuration says
    if threads is not None:
        env.update(
            CHAINRULE_BENCH_THREADS=str(threads),
            OMP_NUM_THREADS=str(threads),
            OPENBLAS_NUM_THREADS=str(threads),
            MKL_NUM_THREADS=str(threads),
        )
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--lib",
        lib_name,
        "--steps",
        str(steps),
        "--weights",
        weights_path,
    ]
    return Served(f"{lib_name} {name}", cmd, env)


def compare(name, steps, blocks, rounds, weights, config):
    """(chainrule's figures, PyTorch's, the ratio): ``rounds`` pairs of worker processes, each pair taking
    ``blocks`` turns of ``steps`` steps; the ratio is the median of the paired blocks' ratios."""
    from _common import paired_ratio, side_by_side

    start = lambda lib: start_worker(name, lib, steps, weights, config)  # noqa: E731
    runs = side_by_side(start, ("torch", "chainrule"), blocks, rounds)  # torch first: it writes the initial weights
    ratio = paired_ratio(runs["chainrule"][0], runs["torch"][0])
    return _summary(*runs["chainrule"]), _summary(*runs["torch"]), ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer timed steps")
    parser.add_argument("--only", help="comma-separated workloads")
    parser.add_argument(
        "--configs",
        default="default,one-thread,no-onednn,no-onednn-one-thread,mkl,mkl-one-thread,numba,numba-one-thread",
        help="comma-separated: default, one-thread, no-onednn, no-onednn-one-thread, mkl, mkl-one-thread, numba, "
        "numba-one-thread, N-threads "
        "(the first gets the full table; an extra that is not installed is skipped)",
    )
    parser.add_argument("--steps", type=int, help="timed steps per block (5)")
    parser.add_argument("--blocks", type=int, help="blocks per process, the libraries taking turns (8; --quick: 4)")
    parser.add_argument("--rounds", type=int, help="processes per library and configuration (2; --quick: 1)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (chainrule on CuPy against PyTorch CUDA)")
    parser.add_argument("--batch-scale", type=int, default=1, help="multiply every workload's batch size")
    parser.add_argument("--worker")
    parser.add_argument("--lib")
    parser.add_argument("--weights")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.lib, args.steps, args.weights)
        return
    sys.path.insert(0, str(HERE))
    names = args.only.split(",") if args.only else list(WORKLOADS)
    steps = args.steps or 5
    blocks = args.blocks or (4 if args.quick else 8)
    rounds = args.rounds or (1 if args.quick else 2)
    if args.device != "cpu":
        import torch

        import chainrule

        if not (chainrule.cuda.is_available() and torch.cuda.is_available()):
            sys.exit(f"steps.py: --device {args.device} needs CuPy with a GPU and a CUDA build of torch")
    os.environ["CHAINRULE_BENCH_DEVICE"] = args.device
    os.environ["CHAINRULE_BENCH_BATCH_SCALE"] = str(args.batch_scale)
    configs = configurations(args.configs.split(","))
    if not configs:
        sys.exit("steps.py: no configuration to run")
    first = next(iter(configs))
    peak = matmul_peak_gflops()
    rows, losses, summary = [], [], []
    threads_used = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            weights = str(Path(tmp) / f"{name}.npz")
            line = [name]
            for key, config in configs.items():
                ours, theirs, ratio = compare(name, steps, blocks, rounds, weights, config)
                threads_used[key] = (ours["threads"], theirs["threads"])
                line += [f"{ours['step_ms']:.2f}", f"{theirs['step_ms']:.2f}", f"{ratio:.2f}"]
                if key == first:
                    first_ours, first_theirs, first_ratio = ours, theirs, ratio
            summary.append(line)
            ours, theirs, ratio = first_ours, first_theirs, first_ratio
            gflop = flops_per_step(name) * args.batch_scale / 1e9
            rows.append(
                [
                    name,
                    f"{ours['step_ms']:.2f}",
                    f"{theirs['step_ms']:.2f}",
                    f"{ratio:.2f}",
                    f"{ours['bwd_ms'] / ours['fwd_ms']:.2f}",
                    f"{theirs['bwd_ms'] / theirs['fwd_ms']:.2f}",
                    f"{ours['rss_growth_mb']:.0f}",
                    f"{theirs['rss_growth_mb']:.0f}",
                    f"{gflop / (ours['step_ms'] / 1e3) / peak:.2f}",
                    f"{gflop / (theirs['step_ms'] / 1e3) / peak:.2f}",
                ]
            )
            losses.append(
                [name, f"{ours['loss0']:.6f}", f"{theirs['loss0']:.6f}", f"{abs(ours['loss0'] - theirs['loss0']):.1e}"]
            )
            print(f"  done {name}", file=sys.stderr)
    from _common import print_table

    cr_threads, torch_threads = threads_used[first]
    print_table(
        f"Training step on {args.device}, float32, batch x{args.batch_scale}; {configs[first][0]} "
        f"(chainrule {cr_threads}, torch {torch_threads} threads); {rounds} process(es) per library taking "
        f"turns with the other's, {blocks} blocks of {steps} steps each: medians of the blocks' medians, the ratio "
        "the median of neighbouring blocks' ratios; "
        f"matmul peak {peak:.1f} GFLOP/s",
        [
            "workload",
            "chainrule ms",
            "torch ms",
            "ratio",
            "bwd/fwd cr",
            "bwd/fwd torch",
            "RSS+ cr MB",
            "RSS+ torch MB",
            "peak frac cr",
            "peak frac torch",
        ],
        rows,
    )
    header = ["workload"]
    for label, *_ in configs.values():
        header += [f"{label}: cr ms", "torch ms", "ratio"]
    threads_note = "; ".join(f"{key}: chainrule {c}, torch {t} threads" for key, (c, t) in threads_used.items())
    print_table(f"Step time by configuration (ms; {threads_note})", header, summary)
    print_table("Step-0 loss (same weights, same batch)", ["workload", "chainrule", "torch", "|diff|"], losses)


if __name__ == "__main__":
    main()
