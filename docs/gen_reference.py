"""Write the API reference pages (docs/reference/*.md) from the public API itself; ``make docs`` runs it.

Each page lists the public names of one part of chainrule, one mkdocstrings
block each, so that a name added to a package's ``__all__`` appears in the
reference without editing a page (``tests/test_docs.py`` checks that every
public name has a docstring with its arguments and an example).  The ops page
and the derivative index come from ``chainrule.ops.registry``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tests/ops/specs.py for the index

import chainrule  # noqa: E402, F401
from chainrule.ops import registry  # noqa: E402

HERE = Path(__file__).resolve().parent / "reference"

# page -> (title, introduction, [(module, names or None for its __all__)])
PAGES = {
    "tensor": (
        "Tensors and creation",
        "`chainrule.Tensor`, the functions that make tensors, dtypes, devices and random generators.",
        [
            ("chainrule", ["Tensor"]),
            ("chainrule.creation", None),
            ("chainrule.random", None),
            ("chainrule", ["get_default_dtype", "set_default_dtype", "device"]),
        ],
    ),
    "autograd": (
        "Autograd",
        "Reverse mode: `backward`, `grad`, grad modes, custom Functions, gradcheck, anomaly mode.",
        [("chainrule.autograd", None)],
    ),
    "nn": ("chainrule.nn", "Layers as Modules (PyTorch's names and arguments).", [("chainrule.nn", None)]),
    "functional": (
        "chainrule.nn.functional",
        "The stateless layers and losses (`import chainrule.nn.functional as F`).",
        [("chainrule.nn.functional", None)],
    ),
    "init": ("chainrule.nn.init", "Weight initialization.", [("chainrule.nn.init", None)]),
    "linalg": (
        "chainrule.linalg",
        "Linear algebra as `torch.linalg`: inverse, determinants, solve, decompositions and norms, all "
        "differentiable and batched.",
        [("chainrule.linalg", None)],
    ),
    "optim": (
        "chainrule.optim",
        "Optimizers and learning-rate schedulers.",
        [("chainrule.optim", None), ("chainrule.optim.lr_scheduler", None)],
    ),
    "data": (
        "Data",
        "Datasets, loaders and the bundled data.",
        [("chainrule.data", None), ("chainrule.data.datasets", None)],
    ),
    "io": (
        "Saving and loading",
        "safetensors files without pickle, written atomically (see the security guide).",
        [("chainrule.io", None)],
    ),
    "amp": ("Mixed precision", "`autocast` and `GradScaler`.", [("chainrule.amp", None)]),
    "threads": (
        "Threads",
        "How many CPU threads chainrule's kernels use (see the architecture guide).",
        [("chainrule.threads", None)],
    ),
    "utils": (
        "Utilities",
        "Gradient clipping and activation checkpointing.",
        [("chainrule.utils", None), ("chainrule.utils.clip_grad", None), ("chainrule.utils.checkpoint", None)],
    ),
    "func": (
        "Function transforms",
        "`chainrule.func`: grad, vjp, jacrev, jvp, jacfwd, hessian, vmap and functional_call (see the guide); "
        "`chainrule.compile`, step capture (see its guide).",
        [("chainrule.func", None), ("chainrule.compile", None)],
    ),
    "diagnostics": (
        "Diagnostics",
        "Gradient health, anomaly tracing, graph pictures, the learning-rate finder.",
        [("chainrule.diagnostics", None)],
    ),
    "train": ("Training", "The Trainer, its callbacks and checkpoints.", [("chainrule.train", None)]),
    "models": (
        "Models and text",
        "Reference models (BERT family, recommenders) and the tokenizer.",
        [("chainrule.models", None), ("chainrule.text", None)],
    ),
    "distributed": ("Distributed", "Data parallelism over MPI.", [("chainrule.distributed", None)]),
}


def public_names(module_name: str, names=None) -> list[str]:
    """The documented public names of a module: its ``__all__`` (or its public callables and classes)."""
    module = importlib.import_module(module_name)
    if names is None:
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, v in vars(module).items()
                if not n.startswith("_")
                and (inspect.isclass(v) or inspect.isfunction(v))
                and getattr(v, "__module__", "").startswith(module_name)
            ]
    out = []
    for name in names:
        value = getattr(module, name, None)
        if value is None or isinstance(value, types.ModuleType) or not callable(value):
            continue  # modules have their own pages; tables and constants are described in the text
        if module_name == "chainrule" and name in registry.OPS:
            continue  # on the ops page
        out.append(name)
    return out


def page(title: str, intro: str, parts, seen: set) -> str:
    """One page; ``seen`` (shared by all pages) keeps an object re-exported by two packages on the first one."""
    rows = [f"# {title}", "", intro, ""]
    for module, names in parts:
        mod = importlib.import_module(module)
        static = set(vars(mod))  # names a module binds itself (lazy ones appear only once fetched)
        for name in public_names(module, names):
            value = getattr(mod, name)
            if id(value) in seen:
                continue
            seen.add(id(value))
            where = f"{module}.{name}"
            if name not in static and hasattr(value, "__qualname__"):
                where = f"{value.__module__}.{value.__qualname__}"  # loaded on first use: its defining module
            rows += [f"::: {where}", ""]
    return "\n".join(rows) + "\n"


def main() -> int:
    HERE.mkdir(exist_ok=True)
    seen: set = set()
    for name, (title, intro, parts) in PAGES.items():
        (HERE / f"{name}.md").write_text(page(title, intro, parts, seen))
    (HERE / "ops.md").write_text(registry._reference())
    (HERE / "derivatives.md").write_text(registry._index())
    print(f"wrote {len(PAGES) + 2} pages to {HERE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
