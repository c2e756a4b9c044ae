"""The import rewriter and the program loader of tests/programs/harness.py."""

import sys

import pytest

from .harness import load_program, rewrite_imports

CASES = [
    ("import torch\n", "import chainrule as torch\n"),
    ("import torch as th\n", "import chainrule as th\n"),
    ("import torch.nn as nn\n", "import chainrule.nn as nn\n"),
    ("import torch.utils.data\n", "import chainrule.utils.data; import chainrule as torch\n"),
    ("from torch import nn, optim\n", "from chainrule import nn, optim\n"),
    ("from torch.nn import functional as F\n", "from chainrule.nn import functional as F\n"),
    ("from torch.utils.data import Dataset\n", "from chainrule.utils.data import Dataset\n"),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_each_import_form(before, after):
    assert rewrite_imports(before) == after


def test_indented_and_commented_imports():
    source = "def f():\n    import torch  # lazily\n    return torch\n"
    assert rewrite_imports(source) == "def f():\n    import chainrule as torch  # lazily\n    return torch\n"


def test_only_import_statements_change():
    source = (
        '"""Docs.\n\nimport torch\n"""\n'
        "# import torch.nn as nn\n"
        "from torch import (\n    nn,\n    optim,\n)\n"
        "import torchvision\n"
        "x = torch.zeros(3)  # torch.nn stays torch.nn here\n"
        "s = 'from torch import nn'\n"
    )
    expected = source.replace("from torch import (\n", "from chainrule import (\n")
    assert rewrite_imports(source) == expected


def test_forms_it_does_not_handle_are_errors():
    with pytest.raises(ValueError, match="several modules in one import"):
        rewrite_imports("import os, torch\n")
    with pytest.raises(ValueError, match="not at the start of its line"):
        rewrite_imports("x = 1; import torch\n")


def test_loading_leaves_sys_modules_as_it_was():
    before = set(sys.modules)
    first = load_program("mingpt", "chainrule", "mingpt.utils")
    second = load_program("mingpt", "chainrule", "mingpt.utils")
    assert first is not second  # each load is a fresh copy of the program
    assert first.torch.__name__ == "chainrule"
    assert not {name for name in set(sys.modules) - before if name.startswith("mingpt")}
