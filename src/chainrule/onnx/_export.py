"""``export(model, args, f)``: trace the forward pass, translate each op, check the file, write it atomically."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import ChainruleError
from ._rules import RULES, UNSUPPORTED, RuleError, Unavailable
from ._trace import Trace, TraceError, compare, compare_outputs

DEFAULT_OPSET = 18


class ExportError(ChainruleError, ValueError):
    """The model cannot be exported as asked; the message names the ops or layers and says what to do."""


class MissingExtraError(ExportError, ImportError):
    """onnx (or onnxruntime, to verify) is not installed."""


def require_onnx():
    try:
        import onnx  # noqa: PLC0415
    except ImportError:
        raise MissingExtraError(
            "ONNX export needs the onnx package, which is not installed: pip install 'chainrule[onnx]'"
        ) from None
    return onnx


def supported_ops() -> list:
    """The primitives of the derivative table that export to ONNX."""
    return sorted(RULES)


# ---------------------------------------------------------------------------
# the graph being built


class Graph:
    """ONNX nodes and initializers, and the ONNX name of every traced array (by its source)."""

    def __init__(self, onnx, trace: Trace, input_names: list):
        self.onnx = onnx
        self.helper = onnx.helper
        self.trace = trace
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict = {("input", k): name for k, name in enumerate(input_names) if name is not None}
        self._constants: dict = {}  # id(array) -> initializer name
        self._used: set = set(self.names.values())
        self._count = 0
        self.record = None  # the record being translated (for names and messages)

    # names -------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        self._count += 1
        name = f"{hint}_{self._count}"
        while name in self._used:
            self._count += 1
            name = f"{hint}_{self._count}"
        self._used.add(name)
        return name

    def source(self, value):
        return self.trace.source(value)

    def value(self, value) -> str:
        """The ONNX name of an array (an input, a parameter, an earlier op's output, or a new constant)."""
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        source = self.trace.source(value)
        if source is None:
            return self.const(value)
        name = self.names.get(source)
        if isinstance(name, Unavailable):
            raise RuleError(name.reason)
        if name is not None:
            return name
        if source[0] == "param":
            name = self.names[source] = self._initializer(value, source[1])
            return name
        raise RuleError(f"reads an array that no earlier op made ({source})")  # an input left out of the graph

    def value_as(self, value, dtype) -> str:
        """``value`` cast to ``dtype`` where its dtype differs (the forward promoted it)."""
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if self.trace.source(array) is None and array.dtype != dtype:
            return self.const(array.astype(dtype))
        name = self.value(array)
        return name if array.dtype == dtype else self.cast(name, dtype)

    def _initializer(self, array, name) -> str:
        from onnx import numpy_helper  # noqa: PLC0415

        if name in self._used:
            name = self.fresh(name)
        self._used.add(name)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, array) -> str:
        array = np.asarray(array)
        key = id(array)
        if key not in self._constants:
            self.trace._keep.append(array)  # its id must stay its own
            self._constants[key] = self._initializer(array, self.fresh("const"))
        return self._constants[key]

    def scalar(self, value, dtype) -> str:
        return self.const(np.asarray(value, dtype=dtype))

    def ints(self, values) -> str:
        return self.const(np.asarray(values, dtype=np.int64))

    # nodes -------------------------------------------------------------------

    def node(self, op: str, inputs: list, outputs: int = 1, **attrs):
        hint = f"{self.record.name}{self.record.index}" if self.record is not None else op.lower()
        names = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), names, name=self.fresh(f"{op}"), **attrs))
        return names[0] if outputs == 1 else names

    def cast(self, name: str, dtype) -> str:
        return self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


# ---------------------------------------------------------------------------
# inputs and outputs


def _inputs(args) -> list:
    from ..tensor import Tensor  # noqa: PLC0415

    items = args if isinstance(args, (tuple, list)) else (args,)
    out = []
    for k, item in enumerate(items):
        if item is None or isinstance(item, Tensor):
            out.append(item)
        elif isinstance(item, np.ndarray):
            out.append(Tensor(item))
        else:
            raise ExportError(
                f"example input {k} is a {type(item).__name__}; pass Tensors (or NumPy arrays, or None) in args"
            )
    for k, item in enumerate(out):
        if item is not None and not isinstance(item._data, np.ndarray):
            raise ExportError(f"example input {k} is on {item.device}; export runs on the CPU: move it with .cpu()")
    return out


def _input_names(model, inputs, given) -> list:
    if given is not None:
        given = list(given)
        if len(given) != sum(t is not None for t in inputs):
            raise ExportError(f"input_names has {len(given)} names for {sum(t is not None for t in inputs)} inputs")
        it = iter(given)
        return [next(it) if t is not None else None for t in inputs]
    try:
        params = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) < len(inputs) or len(set(params)) != len(params):
        params = [f"input_{k}" if len(inputs) > 1 else "input" for k in range(len(inputs))]
    return [params[k] if t is not None else None for k, t in enumerate(inputs)]


