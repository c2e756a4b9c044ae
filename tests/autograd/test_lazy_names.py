"""chainrule.autograd's lazily loaded names are the functions and classes, whatever order they are first read in."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("first", ["GradcheckError", "gradgradcheck"])
def test_gradcheck_is_the_function_after_its_module_loaded_for_another_name(first):
    # importing the submodule .gradcheck for another name used to leave cr.autograd.gradcheck the module
    code = f"import chainrule as cr; cr.autograd.{first}; print(callable(cr.autograd.gradcheck))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
