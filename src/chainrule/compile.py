"""Step capture: ``chainrule.compile(fn)`` runs a training step once, records it, and replays the record.

A training step (``opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); opt.step()``)
spends much of a small model's time in Python around the kernels: module calls, the functional
layer's argument checks, op dispatch.  :func:`compile` runs the step eagerly with a tracer
attached and keeps what ran, as a *plan*:

* every primitive the forward applied (through ``graph.apply1/apply2/applyn``): the primitive,
  which tensors it read (a step input, a tensor from outside the step such as a parameter, or
  the output of an earlier record), its non-tensor arguments, and whether the op was recorded
  for backward;
* the calls that are not primitives but are understood: ``Tensor.backward`` on a recorded
  tensor, ``Optimizer.zero_grad``, ``Optimizer.step``, ``LRScheduler.step``, ``p.grad = None``,
  and dropout drawing its mask (a replay draws a fresh one, from the same generator, in the
  same order).

A replay runs the recorded forwards on the current arrays (parameters are read live, so the
optimizer's in-place updates are seen), records the same backward graph with the same
``graph._record`` the eager call uses, runs the backward as the engine walks it (the walk
fixed at trace time: the same vjps in the same order, the same sums, the engine's own
accumulation into ``.grad``) and calls the optimizer's own ``step``: every kernel that runs is the
one eager runs, on the same arrays, in the same order, so the results are equal bit for bit.
What is skipped is the Python that decided which kernels to run.

Whatever the tracer does not understand makes the step eager for that input signature (with a
one-time warning; :meth:`CompiledFunction.explain` tells why): a tensor converted to Python
(``.item()``, ``bool()``, ``.numpy()``...), a random draw other than dropout's, an in-place write,
hooks, anomaly mode, forward-mode AD, vmap, autocast, custom autograd Functions, a primitive run
outside the op table's dispatch, a tensor made from another's array outside the op table, and a
step that does not record the same thing twice in a row.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import sys
import threading
import warnings

import numpy as np

from .amp import GradScaler
from .autograd import engine, graph
from .autograd.forward import forward_levels
from .autograd.graph import RELEASED
from .autograd.mode import anomaly_state, autocast_state, grad_enabled, set_grad_mode
from .errors import ChainruleError
from .nn.module import Module
from .optim.lr_scheduler import LRScheduler
from .optim.optimizer import Optimizer
from .random import DRAW_CHECKS
from .tensor import ENGINE, Tensor

__all__ = ["CompiledFunction", "compile"]

# the module that draws dropout's masks (``chainrule.nn.functional.dropout`` itself names the function)
_dropout = importlib.import_module("chainrule.nn.functional.dropout")

_record = graph._record
_plain = graph._plain
_wrap = graph._wrap
_ndarray = np.ndarray
_LOCK = threading.RLock()
_chain = itertools.chain.from_iterable
_values = dict.values
_MAX_PLANS = 8  # signatures kept per function
_MAX_TRACES = 3  # traces of one signature before it is declared eager (two in a row must agree)


class _StaleError(Exception):
    """Raised by a replay: an op's result has another shape than when traced (``at``: the item)."""

    def __init__(self, at, name):
        super().__init__(name)
        self.at = at
        self.name = name


def _put(container, path, value):
    """A copy of the tuple/list ``container`` with ``value`` at ``path`` (indices, outermost first)."""
    items = list(container)
    i = path[0]
    items[i] = value if len(path) == 1 else _put(container[i], path[1:], value)
    return tuple(items) if type(container) is tuple else items


def _shapes_differ(res, shapes):
    return len(res) != len(shapes) or any(np.shape(r) != s for r, s in zip(res, shapes))


class _EagerError(Exception):
    """Raised inside the tracer: the step cannot be captured (the message says why)."""


# --------------------------------------------------------------------------- tracing


