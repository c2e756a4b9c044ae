"""Tracing a forward pass: every primitive of the derivative table that runs, with its arrays and arguments.

While a trace is open, each registered primitive's forward is wrapped: the
wrapper runs it and appends a :class:`Record` (the primitive's name, its
positional values after ``xp`` and its output arrays).  Arrays are matched by
identity: an array is a graph input, a parameter, the output of an earlier
record, or else a constant.  Every array seen is kept alive for the whole
trace, so no two arrays can share an ``id``.

A constant that was computed from the inputs outside the op table (NumPy on
``.numpy()``, a custom ``autograd.Function``) would be frozen at the example's
value.  :func:`compare` catches that by tracing twice, the second time on
perturbed inputs: the same ops must run with the same arguments, and every
constant must come out equal.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..autograd.graph import PRIMITIVES

_lock = threading.Lock()


class TraceError(Exception):
    """The forward pass cannot be captured as a graph (raised as chainrule.onnx.ExportError)."""


class Record:
    """One primitive call: its name, positional values (arrays and arguments), their sources and its outputs."""

    __slots__ = ("index", "name", "outputs", "sources", "values")

    def __init__(self, index, name, values, sources, outputs):
        self.index, self.name, self.values, self.sources, self.outputs = index, name, values, sources, outputs

    def __repr__(self):
        return f"<op #{self.index} {self.name}>"


class Trace:
    """The records of one forward pass and where each array came from."""

    def __init__(self):
        self.records: list = []
        self.sources: dict = {}  # id(array) -> ("input", k) | ("param", name) | ("op", record index, output index)
        self._keep: list = []
        self._depth = 0
        self._thread = None

    def add_source(self, array, source) -> None:
        if isinstance(array, np.ndarray) and id(array) not in self.sources:
            self.sources[id(array)] = source
            self._keep.append(array)

    def source(self, value):
        """Where an array came from, or None for a constant (and for anything that is not an array)."""
        return self.sources.get(id(value)) if isinstance(value, np.ndarray) else None

    def _keep_all(self, value) -> None:
        if isinstance(value, np.ndarray):
            self._keep.append(value)
        elif isinstance(value, (tuple, list)):
            for v in value:
                self._keep_all(v)

    def _wrap(self, prim):
        forward = prim.fwd

        def traced(xp, *values):
            # a primitive's forward that applies another: record the outer one only; other threads: not traced
            if self._depth or threading.get_ident() != self._thread:
                return forward(xp, *values)
            self._depth += 1
            try:
                out = forward(xp, *values)
            finally:
                self._depth -= 1
            result, extra = out if prim.extra else (out, None)
            if prim.multi:
                result = tuple(o if isinstance(o, np.ndarray) else np.asarray(o) for o in result)
                outputs = result
            else:
                if not isinstance(result, np.ndarray):
                    result = np.asarray(result)
                outputs = (result,)
            self._keep_all(values)
            index = len(self.records)
            sources = tuple(self.source(v) for v in values)
            self.records.append(Record(index, prim.name, values, sources, outputs))
            for k, array in enumerate(outputs):
                self.add_source(array, ("op", index, k))  # an output that is an input keeps its first source
            return (result, extra) if prim.extra else result

        return traced

    @contextlib.contextmanager
    def recording(self):
        """Wrap every registered primitive's forward while the block runs (one trace at a time)."""
        with _lock:
            self._thread = threading.get_ident()
            originals = {name: prim.fwd for name, prim in PRIMITIVES.items()}
            try:
                for prim in PRIMITIVES.values():
                    prim.fwd = self._wrap(prim)
                yield self
            finally:
                for name, prim in PRIMITIVES.items():
                    if name in originals:
                        prim.fwd = originals[name]


def _same(a, b, first: Trace, second: Trace) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        sa, sb = first.source(a), second.source(b)
        if sa is not None or sb is not None:
            return sa == sb
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y, first, second) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
    try:
        return bool(a == b) or (a is b)
    except (TypeError, ValueError):
        return a is b


def compare(first: Trace, second: Trace) -> None:
    """Raise TraceError unless ``second`` (perturbed inputs) ran the ops of ``first`` with the same constants."""
    if len(first.records) != len(second.records) or any(
        a.name != b.name for a, b in zip(first.records, second.records)
    ):
        at = next(
            (i for i, (a, b) in enumerate(zip(first.records, second.records)) if a.name != b.name),
            min(len(first.records), len(second.records)),
        )
        raise TraceError(
            f"the forward pass runs different ops for different input values (they part at op #{at}): "
            "control flow that depends on the data (an if on a value, a loop over a count read from a tensor) "
            "cannot be one graph; move the decision out of forward or make it depend on shapes only"
        )
    for a, b in zip(first.records, second.records):
        for position, (x, y) in enumerate(zip(a.values, b.values)):
            if a.sources[position] is not None or b.sources[position] is not None:
                if a.sources[position] != b.sources[position]:
                    raise TraceError(f"op #{a.index} '{a.name}' reads different tensors for different input values")
                continue
            if not _same(x, y, first, second):
                what = "an array" if isinstance(x, np.ndarray) else "an argument"
                raise TraceError(
                    f"op #{a.index} '{a.name}': {what} in its position {position} depends on the input values but "
                    "was computed outside chainrule's ops (NumPy on .data, a comparison such as x > 0, .item(), a "
                    "custom autograd.Function), so the exported graph would hold the example's value; compute it "
                    "with Tensor ops"
                )


def compare_outputs(first: Trace, second: Trace, outputs: list, others: list) -> None:
    """An output that no op made (a constant) must not change with the inputs."""
    for (name, a), (_, b) in zip(outputs, others):
        if first.source(a._data) is None and not _same(a._data, b._data, first, second):
            raise TraceError(
                f"its output {name} depends on the input values but was computed outside chainrule's ops (NumPy on "
                ".data, indices from max pooling, a comparison such as x > 0), so the exported graph would hold the "
                "example's value"
            )
