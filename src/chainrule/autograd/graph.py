"""The backward graph: primitives, nodes, and recording an op.

A *primitive* is one entry of the derivative table: ``fwd(xp, *arrays, *args)``
computes the result on raw arrays of the array module ``xp``, and
``vjp(ctx, *grad_outputs)`` returns one gradient per tensor input, written with
chainrule's own Tensor ops so that ``create_graph=True`` can differentiate it
again.  ``ctx`` is the :class:`Node` recorded by the forward call.

Recording costs one Node per op.  A node points to the nodes of its inputs
(``next``), never to its own output tensor, so the graph has no reference
cycles and is freed by reference counting alone.  A leaf that requires grad is
its own edge target: the engine accumulates straight into its ``.grad``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..backend import array_module
from ..errors import ChainruleError, DeviceError, DTypeError, IndexingError, ShapeError, describe
from ..tensor import Tensor, _wrap, _wrap_edge
from .forward import attach_output_tangents, forward_levels, propagate
from .mode import anomaly_state, autocast_state, grad_enabled

_ndarray = np.ndarray
_SEQ = itertools.count()
_new_node = _new_tensor = object.__new__
RELEASED = ("released",)  # sentinel for Node.saved once backward has freed it


class Primitive:
    """One row of the derivative table."""

    __slots__ = (
        "name",
        "fwd",
        "vjp",
        "jvp",
        "save",
        "save_kind",
        "save_output",
        "extra",
        "multi",
        "nondiff",
        "view",
        "simple",
        "batch",
    )

    def __init__(self, name, fwd, save=(), save_output=False, extra=False, multi=False, nondiff=(), view=False):
        self.name = name
        self.fwd = fwd
        self.vjp = None
        self.jvp = None  # forward mode: jvp(ctx, *tangents) -> the output's tangent (autograd/forward.py)
        self.save = save  # indices of the inputs the vjp reads, True for all, or "cross" (see _record)
        self.save_kind = 0 if not save else 1 if save is True else 2 if save == "cross" else 3
        # the vjp reads the output (ctx.output()); with multi, the outputs (kept in ctx.extra by the forward): each
        # gets a version counter, and backward refuses to run once one was changed in place
        self.save_output = save_output
        self.extra = extra  # fwd returns (out, extra); the vjp reads ctx.extra
        self.multi = multi  # fwd returns a tuple of outputs
        self.nondiff = frozenset(nondiff)  # outputs that never require grad (indices)
        self.view = view  # the output may share memory with input 0
        self.simple = not (extra or multi or view)
        self.batch = None  # vmap: the batching rule, or LOOP_FALLBACK (chainrule/func/_batching.py)

    def defvjp(self, fn):
        """Decorator: attach the vector-Jacobian product."""
        self.vjp = fn
        return fn

    def defjvp(self, fn):
        """Decorator: attach the Jacobian-vector product ``fn(ctx, *tangents)`` (forward mode).

        ``ctx`` is an ``autograd.forward.JvpContext`` (inputs as ``saved``, ``args``, ``extra``,
        ``output()``); a tangent is None where that input's tangent is zero.  The rule returns the
        output's tangent (one per output for ``multi``; None for zero), written in Tensor ops.
        """
        self.jvp = fn
        return fn

    def defbatch(self, fn):
        """Decorator: attach the batching rule ``fn(prim, values, bdims, args, size) -> (out, out_bdim)`` (vmap).

        ``values`` are the inputs with their batch dimension still in them, ``bdims`` says where it is
        (None: not batched), ``size`` is the batch size; the rule returns the output(s) and their batch
        dimension(s).  Pass ``LOOP_FALLBACK`` instead of a function to declare that vmap may run this
        primitive once per sample (chainrule/func/_batching.py holds the rules).
        """
        self.batch = fn
        return fn

    def __repr__(self):
        return f"<primitive {self.name}>"


PRIMITIVES: dict[str, Primitive] = {}

#: ``Primitive.batch`` for a primitive that vmap may run once per sample and stack (no batching rule)
LOOP_FALLBACK = "loop"

# vmap (chainrule/func/_vmap.py): the number of vmap levels active in this thread (a context variable, per
# thread as grad mode is: one read per op while no vmap runs) and the function that applies a primitive to
# inputs of which some are batched (it returns NotImplemented when none is; _vmap.py sets it on import)
_VMAP_DEPTH = ContextVar("chainrule.vmap_depth", default=0)
vmap_depth = _VMAP_DEPTH.get
batched_apply: Callable[..., Any] | None = None
batched_array_type: type | None = None  # the raw-array class of a batched tensor (_vmap.BatchedArray), set with it
# a custom autograd.Function applied to batched tensors: run once per sample (set with batched_apply)
batched_function_apply: Callable[..., Any] | None = None


def holds_batched(tensors) -> bool:
    """Whether any of ``tensors`` is batched by vmap (the engine then runs vjps in their Tensor-op form)."""
    return any(t is not None and type(t._data) is batched_array_type for t in tensors)


def primitive(name, **flags):
    """Decorator that turns ``fwd(xp, *arrays, *args)`` into a registered Primitive."""

    def register(fwd):
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} is defined twice")
        prim = Primitive(name, fwd, **flags)
        PRIMITIVES[name] = prim
        return prim

    return register


class Node:
    """A recorded op: what backward needs to send gradients to the op's inputs.

    A tensor made by a recorded op reaches its node as ``.grad_fn``; ``next``
    holds one edge per input: ``(node, output_index)`` for a tensor made by an
    op, the tensor itself for a leaf that requires grad, or None. Nodes are made
    by the recording, never by hand.

    Attributes read by vjps (the ``ctx`` of the derivative table):
    ``saved`` (input tensors the primitive asked to keep), ``args`` (the op's
    non-tensor arguments), ``extra`` (arrays the forward chose to keep),
    ``output()`` (the result), ``needs_input_grad`` and ``create_graph``.

    Examples:
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.grad_fn
        <sum node #...>
        >>> y.grad_fn.name, y.grad_fn.next[0][0].name, y.grad_fn.needs_input_grad
        ('sum', 'mul', (True,))
    """

    __slots__ = (
        "prim",
        "next",
        "saved",
        "versions",
        "args",
        "shapes",
        "dtype",
        "seq",
        "extra",
        "out",
        "out_version",
        "hooks",
        "trace",
        "create_graph",
        "out_tangents",
        "__weakref__",
    )

    _LAZY = {
        "extra": None,
        "out": None,
        "out_version": None,
        "hooks": None,
        "trace": None,
        "create_graph": False,
        "dtype": None,
        "out_tangents": None,  # forward mode: ((level, tangent), ...) of a saved output (autograd/forward.py)
    }

    def __getattr__(self, name):
        try:
            return Node._LAZY[name]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'") from None

    @property
    def name(self) -> str:
        """The name of the op's primitive (``"mul"``, ``"sum"``, ...)."""
        return self.prim.name

    @property
    def needs_input_grad(self) -> tuple:
        """One bool per input: whether a gradient flows to it."""
        return tuple(e is not None for e in self.next)

    def output(self, index: int = 0):
        """The op's result as a Tensor; part of the graph when differentiating backward itself."""
        out = self.out
        if out is None:
            raise ChainruleError(f"{self.name}: the output was not saved for backward")
        result = _wrap_edge(out, (self, index)) if self.create_graph else _wrap(out)
        if self.out_tangents is not None:
            return attach_output_tangents(self.out_tangents, result)
        return result

    def __repr__(self):
        return f"<{self.name} node #{self.seq}>"


