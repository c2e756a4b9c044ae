"""vmap: a function of one sample turned into a function of a batch, by batching rules per primitive.

A *batched tensor* stands for ``size`` tensors of one logical shape.  It is a
plain ``Tensor`` whose raw array is a :class:`BatchedArray`: the batch as a
Tensor with the batch dimension still in it (``value``), where that dimension
is (``bdim``) and the vmap *level* it belongs to (``level``).  To the function
being mapped it looks like one sample: ``shape``, ``ndim``, ``len()`` and
``_data.shape`` are the logical ones, and the op layer (which checks
``type(x) is Tensor``) handles it as any tensor.  Every primitive applied to
it goes through ``graph.batched_apply`` (the hook in apply1/apply2/applyn),
which hands the values and their batch dimensions to the primitive's batching
rule (``_batching.py``): the rule moves the batch dimension where the
primitive's forward can carry it (to the front, into N of a convolution, into
its groups, ...) and applies the primitive once to the whole batch.

Levels nest: the value of a batched tensor may itself be batched at an outer
level.  The rule of the innermost level present among an op's inputs runs
first; the primitives it applies reach the outer levels through the same hook.

Other transforms inside vmap (``grad``, ``vjp``, ``jvp``) work on the
*physical* tensors: :func:`physical` gives a tensor with every active level's
batch dimension at the front (an unbatched input is expanded, so that its
derivative comes out per sample), the transform runs on that, and
:func:`batched` wraps its results back.  Because samples never interact under
vmap, the gradient of the sum over the batch with respect to the physical
input is the batch of per-sample gradients.

Values cannot be read inside vmap: a batched tensor's ``_data`` (a
``BatchedArray``, ``_batched_array.py``) shows one sample's shape and dtype,
runs elementwise and along-an-axis NumPy code on the whole batch, and raises
:class:`VmapError` on anything else (``item()``, reductions over all axes),
as torch.func refuses data-dependent Python control flow.
"""

from __future__ import annotations

import functools
import itertools

from .. import random as _random
from ..autograd import graph
from ..autograd.graph import LOOP_FALLBACK, PRIMITIVES
from ..tensor import Tensor, _wrap
from ._batched_array import (
    _ACTIVE,
    _RULE_LEVEL,
    BatchedArray,
    VmapError,
    _level_info,
    _make,
    is_batched,
    physical_raw,
    rule_level,
    wrap,
)

__all__ = ["BatchedArray", "VmapError", "batched", "is_batched", "physical", "vmap"]

_RANDOMNESS = ("error", "different", "same")
_IDS = itertools.count(1)


# --------------------------------------------------------------------------- the hook


# The rule table: primitive name -> batching rule.  func/_batching.py fills it and LOOPED (the primitives that
# declare the loop fallback); chainrule.func imports it, so the rules are there before any vmap runs.
RULES: dict = {}
LOOPED: set = set()


def rule_for(prim):
    """The primitive's batching rule, LOOP_FALLBACK, or None; attached to it on first use."""
    if prim.batch is None:
        if prim.name in RULES:
            prim.batch = RULES[prim.name]
        elif prim.name in LOOPED:
            prim.batch = LOOP_FALLBACK
    return prim.batch


def _batched_apply(prim, inputs, args):
    """Apply ``prim`` to inputs of which some may be batched (graph.apply* call this while vmap runs)."""
    level = 0
    for t in inputs:
        data = t._data
        if type(data) is BatchedArray and data.level > level:
            level = data.level
    for a in args:
        if type(a) is BatchedArray and a.level > level:  # a mask or condition made from a batched tensor
            level = a.level
    if not level:
        return NotImplemented
    _, size, _ = _level_info(level)
    values, bdims = [], []
    for t in inputs:
        data = t._data
        if type(data) is BatchedArray and data.level == level:
            values.append(data.value)
            bdims.append(data.bdim)
        else:
            values.append(t)
            bdims.append(None)
    rule = prim.batch
    if rule is None:
        rule = rule_for(prim)
    if rule is None:
        raise VmapError(
            f"vmap: the primitive {prim.name!r} has no batching rule and declares no loop fallback "
            f"(inputs: {', '.join(str(tuple(t.shape)) for t in inputs)}); add one in chainrule/func/_batching.py"
        )
    token = _RULE_LEVEL.set(level)
    try:
        if rule == LOOP_FALLBACK:
            out, out_bdim = loop_fallback(prim, values, bdims, args, size)
        else:
            out, out_bdim = rule(prim, values, bdims, args, size)
    finally:
        _RULE_LEVEL.reset(token)
    if prim.name == "setitem":  # in place: x (and every alias of it: they share this array) is now the result
        data = inputs[0]._data
        data.value, data.bdim = out, out_bdim
    if prim.multi:
        if isinstance(out_bdim, int) or out_bdim is None:
            out_bdim = (out_bdim,) * len(out)
        return tuple(wrap(o, b, level) for o, b in zip(out, out_bdim))
    return wrap(out, out_bdim, level)


