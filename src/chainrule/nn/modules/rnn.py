"""``chainrule.nn.modules.rnn``: PyTorch's import path of the recurrent layers (defined in ``recurrent.py``)."""

from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
