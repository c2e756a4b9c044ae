"""Reverse-mode transforms: ``grad``, ``grad_and_value``, ``vjp``, ``jacrev`` and ``hessian``.

They are built on the reverse-mode engine (``autograd.grad``).  A transform
call is a *level*: the arguments it differentiates are replaced by tensors of
their own (a fresh leaf for an argument that has no history, an identity view
for one that is part of an enclosing graph), the function runs with grad
enabled, and the engine differentiates its output with respect to exactly
those tensors.  Because every level has its own input tensors, nested levels
never confuse each other: in ``grad(lambda x: grad(lambda y: x * y)(x))(x)``
the inner ``y`` is a different tensor from the outer ``x`` although it holds
the same values, so the inner derivative is ``x`` and the outer one 1, not 2.

Whether the result must itself be differentiable is decided by looking at the
recorded graph: if the function's output reaches anything from outside the
level (an enclosing level's inputs, a tensor the caller made that requires
grad, or any op recorded before the level began), the gradients are computed
with ``create_graph=True`` and stay connected to it; otherwise they are
computed in no-grad mode, and every result the level returns is detached, so
that a transform never leaks ``requires_grad`` to its caller and never touches
anybody's ``.grad``.

Inside ``jvp``/``jacfwd`` the backward always records (its Tensor ops carry
the tangents) and the fresh inputs take the arguments' tangents; what is
returned is released by the same rule, tangents kept.  Inside ``vmap`` the
level works on the *physical* tensors (``_vmap.physical``: every vmap level's
batch in front, unbatched arguments expanded), so the gradient of the summed
outputs is the batch of per-sample gradients, and wraps the results back as
batched tensors.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from .. import autograd
from ..autograd import graph
from ..autograd.forward import carry_tangents, forward_levels
from ..autograd.mode import enable_grad, is_grad_enabled
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from ._forward import jacfwd
from ._pytree import tree_flatten, tree_map, tree_unflatten
from ._vmap import BatchedArray, active_levels, batched, physical, vmap, wrap

_state = threading.local()


def _levels() -> list:
    stack = getattr(_state, "levels", None)
    if stack is None:
        stack = _state.levels = []
    return stack


class _Level:
    """One transform call: the seq number it began at and the input tensors it (and its children) made."""

    __slots__ = ("start", "own", "connected")

    def __enter__(self):
        self.start = next(graph._SEQ)  # every node recorded from now on has a larger number
        self.own = {}  # id -> tensor: leaves made by this level and the levels nested in it (kept alive here)
        self.connected = False  # an argument was part of an enclosing graph
        _levels().append(self)
        return self

    def __exit__(self, *exc):
        stack = _levels()
        stack.pop()
        if stack:
            stack[-1].own.update(self.own)

    def wrap(self, t, outer_grad: bool, api: str, where: str):
        """This level's own tensor for the argument ``t``."""
        if not isinstance(t, Tensor):
            raise TypeError(f"{api}: {where} is a {type(t).__name__}; only tensors can be differentiated")
        if t._data.dtype.kind not in "fc":
            raise DTypeError(
                f"{api}: {where} has shape {t.shape} and dtype {t.dtype}; only floating point tensors can be "
                "differentiated (convert it with .double() or .float(), or leave it out of argnums)"
            )
        if outer_grad and t.requires_grad:
            # part of an enclosing graph: a view of its own keeps this level's derivative apart from the
            # enclosing one's while gradients still flow through it
            self.connected = True
            shape = t._data.shape
            return graph.apply1(_RESHAPE, t, shape, shape)
        leaf = t.detach().requires_grad_(True)
        self.own[id(leaf)] = leaf
        if forward_levels():
            carry_tangents(t, leaf)  # inside jvp/jacfwd: the new input keeps the argument's tangents
        return leaf

    def reaches_outside(self, tensors) -> bool:
        """Whether the graph of ``tensors`` reaches anything recorded or made outside this level."""
        if self.connected:
            return True
        start, own = self.start, self.own
        stack = []
        for t in tensors:
            if isinstance(t, Tensor):
                t = _unbatched(t)  # a vmap-batched tensor: its history is its value's
            if isinstance(t, Tensor) and t.requires_grad:
                stack.append(graph.edge_of(t))
        seen = set()
        while stack:
            edge = stack.pop()
            if edge is None:
                continue
            if type(edge) is not tuple:
                if id(edge) not in own:
                    return True
                continue
            node = edge[0]
            if node in seen:
                continue
            seen.add(node)
            if node.seq < start:
                return True
            stack.extend(node.next)
        return False

    def release(self, t, outer_grad: bool, inside: bool = False):
        """``t`` as the level returns it: detached unless its graph reaches outside the level.

        ``inside``: the caller knows that ``t``'s graph stays inside (no walk).  Inside forward mode (jvp,
        jacfwd) the detached tensor keeps ``t``'s tangents, each released by the same rule (a tangent may
        depend on an enclosing ``grad``'s input while its primal does not).
        """
        if not isinstance(t, Tensor):
            return t
        data = t._data
        if type(data) is BatchedArray:  # a vmap-batched tensor: its value is released, the batch kept
            out = wrap(self.release(data.value, outer_grad, inside), data.bdim, data.level)
        elif not inside and outer_grad and self.reaches_outside([t]):
            return t
        else:
            out = t.detach()
        for forward_level in forward_levels():
            tangent = forward_level.get(t)
            if tangent is not None:
                forward_level.set(out, self.release(tangent, outer_grad))
        return out


