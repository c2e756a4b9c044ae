"""Run vendored PyTorch programs on chainrule with only their import lines changed.

Each program lives in ``tests/programs/<name>/upstream/`` exactly as its authors wrote it (trims are listed in
``<name>/README.md``). This module loads it twice: once as written, against PyTorch, and once with its import
statements rewritten to chainrule, and nothing else touched.

The rewrite (:func:`rewrite_imports`) works on import statements only, found with :mod:`ast` so a docstring or a
comment that happens to read ``import torch`` is left alone, and changes one line per statement:

=============================================  ===================================================
as written                                     as run on chainrule
=============================================  ===================================================
``import torch``                               ``import chainrule as torch``
``import torch as th``                         ``import chainrule as th``
``import torch.nn as nn``                      ``import chainrule.nn as nn``
``import torch.utils.data``                    ``import chainrule.utils.data; import chainrule as torch``
``from torch import nn, optim``                ``from chainrule import nn, optim``
``from torch.nn import functional as F``       ``from chainrule.nn import functional as F``
``from torch.utils.data import Dataset``       ``from chainrule.utils.data import Dataset``
=============================================  ===================================================

That is: the first component of the module path, ``torch``, becomes ``chainrule``, and a plain ``import torch...``
still binds the name ``torch``. Every other line of the program runs as written.

A program's own modules (``from mingpt.utils import CfgNode``, ``import data``) are served from its ``upstream/``
folder by a finder that exists only while the program loads, so two programs' ``model.py`` never meet in
``sys.modules`` and the PyTorch and chainrule copies of one program stay apart.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.util
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

PROGRAMS = Path(__file__).resolve().parent

_HEAD = re.compile(r"^(?P<indent>\s*)(?P<kw>import|from)\s+torch(?P<rest>\b.*)$")


def rewrite_imports(source: str) -> str:
    """Return ``source`` with each ``torch`` import statement pointed at chainrule, every other line unchanged.

    Raises ValueError for an import form the rewriter does not handle (several modules on one ``import`` line, one
    of them torch; a statement that does not start its line), so a program never half-runs on PyTorch.
    """
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            if not any(_is_torch(name) for name in names):
                continue
            if len(names) > 1:
                raise ValueError(f"line {node.lineno}: several modules in one import with torch: {names}")
            alias = node.names[0]
            new = "chainrule" + alias.name[len("torch") :]
            if alias.asname is not None:
                stmt = f"import {new} as {alias.asname}"
            elif alias.name == "torch":
                stmt = "import chainrule as torch"
            else:  # `import torch.nn` binds `torch` and loads the submodule
                stmt = f"import {new}; import chainrule as torch"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_torch(node.module):
            stmt = None  # the `from torch...` head is replaced in place, so parenthesised name lists keep their lines
        else:
            continue
        index = node.lineno - 1
        line = lines[index]
        match = _HEAD.match(line)
        if match is None or len(match.group("indent")) != node.col_offset:
            raise ValueError(f"line {node.lineno}: import statement not at the start of its line: {line.strip()!r}")
        ending = line[len(line.rstrip("\r\n")) :]
        if stmt is None:
            lines[index] = f"{match.group('indent')}from chainrule{match.group('rest')}{ending}"
        else:
            if node.end_lineno != node.lineno:
                raise ValueError(f"line {node.lineno}: multi-line `import torch...` statement")
            comment = line.rstrip("\r\n")[node.end_col_offset :]
            lines[index] = f"{match.group('indent')}{stmt}{comment}{ending}"
    return "".join(lines)


def _is_torch(module: str) -> bool:
    return module == "torch" or module.startswith("torch.")


class _ProgramFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a program's own top-level modules and packages from its upstream folder, rewritten or not."""

    def __init__(self, root: Path, rewrite: bool) -> None:
        self.root = root
        self.rewrite = rewrite
        self.names = {p.stem for p in root.glob("*.py")} | {p.parent.name for p in root.glob("*/__init__.py")}

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in self.names:
            return None
        base = self.root.joinpath(*fullname.split("."))
        if (base / "__init__.py").is_file():
            return importlib.util.spec_from_file_location(
                fullname, base / "__init__.py", loader=self, submodule_search_locations=[str(base)]
            )
        if base.with_suffix(".py").is_file():
            return importlib.util.spec_from_file_location(fullname, base.with_suffix(".py"), loader=self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module: ModuleType) -> None:
        source = Path(module.__file__).read_text(encoding="utf-8")
        if self.rewrite:
            source = rewrite_imports(source)
        exec(compile(source, module.__file__, "exec"), module.__dict__)


