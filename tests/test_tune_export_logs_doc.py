"""docs/tune_export_logs.md: its Python examples run as written (each skipped without its extra)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "tune_export_logs.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, re.S)
NEEDS = {
    "chainrule.tune": ("optuna", "the tune extra"),
    "chainrule.onnx": ("onnxruntime", "the onnx extra"),
    "tensorboard": ("tensorboardX", "the tensorboard extra"),
}


def test_the_page_has_an_example_per_feature():
    assert len(BLOCKS) == 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_examples_run(index, tmp_path, monkeypatch):
    code = BLOCKS[index]
    for marker, (module, extra) in NEEDS.items():
        if marker in code and importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}: {extra}")
    monkeypatch.chdir(tmp_path)  # the examples write files
    exec(compile(code, f"docs/tune_export_logs.md[{index}]", "exec"), {})  # noqa: S102 - our own documentation
