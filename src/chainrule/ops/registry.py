"""One registration per op: the public functions of ``ops/`` and the Tensor methods they become.

A primitive is declared once with ``@primitive`` (its forward and, with
``defvjp``, its vector-Jacobian product: ``autograd/graph.py``).  The public
function that applies it is declared once with ``@op``::

    @op(method=True, inplace=True)
    def tanh(x: Tensor) -> Tensor:
        return apply1(_tanh, x)

which makes ``chainrule.tanh``, ``Tensor.tanh`` and the in-place
``Tensor.tanh_``.  Everything else is derived from this table:

* ``ops/methods.py`` binds ``METHODS`` onto ``Tensor``;
* ``chainrule/__init__.py`` exports ``OPS``: its import block is generated
  (``python -m chainrule.ops.registry --write``) and a test keeps it current;
* ``chainrule/_tensor_methods.pyi`` declares the methods for type checkers and
  editors (generated the same way, imported by ``tensor.py`` under
  ``TYPE_CHECKING``);
* ``python -m chainrule.ops.registry --index`` writes the derivative index:
  every primitive with its forward, its vjp and the gradcheck specs that test it.

The generators read the tables as the package filled them: run as
``python -m``, Python imports ``chainrule`` (the parent package) first, which
loads every op family; a caller that imports this module directly (the tests,
``docs/gen_reference.py``) imports ``chainrule`` first.  The registry itself
imports nothing above ``ops``.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["METHODS", "OPS", "OpInfo", "op"]


@dataclass(frozen=True)
class OpInfo:
    """A public op: the function, the names it is exported under, and the Tensor methods it becomes."""

    fn: Any
    names: tuple  # chainrule.<name> for each (empty: a Tensor method only)
    methods: tuple  # Tensor.<name> for each
    inplace: tuple  # in-place Tensor methods made from it (``tanh_``)

    @property
    def module(self) -> str:
        return self.fn.__module__


OPS: dict[str, OpInfo] = {}  # exported name -> info (aliases included)
METHODS: dict[str, object] = {}  # Tensor method name -> function
INPLACE: dict[str, object] = {}  # in-place Tensor method name -> the out-of-place function it writes back
BOUND: set = set()  # every name ops/methods.py sets on Tensor: ops, operators, properties (the stub lists them)
_ALL: list[OpInfo] = []


def op(fn=None, *, export=True, aliases=(), method=False, methods=(), inplace=False):
    """Register a public op (a decorator).

    ``export``: ``chainrule.<fn name>`` (and each of ``aliases``).
    ``method``: ``Tensor.<fn name>``, with the tensor as the first argument;
    ``methods``: more Tensor method names for it.  ``inplace``: also
    ``Tensor.<name>_``, which writes the result back into the tensor (a
    string, or a tuple of them, names them).
    """

    def register(fn):
        name = fn.__name__
        names = ((name,) if export else ()) + tuple(aliases)
        bound = ((name,) if method else ()) + tuple(methods)
        if not inplace:
            writes = ()
        else:
            writes = (f"{name}_",) if inplace is True else (inplace,) if isinstance(inplace, str) else tuple(inplace)
        info = OpInfo(fn, names, bound, writes)
        for table, keys in ((OPS, names), (METHODS, bound), (INPLACE, writes)):
            for key in keys:
                if key in table:
                    raise ValueError(f"op {key!r} is registered twice ({table[key]} and {fn.__module__}.{name})")
                table[key] = info if table is OPS else fn
        _ALL.append(info)
        return fn

    return register if fn is None else register(fn)


# --------------------------------------------------------------------------- generated files


def _import_block() -> str:
    """The ``from .ops.<module> import ...`` lines of chainrule/__init__.py, one per module."""
    by_module: dict[str, list[str]] = {}
    for name, info in sorted(OPS.items()):
        fn_name = info.fn.__name__
        module = info.module.removeprefix("chainrule.")
        by_module.setdefault(module, []).append(fn_name if name == fn_name else f"{fn_name} as {name}")
    lines = []
    for module in sorted(by_module):
        items = sorted(by_module[module], key=lambda s: (s.split(" as ")[-1], s))
        lines.append(f"from .{module} import (  # noqa: A004 - PyTorch's names")
        lines += [f"    {item}," for item in items]
        lines.append(")")
    return "\n".join(lines) + "\n"


BEGIN = "# --- generated from chainrule.ops.registry: python -m chainrule.ops.registry --write ---\n"
END = "# --- end of the generated block ---\n"


_SHADOWED = ("bool", "int", "float")  # Tensor has methods of these names: in the stub, annotations mean the builtins


def _annotation(text: str) -> str:
    import re  # noqa: PLC0415

    return re.sub(r"\b(" + "|".join(_SHADOWED) + r")\b", r"builtins.\1", text)


def _literal(value) -> str:
    """``repr`` with strings in double quotes, as ruff format writes them."""
    if isinstance(value, str) and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return repr(value)


def _signature(fn, drop_first: bool) -> tuple:
    """(``["self", "a: int", "b: Any = ...", ...]``, return annotation) for a stub: annotations as written,
    non-literal defaults as ``...``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return ["self", "*args: Any", "**kwargs: Any"], "Any"
    params = list(sig.parameters.values())
    if drop_first and params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    parts = ["self"]
    seen_star = False
    for p in params:
        text = p.name
        if p.kind == p.VAR_POSITIONAL:
            text, seen_star = f"*{p.name}", True
        elif p.kind == p.VAR_KEYWORD:
            text = f"**{p.name}"
        elif p.kind == p.KEYWORD_ONLY and not seen_star:
            parts.append("*")
            seen_star = True
        annotation = p.annotation
        if annotation is not p.empty:
            written = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "Any")
            text += f": {_annotation(written)}"
        elif p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            text += ": Any"
        else:
            text += ": Any"
        if p.default is not p.empty:
            default = p.default
            literal = default is None or type(default) in (bool, int, float, str)
            text += f" = {_literal(default)}" if literal else " = ..."
        parts.append(text)
    ret = sig.return_annotation
    ret = "Any" if ret is sig.empty else _annotation(ret if isinstance(ret, str) else getattr(ret, "__name__", "Any"))
    return parts, ret


