"""TensorBoard logs: ``SummaryWriter`` as in ``torch.utils.tensorboard``, on tensorboardX.

::

    from chainrule.utils.tensorboard import SummaryWriter

    writer = SummaryWriter("runs/exp1")                 # event files TensorBoard reads
    for step in range(100):
        loss = ...
        writer.add_scalar("loss/train", loss.item(), step)
    writer.add_histogram("fc.weight", model.fc.weight, step)   # chainrule Tensors go in as they are
    writer.close()

Needs ``pip install 'chainrule[tensorboard]'`` (tensorboardX, a small writer of
TensorBoard's file format; TensorBoard itself is only needed to look at the
files: ``tensorboard --logdir runs``).  Every ``add_*`` method of
tensorboardX's writer is here, with chainrule Tensors converted to NumPy
arrays.  Differs from PyTorch: ``add_graph(model, inputs)`` exports the model
with ``chainrule.onnx.export`` and logs that ONNX graph (needs the onnx
extra).

:func:`read_scalars` and :func:`read_histograms` read event files back
without TensorBoard (tests, scripts).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..tensor import Tensor

try:
    import tensorboardX as _tbx  # noqa: N813 - the package's own spelling, kept private
except ImportError:  # the message names the extra, as torch.utils.tensorboard names its package
    raise ImportError(
        "chainrule.utils.tensorboard needs tensorboardX, which is not installed: pip install 'chainrule[tensorboard]'"
    ) from None

__all__ = ["SummaryWriter", "read_histograms", "read_scalars"]


def _plain(value):
    """chainrule Tensors (also inside lists, tuples and dicts) as NumPy arrays; anything else unchanged."""
    if isinstance(value, Tensor):
        from ..backend import to_numpy  # noqa: PLC0415

        return to_numpy(value.detach()._data)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict) and any(isinstance(v, Tensor) for v in value.values()):
        return {k: _plain(v) for k, v in value.items()}
    return value


class SummaryWriter(_tbx.SummaryWriter):
    """Writes scalars, histograms, images, text, hyperparameters, ... as TensorBoard event files.

    ``SummaryWriter(log_dir=None, comment="", purge_step=None, max_queue=10,
    flush_secs=120, filename_suffix="")``, as PyTorch's; ``log_dir`` defaults
    to ``runs/<date>_<host><comment>``.  Use it as a context manager or call
    ``close()``.
    """

    def __init__(
        self,
        log_dir=None,
        comment: str = "",
        purge_step=None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ):
        super().__init__(
            logdir=str(log_dir) if log_dir is not None else None,
            comment=comment,
            purge_step=purge_step,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
        )

    def add_graph(self, model, input_to_model=None, verbose: bool = False, **kwargs):
        """Log ``model``'s forward pass on ``input_to_model`` as its ONNX graph (chainrule.onnx.export)."""
        import tempfile  # noqa: PLC0415

        from .. import onnx as cr_onnx  # noqa: PLC0415

        if input_to_model is None:
            raise ValueError("add_graph: pass an example input (input_to_model) to trace the forward pass with")
        inputs = input_to_model if isinstance(input_to_model, tuple) else (input_to_model,)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.onnx"
            cr_onnx.export(model, inputs, path, verify=False)
            self.add_onnx_graph(str(path))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _converting(name):
    base = getattr(_tbx.SummaryWriter, name)

    def method(self, *args, **kwargs):
        return base(self, *[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})

    method.__name__ = name
    method.__qualname__ = f"SummaryWriter.{name}"
    method.__doc__ = base.__doc__
    return method


for _name in dir(_tbx.SummaryWriter):
    if _name.startswith("add_") and _name not in ("add_graph", "add_onnx_graph", "add_openvino_graph"):
        setattr(SummaryWriter, _name, _converting(_name))
del _name


# ---------------------------------------------------------------------------
# reading event files back (TFRecord framing: length, its CRC, the Event protobuf, its CRC)


def _events(log_dir):
    from tensorboardX.proto import event_pb2  # noqa: PLC0415

    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            start = offset + 12
            if start + length + 4 > len(data):
                break  # a record still being written
            event = event_pb2.Event()
            event.ParseFromString(data[start : start + length])
            offset = start + length + 4
            yield path, event


def read_scalars(log_dir) -> dict:
    """{tag: [(step, value), ...]} from every event file under ``log_dir``, in file then write order."""
    out: dict = {}
    for _, event in _events(log_dir):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                out.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return out


def read_histograms(log_dir) -> dict:
    """{tag: [(step, {"min", "max", "num", "sum", "sum_squares"}), ...]} from the event files under ``log_dir``."""
    out: dict = {}
    for _, event in _events(log_dir):
        for value in event.summary.value:
            if value.HasField("histo"):
                h = value.histo
                stats = {"min": h.min, "max": h.max, "num": h.num, "sum": h.sum, "sum_squares": h.sum_squares}
                out.setdefault(value.tag, []).append((int(event.step), stats))
    return out


def histogram_ready(array) -> np.ndarray:
    """A float64 copy of ``array`` with its non-finite entries dropped (TensorBoard's histograms reject them)."""
    flat = np.asarray(array, dtype=np.float64).reshape(-1)
    return flat[np.isfinite(flat)]