def apply(prim, values, *args):
    """Apply ``prim`` to tensors (batched at outer levels or plain) the way the op layer does."""
    if len(values) == 1:
        return graph.apply1(prim, values[0], *args)
    if len(values) == 2:
        return graph.apply2(prim, values[0], values[1], *args)
    return graph.applyn(prim, values, *args)


def loop_fallback(prim, values, bdims, args, size):
    """Run ``prim`` once per sample and stack the results (for primitives that declare LOOP_FALLBACK).

    Batched array arguments (index arrays made from a batched tensor) are sliced per sample too.
    """
    level = rule_level()
    raw = [physical_raw(a, level, a.ndim) if type(a) is BatchedArray and a.level == level else None for a in args]
    results = []
    for i in range(size):
        sample = [v if d is None else select(v, d, i) for v, d in zip(values, bdims)]
        sample_args = [a if r is None else r[i] for a, r in zip(args, raw)]  # batched index arrays, per sample
        results.append(apply(prim, sample, *sample_args))
    if prim.multi:
        return tuple(stack([r[k] for r in results]) for k in range(len(results[0]))), 0
    return stack(results), 0


def select(v, dim, i):
    """v[..., i, ...] at ``dim`` (the getitem primitive: a view)."""
    index = (slice(None),) * dim + (i,)
    return graph.apply1(PRIMITIVES["getitem"], v, index, tuple(v.shape))


def stack(tensors, axis=0):
    return graph.applyn(PRIMITIVES["stack"], list(tensors), axis)


def move(v, src, dst):
    """v with dimension ``src`` moved to ``dst`` (a permute; v itself when they are equal)."""
    nd = v.ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return v
    order = [d for d in range(nd) if d != src]
    order.insert(dst, src)
    return graph.apply1(PRIMITIVES["permute"], v, tuple(order))


def expand_batch(v, size, dim=0):
    """An unbatched v with a batch dimension of ``size`` inserted at ``dim`` (a broadcast view, no copy)."""
    shape = tuple(v.shape)
    dim = dim % (len(shape) + 1)
    with_one = shape[:dim] + (1,) + shape[dim:]
    out = graph.apply1(PRIMITIVES["reshape"], v, with_one, shape)
    return graph.apply1(PRIMITIVES["expand"], out, shape[:dim] + (size,) + shape[dim:])


def _batched_function_apply(cls, args, kwargs):
    """A custom ``autograd.Function`` with batched arguments: applied once per sample, the results stacked.

    Its forward and backward are the user's code, which may read raw values, so vmap runs it on each
    sample (the per-sample calls are recorded, so gradients flow through its backward as usual).
    """
    level = max(a._data.level for a in args if isinstance(a, Tensor) and type(a._data) is BatchedArray)
    _, size, _ = _level_info(level)
    results = []
    for i in range(size):
        sample = []
        for a in args:
            data = a._data if isinstance(a, Tensor) else None
            here = type(data) is BatchedArray and data.level == level
            sample.append(select(data.value, data.bdim, i) if here else a)
        results.append(cls.apply(*sample, **kwargs))
    if isinstance(results[0], tuple):
        return tuple(_make(stack([r[k] for r in results]), 0, level) for k in range(len(results[0])))
    return _make(stack(results), 0, level)


graph.batched_apply = _batched_apply
graph.batched_array_type = BatchedArray
graph.batched_function_apply = _batched_function_apply


# --------------------------------------------------------------------------- for the other transforms


