"""Gradcheck specs for the fused recurrent primitives of ``ops/recurrent.py`` (loaded by specs.py).

``rnn_layer``, ``lstm_layer`` and ``gru_layer`` each run a whole sequence;
first order checks the raw-array BPTT, second order the Tensor-op BPTT of
``create_graph=True``.  Shapes stay small (hidden and batch 1 or 2): every
gradgradcheck evaluation unrolls the sequence.  Both directions are checked.
Parity with PyTorch is in tests/nn/test_recurrent_parity.py.
"""

from __future__ import annotations

from hypothesis import strategies as st

from chainrule.ops.recurrent import gru_layer, lstm_layer, rnn_layer

from .specs import spec

small = st.integers(min_value=1, max_value=2)
length = st.integers(min_value=1, max_value=3)


def _layer_shapes(gates, cell_state=False):
    def shapes(draw):
        steps, batch, features, hidden = draw(length), draw(small), draw(small), draw(small)
        states = [(batch, hidden)] * (2 if cell_state else 1)
        g = gates * hidden
        return [(steps, batch, features), *states, (g, features), (g, hidden), (g,), (g,)]

    return shapes


def _halved(x):
    """Standard normal halved: pre-activations stay where tanh and sigmoid are far from flat."""
    return 0.5 * x


for reverse in (False, True):
    suffix = "_reverse" if reverse else ""
    spec(
        f"rnn_layer_tanh{suffix}",
        lambda x, h, wi, wh, bi, bh, r=reverse: rnn_layer(x, h, wi, wh, bi, bh, "tanh", r),
        _layer_shapes(1),
        ["rnn_layer"],
        domain=_halved,
    )
    spec(
        f"lstm_layer{suffix}",
        lambda x, h, c, wi, wh, bi, bh, r=reverse: lstm_layer(x, h, c, wi, wh, bi, bh, r),
        _layer_shapes(4, cell_state=True),
        ["lstm_layer"],
        domain=_halved,
    )
    spec(
        f"gru_layer{suffix}",
        lambda x, h, wi, wh, bi, bh, r=reverse: gru_layer(x, h, wi, wh, bi, bh, r),
        _layer_shapes(3),
        ["gru_layer"],
        domain=_halved,
    )

# relu: piecewise linear, so its second order is zero almost everywhere and meaningless at the kinks
spec(
    "rnn_layer_relu",
    lambda x, h, wi, wh, bi, bh: rnn_layer(x, h, wi, wh, bi, bh, "relu", False),
    _layer_shapes(1),
    ["rnn_layer"],
    domain=_halved,
    second_order=False,
)
spec(
    "lstm_layer_no_bias",
    lambda x, h, c, wi, wh: lstm_layer(x, h, c, wi, wh),
    lambda draw: _layer_shapes(4, cell_state=True)(draw)[:5],
    ["lstm_layer"],
    domain=_halved,
)
spec(
    "gru_layer_no_bias",
    lambda x, h, wi, wh: gru_layer(x, h, wi, wh, reverse=True),
    lambda draw: _layer_shapes(3)(draw)[:4],
    ["gru_layer"],
    domain=_halved,
)
