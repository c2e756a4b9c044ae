"""Forward mode: tangents carried beside primal tensors, one level per active ``jvp``.

A *level* is one forward-mode transform in progress (``chainrule.func.jvp``,
``jacfwd``, ``linearize``).  It maps tensors to their tangents; a tensor with a
tangent at a level is that level's dual number.  Every primitive applied while
a level is active (``apply1``/``apply2``/``applyn`` in graph.py call
:func:`propagate`) asks its ``jvp`` rule for the output's tangent when any
input has one.

Why a side table and not a slot on Tensor: a tensor can be dual at several
nested levels at once (``jvp`` of ``jvp``), and a level's tangents must vanish
with it.  Each level holds its tangents by the id of a weakly referenced
tensor, so an intermediate is freed as soon as the function drops it.

Nesting (perturbation confusion): the rule for level ``k`` runs with only the
levels outside ``k`` active, so its Tensor ops carry the outer levels'
tangents of the tangent itself (second-order forward mode) and never mix
level ``k``'s tangent into an outer one.  Levels are processed from the
outermost in, so an inner rule that reads the op's output sees that output's
outer tangents already in place.

Reverse mode composes: rules are chainrule Tensor ops, recorded when grad
mode is on (``grad`` of ``jvp``), and vjp rules run through the same ops, so
their results carry tangents (``jvp`` of ``grad``).

Cost when no ``jvp`` is active: one context-variable read per op (the same
kind of read as grad mode), nothing else.  The levels are per thread.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar

from ..errors import ChainruleError, DTypeError

# the active levels of this thread, outermost first (an empty tuple: forward mode is off)
_LEVELS: ContextVar[tuple] = ContextVar("chainrule.forward_levels", default=())
#: ``forward_levels()``: this thread's active forward-mode levels, outermost first (``()`` when off)
forward_levels = _LEVELS.get


class Level:
    """One forward-mode transform in progress: the tangents of the tensors it has seen.

    Tangents are Tensors of their primal's shape and dtype; a tensor without
    an entry has a zero tangent at this level.
    """

    __slots__ = ("tangents", "depth", "nodes", "__weakref__")

    def __init__(self, depth: int):
        self.depth = depth
        self.tangents: dict = {}  # id(tensor) -> (weakref to tensor, tangent)
        self.nodes: list = []  # weak references to the nodes given output tangents (see propagate)

    def get(self, t):
        """The tangent of ``t`` at this level, or None (zero)."""
        entry = self.tangents.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def set(self, t, tangent) -> None:
        """Make ``tangent`` the tangent of ``t`` at this level (dropped when ``t`` is freed)."""
        key = id(t)
        tangents = self.tangents

        def drop(ref, key=key, tangents=tangents):
            entry = tangents.get(key)
            if entry is not None and entry[0] is ref:
                del tangents[key]

        tangents[key] = (weakref.ref(t, drop), tangent)

    def __repr__(self):
        return f"<forward level {self.depth}: {len(self.tangents)} tangents>"


def enter_level() -> tuple[Level, object]:
    """Open a new innermost level in this thread; returns it and the token ``exit_level`` needs."""
    levels = _LEVELS.get()
    level = Level(len(levels))
    return level, _LEVELS.set((*levels, level))


def exit_level(token) -> None:
    """Close the level ``enter_level`` opened (its tangents are dropped)."""
    level = _LEVELS.get()[-1]
    _LEVELS.reset(token)
    # a node's output tangent refers, through the tangent's own graph, back to the node: break those
    # reference cycles now that the level is closed (its tangents can no longer be asked for)
    for ref in level.nodes:
        node = ref()
        if node is not None and node.out_tangents is not None:
            kept = tuple([pair for pair in node.out_tangents if pair[0] is not level])
            node.out_tangents = kept or None
    level.nodes = []
    level.tangents.clear()  # tangents of tensors that outlive the level are no longer anybody's


def carry_tangents(source, target) -> None:
    """Give ``target`` the tangents ``source`` has at every active level.

    For transforms that make a new tensor standing for an input (a fresh leaf
    for ``grad``): without this the new tensor would be constant to any
    ``jvp`` around the transform.
    """
    for level in _LEVELS.get():
        tangent = level.get(source)
        if tangent is not None:
            level.set(target, tangent)


class JvpContext:
    """What a jvp rule reads: the op's inputs, arguments, kept arrays and result.

    It offers the names a vjp rule reads on its Node (``saved``, ``args``,
    ``extra``, ``out``, ``output()``, ``next``, ``create_graph``), so that a rule
    whose Jacobian is self-adjoint (elementwise ops, softmax) can call the
    vjp rule with the tangent.  ``next[i]`` is non-None when input ``i`` has a
    tangent; ``create_graph`` is True so that vjp rules take their
    differentiable path (a raw-array fast path would drop outer tangents).
    """

    __slots__ = ("prim", "saved", "args", "extra", "result", "next")

    create_graph = True

    def __init__(self, prim, inputs, args, extra, result, tangents):
        self.prim = prim
        self.saved = inputs
        self.args = args
        self.extra = extra
        self.result = result
        self.next = tuple([None if t is None else True for t in tangents])

    @property
    def inputs(self) -> tuple:
        """The op's input tensors (the primals)."""
        return self.saved

    @property
    def name(self) -> str:
        return self.prim.name

    @property
    def out(self):
        """The raw array of the (first) output."""
        result = self.result
        return (result[0] if type(result) is tuple else result)._data

    def output(self, index: int = 0):
        """The op's result as a Tensor (output ``index`` of a multi-output op)."""
        result = self.result
        return result[index] if type(result) is tuple else result


