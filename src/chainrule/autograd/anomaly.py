"""Anomaly detection: stop at the first op that makes a NaN or an infinity, and say where it came from.

::

    with cr.autograd.detect_anomaly():
        loss = model(x).log().mean()      # AnomalyError here if log() makes a NaN/inf from finite inputs
        loss.backward()                   # ... or here, naming the op whose vjp made it

While anomaly mode is on, every recorded op (one whose inputs require grad)
keeps a small trace: its input shapes and dtypes and the stack frames that
created it, with chainrule's own frames set apart, so an error can show the
user's source line rather than the inside of the library.  Its output is
checked at once, and in backward each vjp's gradients are checked as soon as
they are computed.

What counts as an anomaly:

* forward: an output with NaN, or with +-inf when no input and no argument
  was infinite (``x.masked_fill(mask, -inf)`` and additive ``-inf`` attention
  masks are intentional, and passing an infinity on is not making one).  A NaN
  in an input means it came from outside the checked graph (the data, a
  tensor made under ``no_grad``, or before anomaly mode was on): the error
  says so.
* backward: any NaN or +-inf in a gradient a vjp returns.

Differences from PyTorch: ``torch.autograd.detect_anomaly`` checks only
backward, only for NaN, and prints the forward traceback as a warning;
chainrule checks forward too, counts infinities, and puts the creating line
into the error itself (``AnomalyError``, a ``RuntimeError`` and a
``FloatingPointError``).  Ops that record nothing (under ``no_grad``, or on
tensors that do not require grad) are not checked.  Anomaly mode is
per thread, like grad mode.

Cost: one finiteness pass over every output and every gradient, plus a walk
up the stack per op (``benchmarks/diagnostics.py`` measures it: a training
step takes about 1.5-2.5x as long).  Use it to find a bug, not to train.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
from types import FrameType

import numpy as np

from ..backend import array_module
from ..errors import ChainruleError
from .mode import anomaly_state, set_anomaly_state

__all__ = ["AnomalyError", "OpTrace", "detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STACK_DEPTH = 6  # user frames kept per op
_INTERNAL_DEPTH = 8  # chainrule frames kept per op (the API the user called)
_is_internal_code: dict = {}  # code object -> bool, so each frame costs one dict lookup


class AnomalyError(ChainruleError, FloatingPointError):
    """A NaN or an infinity made by an op while anomaly detection was on.

    Attributes: ``op`` (the primitive's name), ``phase`` (``"forward"`` or
    ``"backward"``), ``trace`` (the :class:`OpTrace` of the op, or None when
    the op was recorded before anomaly mode was on).

    Args:
        message: the error's text: the op, what it made and where it was created.
        op: the primitive's name.
        phase: ``"forward"`` or ``"backward"``.
        trace: the op's ``OpTrace``, or None.

    Examples:
        >>> x = cr.tensor([-1.0, 1.0], requires_grad=True)
        >>> try:
        ...     with cr.autograd.detect_anomaly():
        ...         y = x.log()
        ... except cr.autograd.AnomalyError as error:
        ...     print(error.op, error.phase, error.trace.inputs)
        log forward (((2,), dtype('float32')),)
    """

    def __init__(self, message, op=None, phase=None, trace=None):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.trace = trace


class OpTrace:
    """Where an op was created: input (shape, dtype)s, the user's frames and chainrule's frames.

    ``frames`` are ``(filename, lineno, function)`` tuples, innermost first,
    skipping chainrule's own files; ``internal`` are the chainrule frames
    between the user's call and the recording, innermost first.
    """

    __slots__ = ("inputs", "frames", "internal")

    def __init__(self, inputs, frames, internal):
        self.inputs = inputs
        self.frames = frames
        self.internal = internal

    @property
    def location(self):
        """``(filename, lineno, function)`` of the user's line that created the op, or None."""
        return self.frames[0] if self.frames else None

    def format(self, indent: str = "  ") -> str:
        lines = []
        if self.frames:
            filename, lineno, function = self.frames[0]
            lines.append(f"{indent}created at {filename}:{lineno}, in {function}")
            source = linecache.getline(filename, lineno).strip()
            if source:
                lines.append(f"{indent}    {source}")
            for filename, lineno, function in self.frames[1:]:
                lines.append(f"{indent}  called from {filename}:{lineno}, in {function}")
        else:
            lines.append(f"{indent}created inside chainrule (no frame outside the library was found)")
        if self.internal:
            path = " <- ".join(name for name, _ in self.internal)
            lines.append(f"{indent}through chainrule: {path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- switching it on


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on.

    Returns:
        A bool, for the calling thread.

    Examples:
        >>> cr.autograd.is_anomaly_enabled()
        False
        >>> with cr.autograd.detect_anomaly():
        ...     cr.autograd.is_anomaly_enabled()
        True
    """
    return anomaly_state() is not None


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection on inside a ``with`` block, or around a function when used as a decorator.

    ``check_nan=False`` only records where ops were created (their traces)
    without checking values, as PyTorch's flag of the same name does. Inside,
    the first op whose output (forward) or gradient (backward) holds a NaN or an
    infinity it made raises ``AnomalyError`` naming the op and the user's line
    that created it (see the module docstring for what counts).

    Args:
        check_nan: check values (the default); False only records the traces.

    Examples:
        >>> x = cr.tensor([-1.0, 1.0], requires_grad=True)
        >>> with cr.autograd.detect_anomaly():
        ...     y = x.log()
        Traceback (most recent call last):
            ...
        chainrule.autograd.anomaly.AnomalyError: forward of 'log' produced NaN (1 of 2 values) in its output ...
        ...
    """

    _mode = True

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self._saved: list = []

    def _switch(self):
        self._saved.append(set_anomaly_state(self.check_nan if self._mode else None))

    def _restore(self):
        set_anomaly_state(self._saved.pop())

    def __enter__(self):
        self._switch()
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def __call__(self, fn):
        state = self.check_nan if self._mode else None

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = set_anomaly_state(state)  # a local, not self._saved: the function may run in several threads
            try:
                return fn(*args, **kwargs)
            finally:
                set_anomaly_state(prev)

        return wrapper


class set_detect_anomaly(detect_anomaly):  # noqa: N801 - PyTorch's name
    """``set_detect_anomaly(True)`` switches at once; as a context manager it restores the old state on exit.

    Used as a decorator it switches only while the function runs.

    Args:
        mode: True to turn anomaly detection on, False to turn it off.
        check_nan: check values (the default); False only records where ops were created.

    Examples:
        >>> with cr.autograd.set_detect_anomaly(True):
        ...     cr.autograd.is_anomaly_enabled()
        True
        >>> cr.autograd.is_anomaly_enabled()
        False
        >>> _ = cr.autograd.set_detect_anomaly(True)  # a plain call switches until switched back
        >>> cr.autograd.is_anomaly_enabled()
        True
        >>> _ = cr.autograd.set_detect_anomaly(False)
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        super().__init__(check_nan)
        self._mode = bool(mode)
        self._switch()  # a plain call switches at once, as in PyTorch

    def __enter__(self):
        return self  # already switched by the constructor

    def __call__(self, fn):
        self._restore()  # used as a decorator: switch only while the function runs
        return super().__call__(fn)


# --------------------------------------------------------------------------- the hooks graph.py and engine.py call


def _internal(code) -> bool:
    flag = _is_internal_code.get(code)
    if flag is None:
        filename = code.co_filename
        flag = _is_internal_code[code] = os.path.abspath(filename).startswith(_PACKAGE_DIR)
    return flag


def _capture(inputs) -> OpTrace:
    """A cheap summary of the stack: chainrule's frames by name, then up to a few user frames."""
    frame: FrameType | None = sys._getframe(2)  # skip _capture and on_forward
    internal: list = []
    while frame is not None and _internal(frame.f_code):
        if len(internal) < _INTERNAL_DEPTH:
            code = frame.f_code
            internal.append((getattr(code, "co_qualname", code.co_name), frame.f_lineno))
        frame = frame.f_back
    frames: list = []
    while frame is not None and len(frames) < _STACK_DEPTH:
        code = frame.f_code
        if not _internal(code):
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    shapes = tuple((tuple(t._data.shape), t._data.dtype) for t in inputs)
    # the recording helpers themselves say nothing to a user
    internal = [entry for entry in internal if entry[0] not in _PLUMBING]
    return OpTrace(shapes, tuple(frames), tuple(internal))


_PLUMBING = frozenset({"_record", "apply1", "apply2", "applyn", "Function.apply", "_capture"})


def _nonfinite(array) -> bool:
    if array.dtype.kind not in "fc" or array.size == 0:
        return False
    xp = np if type(array) is np.ndarray else array_module(array)
    return not bool(xp.isfinite(array).all())


def _count(array):
    xp = np if type(array) is np.ndarray else array_module(array)
    nans = int(xp.isnan(array).sum())
    infs = int(xp.isinf(array).sum())
    return nans, infs


def _what(array) -> str:
    nans, infs = _count(array)
    parts = []
    if nans:
        parts.append("NaN")
    if infs:
        parts.append("inf")
    return f"{' and '.join(parts)} ({nans + infs} of {array.size} values)"


def _infinite_arg(args) -> bool:
    for a in args:
        if isinstance(a, float) and not np.isfinite(a):
            return True
        if isinstance(a, (tuple, list)) and _infinite_arg(a):
            return True
    return False


def _describe_inputs(shapes) -> str:
    if not shapes:
        return "no tensor inputs"
    return ", ".join(f"input {i}: {shape} {dtype}" for i, (shape, dtype) in enumerate(shapes))


def on_forward(node, inputs, out) -> None:
    """Called by graph._record (and Function.apply) for every op recorded while anomaly mode is on."""
    trace = _capture(inputs)
    node.trace = trace
    if not anomaly_state():
        return
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for index, array in enumerate(outs):
        if not hasattr(array, "dtype") or not _nonfinite(array):
            continue
        xp = np if type(array) is np.ndarray else array_module(array)
        has_nan = bool(xp.isnan(array).any())
        nan_inputs = [i for i, t in enumerate(inputs) if t._data.dtype.kind in "fc" and bool(xp.isnan(t._data).any())]
        inf_inputs = [i for i, t in enumerate(inputs) if t._data.dtype.kind in "fc" and bool(xp.isinf(t._data).any())]
        if not has_nan and (inf_inputs or _infinite_arg(node.args or ())):
            continue  # an infinity passed on, or asked for (masks): not made here
        name = node.prim.name
        which = f" output {index}" if len(outs) > 1 else ""
        message = f"forward of '{name}' produced {_what(array)} in its{which or ' output'}"
        if has_nan and nan_inputs:
            message += (
                f"; its input {nan_inputs[0]} already contained NaN, so it came from outside the checked graph "
                "(the data, a parameter, a tensor made under no_grad, or one made before anomaly detection was on)"
            )
        else:
            message += " from finite inputs" if not (nan_inputs or inf_inputs) else ""
        message += f"\n  op inputs: {_describe_inputs(trace.inputs)}\n{trace.format()}"
        raise AnomalyError(message, op=name, phase="forward", trace=trace)


def on_backward(node, grads) -> None:
    """Called by the engine after each vjp while anomaly mode is on."""
    if not anomaly_state():
        return
    for index, g in enumerate(grads):
        if g is None or not _nonfinite(g._data):
            continue
        name = node.prim.name
        trace = node.trace
        message = (
            f"backward of '{name}' returned {_what(g._data)} in the gradient for its input {index} "
            f"(shape {tuple(g._data.shape)})"
        )
        if trace is None:
            message += "\n  (the op was recorded before anomaly detection was on: no creation trace)"
        else:
            message += f"\n  op inputs: {_describe_inputs(trace.inputs)}\n{trace.format()}"
        raise AnomalyError(message, op=name, phase="backward", trace=trace)
