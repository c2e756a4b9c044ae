"""Write docs/compat.md: which of PyTorch's names chainrule has, namespace by namespace (needs torch installed).

    python docs/gen_compat.py        # torch==2.13.0 in the environment; the page is committed

The counts compare public names only (a name chainrule has may still differ in
behaviour: the differences are in coming_from_pytorch.md). Regenerate after
adding ops, layers or optimizers.

The first section lists the PyTorch names that the real programs in
tests/programs/ use (read from their source with ``ast``), each supported,
differing (the "Differs from PyTorch:" sentence of chainrule's docstring) or
not supported (and why).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

import torch

import chainrule as cr

OUT = Path(__file__).resolve().parent / "compat.md"
PROGRAMS = Path(__file__).resolve().parents[1] / "tests" / "programs"

# Why a name the programs use is not in chainrule, where it is a decision rather than work still to do.
NOT_SUPPORTED_WHY = {
    "torch.accelerator": "chainrule's devices are the CPU and CUDA through CuPy: use `cr.cuda.is_available()`",
    "torch.serialization": "`torch.load` unpickles; chainrule never unpickles (its files are safetensors + JSON)",
    "torch.nn.modules": "the layer is `chainrule.nn.<Layer>`; chainrule's `nn.modules` files are named and split "
    "differently (`recurrent`, `attention`, ...)",
    "torch.compile": "no graph compiler: chainrule runs eagerly on NumPy/CuPy",
}
# Differences that chainrule's docstring states in other words than "Differs from PyTorch:".
DIFFERS_WHY = {
    "torch.load": "reads what `chainrule.save` wrote (safetensors + JSON; nothing executes); a PyTorch pickle "
    "checkpoint is refused with an error saying how to convert it",
}
# Tensor methods that share their name with a method of str/list/dict, nn.Module or an optimizer: reading the
# source cannot tell what they were called on, so they are left out of the list.
_AMBIGUOUS_HOSTS = (str, list, dict, set, object)
# Tensor attributes read without a call; any other Tensor name counts only when called.
_TENSOR_ATTRIBUTES = {"T", "data", "device", "dtype", "grad", "is_cuda", "mT", "ndim", "requires_grad", "shape"}
# Receivers that are never tensors in these programs: the argparse namespace, configs, the object itself.
_NOT_TENSORS = {"self", "args", "config", "opt", "train_config"}


def _functions(mod):
    return {n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n, None))}


def _classes(mod):
    return {n for n in dir(mod) if not n.startswith("_") and inspect.isclass(getattr(mod, n, None))}


NAMESPACES = [
    ("`torch` functions", lambda: {n for n in _functions(torch) if not inspect.isclass(getattr(torch, n))}, cr),
    ("`torch.Tensor` methods", lambda: {n for n in dir(torch.Tensor) if not n.startswith("_")}, cr.Tensor),
    ("`torch.nn` layers", lambda: _classes(torch.nn), cr.nn),
    ("`torch.nn.functional`", lambda: _functions(torch.nn.functional), cr.nn.functional),
    ("`torch.nn.init`", lambda: _functions(torch.nn.init), cr.nn.init),
    ("`torch.optim`", lambda: _classes(torch.optim), cr.optim),
    (
        "`torch.optim.lr_scheduler`",
        lambda: {
            n
            for n in _classes(torch.optim.lr_scheduler)
            if issubclass(getattr(torch.optim.lr_scheduler, n), object)
            and n.endswith(("LR", "Scheduler", "Restarts", "Plateau"))
        },
        cr.optim.lr_scheduler,
    ),
]


def _torch_aliases(tree) -> dict:
    """{local name: dotted torch path} from a file's ``import torch...`` statements."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    aliases[alias.asname or "torch"] = alias.name if alias.asname else "torch"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, list(reversed(parts))) if isinstance(node, ast.Name) else (None, None)


def _resolve(path: str, root):
    """The object at dotted ``path`` under ``root`` (whose name is the path's first part), or None.

    A submodule that is not an attribute yet is imported (``chainrule.utils.tensorboard``).
    """
    obj = root
    parts = path.split(".")
    for i, part in enumerate(parts[1:], start=1):
        found = getattr(obj, part, None)
        if found is None and inspect.ismodule(obj):
            try:
                found = importlib.import_module(".".join([root.__name__, *parts[1 : i + 1]]))
            except ImportError:
                found = None
        if found is None:
            return None
        obj = found
    return obj


def _used_names(source: str, tensor_methods: set, ambiguous: set):
    """(torch paths, Tensor methods) that ``source`` uses."""
    tree = ast.parse(source)
    aliases = _torch_aliases(tree)
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    paths, methods = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in aliases and "." in aliases[node.id]:
            if not inspect.ismodule(_resolve(aliases[node.id], torch)):
                paths.add(aliases[node.id])
        if not isinstance(node, ast.Attribute):
            continue
        root, parts = _dotted(node)
        if root in aliases:
            path = aliases[root]
            for part in parts:  # the longest prefix that is a torch object other than a module
                if inspect.ismodule(_resolve(f"{path}.{part}", torch)):
                    path = f"{path}.{part}"
                    continue
                path = f"{path}.{part}"
                break
            if not inspect.ismodule(_resolve(path, torch)):
                paths.add(path)
        elif node.attr in tensor_methods and _makes_tensor(node.value, aliases):  # torch.tensor(ids).type(...)
            methods.add(node.attr)
        elif node.attr in tensor_methods and node.attr not in ambiguous and root not in imported | _NOT_TENSORS:
            if id(node) in called or node.attr in _TENSOR_ATTRIBUTES:
                methods.add(node.attr)
    return paths, methods