_RESHAPE = graph.PRIMITIVES["reshape"]


# --------------------------------------------------------------------------- inside vmap
#
# Under vmap (func/_vmap.py) the transforms work on *physical* tensors: every active vmap level's batch
# dimension at the front (an unbatched argument expanded), so that the gradient of the sum over the batch with
# respect to a physical input is the batch of per-sample gradients; results are wrapped back as batched tensors.
# Outside vmap these are no-ops.


def _vmap_levels() -> tuple:
    return active_levels() if graph.vmap_depth() else ()


def _physical(t, levels):
    if not levels:
        return t
    out = physical(t, levels)
    # inside jvp: a logical tensor's tangents (themselves logical) go with it, as physical tangents
    for forward_level in forward_levels() if out is not t else ():
        tangent = forward_level.get(t)
        if tangent is not None and forward_level.get(out) is None:
            forward_level.set(out, physical(tangent, levels))
    return out


def _batched(t, levels):
    if not levels:
        return t
    out = batched(t, levels)
    for forward_level in forward_levels() if out is not t else ():
        tangent = forward_level.get(t)
        if tangent is not None:
            forward_level.set(out, batched(tangent, levels))
    return out


def _unbatched(t: Tensor) -> Tensor:
    """The tensor holding a vmap-batched tensor's values (``t`` itself when it is not batched)."""
    data = t._data
    while type(data) is BatchedArray:
        t = data.value
        data = t._data
    return t


def _ones_like(t: Tensor) -> Tensor:
    return _wrap(_xp_of(t).ones(t.shape, dtype=t.dtype))


# --------------------------------------------------------------------------- helpers