def version_counter(t):
    """The tensor's shared version counter (a one-element list), created on first need."""
    counter = t._version
    if counter is None:
        counter = t._version = [0]
    return counter


def edge_of(t):
    """Where a gradient for ``t`` goes: (node, output index), the leaf itself, or None."""
    edge = t._edge
    if edge is None and t.requires_grad:
        return t
    return edge


# ---------------------------------------------------------------------------
# errors raised from a forward


def forward_error(prim, inputs, args, exc):
    """Turn a NumPy exception raised inside ``prim``'s forward into a chainrule error.

    A warning raised as an exception (NumPy's "divide by zero encountered in
    log" under ``-W error`` or pytest's ``filterwarnings = error``) is passed
    on as it is: it is the caller's filter speaking, not a shape problem.
    """
    if isinstance(exc, (ChainruleError, Warning)):
        return exc
    where = describe((f"input {i}", t) for i, t in enumerate(inputs))
    extra = f"; arguments {args!r}" if args else ""
    msg = f"{prim.name}: {exc} ({where}{extra})"
    if isinstance(exc, IndexError):
        return IndexingError(msg)
    if (isinstance(exc, TypeError) and "dtype" in str(exc).lower()) or isinstance(exc, OverflowError):
        return DTypeError(msg)  # (an OverflowError: a Python int out of the tensor's integer range)
    return ShapeError(msg)


