"""Reverse mode: ``backward()`` and ``grad()``.

The walk is iterative.  Every node gets a sequence number when it is recorded,
and an op is always recorded after the ops that made its inputs, so sorting the
reachable nodes by descending number is a topological order: each node runs
only after every consumer has added its gradient.  No recursion (10,000-op
chains are fine at the default recursion limit) and the order is the same on
every run.

Gradients are summed per node output, then handed to the node's vjp.  Each
incoming gradient is first summed down to the shape of the tensor it belongs to
(broadcasting's adjoint); that is the only place unbroadcasting happens.
A node's saved arrays are dropped right after its vjp runs unless
``retain_graph`` is set.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import GradientError, ShapeError
from ..tensor import ENGINE, Tensor, _wrap
from .forward import forward_levels
from .graph import RELEASED, edge_of, holds_batched, vmap_depth
from .mode import anomaly_state, set_grad_mode


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (PyTorch's semantics).

    ``cr.autograd.backward(loss)`` is ``loss.backward()``; several outputs are
    differentiated in one walk of the graph, their gradients summed.
    ``inputs``, when given, limits accumulation to those tensors.

    Args:
        tensors: the output tensor, or a list of them, each requiring grad.
        grad_tensors: the gradient with respect to each output (the vector of the vector-Jacobian product), one
            tensor of the output's shape per output; None (or None for an output) is allowed only for an output
            of one element and means 1.
        retain_graph: keep the graph's saved tensors after the walk so that backward can run through it again;
            None means the value of ``create_graph``.
        create_graph: record the backward pass itself, so that the gradients are differentiable (second
            derivatives); default False.
        inputs: a tensor or a list of tensors; only their ``.grad`` is filled. None: every leaf that requires
            grad.

    Raises:
        GradientError: an output does not require grad, or has more than one element and no gradient was given.
        ShapeError: a gradient's shape differs from its output's.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> cr.autograd.backward((x * x).sum())
        >>> x.grad
        tensor([2., 4., 6.])
        >>> a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
        >>> cr.autograd.backward([a * b], grad_tensors=[cr.tensor([1.0, 1.0])], inputs=[a])
        >>> a.grad, b.grad
        (tensor([3., 4.]), None)
    """
    roots, grads = _roots(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        _run(roots, grads, retain_graph, create_graph, targets=None)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    found = _run(roots, grads, retain_graph, create_graph, targets=inputs)
    for t, g in zip(inputs, found):
        if g is not None:
            _accumulate_grad(t, g, create_graph, set())


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple (``.grad`` is untouched).

    ``grad_outputs`` is the vector of the vector-Jacobian product (required for
    non-scalar outputs).  With ``create_graph=True`` the results are themselves
    differentiable.  An input the outputs do not depend on raises, unless
    ``allow_unused=True``, in which case its gradient is None.

    Args:
        outputs: a tensor or a sequence of tensors to differentiate.
        inputs: a tensor or a sequence of tensors that require grad.
        grad_outputs: one tensor of each output's shape (or None for a one-element output, meaning 1).
        retain_graph: keep the graph's saved tensors for another backward through it; None means the value of
            ``create_graph``.
        create_graph: record the backward pass so that the gradients can be differentiated again; default False.
        allow_unused: return None for an input the outputs do not depend on instead of raising; default False.

    Returns:
        A tuple with one gradient per input, each of its input's shape (or None, see ``allow_unused``).

    Raises:
        GradientError: an input does not require grad, or is unused and ``allow_unused`` is False.

    Examples:
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (g,) = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)
        >>> g.tolist()
        [3.0, 12.0, 27.0]
        >>> cr.autograd.grad(g.sum(), x)  # the second derivative, 6x
        (tensor([ 6., 12., 18.]),)
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad(): inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise GradientError(f"grad(): inputs[{i}] (shape {t.shape}) does not require grad")
    roots, grads = _roots(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    found = _run(roots, grads, retain_graph, create_graph, targets=inputs)
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise GradientError(
                f"grad(): inputs[{i}] (shape {inputs[i].shape}) is not part of the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return tuple(found)


# ---------------------------------------------------------------------------


def _roots(tensors, grad_tensors, api):
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor) or not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise GradientError(f"{api}(): {len(tensors)} outputs but {len(grad_tensors)} gradients")
    if vmap_depth() and holds_batched(tensors):  # as torch.func: per-sample gradients come from func.grad/vjp
        raise GradientError(f"{api}() of a tensor batched by vmap; use chainrule.func.grad or vjp inside vmap")
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{api}(): output {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise GradientError(
                f"{api}(): output {i} (shape {t.shape}) does not require grad and has no history; "
                "did you compute it under no_grad(), or from tensors without requires_grad=True?"
            )
        if g is None:
            if t._data.size != 1:
                raise GradientError(
                    f"{api}(): the output has shape {t.shape}; a gradient can be implied only for a "
                    "single-element output. Pass gradient= (grad_outputs=) of the same shape, "
                    "or reduce the output first (e.g. .sum())"
                )
            xp = _xp(t._data)
            g = _wrap(xp.ones(t._data.shape, dtype=t._data.dtype))
        else:
            if not isinstance(g, Tensor):
                g = Tensor(g, dtype=t.dtype)
            if g._data.shape != t._data.shape:
                raise ShapeError(
                    f"{api}(): the gradient has shape {g.shape} but output {i} has shape {t.shape}; they must be equal"
                )
            if g._data.dtype != t._data.dtype:
                g = _wrap(g._data.astype(t._data.dtype))
        grads.append(g)
    return tensors, grads


def _xp(array):
    from ..backend import array_module  # noqa: PLC0415

    return array_module(array)


def _sum_to(g: Tensor, shape: tuple, node, input_index: int) -> Tensor:
    """Sum ``g`` over the axes broadcasting added, so that it has ``shape``."""
    gshape = g._data.shape
    lead = len(gshape) - len(shape)
    ok = lead >= 0
    axes = list(range(lead)) if ok else []
    if ok:
        for i, size in enumerate(shape):
            gsize = gshape[lead + i]
            if gsize == size:
                continue
            if size == 1:
                axes.append(lead + i)
            else:
                ok = False
                break
    if not ok:
        name = node.prim.name if node is not None else "backward"
        raise ShapeError(
            f"{name}: the gradient for input {input_index} has shape {gshape}, which cannot be summed "
            f"to the input's shape {shape}"
        )
    out = g.sum(dim=tuple(axes), keepdim=True) if axes else g
    return out.reshape(shape) if out._data.shape != shape else out


def _version_error(node, index, t, saved_version):
    return GradientError(
        f"{node.prim.name}: a tensor it saved for backward (saved input {index}, shape {t.shape}) "
        f"was modified in place after it was saved: its version is {t._version[0]}, it was "
        f"{saved_version}. Use the out-of-place op (x = x + 1, not x += 1) or clone() before changing it"
    )


def _run(roots, root_grads, retain_graph, create_graph, targets):
    """Walk the graph from ``roots``.

    targets None: accumulate into leaves' .grad.  Otherwise return the
    gradients of the ``targets`` tensors (leaf or not) and touch no .grad.

    Three phases: collect the nodes reachable from the roots (``_collect``), with
    ``targets`` mark the nodes whose gradients lead to them (``_plan_targets``),
    then run each node's vjp once, newest first, and deliver its gradients to the
    nodes and leaves it came from (``_deliver``).
    """
    buffers: dict = {}  # node -> one gradient slot per output
    leaf_grads: dict = {}  # leaf -> its gradient so far
    nodes, pending = _collect(roots, root_grads, buffers, leaf_grads)
    captures = needed = leaf_targets = None
    if targets is not None:
        captures, needed, leaf_targets = _plan_targets(targets, nodes)
        found = [None] * len(targets)

    given = {id(_base(g._data)) for g in root_grads}
    given.update(id(g._data) for g in root_grads)

    def finish_leaf(leaf, g):
        hooks = leaf._hooks
        if hooks:
            for hook in list(hooks):
                new = hook(g)
                if new is not None:
                    g = new
        if targets is not None:
            for slot in leaf_targets.get(leaf, ()):
                found[slot] = g
            return
        _accumulate_grad(leaf, g, create_graph, given)

    prev_mode = set_grad_mode(bool(create_graph))  # this thread only: other threads keep recording
    anomaly = anomaly_state() is not None
    try:
        for node in nodes:
            buf = buffers.pop(node, None)
            if buf is None:
                continue
            _check_saved(node)
            if len(buf) > 1 and any(g is None for g in buf):
                buf = _fill_missing(node, buf)
            if node.hooks is not None:
                _run_node_hooks(node, buf, create_graph)
            if captures is not None:
                for index, slot in captures.get(node, ()):
                    found[slot] = buf[index]
                if node not in needed:
                    continue
            prim = node.prim
            if create_graph or forward_levels() or (vmap_depth() and holds_batched(buf)):  # jvp/vmap: Tensor ops
                node.create_graph = True
            grads = prim.vjp(node, *buf)
            if type(grads) is Tensor:
                grads = (grads,)
            if anomaly:
                from .anomaly import on_backward  # noqa: PLC0415

                on_backward(node, grads)
            if not retain_graph:
                node.saved = RELEASED
                if prim.save_output:
                    node.out = None
                if prim.extra:
                    node.extra = None
            _deliver(node, grads, buffers, leaf_grads, pending, finish_leaf)
        # leaves still waiting (with hooks, a root that is a leaf, or edges from nodes that got no gradient)
        for leaf, g in leaf_grads.items():
            finish_leaf(leaf, g)
    finally:
        set_grad_mode(prev_mode)
    return found if targets is not None else None


def _collect(roots, root_grads, buffers, leaf_grads):
    """The nodes reachable from ``roots``, newest first, and how many edges will deliver to each leaf.

    The roots' gradients go into ``buffers`` (a root with history) or
    ``leaf_grads`` (a root that is a leaf).  ``pending`` counts the edges that
    still have to deliver a gradient to each leaf: a leaf's gradient is
    accumulated as soon as its last one arrives, not at the end, so gradients
    that would only wait (for example while .grad accumulates in place) do not
    pile up for the whole backward.
    """
    nodes = []
    seen = set()
    stack = []
    for t, g in zip(roots, root_grads):
        edge = edge_of(t)
        if type(edge) is tuple:
            stack.append(edge[0])
            _add_to_buffer(buffers, edge, g)
        else:
            prev = leaf_grads.get(edge)
            leaf_grads[edge] = g if prev is None else prev + g
    pending: dict = {}
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        nodes.append(node)
        for edge in node.next:
            if type(edge) is tuple:
                if edge[0] not in seen:
                    stack.append(edge[0])
            elif edge is not None:
                pending[edge] = pending.get(edge, 0) + 1
    nodes.sort(key=_SEQ_KEY, reverse=True)
    return nodes, pending


def _plan_targets(targets, nodes):
    """For ``autograd.grad``: (node -> [(output, target slot)], the nodes that lead to a target, leaf -> slots)."""
    leaf_targets: dict = {}
    captures: dict = {}
    for i, t in enumerate(targets):
        edge = t._edge
        if edge is None:
            leaf_targets.setdefault(t, []).append(i)
        else:
            captures.setdefault(edge[0], []).append((edge[1], i))
    needed = set()
    for node in reversed(nodes):  # ascending: inputs before consumers
        for edge in node.next:
            if edge is None:
                continue
            if type(edge) is tuple:
                if edge[0] in needed or edge[0] in captures:
                    needed.add(node)
                    break
            elif edge in leaf_targets:
                needed.add(node)
                break
    return captures, needed, leaf_targets


def _check_saved(node) -> None:
    """Refuse to run a vjp whose saved tensors were freed or changed in place since the forward."""
    saved = node.saved
    if saved is RELEASED:
        raise GradientError(
            f"{node.prim.name}: backward through this part of the graph a second time, but its "
            "saved tensors were freed by the first backward. Pass retain_graph=True to the first "
            "backward() if you need to call it twice"
        )
    if saved:
        for t, v in zip(saved, node.versions):
            if t is not None and t._version[0] != v:
                raise _version_error(node, _position(saved, t), t, v)
    prim = node.prim
    if prim.save_output:
        counters = node.out_version if prim.multi else (node.out_version,)  # multi: one counter per output
        for i, counter in enumerate(counters):
            if counter[0]:
                which = f"its output {i}" if prim.multi else "its output"
                raise GradientError(
                    f"{prim.name}: {which} was modified in place after the op ran (version "
                    f"{counter[0]}), but backward needs the original. Clone the output before "
                    "changing it in place"
                )


def _deliver(node, grads, buffers, leaf_grads, pending, finish_leaf) -> None:
    """Hand each input gradient of ``node`` to the node it came from, or add it to its leaf's gradient."""
    for edge, g in zip(node.next, grads):
        if edge is None:
            continue
        if type(edge) is tuple:
            if g is None:
                continue
            target, index = edge
            shape = target.shapes[index]
            if g._data.shape != shape:
                g = _sum_to(g, shape, node, _position(node.next, edge))
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * len(target.shapes)
                buf[index] = g
            elif buf[index] is None:
                buf[index] = g
            else:
                buf[index] = buf[index] + g
            continue
        if g is not None:
            prev = leaf_grads.get(edge)
            if type(g) is not Tensor:
                # a row-sparse gradient (ops/sparse.py): its shape is the leaf's by construction, and
                # it adds itself to whatever it meets (sparse + sparse stays sparse, + dense is dense)
                leaf_grads[edge] = g if prev is None else g + prev
            else:
                if g._data.shape != edge._data.shape:
                    g = _sum_to(g, edge._data.shape, node, _position(node.next, edge))
                leaf_grads[edge] = g if prev is None else prev + g
        left = pending[edge] - 1
        if left:
            pending[edge] = left
        else:
            del pending[edge]
            # a leaf with tensor hooks waits for the end of backward (hooks such as data-parallel
            # gradient averaging rely on every gradient of the pass having been computed)
            if not edge._hooks:
                total = leaf_grads.pop(edge, None)
                if total is not None:
                    finish_leaf(edge, total)


_SEQ_KEY = operator.attrgetter("seq")


def _position(items, item) -> int:
    """Index of ``item`` by identity (== on tensors is elementwise)."""
    for i, candidate in enumerate(items):
        if candidate is item:
            return i
    return -1


def _base(array):
    base = array.base
    return array if base is None else base


def _add_to_buffer(buffers, edge, g):
    node, index = edge
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * len(node.shapes)
        buf[index] = g
    elif buf[index] is None:
        buf[index] = g
    else:
        buf[index] = buf[index] + g


def _fill_missing(node, buf):
    """Zeros for the outputs of a multi-output node that got no gradient."""
    xp = None
    for g in buf:
        if g is not None:
            xp = _xp(g._data)
            break
    return [g if g is not None else _wrap(xp.zeros(shape, dtype=node.dtype)) for g, shape in zip(buf, node.shapes)]


class RetainGrad:
    """The hook ``retain_grad()`` adds: it stores the gradient on the (weakly held) tensor."""

    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref


def _run_node_hooks(node, buf, create_graph):
    """Tensor hooks and retain_grad on the node's outputs, in the order they were registered."""
    for index, fns in node.hooks.items():
        for fn in list(fns):
            if type(fn) is RetainGrad:
                t = fn.ref()
                if t is not None:
                    g = buf[index] if create_graph else _wrap(buf[index]._data.copy())
                    t.grad = g if t.grad is None else t.grad + g
                continue
            new = fn(buf[index])
            if new is not None:
                if new._data.shape != buf[index]._data.shape:
                    raise ShapeError(
                        f"hook on the output of {node.prim.name} returned shape {new.shape}, "
                        f"expected {buf[index].shape}"
                    )
                buf[index] = new


def _accumulate_grad(leaf, g, create_graph, given):
    """Add ``g`` into ``leaf.grad``, making sure no two tensors share a gradient array."""
    grad = leaf.grad
    if type(g) is not Tensor or (grad is not None and type(grad) is not Tensor):
        # a row-sparse gradient on either side (ops/sparse.py) adds itself; it never shares arrays
        leaf.grad = g if grad is None else (g + grad if type(g) is not Tensor else grad + g)
        return
    if create_graph:
        if leaf.grad is None:
            leaf.grad = g
        else:
            leaf.grad = leaf.grad + g
        return
    arr = g._data
    grad = leaf.grad
    if grad is None or grad._data.shape != arr.shape:
        # a fresh array the pass made is adopted; anything that may be shared (a view, a
        # broadcast, the user's gradient, another leaf's array) is copied
        if arr.base is not None or id(arr) in given:
            arr = arr.copy()
        given.add(id(arr))
        if arr.dtype != leaf._data.dtype:
            arr = arr.astype(leaf._data.dtype)
        leaf.grad = _wrap(arr)
    else:
        existing = leaf.grad._data
        if existing.flags.writeable:
            np.add(existing, arr, out=existing) if type(existing) is np.ndarray else existing.__iadd__(arr)
        else:
            leaf.grad = _wrap(existing + arr)


ENGINE.update(backward=backward, RetainGrad=RetainGrad)  # Tensor.backward and retain_grad call these
