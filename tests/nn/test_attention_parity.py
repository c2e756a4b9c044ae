"""scaled_dot_product_attention and MultiheadAttention equal PyTorch's: outputs, attention weights, and the
gradients of query, key, value, float masks and every parameter, in training and eval mode.

The tests themselves are shared with the other sequence suites: tests/nn/sequence_parity.py.
"""

from __future__ import annotations

from tests.nn.sequence_parity import parity_tests

KINDS = ("sdpa", "mha", "mha_self", "mha_kv")
test_matches_torch_fixture, test_fixtures_record_every_gradient, test_matches_torch_live = parity_tests(KINDS)
