"""``functional_call``: run a Module with other tensors in place of its parameters and buffers.

This is what turns a model into a function of its parameters, so that
``grad``, ``vmap`` and friends can differentiate or batch over them.  The given
tensors are put into the modules' parameter and buffer tables for the call and
the originals are put back afterwards, even when the call raises.  A lock per
module makes concurrent ``functional_call`` s on one module take turns; a
thread that calls the module directly meanwhile sees the substituted tensors
(as with PyTorch's functional_call).
"""

from __future__ import annotations

import threading
import weakref

from ..tensor import Tensor

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _lock_of(module) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(module)
        if lock is None:
            lock = _LOCKS[module] = threading.RLock()
        return lock


def _merge(parameter_and_buffer_dicts) -> dict:
    if isinstance(parameter_and_buffer_dicts, dict):
        return dict(parameter_and_buffer_dicts)
    if not isinstance(parameter_and_buffer_dicts, (tuple, list)) or not all(
        isinstance(d, dict) for d in parameter_and_buffer_dicts
    ):
        raise TypeError(
            "functional_call: parameter_and_buffer_dicts must be a dict or a tuple of dicts, got "
            f"{type(parameter_and_buffer_dicts).__name__}"
        )
    merged: dict = {}
    for d in parameter_and_buffer_dicts:
        repeated = sorted(set(merged) & set(d))
        if repeated:
            raise ValueError(f"functional_call: {repeated} appear in more than one of the dicts")
        merged.update(d)
    return merged


def _tied_names(module) -> dict:
    """{name: [every name of the same tensor]} for the parameters and buffers held under several names."""
    by_tensor: dict = {}
    for name, value in (
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ):
        by_tensor.setdefault(id(value), []).append(name)
    return {name: names for names in by_tensor.values() if len(names) > 1 for name in names}


def _resolve(module, name: str):
    """(the submodule that holds ``name``, the attribute's own name)."""
    *path, leaf = name.split(".")
    owner = module
    for part in path:
        child = owner._modules.get(part) if part in owner._modules else None
        if child is None:
            raise AttributeError(f"functional_call: {name!r} names no submodule of {type(module).__name__} ({part!r})")
        owner = child
    return owner, leaf


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with the given tensors in place of its parameters and buffers.

    As ``torch.func.functional_call``: ``functional_call(model, params, x)``
    runs ``model(x)`` with ``params[name]`` wherever the model would use its
    parameter or buffer ``name`` (the names of ``named_parameters()`` and
    ``named_buffers()``); names not given keep the module's own tensors.  The
    module is unchanged afterwards, so the model becomes a pure function of
    ``params`` that ``grad`` and ``vmap`` can transform.  A batch-norm layer
    in training mode updates the running statistics it is given, in place.

    Differs from PyTorch: concurrent calls on the same module from several
    threads take turns (a lock per module) instead of racing.

    Args:
        module: the Module to call.
        parameter_and_buffer_dicts: a dict from names to tensors, or a tuple of
            such dicts (their keys must not overlap).
        args: the positional arguments of the call: a tuple, or a single
            argument that is not a tuple.
        kwargs: the keyword arguments of the call.
        tie_weights: a tensor the module holds under several names (tied
            weights) is replaced under all of them when one name is given.
        strict: every parameter and buffer must be given, and no other name.

    Returns:
        Whatever ``module(*args, **kwargs)`` returns.

    Raises:
        ValueError: names missing or unexpected under ``strict``, keys repeated
            across the dicts, or tied names given different tensors.

    Examples:
        >>> from chainrule.func import functional_call
        >>> layer = cr.nn.Linear(2, 1)
        >>> params = {"weight": cr.tensor([[1.0, 2.0]]), "bias": cr.tensor([0.5])}
        >>> functional_call(layer, params, (cr.tensor([[1.0, 1.0]]),))
        tensor([[3.5000]])
        >>> layer.weight is params["weight"]
        False
    """
    values = _merge(parameter_and_buffer_dicts)
    for name, value in values.items():
        if not isinstance(name, str):
            raise TypeError(f"functional_call: names must be strings, got {name!r}")
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"functional_call: {name!r} is a {type(value).__name__}, not a Tensor")
    if tie_weights:
        tied = _tied_names(module)
        for name in list(values):
            for other in tied.get(name, ()):
                if other not in values:
                    values[other] = values[name]
                elif values[other] is not values[name]:
                    raise ValueError(
                        f"functional_call: {name!r} and {other!r} are tied (one tensor in the module) but were "
                        "given different tensors; pass one of them, or tie_weights=False"
                    )
    if strict:
        known = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        known |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing, unexpected = sorted(known - set(values)), sorted(set(values) - known)
        if missing or unexpected:
            raise ValueError(
                f"functional_call(strict=True): missing {missing}, unexpected {unexpected} for {type(module).__name__}"
            )
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = {} if kwargs is None else kwargs

    with _lock_of(module):
        undo = []
        try:
            for name, value in values.items():
                owner, leaf = _resolve(module, name)
                for table in (owner._parameters, owner._buffers):
                    if leaf in table:
                        undo.append((table, leaf, table[leaf]))
                        table[leaf] = value
                        break
                else:
                    # not a parameter or buffer (strict=False): a plain attribute for the call, as PyTorch does
                    missing = object()
                    undo.append((owner.__dict__, leaf, owner.__dict__.get(leaf, missing)))
                    owner.__dict__[leaf] = value
            return module(*args, **kwargs)
        finally:
            for table, leaf, old in reversed(undo):
                if type(old) is object:
                    table.pop(leaf, None)
                else:
                    table[leaf] = old