class _Absent:
    """Stands in for a name from a package that is not installed; using it raises, importing it does not."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args, **kwargs):
        raise ImportError(f"{self._name} is not installed here (the test harness stood in for it at import only)")

    def __getattr__(self, attr: str):
        return _Absent(f"{self._name}.{attr}")


def _absent_module(name: str) -> ModuleType:
    module = ModuleType(name)
    module.__getattr__ = lambda attr: _Absent(f"{name}.{attr}")
    return module


# Packages a program imports at the top but uses only in the parts the tests do not run (its `main()`):
# when they are not installed, importing them yields a stand-in whose every use raises. Never chainrule's business:
# `torchvision` (datasets, transforms) and `torch.utils.tensorboard` (needs the tensorboard package; on chainrule
# the rewrite points it at chainrule.utils.tensorboard, which is used as is).
ABSENT_OK = ("torchvision", "torch.utils.tensorboard")


def _stand_ins(backend: str) -> dict[str, ModuleType]:
    out = {}
    for name in ABSENT_OK:
        if name.startswith("torch.") and backend != "torch":
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            out[name] = _absent_module(name)
    return out


@contextlib.contextmanager
def _program_modules(program: str, backend: str) -> Iterator[_ProgramFinder]:
    """While active, ``import`` finds the program's own modules; afterwards sys.modules is as it was."""
    if backend not in ("torch", "chainrule"):
        raise ValueError(f"backend must be 'torch' or 'chainrule', got {backend!r}")
    finder = _ProgramFinder(PROGRAMS / program / "upstream", rewrite=backend == "chainrule")
    stand_ins = _stand_ins(backend)

    def ours(name: str) -> bool:
        return name.split(".", maxsplit=1)[0] in finder.names or name in stand_ins

    saved = {name: mod for name, mod in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(stand_ins)
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def load_program(program: str, backend: str, *modules: str):
    """Import ``modules`` of ``tests/programs/<program>/upstream`` for ``backend`` ('torch' or 'chainrule').

    Returns the module, or a tuple of them when several are named (loaded together, so they share the program's
    other modules).
    """
    with _program_modules(program, backend):
        loaded = tuple(importlib.import_module(name) for name in modules)
    return loaded[0] if len(loaded) == 1 else loaded


def run_script(program: str, script: str, backend: str, argv: list[str]) -> str:
    """Run ``upstream/<script>`` as ``__main__`` with ``sys.argv[1:] = argv``; return what it printed."""
    path = PROGRAMS / program / "upstream" / script
    source = path.read_text(encoding="utf-8")
    if backend == "chainrule":
        source = rewrite_imports(source)
    namespace = {"__name__": "__main__", "__file__": str(path), "__builtins__": __builtins__}
    out = io.StringIO()
    old_argv = sys.argv
    sys.argv = [str(path), *argv]
    try:
        with _program_modules(program, backend), contextlib.redirect_stdout(out):
            exec(compile(source, str(path), "exec"), namespace)
    finally:
        sys.argv = old_argv
    return out.getvalue()


def backend_module(backend: str):
    """The module a program sees as ``torch`` on ``backend``."""
    if backend == "torch":
        import torch

        return torch
    import chainrule

    return chainrule


@contextlib.contextmanager
def default_dtype(lib, dtype_name: str) -> Iterator[None]:
    """``lib.set_default_dtype(lib.<dtype_name>)`` for the block (float64 for the tight comparisons)."""
    old = lib.get_default_dtype()
    lib.set_default_dtype(getattr(lib, dtype_name))
    try:
        yield
    finally:
        lib.set_default_dtype(old)


def state_arrays(model) -> dict[str, np.ndarray]:
    """The model's state dict as NumPy copies (from either library)."""
    out = {}
    for name, value in model.state_dict().items():
        raw = value.detach()
        out[name] = np.array(raw.numpy() if hasattr(raw, "numpy") else raw, copy=True)
    return out


def load_state_arrays(lib, model, arrays: dict[str, np.ndarray]) -> None:
    """Give ``model`` (built with ``lib``) the weights in ``arrays``, by name, in the model's own dtypes."""
    own = model.state_dict()
    missing = sorted(set(own) - set(arrays))
    extra = sorted(set(arrays) - set(own))
    if missing or extra:
        raise AssertionError(f"state dict names differ: only in the model {missing}, only in the arrays {extra}")
    model.load_state_dict({name: lib.tensor(arrays[name]).to(own[name].dtype) for name in own})


def torch_or_none():
    """PyTorch when installed, else None (the comparison then becomes a loss-decreases check)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def assert_curves_close(name: str, ours, theirs, rtol: float, atol: float = 0.0) -> None:
    """The two loss curves agree step by step; the message shows both."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{name}: {ours.shape[0]} losses vs PyTorch's {theirs.shape[0]}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=f"{name}: loss curve vs PyTorch")


def assert_decreases(name: str, losses) -> None:
    """The run learned something: the last loss is below the first."""
    losses = [float(v) for v in losses]
    assert all(np.isfinite(losses)), f"{name}: non-finite loss in {losses}"
    assert losses[-1] < losses[0], f"{name}: loss did not decrease: {losses}"
