"""TransformerEncoderLayer and TransformerEncoder equal PyTorch's (post- and pre-norm, relu and gelu, padding
and causal masks): outputs and the gradients of the input and every parameter, in training and eval mode.

The tests themselves are shared with the other sequence suites: tests/nn/sequence_parity.py.
"""

from __future__ import annotations

from tests.nn.sequence_parity import parity_tests

KINDS = ("encoder_layer", "encoder")
test_matches_torch_fixture, test_fixtures_record_every_gradient, test_matches_torch_live = parity_tests(KINDS)
