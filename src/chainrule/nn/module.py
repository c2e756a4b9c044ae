"""Module and Parameter: the containers that hold a network's weights.

A ``Module`` registers, by attribute assignment, its parameters (``Parameter``),
buffers (``register_buffer``) and sub-modules, exactly as PyTorch's does, and
walks them for ``parameters()``, ``state_dict()``, ``to()``, ``train()``.

``Parameter`` differs from PyTorch in one way: ``Parameter(t)`` returns a plain
:class:`Tensor` marked as a parameter (``isinstance(p, Parameter)`` is True),
not an instance of a subclass.  Keeping one Tensor type lets every op take its
fast path on parameters too.  Subclassing ``Parameter`` is not supported.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import TYPE_CHECKING

import numpy as np

from .. import backend
from ..autograd.mode import autocast_state, no_grad
from ..errors import ShapeError
from ..tensor import Tensor, _wrap

# --------------------------------------------------------------------------- Parameter


class _ParameterMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._is_param

    def __call__(cls, data=None, requires_grad=True):
        if data is None:
            data = _wrap(np.empty((0,), dtype=backend.get_default_dtype()))
        if isinstance(data, Tensor):
            array = data._data
        else:
            from ..creation import as_array  # noqa: PLC0415

            array = as_array(data)
        p = _wrap(array)
        p._is_param = True
        if requires_grad:
            p.requires_grad_(True)
        return p


if TYPE_CHECKING:  # what type checkers see: a Parameter is used wherever a Tensor is

    class Parameter(Tensor):
        def __init__(self, data: object = None, requires_grad: bool = True) -> None: ...

else:

    class Parameter(metaclass=_ParameterMeta):
        """A tensor that a Module treats as one of its weights (``requires_grad=True`` by default).

        Assigning a Parameter to a Module attribute registers it: it then appears
        in ``parameters()``, ``named_parameters()`` and ``state_dict()`` and follows
        ``to()``.  ``Parameter(data, requires_grad=True)`` takes ``data`` (a Tensor,
        whose memory it shares, or anything ``cr.tensor`` accepts; None gives an
        empty float tensor) and ``requires_grad``: whether gradients are recorded
        for it.

        Differs from PyTorch: ``Parameter(t)`` returns a plain ``Tensor`` marked as
        a parameter (``isinstance(p, nn.Parameter)`` is True), not an instance of a
        subclass, so every op takes its fast path on parameters too; subclassing
        ``Parameter`` is not supported.

        Examples:
            >>> w = nn.Parameter(cr.zeros(2, 3))
            >>> w.requires_grad, isinstance(w, nn.Parameter), type(w).__name__
            (True, True, 'Tensor')
            >>> isinstance(cr.zeros(2, 3), nn.Parameter)
            False
        """


class Buffer(metaclass=_ParameterMeta):
    """Marker kept for API familiarity: use ``register_buffer`` to add buffers."""


_IncompatibleKeys = namedtuple("_IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _RemovableHandle:
    def __init__(self, store: dict, key):
        self._store = store
        self._key = key

    def remove(self):
        self._store.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_hook_ids = iter(range(1, 2**62))


# --------------------------------------------------------------------------- Module


class Module:
    """Base class of every layer and model.  Subclasses define ``forward``; calling the module runs it (with hooks).

    Assigning a [`Parameter`][chainrule.nn.Parameter] or a Module to an
    attribute registers it; ``register_buffer`` adds non-trained state such as
    running means.  The module then walks them for ``parameters()`` and
    ``named_parameters()``, ``state_dict()`` and ``load_state_dict()``,
    ``to(dtype or device)``, ``train()`` / ``eval()`` (the ``training`` flag
    that dropout and batch norm read), ``zero_grad()`` and ``apply(fn)``.
    Forward, forward-pre and full backward hooks work as in PyTorch.

    Differs from PyTorch: modules are not pickled (``copy.deepcopy`` works);
    save ``model.state_dict()`` with ``chainrule.io.save``.

    Examples:
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden, self.out = nn.Linear(4, 8), nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
        >>> model = MLP()
        >>> model(cr.randn(3, 4)).shape
        (3, 2)
        >>> [name for name, _ in model.named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    # ------------------------------------------------------------ calling

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        if self._backward_hooks:
            return self._call_with_backward_hooks(args, kwargs)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def _call_with_backward_hooks(self, args, kwargs):
        from ._backward_hooks import wrap_call  # noqa: PLC0415

        return wrap_call(self, args, kwargs)

    # ------------------------------------------------------------ registration

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Tensor, Module)):
                raise AttributeError(
                    f"cannot assign {type(value).__name__} '{name}' before Module.__init__() "
                    "(call super().__init__() first)"
                )
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Tensor) and value._is_param:
            self._discard(name)
            params[name] = value
        elif isinstance(value, Module):
            self._discard(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter '{name}' "
                    "(wrap it in nn.Parameter, or assign None)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module '{name}'")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer '{name}'")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name):
        for store in (self.__dict__, self._parameters, self._buffers, self._modules):
            store.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            table = d.get(store)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}'): expected a Parameter or None, got {type(param).__name__}")
        self._check_name(name)
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state but is not trained (e.g. running means)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer('{name}'): expected a Tensor or None, got {type(tensor).__name__}")
        self._check_name(name)
        self._discard(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module, got {type(module).__name__}")
        self._check_name(name)
        self._discard(name)
        self._modules[name] = module

    register_module = add_module

    @staticmethod
    def _check_name(name):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"invalid name {name!r}: a non-empty string without '.'")

    # ------------------------------------------------------------ traversal

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(name, parameter) pairs, each shared parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str):
        module = self
        if not target:
            return module
        for part in target.split("."):
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no sub-module '{part}' (looking up '{target}')")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter '{name}'")
        return module._parameters[name]

    # ------------------------------------------------------------ modes and updates

    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _convert(self, fn):
        """Replace each parameter's and buffer's array with fn(array), keeping the objects."""
        with no_grad():
            for m in self.modules():
                for table in (m._parameters, m._buffers):
                    for t in table.values():
                        if t is None:
                            continue
                        new = fn(t._data)
                        if new is not t._data:
                            t._data = new
                            if t.grad is not None:
                                t.grad._data = fn(t.grad._data)
        return self

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)`` or both; floating parameters and buffers change in place."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        for a in args:
            if isinstance(a, (str, backend.Device)):
                device = a
            elif isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            else:
                dtype = a
        if dtype is not None:
            dt = backend.as_dtype(dtype)
            if dt.kind != "f":
                raise TypeError(f"Module.to() only accepts floating dtypes, got {dt}")
            self._convert(lambda a: a.astype(dt) if a.dtype.kind == "f" and a.dtype != dt else a)
        if device is not None:
            self._convert(lambda a: backend.to_device(a, device))
        return self

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    # ------------------------------------------------------------ state

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered mapping name -> tensor of every parameter and persistent buffer."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into this module's tensors (in place).

        Keys missing from ``state_dict``, keys this module does not have, and
        tensors of the wrong shape are reported together by name; with
        ``strict=True`` (the default) any of them raises.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, target in own.items():
            if k in state_dict:
                value = state_dict[k]
                shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
                if tuple(shape) != tuple(target.shape):
                    mismatched.append(f"{k}: checkpoint {tuple(shape)}, model {tuple(target.shape)}")
        problems = []
        if mismatched:
            problems.append("shape mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise ShapeError(f"load_state_dict for {type(self).__name__}: " + ". ".join(problems))
        with no_grad():
            for k, target in own.items():
                if k not in state_dict:
                    continue
                value = state_dict[k]
                array = value._data if isinstance(value, Tensor) else np.asarray(value)
                array = (
                    backend.to_device(backend.to_numpy(array), target.device)
                    if target.device.type != "cpu"
                    else backend.to_numpy(array)
                )
                target._data[...] = array.astype(target._data.dtype, copy=False)
                target._bump()
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ hooks

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before forward; may return replacement args."""
        key = next(_hook_ids)
        self._forward_pre_hooks[key] = hook
        return _RemovableHandle(self._forward_pre_hooks, key)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after forward; may return a replacement output."""
        key = next(_hook_ids)
        self._forward_hooks[key] = hook
        return _RemovableHandle(self._forward_hooks, key)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients of the module's inputs are known.

        ``grad_input`` and ``grad_output`` are tuples (None where a tensor has no
        gradient); the hook may return a tuple that replaces ``grad_input``.
        """
        key = next(_hook_ids)
        self._backward_hooks[key] = hook
        return _RemovableHandle(self._backward_hooks, key)

    register_backward_hook = register_full_backward_hook

    # ------------------------------------------------------------ display

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                return main + lines[0] + ")"
            return main + "\n  " + "\n  ".join(lines) + "\n)"
        return main + ")"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def __deepcopy__(self, memo):
        """An independent copy: new parameters and buffers (shared ones stay shared), same hooks."""
        import copy  # noqa: PLC0415

        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            object.__setattr__(new, key, copy.deepcopy(value, memo))
        return new

    def __getstate__(self):
        raise TypeError("chainrule modules are not pickled; save model.state_dict() with chainrule.save")


# --------------------------------------------------------------------------- containers


# (class, class) -> fn(first module, x): two modules in a row that ``Sequential`` runs as one op, and the first
# classes of those pairs (what Sequential's loop asks per module); filled by ``fuse`` alone, where the classes are
# defined (nn/modules/activation.py)
_FUSED: dict = {}
_FUSED_FIRST: set = set()


def fuse(first: type, second: type, fn) -> None:
    """Let ``Sequential`` run a ``first`` module followed by a ``second`` one as ``fn(first module, x)``."""
    _FUSED[(first, second)] = fn
    _FUSED_FIRST.add(first)


def _unhooked(module) -> bool:
    """Whether calling ``module`` is exactly its class's ``forward``: no hooks, no ``forward`` set on the instance."""
    return not (
        module._forward_pre_hooks or module._forward_hooks or module._backward_hooks or "forward" in module.__dict__
    )


class Sequential(Module):
    """Modules applied in order, each to the output of the one before.

    Indexing gives a module (a slice, a new ``Sequential`` sharing them);
    ``len``, iteration, ``append``, item assignment and deletion work as on a
    list.  Sub-modules are named ``'0'``, ``'1'``, ... or by the given dict's
    keys, so ``state_dict()`` keys read ``'0.weight'`` etc.

    Differs from PyTorch: an ``nn.Linear`` followed by an ``nn.ReLU`` runs as one
    op, ``linear_relu`` (the same kernels, so the same values and gradients bit
    for bit; the graph shows one node where PyTorch shows two). A hook or an
    instance ``forward`` on either module, a subclass of either, or autocast
    keeps the two calls.

    Args:
        *modules (Module): the modules in order, or a single (ordered) dict
            mapping names to modules.

    Examples:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> model(cr.randn(3, 4)).shape
        (3, 2)
        >>> len(model), model[0]
        (3, Linear(in_features=4, out_features=8, bias=True))
        >>> list(nn.Sequential({"fc": nn.Linear(4, 2), "act": nn.Tanh()}).state_dict())
        ['fc.weight', 'fc.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        """The modules in order, where a pair ``fuse`` names (an ``nn.Linear`` and the ``nn.ReLU`` after it) runs as
        one op: both of exactly those classes, neither with hooks or an instance ``forward``, autocast off."""
        held = None  # a module that may run fused with the one after it
        for module in self._modules.values():
            if held is not None:
                fused = _FUSED.get((type(held), type(module)))
                if fused is not None and _unhooked(held) and _unhooked(module) and autocast_state() is None:
                    x = fused(held, x)
                    held = None
                    continue
                x = held(x)
                held = None
            if type(module) in _FUSED_FIRST:
                held = module
            else:
                x = module(x)
        return x if held is None else held(x)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        values = list(self._modules.values())
        return values[idx]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[idx]
        self.add_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        for k in keys[idx] if isinstance(idx, slice) else [keys[idx]]:
            del self._modules[k]

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of sub-modules that registers them (a plain Python list would hide their parameters from the module).

    Supports indexing, slicing (a new ``ModuleList``), ``len``, iteration,
    ``append``, ``extend``, ``insert`` and deletion.  It has no ``forward``:
    call its elements.

    Args:
        modules (Iterable[Module] | None): the initial modules (default None:
            empty).

    Examples:
        >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
        >>> x = cr.randn(2, 4)
        >>> for layer in layers:
        ...     x = layer(x).relu()
        >>> x.shape
        (2, 4)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[idx]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[idx]
        self.add_module(key, module)

    def _reindex(self, values):
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)

    def __delitem__(self, idx):
        values = list(self._modules.values())
        del values[idx]
        self._reindex(values)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        values = list(self._modules.values())
        values.insert(index, module)
        self._reindex(values)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; call its elements")


class ModuleDict(Module):
    """A dict of sub-modules that registers them under their keys.

    Supports ``d[key]``, assignment, ``del``, ``in``, ``len``, iteration over
    the keys, ``keys()``, ``values()``, ``items()``, ``update()`` and ``pop()``.
    It has no ``forward``: call its elements.

    Args:
        modules (Mapping[str, Module] | Iterable[tuple[str, Module]] | None): the
            initial modules (default None: empty); keys are non-empty strings
            without a dot.

    Examples:
        >>> heads = nn.ModuleDict({"encoder": nn.Linear(4, 2), "decoder": nn.Linear(2, 4)})
        >>> list(heads.keys()), heads["encoder"]
        (['encoder', 'decoder'], Linear(in_features=4, out_features=2, bias=True))
        >>> heads["decoder"](heads["encoder"](cr.randn(3, 4))).shape
        (3, 4)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self.add_module(k, m)

    def pop(self, key):
        return self._modules.pop(key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is a container; call its elements")


class ParameterList(Module):
    """A list of parameters that registers them (named ``'0'``, ``'1'``, ...).

    Supports indexing, ``len``, iteration and ``append``; a tensor that is not
    yet a Parameter is wrapped in one (and so requires grad).

    Args:
        parameters (Iterable[Tensor] | None): the initial parameters (default
            None: empty).

    Examples:
        >>> params = nn.ParameterList([nn.Parameter(cr.zeros(2)), cr.ones(3)])
        >>> [name for name, _ in params.named_parameters()], params[1].requires_grad
        (['0', '1'], True)
    """

    def __init__(self, parameters=None):
        super().__init__()
        for p in parameters or []:
            self.append(p)

    def append(self, p):
        if not isinstance(p, Parameter):
            p = Parameter(p)
        self.register_parameter(str(len(self._parameters)), p)
        return self

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        return list(self._parameters.values())[idx]
