"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's names, shapes and defaults.

Parameters are named as in PyTorch (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, and ``..._reverse`` for the backward
direction), so state dicts move between the two libraries unchanged.  Every
weight and bias starts as U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

Shapes (L sequence length, N batch, D = 2 if bidirectional else 1):
input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, or unbatched
``(L, H_in)``; initial and final states ``(D * num_layers, N, H)`` (never
batch-first, as in PyTorch); output ``(L, N, D * H)``.

Differs from PyTorch: no PackedSequence input, no LSTM ``proj_size``;
``flatten_parameters()`` does nothing (there is no cuDNN weight buffer).
"""

from __future__ import annotations

import math
import warnings

from ...creation import empty
from ...errors import ShapeError
from .. import init
from ..functional import recurrent as R
from ..module import Module, Parameter
from . import _checks as checks

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _uniform_init(module, hidden_size):
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters(recurse=False):
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """The shared machinery of ``RNN``, ``LSTM`` and ``GRU``; build those instead.

    ``forward(input, hx=None)`` runs the layers with
    [`F.rnn`][chainrule.nn.functional.rnn], [`F.lstm`][chainrule.nn.functional.lstm]
    or [`F.gru`][chainrule.nn.functional.gru] on the flat parameter list;
    ``all_weights`` groups the parameters per layer and direction.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H =
    hidden_size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with
    ``batch_first``, or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)``
    (never batch-first, as in PyTorch; unbatched ``(D * num_layers, H)``);
    output ``(L, N, D * H)``, the last layer's hidden state at every step
    (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)`` unbatched).

    The reverse direction's parameters end in ``_reverse``; names match
    PyTorch's, so state dicts move between the two.  Every weight and bias
    starts as U(-k, k) with ``k = 1 / sqrt(hidden_size)``.  Differs from
    PyTorch: no PackedSequence input, no ``proj_size``, and
    ``flatten_parameters()`` does nothing.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input_size: H_in, the features of each input step.
        hidden_size: H, the features of the hidden state.
        num_layers: stacked layers, each reading the previous one's output
            (default 1).
        bias: whether to learn the biases ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are ``(N, L, ...)`` (default False).
        dropout: the dropout probability on the outputs of every layer but the
            last, in training (default 0).
        bidirectional: add a reversed direction to every layer; the outputs of
            the two are concatenated (default False).
        proj_size: must be 0 (LSTM projections are not supported).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Examples:
        >>> layer = nn.RNNBase("GRU", 10, 20)
        >>> layer(cr.randn(5, 3, 10))[0].shape
        (5, 3, 20)
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        checks.choice("RNNBase", "mode", mode, tuple(_GATES))
        input_size = checks.size(name, "input_size", input_size, minimum=1)
        hidden_size = checks.size(name, "hidden_size", hidden_size, minimum=1)
        num_layers = checks.size(name, "num_layers", num_layers, minimum=1)
        if isinstance(dropout, bool):  # PyTorch's type for this one is ValueError
            raise checks.LayerArgumentError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        checks.probability(name, "dropout", dropout)
        proj_size = checks.size(name, "proj_size", proj_size)
        if proj_size >= hidden_size:
            raise checks.LayerArgumentError(
                f"{name}: proj_size ({proj_size}) must be smaller than hidden_size ({hidden_size})"
            )
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported by chainrule (got proj_size={proj_size})")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1 (dropout applies between layers)",
                UserWarning,
                stacklevel=2,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, hidden_size)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for stem, shape in shapes:
                    setattr(self, stem + suffix, Parameter(empty(*shape, dtype=dtype, device=device)))
                    names.append(stem + suffix)
        self._flat_weights_names = names
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters grouped per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        per = 4 if self.bias else 2
        flat = self._flat_weights
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_init(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """No-op (PyTorch packs weights for cuDNN here; chainrule has nothing to pack)."""

    def _run(self, input, hx):  # noqa: A002
        fn = {"LSTM": R.lstm, "GRU": R.gru}.get(self.mode)
        kwargs = dict(
            num_layers=self.num_layers,
            bias=self.bias,
            dropout=self.dropout,
            training=self.training,
            bidirectional=self.bidirectional,
            batch_first=self.batch_first,
        )
        if fn is None:
            return R.rnn(input, hx, self._flat_weights, nonlinearity=self.nonlinearity, **kwargs)
        return fn(input, hx, self._flat_weights, **kwargs)

    def _check_input(self, input):  # noqa: A002
        name = type(self).__name__
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{name}: expected a 2-d (L, H_in) or 3-d input ("
                f"{'(N, L, H_in)' if self.batch_first else '(L, N, H_in)'}), got shape {shape}"
            )
        if shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: expected input_size={self.input_size} features in the last dimension of the input, "
                f"got shape {shape}"
            )

    def forward(self, input, hx=None):  # noqa: A002
        self._check_input(input)
        return self._run(input, hx)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh)``, act = tanh or relu, over whole sequences.

    ``forward(input, hx=None)`` returns ``(output, h_n)``; ``hx`` is the
    initial hidden state (None: zeros), ``h_n`` the final one of every layer
    and direction.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H =
    hidden_size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with
    ``batch_first``, or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)``
    (never batch-first, as in PyTorch; unbatched ``(D * num_layers, H)``);
    output ``(L, N, D * H)``, the last layer's hidden state at every step
    (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)`` unbatched).

    The reverse direction's parameters end in ``_reverse``; names match
    PyTorch's, so state dicts move between the two.  Every weight and bias
    starts as U(-k, k) with ``k = 1 / sqrt(hidden_size)``.  Differs from
    PyTorch: no PackedSequence input, no ``proj_size``, and
    ``flatten_parameters()`` does nothing.

    Args:
        input_size: H_in, the features of each input step.
        hidden_size: H, the features of the hidden state.
        num_layers: stacked layers, each reading the previous one's output
            (default 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: whether to learn the biases ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are ``(N, L, ...)`` (default False).
        dropout: the dropout probability on the outputs of every layer but the
            last, in training (default 0).
        bidirectional: add a reversed direction to every layer; the outputs of
            the two are concatenated (default False).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih_l{n} (Tensor): the input weights of layer n, shape
            ``(1*H, H_in)`` for n = 0 and ``(1*H, D*H)`` after.
        weight_hh_l{n} (Tensor): the hidden weights, shape ``(1*H, H)``.
        bias_ih_l{n} (Tensor): the input bias ``(1*H,)``, with ``bias``.
        bias_hh_l{n} (Tensor): the hidden bias ``(1*H,)``, with ``bias``.

    Examples:
        >>> rnn = nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(cr.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        checks.choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997) over whole sequences, gates i, f, g, o as PyTorch's.

    Per step ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and
    ``h' = sigmoid(o) * tanh(c')``.  ``forward(input, hx=None)`` with
    ``hx = (h_0, c_0)`` (None: zeros) returns ``(output, (h_n, c_n))``.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H =
    hidden_size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with
    ``batch_first``, or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)``
    (never batch-first, as in PyTorch; unbatched ``(D * num_layers, H)``);
    output ``(L, N, D * H)``, the last layer's hidden state at every step
    (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)`` unbatched).
    The cell states have the hidden states' shape.

    The reverse direction's parameters end in ``_reverse``; names match
    PyTorch's, so state dicts move between the two.  Every weight and bias
    starts as U(-k, k) with ``k = 1 / sqrt(hidden_size)``.  Differs from
    PyTorch: no PackedSequence input, no ``proj_size``, and
    ``flatten_parameters()`` does nothing.

    Args:
        input_size: H_in, the features of each input step.
        hidden_size: H, the features of the hidden state.
        num_layers: stacked layers, each reading the previous one's output
            (default 1).
        bias: whether to learn the biases ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are ``(N, L, ...)`` (default False).
        dropout: the dropout probability on the outputs of every layer but the
            last, in training (default 0).
        bidirectional: add a reversed direction to every layer; the outputs of
            the two are concatenated (default False).
        proj_size: must be 0 (projections are not supported: NotImplementedError).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih_l{n} (Tensor): the input weights of layer n, shape ``(4*H, H_in)`` for
            n = 0 and ``(4*H, D*H)`` after; the gates' rows in the order i, f, g, o.
        weight_hh_l{n} (Tensor): the hidden weights, shape ``(4*H, H)``.
        bias_ih_l{n} (Tensor): the input bias ``(4*H,)``, with ``bias``.
        bias_hh_l{n} (Tensor): the hidden bias ``(4*H,)``, with ``bias``.

    Examples:
        >>> lstm = nn.LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(cr.randn(3, 5, 10))
        >>> output.shape, h_n.shape, c_n.shape
        ((3, 5, 40), (2, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014) over whole sequences, gates r, z, n as PyTorch's.

    Per step ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` and
    ``h' = (1 - z) * n + z * h``.  ``forward(input, hx=None)`` returns
    ``(output, h_n)``.

    Shapes (L sequence length, N batch, D = 2 if bidirectional else 1, H =
    hidden_size): input ``(L, N, H_in)``, ``(N, L, H_in)`` with
    ``batch_first``, or unbatched ``(L, H_in)``; states ``(D * num_layers, N, H)``
    (never batch-first, as in PyTorch; unbatched ``(D * num_layers, H)``);
    output ``(L, N, D * H)``, the last layer's hidden state at every step
    (``(N, L, D * H)`` with ``batch_first``, ``(L, D * H)`` unbatched).

    The reverse direction's parameters end in ``_reverse``; names match
    PyTorch's, so state dicts move between the two.  Every weight and bias
    starts as U(-k, k) with ``k = 1 / sqrt(hidden_size)``.  Differs from
    PyTorch: no PackedSequence input, no ``proj_size``, and
    ``flatten_parameters()`` does nothing.

    Args:
        input_size: H_in, the features of each input step.
        hidden_size: H, the features of the hidden state.
        num_layers: stacked layers, each reading the previous one's output
            (default 1).
        bias: whether to learn the biases ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are ``(N, L, ...)`` (default False).
        dropout: the dropout probability on the outputs of every layer but the
            last, in training (default 0).
        bidirectional: add a reversed direction to every layer; the outputs of
            the two are concatenated (default False).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih_l{n} (Tensor): the input weights of layer n, shape ``(3*H, H_in)`` for
            n = 0 and ``(3*H, D*H)`` after; the gates' rows in the order r, z, n.
        weight_hh_l{n} (Tensor): the hidden weights, shape ``(3*H, H)``.
        bias_ih_l{n} (Tensor): the input bias ``(3*H,)``, with ``bias``.
        bias_hh_l{n} (Tensor): the hidden bias ``(3*H,)``, with ``bias``.

    Examples:
        >>> gru = nn.GRU(10, 20)
        >>> output, h_n = gru(cr.randn(5, 10))  # unbatched
        >>> output.shape, h_n.shape
        ((5, 20), (1, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )


# ---------------------------------------------------------------------------
# cells: one time step


class RNNCellBase(Module):
    """The shared parameters of the single-step cells; build ``RNNCell``, ``LSTMCell`` or ``GRUCell`` instead.

    Holds ``weight_ih (G*H, H_in)``, ``weight_hh (G*H, H)`` and, with ``bias``,
    ``bias_ih`` and ``bias_hh (G*H,)``, for G = ``num_chunks`` gates.  Weights and
    biases start as U(-k, k) with ``k = 1 / sqrt(hidden_size)``, as in PyTorch.

    Args:
        input_size: H_in, the features of the input (0 is allowed).
        hidden_size: H, the features of the hidden state (0 is allowed).
        bias: whether to learn ``bias_ih`` and ``bias_hh`` (default True).
        num_chunks: G, the number of gates (1 RNN, 4 LSTM, 3 GRU).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Examples:
        >>> cell = nn.RNNCellBase(10, 20, bias=True, num_chunks=2)
        >>> [(name, p.shape) for name, p in cell.named_parameters()]
        [('weight_ih', (40, 10)), ('weight_hh', (40, 20)), ('bias_ih', (40,)), ('bias_hh', (40,))]
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        # 0 is allowed, as in PyTorch: a cell with no inputs, or with an empty state
        input_size = checks.size(type(self).__name__, "input_size", input_size)
        hidden_size = checks.size(type(self).__name__, "hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bool(bias)
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(gate_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gate_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gate_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity='{nonlinearity}'"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act = tanh or relu.

    ``forward(input, hx=None)`` returns ``h'`` (``hx`` None means zeros).  Loop
    over time yourself to control every step.

    Shapes: input ``(N, H_in)`` or unbatched ``(H_in,)``; states ``(N, H)`` or
    ``(H,)``.  Weights and biases start as U(-k, k) with
    ``k = 1 / sqrt(hidden_size)``, as in PyTorch.

    Args:
        input_size: H_in, the features of the input (0 is allowed).
        hidden_size: H, the features of the hidden state (0 is allowed).
        bias: whether to learn ``bias_ih`` and ``bias_hh`` (default True).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih (Tensor): shape ``(1*H, H_in)``.
        weight_hh (Tensor): shape ``(1*H, H)``.
        bias_ih (Tensor | None): shape ``(1*H,)``; None with ``bias=False``.
        bias_hh (Tensor | None): shape ``(1*H,)``; None with ``bias=False``.

    Examples:
        >>> cell = nn.RNNCell(10, 20)
        >>> x, h = cr.randn(6, 3, 10), None
        >>> for step in x:
        ...     h = cell(step, h)
        >>> h.shape
        (3, 20)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ):
        checks.choice("RNNCell", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        fn = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        return fn(input, hx, *self._weights())


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``.

    ``forward(input, hx=None)`` with ``hx = (h, c)`` (None: zeros) returns
    ``(h', c')``.

    Shapes: input ``(N, H_in)`` or unbatched ``(H_in,)``; states ``(N, H)`` or
    ``(H,)``.  Weights and biases start as U(-k, k) with
    ``k = 1 / sqrt(hidden_size)``, as in PyTorch.

    Args:
        input_size: H_in, the features of the input (0 is allowed).
        hidden_size: H, the features of the hidden state (0 is allowed).
        bias: whether to learn ``bias_ih`` and ``bias_hh`` (default True).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih (Tensor): shape ``(4*H, H_in)``.
        weight_hh (Tensor): shape ``(4*H, H)``.
        bias_ih (Tensor | None): shape ``(4*H,)``; None with ``bias=False``.
        bias_hh (Tensor | None): shape ``(4*H,)``; None with ``bias=False``.

    Examples:
        >>> cell = nn.LSTMCell(10, 20)
        >>> h, c = cell(cr.randn(3, 10))
        >>> h.shape, c.shape, cell.weight_hh.shape
        ((3, 20), (3, 20), (80, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return R.lstm_cell(input, hx, *self._weights())


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    ``forward(input, hx=None)`` returns ``h'`` (``hx`` None means zeros).

    Shapes: input ``(N, H_in)`` or unbatched ``(H_in,)``; states ``(N, H)`` or
    ``(H,)``.  Weights and biases start as U(-k, k) with
    ``k = 1 / sqrt(hidden_size)``, as in PyTorch.

    Args:
        input_size: H_in, the features of the input (0 is allowed).
        hidden_size: H, the features of the hidden state (0 is allowed).
        bias: whether to learn ``bias_ih`` and ``bias_hh`` (default True).
        device (str | Device | None): where the parameters live (default None:
            the CPU).
        dtype (dtype | None): their floating dtype (default None: the default
            dtype, float32).

    Attributes:
        weight_ih (Tensor): shape ``(3*H, H_in)``.
        weight_hh (Tensor): shape ``(3*H, H)``.
        bias_ih (Tensor | None): shape ``(3*H,)``; None with ``bias=False``.
        bias_hh (Tensor | None): shape ``(3*H,)``; None with ``bias=False``.

    Examples:
        >>> cell = nn.GRUCell(10, 20)
        >>> cell(cr.randn(3, 10), cr.zeros(3, 20)).shape
        (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return R.gru_cell(input, hx, *self._weights())