def active_levels() -> tuple:
    """The ids of this thread's active vmap levels, outermost first (empty outside vmap)."""
    return tuple(entry[0] for entry in _ACTIVE.get())


def physical(t, levels=None):
    """``t`` with the batch dimension of each of ``levels`` (default: every active one) at the front.

    The first dimension belongs to the outermost level.  A level at which ``t``
    is not batched gets an expanded (broadcast) dimension, so a function of the
    result has per-sample derivatives with respect to it.  Outside vmap this is
    ``t`` itself.  ``grad``/``vjp``/``jvp`` run inside vmap on these tensors and
    wrap their results with :func:`batched`.
    """
    if levels is None:
        levels = active_levels()
    if not levels or not isinstance(t, Tensor):
        return t
    sizes = {entry[0]: entry[1] for entry in _ACTIVE.get()}
    # peel the levels from the innermost; each peeled batch dimension goes to the front of what is left,
    # so the outer levels' dimensions end up in front of the inner ones'
    inner = t
    for level in reversed(levels):
        data = inner._data
        if type(data) is BatchedArray and data.level == level:
            inner = move(data.value, data.bdim, 0)
        else:
            inner = expand_batch(inner, sizes[level], 0)
    return inner


def batched(t, levels=None):
    """The inverse of :func:`physical`: ``t``'s leading dimensions become the batches of ``levels``."""
    if levels is None:
        levels = active_levels()
    if not isinstance(t, Tensor):
        return t
    for level in levels:
        t = _make(t, 0, level)
    return t


# --------------------------------------------------------------------------- vmap


def _flatten(tree, leaves):
    if isinstance(tree, (list, tuple)):
        for item in tree:
            _flatten(item, leaves)
    elif isinstance(tree, dict):
        for item in tree.values():
            _flatten(item, leaves)
    else:
        leaves.append(tree)
    return leaves


def _rebuild(tree, leaves):
    if isinstance(tree, dict):
        return type(tree)((k, _rebuild(v, leaves)) for k, v in tree.items())
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*[_rebuild(v, leaves) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(v, leaves) for v in tree)
    return next(leaves)