def _makes_tensor(node, aliases) -> bool:
    """Whether ``node`` calls a torch function, not a class (``torch.tensor(...)``): its result is a Tensor."""
    if not isinstance(node, ast.Call):
        return False
    root, parts = _dotted(node.func)
    if root not in aliases:
        return False
    target = _resolve(".".join([aliases[root], *parts]), torch)
    return callable(target) and not inspect.isclass(target)


def _differs(obj) -> str:
    """The "Differs from PyTorch:" paragraph of ``obj``'s docstring, as Markdown ('' when there is none)."""
    doc = inspect.getdoc(obj) or ""
    # "Differs from PyTorch: ...", "Differs from ``torch.save``: ...", "Differs from PyTorch only with NaNs ..."
    match = re.search(r"Differs from\s+(?:PyTorch|``torch[\w.]*``)\s*:?\s*(.+?)(?:\n\s*\n|$)", doc, re.S)
    if not match:
        return ""
    text = " ".join(match.group(1).split())
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)  # Sphinx roles
    return text.replace("``", "`")


def _status(ours) -> str:
    if ours is None:
        return "not supported"
    note = _differs(ours)
    return f"differs: {note}" if note else "supported"


def programs_section() -> list[str]:
    """The table of PyTorch names the programs in tests/programs use, with chainrule's status for each."""
    tensor_methods = {n for n in dir(torch.Tensor) if not n.startswith("_")}
    ambiguous = {n for host in _AMBIGUOUS_HOSTS for n in dir(host)}
    ambiguous |= set(dir(torch.nn.Module)) | set(dir(torch.optim.Optimizer))
    used: dict[str, set] = {}
    programs = sorted(p.parent.name for p in PROGRAMS.glob("*/upstream"))
    for program in programs:
        for path in sorted((PROGRAMS / program / "upstream").rglob("*.py")):
            paths, methods = _used_names(path.read_text(encoding="utf-8"), tensor_methods, ambiguous)
            for name in paths:
                used.setdefault(name, set()).add(program)
            for name in methods:
                used.setdefault(f"Tensor.{name}", set()).add(program)
    rows = [
        "## What the programs in tests/programs use",
        "",
        f"The {len(programs)} programs in `tests/programs/` run on chainrule with only their import lines rewritten",
        "(`import torch` becomes `import chainrule as torch`, see `tests/programs/README.md`): "
        + ", ".join(f"`{p}`" for p in programs)
        + ".",
        "These are the PyTorch names their source uses, read from it with `ast` (Tensor methods by name; a name",
        "that is also a method of `str`, `list`, `dict`, `nn.Module` or an optimizer, such as `to` or `split`, is",
        "left out because the reading cannot tell what it was called on). A name used only in a part the tests",
        "do not run (a `main()`, `from_pretrained`) is listed too.",
        "",
        "| PyTorch | used by | chainrule |",
        "| --- | --- | --- |",
    ]
    counts = {"supported": 0, "differs": 0, "not supported": 0}
    for name in sorted(used, key=str.lower):
        if name.startswith("Tensor."):
            ours = getattr(cr.Tensor, name.split(".", 1)[1], None)
        else:
            ours = _resolve("chainrule" + name[len("torch") :], cr)
        status = _status(ours)
        if status == "supported" and name in DIFFERS_WHY:
            status = f"differs: {DIFFERS_WHY[name]}"
        if ours is None:
            why = next((w for key, w in NOT_SUPPORTED_WHY.items() if name == key or name.startswith(key + ".")), None)
            status += f": {why}" if why else ": not yet in chainrule"
        counts[status.split(":")[0]] += 1
        rows.append(f"| `{name}` | {', '.join(sorted(used[name]))} | {status.replace('|', '/')} |")
    rows[8:8] = [
        "",
        f"Of {len(used)} names: {counts['supported']} supported, {counts['differs']} supported with a",
        f"difference, {counts['not supported']} not supported.",
    ]
    return rows + [""]


def main() -> int:
    rows = [
        "# Compatibility with PyTorch's names",
        "",
        f"Generated by `python docs/gen_compat.py` against torch {torch.__version__.split('+')[0]}. A name listed as",
        "present exists in chainrule with PyTorch's arguments; what behaves differently is in",
        "[Coming from PyTorch](coming_from_pytorch.md).",
        "",
        "| namespace | present | of PyTorch's |",
        "| --- | --- | --- |",
    ]
    details = []
    for title, theirs, ours in NAMESPACES:
        names = sorted(theirs())
        have = [n for n in names if hasattr(ours, n)]
        missing = [n for n in names if not hasattr(ours, n)]
        rows.append(f"| {title} | {len(have)} | {len(names)} |")
        details += [f"## {title}", "", f"**Present ({len(have)}):** " + ", ".join(f"`{n}`" for n in have), ""]
        details += [f"**Not in chainrule ({len(missing)}):** " + ", ".join(f"`{n}`" for n in missing), ""]
    OUT.write_text("\n".join(rows + [""] + programs_section() + details).rstrip() + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
