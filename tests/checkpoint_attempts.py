"""Bad inputs in bulk for the io format, checkpoints, the CLI and run directories; counts per class.

Run against this checkout or an older one and compare the counts:

    python -m tests.checkpoint_attempts
    PYTHONPATH=/path/to/old/src python -m tests.checkpoint_attempts

The hypothesis tests in tests/io/test_roundtrip.py and tests/train/test_runs.py search the same classes; this
script throws a fixed, seeded batch at whichever chainrule is importable, so that old and new can be compared.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import tempfile
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.io import load, save
from chainrule.train.cli import main

QUICK = ["train", "--recipe", "digits-mlp", "--no-progress", "--no-plots"]
_DELETE = object()


def outcome(argv) -> str:
    """ok, one-line (one 'error:' line and status 1 or 2), traceback, or messy."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(argv)
    except SystemExit as exc:
        status = exc.code
    except Exception:  # noqa: BLE001 - counting what escapes is the point
        return "traceback"
    lines = err.getvalue().strip().splitlines()
    if status == 0:
        return "ok"
    return "one-line" if len(lines) == 1 and lines[0].startswith("error:") else "messy"


def random_nest(rng, depth=0):
    leaves = [None, True, 3, -(2**65), 1.5, float("nan"), float("inf"), "s", "__tensor__", "a.b", np.float32(2.5)]
    leaves += [cr.randn(2, 3), cr.zeros(0), cr.tensor(np.arange(6, dtype=np.int32).reshape(2, 3).T)]
    leaves += [np.ones((0, 2), np.float16), np.array(7, np.int64)]
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(leaves)
    if r < 0.6:
        return [random_nest(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if r < 0.7:
        return tuple(random_nest(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    keys = ["a", "b", "a.b", "1", 1, 0, "__tensor__", "__keytypes__", "x"]
    return {rng.choice(keys): random_nest(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, cr.Tensor):
        return same(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        nan = a.dtype.kind == "f"
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=nan)
    if isinstance(a, np.generic):
        return same(np.asarray(a), np.asarray(b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def round_trips(tmp, rng, n=300):
    counts = {"equal": 0, "altered silently": 0, "refused": 0, "crash on load": 0}
    for i in range(n):
        obj = {"root": random_nest(rng)}
        path = tmp / f"a{i}.safetensors"
        try:
            save(obj, path)
        except TypeError:
            counts["refused"] += 1
            continue
        try:
            back = load(path)
        except Exception:  # noqa: BLE001
            counts["crash on load"] += 1
            continue
        counts["equal" if same(obj, back) else "altered silently"] += 1
    return counts


def byte_edits(tmp):
    model = cr.nn.Linear(3, 2)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    path = save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, tmp / "b.safetensors")
    raw = path.read_bytes()
    silent = 0
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        path.write_bytes(bytes(changed))
        try:
            load(path)
            silent += 1
        except Exception:  # noqa: BLE001, S110 - a refused file is the expected outcome
            pass
    return {"edits": len(raw), "loaded silently": silent}


BAD_ARGUMENTS = {
    "--epochs": ["0", "-3", "1.5", "nan", "abc"],
    "--batch-size": ["0", "-1", "inf"],
    "--lr": ["0", "-0.1", "nan", "inf", "1e999", "abc"],
    "--weight-decay": ["-1", "nan", "inf", "x"],
    "--seed": ["-1", "1.5", str(2**64), "seed"],
    "--grad-clip": ["0", "-1", "nan", "inf"],
    "--optimizer": ["lbfgs"],
    "--recipe": ["nope"],
    "--seeds": ["a,b", "1,1", "-1,2"],
    "--monitor": ["0"],
    "--data": ["/no/such/dir"],
    "--resume": ["/no/such/file"],
}


def bad_arguments(tmp):
    counts: dict = {}
    a_file = tmp / "afile"
    a_file.write_text("x")
    cases = [(flag, value) for flag, values in BAD_ARGUMENTS.items() for value in values] + [("--out", str(a_file))]
    for i, (flag, value) in enumerate(cases):
        argv = [*QUICK, "--epochs", "1", flag, value]
        if flag != "--out":
            argv += ["--out", str(tmp / f"c{i}")]
        kind = outcome(argv)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _replace(node, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    items = dict(node) if isinstance(node, dict) else list(node)
    if value is _DELETE and not rest:
        del items[head]
    else:
        items[head] = _replace(items[head], rest, value)
    return items if isinstance(node, dict) else type(node)(items)


def mutated_checkpoints(tmp, rng, n=200):
    run = tmp / "run"
    outcome([*QUICK, "--epochs", "1", "--out", str(run)])
    base = load(run / "checkpoint.safetensors")
    paths = list(_paths(base))[1:]
    junk = [_DELETE, None, True, 0, -1, 2**70, 1.5, float("nan"), "x", [1, 2], {}, cr.zeros(0), cr.zeros(3), [[[]]]]
    counts: dict = {}
    for i in range(n):
        state = _replace(base, rng.choice(paths), rng.choice(junk))
        folder = tmp / f"d{i}"
        folder.mkdir()
        try:
            path = save(state, folder / "checkpoint.safetensors")
        except TypeError:
            kind = "refused by save"
        else:
            kind = outcome([*QUICK, "--resume", str(path), "--epochs", "2"])
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def run_directories(tmp):
    out = tmp / "mlp"
    outcome([*QUICK, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.05", "--out", str(out)])
    ckpt = str(out / "checkpoint.safetensors")
    readme = outcome(["train", "--no-progress", "--no-plots", "--resume", ckpt, "--epochs", "3"])
    again = outcome([*QUICK, "--epochs", "1", "--out", str(out)])
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    below = outcome([*QUICK, "--resume", ckpt, "--epochs", "1"])
    return {"README resume": readme, "--out onto a run": again, "log epochs after": epochs, "--epochs below": below}


def main_attempts():
    rng = random.Random(0)
    cr.manual_seed(0)
    tmp = Path(tempfile.mkdtemp())
    print("io round trips of random nests (300):", round_trips(tmp, rng))
    print("single-bit edits of a checkpoint:", byte_edits(tmp))
    print(f"bad CLI arguments ({sum(len(v) for v in BAD_ARGUMENTS.values()) + 1}):", bad_arguments(tmp))
    print("checkpoint contents mutated and resumed (200):", mutated_checkpoints(tmp, rng))
    print("run directories:", run_directories(tmp))


if __name__ == "__main__":
    main_attempts()
