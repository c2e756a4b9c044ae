"""ONNX export of a network's forward pass: ``chainrule.onnx.export(model, args, "model.onnx")``.

::

    import chainrule as cr
    import chainrule.onnx

    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
    chainrule.onnx.export(model, cr.randn(1, 4), "model.onnx")    # PyTorch's name and argument order

The exporter traces the forward pass on the example inputs: every primitive
of chainrule's derivative table that runs becomes one or a few ONNX nodes
(``_rules.py``), parameters become initializers under their ``state_dict``
names, and the result is checked with ``onnx.checker`` before it is written.
Linear, convolution (and transposed), pooling, batch/layer/group norm,
activations, attention, embeddings, RNN/LSTM/GRU and the BERT encoder
export; an op without an ONNX form is one :class:`ExportError` naming every
such op.  Needs ``pip install 'chainrule[onnx]'`` (onnx; onnxruntime to run
or verify the file).  ``chainrule export RUN_DIR model.onnx`` exports a
trained run.
"""

from .._tracing import is_exporting as is_in_onnx_export
from ._export import DEFAULT_OPSET, ExportError, MissingExtraError, check_outputs, export, run, supported_ops
from ._rules import UNSUPPORTED

__all__ = [
    "DEFAULT_OPSET",
    "UNSUPPORTED",
    "ExportError",
    "MissingExtraError",
    "check_outputs",
    "export",
    "is_in_onnx_export",
    "run",
    "supported_ops",
]