def propagate(prim, inputs, args, extra, result):
    """Give ``result`` its tangents at every active level where an input has one; returns ``result``."""
    levels = _LEVELS.get()
    for k, level in enumerate(levels):
        tangents = [level.get(t) for t in inputs]
        for tangent in tangents:
            if tangent is not None:
                break
        else:
            continue
        rule = prim.jvp
        if rule is None:
            raise ChainruleError(
                f"{prim.name}: this primitive has no forward-mode (jvp) rule, so jvp/jacfwd cannot go through it; "
                "use reverse mode (grad/vjp/jacrev) for this function"
            )
        ctx = JvpContext(prim, inputs, args, extra, result, tangents)
        token = _LEVELS.set(levels[:k])  # the rule's ops carry the outer levels' tangents only
        try:
            out = rule(ctx, *tangents)
            if prim.multi:
                for i, (r, o) in enumerate(zip(result, out)):
                    if o is not None and i not in prim.nondiff:
                        _set_tangent(level, prim, r, o)
            elif out is not None:
                _set_tangent(level, prim, result, out)
        finally:
            _LEVELS.reset(token)
    if prim.save_output and levels and type(result) is not tuple:
        edge = result._edge
        if type(edge) is tuple:
            # the vjp reads ctx.output(): keep the output's tangents so that a backward run inside this
            # jvp (jvp of grad) sees them (Node.output); only recorded ops under forward mode pay this
            found = [(lv, lv.get(result)) for lv in levels]
            found = [(lv, t) for lv, t in found if t is not None]
            if found:
                node = edge[0]
                node.out_tangents = tuple(found)
                for lv, _ in found:
                    lv.nodes.append(weakref.ref(node))
    return result


def attach_output_tangents(node_fwd, tensor):
    """Node.output() under forward mode: give the re-wrapped output the tangents its op gave it."""
    active = _LEVELS.get()
    for level, tangent in node_fwd:
        if level in active:
            level.set(tensor, tangent)
    return tensor


def _set_tangent(level, prim, result, tangent) -> None:
    """Record a rule's tangent for ``result``; an integer or bool output has none (as in PyTorch)."""
    if result._data.dtype.kind in "fc":
        level.set(result, _fit(prim, tangent, result))


def _fit(prim, tangent, result):
    """The tangent in the output's shape: a rule may return a broadcastable one (add's da alone)."""
    shape = result._data.shape
    if tangent._data.shape != shape:
        try:
            tangent = tangent.expand(shape)
        except ChainruleError as exc:
            raise ChainruleError(
                f"{prim.name}: the jvp rule returned a tangent of shape {tangent.shape} for an output of shape {shape}"
            ) from exc
    if tangent._data.dtype != result._data.dtype:
        # float32 stays float32: a rule that changes the dtype is a bug to fix in the rule, not to hide here
        raise DTypeError(
            f"{prim.name}: the jvp rule returned a {tangent._data.dtype} tangent for a {result._data.dtype} output"
        )
    return tangent


def move_tangents(source, target) -> None:
    """After an in-place write of ``source``'s value into ``target``: ``target`` takes ``source``'s tangents.

    At a level where ``source`` has none, ``target``'s old tangent is dropped (its value no longer
    depends on what that tangent described).
    """
    for level in _LEVELS.get():
        tangent = level.get(source)
        if tangent is not None:
            level.set(target, tangent)
        elif level.get(target) is not None:
            del level.tangents[id(target)]


def has_tangent(*tensors) -> bool:
    """Whether any of ``tensors`` carries a tangent at any forward-mode level of this thread."""
    return any(level.get(t) is not None for level in _LEVELS.get() for t in tensors)


def check_view_write(op: str, target, others=()) -> None:
    """Refuse an in-place write into a view while a tangent is involved: the base's tangent would go stale."""
    if has_tangent(target, *[o for o in others if hasattr(o, "_data")]):
        raise ChainruleError(
            f"{op}: an in-place write into a view (shape {tuple(target._data.shape)}) under forward mode "
            "(jvp/jacfwd) is not supported: the tangent of the tensor it views would not follow. Write "
            "out of place (cat, where, index_put, scatter) or into the whole tensor"
        )
