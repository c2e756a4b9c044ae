"""Every public name is documented: a docstring with its arguments and an example that runs.

"Public" is what the API reference shows (docs/gen_reference.py): the names in
the ``__all__`` of chainrule's public packages, every op in the registry, and
every public method and property of ``Tensor``.  A class is documented by its
own docstring (its constructor's arguments included); methods of other
classes are not part of this list.  Each docstring must name every argument
(a Google-style ``Args:`` section) and hold an example in doctest form, which
``test_the_examples_run`` runs and whose printed output it checks.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import gen_reference  # noqa: E402

SKIP_ARGS = {"self", "cls", "args", "kwargs"}


def _public():
    """{qualified public name: object}, each object once (under the first name it is reached by)."""
    found: dict = {}
    seen: set = set()

    def add(name, value):
        if id(value) not in seen:
            seen.add(id(value))
            found[name] = value

    for _op, info in sorted(registry.OPS.items()):
        add(f"chainrule.{info.fn.__name__}", info.fn)
    for _, (_, _, parts) in gen_reference.PAGES.items():
        for module, names in parts:
            mod = importlib.import_module(module)
            for name in gen_reference.public_names(module, names):
                add(f"{module}.{name}", getattr(mod, name))
    for name in sorted(dir(cr.Tensor)):
        if name.startswith("_"):
            continue
        value = cr.Tensor.__dict__.get(name)
        if value is None:
            continue
        target = value.fget if isinstance(value, property) else value
        if callable(target):
            add(f"chainrule.Tensor.{name}", target)
    return found


PUBLIC = _public()


def _arguments(obj):
    """The argument names a docstring must mention (a class: its constructor's)."""
    fn = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    if inspect.isclass(obj) or (params and params[0].name in ("self", "x", "input", "a") and "Tensor." in _name(obj)):
        params = params[1:] if params and params[0].name == "self" else params
    return [p.name for p in params if p.name not in SKIP_ARGS]


def _name(obj):
    return next((k for k, v in PUBLIC.items() if v is obj), "")


def _doc(obj):
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and obj.__init__ is not object.__init__:
        doc += "\n" + (inspect.getdoc(obj.__init__) or "")
    return doc


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_is_documented(name):
    obj = PUBLIC[name]
    doc = _doc(obj)
    assert doc.strip(), f"{name} has no docstring"
    missing = [arg for arg in _arguments(obj) if not re.search(rf"\b{re.escape(arg)}\b", doc)]
    assert not missing, f"{name}: the docstring does not describe {missing}"
    assert ">>>" in doc, f"{name}: the docstring has no example (>>> lines)"


GLOBS = {"cr": cr, "np": np, "nn": cr.nn, "F": cr.nn.functional, "optim": cr.optim}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_the_examples_run(name, tmp_path, monkeypatch):
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj) or ""
    if ">>>" not in doc:
        pytest.skip("no example (test_every_public_name_is_documented reports it)")
    monkeypatch.chdir(tmp_path)  # examples may write files
    cr.manual_seed(0)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc, dict(GLOBS), name, None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