def promote_pair(prim_name, a, b):
    """Arrays of a and b in one dtype, or a DTypeError for two different float widths.

    chainrule never upcasts floats silently: float32 with float64 is an error
    (call ``.double()`` or ``.float()`` first).  An integer or bool tensor meeting
    a float tensor takes the float's dtype, as in PyTorch.
    """
    ad, bd = a._data, b._data
    if type(ad) is not type(bd):
        raise DeviceError(
            f"{prim_name}: tensors on different devices ({a.device} and {b.device}); move one with .to(device)"
        )
    da, db = ad.dtype, bd.dtype
    if da == db:
        return ad, bd
    fa, fb = da.kind == "f", db.kind == "f"
    if fa and fb:
        raise DTypeError(
            f"{prim_name}: dtypes differ ({describe((('a', a), ('b', b)))}); "
            f"chainrule does not upcast silently: convert one with .to({da}) or .to({db})"
        )
    if fa:
        return ad, bd.astype(da)
    if fb:
        return ad.astype(db), bd
    return ad, bd


def _amp_promote(a, b):
    """Autocast: cast the narrower float up, differentiably (ops/elementwise.py registers the 'cast' primitive)."""
    cast = PRIMITIVES["cast"]
    if a._data.dtype.itemsize < b._data.dtype.itemsize:
        return apply1(cast, a, b._data.dtype), b
    return a, apply1(cast, b, a._data.dtype)


# ---------------------------------------------------------------------------
# recording


def _version_of(t) -> int:
    counter = t._version
    if counter is None:
        counter = t._version = [0]
    return counter[0]


def _record(prim, inputs, out, args):
    """Make the Node for an op whose inputs need gradients, and the output tensor(s)."""
    node = _new_node(Node)
    node.prim = prim
    node.args = args
    node.hooks = None
    # edges, written out for one and two inputs: this runs once per recorded op
    if len(inputs) == 1:
        t = inputs[0]
        edge = t._edge
        node.next = (t if edge is None else edge,)
    else:
        edges = []
        for t in inputs:
            edge = t._edge
            if edge is None and t.requires_grad:
                edge = t
            edges.append(edge)
        node.next = tuple(edges)
    kind = prim.save_kind
    if kind == 0:
        node.saved = ()
        node.versions = ()
    elif kind == 2:
        # a binary op whose gradient for one input reads only the other (mul, matmul):
        # keep an input only when the other one needs a gradient, as PyTorch does
        a, b = inputs
        if a.requires_grad and b.requires_grad:
            node.saved = (a, b)
            node.versions = (_version_of(a), _version_of(b))
        elif a.requires_grad:
            node.saved = (None, b)
            node.versions = (0, _version_of(b))
        else:
            node.saved = (a, None)
            node.versions = (_version_of(a), 0)
    else:
        saved = inputs if kind == 1 else tuple([inputs[i] for i in prim.save])
        node.saved = saved
        node.versions = tuple([_version_of(t) for t in saved])
    node.seq = next(_SEQ)
    if prim.extra:
        out, node.extra = out
    if anomaly_state() is not None:
        from .anomaly import on_forward  # noqa: PLC0415

        on_forward(node, inputs, out)
    if prim.multi:
        outs = [o if type(o) is _ndarray or array_module(o) is not np else np.asarray(o) for o in out]
        node.shapes = tuple([o.shape for o in outs])
        node.dtype = outs[0].dtype
        nondiff = prim.nondiff
        results = tuple([_wrap(o) if i in nondiff else _wrap_edge(o, (node, i)) for i, o in enumerate(outs)])
        if prim.view:
            for r, o in zip(results, outs):
                _share_version(r, inputs[0], o)
        elif prim.save_output:
            counters = node.out_version = tuple([[0] for _ in results])
            for r, counter in zip(results, counters):
                r._version = counter
        return results
    if type(out) is not _ndarray and array_module(out) is np:
        out = np.asarray(out)
    node.shapes = (out.shape,)
    result = _new_tensor(Tensor)  # _wrap_edge(out, (node, 0)), inlined: this is the hottest path
    result._data = out
    result.grad = None
    result.requires_grad = True
    result._edge = (node, 0)
    result._version = None
    if prim.save_output:
        node.out = out
        counter = result._version = [0]
        node.out_version = counter
    if prim.view:
        _share_version(result, inputs[0], out)
    return result


def _share_version(result, base, out):
    base_data = base._data
    if out.base is not None and (out.base is base_data or out.base is base_data.base):
        result._version = version_counter(base)
        result._is_view = True


