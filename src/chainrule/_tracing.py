"""Whether a forward pass is being traced for export (``chainrule.onnx.export``).

A model whose forward computes part of its work with NumPy on ``.numpy()``
(BERT's attention mask, for speed) asks :func:`is_exporting` and takes a path
written in chainrule's ops instead, so the exporter sees every step.  A leaf
module: layers and models may import it without reaching up to the exporter.
"""

from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def is_exporting() -> bool:
    """True inside ``chainrule.onnx.export``'s trace of the forward pass (PyTorch's ``is_in_onnx_export``)."""
    return getattr(_state, "exporting", False)


@contextlib.contextmanager
def exporting():
    previous = is_exporting()
    _state.exporting = True
    try:
        yield
    finally:
        _state.exporting = previous