def _stub_def(name: str, parts: list, ret: str, width: int = 120) -> list:
    """The lines of ``def name(parts) -> ret: ...`` in a class body, wrapped over ``width`` as ruff format wraps."""
    line = f"    def {name}({', '.join(parts)}) -> {ret}: ..."
    if len(line) <= width:
        return [line]
    inner = f"        {', '.join(parts)}"
    body = [inner] if len(inner) <= width else [f"        {part}," for part in parts]
    return [f"    def {name}(", *body, f"    ) -> {ret}: ..."]


def _method_stub() -> str:
    """``_tensor_methods.pyi``: every method, operator and property ``ops/methods.py`` binds onto Tensor."""
    from ..tensor import Tensor  # noqa: PLC0415

    lines = [
        '"""Tensor\'s methods for type checkers and editors (generated: python -m chainrule.ops.registry --write).',
        "",
        "ops/methods.py binds these onto Tensor at import; tensor.py subclasses this class only under TYPE_CHECKING.",
        '"""',
        "",
        "import builtins",
        "from typing import Any",
        "",
        "from .tensor import Tensor",
        "",
        "class TensorMethods:",
    ]
    for name in sorted(BOUND):
        value = Tensor.__dict__.get(name)
        if isinstance(value, property):
            lines.append("    @property")
            lines.append(f"    def {name}(self) -> Tensor: ...")
            continue
        fn = value
        if fn is None or not callable(fn):
            continue
        lines += _stub_def(name, *_signature(fn, drop_first=True))
    return "\n".join(lines) + "\n"


def _paths():
    from pathlib import Path  # noqa: PLC0415

    root = Path(__file__).resolve().parent.parent
    return root / "__init__.py", root / "_tensor_methods.pyi"


def generated() -> dict:
    """{path: the text it should have} for every generated file."""
    init_path, stub_path = _paths()
    text = init_path.read_text()
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{init_path} has lost the markers of its generated block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    # blank lines around the block as ruff format writes them
    block = head.rstrip("\n") + "\n\n" + BEGIN + _import_block() + "\n" + END + tail
    return {init_path: block, stub_path: _method_stub()}