def _argnums(argnums, nargs: int, api: str) -> tuple[tuple[int, ...], bool]:
    """(the argument positions as a tuple, whether a single int was given)."""
    single = isinstance(argnums, int)
    positions = (argnums,) if single else argnums
    if not isinstance(positions, tuple) or not positions or not all(isinstance(i, int) for i in positions):
        raise TypeError(f"{api}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    if nargs == 0:
        raise TypeError(
            f"{api}: the function was called without positional arguments; there is nothing to differentiate"
        )
    out = []
    for i in positions:
        if not -nargs <= i < nargs:
            raise IndexError(f"{api}: argnums {argnums!r} is out of range for {nargs} positional argument(s)")
        out.append(i % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"{api}: argnums {argnums!r} repeats an argument")
    return tuple(out), single


def _split_aux(result, has_aux: bool, api: str):
    if not has_aux:
        return result, None
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(
            f"{api}: with has_aux=True the function must return a tuple (output, aux), got {type(result).__name__}"
        )
    return result


def _xp_of(t: Tensor):
    """The array module (numpy or cupy) of ``t``, of a vmap-batched tensor's value too."""
    from ..backend import array_module  # noqa: PLC0415

    return array_module(_unbatched(t)._data)


def _zeros_like(t: Tensor) -> Tensor:
    """Zeros of ``t``'s (logical) shape and dtype, outside any graph."""
    return _wrap(_xp_of(t).zeros(t.shape, dtype=t.dtype))


def _wrap_args(level, args, positions, outer_grad, api, levels=()):
    """The arguments with those at ``positions`` replaced by the level's own tensors; the flat inputs; their specs.

    Under vmap (``levels``) the inputs are the physical tensors and the arguments their batched views.
    """
    args = list(args)
    inputs, specs = [], []
    for i in positions:
        leaves, spec = tree_flatten(args[i])
        leaves = [_physical(t, levels) for t in leaves]
        new = [
            level.wrap(t, outer_grad, api, f"argument {i}" + (f" (leaf {k})" if spec.kind != "leaf" else ""))
            for k, t in enumerate(leaves)
        ]
        args[i] = tree_unflatten([_batched(t, levels) for t in new], spec)
        inputs.extend(new)
        specs.append(spec)
    return args, inputs, specs


def _gradients(outputs, inputs, cotangents, create_graph: bool, retain_graph: bool):
    """d(outputs)/d(inputs) contracted with the cotangents; zeros for inputs the outputs do not reach."""
    roots, vectors = [], []
    for out, ct in zip(outputs, cotangents):
        if out.requires_grad:
            roots.append(out)
            vectors.append(ct)
    found = (None,) * len(inputs)
    if roots:
        found = autograd.grad(
            roots, inputs, grad_outputs=vectors, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True
        )
    return [g if g is not None else _zeros_like(t) for g, t in zip(found, inputs)]


def _regroup(flat, specs, single):
    """Flat per-input results back into one pytree per differentiated argument (one tree if ``single``)."""
    trees, k = [], 0
    for spec in specs:
        trees.append(tree_unflatten(flat[k : k + spec.num_leaves], spec))
        k += spec.num_leaves
    return trees[0] if single else tuple(trees)


# --------------------------------------------------------------------------- grad


def _grad_and_value(func, argnums, has_aux, args, kwargs, api):
    positions, single = _argnums(argnums, len(args), api)
    outer_grad = is_grad_enabled()
    levels = _vmap_levels()
    with _Level() as level, enable_grad():
        args, inputs, specs = _wrap_args(level, args, positions, outer_grad, api, levels)
        output, aux = _split_aux(func(*args, **kwargs), has_aux, api)
        if not isinstance(output, Tensor):
            raise TypeError(f"{api}: the function must return a Tensor, got {type(output).__name__}")
        if output._data.size != 1 or output._data.ndim != 0:
            raise ShapeError(
                f"{api}: the function must return a scalar (0-d) tensor, got shape {output.shape}; "
                "use vjp or jacrev for non-scalar outputs"
            )
        aux_leaves = tree_flatten(aux)[0] if has_aux else []
        physical = _physical(output, levels)
        connected = outer_grad and level.reaches_outside([physical, *aux_leaves])
        # inside jvp/jacfwd the backward pass records (its ops carry the tangents) even when nothing outside needs it
        create = connected or bool(forward_levels())
        # the cotangent: None is the engine's 1 for a one-element output; under vmap, 1 for every sample
        ones = _ones_like(physical) if levels else None
        grads = _gradients([physical], inputs, [ones], create_graph=create, retain_graph=create)
    if not connected:
        # nothing reached outside: what the level returns is detached without another walk
        grads = [level.release(g, outer_grad, inside=True) for g in grads]
        output = level.release(output, outer_grad, inside=True)
        aux = tree_map(lambda v: level.release(v, outer_grad, inside=True), aux)
    grads = [_batched(g, levels) for g in grads]
    return _regroup(grads, specs, single), output, aux


def grad_and_value(func, argnums=0, has_aux=False):
    """A function that returns the gradient of ``func`` and its value: ``(grad, value)``.

    As ``torch.func.grad_and_value``.  ``func`` must return a scalar (0-d)
    tensor.  The gradient has the structure of the differentiated argument
    (a tensor, or a dict/list/tuple of tensors); with a tuple ``argnums`` it is
    a tuple of such structures.  With ``has_aux=True``, ``func`` returns
    ``(output, aux)`` and the result is ``(grad, (value, aux))``.  Inputs the
    output does not depend on get a zero gradient.

    Args:
        func: the function to differentiate; its positional arguments at
            ``argnums`` are tensors or pytrees of tensors.
        argnums: which positional argument(s) to differentiate with respect
            to: an int or a tuple of ints (default 0).
        has_aux: ``func`` returns ``(output, aux)``; ``aux`` is returned
            alongside, without being differentiated.

    Returns:
        A function taking ``func``'s arguments and returning ``(grad, value)``
        or ``(grad, (value, aux))``.

    Examples:
        >>> from chainrule.func import grad_and_value
        >>> g, value = grad_and_value(lambda x: (x**2).sum())(cr.tensor([1.0, 2.0]))
        >>> g, value
        (tensor([2., 4.]), tensor(5.))
    """

    @functools.wraps(func)
    def grad_and_value_fn(*args, **kwargs):
        grads, value, aux = _grad_and_value(func, argnums, has_aux, args, kwargs, "grad_and_value")
        return (grads, (value, aux)) if has_aux else (grads, value)

    return grad_and_value_fn


def grad(func, argnums=0, has_aux=False):
    """A function that returns the gradient of ``func`` with respect to the argument(s) at ``argnums``.

    As ``torch.func.grad``: ``grad(f)(x)`` is df/dx for a function ``f``
    returning a scalar (0-d) tensor.  The gradient has the structure of the
    argument (a tensor, or a dict/list/tuple of tensors such as a model's
    parameters); a tuple ``argnums`` gives a tuple of them.  Transforms nest:
    ``grad(grad(f))`` is the second derivative of a scalar function, and
    ``vmap(grad(f))`` gives per-sample gradients.

    ``grad`` never reads or writes any tensor's ``.grad``.  Its results do not
    require grad unless they depend on something outside the call that does
    (an enclosing transform's input, or a tensor with ``requires_grad=True``
    that ``func`` uses): then they stay part of that graph, as in PyTorch.

    Args:
        func: the function to differentiate; its positional arguments at
            ``argnums`` are tensors or pytrees of tensors (float dtypes).
        argnums: which positional argument(s) to differentiate with respect
            to: an int or a tuple of ints (default 0).
        has_aux: ``func`` returns ``(output, aux)``; the result is then
            ``(grad, aux)``, with ``aux`` not differentiated.

    Returns:
        A function taking ``func``'s arguments and returning the gradient
        (or ``(gradient, aux)``).

    Raises:
        ShapeError: ``func`` returned a tensor that is not a scalar.
        DTypeError: a differentiated argument is not a float tensor.

    Examples:
        >>> from chainrule.func import grad
        >>> x = cr.tensor(0.5, dtype=cr.float64)
        >>> grad(cr.sin)(x).item() == cr.cos(x).item()
        True
        >>> grad(grad(cr.sin))(x).item() == -cr.sin(x).item()
        True
        >>> params = {"w": cr.tensor([1.0, 2.0]), "b": cr.tensor(0.5)}
        >>> grad(lambda p, v: ((p["w"] * v).sum() + p["b"]) ** 2)(params, cr.tensor([1.0, 1.0]))
        {'w': tensor([7., 7.]), 'b': tensor(7.)}
    """

    @functools.wraps(func)
    def grad_fn(*args, **kwargs):
        grads, _value, aux = _grad_and_value(func, argnums, has_aux, args, kwargs, "grad")
        return (grads, aux) if has_aux else grads

    return grad_fn


# --------------------------------------------------------------------------- vjp


def vjp(func, *primals, has_aux=False):
    """Run ``func(*primals)`` and return its output with a function for vector-Jacobian products.

    As ``torch.func.vjp``: returns ``(output, vjp_fn)`` (``(output, vjp_fn,
    aux)`` with ``has_aux=True``).  ``vjp_fn(cotangents)`` takes cotangents
    with the structure and shapes of ``output`` and returns a tuple with one
    gradient per primal (each with that primal's structure): the cotangents
    times the Jacobian.  ``vjp_fn`` may be called any number of times; the
    graph lives as long as it does.

    Args:
        func: the function; its positional arguments are tensors or pytrees
            of tensors, and it returns a tensor or a pytree of tensors.
        primals: the arguments to call ``func`` with (all are differentiated).
        has_aux: ``func`` returns ``(output, aux)``; ``aux`` is returned as a
            third item, not differentiated.

    Returns:
        ``(output, vjp_fn)`` or ``(output, vjp_fn, aux)``.

    Examples:
        >>> from chainrule.func import vjp
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> out, vjp_fn = vjp(cr.exp, x)
        >>> vjp_fn(cr.ones(3))[0].allclose(out)  # the Jacobian of exp is diag(exp(x))
        True
        >>> vjp(lambda a, b: a * b, x, cr.tensor(2.0))[1](cr.tensor([1.0, 0.0, 0.0]))
        (tensor([2., 0., 0.]), tensor(1.))
    """
    api = "vjp"
    if not primals:
        raise TypeError("vjp: expected at least one primal")
    outer_grad = is_grad_enabled()
    levels = _vmap_levels()
    positions = tuple(range(len(primals)))
    with _Level() as level, enable_grad():
        args, inputs, specs = _wrap_args(level, primals, positions, outer_grad, api, levels)
        output, aux = _split_aux(func(*args), has_aux, api)
        out_leaves, out_spec = tree_flatten(output)
        for k, o in enumerate(out_leaves):
            if not isinstance(o, Tensor):
                raise TypeError(f"vjp: the function's outputs must be tensors; output leaf {k} is a {type(o).__name__}")
        out_shapes = [o.shape for o in out_leaves]
        out_dtypes = [o.dtype for o in out_leaves]
        out_leaves = [_physical(o, levels) for o in out_leaves]
        aux_leaves = tree_flatten(aux)[0] if has_aux else []
        connected = outer_grad and level.reaches_outside([*out_leaves, *aux_leaves])

    def vjp_fn(cotangents):
        ct_leaves, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise ValueError(
                f"vjp_fn: the cotangents have structure {ct_spec!r} but the outputs have structure {out_spec!r}"
            )
        for k, (c, shape, dtype) in enumerate(zip(ct_leaves, out_shapes, out_dtypes)):
            if not isinstance(c, Tensor):
                raise TypeError(f"vjp_fn: cotangent {k} is a {type(c).__name__}, not a Tensor")
            if c.shape != shape:
                raise ShapeError(f"vjp_fn: cotangent {k} has shape {c.shape} but its output has shape {shape}")
            if c.dtype != dtype:
                raise DTypeError(f"vjp_fn: cotangent {k} has dtype {c.dtype} but its output has dtype {dtype}")
        grad_now = is_grad_enabled()
        outside = connected or (grad_now and any(c.requires_grad for c in ct_leaves))
        ct_leaves = [_physical(c, levels) for c in ct_leaves]
        create = outside or bool(forward_levels())  # inside jvp/jacfwd: recorded, so that tangents flow
        grads = _gradients(out_leaves, inputs, ct_leaves, create_graph=create, retain_graph=True)
        if create and not connected:
            grads = [level.release(g, grad_now) for g in grads]
        return _regroup([_batched(g, levels) for g in grads], specs, single=False)

    if not connected:
        output = tree_map(lambda v: level.release(v, outer_grad, inside=True), output)
        aux = tree_map(lambda v: level.release(v, outer_grad, inside=True), aux)
    return (output, vjp_fn, aux) if has_aux else (output, vjp_fn)


# --------------------------------------------------------------------------- jacobians


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function that returns the Jacobian of ``func`` by reverse mode (one vjp per output element).

    As ``torch.func.jacrev``: for an output of shape ``(*out)`` and an input of
    shape ``(*in)`` the Jacobian has shape ``(*out, *in)``.  With pytrees the
    result is the output's structure whose leaves hold the input's structure
    (a tuple of them for a tuple ``argnums``).

    The function runs once; the rows are the vector-Jacobian products with
    every one-hot cotangent, computed by ``vmap`` over that basis (the
    backward pass runs once per chunk of ``chunk_size`` rows, all of them at
    once by default), on the one recorded graph.  Inside ``vmap`` the rows
    are computed one at a time, in a Python loop.

    Args:
        func: the function; returns a tensor or a pytree of tensors.
        argnums: which positional argument(s) to differentiate with respect
            to: an int or a tuple of ints (default 0).
        has_aux: ``func`` returns ``(output, aux)``; the result is then
            ``(jacobian, aux)``.
        chunk_size: how many rows to compute per backward pass (None: all
            of them in one; 1: a loop over the rows). Smaller chunks use
            less memory.

    Returns:
        A function taking ``func``'s arguments and returning the Jacobian (or
        ``(jacobian, aux)``).

    Examples:
        >>> from chainrule.func import jacrev
        >>> jacrev(lambda x: x**2)(cr.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
        >>> jacrev(lambda a, b: a * b, argnums=(0, 1))(cr.tensor([1.0, 2.0]), cr.tensor(3.0))[1]
        tensor([1., 2.])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"jacrev: chunk_size must be None or a positive int, got {chunk_size!r}")

    @functools.wraps(func)
    def jacrev_fn(*args, **kwargs):
        positions, single = _argnums(argnums, len(args), "jacrev")

        def partial(*diff):
            full = list(args)
            for i, value in zip(positions, diff):
                full[i] = value
            return func(*full, **kwargs)

        result = vjp(partial, *[args[i] for i in positions], has_aux=has_aux)
        output, vjp_fn = result[0], result[1]
        out_leaves, out_spec = tree_flatten(output)
        in_leaves = [tree_flatten(args[i]) for i in positions]
        if _vmap_levels():
            rows = _jacobian_rows(vjp_fn, out_leaves, out_spec)  # per input leaf: (total, *in_shape)
        else:
            rows = _jacobian_rows_vmap(vjp_fn, out_leaves, out_spec, chunk_size)
        jac_leaves, offset = [], 0
        for o in out_leaves:
            n = int(np.prod(o.shape, dtype=np.int64))
            per_input = [r[offset : offset + n].reshape(*o.shape, *r.shape[1:]) for r in rows]
            jac_leaves.append(_regroup(per_input, [spec for _, spec in in_leaves], single))
            offset += n
        jac = tree_unflatten(jac_leaves, out_spec)
        return (jac, result[2]) if has_aux else jac

    return jacrev_fn


