"""Functional recurrent networks: multi-layer, optionally bidirectional RNN, LSTM and GRU, and single cells.

PyTorch keeps these private (``torch._VF.lstm``); chainrule exposes them so a
recurrent net can be run from plain weight tensors.  ``nn.RNN``, ``nn.LSTM``
and ``nn.GRU`` call :func:`rnn`, :func:`lstm` and :func:`gru`.

``weights`` is a flat list in PyTorch's ``_flat_weights`` order: for each
layer, for each direction (forward, then reverse),
``w_ih (G*H, H_in), w_hh (G*H, H)`` and, when ``bias``, ``b_ih (G*H,), b_hh (G*H,)``,
with G = 1 (RNN), 4 (LSTM: gates i, f, g, o) or 3 (GRU: gates r, z, n).

Each layer and direction runs as one fused op (``ops/recurrent.py``): the
input projection of all time steps is one GEMM, then one GEMM per step.

Shapes: input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, or
unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)`` (unbatched
``(D * num_layers, H)``) with D = 2 if bidirectional else 1; output
``(L, N, D * H)`` (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)`` unbatched).

Differs from PyTorch: PackedSequence inputs and LSTM ``proj_size`` are not
supported; the dropout masks between layers come from chainrule's generator.
"""

from __future__ import annotations

from ...creation import zeros
from ...errors import DTypeError, ShapeError
from ...ops.recurrent import gru_layer, lstm_layer, rnn_layer
from ...ops.shape import cat, stack
from ...tensor import Tensor
from .dropout import dropout as _dropout

__all__ = ["rnn", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]

_NAMES = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def _layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """One layer, one direction over time-major x (L, N, H_in): (output, h_n, c_n or None)."""
    if mode == "LSTM":
        return lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
    if mode == "GRU":
        out, h_n = gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
    else:
        out, h_n = rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, "relu" if mode == "RNN_RELU" else "tanh", reverse)
    return out, h_n, None


def _device(t):
    return None if t.device.type == "cpu" else t.device


def _check_state(name, what, state, expected):
    if not isinstance(state, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(state).__name__}")
    if tuple(state._data.shape) != expected:
        raise ShapeError(f"{name}: expected {what} of shape {expected}, got {tuple(state.shape)}")