class _Trace:
    """What one eager call of the step did, as far as a replay needs it."""

    def __init__(self, inputs):
        self.thread = threading.get_ident()
        self.reason = None  # why the step cannot be captured, or None
        self.slot_of = {}  # id(tensor) -> slot index
        self.keep = []  # every tensor given a slot, kept alive so that ids stay unique
        self.snap = []  # per slot: (tensor, array, edge, requires_grad) when it was made
        self.arrays = {}  # id(array) of every op output -> slot (to spot tensors made from them)
        self.externals = []  # tensors from outside the step that the ops read
        self.ops = []  # the plan's items, in order
        self.pending = None
        self.unstable = None  # why this trace cannot be armed, though a later one may be (or None)
        self.depth = 0  # > 0 inside a primitive's forward or an understood call
        self.nodes = []  # the nodes recorded in the trace
        self.modules = {}  # id -> module whose __call__ ran
        self.data_slot = {}  # id(array) -> slot, for the tensors of the step
        self.draws = {}  # id(array) -> [mask function, its arguments, slot of the tensor around it, array]
        self.ninputs = len(inputs)
        for t in inputs:  # one slot per tensor argument, even a repeated one (a replay fills them in order)
            self.slot_of.setdefault(id(t), len(self.keep))
            self.data_slot.setdefault(id(t._data), len(self.keep))
            self.arrays.setdefault(id(t._data), len(self.keep))  # another tensor on an input's array: refused
            self.keep.append(t)
            self.snap.append((t._data, t._edge, t.requires_grad))

    # ----- slots

    def _new_slot(self, t):
        if id(t) in self.slot_of:  # the same tensor passed twice: one slot
            return self.slot_of[id(t)]
        slot = len(self.keep)
        self.slot_of[id(t)] = slot
        self.data_slot.setdefault(id(t._data), slot)
        self.keep.append(t)
        self.snap.append((t._data, t._edge, t.requires_grad))
        return slot

    def fail(self, reason):
        if self.reason is None:
            self.reason = reason
        raise _EagerError(reason)

    def ref(self, t):
        """The reference a plan item keeps to tensor ``t``: its slot (>= 0) or -1 - its index among the externals."""
        slot = self.slot_of.get(id(t))
        if slot is not None and self.keep[slot] is t:
            return slot
        data = t._data
        if type(data) is not _ndarray:
            self.fail(f"a tensor of type {type(data).__name__} (only NumPy arrays are captured)")
        draw = self.draws.get(id(data))
        if draw is not None and draw[3] is data and draw[2] is None and t._edge is None and not t.requires_grad:
            draw[2] = self._new_slot(t)  # the tensor dropout wraps around its mask: made by the draw
            return draw[2]
        base = data.base
        if draw is not None or (base is not None and id(base) in self.draws):
            self.fail(f"a random mask of shape {tuple(data.shape)} used outside dropout's multiplication")
        if id(data) in self.arrays or (base is not None and id(base) in self.arrays):
            self.fail(
                f"a tensor of shape {tuple(data.shape)} was made from an op's result outside the op table "
                "(detach(), .data, a raw array)"
            )
        if t._edge is not None:
            self.fail(f"a tensor of shape {tuple(data.shape)} with history from outside the step")
        for i, e in enumerate(self.externals):
            if e is t:
                return -1 - i
        self.externals.append(t)
        return -len(self.externals)

    # ----- primitives

    def wrap_fwd(self, prim, fwd):
        trace = self

        def traced(xp, *values):
            if trace.depth or threading.get_ident() != trace.thread or trace.reason is not None:
                return fwd(xp, *values)
            try:
                n, refs = trace.inputs_of(prim, values)
            except _EagerError:
                return fwd(xp, *values)
            trace.depth += 1
            try:
                out = fwd(xp, *values)
            finally:
                trace.depth -= 1
            if trace.pending is not None:
                trace.reason = trace.reason or f"{prim.name}: ran before the previous op's result was made"
            try:
                subs = trace.array_args(values[n:])
            except _EagerError:
                return out
            trace.pending = (prim, fwd, refs, values[n:], subs)
            return out

        return traced

    def inputs_of(self, prim, values):
        """(number of tensor inputs, their references), read from the apply1/apply2/applyn frame that called."""
        if graph.vmap_depth() or forward_levels() or anomaly_state() is not None or autocast_state() is not None:
            self.fail(f"{prim.name}: vmap, forward-mode AD, anomaly mode or autocast inside the step")
        frame = sys._getframe(2)
        code = frame.f_code
        if code is _APPLY1:
            ins = (frame.f_locals["a"],)
        elif code is _APPLY2:
            loc = frame.f_locals
            ins = (loc["a"], loc["b"])
        elif code is _APPLYN:
            ins = tuple(frame.f_locals["inputs"])
        else:
            self.fail(f"primitive {prim.name!r} ran outside the op table's dispatch (from {code.co_name})")
        n = len(ins)
        for t, v in zip(ins, values[:n]):
            if t._data is not v:
                self.fail(f"{prim.name}: an input was converted before the op (dtype promotion)")
        return n, tuple([self.ref(t) for t in ins])

    def array_args(self, args):
        """``((path, reference), ...)`` for the arguments that are the array of a tensor the step reads.

        An op may take a tensor's raw array as an argument, at any depth of tuples and lists
        (``cross_entropy`` takes the targets' indices that way, indexing takes a mask's array); a replay
        passes the current array of that tensor in that place.  Other array arguments stay constants
        (and must be the very same array on two traces in a row); a view of a tensor's array is refused.
        """
        subs = []

        def visit(value, path):
            if type(value) is _ndarray:
                if id(value) in self.draws or (value.base is not None and id(value.base) in self.draws):
                    self.fail("a random mask passed to an op as an array")
                ref = self._array_ref(value)
                if ref is not None:
                    subs.append((path, ref))
                elif value.base is not None and self._array_ref(value.base) is not None:
                    self.fail(f"an op's argument is a view of a tensor's array (shape {value.shape})")
            elif type(value) in (tuple, list):
                for i, v in enumerate(value):
                    visit(v, (*path, i))

        for i, a in enumerate(args):
            visit(a, (i,))
        return tuple(subs)

    def _array_ref(self, array):
        slot = self.data_slot.get(id(array))
        if slot is not None and self.keep[slot]._data is array:
            return slot
        for i, e in enumerate(self.externals):
            if e._data is array:
                return -1 - i
        return None

    def complete(self, result, recorded):
        prim, fwd, refs, args, subs = self.pending
        self.pending = None
        outs = result if prim.multi else (result,)
        slots = []
        for o in outs:
            slots.append(self._new_slot(o))
            self.arrays[id(o._data)] = slots[-1]
            if recorded and o._edge is not None and o._edge[0] not in self.nodes:
                self.nodes.append(o._edge[0])
        for path, _ in subs:  # the plan does not keep the traced arrays
            args = _put(args, path, None)
        shapes = tuple([o._data.shape for o in outs])
        out = tuple(slots) if prim.multi else slots[0]
        self.ops.append((_OP, prim, fwd, refs, args, recorded, out, subs, shapes))

    # ----- checks at the end

    def finish(self, result):
        if self.pending is not None:
            self.fail(f"{self.pending[0].name}: its result was not wrapped by the op table")
        for t, (data, edge, rg) in zip(self.keep, self.snap):
            if t._data is not data or t._edge is not edge or t.requires_grad != rg:
                self.fail(f"a tensor of shape {tuple(t.shape)} made in the step was changed in place or detached")
        return _structure(self, result)


