"""Training on a busy machine: the default recipe's model and loop, chainrule against PyTorch, quiet and loaded.

The workload is the default recipe (``chainrule train``: digits-cnn): its
CNN, Adam at lr 2e-3, batch 32, the bundled 8x8 digits (70% training split),
written once as a plain training loop for both libraries with the same
initial weights and the same batches.  Each run is a fresh process in the
default configuration (NumPy's OpenBLAS, each library's default threads, no
thread variables).  "Loaded" runs start two neighbour processes first that
do ordinary NumPy work with NumPy's default threads (512x512 float32 matrix
products, back to back) on the same cores, and stop them after.

Quiet and loaded runs alternate, both libraries in each round; the table
gives the median over the rounds of the training time, the slowdown (loaded
/ quiet) and the loaded ratio chainrule / PyTorch.  The row "chainrule,
deterministic" is chainrule with ``use_deterministic_algorithms(True)``,
which turns off its choice of thread counts by measured speed: what that choice is worth.  The
last row times the real command, ``chainrule train --epochs N``, end to end
(process start, evaluation and checkpoints included).

    python benchmarks/under_load.py                 # 3 rounds of 5 epochs
    python benchmarks/under_load.py --rounds 5 --epochs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import print_table

HERE = Path(__file__).resolve().parent

NEIGHBOUR = """
import numpy as np, time, sys
a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    a @ a
"""

TRAIN = """
import sys, time
import numpy as np
lib_name, epochs = sys.argv[1], int(sys.argv[2])
from chainrule.data.datasets import load_digits
x_all, y_all = load_digits()
x_all, y_all = x_all.numpy(), y_all.numpy()
order = np.random.default_rng(0).permutation(len(y_all))
train = order[: int(round(len(order) * 0.7))]
x, y = x_all[train], y_all[train]
if lib_name == "torch":
    import torch as lib
else:
    import chainrule as lib
    if lib_name == "chainrule-deterministic":
        lib.use_deterministic_algorithms(True)
nn = lib.nn
lib.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10),
)
if lib_name != "torch":  # the same initial weights as PyTorch's
    import torch
    torch.manual_seed(0)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 128),
        torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(128, 10),
    )
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})
opt = lib.optim.Adam(model.parameters(), lr=2e-3)
rng = np.random.default_rng(1)
batches = [rng.permutation(len(y)) for _ in range(epochs)]
model.train()
start = time.perf_counter()
for perm in batches:
    for i in range(0, len(perm), 32):
        idx = perm[i : i + 32]
        xb, yb = lib.from_numpy(x[idx]), lib.from_numpy(y[idx])
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
print(time.perf_counter() - start, float(loss.item()))
"""


def _env():
    thread_vars = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in thread_vars}
    env.pop("CHAINRULE_BENCH_THREADS", None)
    env["CHAINRULE_BLAS"] = "numpy"  # the quickstart's install has no mkl extra
    env["CHAINRULE_KERNELS"] = "numpy"  # nor the numba one
    return env


def run_training(lib_name, epochs):
    out = subprocess.run(
        [sys.executable, "-c", TRAIN, lib_name, str(epochs)], env=_env(), capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{lib_name} failed:\n{out.stderr[-3000:]}")
    seconds, loss = out.stdout.split()
    return float(seconds), float(loss)


def run_cli(epochs):
    with tempfile.TemporaryDirectory() as tmp:
        cli = Path(sys.executable).with_name("chainrule")
        cmd = [str(cli)] if cli.exists() else [sys.executable, "-c", "from chainrule.train.cli import main; main()"]
        start = time.perf_counter()
        out = subprocess.run(
            [*cmd, "train", "--epochs", str(epochs), "--no-progress", "--no-plots", "--out", str(Path(tmp) / "run")],
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"chainrule train failed:\n{out.stderr[-3000:]}")
        return time.perf_counter() - start, 0.0


class Neighbours:
    """Two processes doing NumPy matrix products with NumPy's default threads, for the duration of a block."""

    def __init__(self, count=2):
        self.count = count
        self.procs = []

    def __enter__(self):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        self.procs = [subprocess.Popen([sys.executable, "-c", NEIGHBOUR, "100000"], env=env) for _ in range(self.count)]
        time.sleep(1.0)  # let them start their thread pools
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--no-cli", action="store_true", help="skip timing the chainrule train command")
    args = parser.parse_args()
    runs = {
        "PyTorch": lambda: run_training("torch", args.epochs),
        "chainrule": lambda: run_training("chainrule", args.epochs),
        "chainrule, deterministic": lambda: run_training("chainrule-deterministic", args.epochs),
    }
    if not args.no_cli:
        runs[f"chainrule train --epochs {args.epochs} (whole command)"] = lambda: run_cli(args.epochs)
    times = {name: {"quiet": [], "loaded": []} for name in runs}
    for round_ in range(args.rounds):
        for name, fn in runs.items():
            times[name]["quiet"].append(fn()[0])
            with Neighbours():
                times[name]["loaded"].append(fn()[0])
        print(f"  round {round_ + 1} of {args.rounds} done", file=sys.stderr)
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    torch_loaded = med["PyTorch"]["loaded"]
    rows = []
    for name, m in med.items():
        ratio = f"{m['loaded'] / torch_loaded:.2f}" if "whole command" not in name else "-"
        rows.append([name, f"{m['quiet']:.2f}", f"{m['loaded']:.2f}", f"{m['loaded'] / m['quiet']:.2f}", ratio])
    print_table(
        f"Default recipe's training ({args.epochs} epochs of digits-cnn, batch 32, Adam) on {os.cpu_count()} CPU(s), "
        f"quiet and beside 2 NumPy processes with default threads; default configuration; "
        f"seconds, median of {args.rounds} rounds",
        ["run", "quiet s", "loaded s", "slowdown (loaded / quiet)", "loaded / PyTorch loaded"],
        rows,
    )


if __name__ == "__main__":
    main()