def _jacobian_rows_vmap(vjp_fn, out_leaves, out_spec, chunk_size):
    """As ``_jacobian_rows``, by vmap of ``vjp_fn`` over chunks of the one-hot basis of the outputs."""
    from ..ops.shape import cat  # noqa: PLC0415

    sizes = [int(np.prod(o.shape, dtype=np.int64)) for o in out_leaves]
    total = sum(sizes)
    if total == 0 or chunk_size == 1:
        return _jacobian_rows(vjp_fn, out_leaves, out_spec)
    step = total if chunk_size is None else chunk_size
    pieces = []
    for start in range(0, total, step):
        stop = min(start + step, total)
        cts, offset = [], 0
        for o, n in zip(out_leaves, sizes):
            # rows start..stop of the identity, the columns of this output
            xp = _xp_of(o)
            block = xp.zeros((stop - start, n), dtype=o.dtype)
            rows = xp.arange(max(start, offset), min(stop, offset + n))
            block[rows - start, rows - offset] = 1
            cts.append(_wrap(block.reshape(stop - start, *o.shape)))
            offset += n
        grads = vmap(vjp_fn)(tree_unflatten(cts, out_spec))
        pieces.append([leaf for tree in grads for leaf in tree_flatten(tree)[0]])
    if len(pieces) == 1:
        return pieces[0]
    return [cat([piece[j] for piece in pieces], 0) for j in range(len(pieces[0]))]