_OP, _BACKWARD, _CALL, _DRAW = 0, 1, 2, 3
_IDEMPOTENT: set = set()  # calls that a replay may repeat when it gives up half-way (zero_grad, grad = None)
_APPLY1 = graph.apply1.__code__
_APPLY2 = graph.apply2.__code__
_APPLYN = graph.applyn.__code__


def _structure(trace, value):
    """The returned value as a template: tensors as references, containers kept."""
    if isinstance(value, Tensor):
        if trace.slot_of.get(id(value)) is None:
            for i, e in enumerate(trace.externals):
                if e.grad is value:  # a parameter's gradient, as it is when the step returns
                    return ("g", i)
        return ("t", trace.ref(value))
    if value is None:
        return ("c", None)
    if type(value) in (tuple, list):
        return (type(value).__name__, tuple(_structure(trace, v) for v in value))
    if type(value) is dict:
        return ("dict", tuple((k, _structure(trace, v)) for k, v in value.items()))
    trace.fail(f"the step returns a {type(value).__name__} (only tensors, None, tuples, lists and dicts are captured)")
    return None


def _build(template, vals, externals):
    kind, body = template
    if kind == "t":
        return vals[body] if body >= 0 else externals[-1 - body]
    if kind == "c":
        return body
    if kind == "g":
        return externals[body].grad
    if kind == "dict":
        return {k: _build(v, vals, externals) for k, v in body}
    items = [_build(v, vals, externals) for v in body]
    return tuple(items) if kind == "tuple" else items


# the patches a trace installs (class attributes and module globals; removed when it ends)

_TRACE = None  # the trace in progress


def _patched_record(prim, inputs, out, args):
    result = _record(prim, inputs, out, args)
    t = _TRACE
    if _active(t):
        if t.pending is None or t.pending[0] is not prim:
            t.reason = f"{prim.name}: recorded without running through the op table (a custom autograd Function?)"
        else:
            t.complete(result, True)
    return result


def _patched_plain(prim, out, inputs):
    result = _plain(prim, out, inputs)
    t = _TRACE
    if _active(t) and t.pending is not None:
        t.complete(result, False)
    return result


def _patched_wrap(array):
    result = _wrap(array)
    t = _TRACE
    if _active(t) and t.pending is not None:
        if t.pending[0].simple:  # apply1/apply2's own path; a non-simple primitive completes in _plain
            t.complete(result, False)
    return result


def _active(t):
    """Whether trace ``t`` records what this thread does now (open, not failed, not inside an understood call)."""
    return t is not None and t.reason is None and t.depth == 0 and threading.get_ident() == t.thread


def _refuse(what):
    def check(*args, **kwargs):
        t = _TRACE
        if _active(t):
            t.reason = what

    return check


def _refusing(original, what):
    check = _refuse(what)

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        check()
        return original(self, *args, **kwargs)

    return method


_TO_PYTHON = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__")


def _understood(original, allowed=lambda args, kwargs: None):
    """A method that a replay calls again (optimizer and scheduler steps): recorded as a call."""

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        t = _TRACE
        if not _active(t):
            return original(self, *args, **kwargs)
        why = allowed(args, kwargs)
        if why:
            t.reason = why
            return original(self, *args, **kwargs)
        t.ops.append((_CALL, original, self, args, kwargs))
        t.depth += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            t.depth -= 1

    return method


def _no_closure(args, kwargs):
    if args or kwargs:
        return "optimizer.step(closure) (the closure's forward would not be captured)"
    return None


def _no_epoch(args, kwargs):
    if args or kwargs:
        return "scheduler.step() with arguments"
    return None


def _subclasses(cls):
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out