def _plain(prim, out, inputs):
    """Wrap a forward's result when nothing is recorded."""
    if prim.extra:
        out = out[0]
    if prim.multi:
        return tuple([_wrap(o if type(o) is _ndarray or array_module(o) is not np else np.asarray(o)) for o in out])
    if type(out) is not _ndarray and array_module(out) is np:
        out = np.asarray(out)
    result = _wrap(out)
    if prim.view:
        _share_version(result, inputs[0], out)
    return result


def apply1(prim, a, *args):
    """Apply a one-input primitive to a Tensor."""
    if vmap_depth() and (result := batched_apply(prim, (a,), args)) is not NotImplemented:
        return _batched_dual(prim, (a,), args, result) if forward_levels() else result
    ad = a._data
    xp = np if type(ad) is _ndarray else array_module(ad)
    try:
        out = prim.fwd(xp, ad, *args)
    except Exception as exc:  # noqa: BLE001 - re-raised with the op's name
        raise forward_error(prim, (a,), args, exc) from exc
    if forward_levels():  # forward mode (jvp) is on in this thread: the result gets its tangents
        return _dual(prim, (a,), out, args)
    if grad_enabled() and a.requires_grad:
        return _record(prim, (a,), out, args)
    if prim.simple:
        if type(out) is not _ndarray and xp is np:
            out = np.asarray(out)
        return _wrap(out)
    return _plain(prim, out, (a,))


def apply2(prim, a, b, *args):
    """Apply a two-input primitive; mixed dtypes are promoted or refused (promote_pair)."""
    if vmap_depth() and (result := batched_apply(prim, (a, b), args)) is not NotImplemented:
        return _batched_dual(prim, (a, b), args, result) if forward_levels() else result
    ad, bd = a._data, b._data
    if ad.dtype is not bd.dtype or type(ad) is not type(bd):
        if autocast_state() is not None and ad.dtype.kind == "f" and bd.dtype.kind == "f" and type(ad) is type(bd):
            a, b = _amp_promote(a, b)  # autocast: the narrower float is cast up, differentiably
            ad, bd = a._data, b._data
        else:
            ad, bd = promote_pair(prim.name, a, b)
    xp = np if type(ad) is _ndarray else array_module(ad)
    try:
        out = prim.fwd(xp, ad, bd, *args)
    except Exception as exc:  # noqa: BLE001
        raise forward_error(prim, (a, b), args, exc) from exc
    if forward_levels():
        return _dual(prim, (a, b), out, args)
    if grad_enabled() and (a.requires_grad or b.requires_grad):
        return _record(prim, (a, b), out, args)
    if prim.simple:
        if type(out) is not _ndarray and xp is np:
            out = np.asarray(out)
        return _wrap(out)
    return _plain(prim, out, (a, b))


def applyn(prim, inputs, *args):
    """Apply a primitive to a sequence of Tensors (no dtype promotion: the op checks)."""
    if vmap_depth() and (result := batched_apply(prim, tuple(inputs), args)) is not NotImplemented:
        return _batched_dual(prim, tuple(inputs), args, result) if forward_levels() else result
    datas = [t._data for t in inputs]
    xp = array_module(datas[0]) if datas else np
    if xp is not np or any(type(d) is not _ndarray for d in datas):
        kinds = {type(d) for d in datas}
        if len(kinds) > 1:
            raise DeviceError(f"{prim.name}: inputs are on different devices ({[str(t.device) for t in inputs]})")
    try:
        out = prim.fwd(xp, *datas, *args)
    except Exception as exc:  # noqa: BLE001
        raise forward_error(prim, inputs, args, exc) from exc
    if forward_levels():
        return _dual(prim, tuple(inputs), out, args)
    if grad_enabled():
        for t in inputs:
            if t.requires_grad:
                return _record(prim, tuple(inputs), out, args)
    return _plain(prim, out, inputs)


def _batched_dual(prim, inputs, args, result):
    """jvp under vmap: the tangents follow the logical (batched) tensors; the rule's ops batch in turn.

    The forward's kept arrays (``extra``) are not seen here: a rule that reads them (max pooling, max/min
    along a dim) is not available under vmap.
    """
    return propagate(prim, inputs if type(inputs) is tuple else tuple(inputs), args, None, result)


def _dual(prim, inputs, out, args):
    """Record (or wrap) the result as usual, then give it its tangents at the active forward levels."""
    extra = out[1] if prim.extra else None
    if grad_enabled() and any(t.requires_grad for t in inputs):
        result = _record(prim, inputs, out, args)
    else:
        result = _plain(prim, out, inputs)
    return propagate(prim, inputs, args, extra, result)
