"""A ported real program timed on both libraries: nanoGPT's training step, PyTorch as written vs chainrule.

nanoGPT's ``model.py`` (vendored in ``tests/programs/nanogpt/upstream``) is loaded through
``tests/programs/harness.py`` exactly as the tests load it: once as written, against PyTorch, and once with only
its import lines rewritten to chainrule.  Both build the same GPT (6 layers, 4 heads, 128-dim embeddings, block
64, no dropout, train.py's ``bias=False``) in float32 from the same initial weights (PyTorch's initialization,
copied by state-dict name) and train on the same batches (16 x 64 character windows of makemore's names.txt)
with the program's own ``configure_optimizers`` (AdamW) and train.py's step: forward, backward,
``clip_grad_norm_(..., 1.0)``, ``optimizer.step()``, ``zero_grad(set_to_none=True)``.

Each library runs in its own process (both keep spinning thread pools that would slow the other); a process warms
up for three steps, then the two live side by side and take turns, a block of 3 steps each, the order
alternating, 8 blocks per process and two pairs of processes (``_common.interleave``), so that a machine whose
speed drifts treats both alike.  The table gives milliseconds per step (medians of the blocks' medians), the ratio
chainrule / PyTorch (the median of neighbouring blocks' ratios), and the step-0 losses side by side (equal
losses: both did the same work).

    python benchmarks/programs.py                    # default threads in both
    python benchmarks/programs.py --threads 1        # both libraries pinned to one thread
    python benchmarks/programs.py --rounds 1 --blocks 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 6, 4, 128, 64, 16
BATCHES = 24  # distinct batches a worker cycles through


def _batches(steps):
    """``steps`` (x, y) int64 batches of BATCH x BLOCK character windows over names.txt, as the tests cut them."""
    import numpy as np
    from tests.programs.harness import PROGRAMS

    text = (PROGRAMS / "makemore" / "upstream" / "names.txt").read_text()
    text = "\n".join(w.strip() for w in text.splitlines() if w.strip())
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.array([lookup[c] for c in text], dtype=np.int64)
    batches = []
    for step in range(steps):
        starts = ((np.arange(BATCH) + step * BATCH) * 131) % (len(ids) - BLOCK - 1)
        window = np.stack([ids[s : s + BLOCK + 1] for s in starts])
        batches.append((np.ascontiguousarray(window[:, :-1]), np.ascontiguousarray(window[:, 1:])))
    return len(chars), batches


def worker(backend, steps, weights_path):
    """Build and warm up nanoGPT's step on ``backend`` in this process, then serve blocks of ``steps`` timed steps
    (``_common.serve``: each block's median), the batches in turn; at the end the step-0 loss and thread count."""
    import contextlib
    import io
    import time

    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    from _common import serve
    from tests.programs.harness import backend_module, load_program, load_state_arrays, state_arrays

    lib = backend_module(backend)
    if backend == "torch" and os.environ.get("CHAINRULE_BENCH_THREADS"):
        lib.set_num_threads(int(os.environ["CHAINRULE_BENCH_THREADS"]))
    model_mod = load_program("nanogpt", backend, "model")
    vocab_size, batches = _batches(BATCHES)
    config = model_mod.GPTConfig(
        block_size=BLOCK, vocab_size=vocab_size, n_layer=N_LAYER, n_head=N_HEAD, n_embd=N_EMBD, dropout=0.0, bias=False
    )
    lib.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # the model prints its parameter count
        model = model_mod.GPT(config)
    if backend == "torch":
        np.savez(weights_path, **state_arrays(model))
    else:
        with np.load(weights_path, allow_pickle=False) as data:
            load_state_arrays(lib, model, {k: data[k] for k in data.files})
    with contextlib.redirect_stdout(io.StringIO()):  # and its optimizer groups
        optimizer = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), "cpu")
    model.train()
    tensors = [(lib.from_numpy(x), lib.from_numpy(y)) for x, y in batches]

    def step(x, y):  # train.py's step, without gradient accumulation or a scaler
        _, loss = model(x, y)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    loss0 = float(step(*tensors[0]).item())
    step(*tensors[1])
    step(*tensors[2])
    taken = [3]

    def run_block():
        times = []
        for _ in range(steps):
            x, y = tensors[taken[0] % len(tensors)]
            taken[0] += 1
            t0 = time.perf_counter()
            step(x, y)
            times.append(time.perf_counter() - t0)
        return {"step_ms": 1e3 * statistics.median(times)}

    serve(run_block, lambda: {"loss0": loss0, "threads": lib.get_num_threads()})


def start_worker(backend, steps, weights_path, threads):
    """A ``Served`` worker process of ``backend``, built and warmed up."""
    from _common import Served

    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.pop("CHAINRULE_BENCH_THREADS", None)
    env.setdefault("CHAINRULE_KERNELS", "numpy")  # the quickstart install: no numba extra,
    env.setdefault("CHAINRULE_BLAS", "numpy")  # no mkl extra (as steps.py's default configuration)
    if threads is not None:
        env.update({var: str(threads) for var in THREAD_VARS}, CHAINRULE_BENCH_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", backend, "--steps", str(steps)]
    return Served(backend, [*cmd, "--weights", weights_path], env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per block (3)")
    parser.add_argument("--blocks", type=int, default=8, help="blocks per process, the libraries taking turns (8)")
    parser.add_argument("--rounds", type=int, default=2, help="processes per library (2)")
    parser.add_argument("--threads", type=int, help="pin both libraries to this many threads (default: their own)")
    parser.add_argument("--worker")
    parser.add_argument("--weights")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.weights)
        return
    sys.path.insert(0, str(HERE))
    from _common import paired_ratio, print_table, side_by_side

    with tempfile.TemporaryDirectory() as tmp:
        weights = str(Path(tmp) / "nanogpt.npz")
        start = lambda backend: start_worker(backend, args.steps, weights, args.threads)  # noqa: E731
        # torch first: it writes the initial weights
        runs = side_by_side(start, ("torch", "chainrule"), args.blocks, args.rounds)
    (blocks, finals), (their_blocks, their_finals) = runs["chainrule"], runs["torch"]
    ours, theirs = finals[0], their_finals[0]
    ours_ms, theirs_ms = (statistics.median(b["step_ms"] for b in bs) for bs in (blocks, their_blocks))
    ratio = paired_ratio(blocks, their_blocks)

    print_table(
        f"nanoGPT training step ({N_LAYER} layers, {N_HEAD} heads, {N_EMBD}-dim, batch {BATCH} x {BLOCK}, AdamW, "
        f"float32; chainrule {ours['threads']}, torch {theirs['threads']} threads); {args.rounds} process(es) per "
        f"library taking turns with the other's, {args.blocks} blocks of {args.steps} steps each: medians of the "
        "blocks' medians, the ratio the median of neighbouring blocks' ratios",
        ["program", "chainrule ms", "torch ms", "ratio", "loss0 chainrule", "loss0 torch"],
        [
            [
                "nanogpt",
                f"{ours_ms:.2f}",
                f"{theirs_ms:.2f}",
                f"{ratio:.2f}",
                f"{ours['loss0']:.6f}",
                f"{theirs['loss0']:.6f}",
            ]
        ],
    )


if __name__ == "__main__":
    main()