def _jacobian_rows(vjp_fn, out_leaves, out_spec):
    """Per flat input: the stacked vjps with every one-hot cotangent, shape ``(total outputs, *input shape)``."""
    from ..ops.shape import stack  # noqa: PLC0415

    zeros = [_zeros_like(o) for o in out_leaves]
    per_row = []
    for i, o in enumerate(out_leaves):
        size = int(np.prod(o.shape, dtype=np.int64))
        xp = _xp_of(o)
        for k in range(size):
            one_hot = xp.zeros(size, dtype=o.dtype)
            one_hot[k] = 1
            cts = list(zeros)
            cts[i] = _wrap(one_hot.reshape(o.shape))
            grads = vjp_fn(tree_unflatten(cts, out_spec))
            per_row.append([leaf for tree in grads for leaf in tree_flatten(tree)[0]])
    if not per_row:  # outputs with no elements: nothing to stack
        probe = vjp_fn(tree_unflatten(zeros, out_spec))
        flat = [leaf for tree in probe for leaf in tree_flatten(tree)[0]]
        return [_wrap(_xp_of(g).zeros((0, *g.shape), dtype=g.dtype)) for g in flat]
    return [stack([row[j] for row in per_row], 0) for j in range(len(per_row[0]))]


def hessian(func, argnums=0):
    """A function that returns the Hessian of the scalar function ``func``.

    As ``torch.func.hessian``: for an input of shape ``(*in)`` the Hessian has
    shape ``(*in, *in)``; with pytrees and tuple ``argnums`` the nesting is that
    of ``jacfwd(jacrev(func))``, which is how it is computed: the forward-mode
    Jacobian of the reverse-mode gradient.

    Args:
        func: a function returning a scalar tensor.
        argnums: which positional argument(s) to differentiate with respect
            to: an int or a tuple of ints (default 0).

    Returns:
        A function taking ``func``'s arguments and returning the Hessian.

    Examples:
        >>> from chainrule.func import hessian
        >>> hessian(lambda x: (x**3).sum())(cr.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)


__all__ = ["grad", "grad_and_value", "hessian", "jacrev", "vjp"]