def _outputs(result, prefix: str = "output") -> list:
    """[(name, Tensor)] of a forward's result: a Tensor, or tuples/lists/NamedTuples/dicts of them (nested)."""
    from ..tensor import Tensor  # noqa: PLC0415

    if isinstance(result, Tensor):
        return [(prefix, result)]
    if isinstance(result, dict):
        items = [(str(k), v) for k, v in result.items()]
    elif isinstance(result, tuple) and hasattr(result, "_fields"):
        items = list(zip(result._fields, result))
    elif isinstance(result, (tuple, list)):
        items = [(f"{prefix}_{k}", v) for k, v in enumerate(result)]
    else:
        raise ExportError(f"the forward pass returned a {type(result).__name__} as {prefix}; export needs Tensors")
    out = []
    for name, value in items:
        if value is not None:
            out += _outputs(value, name)
    if not out and prefix == "output":
        raise ExportError("the forward pass returned no tensor")
    return out


def _perturbed(inputs, seed=0):
    """Inputs with other values of the same shapes, dtypes and ranges (to find values frozen into the trace)."""
    from ..tensor import Tensor  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    out = []
    for t in inputs:
        if t is None:
            out.append(None)
            continue
        a = t._data
        if a.dtype.kind == "f" and a.size:
            # the same values in another order (arg-maxima move), plus noise (sums change)
            scale = float(a.std()) + float(np.abs(a).mean())
            shuffled = rng.permutation(a.reshape(-1)).reshape(a.shape)
            b = (shuffled + rng.standard_normal(a.shape) * (0.1 * scale + 1e-3)).astype(a.dtype)
        elif a.dtype.kind == "b":
            b = rng.random(a.shape) < 0.5
        elif a.dtype.kind in "iu" and a.size:
            low, high = int(a.min()), int(a.max())
            b = rng.integers(min(low, 0) if low >= 0 else low, max(high, 1) + 1, size=a.shape).astype(a.dtype)
        else:
            b = a.copy()
        out.append(Tensor(b))
    return out


def _trace(model, inputs, params):
    from .._tracing import exporting  # noqa: PLC0415
    from ..autograd.mode import no_grad  # noqa: PLC0415

    trace = Trace()
    for k, t in enumerate(inputs):
        if t is not None:
            trace.add_source(t._data, ("input", k))
    for name, array in params:
        trace.add_source(array, ("param", name))
    with no_grad(), exporting(), trace.recording():
        result = model(*inputs)
    return trace, _outputs(result)


def _parameters(model) -> list:
    from ..tensor import Tensor  # noqa: PLC0415

    named = []
    for name, p in list(model.named_parameters()) + list(model.named_buffers()):
        data = p._data if isinstance(p, Tensor) else p
        if isinstance(data, np.ndarray):
            named.append((name, data))
        elif data is not None:
            raise ExportError(
                f"parameter {name} is on {getattr(p, 'device', '?')}; export runs on the CPU: model.to('cpu') first"
            )
    return named


# ---------------------------------------------------------------------------
# export


def export(
    model,
    args,
    f,
    *,
    input_names=None,
    output_names=None,
    opset_version: int = DEFAULT_OPSET,
    verify: bool = False,
    rtol: float = 1e-4,
    atol: float = 1e-5,
):
    """Write ONNX of ``model``'s forward pass on the example inputs ``args`` to ``f``; returns the ModelProto.

    ``args`` is one Tensor or a tuple of Tensors (NumPy arrays and None are
    accepted too), passed to ``model(*args)``.  The graph has the example
    inputs' shapes and dtypes (static: export again for another batch size).
    The model runs in eval mode while it is traced (dropout off, batch norm on
    its running statistics) and is put back afterwards; parameters become
    initializers under their ``state_dict`` names.  ``input_names`` default to
    the parameter names of ``forward``; ``output_names`` to the fields of a
    NamedTuple result, the keys of a dict, or ``output``/``output_K``.

    The forward pass is traced twice, the second time on perturbed inputs,
    so that a value computed outside chainrule's ops (NumPy on ``.numpy()``) or
    control flow that depends on the data is an error rather than a silently
    wrong graph.  The file is checked with ``onnx.checker`` (full check, with
    shape inference) and written atomically.  ``verify=True`` also runs it in
    onnxruntime on the example inputs and raises unless every output is within
    ``atol + rtol * |expected|`` of chainrule's.

    Ops without an ONNX form raise one :class:`ExportError` that names all of
    them (``supported_ops()`` lists those that export).  As
    ``torch.onnx.export``, except: no ``dynamic_axes`` (shapes are static), and
    the file is checked before it is written.
    """
    onnx = require_onnx()
    from ..io import atomic_write  # noqa: PLC0415

    inputs = _inputs(args)
    names = _input_names(model, inputs, input_names)
    params = _parameters(model)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        try:
            first, outputs = _trace(model, inputs, params)
            second, others = _trace(model, _perturbed(inputs), params)
        except ExportError:
            raise
        compare(first, second)
        compare_outputs(first, second, outputs, others)
    except TraceError as exc:
        raise ExportError(f"cannot export {type(model).__name__}: {exc}") from None
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    proto = _build(onnx, model, first, inputs, names, outputs, output_names, opset_version)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"the ONNX graph of {type(model).__name__} does not pass onnx's checker: {exc}") from None
    atomic_write(Path(f), proto.SerializeToString())
    if verify:
        expected = [t._data for _, t in outputs]
        feeds = {n: t._data for n, t in zip(names, inputs) if t is not None}
        check_outputs(proto, feeds, expected, rtol, atol)
    return proto


