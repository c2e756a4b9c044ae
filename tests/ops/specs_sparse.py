"""Gradcheck spec for ``embedding_sparse`` (``ops/sparse.py``, ``F.embedding(..., sparse=True)``).

gradcheck reads dense gradients, so the table goes in through ``w * 1.0``: a
non-leaf weight, for which the rule returns the dense gradient (and with
``create_graph=True``, second order, it always does).  The row-sparse
gradient a leaf table gets (with padding_idx and scale_grad_by_freq) is
checked against central differences and against PyTorch in
tests/recsys/test_sparse.py.
"""

from __future__ import annotations

import numpy as np

import chainrule.nn.functional as F

from .specs import dims, spec

SPARSE_IDX = np.array([[0, 2, 2], [3, 0, 2]])


def _table(draw):
    return [(4, draw(dims))]


spec("embedding_sparse", lambda w: F.embedding(SPARSE_IDX, w * 1.0, sparse=True), _table, ["embedding_sparse"])
