"""Step capture: chainrule eager vs ``chainrule.compile`` vs PyTorch eager, in one process.

For each workload of ``steps.py`` named below, three copies of the model start
from the same weights (PyTorch's initialization, loaded into chainrule) and
take training steps on the same batch (``zero_grad``, cross-entropy forward,
``backward``, optimizer ``step``): chainrule eager, the same step through
``chainrule.compile``, and PyTorch eager.  With one thread the three alternate
step by step; with default threads they alternate in blocks of steps with a
pause between (each library's idle threads spin for a while and would slow the
other), so that a machine whose speed drifts treats them alike.  The table
gives median milliseconds per step and the ratios.  Before timing, the script
checks that the compiled copy's losses and parameters equal the eager copy's
bit for bit after a few steps (under one thread: with several, the BLAS's
thread count is chosen by timing and changes the rounding of eager itself).

Each thread configuration runs in its own process (one thread: both libraries
pinned to one; default: each library's default)::

    python benchmarks/compile.py                         # tiny, mlp, deep, transformer; one thread and default
    python benchmarks/compile.py --only tiny,deep --threads one --rounds 5 --steps 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("tiny", "mlp", "deep", "transformer")


def _setup(name, lib, state=None):
    """(step function, model) of workload ``name`` in ``lib``; ``state``: weights to load (chainrule)."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    from steps import build

    lib.manual_seed(0)
    model, (opt_name, lr), shape = build(name, lib)
    if state is not None:
        model.load_state_dict(state)
    params = list(model.parameters())
    opt = lib.optim.SGD(params, lr=lr) if opt_name == "sgd" else lib.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal(shape).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, shape[0]).astype(np.int64))
    loss_fn = lib.nn.functional.cross_entropy

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, model, (x, y)


def _check_bits(name, state):
    """Compiled and eager chainrule, same start: losses and parameters equal bit for bit after 6 steps."""
    import chainrule as cr

    before = cr.get_num_threads()
    cr.set_num_threads(1)
    try:
        eager, m1, batch = _setup(name, cr, state)
        compiled, m2, _ = _setup(name, cr, state)
        compiled = cr.compile(compiled)
        for _ in range(6):
            if eager(*batch)._data.tobytes() != compiled(*batch)._data.tobytes():
                return False
        return all(p._data.tobytes() == q._data.tobytes() for p, q in zip(m1.parameters(), m2.parameters()))
    finally:
        cr.set_num_threads(before)


def run(names, threads, rounds, steps):
    import torch

    import chainrule as cr

    if threads == "one":
        cr.set_num_threads(1)
        torch.set_num_threads(1)
    rows = []
    for name in names:
        t_step, t_model, t_batch = _setup(name, torch)
        state = {k: v.detach().numpy().copy() for k, v in t_model.state_dict().items()}
        bits = _check_bits(name, state)
        e_step, _, e_batch = _setup(name, cr, state)
        c_fn, _, c_batch = _setup(name, cr, state)
        c_step = cr.compile(c_fn)
        runs = {"eager": (e_step, e_batch), "compiled": (c_step, c_batch), "torch": (t_step, t_batch)}
        times = {k: [] for k in runs}
        for fn, batch in runs.values():  # warm-up (the compiled step traces twice here)
            for _ in range(4):
                fn(*batch)
        for _ in range(rounds):
            if threads == "one":  # no thread pools that spin: alternate step by step, so drift treats all alike
                for _ in range(steps):
                    for key, (fn, batch) in runs.items():
                        t0 = time.perf_counter()
                        fn(*batch)
                        times[key].append(time.perf_counter() - t0)
                continue
            for key, (fn, batch) in runs.items():
                time.sleep(0.3)  # let the other library's spinning threads go to sleep first
                for _ in range(steps):
                    t0 = time.perf_counter()
                    fn(*batch)
                    times[key].append(time.perf_counter() - t0)
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        replaying = "replayed" in c_step.explain()
        rows.append({"name": name, **med, "bits_equal": bits, "replaying": replaying})
    return {
        "threads": threads,
        "cr_threads": cr.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--threads", default="one,default", help="one, default, or both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per library per round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    if args.worker:
        print(json.dumps(run(names, args.threads, args.rounds, args.steps)))
        return
    for threads in args.threads.split(","):
        cmd = [sys.executable, __file__, "--worker", "--only", args.only, "--threads", threads]
        cmd += ["--rounds", str(args.rounds), "--steps", str(args.steps)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(
            f"\n{threads} thread(s) (chainrule {result['cr_threads']}, torch {result['torch_threads']}): "
            "median ms per step"
        )
        print(f"{'workload':<12} {'eager':>9} {'compiled':>9} {'torch':>9} {'comp/eager':>10} {'comp/torch':>10}  bits")
        for r in result["rows"]:
            bits = "equal" if r["bits_equal"] else "DIFFER"
            if not r["replaying"]:
                bits += " (not replaying)"
            print(
                f"{r['name']:<12} {r['eager']:9.3f} {r['compiled']:9.3f} {r['torch']:9.3f} "
                f"{r['compiled'] / r['eager']:10.2f} {r['compiled'] / r['torch']:10.2f}  {bits}"
            )


if __name__ == "__main__":
    main()
