"""Throw N generated bad inputs of each class at the loaders and count how many are handled as promised.

    python -m tests.untrusted_attempts --n 30                  # this checkout
    PYTHONPATH=/tmp/old/src python -m tests.untrusted_attempts  # an older chainrule (git archive REV src | tar -x)

Promises, per attempt:

* paths: a name that leads out of the directory (index entry, symlink,
  absolute path, '..') is refused with an error of the loader and the same
  words whether or not the outside file exists;
* memory: sizes declared in a config, bundle or header that the files do
  not hold end in a clear error, with no MemoryError and a traced peak
  under 8x the files' size + 16 MiB;
* malformed: truncated, corrupted, mistyped, nested, non-UTF-8 input loads
  (when still valid) or ends in a clear error: a ValueError of chainrule's
  (or a ValueError naming the file), never a KeyError, TypeError,
  RecursionError, raw UnicodeDecodeError or JSONDecodeError;
* cli: ``chainrule predict`` / ``recommend`` on such input exit 1 with one
  ``error:`` line, or succeed.

The process runs under a lowered RLIMIT_AS (current + 2 GiB), so an old
loader's huge allocation fails with MemoryError instead of swapping, and
each attempt under a 30 s alarm.  Prints one table row per class: attempts,
failures and the first failure's kind.  Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import gzip
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import traceback
import tracemalloc
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.models import BertConfig, BertForSequenceClassification, MatrixFactorization, NeuMF, Recommender
from chainrule.train.cli import main as cli_main

VERBOSE = False  # --verbose: print the traceback of each failure
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "warm", "funny", "film", "dull"]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout


def clear(exc: BaseException, *names) -> bool:
    """A loader's own error: a chainrule ValueError, or a plain ValueError that names the file."""
    if not isinstance(exc, ValueError) or isinstance(exc, (UnicodeDecodeError, json.JSONDecodeError)):
        return False
    return type(exc).__module__.startswith("chainrule") or any(str(n) in str(exc) for n in names)


