"""Optimizer: parameter groups, per-parameter state, and a state_dict that resumes a run exactly.

Subclasses implement :meth:`Optimizer._update` for one parameter; the base
class walks the groups, skips parameters without a gradient, runs the closure
and bumps each changed parameter's version counter.  Updates are written into
``p._data`` in place with NumPy ``out=`` arguments; temporaries come from a few
work buffers that are reused across parameters and steps, so a step allocates
nothing once the state exists.

``state_dict()`` follows PyTorch's layout:
``{"state": {index: {name: Tensor | number}}, "param_groups": [{option: value,
..., "params": [index, ...]}]}``, with parameters numbered in the order the
groups list them.  Its leaves are Tensors, numbers, strings, booleans, None
and tuples of numbers, so it can be written as safetensors + JSON without
pickle.  Unlike PyTorch's, the returned state tensors are copies: saving a
state dict and training on does not change what was saved.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from itertools import chain

from ..autograd.mode import enable_grad
from ..backend import array_module
from ..errors import DTypeError
from ..tensor import Tensor, _wrap

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks an option that has no default and must be given (per group or to the constructor)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _check_number(name: str, value, low=0.0, high=None, open_low=False):
    """ValueError with PyTorch's wording when an option is out of range."""
    value = float(value)
    bad = math.isnan(value) or value < low or (open_low and value == low) or (high is not None and value >= high)
    if bad:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_adam_options(lr, eps, betas, weight_decay) -> None:
    """The range checks every Adam-family optimizer makes, in PyTorch's order and wording."""
    _check_number("learning rate", lr)
    _check_number("epsilon", eps)
    _check_number("beta parameter at index 0", betas[0], high=1.0)
    _check_number("beta parameter at index 1", betas[1], high=1.0)
    _check_number("weight_decay", weight_decay)


