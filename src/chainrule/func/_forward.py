"""Forward-mode transforms: ``jvp``, ``jacfwd`` and ``linearize`` (torch.func's names and semantics).

Tangents travel forward beside the primal values, through the jvp rule each
primitive declares beside its vjp (``defjvp`` in ``ops/``); the machinery is in
``autograd/forward.py``.  Nothing here runs reverse mode, so a Jacobian-vector
product costs about one extra forward pass, whatever the number of outputs.
"""

from __future__ import annotations

from ..autograd.forward import enter_level, exit_level
from ..autograd.graph import PRIMITIVES, apply1
from ..backend import array_module
from ..errors import ChainruleError, DTypeError, ShapeError
from ..tensor import Tensor, _wrap
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["jvp", "jacfwd", "linearize"]


def _check_leaves(leaves, what: str, api: str) -> None:
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, Tensor):
            raise TypeError(
                f"{api}: {what} must be tensors (in dicts, lists or tuples); leaf {i} is a {type(leaf).__name__}"
            )


def _dual(level, primal: Tensor, tangent: Tensor) -> Tensor:
    """A new tensor for ``primal`` (same value and history, outer tangents kept) with ``tangent`` at ``level``."""
    alias = apply1(PRIMITIVES["reshape"], primal, primal._data.shape, primal._data.shape)
    level.set(alias, tangent)
    return alias