def attempt(call, *names, bound=None):
    """("ok" | "clear" | kind of failure, exception text, traced peak)."""
    tracemalloc.start()
    signal.alarm(30)
    try:
        call()
        kind, text = "ok", ""
    except Timeout:
        kind, text = "timeout", ""
    except MemoryError:
        kind, text = "MemoryError", ""
    except Exception as exc:  # noqa: BLE001 - classifying every exception is the point
        kind, text = ("clear" if clear(exc, *names) else type(exc).__name__), str(exc)
        if VERBOSE and kind != "clear":
            traceback.print_exc()
    finally:
        signal.alarm(0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if bound is not None and peak > bound and kind in ("ok", "clear"):
        kind = f"peak {peak >> 20} MiB"
    return kind, text, peak


def cli(argv) -> str:
    """'ok', 'error-line' (exit 1, one line starting 'error:') or what went wrong."""
    out, err = io.StringIO(), io.StringIO()
    signal.alarm(30)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli_main(argv)
    except Timeout:
        return "timeout"
    except SystemExit as exc:
        status = exc.code
    except MemoryError:
        return "MemoryError"
    except Exception as exc:  # noqa: BLE001
        return f"traceback ({type(exc).__name__})"
    finally:
        signal.alarm(0)
    text = err.getvalue()
    if status == 0:
        return "ok"
    if status == 1 and text.startswith("error: ") and text.count("\n") == 1:
        return "error-line"
    return f"exit {status}: {text[:60]!r}"


# ---------------------------------------------------------------------------
# the inputs


def make_template(base: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    directory = base / "template"
    cr.manual_seed(0)
    config = BertConfig(
        vocab_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
        max_position_embeddings=24, id2label={0: "neg", 1: "pos"},
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(directory)
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok.save(str(directory / "tokenizer.json"))
    return directory


def tensor_names(directory: Path) -> list:
    from safetensors import safe_open

    with safe_open(str(directory / "model.safetensors"), "numpy") as f:
        return list(f.keys())


def load_model(directory):
    from chainrule.text import Tokenizer

    BertForSequenceClassification.from_pretrained(directory)
    Tokenizer.from_pretrained(directory)


def bundle_state(kind: str) -> dict:
    cr.manual_seed(0)
    model = MatrixFactorization(4, 6, embedding_dim=3) if kind == "mf" else NeuMF(4, 6, gmf_dim=2, mlp_layers=(4, 2))
    return {
        "format": "chainrule.recommender/1",
        "model": type(model).__name__,
        "config": model.config(),
        "weights": model.state_dict(),
        "user_ids": np.array([10, 20, 30, 40], dtype=np.int64),
        "item_ids": [f"i{k}" for k in range(6)],
        "titles": [f"Movie {k}" for k in range(6)],
        "seen": np.array([[0, 1], [1, 2]], dtype=np.int64),
    }


def junk(rng: random.Random):
    return rng.choice(
        [None, True, -1, 0, 2**40, 10**30, -(2**63), 1.5, float("nan"), float("inf"), "x", "", [1, "a"], {"k": 1},
         [[[[]]]], "../../etc/passwd", {"0": "a", "5": "b"}, [2**70]]
    )  # fmt: skip


def twin_worlds(tmp: Path):
    for exists in (True, False):
        world = tmp / ("with" if exists else "sans")
        world.mkdir()
        (world / "outside").mkdir()
        yield exists, world


def paths_index(rng, tmp, template):
    names = tensor_names(template)
    choice = rng.choice(["../outside/x.safetensors", "{w}/outside/x.safetensors", "link_out/x.safetensors",
                         "link_file", "sub/../../outside/x.safetensors", "../../../../../../{w}/outside/x.safetensors"])  # fmt: skip
    redirected = rng.sample(names, rng.randint(1, len(names)))
    said, verdict = {}, "clear"
    for exists, world in twin_worlds(tmp):
        model = world / "model"
        shutil.copytree(template, model)
        (model / "model.safetensors").rename(model / "shard.safetensors")
        if exists:
            shutil.copy(model / "shard.safetensors", world / "outside" / "x.safetensors")
        os.symlink(world / "outside", model / "link_out")
        os.symlink(world / "outside" / "x.safetensors", model / "link_file")
        weight_map = dict.fromkeys(names, "shard.safetensors")
        for name in redirected:
            weight_map[name] = choice.format(w=world)
        (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
        kind, text, _ = attempt(lambda model=model: BertForSequenceClassification.from_pretrained(model), model)
        if kind != "clear":
            return "loaded from outside" if kind == "ok" else kind
        said[exists] = text.replace(str(world), "<w>")
    return verdict if said[True] == said[False] else "message reveals existence"


def paths_symlink(rng, tmp, template):
    case = rng.choice(["config.json", "model.safetensors", "tokenizer.json", "bundle", "u.data", "idx", "corpus"])
    said = {}
    for exists, world in twin_worlds(tmp):
        folder = world / "folder"
        folder.mkdir()
        outside = world / "outside" / "target"
        if case in ("config.json", "model.safetensors", "tokenizer.json"):
            shutil.rmtree(folder)
            shutil.copytree(template, folder)
            if exists:
                shutil.copy(folder / case, outside)
            (folder / case).unlink()
            os.symlink(outside, folder / case)
            call = lambda folder=folder: load_model(folder)  # noqa: E731
        elif case == "bundle":
            if exists:
                cr.io.save(bundle_state("mf"), outside)
            os.symlink(outside, folder / "recommender.safetensors")
            call = lambda folder=folder: Recommender.load(folder)  # noqa: E731
        elif case == "u.data":
            from chainrule.data.datasets import load_movielens_100k

            if exists:
                outside.write_text("1\t2\t3\t4\n")
            os.symlink(outside, folder / "u.data")
            call = lambda folder=folder: load_movielens_100k(folder)  # noqa: E731
        elif case == "idx":
            from chainrule.data.datasets import load_mnist

            if exists:
                outside.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"abc")
            os.symlink(outside, folder / "train-images-idx3-ubyte")
            os.symlink(outside, folder / "train-labels-idx1-ubyte")
            call = lambda folder=folder: load_mnist(folder)  # noqa: E731
        else:
            from chainrule.data.datasets.rotten_tomatoes import load_rotten_tomatoes

            if exists:
                outside.write_bytes(bz2.compress(b"category,text\nfresh,good\n"))
            os.symlink(outside, folder / "rotten_tomatoes_corpus_full.csv.bz2")
            call = lambda folder=folder: load_rotten_tomatoes(folder)  # noqa: E731
        kind, text, _ = attempt(call, folder)
        if kind == "ok":
            return f"{case}: loaded from outside"
        said[exists] = (kind, text.replace(str(world), "<w>"))
    if said[True] != said[False]:
        return f"{case}: message reveals existence"
    return "clear" if said[True][0] == "clear" else f"{case}: {said[True][0]}"


def memory_config(rng, tmp, template):
    model = tmp / "model"
    shutil.copytree(template, model)
    config = json.loads((model / "config.json").read_text())
    key = rng.choice(["vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size",
                      "max_position_embeddings", "type_vocab_size", "num_labels"])  # fmt: skip
    config[key] = rng.randint(2**20, 2**44) if key != "num_hidden_layers" else rng.randint(1000, 10**7)
    if key == "num_labels":
        config.pop("id2label"), config.pop("label2id")
        arrays = cr.io.load_file(model / "model.safetensors")
        cr.io.save_file(
            {k: v for k, v in arrays.items() if not k.startswith("classifier")}, model / "model.safetensors"
        )
    if key == "hidden_size":
        config["num_attention_heads"] = 1
    (model / "config.json").write_text(json.dumps(config))
    size = sum(f.stat().st_size for f in model.iterdir())
    kind, _, _ = attempt(
        lambda: BertForSequenceClassification.from_pretrained(model), model, bound=8 * size + (16 << 20)
    )
    return kind


def memory_bundle(rng, tmp, template):
    state = bundle_state(rng.choice(["mf", "ncf"]))
    key = rng.choice(
        ["num_users", "num_items", "embedding_dim" if state["model"] == "MatrixFactorization" else "gmf_dim"]
    )
    state["config"][key] = rng.randint(2**20, 2**40)
    if rng.random() < 0.5:
        state["weights"] = {}
    path = tmp / "recommender.safetensors"
    cr.io.save(state, path)
    return attempt(lambda: Recommender.load(path), path, bound=8 * path.stat().st_size + (16 << 20))[0]


def memory_idx(rng, tmp, template):
    from chainrule.data.datasets import read_idx

    dims = [rng.randint(2**10, 2**16) for _ in range(rng.randint(2, 4))]
    raw = b"\x00\x00\x08" + bytes([len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    raw += bytes(rng.randint(0, 4096))
    gz = rng.random() < 0.5
    path = tmp / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return attempt(lambda: read_idx(path), path, bound=8 * len(raw) + (16 << 20))[0]


def memory_text(rng, tmp, template):
    from chainrule.data.datasets import load_interactions

    n = rng.randint(5_000, 30_000)
    rows = [[f"u{k % 97}", f"i{k % 89}", str(1 + k % 5)] for k in range(n)]
    rows[rng.randrange(n)][rng.randrange(2)] = "x" * rng.randint(1 << 20, 4 << 20)
    path = tmp / "ratings.tsv"
    path.write_text("user\titem\trating\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    return attempt(lambda: load_interactions(path), path, bound=64 * path.stat().st_size + (16 << 20))[0]


def corrupt(rng, raw: bytes) -> bytes:
    how = rng.choice(["truncate", "flip", "not-utf8", "nest", "append"])
    at = rng.randint(0, len(raw))
    if how == "truncate":
        return raw[:at]
    if how == "flip":
        return raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    if how == "not-utf8":
        return raw[:at] + b"\xff\xfe\xc3" + raw[at:]
    if how == "nest":
        return b"[" * 100_000 + b"]" * 100_000
    return raw + raw[:at]


def malformed_config(rng, tmp, template):
    model = tmp / "model"
    shutil.copytree(template, model)
    config = json.loads((model / "config.json").read_text())
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*config, "id2label", "pad_token_id", "hidden_act", "initializer_range"])
        if rng.random() < 0.2:
            config.pop(key, None)
        else:
            config[key] = junk(rng)
    (model / "config.json").write_text(json.dumps(config))
    return attempt(lambda: load_model(model), model)[0]


def malformed_files(rng, tmp, template):
    model = tmp / "model"
    shutil.copytree(template, model)
    name = rng.choice(["config.json", "model.safetensors", "tokenizer.json", "model.safetensors.index.json"])
    if name == "model.safetensors.index.json":
        names = tensor_names(model)
        (model / "model.safetensors").rename(model / "shard.safetensors")
        index = {"weight_map": dict.fromkeys(names, "shard.safetensors")}
        if rng.random() < 0.5:
            index["weight_map"][rng.choice(names)] = junk(rng)
            (model / name).write_text(json.dumps(index))
        else:
            (model / name).write_bytes(corrupt(rng, json.dumps(index).encode()))
    else:
        (model / name).write_bytes(corrupt(rng, (model / name).read_bytes()))
    return attempt(lambda: load_model(model), model)[0]


def malformed_bundle(rng, tmp, template):
    state = bundle_state(rng.choice(["mf", "ncf"]))
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(["config", "weights", "entry", "drop", "seen"])
        if where == "config" and isinstance(state.get("config"), dict):
            state["config"][rng.choice([*state["config"], "extra"])] = junk(rng)
        elif where == "weights" and isinstance(state.get("weights"), dict):
            shape = tuple(rng.randint(0, 5) for _ in range(rng.randint(0, 3)))
            state["weights"][rng.choice([*state["weights"], "extra"])] = np.zeros(shape, np.float32)
        elif where == "entry":
            state[rng.choice([*state])] = rng.choice([junk(rng), np.zeros((2, 3), np.int64), ["a", 1]])
        elif where == "drop":
            state.pop(rng.choice([*state]), None)
        else:
            state["seen"] = np.array([[rng.randint(-(2**40), 2**40) for _ in range(2)]], dtype=np.int64)
    path = tmp / "recommender.safetensors"
    cr.io.save(state, path)
    return attempt(lambda: Recommender.load(path).recommend(10, k=2), path)[0]


def malformed_ratings(rng, tmp, template):
    from chainrule.data.datasets import load_interactions

    fields = ["1", "2", "3.5", "nan", "inf", "1e400", "", '"', '"a,b"', "x\x00y", "é", "::"]
    sep = rng.choice([",", "\t", ";", "::"])
    lines = [sep.join(rng.choice(fields) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(0, 8))]
    raw = "\n".join(lines).encode()
    if rng.random() < 0.5:
        at = rng.randint(0, len(raw))
        raw = raw[:at] + b"\xff\xc3" + raw[at:]
    path = tmp / "r.csv"
    path.write_bytes(raw)
    return attempt(lambda: load_interactions(path), path)[0]


def malformed_items(rng, tmp, template):
    from chainrule.data.datasets import load_movielens_100k

    (tmp / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\n1\t1\t4\n")
    item = rng.choice([b"", b"item_id:token\n1\n", b"id\ttitle\n1\tx\n", b"item_id:token\tmovie_title:token_seq\n1\n",
                       b"\xff\xfe", b"item_id:token\tmovie_title:token_seq\trelease_year:token\n1\n"])  # fmt: skip
    (tmp / "ml-100k.item").write_bytes(item)
    return attempt(lambda: load_movielens_100k(tmp), tmp)[0]


def malformed_idx(rng, tmp, template):
    from chainrule.data.datasets import load_mnist

    def one(name, shape, kind):
        raw = b"\x00\x00" + bytes([kind, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
        count = int(np.prod(shape)) if shape else 1
        raw += bytes(count * {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}[kind])
        if rng.random() < 0.3:
            raw = raw[: rng.randint(0, len(raw))]
        (tmp / name).write_bytes(raw)

    n = rng.randint(0, 4)
    one("train-images-idx3-ubyte", rng.choice([(n, 2, 2), (n,), (), (n, 3)]), rng.choice([0x08, 0x0D]))
    one("train-labels-idx1-ubyte", rng.choice([(n,), (n, 1), (), (n + 1,)]), rng.choice([0x08, 0x09, 0x0D, 0x0E]))
    return attempt(lambda: load_mnist(tmp), tmp)[0]


def cli_predict(rng, tmp, template):
    model = tmp / "model"
    shutil.copytree(template, model)
    name = rng.choice(["config.json", "model.safetensors", "tokenizer.json"])
    (model / name).write_bytes(corrupt(rng, (model / name).read_bytes()))
    result = cli(["predict", str(model), "a warm film"])
    return "clear" if result in ("ok", "error-line") else result


def cli_recommend(rng, tmp, template):
    state = bundle_state(rng.choice(["mf", "ncf"]))
    where = rng.choice(["config", "entry", "raw"])
    path = tmp / "recommender.safetensors"
    if where == "config":
        state["config"][rng.choice([*state["config"]])] = junk(rng)
    elif where == "entry":
        state[rng.choice([*state])] = junk(rng)
    cr.io.save(state, path)
    if where == "raw":
        path.write_bytes(corrupt(rng, path.read_bytes()))
    result = cli(["recommend", str(tmp), "--user", "10", "--k", "2"])
    return "clear" if result in ("ok", "error-line") else result


CLASSES = {
    "paths: index names out of the directory": paths_index,
    "paths: fixed names symlinked out": paths_symlink,
    "memory: BERT config sizes": memory_config,
    "memory: recommender bundle sizes": memory_bundle,
    "memory: IDX header dimensions": memory_idx,
    "memory: one long id in a ratings file": memory_text,
    "malformed: config.json values": malformed_config,
    "malformed: truncated/corrupted model files": malformed_files,
    "malformed: recommender bundle entries": malformed_bundle,
    "malformed: ratings CSV/TSV": malformed_ratings,
    "malformed: recbole item file": malformed_items,
    "malformed: MNIST folders": malformed_idx,
    "cli: chainrule predict": cli_predict,
    "cli: chainrule recommend": cli_recommend,
}


def run(n: int, seed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (2 << 30), hard))
    signal.signal(signal.SIGALRM, _alarm)
    print(f"chainrule from {Path(cr.__file__).parent}; {n} attempts per class, seed {seed}")
    print(f"{'class':45s} {'attempts':>8s} {'failed':>6s}  first failure")
    with tempfile.TemporaryDirectory() as base:
        template = make_template(Path(base))
        for name, make in CLASSES.items():
            rng = random.Random(f"{seed}-{name}")
            failures = []
            for i in range(n):
                tmp = Path(base) / f"{len(failures)}-{i}-{abs(hash(name))}"
                tmp.mkdir()
                verdict = make(rng, tmp, template)
                if verdict not in ("ok", "clear"):
                    failures.append(verdict)
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"{name:45s} {n:8d} {len(failures):6d}  {failures[0] if failures else ''}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="attempts per class (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run the classes whose name contains this text")
    parser.add_argument("--verbose", action="store_true", help="print the traceback of each failure")
    args = parser.parse_args()
    VERBOSE = args.verbose
    if args.only:
        CLASSES = {k: v for k, v in CLASSES.items() if args.only in k}
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    run(args.n, args.seed)