class Optimizer:
    """Base class of every optimizer.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) each
    with a ``"params"`` entry and any per-group options that override
    ``defaults``.

    A subclass passes its options as ``defaults`` and implements
    ``_update(param, grad, state, group)``, which updates ``param._data`` in
    place from the gradient array ``grad``; the base class walks the groups,
    skips parameters without a gradient, runs the closure, and provides
    ``zero_grad``, ``add_param_group``, ``state_dict`` and ``load_state_dict``.

    Args:
        params: the tensors to optimize (leaves of a floating dtype), ``model.named_parameters()`` pairs, or a
            list of group dicts ``{"params": [...], "lr": ..., ...}``.
        defaults: the options (``{"lr": 0.1, ...}``) a group takes where it sets none; ``optimizer.required`` marks
            one without a default.

    Raises:
        TypeError: ``params`` is a single Tensor or a set, or holds something other than Tensors.
        ValueError: ``params`` is empty, a parameter is in two groups, or a required option is missing.

    Examples:
        >>> class SignSGD(optim.Optimizer):
        ...     def __init__(self, params, lr=0.01):
        ...         super().__init__(params, dict(lr=lr))
        ...     def _update(self, param, grad, state, group):
        ...         param._data -= group["lr"] * np.sign(grad)
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> optimizer = SignSGD([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> optimizer.step()
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    # what load_state_dict accepts as per-parameter state: these names are counts; every other value is a tensor
    # of the parameter's shape (set _tensor_state_only = False in a subclass that keeps numbers or None too)
    _number_state: tuple = ("step",)
    _tensor_state_only: bool = True

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got a Tensor (wrap it in a list)"
            )
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
                "sets will change between runs. Please use a list instead."
            )
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._work: dict = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (``{"params": [...], option: value}``); missing options take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("param_group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
                "sets will change between runs. Please use a list instead."
            )
        params = list(params)
        names = []
        if params and all(isinstance(p, tuple) and len(p) == 2 for p in params):  # named_parameters()
            names = [name for name, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (optimize the leaf it was computed from)")
            if p._data.dtype.kind != "f":
                raise DTypeError(f"optimizer can only optimize floating point tensors, got {p._data.dtype}")
        group["params"] = params
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group (or twice in one)")
        self.param_groups.append(group)

    # ------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set ``p.grad = None`` (default) or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if grad._edge is not None:
                        grad.detach_()
                    grad.requires_grad = False
                    grad._data.fill(0)
                    grad._bump()

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates and returns the loss) is optional.

        Returns the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group, self._grads(group))
        return loss

    def _grads(self, group: dict) -> list:
        """``(param, grad array)`` for the group's parameters that have a gradient, each checked against its param."""
        pairs = []
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g = grad._data
            if g.shape != p._data.shape:
                from ..errors import ShapeError  # noqa: PLC0415

                raise ShapeError(
                    f"{type(self).__name__}.step: gradient shape {g.shape} differs from its parameter's {p._data.shape}"
                )
            if g.dtype != p._data.dtype:
                raise DTypeError(
                    f"{type(self).__name__}.step: gradient dtype {g.dtype} differs from its parameter's {p._data.dtype}"
                )
            pairs.append((p, g))
        return pairs

    def _step_group(self, group: dict, pairs: list) -> None:
        """Update one group's parameters from their ``(param, grad array)`` pairs: one ``_update`` each.

        A subclass may take a multi-tensor path here (one pass over a flat buffer for all of them, see
        ``Adam``); ``_update`` stays the reference it must agree with.
        """
        for p, g in pairs:
            self._update(p, g, self.state[p], group)
            p._bump()

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        """Update ``param._data`` in place from the gradient array ``grad``; ``state`` is this parameter's state."""
        raise NotImplementedError

    def _grad_with_decay(self, xp, param, grad, weight_decay, maximize):
        """``-grad`` if maximizing, plus ``weight_decay * param`` (PyTorch's order), in work slot 0.

        Returns ``grad`` itself when there is nothing to add: callers never write into the result.
        """
        if not weight_decay and not maximize:
            return grad
        d = self._scratch(grad, 0)
        if weight_decay:
            xp.multiply(param, weight_decay, out=d)
            if maximize:
                xp.subtract(d, grad, out=d)
            else:
                xp.add(d, grad, out=d)
        else:
            xp.negative(grad, out=d)
        return d

    def _scratch(self, like, slot: int = 0):
        """A work array of like's shape and dtype (contents undefined), reused across parameters and steps."""
        key = (slot, like.dtype, type(like))
        buf = self._work.get(key)
        if buf is None or buf.size < like.size:
            buf = array_module(like).empty(like.size, dtype=like.dtype)
            self._work[key] = buf
        return buf[: like.size].reshape(like.shape)

    def _buffer(self, state: dict, name: str, like, fill=0.0):
        """The state tensor ``name``'s array, created (filled with ``fill``) on first use."""
        t = state.get(name)
        if t is None:
            arr = array_module(like).full(like.shape, fill, dtype=like.dtype)
            t = state[name] = _wrap(arr)
        return t._data

    # ------------------------------------------------------------ state dict

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`` (copies, see module doc)."""
        index_of: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            key = index_of[id(p)] if isinstance(p, Tensor) else p
            state[key] = {name: _copy_value(v) for name, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by :meth:`state_dict` into this optimizer's parameters.

        The groups must list the same number of parameters as when saved.
        State tensors are copied and converted to their parameter's dtype
        (``step`` stays a number); group options are replaced by the saved
        ones, parameters are kept.
        """
        _check_state_dict(self, state_dict)
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {i} has {len(saved['params'])} parameters, "
                    f"this optimizer's has {len(group['params'])}"
                )
        index_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for key, values in state_dict["state"].items():
            param = index_map.get(int(key)) if _is_index(key) else None
            if param is None:
                state[key] = copy.deepcopy(values)
                continue
            state[param] = {name: _cast_value(v, param, name) for name, v in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            fresh = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if isinstance(fresh.get("betas"), list):
                fresh["betas"] = tuple(fresh["betas"])  # a JSON round trip turns tuples into lists
            fresh["params"] = group["params"]
            if "param_names" in group and "param_names" not in fresh:
                fresh["param_names"] = group["param_names"]
            new_groups.append(fresh)
        self.state = state
        self.param_groups = new_groups

    # ------------------------------------------------------------ display

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k not in ("params", "param_names")):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self):
        raise TypeError("optimizers are not pickled; save optimizer.state_dict() (Tensors and numbers) instead")