def _dims_per_leaf(dims, tree, what, where="") -> list:
    """One dim per leaf of ``tree``: ``dims`` is an int/None for the whole subtree or a matching structure."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree, []))
    if isinstance(dims, (list, tuple)) and isinstance(tree, (list, tuple)) and len(dims) == len(tree):
        out = []
        for i, (d, t) in enumerate(zip(dims, tree)):
            out.extend(_dims_per_leaf(d, t, what, f"{where}[{i}]"))
        return out
    if isinstance(dims, dict) and isinstance(tree, dict) and dims.keys() == tree.keys():
        out = []
        for k in tree:
            out.extend(_dims_per_leaf(dims[k], tree[k], what, f"{where}[{k!r}]"))
        return out
    raise VmapError(
        f"vmap: {what}{where} is {dims!r}, which does not match the structure of the "
        f"{'arguments' if what == 'in_dims' else 'outputs'} there ({type(tree).__name__}); give an int, None, "
        "or a structure of ints/None matching it"
    )


def _check_args(func, in_dims, out_dims, randomness, chunk_size):
    if not callable(func):
        raise TypeError(f"vmap: func must be callable, got {type(func).__name__}")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be None or a positive int, got {chunk_size!r}")
    for name, dims in (("in_dims", in_dims), ("out_dims", out_dims)):
        for d in _flatten(dims, []):
            if d is not None and not isinstance(d, int):
                raise VmapError(f"vmap: {name} may hold only ints and None, got {d!r}")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over a batch dimension of its inputs, as ``torch.func.vmap``.

    ``vmap(f)(xs)`` returns what stacking ``f(x)`` over the samples ``x`` of
    ``xs`` would, computed in one pass: every primitive ``f`` applies runs once
    on the whole batch through its batching rule (a convolution folds the batch
    into N, or into its groups when the weights are batched too).  Transforms
    compose: ``vmap(grad(loss))`` gives per-sample gradients, ``vmap(vmap(f))``
    maps over two dimensions.

    Differs from PyTorch: inside ``func`` the values of a batched tensor cannot
    be read (``item()``, NumPy code and ops outside the op table raise
    :class:`VmapError`; comparisons and masks work, and a raw ``.any()`` or
    ``.all()`` in library code sees the whole batch), a few composites that
    compute on raw values are refused (``std`` with a dim, ``mode``,
    ``median`` of all elements, ``index_put``), an in-place write into a
    batched tensor that carries gradient history is refused, and custom
    ``autograd.Function`` classes (and recurrent layers with per-sample
    weights) run once per sample.  Under
    ``randomness="different"`` dropout draws a mask per sample; other random
    draws (``cr.rand``...) are the same for every sample.

    Args:
        func: a function of tensors (and pytrees of tensors: nested tuples, lists and dicts) returning
            tensors or pytrees of tensors.
        in_dims: the batch dimension of each positional argument: an int (negative counts from the
            end), None (not batched: the same for every sample), or a structure matching the
            arguments (a tuple with one entry per argument, nested as the arguments are). Default 0.
            Keyword arguments are never batched.
        out_dims: where the batch dimension goes in each output (an int or a structure matching the
            outputs; None for an output that is the same for every sample). Default 0.
        randomness: what random draws inside ``func`` do: ``"error"`` (default) raises,
            ``"different"`` gives each sample its own dropout mask, ``"same"`` one draw for all.
        chunk_size: run the batch in chunks of at most this many samples (bounds memory; the
            results are concatenated). None (default): all at once.

    Returns:
        The vectorized function, taking and returning what ``func`` does with the batch dimension added.

    Raises:
        VmapError: a primitive without a batching rule or loop fallback, inputs whose batch sizes
            differ, no batched input, in_dims/out_dims that do not fit, reading values inside ``func``.

    Examples:
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> cr.func.vmap(lambda row: (row * row).sum())(x)
        tensor([ 5., 25., 61.])
        >>> w = cr.tensor([1.0, -1.0])
        >>> cr.func.vmap(lambda row, w: row @ w, in_dims=(0, None))(x, w)
        tensor([-1., -1., -1.])
        >>> cr.func.vmap(lambda col: col.sum(), in_dims=1)(x)
        tensor([ 9., 12.])
    """
    _check_args(func, in_dims, out_dims, randomness, chunk_size)

    @functools.wraps(func)
    def vmapped(*args, **kwargs):
        return _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)

    return vmapped


def _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs):
    if isinstance(in_dims, (list, tuple)) and not isinstance(in_dims, tuple):
        raise VmapError(f"vmap: in_dims must be an int, None or a tuple (one entry per argument), got {in_dims!r}")
    if isinstance(in_dims, tuple) and len(in_dims) != len(args):
        raise VmapError(
            f"vmap: in_dims has {len(in_dims)} entries but the function was called with {len(args)} "
            "positional argument(s)"
        )
    leaves = _flatten(args, [])
    dims = _dims_per_leaf(in_dims, args, "in_dims")
    size = None
    norm_dims = []
    for i, (leaf, d) in enumerate(zip(leaves, dims)):
        if d is None:
            norm_dims.append(None)
            continue
        if not isinstance(leaf, Tensor):
            raise VmapError(
                f"vmap: input {i} is a {type(leaf).__name__} with in_dim {d}; only tensors can be batched "
                "(give None for it in in_dims)"
            )
        nd = leaf.ndim
        if not -nd <= d < nd:
            raise VmapError(f"vmap: in_dim {d} is out of range for input {i} of shape {tuple(leaf.shape)}")
        d %= nd
        n = leaf.shape[d]
        if size is None:
            size = n
        elif n != size:
            raise VmapError(
                f"vmap: inputs have different batch sizes ({size} and {n}: input {i} of shape "
                f"{tuple(leaf.shape)} at dim {d}); every batched input needs the same size"
            )
        norm_dims.append(d)
    if size is None:
        raise VmapError("vmap: no input is batched (in_dims is None for all of them); at least one must be")
    if chunk_size is not None and chunk_size < size:
        return _chunked(func, in_dims, out_dims, randomness, chunk_size, args, kwargs, leaves, norm_dims, size)
    return _run(func, out_dims, randomness, args, kwargs, leaves, norm_dims, size)


