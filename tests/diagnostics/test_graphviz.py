"""to_dot / render: the backward graph as Graphviz source, SVG and PNG."""

from __future__ import annotations

import re
import shutil

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics import GraphvizNotFoundError, render, to_dot
from chainrule.nn import functional as F

HAVE_DOT = shutil.which("dot") is not None


def mlp_loss():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss = F.cross_entropy(model(cr.randn(5, 4)), cr.tensor([0, 1, 2, 0, 1]))
    return model, loss


def labels(source):
    return re.findall(r'label="([^"]*)"', source)


def test_ops_shapes_and_parameter_names():
    model, loss = mlp_loss()
    source = to_dot(loss, params=model)
    found = labels(source)
    # nn.Sequential runs the first Linear and the ReLU after it as one op (linear_relu)
    for expected in (r"linear_relu\n(5, 8)", r"linear\n(5, 3)", r"cross_entropy_mean\n()"):
        assert expected in found, expected
    for name, p in model.named_parameters():
        assert f"{name}\\n({', '.join(map(str, p.shape))})" in found
    assert r"output\n()" in found
    assert source.startswith("digraph backward {") and source.rstrip().endswith("}")
    # one node per op (linear_relu, linear, the fused mean cross-entropy) and per parameter,
    # edges in the forward direction (parameter -> op)
    assert len(re.findall(r"^\s+op\d+ \[", source, re.M)) == 3
    assert len(re.findall(r"^\s+leaf\d+ \[", source, re.M)) == 4
    assert re.search(r"leaf\d+ -> op\d+", source)


def test_shared_subgraphs_appear_once_and_leaves_without_params_use_their_name():
    x = cr.randn(3, requires_grad=True)
    x.name = "x"
    h = x.exp()
    y = (h * h + h).sum()
    source = to_dot(y)
    assert labels(source).count(r"exp\n(3)") == 1
    assert r"x\n(3)" in labels(source)
    assert "in 0" in source and "in 1" in source  # mul's two inputs are told apart


def test_multi_output_ops_and_several_roots():
    x = cr.randn(4, 3, requires_grad=True)
    a, b = x.split(2)
    source = to_dot([a.sum(), b.mean()])
    assert "root0" in source and "root1" in source
    assert "out 0" in source and "out 1" in source


def test_freed_nodes_are_dashed_and_deep_graphs_need_no_recursion():
    x = cr.randn(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    loss = y.sum()
    source = to_dot(loss, max_nodes=100)
    assert "cut off after 100 ops" in source
    full = to_dot(loss)
    assert len(re.findall(r"^\s+op\d+ \[", full, re.M)) == 3001
    loss.backward()
    assert "dashed" in to_dot(loss, max_nodes=5)


def test_bad_input():
    with pytest.raises(TypeError, match="expected Tensors"):
        to_dot([cr.randn(2), "not a tensor"])


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_render_svg_and_png(tmp_path):
    model, loss = mlp_loss()
    svg = render(to_dot(loss, params=model), tmp_path / "graph.svg")
    text = svg.read_text()
    assert "<svg" in text and "cross_entropy" in text and "0.weight" in text
    png = render(loss, tmp_path / "graph.png", params=model)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_graphviz_is_a_clear_error_and_dot_needs_none(tmp_path, monkeypatch):
    _, loss = mlp_loss()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(loss, tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()
    path = render(loss, tmp_path / "graph.dot")
    assert path.read_text() == to_dot(loss)