def _run(mode, input, hx, weights, num_layers, bias, dropout, training, bidirectional, batch_first):  # noqa: A002
    """The shared driver: returns (output, h_n, c_n or None) in the caller's layout."""
    name = _NAMES[mode]
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    ndim = input._data.ndim
    if ndim not in (2, 3):
        raise ShapeError(
            f"{name}: expected a 2-d (L, H_in) or 3-d input ((L, N, H_in), or (N, L, H_in) with batch_first), "
            f"got shape {tuple(input.shape)}"
        )
    per_layer = 4 if bias else 2
    directions = 2 if bidirectional else 1
    if len(weights) != num_layers * directions * per_layer:
        raise ValueError(
            f"{name}: expected {num_layers * directions * per_layer} weight tensors "
            f"({num_layers} layers x {directions} directions x {per_layer}), got {len(weights)}"
        )
    w_first = weights[0]
    hidden = weights[1]._data.shape[1]
    if input._data.shape[-1] != w_first._data.shape[1]:
        raise ShapeError(
            f"{name}: expected input_size={w_first._data.shape[1]} features in the last dimension of the input, "
            f"got shape {tuple(input.shape)}"
        )
    if input._data.dtype != w_first._data.dtype:
        raise DTypeError(
            f"{name}: the input is {input._data.dtype} but the weights are {w_first._data.dtype}; "
            f"convert the input with .to({w_first._data.dtype}) or the module with .to(dtype)"
        )
    batched = ndim == 3
    x = input if batched else input.unsqueeze(1)
    if batched and batch_first:
        x = x.transpose(0, 1)
    length, batch = x._data.shape[:2]
    n_states = num_layers * directions
    expected = (n_states, batch, hidden) if batched else (n_states, hidden)
    c_all = None
    if mode == "LSTM":
        if hx is None:
            h_all = c_all = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h_all, c_all = hx
            _check_state(name, "h_0", h_all, expected)
            _check_state(name, "c_0", c_all, expected)
    else:
        h_all = hx
        if hx is not None:
            _check_state(name, "h_0", hx, expected)
    if not batched:
        h_all = None if h_all is None else h_all.unsqueeze(1)
        c_all = None if c_all is None else c_all.unsqueeze(1)
    for what, state in (("h_0", h_all), ("c_0", c_all)):
        if state is not None and state._data.dtype != w_first._data.dtype:
            raise DTypeError(f"{name}: {what} is {state._data.dtype} but the weights are {w_first._data.dtype}")

    zero_state = None
    h_n, c_n = [], []
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            w = weights[k * per_layer : (k + 1) * per_layer]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if bias else (None, None)
            if h_all is None or (mode == "LSTM" and c_all is None):
                if zero_state is None:
                    zero_state = zeros(batch, hidden, dtype=w_hh.dtype, device=_device(w_hh))
            h0 = zero_state if h_all is None else h_all[k]
            c0 = (zero_state if c_all is None else c_all[k]) if mode == "LSTM" else None
            out, h, c = _layer(mode, layer_input, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=direction == 1)
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = outputs[0] if directions == 1 else cat(outputs, -1)
        if dropout and training and layer < num_layers - 1:
            layer_input = _dropout(layer_input, dropout, True)
    output = layer_input
    h_n = stack(h_n, 0)
    c_n = stack(c_n, 0) if mode == "LSTM" else None
    if not batched:
        output = output.squeeze(1)
        h_n = h_n.squeeze(1)
        c_n = None if c_n is None else c_n.squeeze(1)
    elif batch_first:
        output = output.transpose(0, 1)
    return output, h_n, c_n


