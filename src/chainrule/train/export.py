"""``chainrule export RUN_DIR model.onnx``: a trained run's model as an ONNX file.

    chainrule export runs/digits-cnn-20250101-120000 digits.onnx            # (1, 1, 8, 8) -> (1, 10) logits
    chainrule export runs/mlp model.onnx --batch-size 32                     # the graph's shapes are static
    chainrule export runs/movielens-mf-... mf.onnx --batch-size 256          # (users, items) -> ratings
    chainrule export runs/minilm-sentiment-... sentiment.onnx --seq-len 64   # (input_ids, attention_mask) -> logits

The run's checkpoint says which recipe trained it; the model is rebuilt with
that recipe and the weights keep-best saved (``best.safetensors``; ``--weights
last`` takes the last epoch's from the checkpoint).  Recommendation runs are
read from their ``recommender.safetensors`` bundle, text runs from their saved
model directory.  The example inputs that fix the graph's shapes come from the
recipe's own data (a batch of ``--batch-size`` test samples), so nothing is
made up.  With onnxruntime installed the file is run on that batch and its
largest difference from chainrule's output is printed.  Needs
``pip install 'chainrule[onnx]'``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .commands import UsageError, _positive_int, register_command


def _arguments(parser):
    parser.add_argument("run_dir", type=Path, help="a run directory written by chainrule train")
    parser.add_argument("output", type=Path, help="the ONNX file to write")
    parser.add_argument("--batch-size", type=_positive_int, default=1, help="the batch the graph takes (1)")
    parser.add_argument("--seq-len", type=_positive_int, default=64, help="token positions, text runs only (64)")
    parser.add_argument(
        "--weights",
        choices=("best", "last"),
        default="best",
        help="keep-best's weights (best.safetensors, the default) or the last epoch's",
    )
    parser.add_argument("--opset", type=_positive_int, help="ONNX opset (default 18)")


def _recipe(run_dir: Path):
    from .commands import _saved_run  # noqa: PLC0415
    from .recipes import RECIPES  # noqa: PLC0415

    checkpoint = run_dir / "checkpoint.safetensors"
    if not checkpoint.is_file():
        raise UsageError(f"{run_dir} holds no checkpoint.safetensors: pass the directory of a chainrule train run")
    settings, _ = _saved_run(checkpoint)
    name = settings.get("recipe")
    if name not in RECIPES:
        raise UsageError(f"{checkpoint}: its recipe {name!r} is not one this version knows")
    return RECIPES[name], settings, checkpoint


def _classifier(r, settings, checkpoint, run_dir, args):
    """A plain recipe's model with the run's weights, and a batch of its test inputs."""
    from ..io import CheckpointError  # noqa: PLC0415
    from ..ops.shape import stack  # noqa: PLC0415
    from .checkpoint import load_checkpoint, restore_weights  # noqa: PLC0415

    data = Path(settings["data"]) if settings.get("data") else None
    ok, reason = r.available(data)
    if not ok:
        raise UsageError(reason)
    model = r.build_model()
    best = run_dir / "best.safetensors"
    try:
        if args.weights == "best" and best.is_file():
            restore_weights(model, best)
            source = best
        else:
            load_checkpoint(checkpoint, model, restore_rng=False)
            source = checkpoint
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    _, _, test = r.build_data(int(settings.get("seed", 0)), data)
    count = min(args.batch_size, len(test))
    if count < args.batch_size:
        raise UsageError(f"--batch-size {args.batch_size}: the test split has {len(test)} samples")
    x = stack([test[i][0] for i in range(count)])
    return model, (x,), source


def _recommender(run_dir, args):
    from ..creation import tensor  # noqa: PLC0415
    from ..io import CheckpointError  # noqa: PLC0415
    from ..models.recommender import Recommender, RecommenderError  # noqa: PLC0415

    try:
        rec = Recommender.load(run_dir)
    except (RecommenderError, CheckpointError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    rng = np.random.default_rng(0)
    model = rec.model
    users = rng.integers(0, model.num_users, args.batch_size)
    items = rng.integers(0, model.num_items, args.batch_size)
    return model, (tensor(users), tensor(items)), run_dir / "recommender.safetensors"


def _text(run_dir, args):
    from ..creation import tensor  # noqa: PLC0415
    from ..models import BertForSequenceClassification, ConfigError, WeightsError  # noqa: PLC0415

    try:
        model = BertForSequenceClassification.from_pretrained(run_dir)
    except (ConfigError, WeightsError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    length = min(args.seq_len, model.config.max_position_embeddings)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, model.config.vocab_size, (args.batch_size, length))
    mask = np.ones((args.batch_size, length), dtype=np.int64)
    mask[:, length // 2 :] = rng.integers(0, 2, (args.batch_size, length - length // 2)).cumprod(axis=1)  # padding
    return model, (tensor(ids), tensor(mask)), run_dir / "model.safetensors"


def _describe(value) -> str:
    return f"{value.name} {tuple(d.dim_value for d in value.type.tensor_type.shape.dim)}"


def cmd_export(args) -> int:
    if importlib.util.find_spec("onnx") is None:  # before any work: the extra is missing, say so in one line
        raise UsageError("chainrule export needs onnx, which is not installed: pip install 'chainrule[onnx]'")
    from ..onnx import DEFAULT_OPSET, ExportError, check_outputs, export  # noqa: PLC0415

    if not args.run_dir.is_dir():
        raise UsageError(f"run directory {args.run_dir} does not exist")
    r, settings, checkpoint = _recipe(args.run_dir)
    if r.name.startswith("movielens-"):
        model, inputs, source = _recommender(args.run_dir, args)
    elif r.name.startswith("minilm-"):
        model, inputs, source = _text(args.run_dir, args)
    else:
        model, inputs, source = _classifier(r, settings, checkpoint, args.run_dir, args)
    model.eval()
    try:
        proto = export(model, inputs, args.output, opset_version=args.opset or DEFAULT_OPSET)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    shapes = ", ".join(_describe(i) for i in proto.graph.input)
    outs = ", ".join(_describe(o) for o in proto.graph.output)
    weights = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    print(
        f"{args.output}: {r.name} from {source}; inputs {shapes} -> {outs}; {len(proto.graph.node)} nodes, "
        f"{weights:,} weights"
    )
    if importlib.util.find_spec("onnxruntime") is not None:
        from ..autograd.mode import no_grad  # noqa: PLC0415

        with no_grad():
            result = model(*inputs)
        expected = [result._data] if hasattr(result, "_data") else [t._data for t in result if t is not None]
        feeds = {i.name: t._data for i, t in zip(proto.graph.input, inputs)}
        try:
            worst = check_outputs(proto, feeds, expected)
        except ExportError as exc:
            raise UsageError(f"the exported file does not reproduce the model: {exc}") from None
        print(f"onnxruntime runs it: largest difference from chainrule {worst:.2g}")
    else:
        print("(install onnxruntime to run and check the file: pip install 'chainrule[onnx]')")
    return 0


register_command("export", "write a trained run's model as an ONNX file (chainrule[onnx])", _arguments, cmd_export)