def _traced_backward(original):
    def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        t = _TRACE

        def plain():
            return original(tensor, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

        if not _active(t):
            return plain()
        if create_graph or inputs is not None:
            t.reason = "backward(create_graph=True) or backward(inputs=...)"
            return plain()
        if any(node.hooks is not None for node in t.nodes):
            t.reason = "a tensor hook or retain_grad() on a tensor the step made"
            return plain()
        try:
            root = t.ref(tensor)
            grad = None if gradient is None else t.ref(gradient)
        except _EagerError:
            return plain()
        t.ops.append((_BACKWARD, root, grad, retain_graph))
        t.depth += 1
        try:
            return original(tensor, gradient, retain_graph=retain_graph, create_graph=False, inputs=None)
        finally:
            t.depth -= 1

    return backward


def _traced_run(original):
    def run(*args, **kwargs):
        t = _TRACE
        if _active(t):
            t.reason = "autograd.grad() or autograd.backward() (only Tensor.backward() is captured)"
        return original(*args, **kwargs)

    return run


def _traced_module_call(original):
    def call(self, *args, **kwargs):
        t = _TRACE
        if _active(t):
            if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
                t.reason = f"a hook on module {type(self).__name__}"
            t.modules[id(self)] = self
        return original(self, *args, **kwargs)

    return call


_MISSING = object()


def _traced_module_setattr(original):
    def setattr_(self, name, value):
        t = _TRACE
        if _active(t) and t.unstable is None and getattr(self, name, _MISSING) is not value:
            # Python state a replay would not write again; two traces in a row that write it differ
            t.unstable = f"the step sets {type(self).__name__}.{name} (module state that a replay would not set)"
        original(self, name, value)

    return setattr_


def _traced_mask(original):
    """dropout's mask drawing, while tracing: recorded, so that a replay draws a fresh one in the same place."""

    def mask(shape, p, dtype):
        t = _TRACE
        if not _active(t):
            return original(shape, p, dtype)
        t.depth += 1
        try:
            array = original(shape, p, dtype)
        finally:
            t.depth -= 1
        draw = [original, (shape, p, dtype), None, array]
        t.draws[id(array)] = draw
        t.ops.append((_DRAW, draw))
        return array

    return mask


def _traced_bump(original):
    def bump(self):
        t = _TRACE
        if _active(t):
            t.reason = f"an in-place write to a tensor of shape {tuple(self.shape)} outside the optimizer"
        return original(self)

    return bump


def _traced_grad(slot):
    """``Tensor.grad`` while tracing: ``p.grad = None`` on a tensor from outside the step is replayed.

    Other writes are refused; the first write, by the constructor of a new tensor, is not a write.
    """

    def fset(self, value):
        t = _TRACE
        if _active(t) and hasattr(self, "_data") and _initialized(slot, self):
            if value is None and t.slot_of.get(id(self)) is None:
                t.ops.append((_CALL, _clear_grad_call, self, (), {}))
            else:
                t.reason = "assigning Tensor.grad a tensor"
        slot.__set__(self, value)

    return property(slot.__get__, fset)


def _initialized(slot, t):
    try:
        slot.__get__(t)
    except AttributeError:
        return False
    return True


def _clear_grad_call(t):
    t.grad = None


_IDEMPOTENT.add(_clear_grad_call)


def _refused_setter(descriptor, what):
    def fset(self, value):
        t = _TRACE
        if _active(t) and (type(descriptor) is property or _initialized(descriptor, self)):  # not a constructor's
            t.reason = what
        descriptor.__set__(self, value)

    return property(descriptor.__get__, fset)


def _install(trace):
    """Attach ``trace``; returns the function that detaches it."""
    global _TRACE
    undo = []

    def setattr_(obj, name, value):
        had = name in vars(obj)
        old = vars(obj).get(name)
        setattr(obj, name, value)
        undo.append((obj, name, had, old))

    prims = [(prim, prim.fwd) for prim in graph.PRIMITIVES.values()]
    for prim, fwd in prims:
        prim.fwd = trace.wrap_fwd(prim, fwd)
    setattr_(graph, "_record", _patched_record)
    setattr_(graph, "_plain", _patched_plain)
    setattr_(graph, "_wrap", _patched_wrap)
    setattr_(engine, "_run", _traced_run(engine._run))
    for name in _TO_PYTHON:
        setattr_(
            Tensor,
            name,
            _refusing(getattr(Tensor, name), f"Tensor.{name.strip('_')}() (a tensor read by Python)"),
        )
    for name in ("register_hook", "retain_grad", "requires_grad_", "detach_"):
        setattr_(Tensor, name, _refusing(getattr(Tensor, name), f"Tensor.{name}()"))
    for name in ("scale", "unscale_", "step", "update"):  # it writes gradients' arrays directly and skips steps
        setattr_(GradScaler, name, _refusing(getattr(GradScaler, name), f"GradScaler.{name}()"))
    setattr_(Tensor, "_bump", _traced_bump(Tensor._bump))
    setattr_(_dropout, "_mask", _traced_mask(_dropout._mask))
    setattr_(Tensor, "grad", _traced_grad(vars(Tensor)["grad"]))
    setattr_(Tensor, "requires_grad", _refused_setter(vars(Tensor)["requires_grad"], "assigning Tensor.requires_grad"))
    data = vars(Tensor)["data"]
    setattr_(
        Tensor, "data", property(data.fget, _refused_setter(data, "assigning Tensor.data").fset, None, data.__doc__)
    )
    setattr_(Module, "__call__", _traced_module_call(Module.__call__))
    setattr_(Module, "__setattr__", _traced_module_setattr(Module.__setattr__))
    for cls in _subclasses(Optimizer):
        if "step" in vars(cls):
            setattr_(cls, "step", _understood(vars(cls)["step"], _no_closure))
        if "zero_grad" in vars(cls):
            _IDEMPOTENT.add(vars(cls)["zero_grad"])
            setattr_(cls, "zero_grad", _understood(vars(cls)["zero_grad"]))
    for cls in _subclasses(LRScheduler):
        if "step" in vars(cls):
            setattr_(cls, "step", _understood(vars(cls)["step"], _no_epoch))
    old_backward = ENGINE["backward"]
    ENGINE["backward"] = _traced_backward(old_backward)
    refuse_draw = _refuse("a random draw (dropout, randn...): replay cannot redraw it")
    old_checks = DRAW_CHECKS[:]  # random.numpy_rng runs the first check only (vmap's policy, when loaded)

    def draw():
        refuse_draw()
        if old_checks:
            old_checks[0]()

    DRAW_CHECKS[:] = [draw]
    _TRACE = trace

    def remove():
        global _TRACE
        _TRACE = None
        DRAW_CHECKS[:] = old_checks
        ENGINE["backward"] = old_backward
        for prim, fwd in prims:
            prim.fwd = fwd
        for obj, name, had, old in reversed(undo):
            if had:
                setattr(obj, name, old)
            else:
                delattr(obj, name)

    return remove


# --------------------------------------------------------------------------- plans


class _Plan:
    """A captured step: the items to replay, the externals to re-check, the modules whose flags it read."""

    def __init__(self, trace, template):
        self.ops = trace.ops
        self.nslots = len(trace.keep)
        self.ninputs = trace.ninputs
        self.template = template
        self.externals = tuple(trace.externals)
        self.ext_guard = tuple(_ext_key(t) for t in trace.externals)
        modules = {}
        for m in trace.modules.values():  # a module's forward may read a child's flag without calling it
            for sub in m.modules():
                modules[id(sub)] = sub
        self.modules = tuple(modules.values())
        self.training = tuple(m.training for m in self.modules)
        # what the skipped Python read from the modules: their training flags, options (eps, p, ...),
        # parameters, buffers and children; a replay checks each is still the object it was
        self.dicts = tuple(
            d
            for m in self.modules
            for d in (m.__dict__, m._parameters, m._buffers, m._modules, m._forward_pre_hooks, m._forward_hooks)
        ) + tuple(m._backward_hooks for m in self.modules)
        self.lengths = tuple(map(len, self.dicts))
        self._alive = tuple(_chain(map(_values, self.dicts)))  # held, so that no id is reused
        self.ids = tuple(map(id, self._alive))
        self.items = self._compile(trace)

    def _compile(self, trace):
        """Items with their references resolved to indices into one value list (inputs, externals, slots)."""
        ne = len(self.externals)
        self.leaves = []  # the leaves the captured backward passes accumulate into (their hooks are checked)

        def index(ref):
            return ref + ne if ref >= 0 else -1 - ref  # externals first, then slots

        items = []
        for item in self.ops:
            if item[0] == _OP:
                _, prim, fwd, refs, args, recorded, out, subs, shapes = item
                subs = tuple((p, index(r)) for p, r in subs)
                ins = tuple(index(r) for r in refs)
                items.append((_OP, prim, fwd, ins, args, recorded, out, prim.simple, subs, shapes))
            elif item[0] == _BACKWARD:
                _, root, grad, retain = item
                walk = None
                if grad is None and not retain and root >= 0:
                    walk = _walk(trace, root, index, self.leaves)
                items.append((_BACKWARD, index(root), None if grad is None else index(grad), retain, walk))
            elif item[0] == _DRAW:
                fn, args, slot, _ = item[1]
                items.append((_DRAW, fn, args, None if slot is None else index(slot)))
            else:
                items.append(item)
        self.safe_until = next(
            (  # a draw advances the generator: it cannot be drawn again by an eager rerun
                k
                for k, it in enumerate(items)
                if it[0] in (_BACKWARD, _DRAW) or (it[0] == _CALL and it[1] not in _IDEMPOTENT)
            ),
            len(items),
        )
        return self._with_drops(items, ne)

    def _with_drops(self, items, ne):
        """Each item with the values a replay lets go of after it (at their last use, as eager frees them)."""
        last = {}
        for k, item in enumerate(items):
            if item[0] == _OP:
                for i in (*item[3], *(i for _, i in item[8])):
                    last[i] = k
                for s in item[6] if type(item[6]) is tuple else (item[6],):
                    last.setdefault(s + ne, k)  # an output nothing reads is dropped at once
            elif item[0] == _BACKWARD:
                last[item[1]] = k
                if item[2] is not None:
                    last[item[2]] = k
            elif item[0] == _DRAW and item[3] is not None:
                last.setdefault(item[3], k)
        keep = set(range(ne + self.ninputs))  # externals and inputs are the caller's
        _template_values(self.template, ne, keep)
        drops = [[] for _ in items]
        for i, k in last.items():
            if i not in keep:
                drops[k].append(i)
        return [(*item, tuple(d)) for item, d in zip(items, drops)]

    def same_as(self, other):
        """Whether two traces of the step did the same thing (the check that arms a plan)."""
        if len(self.ops) != len(other.ops) or len(self.externals) != len(other.externals):
            return False
        if self.nslots != other.nslots or not all(a is b for a, b in zip(self.externals, other.externals)):
            return False
        for a, b in zip(self.ops, other.ops):
            if a[0] != b[0]:
                return False
            if a[0] == _OP:
                if a[1] is not b[1] or a[3] != b[3] or a[5:] != b[5:] or not _same(a[4], b[4]):
                    return False
            elif a[0] == _BACKWARD:
                if a[1:] != b[1:]:
                    return False
            elif a[0] == _DRAW:
                (fa, args_a, slot_a, _), (fb, args_b, slot_b, _) = a[1], b[1]
                if fa is not fb or slot_a != slot_b or not _same(args_a, args_b):
                    return False
            elif a[1] is not b[1] or a[2] is not b[2] or a[3] != b[3] or a[4] != b[4]:
                return False
        return self.template == other.template and self.modules == other.modules and self.training == other.training

    def valid(self):
        """The guards a replay checks first: the externals and the modules are as they were traced."""
        for t, key in zip(self.externals, self.ext_guard):
            d = t._data
            if d.shape != key[0] or d.dtype is not key[1] or t.requires_grad is not key[2] or type(d) is not _ndarray:
                return False
            if t._edge is not None:
                return False
        # every attribute (training, options), parameter, buffer, child and hook of the modules: the same
        # objects, in one pass (a hook added to an empty dict changes the lengths)
        dicts = self.dicts
        return tuple(map(len, dicts)) == self.lengths and tuple(map(id, _chain(map(_values, dicts)))) == self.ids

    def run(self, inputs):
        vals = [*self.externals, *inputs, *([None] * (self.nslots - len(inputs)))]
        nodes = [None] * len(vals)  # the node of each recorded op's outputs, for the captured backward
        ne = len(self.externals)
        for k, item in enumerate(self.items):
            kind = item[0]
            if kind == _OP:
                _, prim, fwd, ins, args, recorded, out, simple, subs, shapes, drops = item
                ts = tuple([vals[i] for i in ins])
                for path, i in subs:
                    args = _put(args, path, vals[i]._data)
                res = fwd(np, *[t._data for t in ts], *args)
                got = res[0] if prim.extra else res  # an op that keeps arrays returns (result, kept)
                if _shapes_differ(got, shapes) if prim.multi else got.shape != shapes[0]:
                    raise _StaleError(k, prim.name)  # the shapes depend on the data: this plan does not hold
                if recorded:
                    res = _record(prim, ts, res, args)
                    if type(out) is tuple:
                        for s, r in zip(out, res):
                            if r._edge is not None:
                                nodes[s + ne] = r._edge[0]
                    else:
                        nodes[out + ne] = res._edge[0]
                elif simple:
                    if type(res) is not _ndarray:
                        res = np.asarray(res)
                    res = _wrap(res)
                else:
                    res = _plain(prim, res, ts)
                if type(out) is tuple:
                    for s, r in zip(out, res):
                        vals[s + ne] = r
                else:
                    vals[out + ne] = res
                ts = res = None
            elif kind == _BACKWARD:
                _, root, grad, retain, walk, drops = item
                if walk is not None and not any(vals[i]._hooks for i in self.leaves):
                    _backward(vals, nodes, vals[root], walk)
                else:
                    engine.backward(vals[root], None if grad is None else vals[grad], retain_graph=retain)
            elif kind == _DRAW:  # a dropout mask: fresh numbers, from the same generator, in the same order
                _, fn, args, slot, drops = item
                array = fn(*args)
                if slot is not None:
                    vals[slot] = _wrap(array)
            else:
                _, fn, obj, args, kwargs, drops = item
                fn(obj, *args, **kwargs)
            for i in drops:
                vals[i] = None
        return _build(self.template, vals[ne:], self.externals)


def _walk(trace, root, index, leaves):
    """The engine's walk of the traced graph from slot ``root``, fixed: what :func:`_backward` replays.

    ``(root node's slot, [(node's slot, [edge, ...]), ...] newest first, {leaf: pending count})`` where an
    edge is None, ``(0, position of the target node in the walk, output index, shape)`` or ``(1, leaf
    index)``.  None when the graph reaches beyond the step (a leaf that is not a tensor of the plan).
    """
    t = trace.keep[root]
    if t._edge is None or t._data.size != 1:
        return None
    slot_of_node = {}
    for slot, k in enumerate(trace.keep):
        edge = k._edge
        if edge is not None and trace.snap[slot][1] is edge:
            slot_of_node.setdefault(edge[0], slot)
    nodes, _ = engine._collect([t], [None], {}, {})  # the engine's own walk: its nodes, newest first
    position = {node: i for i, node in enumerate(nodes)}
    pending: dict = {}
    steps = []
    for node in nodes:
        if node not in slot_of_node:
            return None
        edges = []
        for e in node.next:
            if e is None:
                edges.append(None)
            elif type(e) is tuple:
                edges.append((0, position[e[0]], e[1], e[0].shapes[e[1]]))
            else:
                try:
                    ref = trace.ref(e)
                except _EagerError:
                    return None
                leaf = index(ref)
                if leaf not in leaves:
                    leaves.append(leaf)
                pending[leaf] = pending.get(leaf, 0) + 1
                edges.append((1, leaf))
        steps.append((index(slot_of_node[node]), tuple(edges), len(node.shapes)))
    return index(root), tuple(steps), pending


def _template_values(template, ne, out):
    """Add to ``out`` the value indices a returned template reads."""
    kind, body = template
    if kind == "t":
        if body >= 0:
            out.add(body + ne)
    elif kind in ("tuple", "list"):
        for v in body:
            _template_values(v, ne, out)
    elif kind == "dict":
        for _, v in body:
            _template_values(v, ne, out)


def _backward(vals, nodes, root, walk):
    """``root.backward()`` over a replayed graph: the engine's walk (autograd/engine.py ``_run``), precomputed.

    The same vjps in the same order, the same sums in the same order, the same accumulation into ``.grad``;
    what is skipped is finding the nodes, sorting them and looking up where each gradient goes.
    """
    _, steps, pending = walk
    pending = dict(pending)
    data = root._data
    g = _wrap(np.ones(data.shape, dtype=data.dtype))
    given = {id(g._data)}
    buffers = [None] * len(steps)
    buffers[0] = [g] if steps[0][2] == 1 else [g if i == root._edge[1] else None for i in range(steps[0][2])]
    leaf_grads: dict = {}
    prev_mode = set_grad_mode(False)
    try:
        for k, (slot, edges, _) in enumerate(steps):
            buf = buffers[k]
            if buf is None:
                continue
            buffers[k] = None
            node = nodes[slot]
            engine._check_saved(node)
            if len(buf) > 1 and any(x is None for x in buf):
                buf = engine._fill_missing(node, buf)
            prim = node.prim
            grads = prim.vjp(node, *buf)
            if type(grads) is Tensor:
                grads = (grads,)
            node.saved = RELEASED
            if prim.save_output:
                node.out = None
            if prim.extra:
                node.extra = None
            for position, (edge, g) in enumerate(zip(edges, grads)):
                if edge is None:
                    continue
                if edge[0] == 0:
                    if g is None:
                        continue
                    _, target, index, shape = edge
                    if g._data.shape != shape:
                        g = engine._sum_to(g, shape, node, position)
                    tbuf = buffers[target]
                    if tbuf is None:
                        tbuf = buffers[target] = [None] * steps[target][2]
                        tbuf[index] = g
                    elif tbuf[index] is None:
                        tbuf[index] = g
                    else:
                        tbuf[index] = tbuf[index] + g
                    continue
                leaf_index = edge[1]
                leaf = vals[leaf_index]
                if g is not None:
                    prev = leaf_grads.get(leaf_index)
                    if type(g) is not Tensor:  # a row-sparse gradient (ops/sparse.py), as the engine does
                        leaf_grads[leaf_index] = g if prev is None else g + prev
                    else:
                        if g._data.shape != leaf._data.shape:
                            g = engine._sum_to(g, leaf._data.shape, node, position)
                        leaf_grads[leaf_index] = g if prev is None else prev + g
                left = pending[leaf_index] - 1
                if left:
                    pending[leaf_index] = left
                else:
                    del pending[leaf_index]
                    total = leaf_grads.pop(leaf_index, None)
                    if total is not None:
                        engine._accumulate_grad(leaf, total, False, given)
        for leaf_index, total in leaf_grads.items():
            engine._accumulate_grad(vals[leaf_index], total, False, given)
    finally:
        set_grad_mode(prev_mode)


def _ext_key(t):
    d = t._data
    return (d.shape, d.dtype, t.requires_grad)


def _same(a, b):
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return False  # an array argument must be the very same array each time (else it may hold data)
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an argument that cannot be compared is not the same
        return False


def _key_of(value):
    """The part of the guard key one argument gives (a tensor's signature, or the value itself)."""
    if isinstance(value, Tensor):
        d = value._data
        return ("T", d.shape, d.dtype.str, value.requires_grad, type(d), value._edge is None)
    hash(value)  # TypeError for an unhashable argument: the caller runs the step eagerly
    return ("V", type(value), value)


def _aliasing(args):
    """Which arguments are the same tensor (a trace gives one tensor one slot), or None when none are."""
    if len(args) < 2:
        return None
    ids = [id(a) for a in args]
    if len(set(ids)) == len(ids):
        return None
    return tuple(ids.index(i) for i in ids)


# --------------------------------------------------------------------------- the public object


class CompiledFunction:
    """A step function with its captured plans; made by :func:`compile`.

    Calling it runs the step: eagerly while it is traced (the first two calls of a new input
    signature), then by replaying the plan.  ``explain()`` says what happened for each signature.

    Args:
        fn: the step function (see :func:`compile`).

    Examples:
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = cr.optim.SGD([w], lr=0.1)
        >>> @cr.compile
        ... def step(x):
        ...     opt.zero_grad()
        ...     loss = (w * x).sum()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> for _ in range(3):
        ...     loss = step(cr.tensor([1.0, 1.0]))
        >>> w
        tensor([0.7000, 1.7000], requires_grad=True)
        >>> print(step.explain())
        step: 1 signature(s)
          replayed: 1 call(s), traced 2, eager 0
    """

    def __init__(self, fn):
        self.fn = fn
        self.plans: dict = {}  # key -> [first trace's plan or None, _Plan | reason string, counters]
        self._warned: set = set()
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if kwargs:
            return self._eager(None, "keyword arguments", args, kwargs)
        if (
            _TRACE is not None  # inside another compiled step's trace: run eagerly, so that it sees every op
            or anomaly_state() is not None
            or forward_levels()
            or graph.vmap_depth()
            or autocast_state() is not None
        ):
            return self.fn(*args)
        try:
            key = (grad_enabled(), tuple([_key_of(a) for a in args]), _aliasing(args))
        except TypeError:
            return self._eager(None, "an argument that is neither a tensor nor hashable", args, kwargs)
        entry = self.plans.get(key)
        if entry is not None:
            plan = entry[1]
            if type(plan) is _Plan:
                if plan.valid():
                    entry[2][0] += 1
                    try:
                        return plan.run([a for a in args if isinstance(a, Tensor)])
                    except _StaleError as exc:
                        return self._stale(key, entry, plan, exc, args)
                del self.plans[key]  # a guard missed: capture again
                entry = None
            elif plan is not None:  # eager for this signature
                entry[2][2] += 1
                return self.fn(*args)
        return self._trace(key, entry, args)

    def _stale(self, key, entry, plan, exc, args):
        """A replay found a result of another shape than traced: eager from now on for this signature."""
        reason = f"{exc.name}: the shape of its result depends on the data"
        entry[0], entry[1] = None, reason
        entry[2][0] -= 1
        if exc.at >= plan.safe_until:  # the backward or an optimizer step already ran: it cannot be undone
            raise ChainruleError(
                f"chainrule.compile: {reason}, found by a replay after the step's backward or optimizer step had "
                "run; the step is left half done. Call the function without chainrule.compile"
            ) from None
        self._warn(reason)
        entry[2][2] += 1
        return self.fn(*args)  # nothing but zero_grad-like calls ran: run the whole step eagerly

    def _eager(self, key, reason, args, kwargs):
        self._warn(reason)
        return self.fn(*args, **kwargs)

    def _warn(self, reason):
        if reason not in self._warned:
            self._warned.add(reason)
            name = getattr(self.fn, "__name__", "fn")
            warnings.warn(f"chainrule.compile({name}): runs eagerly: {reason}", RuntimeWarning, stacklevel=3)

    def _trace(self, key, entry, args):
        tensors = [a for a in args if isinstance(a, Tensor)]
        with _LOCK:
            trace = _Trace(tensors)
            remove = _install(trace)
            try:
                result = self.fn(*args)
                try:
                    template = trace.finish(result)
                except _EagerError:
                    template = None
            finally:
                remove()
        counters = entry[2] if entry is not None else [0, 0, 0]
        counters[1] += 1
        if trace.reason is not None:
            self._set(key, trace.reason, counters)
            self._warn(trace.reason)
            return result
        plan = _Plan(trace, template) if trace.unstable is None else None
        if plan is None and counters[1] >= _MAX_TRACES:
            self._set(key, trace.unstable, counters)
            self._warn(trace.unstable)
        elif plan is None or entry is None or entry[0] is None:
            self._set(key, None, counters, first=plan)
        elif entry[0].same_as(plan):
            self._set(key, plan, counters)
        elif counters[1] < _MAX_TRACES:  # a first call may differ (a module filling a cache): trace once more
            self._set(key, None, counters, first=plan)
        else:
            reason = (
                f"{_MAX_TRACES} calls with the same signature recorded different steps "
                "(a tensor or array made afresh on each call outside the op table, or Python state)"
            )
            self._set(key, reason, counters)
            self._warn(reason)
        return result

    def _set(self, key, plan, counters, first=None):
        if key not in self.plans and len(self.plans) >= _MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        self.plans[key] = [first, plan, counters]

    def explain(self) -> str:
        """What happened for each input signature: replayed, being traced, or eager and why.

        Returns:
            A few lines of text.

        Examples:
            >>> cr.compile(lambda x: x * 2).explain()
            '<lambda>: 0 signature(s)'
        """
        name = getattr(self.fn, "__name__", "fn")
        lines = [f"{name}: {len(self.plans)} signature(s)"]
        for _, plan, (replayed, traced, eager) in self.plans.values():
            if type(plan) is _Plan:
                lines.append(f"  replayed: {replayed} call(s), traced {traced}, eager {eager}")
            elif plan is None:
                lines.append(f"  being traced: traced {traced}")
            else:
                lines.append(f"  eager ({plan}): traced {traced}, eager {eager}")
        return "\n".join(lines)


def compile(fn):  # noqa: A001 - PyTorch's name
    """Capture a training step once and replay it on later calls with inputs of the same signature.

    ``fn`` takes tensors (and hashable Python values) and may call modules, functional ops,
    ``loss.backward()``, ``optimizer.zero_grad()``, ``optimizer.step()`` and ``scheduler.step()``.
    The first two calls with a new signature (each tensor's shape, dtype, requires_grad and device,
    the other arguments' values, and grad mode) run eagerly and are recorded; when both record the
    same ops, later calls replay the record: the same kernels on the current arrays, the same
    backward graph, the optimizer's own step, without the Python that chose them.  Results,
    gradients and parameter updates are equal to the eager ones bit for bit.

    Before each replay the guards are checked: every tensor from outside the step (parameters,
    buffers) still has the shape, dtype and requires_grad it had, and every module the step called
    (and its children) holds the same attributes (``training``, options), parameters, buffers,
    children and hooks, as objects.  A miss traces again.  Optimizer hyperparameters and learning
    rates are read live by the optimizer's step.  During a replay each op's result must have the
    shape it had when traced; when the shapes depend on the data (boolean-mask indexing), the step
    runs eagerly from then on.

    A step that the trace cannot see through runs eagerly for that signature, with a one-time
    warning (``explain()`` repeats why): converting a tensor to Python (``.item()``, ``bool()``,
    ``float()``, ``.tolist()``, ``.numpy()``), random draws other than dropout's masks (which a
    replay draws afresh, in eager's order), in-place writes
    outside the optimizer, assigning ``.data`` or ``.requires_grad``, ``detach()``, hooks, anomaly
    mode, forward-mode AD, vmap, autocast, ``GradScaler``, custom autograd Functions,
    ``autograd.grad`` inside the step, CuPy tensors, a step that sets a module attribute to a new
    object on every call, and a step that makes a tensor afresh outside the op table on every call.

    Python state that no guard sees is the caller's contract, as with ``jax.jit`` and
    ``torch.compile``: a branch on a counter in a closure or a global, a value computed from a
    tensor's raw array, code that writes arrays directly, is frozen as it was traced.  Use an
    argument (it is part of the key) or call the step eagerly when that is not what you want.

    Differs from PyTorch: ``torch.compile`` generates fused kernels; this replays the eager
    kernels and saves the Python around them, so results are equal to eager bit for bit.

    Args:
        fn: the step function.

    Returns:
        A :class:`CompiledFunction` that is called like ``fn``.

    Examples:
        >>> model = cr.nn.Linear(3, 1)
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
        >>> def step(x, y):
        ...     opt.zero_grad()
        ...     loss = ((model(x) - y) ** 2).mean()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> fast = cr.compile(step)
        >>> x, y = cr.ones(4, 3), cr.zeros(4, 1)
        >>> losses = [fast(x, y) for _ in range(4)]
        >>> losses[-1].shape
        ()
    """
    return CompiledFunction(fn)
