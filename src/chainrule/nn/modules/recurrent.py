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
    """The shared machinery of RNN, LSTM and GRU (``mode`` is 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU')."""

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
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, hidden_size))]
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
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act = tanh or relu.

    ``forward(input, hx=None)`` returns ``(output, h_n)``: output ``(L, N, D*H)``
    (batch-first ``(N, L, D*H)``, unbatched ``(L, D*H)``), h_n ``(D*num_layers, N, H)``.
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
    """Long short-term memory (gates i, f, g, o as PyTorch's): ``c' = f c + i g``, ``h' = o tanh(c')``.

    ``forward(input, hx=None)`` with ``hx = (h_0, c_0)`` returns
    ``(output, (h_n, c_n))``; shapes as :class:`RNN`.
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
    """Gated recurrent unit (gates r, z, n as PyTorch's): ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``,
    ``h' = (1 - z) n + z h``.

    ``forward(input, hx=None)`` returns ``(output, h_n)``; shapes as :class:`RNN`.
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
    """Parameters ``weight_ih (G*H, H_in)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh (G*H,)``."""

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
    """One Elman step: input ``(N, H_in)`` or ``(H_in,)``, hx ``(N, H)`` or ``(H,)`` (None: zeros) -> ``h'``."""

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
    """One LSTM step: ``forward(input, (h, c)=None)`` returns ``(h', c')``; shapes as :class:`RNNCell`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return R.lstm_cell(input, hx, *self._weights())


class GRUCell(RNNCellBase):
    """One GRU step: ``forward(input, hx=None)`` returns ``h'``; shapes as :class:`RNNCell`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return R.gru_cell(input, hx, *self._weights())
