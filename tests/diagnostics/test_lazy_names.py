"""chainrule.diagnostics' lazily loaded names are the functions and classes, whatever order they are first read in."""

from __future__ import annotations

import subprocess
import sys


def test_lr_finder_is_the_function_after_its_module_loaded_for_another_name():
    # importing the submodule .lr_finder for LRFinderResult used to leave cr.diagnostics.lr_finder the module
    code = "import chainrule as cr; cr.diagnostics.LRFinderResult; print(callable(cr.diagnostics.lr_finder))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