def _run(func, out_dims, randomness, args, kwargs, leaves, norm_dims, size):
    level = next(_IDS)
    token = _ACTIVE.set((*_ACTIVE.get(), (level, size, randomness)))
    depth_token = graph._VMAP_DEPTH.set(graph._VMAP_DEPTH.get() + 1)
    try:
        wrapped = iter([leaf if d is None else _make(leaf, d, level) for leaf, d in zip(leaves, norm_dims)])
        result = func(*_rebuild(args, wrapped), **kwargs)
        out_leaves = _flatten(result, [])
        dims = _dims_per_leaf(out_dims, result, "out_dims")
        outs = [_unwrap(out, d, level, size, i) for i, (out, d) in enumerate(zip(out_leaves, dims))]
    finally:
        graph._VMAP_DEPTH.reset(depth_token)
        _ACTIVE.reset(token)
    return _rebuild(result, iter(outs))


def _unwrap(out, out_dim, level, size, i):
    if not isinstance(out, Tensor):
        if out_dim is None:
            return out
        raise VmapError(
            f"vmap: output {i} is a {type(out).__name__}; with out_dims {out_dim} it must be a tensor "
            "(give None for it in out_dims)"
        )
    data = out._data
    here = type(data) is BatchedArray and data.level == level
    if out_dim is None:
        if here:
            raise VmapError(f"vmap: output {i} differs between samples but its out_dim is None; give it an int out_dim")
        return out
    nd = out.ndim + 1
    if not -nd <= out_dim < nd:
        raise VmapError(f"vmap: out_dim {out_dim} is out of range for output {i} of shape {tuple(out.shape)}")
    if not here:
        return expand_batch(out, size, out_dim % nd)
    return move(data.value, data.bdim, out_dim % nd)


def _chunked(func, in_dims, out_dims, randomness, chunk_size, args, kwargs, leaves, norm_dims, size):
    pieces = []
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        chunk = []
        for leaf, d in zip(leaves, norm_dims):
            if d is None:
                chunk.append(leaf)
            else:
                index = (slice(None),) * d + (slice(start, stop),)
                chunk.append(graph.apply1(PRIMITIVES["getitem"], leaf, index, tuple(leaf.shape)))
        chunk_args = _rebuild(args, iter(chunk))
        pieces.append(_run(func, out_dims, randomness, chunk_args, kwargs, chunk, norm_dims, stop - start))
    first = pieces[0]
    flat = [_flatten(p, []) for p in pieces]
    dims = _dims_per_leaf(out_dims, first, "out_dims")
    joined = []
    for k, d in enumerate(dims):
        parts = [f[k] for f in flat]
        if d is None or not isinstance(parts[0], Tensor):
            joined.append(parts[0])
            continue
        axis = d % parts[0].ndim
        joined.append(graph.applyn(PRIMITIVES["cat"], parts, axis, tuple(p.shape[axis] for p in parts)))
    return _rebuild(first, iter(joined))


def randomness_policy():
    """The randomness of the innermost active vmap level in this thread, or None outside vmap."""
    levels = _ACTIVE.get()
    return levels[-1][2] if levels else None


def _randomness_error():
    raise VmapError(
        "vmap: a random draw inside a vmapped function with randomness='error' (the default); pass "
        "randomness='different' (dropout draws a mask per sample) or 'same' (one draw for all samples)"
    )


def _check_draw():
    if randomness_policy() == "error":
        _randomness_error()


def random_mask(draw, shape):
    """A random tensor from ``draw(shape)`` under the innermost vmap level's randomness policy.

    ``"different"``: one draw per sample of every active level (a batched tensor); ``"same"``: one draw,
    shared; ``"error"``: VmapError.  Dropout calls this for a batched input.
    """
    policy = randomness_policy()
    if policy == "error":
        _randomness_error()
    if policy == "same":
        return _wrap(_without_check(draw, shape))
    sizes = tuple(entry[1] for entry in _ACTIVE.get())
    return batched(_wrap(_without_check(draw, sizes + tuple(shape))))


def _without_check(draw, shape):
    token = _ACTIVE.set(())  # the policy was applied here: the draw itself is not refused
    try:
        return draw(shape)
    finally:
        _ACTIVE.reset(token)


_random.DRAW_CHECKS[:] = [_check_draw]
