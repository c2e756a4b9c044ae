"""Gradcheck specs for the convolution and pooling primitives (ops/conv.py, ops/pool.py).

Shapes are drawn small (every Jacobian entry is checked).  Second order of
``conv`` runs the vjps of ``conv_input_grad`` and ``conv_weight_grad``; the
``*_backward`` specs differentiate a first backward explicitly, so the
backward primitives are also the function under test.
"""

from __future__ import annotations

from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F

from .specs import distinct, spec

small = st.integers(min_value=1, max_value=2)


def _torch_F():
    return __import__("torch").nn.functional


# ------------------------------------------------------------------ convolution


def _conv2d_shapes(groups, bias=True):
    def draw_shapes(draw):
        n, cg, og = draw(small), draw(small), draw(small)
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        h, w = draw(st.integers(4, 5)), draw(st.integers(4, 6))
        shapes = [(n, cg * groups, h, w), (og * groups, cg, kh, kw)]
        return shapes + [(og * groups,)] if bias else shapes

    return draw_shapes


spec(
    "conv2d",
    lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    _conv2d_shapes(1),
    ["conv", "conv_input_grad", "conv_weight_grad", "sum"],
    lambda x, w, b: _torch_F().conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
)
spec(
    "conv2d_groups_same",
    lambda x, w: F.conv2d(x, w, padding="same", groups=2),
    _conv2d_shapes(2, bias=False),
    ["conv", "conv_input_grad", "conv_weight_grad"],
    lambda x, w: _torch_F().conv2d(x, w, padding="same", groups=2),
)


def _conv1d_shapes(draw):
    n, c, o, k, length = (
        draw(small),
        draw(small),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(5, 8)),
    )
    return [(n, c * 3, length), (o * 3, c, k), (o * 3,)]


spec(
    "conv1d_groups",
    lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=3),
    _conv1d_shapes,
    ["conv", "conv_input_grad", "conv_weight_grad", "sum"],
    lambda x, w, b: _torch_F().conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=3),
)


def _conv_transpose2d_shapes(draw):
    n, cg, og = draw(small), draw(small), draw(small)
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(2, 3))
    h, w = draw(st.integers(2, 3)), draw(st.integers(2, 3))
    return [(n, cg * 2, h, w), (cg * 2, og, kh, kw), (og * 2,)]


spec(
    "conv_transpose2d",
    lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=(0, 1), output_padding=1, groups=2),
    _conv_transpose2d_shapes,
    ["conv_input_grad", "conv", "conv_weight_grad", "add", "reshape"],
    lambda x, w, b: _torch_F().conv_transpose2d(x, w, b, stride=2, padding=(0, 1), output_padding=1, groups=2),
)


def _conv_backward(x, w, g):
    """Both conv gradients as a function: the backward primitives are what is checked (and their vjps at 2nd order)."""
    out = F.conv2d(x, w, stride=2, padding=1)
    gx, gw = cr.autograd.grad(out, (x, w), grad_outputs=g, create_graph=True)
    return gx, gw


def _conv_backward_shapes(draw):
    n, c, o, k, h = draw(small), draw(small), draw(small), draw(st.integers(1, 3)), draw(st.integers(3, 5))
    out = (h + 2 - k) // 2 + 1
    return [(n, c, h, h), (o, c, k, k), (n, o, out, out)]


spec(
    "conv2d_backward",
    _conv_backward,
    _conv_backward_shapes,
    ["conv_input_grad", "conv_weight_grad", "conv"],
    notes="first backward as the function under test; its input-gradient path is linear in (w, g)",
)

# ------------------------------------------------------------------ pooling


def _pool2d_shapes(draw):
    lead = (draw(small), draw(small))
    return [lead + (draw(st.integers(3, 6)), draw(st.integers(3, 6)))]


def _pool1d_shapes(draw):
    return [(draw(small), draw(small), draw(st.integers(3, 8)))]


spec(
    "max_pool2d",
    lambda x: F.max_pool2d(x, 2),
    _pool2d_shapes,
    ["max_pool", "max_pool_scatter", "max_pool_gather"],
    lambda x: _torch_F().max_pool2d(x, 2),
    domain=distinct,
)
spec(
    "max_pool2d_overlap",
    lambda x: F.max_pool2d(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
    _pool2d_shapes,
    ["max_pool", "max_pool_scatter", "max_pool_gather"],
    lambda x: _torch_F().max_pool2d(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
    domain=distinct,
)
spec(
    "max_pool1d",
    lambda x: F.max_pool1d(x, 3, stride=2, padding=1),
    _pool1d_shapes,
    ["max_pool", "max_pool_scatter", "max_pool_gather"],
    lambda x: _torch_F().max_pool1d(x, 3, stride=2, padding=1),
    domain=distinct,
)


def _max_pool_backward(x, g):
    out = F.max_pool2d(x, 2, stride=1)
    (gx,) = cr.autograd.grad(out, (x,), grad_outputs=g, create_graph=True)
    return gx


def _max_pool_backward_shapes(draw):
    n, h, w = draw(small), draw(st.integers(2, 4)), draw(st.integers(2, 4))
    return [(n, 2, h, w), (n, 2, h - 1, w - 1)]


spec(
    "max_pool2d_backward",
    _max_pool_backward,
    _max_pool_backward_shapes,
    ["max_pool_scatter", "max_pool_gather"],
    domain=distinct,
    notes="overlapping windows: the scatter adds; its vjp (gather) is checked at first order here",
)

spec(
    "avg_pool2d",
    lambda x: F.avg_pool2d(x, 2),
    _pool2d_shapes,
    ["avg_pool", "avg_pool_backward"],
    lambda x: _torch_F().avg_pool2d(x, 2),
)
spec(
    "avg_pool2d_pad_ceil",
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    _pool2d_shapes,
    ["avg_pool", "avg_pool_backward"],
    lambda x: _torch_F().avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
)
spec(
    "avg_pool1d",
    lambda x: F.avg_pool1d(x, 2, stride=1, padding=1),
    _pool1d_shapes,
    ["avg_pool", "avg_pool_backward"],
    lambda x: _torch_F().avg_pool1d(x, 2, stride=1, padding=1),
)


def _avg_pool_backward(x, g):
    out = F.avg_pool2d(x, 2, stride=1, padding=1)
    (gx,) = cr.autograd.grad(out * out, (x,), grad_outputs=g, create_graph=True)
    return gx


spec(
    "avg_pool2d_backward",
    _avg_pool_backward,
    lambda draw: [
        (s := (draw(small), 2, draw(st.integers(2, 4)), draw(st.integers(2, 4)))),
        s[:2] + (s[2] + 1, s[3] + 1),
    ],
    ["avg_pool_backward", "avg_pool", "mul"],
)

spec(
    "adaptive_avg_pool2d",
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    _pool2d_shapes,
    ["avg_pool", "matmul", "reshape", "permute", "mean"],
    lambda x: _torch_F().adaptive_avg_pool2d(x, (2, 3)),
)
spec(
    "adaptive_max_pool2d",
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
    _pool2d_shapes,
    ["max_pool", "gather"],
    lambda x: _torch_F().adaptive_max_pool2d(x, (2, 3)),
    domain=distinct,
)
