"""Activation checkpointing: trade compute for memory by recomputing activations in backward.

``checkpoint(fn, *args)`` runs ``fn`` without recording anything, keeping
only its inputs.  When backward reaches it, ``fn`` runs again with recording
on (with the random-number state of the first run, so dropout masks repeat)
and its own backward carries the gradient to the inputs and to every
parameter ``fn`` uses.  The activations inside ``fn`` therefore live only for
the moment its backward runs.

``checkpoint_sequential(modules, segments, input)`` applies this to a chain
of modules cut into segments; with ``memory_budget=`` (bytes) chainrule
chooses the cut itself: it measures once what each module keeps for backward, keeps
the tail of the chain stored normally and checkpoints as little of the head
as it needs to fit the budget (the recomputation cost is one extra forward
of the checkpointed part).

Differences from PyTorch: this is the "reentrant" variant only, so the
gradients of ``fn``'s parameters are accumulated into their ``.grad`` by the
inner backward (``cr.autograd.grad`` does not return them), and
``create_graph=True`` through a checkpoint is not supported.
"""

from __future__ import annotations

from .. import random as cr_random
from ..autograd.engine import backward as engine_backward
from ..autograd.function import Function
from ..autograd.mode import enable_grad, no_grad
from ..errors import GradientError
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "plan_segments"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn, preserve_rng_state, n_kwargs, *args):
        ctx.fn = fn
        ctx.rng_state = cr_random.get_rng_state() if preserve_rng_state else None
        ctx.call_args = args  # non-tensor arguments are kept as they are; tensors are saved below
        ctx.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*[args[i] for i in ctx.tensor_positions])
        ctx.n_kwargs = n_kwargs
        with no_grad():
            return fn(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd.mode import is_grad_enabled  # noqa: PLC0415

        if is_grad_enabled():
            raise GradientError("checkpoint: create_graph=True through a checkpointed function is not supported")
        saved = ctx.saved_tensors
        args = list(ctx.call_args)
        detached = []
        for position, t in zip(ctx.tensor_positions, saved):
            d = t.detach()
            if t.requires_grad:
                d.requires_grad_(True)
            args[position] = d
            detached.append(d)
        current = cr_random.get_rng_state()
        if ctx.rng_state is not None:
            cr_random.set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                out = ctx.fn(*args)
        finally:
            cr_random.set_rng_state(current)
        outs = out if isinstance(out, tuple) else (out,)
        roots, root_grads = [], []
        for o, g in zip(outs, grads):
            if isinstance(o, Tensor) and o.requires_grad and g is not None:
                roots.append(o)
                root_grads.append(g)
        if roots:
            engine_backward(roots, root_grads)
        input_grads = [d.grad if d.requires_grad else None for d in detached]
        full = [None] * len(args)
        for position, g in zip(ctx.tensor_positions, input_grads):
            full[position] = g
        return (None, None, None, *full)


def checkpoint(fn, *args, preserve_rng_state: bool = True, use_reentrant: bool = True):
    """``fn(*args)``, keeping only ``args`` for backward and recomputing the rest.

    ``fn`` runs without recording; when backward reaches the call it runs again
    with recording on (with the random state of the first run, so dropout masks
    repeat) and its backward sends the gradients to the tensor arguments and to
    every parameter ``fn`` uses. The activations inside ``fn`` live only while
    its backward runs.

    Differs from PyTorch: only the reentrant variant exists, so gradients of
    the parameters inside ``fn`` go into their ``.grad`` (``cr.autograd.grad``
    does not return them), and ``create_graph=True`` through a checkpoint is an
    error. Keyword arguments for ``fn`` cannot be passed through (bind them with a lambda).

    Args:
        fn: a function or module of ``args`` returning a tensor or a tuple of tensors.
        args: the positional arguments of ``fn``; tensors among them are saved for backward.
        preserve_rng_state: replay the random state for the recomputation (default True); False is faster when
            ``fn`` draws no random numbers.
        use_reentrant: must be True (the default); False raises ``NotImplementedError``.

    Returns:
        What ``fn(*args)`` returns, connected to the graph.

    Examples:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> x = cr.randn(3, 4)
        >>> cr.utils.checkpoint(model, x).sum().backward()
        >>> model[0].weight.grad.shape
        (8, 4)
    """
    if not use_reentrant:
        raise NotImplementedError("checkpoint: only the reentrant variant exists in chainrule")
    from ..autograd.mode import is_grad_enabled  # noqa: PLC0415

    if is_grad_enabled() and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        # the parameters inside fn are invisible to the Function: a dummy input that requires grad
        # keeps the call in the graph so that backward reaches it (its own gradient is never used)
        return _Checkpoint.apply(lambda _dummy, *rest: fn(*rest), preserve_rng_state, 0, _dummy_input(), *args)
    return _Checkpoint.apply(fn, preserve_rng_state, 0, *args)


def _dummy_input():
    from ..creation import zeros  # noqa: PLC0415

    return zeros((), requires_grad=True)


def _run_segment(modules):
    def run(x):
        for m in modules:
            x = m(x)
        return x

    return run


def _modules_of(functions):
    if hasattr(functions, "_modules"):
        return [m for m in functions._modules.values() if m is not None]
    return list(functions)


def plan_segments(functions, input, memory_budget: int):
    """Choose how to cut ``functions`` so that the activations kept for backward fit ``memory_budget`` bytes.

    Returns (number of leading modules to checkpoint, their segment count, estimated bytes).
    The estimate comes from one measuring forward, module by module with recording
    on: for each module it counts the arrays its backward would keep (parameters
    and buffers excluded, views counted once by their base).  A stored module
    costs what it keeps; a checkpointed segment costs its input while waiting,
    plus everything it keeps while it is recomputed; and backward's own working
    set is taken as three of the largest outputs.  It is an estimate:
    benchmarks/checkpointing.py prints the measured peak under each budget.
    Fewer checkpointed modules means less recomputation, so the plan
    checkpoints the shortest head of the chain that fits. The measuring pass
    restores the random state and the modules' buffers; its result is cached per
    modules and input shape.

    Args:
        functions: an ``nn.Sequential`` or a list of modules, applied in order.
        input: an example input of the shape and dtype training will use.
        memory_budget: the bytes the activations kept for backward may take.

    Returns:
        ``(modules, segments, estimate)``: checkpoint the first ``modules`` modules in ``segments`` segments (0 and 0
        when everything fits stored), for an estimated ``estimate`` bytes.

    Raises:
        MemoryError: no plan fits the budget (the message gives the smallest estimate).

    Examples:
        >>> model = nn.Sequential(*[layer for _ in range(16) for layer in (nn.Linear(16, 16), nn.Tanh())])
        >>> x = cr.randn(32, 16)
        >>> cr.utils.plan_segments(model, x, memory_budget=10**9)  # everything fits: checkpoint nothing
        (0, 0, 38912)
        >>> cr.utils.plan_segments(model, x, memory_budget=32_000)  # the first 24 modules in 3 segments
        (24, 3, 30720)
    """
    modules = _modules_of(functions)
    outs, kept = _memory_profile(modules, input)
    n = len(modules)
    working = 3 * max(outs, default=0)  # backward's own temporaries: a few gradient-sized arrays at a time
    total = sum(kept) + working
    if total <= memory_budget:
        return 0, 0, total
    prefix = [0]
    for s in kept:
        prefix.append(prefix[-1] + s)
    first = input._data.nbytes if isinstance(input, Tensor) else 0
    best_any = None
    for k in range(1, n + 1):
        tail = total - prefix[k]  # includes the working allowance
        best_k = None
        for s in range(1, k + 1):
            bounds = [round(i * k / s) for i in range(s + 1)]
            waiting = first + sum(outs[b - 1] for b in bounds[1:])  # segment inputs, and the last one's output
            largest = max(prefix[b] - prefix[a] for a, b in zip(bounds[:-1], bounds[1:]))
            estimate = tail + waiting + largest
            if best_k is None or estimate < best_k[2]:
                best_k = (k, s, estimate)
        assert best_k is not None  # noqa: S101 - the loop above ran at least once
        if best_any is None or best_k[2] < best_any[2]:
            best_any = best_k
        if best_k[2] <= memory_budget:
            return best_k
    assert best_any is not None  # noqa: S101
    raise MemoryError(
        f"checkpoint_sequential: no plan fits memory_budget={memory_budget} bytes; the smallest estimate is "
        f"about {best_any[2]} bytes ({best_any[0]} modules in {best_any[1]} segments)"
    )


_PLANS: dict = {}


def _base(a):
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _arrays_in(obj, depth=0):
    """The arrays a node keeps: in tensors, arrays, containers and (one level down) a custom Function's ctx."""
    if isinstance(obj, Tensor):
        yield obj._data
    elif hasattr(obj, "nbytes") and hasattr(obj, "dtype"):
        yield obj
    elif isinstance(obj, (tuple, list)) and depth < 4:
        for o in obj:
            yield from _arrays_in(o, depth + 1)
    elif isinstance(obj, dict) and depth < 4:
        for o in obj.values():
            yield from _arrays_in(o, depth + 1)
    elif depth == 0 and hasattr(obj, "__dict__"):
        for o in vars(obj).values():
            yield from _arrays_in(o, depth + 1)


def _kept_by_graph(root, exclude):
    """Distinct base arrays kept by the graph behind ``root`` (by id), leaving out ``exclude`` ids."""
    found = {}
    edge = root._edge
    stack = [edge[0]] if isinstance(edge, tuple) else []
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for part in (node.saved, node.extra, node.out):
            if part is None or isinstance(part, str):
                continue
            for a in _arrays_in(part):
                b = _base(a)
                if id(b) not in exclude:
                    found[id(b)] = b
        for nxt in node.next or ():
            if isinstance(nxt, tuple):
                stack.append(nxt[0])
    return found


def _memory_profile(modules, input):
    """For each module: bytes of its output, and bytes its backward keeps (one measuring pass, cached).

    Each module runs with recording on, one at a time on a detached input, so the
    measurement itself never holds more than one module's graph.  An output kept
    by its own module or by the next one (a Linear keeps its input) is counted
    once, for the module that made it.
    """
    key = (tuple(id(m) for m in modules), getattr(input, "shape", None), str(getattr(input, "dtype", "")))
    profile = _PLANS.get(key)
    if profile is not None:
        return profile
    fixed = set()
    for m in modules:
        for t in (*getattr(m, "parameters", tuple)(), *getattr(m, "buffers", tuple)()):
            fixed.add(id(_base(t._data)))
    outs, internal, keeps_in, keeps_out = [], [], [], []
    x = input
    # the measuring pass must not change training: random state and buffers (running statistics) are restored
    rng_state = cr_random.get_rng_state()
    buffers = [(b, b._data.copy()) for m in modules for b in getattr(m, "buffers", tuple)()]
    try:
        _measure(modules, x, fixed, outs, internal, keeps_in, keeps_out)
    finally:
        cr_random.set_rng_state(rng_state)
        for b, saved in buffers:
            b._data[...] = saved
    kept = []
    for i in range(len(modules)):
        used_later = keeps_in[i + 1] if i + 1 < len(modules) else True  # the loss keeps the last output
        kept.append(internal[i] + (outs[i] if keeps_out[i] or used_later else 0))
    profile = _PLANS[key] = (outs, kept)
    return profile


def _measure(modules, x, fixed, outs, internal, keeps_in, keeps_out):
    with enable_grad():
        for i, m in enumerate(modules):
            xin = x
            if isinstance(x, Tensor) and i > 0 and x._data.dtype.kind == "f":
                xin = x.detach().requires_grad_(True)
            y = m(xin)
            if not isinstance(y, Tensor):
                raise TypeError(f"checkpoint_sequential: module {i} returned {type(y).__name__}, not a Tensor")
            in_id = id(_base(xin._data)) if isinstance(xin, Tensor) else None
            out_id = id(_base(y._data))
            found = _kept_by_graph(y, fixed)
            keeps_in.append(in_id in found)
            keeps_out.append(out_id in found)
            internal.append(sum(b.nbytes for k, b in found.items() if k not in (in_id, out_id)))
            outs.append(_base(y._data).nbytes)
            x = y.detach()
            del y, found


def checkpoint_sequential(
    functions, segments: int | None, input, memory_budget: int | None = None, preserve_rng_state: bool = True
):
    """Run a chain of modules, checkpointing it in ``segments`` pieces (the last piece is stored normally).

    With ``memory_budget`` (bytes) instead of ``segments``, the plan comes from
    :func:`plan_segments`: only as much of the head of the chain as needed is
    checkpointed.

    Args:
        functions: an ``nn.Sequential`` or a list of modules, applied in order.
        segments: the number of pieces to cut the chain into, a positive int; ignored (pass None) when
            ``memory_budget`` is given.
        input: the chain's input tensor.
        memory_budget: the bytes the activations kept for backward may take, or None to use ``segments``.
        preserve_rng_state: replay the random state when a piece is recomputed; default True.

    Returns:
        The output of the last module.

    Raises:
        ValueError: neither a positive ``segments`` nor a ``memory_budget``.
        MemoryError: no plan fits ``memory_budget``.

    Examples:
        >>> model = nn.Sequential(*[layer for _ in range(16) for layer in (nn.Linear(16, 16), nn.Tanh())])
        >>> x = cr.randn(32, 16)
        >>> y = cr.utils.checkpoint_sequential(model, 4, x)
        >>> y.sum().backward()
        >>> y.shape, model[0].weight.grad.shape
        ((32, 16), (16, 16))
        >>> cr.utils.checkpoint_sequential(model, None, x, memory_budget=32_000).shape
        (32, 16)
    """
    modules = _modules_of(functions)
    if memory_budget is not None:
        k, s, _ = plan_segments(modules, input, memory_budget)
        x = input
        if k:
            bounds = [round(i * k / s) for i in range(s + 1)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                x = checkpoint(_run_segment(modules[a:b]), x, preserve_rng_state=preserve_rng_state)
        return _run_segment(modules[k:])(x)
    if segments is None or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive int, got {segments}")
    n = len(modules)
    size = max(1, -(-n // segments))
    x = input
    start = 0
    while start + size < n:
        x = checkpoint(_run_segment(modules[start : start + size]), x, preserve_rng_state=preserve_rng_state)
        start += size
    return _run_segment(modules[start:])(x)
