"""Pytrees: nested dicts, lists, tuples and named tuples whose leaves are tensors.

The transforms take and return such structures (``grad`` of a function of a
dict of parameters returns a dict of gradients), as torch.func and JAX do.
``tree_flatten`` turns a structure into its list of leaves and a ``TreeSpec``
that ``tree_unflatten`` uses to rebuild it around new leaves.  Anything that is
not a dict, list or tuple is a leaf (tensors, numbers, None); dict keys keep
their insertion order.
"""

from __future__ import annotations

from collections.abc import Callable


class TreeSpec:
    """The shape of a pytree without its leaves: what ``tree_unflatten`` rebuilds.

    ``kind`` is ``"leaf"``, ``"dict"``, ``"list"``, ``"tuple"`` or ``"namedtuple"``;
    ``context`` holds a dict's keys or a named tuple's class; ``children`` the
    specs of the items.
    """

    __slots__ = ("kind", "context", "children", "num_leaves")

    def __init__(self, kind: str, context, children: tuple):
        self.kind = kind
        self.context = context
        self.children = children
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in children)

    def __eq__(self, other):
        return (
            isinstance(other, TreeSpec)
            and self.kind == other.kind
            and self.context == other.context
            and self.children == other.children
        )

    def __hash__(self):
        return hash((self.kind, self.children))

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.context, self.children))
            return "{" + inner + "}"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "namedtuple":
            return f"{self.context.__name__}({inner})"
        return f"({inner},)" if len(self.children) == 1 else f"({inner})"


LEAF = TreeSpec("leaf", None, ())


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def tree_flatten(tree) -> tuple[list, TreeSpec]:
    """The leaves of ``tree`` in order (dict items in insertion order) and its structure."""
    leaves: list = []
    spec = _flatten(tree, leaves)
    return leaves, spec


def _flatten(tree, leaves: list) -> TreeSpec:
    if isinstance(tree, dict):
        keys = tuple(tree)
        return TreeSpec("dict", keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if isinstance(tree, list):
        return TreeSpec("list", None, tuple(_flatten(v, leaves) for v in tree))
    if isinstance(tree, tuple):
        kind, context = ("namedtuple", type(tree)) if _is_namedtuple(tree) else ("tuple", None)
        return TreeSpec(kind, context, tuple(_flatten(v, leaves) for v in tree))
    leaves.append(tree)
    return LEAF


def tree_unflatten(leaves, spec: TreeSpec):
    """Rebuild the structure ``spec`` describes around ``leaves`` (as many as it has)."""
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"tree_unflatten: the structure {spec!r} holds {spec.num_leaves} leaves, got {len(leaves)}")
    return _unflatten(iter(leaves), spec)


def _unflatten(leaves, spec: TreeSpec):
    kind = spec.kind
    if kind == "leaf":
        return next(leaves)
    items = [_unflatten(leaves, c) for c in spec.children]
    if kind == "dict":
        return dict(zip(spec.context, items))
    if kind == "list":
        return items
    if kind == "namedtuple":
        return spec.context(*items)
    return tuple(items)


def tree_map(fn: Callable, tree, *rest):
    """``fn`` applied to every leaf of ``tree`` (and the matching leaves of ``rest``, of the same structure)."""
    leaves, spec = tree_flatten(tree)
    others = []
    for other in rest:
        other_leaves, other_spec = tree_flatten(other)
        if other_spec != spec:
            raise ValueError(f"tree_map: structures differ: {spec!r} and {other_spec!r}")
        others.append(other_leaves)
    return tree_unflatten([fn(*args) for args in zip(leaves, *others)], spec)