def rnn(
    input: Tensor,  # noqa: A002 - PyTorch's name
    hx: Tensor | None,
    weights,
    num_layers: int = 1,
    nonlinearity: str = "tanh",
    bias: bool = True,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
    batch_first: bool = False,
):
    """Multi-layer Elman RNN, ``h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)``, the function behind ``nn.RNN``.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H
    hidden size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``,
    or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)`` (unbatched
    ``(D * num_layers, H)``); output ``(L, N, D * H)`` (``(N, L, D * H)`` with
    ``batch_first``, ``(L, D * H)`` unbatched), the last layer's hidden state
    at every step.  Each layer and direction runs as one fused op: one GEMM for
    the input projection of all steps, then one per step.  Differs from PyTorch
    (where this is the private ``torch._VF`` function): no PackedSequence input
    and no LSTM ``proj_size``.

    Args:
        input: the sequence, shape ``(L, N, H_in)`` (see above).
        hx: the initial hidden state ``(D * num_layers, N, H)``, or None for zeros.
        weights (list[Tensor]): the flat weight list, per layer and direction
            (forward, then reverse) ``w_ih (G*H, H_in), w_hh (G*H, H)`` and, with
            ``bias``, ``b_ih (G*H,), b_hh (G*H,)`` (G = 1); layers after the first
            take ``D * H`` inputs.  ``list(nn.RNN(...).parameters())`` is in
            this order.
        num_layers: the number of stacked layers (default 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: whether ``weights`` holds the two biases per layer and direction
            (default True).
        dropout: the dropout probability on the outputs of every layer but the
            last, applied only when ``training`` (default 0).
        training: apply ``dropout`` (default False).
        bidirectional: run a second, reversed direction in every layer and
            concatenate the two outputs (default False).
        batch_first: ``input`` and output are ``(N, L, ...)`` instead of
            ``(L, N, ...)``; the states never are (default False).

    Returns:
        (tuple[Tensor, Tensor]): ``(output, h_n)``: output ``(L, N, D * H)`` and
            the final hidden state of every layer and direction,
            ``(D * num_layers, N, H)``.

    Examples:
        >>> H_in, H = 2, 3
        >>> weights = [cr.randn(H, H_in), cr.randn(H, H), cr.zeros(H), cr.zeros(H)]
        >>> output, h_n = F.rnn(cr.randn(5, 4, H_in), None, weights)
        >>> output.shape, h_n.shape
        ((5, 4, 3), (1, 4, 3))
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
    output, h_n, _ = _run(mode, input, hx, weights, num_layers, bias, dropout, training, bidirectional, batch_first)
    return output, h_n


def lstm(
    input: Tensor,  # noqa: A002
    hx,
    weights,
    num_layers: int = 1,
    bias: bool = True,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
    batch_first: bool = False,
):
    """Multi-layer LSTM (Hochreiter & Schmidhuber, 1997) with PyTorch's gates i, f, g, o; behind ``nn.LSTM``.

    Per step: ``i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)``,
    ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H
    hidden size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``,
    or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)`` (unbatched
    ``(D * num_layers, H)``); output ``(L, N, D * H)`` (``(N, L, D * H)`` with
    ``batch_first``, ``(L, D * H)`` unbatched), the last layer's hidden state
    at every step.  Each layer and direction runs as one fused op: one GEMM for
    the input projection of all steps, then one per step.  Differs from PyTorch
    (where this is the private ``torch._VF`` function): no PackedSequence input
    and no LSTM ``proj_size``.

    Args:
        input: the sequence, shape ``(L, N, H_in)`` (see above).
        hx (tuple[Tensor, Tensor] | None): ``(h_0, c_0)``, each
            ``(D * num_layers, N, H)``, or None for zeros.
        weights (list[Tensor]): the flat weight list, per layer and direction
            (forward, then reverse) ``w_ih (G*H, H_in), w_hh (G*H, H)`` and, with
            ``bias``, ``b_ih (G*H,), b_hh (G*H,)`` (G = 4); layers after the first
            take ``D * H`` inputs.  ``list(nn.LSTM(...).parameters())`` is in
            this order.
        num_layers: the number of stacked layers (default 1).
        bias: whether ``weights`` holds the two biases per layer and direction
            (default True).
        dropout: the dropout probability on the outputs of every layer but the
            last, applied only when ``training`` (default 0).
        training: apply ``dropout`` (default False).
        bidirectional: run a second, reversed direction in every layer and
            concatenate the two outputs (default False).
        batch_first: ``input`` and output are ``(N, L, ...)`` instead of
            ``(L, N, ...)``; the states never are (default False).

    Returns:
        (tuple[Tensor, tuple[Tensor, Tensor]]): ``(output, (h_n, c_n))``: output
            ``(L, N, D * H)``, and the final hidden and cell states, each
            ``(D * num_layers, N, H)``.

    Examples:
        >>> H_in, H = 2, 3
        >>> weights = [cr.randn(4 * H, H_in), cr.randn(4 * H, H), cr.zeros(4 * H), cr.zeros(4 * H)]
        >>> output, (h_n, c_n) = F.lstm(cr.randn(4, 5, H_in), None, weights, batch_first=True)
        >>> output.shape, h_n.shape, c_n.shape
        ((4, 5, 3), (1, 4, 3), (1, 4, 3))
    """
    output, h_n, c_n = _run("LSTM", input, hx, weights, num_layers, bias, dropout, training, bidirectional, batch_first)
    return output, (h_n, c_n)


def gru(
    input: Tensor,  # noqa: A002
    hx: Tensor | None,
    weights,
    num_layers: int = 1,
    bias: bool = True,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
    batch_first: bool = False,
):
    """Multi-layer GRU (Cho et al., 2014), gates r, z, n as PyTorch's; the function behind ``nn.GRU``.

    Per step: ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``,
    ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H
    hidden size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``,
    or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)`` (unbatched
    ``(D * num_layers, H)``); output ``(L, N, D * H)`` (``(N, L, D * H)`` with
    ``batch_first``, ``(L, D * H)`` unbatched), the last layer's hidden state
    at every step.  Each layer and direction runs as one fused op: one GEMM for
    the input projection of all steps, then one per step.  Differs from PyTorch
    (where this is the private ``torch._VF`` function): no PackedSequence input
    and no LSTM ``proj_size``.

    Args:
        input: the sequence, shape ``(L, N, H_in)`` (see above).
        hx: the initial hidden state ``(D * num_layers, N, H)``, or None for zeros.
        weights (list[Tensor]): the flat weight list, per layer and direction
            (forward, then reverse) ``w_ih (G*H, H_in), w_hh (G*H, H)`` and, with
            ``bias``, ``b_ih (G*H,), b_hh (G*H,)`` (G = 3); layers after the first
            take ``D * H`` inputs.  ``list(nn.GRU(...).parameters())`` is in
            this order.
        num_layers: the number of stacked layers (default 1).
        bias: whether ``weights`` holds the two biases per layer and direction
            (default True).
        dropout: the dropout probability on the outputs of every layer but the
            last, applied only when ``training`` (default 0).
        training: apply ``dropout`` (default False).
        bidirectional: run a second, reversed direction in every layer and
            concatenate the two outputs (default False).
        batch_first: ``input`` and output are ``(N, L, ...)`` instead of
            ``(L, N, ...)``; the states never are (default False).

    Returns:
        (tuple[Tensor, Tensor]): ``(output, h_n)``: output ``(L, N, D * H)`` and
            the final hidden state ``(D * num_layers, N, H)``.

    Examples:
        >>> H_in, H = 2, 3
        >>> weights = [cr.randn(3 * H, H_in), cr.randn(3 * H, H)]
        >>> output, h_n = F.gru(cr.randn(5, H_in), None, weights, bias=False)  # unbatched
        >>> output.shape, h_n.shape
        ((5, 3), (1, 3))
    """
    output, h_n, _ = _run("GRU", input, hx, weights, num_layers, bias, dropout, training, bidirectional, batch_first)
    return output, h_n


# ---------------------------------------------------------------------------
# single steps (PyTorch's torch.rnn_tanh_cell, torch.lstm_cell, torch.gru_cell)


def _cell(mode, input, states, w_ih, w_hh, b_ih, b_hh):  # noqa: A002
    """One time step: input (N, H_in) or (H_in,), states (N, H) or (H,) each."""
    name = _NAMES[mode] + "Cell"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    if input._data.ndim not in (1, 2):
        raise ShapeError(f"{name}: expected a 1-d (H_in,) or 2-d (N, H_in) input, got shape {tuple(input.shape)}")
    in_features = w_ih._data.shape[1]
    hidden = w_hh._data.shape[1]
    if input._data.shape[-1] != in_features:
        raise ShapeError(
            f"{name}: expected input_size={in_features} features in the last dimension of the input, "
            f"got shape {tuple(input.shape)}"
        )
    if input._data.dtype != w_ih._data.dtype:
        raise DTypeError(f"{name}: the input is {input._data.dtype} but the weights are {w_ih._data.dtype}")
    batched = input._data.ndim == 2
    x = input if batched else input.unsqueeze(0)
    batch = x._data.shape[0]
    expected = (batch, hidden) if batched else (hidden,)
    full = []
    for i, s in enumerate(states):
        if s is None:
            s = zeros(batch, hidden, dtype=w_hh.dtype, device=_device(w_hh))
        else:
            _check_state(name, "hx" if i == 0 else "cx", s, expected)
            if not batched:
                s = s.unsqueeze(0)
        full.append(s)
    x = x.unsqueeze(0)  # a sequence of length 1
    c0 = full[1] if mode == "LSTM" else None
    _, h, c = _layer(mode, x, full[0], c0, w_ih, w_hh, b_ih, b_hh, reverse=False)
    if not batched:
        h = h.squeeze(0)
        c = None if c is None else c.squeeze(0)
    return (h, c) if mode == "LSTM" else h


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One Elman RNN step with tanh: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input (Tensor): the input, shape ``(N, H_in)`` or ``(H_in,)``.
        hx (Tensor | None): the hidden state ``(N, H)`` or ``(H,)``; None means zeros.
        w_ih (Tensor): the input weights, shape ``(G*H, H_in)`` (G = 1).
        w_hh (Tensor): the hidden weights, shape ``(G*H, H)``.
        b_ih (Tensor | None): the input bias ``(G*H,)``, or None (default).
        b_hh (Tensor | None): the hidden bias ``(G*H,)``, or None (default).

    Returns:
        (Tensor): The new hidden state, shape ``(N, H)`` or ``(H,)``.

    Examples:
        >>> x, h = cr.tensor([[1.0, 0.0]]), cr.tensor([[0.5, 0.5]])
        >>> F.rnn_tanh_cell(x, h, cr.eye(2), cr.eye(2))  # tanh(x + h)
        tensor([[0.9051, 0.4621]])
    """
    return _cell("RNN_TANH", input, (hx,), w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One Elman RNN step with relu: ``h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input (Tensor): the input, shape ``(N, H_in)`` or ``(H_in,)``.
        hx (Tensor | None): the hidden state ``(N, H)`` or ``(H,)``; None means zeros.
        w_ih (Tensor): the input weights, shape ``(G*H, H_in)`` (G = 1).
        w_hh (Tensor): the hidden weights, shape ``(G*H, H)``.
        b_ih (Tensor | None): the input bias ``(G*H,)``, or None (default).
        b_hh (Tensor | None): the hidden bias ``(G*H,)``, or None (default).

    Returns:
        (Tensor): The new hidden state, shape ``(N, H)`` or ``(H,)``.

    Examples:
        >>> F.rnn_relu_cell(cr.tensor([[-1.0, 2.0]]), None, cr.eye(2), cr.eye(2))
        tensor([[0., 2.]])
    """
    return _cell("RNN_RELU", input, (hx,), w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One LSTM step (gates i, f, g, o): ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``.

    Args:
        input (Tensor): the input, shape ``(N, H_in)`` or ``(H_in,)``.
        hx (tuple[Tensor, Tensor] | None): ``(h, c)``, each ``(N, H)`` or
            ``(H,)``; None means zeros.
        w_ih (Tensor): the input weights, shape ``(G*H, H_in)`` (G = 4).
        w_hh (Tensor): the hidden weights, shape ``(G*H, H)``.
        b_ih (Tensor | None): the input bias ``(G*H,)``, or None (default).
        b_hh (Tensor | None): the hidden bias ``(G*H,)``, or None (default).

    Returns:
        (tuple[Tensor, Tensor]): ``(h', c')``, each ``(N, H)`` or ``(H,)``.

    Examples:
        >>> H_in, H = 2, 3
        >>> h, c = F.lstm_cell(cr.randn(4, H_in), None, cr.randn(4 * H, H_in), cr.randn(4 * H, H))
        >>> h.shape, c.shape
        ((4, 3), (4, 3))
    """
    states = (None, None) if hx is None else tuple(hx)
    return _cell("LSTM", input, states, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):  # noqa: A002
    """One GRU step (gates r, z, n): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Args:
        input (Tensor): the input, shape ``(N, H_in)`` or ``(H_in,)``.
        hx (Tensor | None): the hidden state ``(N, H)`` or ``(H,)``; None means zeros.
        w_ih (Tensor): the input weights, shape ``(G*H, H_in)`` (G = 3).
        w_hh (Tensor): the hidden weights, shape ``(G*H, H)``.
        b_ih (Tensor | None): the input bias ``(G*H,)``, or None (default).
        b_hh (Tensor | None): the hidden bias ``(G*H,)``, or None (default).

    Returns:
        (Tensor): The new hidden state, shape ``(N, H)`` or ``(H,)``.

    Examples:
        >>> H_in, H = 2, 3
        >>> F.gru_cell(cr.randn(4, H_in), cr.zeros(4, H), cr.randn(3 * H, H_in), cr.randn(3 * H, H)).shape
        (4, 3)
    """
    return _cell("GRU", input, (hx,), w_ih, w_hh, b_ih, b_hh)
