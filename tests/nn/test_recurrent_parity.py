"""RNN, LSTM, GRU and their cells equal PyTorch's: outputs, final states, and the gradients of the input,
the initial states and every parameter, in training and eval mode.

The tests themselves are shared with the other sequence suites: tests/nn/sequence_parity.py.
"""

from __future__ import annotations

from tests.nn.sequence_parity import parity_tests

KINDS = ("rnn", "cell")
test_matches_torch_fixture, test_fixtures_record_every_gradient, test_matches_torch_live = parity_tests(KINDS)
