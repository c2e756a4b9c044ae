"""The package has no import loops: the module graph (every import, function-level ones included) is acyclic.

import-linter (``make lint``) checks that no layer imports a layer above it;
this test checks what a layers contract cannot see: loops between modules of
one layer (``tensor`` <-> ``autograd``, within ``ops`` or ``func``).  Imports
under ``if TYPE_CHECKING:`` do not count: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict:
    """{dotted module name: (path, the package its relative imports start from)}."""
    found = {}
    for path in (SRC / "chainrule").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            package = parts
        else:
            package = parts[:-1]
        found[".".join(parts)] = (path, package)
    return found


def _graph() -> dict:
    modules = _modules()

    def owner(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    edges: dict = {name: set() for name in modules}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text())
        skipped = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(sub) for sub in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    targets.append(full if full in modules else source)
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                if target.startswith("chainrule"):
                    target = owner(target)
                    if target and target != name:
                        edges[name].add(target)
    return edges


def _cycles(edges: dict) -> list:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found = []
    counter = 0
    for start, first in edges.items():
        if start in index:
            continue
        work = [(start, iter(sorted(first)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_finder_finds_a_loop():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_loops():
    edges = _graph()
    assert len(edges) > 100  # the walk saw the package
    loops = _cycles(edges)
    # the package's __init__ files only gather names; a loop through one is still a loop
    assert not loops, "import loops (move the shared piece down a layer): " + "; ".join(
        " <-> ".join(loop) for loop in loops
    )


@pytest.mark.parametrize("module", ["chainrule.tensor", "chainrule.ops.registry", "chainrule.autograd.forward"])
def test_core_modules_do_not_import_the_package_facade(module):
    """Lower modules import the modules they need, never ``chainrule`` itself (which imports everything)."""
    assert "chainrule" not in _graph()[module]