def _jvp_flat(func, primals: tuple, tangents: tuple, api: str, has_aux: bool, strict: bool):
    """Run ``func`` on dual numbers; returns (output, output tangent, aux) with outputs as pytrees."""
    if not isinstance(primals, tuple):
        raise TypeError(
            f"{api}: primals must be a tuple (of tensors or pytrees of tensors), got {type(primals).__name__}"
        )
    if not isinstance(tangents, tuple):
        raise TypeError(f"{api}: tangents must be a tuple like primals, got {type(tangents).__name__}")
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise ValueError(f"{api}: primals and tangents must have the same structure, got {p_spec!r} and {t_spec!r}")
    _check_leaves(p_leaves, "primals", api)
    _check_leaves(t_leaves, "tangents", api)
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        if p._data.dtype.kind != "f":
            raise DTypeError(f"{api}: primal {i} has dtype {p.dtype}; forward mode needs floating point primals")
        if t._data.shape != p._data.shape:
            raise ShapeError(
                f"{api}: tangent {i} has shape {t.shape} but its primal has shape {p.shape}; they must match"
            )
        if t._data.dtype != p._data.dtype:
            raise DTypeError(
                f"{api}: tangent {i} has dtype {t.dtype} but its primal has dtype {p.dtype}; they must match"
            )
    level, token = enter_level()
    try:
        duals = [_dual(level, p, t) for p, t in zip(p_leaves, t_leaves)]
        out = func(*tree_unflatten(duals, p_spec))
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"{api}(..., has_aux=True): the function must return a tuple (output, aux)")
            out, aux = out
        o_leaves, o_spec = tree_flatten(out)
        _check_leaves(o_leaves, "the function's outputs", api)
        o_tangents = []
        for i, o in enumerate(o_leaves):
            tangent = level.get(o)
            if tangent is None:
                if strict:
                    raise ValueError(
                        f"{api}(..., strict=True): output {i} (shape {o.shape}) does not depend on the primals"
                    )
                tangent = _zeros_like(o._data)
            o_tangents.append(tangent)
    finally:
        exit_level(token)
    return tree_unflatten(o_leaves, o_spec), tree_unflatten(o_tangents, o_spec), aux


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``func``'s value at ``primals`` and its Jacobian-vector product with ``tangents``, in one forward pass.

    Tangents are pushed forward through every primitive's jvp rule (forward
    mode), so the cost is about two forward passes however many outputs there
    are. It composes with itself (``jvp`` of ``jvp``) and with reverse mode
    (``grad`` of ``jvp``, ``jvp`` of ``grad``).

    Differs from PyTorch: torch.func.jvp does not implement ``strict=True``;
    here it raises when an output does not depend on the primals (the meaning
    torch.autograd.functional.jvp gives it). In-place ops on tensors that carry a
    tangent do not update the tangent (use the out-of-place op inside ``func``).

    Args:
        func: a function of tensors (or pytrees of tensors: dicts, lists, tuples) returning a tensor or a
            pytree of tensors; with ``has_aux`` a tuple ``(output, aux)``.
        primals: a tuple of the arguments of ``func`` (tensors or pytrees of floating point tensors).
        tangents: a tuple of the same structure, each tensor of its primal's shape and dtype.
        strict: raise if an output does not depend on the primals (default False: its tangent is zero).
        has_aux: ``func`` returns ``(output, aux)``; ``aux`` is returned as is, not differentiated.

    Returns:
        ``(output, jvp_out)``, the output and its tangent (same structure), or ``(output, jvp_out, aux)``.

    Raises:
        TypeError: primals or tangents are not tuples of tensors, or the output is not tensors.
        ShapeError: a tangent's shape differs from its primal's.
        DTypeError: a tangent's dtype differs from its primal's, or a primal is not floating point.

    Examples:
        >>> x = cr.tensor([0.0, 1.0, 2.0])
        >>> y, dy = cr.func.jvp(cr.sin, (x,), (cr.ones_like(x),))
        >>> dy  # cos(x)
        tensor([ 1.0000,  0.5403, -0.4161])
        >>> f = lambda p: (p["w"] * p["b"]).sum()
        >>> p = {"w": cr.tensor([1.0, 2.0]), "b": cr.tensor([3.0, 4.0])}
        >>> cr.func.jvp(f, (p,), ({"w": cr.tensor([1.0, 0.0]), "b": cr.tensor([0.0, 1.0])},))[1]
        tensor(5.)
    """
    out, tangent, aux = _jvp_flat(func, primals, tangents, "jvp", has_aux, strict)
    return (out, tangent, aux) if has_aux else (out, tangent)


def _argnums(argnums, nargs: int, api: str) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"{api}: argnums must name at least one argument")
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"{api}: argnums {argnums!r} is out of range for a function called with {nargs} arguments")
    return tuple(n % nargs for n in nums)


_RANDOMNESS = ("error", "different", "same")
_RANDOM_ERROR = (
    "jacfwd: the function draws random numbers (randomness='error'); pass randomness='same' to use the same "
    "draws for every basis vector, or 'different'"
)


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """A function that returns the Jacobian of ``func`` with respect to the arguments ``argnums``, by forward mode.

    One jvp per input element, with the standard basis as tangents: the right
    choice when there are fewer inputs than outputs (``jacrev`` otherwise).
    ``jacfwd(jacrev(f))`` is the Hessian.

    As in torch.func, the jvp is vmapped over the basis (one batched forward
    pass); where a primitive cannot be batched it falls back to a Python loop
    of jvps, one per basis vector (the same numbers, slower for wide inputs).
    ``randomness`` is vmap's: "error" raises if ``func`` draws from chainrule's
    default generator; with "same" (and, under vmap, "different") every basis
    vector sees the same draws.

    Args:
        func: a function of tensors (or pytrees of tensors) returning a tensor or a pytree of tensors (with
            ``has_aux``: a tuple ``(output, aux)``).
        argnums: the position (an int) or positions (a tuple of ints) of the arguments to differentiate.
        has_aux: ``func`` returns ``(output, aux)``; the Jacobian function then returns ``(jacobian, aux)``.
        randomness: "error" (default), "same" or "different"; see above.

    Returns:
        A function with ``func``'s arguments. Its result has the output's structure; each output leaf of shape
        ``(*out)`` holds, for an argument leaf of shape ``(*in)``, a tensor of shape ``(*out, *in)``, arranged as
        the argument (a tuple of them when ``argnums`` is a tuple).

    Raises:
        ValueError: ``argnums`` is out of range, or ``randomness`` is not one of the three, or "error" and
            ``func`` draws random numbers.

    Examples:
        >>> x = cr.tensor([1.0, 2.0])
        >>> cr.func.jacfwd(lambda x: x ** 2)(x)
        tensor([[2., 0.],
                [0., 4.]])
        >>> w = cr.tensor([[1.0, 2.0]])
        >>> jw, jx = cr.func.jacfwd(lambda w, x: w @ x, argnums=(0, 1))(w, x)
        >>> jw.shape, jx.shape
        ((1, 1, 2), (1, 2))
    """
    if randomness not in _RANDOMNESS:
        raise ValueError(f"jacfwd: randomness must be one of {_RANDOMNESS}, got {randomness!r}")

    def jacobian(*args):
        nums = _argnums(argnums, len(args), "jacfwd")
        diff = tuple(args[n] for n in nums)
        leaves, spec = tree_flatten(diff)
        _check_leaves(leaves, "the differentiated arguments", "jacfwd")
        sizes = [leaf._data.size for leaf in leaves]
        total = sum(sizes)

        def call(*diff_args):
            full = list(args)
            for n, value in zip(nums, diff_args):
                full[n] = value
            return func(*full)

        if total:
            try:
                out, aux, o_spec, fulls = _columns_by_vmap(call, diff, leaves, spec, sizes, has_aux, randomness)
            except ChainruleError:
                # a primitive vmap cannot batch (or a draw under randomness="error"): the loop of jvps says which
                out, aux, o_spec, fulls = _columns_by_loop(call, diff, leaves, spec, sizes, has_aux, randomness)
        else:
            out, aux, o_spec, fulls = _columns_by_loop(call, diff, leaves, spec, sizes, has_aux, randomness)
        o_leaves, _ = tree_flatten(out)
        result = []
        for j, o in enumerate(o_leaves):
            full = fulls[j] if total else None  # (*out, total)
            per_arg = []
            offset = 0
            for leaf, size in zip(leaves, sizes):
                if full is None:
                    block = _zeros_like(o._data.reshape(o._data.shape + (0,)))
                else:
                    block = full[(Ellipsis, slice(offset, offset + size))]
                per_arg.append(block.reshape(o._data.shape + leaf._data.shape))
                offset += size
            grouped = tree_unflatten(per_arg, spec)
            result.append(grouped[0] if isinstance(argnums, int) else grouped)
        jac = tree_unflatten(result, o_spec)
        return (jac, aux) if has_aux else jac

    return jacobian


def _columns_by_vmap(call, diff, leaves, spec, sizes, has_aux, randomness):
    """(out, aux, out spec, [(*out, total) per output leaf]): one jvp, vmapped over the standard basis."""
    from ..ops.shape import movedim  # noqa: PLC0415
    from ._vmap import is_batched, vmap  # noqa: PLC0415

    total = sum(sizes)
    bases = []
    offset = 0
    for leaf, size in zip(leaves, sizes):
        data = leaf._data
        rows = array_module(data).zeros((total, size), dtype=data.dtype)
        rows[offset : offset + size] = array_module(data).eye(size, dtype=data.dtype)
        bases.append(_wrap(rows.reshape((total, *data.shape))))
        offset += size
    seen = {}

    def one(*basis):
        out, tangent, aux = _jvp_flat(call, diff, tree_unflatten(list(basis), spec), "jacfwd", has_aux, False)
        seen["out"], seen["aux"] = out, aux
        t_leaves, seen["spec"] = tree_flatten(tangent)
        return tuple(t_leaves)

    from ..random import get_rng_state  # noqa: PLC0415

    state = get_rng_state()
    columns = vmap(one, randomness=randomness)(*bases)
    if randomness == "error" and get_rng_state() != state:
        raise ValueError(_RANDOM_ERROR)
    out, aux = seen["out"], seen["aux"]
    if any(is_batched(t) for t in tree_flatten((out, aux))[0] if isinstance(t, Tensor)):
        raise ChainruleError("jacfwd: the output differs between basis vectors (random draws)")
    return out, aux, seen["spec"], [movedim(c, 0, -1) for c in columns]


def _columns_by_loop(call, diff, leaves, spec, sizes, has_aux, randomness):
    """As _columns_by_vmap, one jvp per basis vector (for primitives that vmap cannot batch)."""
    from ..ops.shape import stack  # noqa: PLC0415
    from ..random import get_rng_state, set_rng_state  # noqa: PLC0415

    total = sum(sizes)
    state = get_rng_state()
    columns = []  # per basis vector: the flat list of output tangents
    out = aux = o_spec = None
    for k in range(max(total, 1)):
        if randomness == "same":
            set_rng_state(state)
        basis = []
        offset = 0
        for leaf, size in zip(leaves, sizes):
            flat = array_module(leaf._data).zeros(size, dtype=leaf._data.dtype)
            if offset <= k < offset + size:
                flat[k - offset] = 1
            basis.append(_wrap(flat.reshape(leaf._data.shape)))
            offset += size
        out, tangent, aux = _jvp_flat(call, diff, tree_unflatten(basis, spec), "jacfwd", has_aux, False)
        if k == 0 and randomness == "error" and get_rng_state() != state:
            raise ValueError(_RANDOM_ERROR)
        t_leaves, o_spec = tree_flatten(tangent)
        columns.append(t_leaves)
    fulls = [stack([col[j] for col in columns], -1) for j in range(len(columns[0]))] if total else None
    return out, aux, o_spec, fulls


def linearize(func, *primals):
    """``func``'s output at ``primals`` and a function computing its jvp at those primals for any tangents.

    Differs from PyTorch: torch.func.linearize traces ``func`` once and replays only the linear part;
    here each call of the returned function runs a fresh ``jvp`` (forward mode through ``func``
    again), which gives the same values at about twice the cost of one forward pass.

    Args:
        func: a function of tensors (or pytrees of tensors) returning a tensor or a pytree of tensors.
        primals: the arguments to linearize at.

    Returns:
        ``(output, jvp_fn)``: ``jvp_fn(*tangents)`` (one tangent per primal, the same structures) returns the
        output's tangent.

    Examples:
        >>> x = cr.tensor([0.0, 1.0])
        >>> y, jvp_fn = cr.func.linearize(cr.exp, x)
        >>> jvp_fn(cr.ones_like(x))
        tensor([1.0000, 2.7183])
    """
    from ..autograd.mode import no_grad  # noqa: PLC0415

    with no_grad():
        out = func(*primals)

    def jvp_fn(*tangents):
        return _jvp_flat(func, primals, tuple(tangents), "linearize", False, False)[1]

    return out, jvp_fn


def _zeros_like(array) -> Tensor:
    return _wrap(array_module(array).zeros(array.shape, dtype=array.dtype))