def _build(onnx, model, trace, inputs, names, outputs, output_names, opset):
    helper = onnx.helper
    missing = Counter(r.name for r in trace.records if r.name not in RULES)
    if missing:
        parts = [
            f"'{name}' ({count} use{'s' if count > 1 else ''}"
            + (f": {UNSUPPORTED[name]}" if name in UNSUPPORTED else "")
            + ")"
            for name, count in missing.items()
        ]
        raise ExportError(
            f"cannot export {type(model).__name__}: no ONNX form for the op(s) {', '.join(parts)}. "
            "Hint: chainrule.onnx.supported_ops() lists what exports; rewrite that part of forward with those ops"
        )
    graph = Graph(onnx, trace, names)
    problems = []
    for record in trace.records:
        graph.record = record
        try:
            results = RULES[record.name](graph, record)
        except RuleError as exc:
            problems.append(f"op #{record.index} '{record.name}': {exc}")
            results = [Unavailable(f"it comes from op #{record.index} '{record.name}', which did not export")] * len(
                record.outputs
            )
        for k, result in enumerate(results):
            graph.names.setdefault(("op", record.index, k), result)
    graph.record = None
    if problems:
        raise ExportError(f"cannot export {type(model).__name__}: " + "; ".join(problems))
    hints = [n for n, _ in outputs]
    if output_names is not None:
        if len(output_names) != len(outputs):
            raise ExportError(f"output_names has {len(output_names)} names for {len(outputs)} outputs")
        hints = list(output_names)
    graph_outputs = []
    for name, (_, tensor) in zip(hints, outputs):
        try:
            produced = graph.value(tensor._data)
        except RuleError as exc:
            raise ExportError(f"cannot export {type(model).__name__}: its output {name}: {exc}") from None
        graph.nodes.append(helper.make_node("Identity", [produced], [name], name=graph.fresh("output")))
        graph_outputs.append(_info(helper, name, tensor._data))
    graph_inputs = [_info(helper, n, t._data) for n, t in zip(names, inputs) if t is not None]
    onnx_graph = helper.make_graph(graph.nodes, type(model).__name__, graph_inputs, graph_outputs, graph.initializers)
    proto = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="chainrule",
        producer_version=_version(),
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases of the last two years
    return proto


def _info(helper, name, array):
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape))


def _version() -> str:
    try:
        from .._version import __version__  # noqa: PLC0415
    except ImportError:
        return "0"
    return str(__version__)


# ---------------------------------------------------------------------------
# running the file


def run(model_or_path, feeds: dict) -> list:
    """Run an ONNX model (a path or a ModelProto) in onnxruntime on ``feeds`` {input name: array}; its outputs."""
    try:
        import onnxruntime  # noqa: PLC0415
    except ImportError:
        raise MissingExtraError(
            "running ONNX needs onnxruntime, which is not installed: pip install 'chainrule[onnx]'"
        ) from None
    source = str(model_or_path) if isinstance(model_or_path, (str, Path)) else model_or_path.SerializeToString()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session.run(None, {k: np.asarray(v) for k, v in feeds.items()})


def check_outputs(model_or_path, feeds: dict, expected: list, rtol: float = 1e-4, atol: float = 1e-5) -> float:
    """Run the model in onnxruntime and compare with ``expected``; returns the largest absolute difference."""
    got = run(model_or_path, feeds)
    worst = 0.0
    for k, (a, b) in enumerate(zip(got, expected)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise ExportError(f"onnxruntime's output {k} has shape {a.shape}, chainrule's {b.shape}")
        if a.size:
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            worst = max(worst, float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0)
            if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
                raise ExportError(
                    f"onnxruntime's output {k} differs from chainrule's by up to {float(np.nanmax(diff)):.3g} "
                    f"(allowed {atol} + {rtol} x |value|)"
                )
    return worst