def _index() -> str:
    """The derivative index (Markdown): every primitive, where its forward, vjp and jvp are, and its specs."""
    from ..autograd.graph import PRIMITIVES  # noqa: PLC0415

    covers: dict[str, list[str]] = {}
    try:
        from tests.ops.specs import SPECS  # noqa: PLC0415 - available from a checkout

        for spec in SPECS:
            for name in spec.covers:
                covers.setdefault(name, []).append(spec.name)
    except ImportError:
        pass

    def where(fn):
        if fn is None:
            return "-"
        file = inspect.getsourcefile(fn) or "?"
        line = inspect.getsourcelines(fn)[1]
        return f"`{file[file.rfind('chainrule/') :]}:{line}`"

    def jvp_cell(fn):
        declared = getattr(fn, "declared_at", None)  # made by autograd/jvp_rules.py's linear_jvp or jvp_from_vjp
        if declared is None:
            return where(fn)
        file, line = declared
        return f"{fn.jvp_kind}, `{file[file.rfind('chainrule/') :]}:{line}`"

    rows = [
        "# The derivative index",
        "",
        "Every primitive of the derivative table: its forward (on raw arrays), its vector-Jacobian product",
        "(in Tensor ops, so it can be differentiated again), its Jacobian-vector product for forward mode",
        "(`linear`: the primitive applied to the tangent; `from the vjp`: an elementwise op whose diagonal",
        "Jacobian is self-adjoint), and the specs in `tests/ops/specs*.py` that check it: gradcheck against",
        "central differences (first and, where marked, second order) and PyTorch, and in tests/func/test_jvp_rules.py",
        "the jvp against central differences and against the vjp (the transpose identity).",
        "Generated by `python -m chainrule.ops.registry --index`.",
        "",
        f"{len(PRIMITIVES)} primitives, {len(_ALL)} public ops ({len(OPS)} functions, {len(METHODS)} Tensor methods).",
        "",
        "| primitive | forward | vjp | jvp | checked by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in sorted(PRIMITIVES):
        prim = PRIMITIVES[name]
        specs = ", ".join(f"`{s}`" for s in sorted(set(covers.get(name, [])))) or "-"
        rows.append(f"| `{name}` | {where(prim.fwd)} | {where(prim.vjp)} | {jvp_cell(prim.jvp)} | {specs} |")
    return "\n".join(rows) + "\n"


_FAMILIES = {
    "chainrule.ops.elementwise": "Elementwise math and activations",
    "chainrule.ops.compare": "Comparisons and logical ops (no gradient)",
    "chainrule.ops.reduce": "Reductions",
    "chainrule.ops.shape": "Shape and joining",
    "chainrule.ops.index": "Indexing, gathering and scattering",
    "chainrule.ops.linalg": "Linear algebra",
    "chainrule.ops.nn": "Softmax",
}


def _reference() -> str:
    """The API reference page of the ops (Markdown with mkdocstrings blocks), grouped by family."""
    rows = [
        "# Ops",
        "",
        "Every function below is also a `Tensor` method where PyTorch has one (`x.exp()`), and is registered once",
        "in `ops/` (see [the derivative index](derivatives.md) for the primitives behind them).",
        "Generated by `python -m chainrule.ops.registry --reference`.",
        "",
    ]
    families: dict[str, list[str]] = {}
    for name, info in sorted(OPS.items()):
        if name == info.fn.__name__:  # aliases are listed with their op
            families.setdefault(info.module, []).append(name)
    for module in sorted(families, key=lambda m: list(_FAMILIES).index(m) if m in _FAMILIES else len(_FAMILIES)):
        rows += [f"## {_FAMILIES.get(module, module)}", ""]
        for name in families[module]:
            info = OPS[name]
            extra = [f"`chainrule.{a}`" for a in info.names if a != name]
            extra += [f"`Tensor.{m}`" for m in info.methods] + [f"`Tensor.{m}`" for m in info.inplace]
            rows += [f"::: chainrule.{name}", "    options:", "      heading_level: 3", ""]
            if extra:
                rows += [f"Also: {', '.join(extra)}.", ""]
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--index"]:
        sys.stdout.write(_index())
        return 0
    if args == ["--reference"]:
        sys.stdout.write(_reference())
        return 0
    if args in (["--write"], ["--check"]):
        stale = []
        for path, text in generated().items():
            if not path.exists() or path.read_text() != text:
                stale.append(path)
                if args == ["--write"]:
                    path.write_text(text)
        if args == ["--check"] and stale:
            print(f"out of date: {', '.join(map(str, stale))}; run python -m chainrule.ops.registry --write")
            return 1
        return 0
    print("usage: python -m chainrule.ops.registry --write | --check | --index | --reference", file=sys.stderr)
    return 2


if __name__ == "__main__":  # run as a script: use the registry the package filled, not this fresh copy
    from chainrule.ops import registry as _registry  # noqa: PLW0406

    sys.exit(_registry.main())