def _check_like(where: str, current, saved) -> None:
    """``saved`` has the kind of value ``current`` has (a state dict from elsewhere cannot retype an option)."""
    if type(current) is bool:
        ok = type(saved) is bool
    elif type(current) in (int, float):
        ok = type(saved) in (int, float) and math.isfinite(saved)
    elif current is None:
        ok = saved is None or type(saved) in (bool, int, float)
    elif type(current) is str:
        ok = type(saved) is str
    elif type(current) in (tuple, list):
        ok = type(saved) in (tuple, list) and len(saved) == len(current)
        if ok:
            for i, (c, v) in enumerate(zip(current, saved)):
                _check_like(f"{where}[{i}]", c, v)
    else:
        return
    if not ok:
        raise TypeError(f"load_state_dict: {where} is {_short(saved)}, where this optimizer has {_short(current)}")


def _short(value) -> str:
    """A value for a one-line message: arrays and tensors by shape, anything else by a clipped repr."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_state_dict(optimizer, state_dict) -> None:
    """Refuse a state dict that is malformed or does not fit ``optimizer``, before anything is changed."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
    groups, state = state_dict.get("param_groups"), state_dict.get("state")
    if type(groups) is not list or not isinstance(state, dict):
        raise TypeError("load_state_dict: expected 'param_groups' (a list) and 'state' (a dict)")
    params: dict = {}
    for i, saved in enumerate(groups):
        if not isinstance(saved, dict) or type(saved.get("params")) is not list:
            raise TypeError(f"load_state_dict: param_groups[{i}] is not a dict with a 'params' list")
        if not all(type(x) is int for x in saved["params"]):
            raise TypeError(f"load_state_dict: param_groups[{i}]['params'] must be integers")
        if i < len(optimizer.param_groups):
            group = optimizer.param_groups[i]
            missing = sorted(k for k in optimizer.defaults if k not in saved)
            if missing:
                raise ValueError(f"load_state_dict: param_groups[{i}] lacks the options {missing}")
            for key, current in group.items():
                if key not in ("params", "param_names") and key in saved:
                    _check_like(f"param_groups[{i}][{key!r}]", current, saved[key])
            params.update(zip(saved["params"], group["params"]))
    # the options' ranges: what this optimizer's constructor accepts (it raises ValueError as PyTorch's does)
    import inspect  # noqa: PLC0415

    try:
        accepted = set(inspect.signature(type(optimizer).__init__).parameters) - {"self", "params"}
    except (TypeError, ValueError):
        accepted = set()
    if "lr" in accepted:
        from ..creation import zeros  # noqa: PLC0415

        for saved in groups:
            options = {k: (tuple(v) if type(v) is list else v) for k, v in saved.items() if k in accepted}
            type(optimizer)([Tensor(zeros(1)._data, requires_grad=True)], **options)
    for key, values in state.items():
        param = params.get(int(key)) if _is_index(key) else None
        if param is None:
            raise ValueError(f"load_state_dict: state names parameter {_short(key)}, which no group lists")
        if not isinstance(values, dict):
            raise TypeError(f"load_state_dict: the state of parameter {key} is not a dict")
        for name, value in values.items():
            where = f"load_state_dict: state[{key}][{name!r}]"
            if name in optimizer._number_state:
                if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
                    raise ValueError(f"{where} is {_short(value)}, not a count")
            elif isinstance(value, Tensor):
                shapes = (param._data.shape,) if optimizer._tensor_state_only else ((), param._data.shape)
                if value._data.shape not in shapes or value._data.dtype.kind not in "fiub":
                    raise ValueError(
                        f"{where} has shape {tuple(value._data.shape)} ({value._data.dtype}); its parameter has shape "
                        f"{tuple(param._data.shape)}"
                    )
            elif optimizer._tensor_state_only:
                raise TypeError(f"{where} is {_short(value)}, not a tensor")
            elif type(value) not in (int, float, type(None)) or (type(value) is float and not math.isfinite(value)):
                raise TypeError(f"{where} is {_short(value)}")


def _is_index(key) -> bool:
    return isinstance(key, int) or (isinstance(key, str) and key.isdigit())


def _copy_value(value):
    if isinstance(value, Tensor):
        return _wrap(value._data.copy())
    return copy.deepcopy(value)


def _cast_value(value, param: Tensor, name: str):
    """A saved state value as this parameter wants it: arrays copied in its dtype and on its device."""
    if name == "step":  # a number here (PyTorch keeps a 0-d tensor)
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, Tensor):
        from .. import backend  # noqa: PLC0415

        arr = backend.to_device(value._data, param.device).astype(param._data.dtype, copy=False)
        return _wrap(arr.copy())
    return copy.deepcopy(value)
