"""Tensors and nested state to safetensors files, and back, without pickle.

``save(obj, path)`` accepts any nest of dicts (str or int keys), lists,
tuples, None, bools, ints, floats, strings, Tensors, NumPy arrays and NumPy
scalars (a model's ``state_dict()``, an optimizer's, a whole training
checkpoint) and ``load`` gives back an equal object: the same types, keys,
values, dtypes and shapes.  Anything else is refused with a ``TypeError``
before a byte is written.

The format (``chainrule/2``): the arrays are the tensors of one safetensors
file; the structure is JSON in the file's metadata, in which every dict is
tagged (``{"__dict__": [[key, value], ...]}``, so keys keep their type and a
user's key can never be mistaken for a marker), tuples, tensors, arrays,
NumPy scalars and non-finite floats are tagged too, and lists and plain
scalars are JSON's own.  Array names are their paths (``model.fc.weight``),
made unique where two paths print alike.

Integrity: the metadata holds a SHA-256 of the whole file, computed with the
digest's own 64 characters set to zeros; any change to any byte (an array, a
dtype, the structure, a learning rate in the metadata, the header's layout)
is detected on load with one ``CheckpointError``.  Loading parses JSON and
raw little-endian arrays only: nothing executes, and memory is bounded by the
file's size (safetensors checks every array against the bytes present).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import BinaryIO, overload

import numpy as np

from .. import backend
from ..errors import ChainruleError
from ..tensor import Tensor, _wrap
from .atomic import atomic_write

FORMAT = "chainrule/2"
_LEGACY = "chainrule/1"
_PENDING = "0" * 64  # the digest's place while the digest is computed
_TAGS = ("__dict__", "__tuple__", "__tensor__", "__array__", "__scalar__", "__float__")
_MAX_DEPTH = 200
# the dtypes a safetensors file can hold (numpy's names); others are refused at save time
_STORABLE = {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"}
_STORABLE |= {"float16", "float32", "float64", "complex64"}


class CheckpointError(ChainruleError, ValueError):
    """A file that is not a readable chainrule/safetensors file (truncated, altered, wrong kind).

    ``load`` raises it for any change to any byte of a file ``save`` wrote (a
    SHA-256 of the whole file is stored in it). Also a ``ValueError``.

    Examples:
        >>> _ = cr.io.save({"weight": cr.tensor([1.0, 2.0])}, "run.safetensors")
        >>> raw = bytearray(open("run.safetensors", "rb").read())
        >>> raw[-1] ^= 1  # flip one bit of the weights
        >>> _ = open("run.safetensors", "wb").write(raw)
        >>> cr.io.load("run.safetensors")
        Traceback (most recent call last):
            ...
        chainrule.io.serialization.CheckpointError: run.safetensors is corrupted or was edited: ...
    """


def _safetensors():
    import safetensors.numpy as st  # noqa: PLC0415 - a core dependency; imported when a file is read or written

    return st


def _contiguous(arr, where: str):
    """A C-contiguous, native-byte-order copy or view; 0-d stays 0-d.  Refuses dtypes safetensors cannot hold."""
    if arr.dtype.name not in _STORABLE:
        raise TypeError(
            f"save: the array at '{where}' has dtype {arr.dtype}, which a safetensors file cannot hold "
            f"(storable: {', '.join(sorted(_STORABLE))})"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr).reshape(np.shape(arr))


class _Encoder:
    """obj -> JSON-able structure, collecting arrays under unique names."""

    def __init__(self):
        self.arrays: dict = {}

    def _name(self, path: str) -> str:
        name = path or "tensor"
        if name in self.arrays:
            n = 2
            while f"{name}#{n}" in self.arrays:
                n += 1
            name = f"{name}#{n}"
        return name

    def _store(self, arr, path):
        name = self._name(path)
        self.arrays[name] = _contiguous(arr, path or "the top level")
        return name

    def encode(self, obj, path: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise TypeError(f"save: the object is nested more than {_MAX_DEPTH} levels deep (at '{path}')")
        if obj is None or type(obj) in (bool, str):
            return obj
        if type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, Tensor):
            name = self._store(backend.to_numpy(obj._data), path)
            node = {"__tensor__": name}
            if obj._is_param:
                node["param"] = True
            return node
        if isinstance(obj, np.ndarray):
            return {"__array__": self._store(obj, path)}
        if isinstance(obj, np.generic):
            return {"__scalar__": self._store(np.asarray(obj), path)}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if type(key) not in (str, int):
                    raise TypeError(
                        f"save: dict keys must be str or int, got {type(key).__name__} {key!r} (at '{path}')"
                    )
                items.append([key, self.encode(value, f"{path}.{key}" if path else str(key), depth + 1)])
            return {"__dict__": items}
        if type(obj) in (list, tuple):
            items = [self.encode(v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(obj)]
            return {"__tuple__": items} if type(obj) is tuple else items
        raise TypeError(f"save: cannot store a {type(obj).__name__} (at '{path or 'the top level'}') without pickle")


def _decode(node, arrays: dict, as_tensors: bool, path: str = "", depth: int = 0):
    """The inverse of ``_Encoder.encode``; any shape it does not know is a CheckpointError."""
    if depth > _MAX_DEPTH + 1:
        raise CheckpointError(f"the structure is nested more than {_MAX_DEPTH} levels deep")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [_decode(v, arrays, as_tensors, f"{path}.{i}", depth + 1) for i, v in enumerate(node)]
    if type(node) is not dict or not node:
        raise CheckpointError(f"unexpected {type(node).__name__} in the structure at '{path}'")
    tag = next(iter(node))
    if tag not in _TAGS:
        raise CheckpointError(f"unknown entry {tag!r} in the structure at '{path}'")
    value = node[tag]
    if tag == "__dict__":
        if type(value) is not list:
            raise CheckpointError(f"a dict at '{path}' is not a list of pairs")
        out = {}
        for pair in value:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int) or pair[0] in out:
                raise CheckpointError(f"a dict at '{path}' has a malformed or repeated key")
            out[pair[0]] = _decode(pair[1], arrays, as_tensors, f"{path}.{pair[0]}", depth + 1)
        return out
    if tag == "__tuple__":
        if type(value) is not list:
            raise CheckpointError(f"a tuple at '{path}' is not a list")
        return tuple(_decode(v, arrays, as_tensors, f"{path}.{i}", depth + 1) for i, v in enumerate(value))
    if tag == "__float__":
        if value not in ("nan", "inf", "-inf"):
            raise CheckpointError(f"unexpected float {value!r} at '{path}'")
        return float(value)
    if type(value) is not str or value not in arrays:
        raise CheckpointError(f"the structure names an array {value!r} (at '{path}') that the file does not hold")
    arr = arrays[value]
    if tag == "__array__":
        return arr
    if tag == "__scalar__":
        if arr.ndim:
            raise CheckpointError(f"the scalar at '{path}' is stored with shape {arr.shape}")
        return arr[()]
    if not as_tensors:
        return arr
    t = _wrap(arr)
    if node.get("param") is True:
        t._is_param = True
    return t


def _header_span(raw: bytes) -> tuple[int, int]:
    if len(raw) < 8:
        raise CheckpointError("the file is shorter than a safetensors header; it may be truncated")
    length = int.from_bytes(raw[:8], "little")
    if length <= 0 or 8 + length > len(raw):
        raise CheckpointError("its header length does not fit the file; it may be truncated")
    return 8, 8 + length


_DIGEST_FIELD = re.compile(rb'"sha256"\s*:\s*"([0-9a-f]{64})"')


def _file_digest(raw: bytes, start: int, end: int) -> tuple[str, str]:
    """(the digest written in the header, the digest of the file with it zeroed) for a chainrule/2 file."""
    found = list(_DIGEST_FIELD.finditer(raw, start, end))
    if len(found) != 1:
        raise CheckpointError("its header does not hold exactly one sha256 entry")
    a, b = found[0].span(1)
    written = raw[a:b].decode()
    actual = hashlib.sha256(b"".join((raw[:a], _PENDING.encode(), raw[b:]))).hexdigest()
    return written, actual


@overload
def save(obj, f: str | os.PathLike, pickle_module=None, pickle_protocol=None, **kwargs) -> Path: ...
@overload
def save(obj, f: BinaryIO, pickle_module=None, pickle_protocol=None, **kwargs) -> None: ...
def save(obj, f, pickle_module=None, pickle_protocol=None, **kwargs) -> Path | None:
    """Write ``obj`` (tensors in any nest of dicts/lists/tuples) to ``f``: a path (written atomically) or a file.

    The same call as ``torch.save(obj, f)`` for what a checkpoint usually holds: state dicts, tensors
    and nested containers of them.  Raises ``TypeError`` (and writes nothing) for anything ``load``
    could not give back equal: other types, dict keys that are not str or int, dtypes a safetensors
    file cannot hold, nests deeper than 200 levels, and a whole ``nn.Module`` or optimizer (save its
    ``state_dict()``).

    Differs from ``torch.save``: no pickle, so nothing runs when the file is loaded; the file is a
    safetensors file (any safetensors reader sees the arrays).

    Args:
        obj: a nest of dicts (str or int keys), lists, tuples, None, bools, ints, floats, strings, Tensors, NumPy
            arrays and NumPy scalars: a ``state_dict()``, an optimizer's, a whole checkpoint.
        f: the file to write: a str or Path (``.safetensors`` is the usual suffix, ``.pt`` works too), or a
            binary file object open for writing (``io.BytesIO``, ``open(..., "wb")``).
        pickle_module: must be None: chainrule never pickles.
        pickle_protocol: accepted for ``torch.save``'s signature and ignored.
        **kwargs: ``torch.save``'s ``_use_new_zipfile_serialization`` and ``_disable_byteorder_record``,
            accepted and ignored.

    Returns:
        ``f`` as a ``Path`` when it is a path; None for a file object.

    Raises:
        TypeError: ``obj`` holds something ``load`` could not give back equal (a Module: save its state_dict()).

    Examples:
        >>> model = nn.Linear(2, 1)
        >>> cr.save({"model": model.state_dict(), "epoch": 3}, "checkpoint.safetensors")
        PosixPath('checkpoint.safetensors')
        >>> import io
        >>> buffer = io.BytesIO()
        >>> cr.save(model.state_dict(), buffer)
        >>> _ = buffer.seek(0)
        >>> sorted(cr.load(buffer))
        ['bias', 'weight']
        >>> cr.save({"f": print}, "bad.safetensors")
        Traceback (most recent call last):
            ...
        TypeError: save: cannot store a builtin_function_or_method (at 'f') without pickle
    """
    if pickle_module is not None:
        raise TypeError("save: chainrule never pickles, so pickle_module must be None")
    for name in kwargs:
        if name not in ("_use_new_zipfile_serialization", "_disable_byteorder_record"):
            raise TypeError(f"save() got an unexpected keyword argument {name!r}")
    _refuse_objects(obj)
    st = _safetensors()
    encoder = _Encoder()
    structure = encoder.encode(obj, "")
    metadata = {"format": FORMAT, "structure": json.dumps(structure, allow_nan=False), "sha256": _PENDING}
    payload = st.save(encoder.arrays, metadata=metadata)
    start, end = _header_span(payload)
    field = _DIGEST_FIELD.search(payload, start, end)
    assert field is not None  # the metadata written just above holds the field
    a, b = field.span(1)
    digest = hashlib.sha256(payload).hexdigest()  # the digest's place still holds the zeros
    data = b"".join((payload[:a], digest.encode(), payload[b:]))
    if hasattr(f, "write"):
        f.write(data)
        return None
    return atomic_write(f, data)


def _refuse_objects(obj) -> None:
    """A clear error for the objects ``torch.save`` pickles whole: a Module or an optimizer."""
    names = {cls.__name__ for cls in type(obj).__mro__}
    if "Module" in names and hasattr(obj, "state_dict"):
        raise TypeError(
            f"save: a whole {type(obj).__name__} cannot be saved without pickle; save its weights with "
            "chainrule.save(model.state_dict(), f) and load them with model.load_state_dict(chainrule.load(f))"
        )
    if hasattr(obj, "param_groups") and hasattr(obj, "state_dict"):
        raise TypeError(
            f"save: a whole {type(obj).__name__} cannot be saved without pickle; save "
            "optimizer.state_dict() and restore it with optimizer.load_state_dict(chainrule.load(f))"
        )


def _read(f):
    """(name, raw bytes, arrays, metadata) of a safetensors file or file object; CheckpointError if it is not one."""
    st = _safetensors()
    if hasattr(f, "read"):
        raw = f.read()
        path = getattr(f, "name", "the file object")
        if not isinstance(raw, bytes):
            raise TypeError(f"load: {path} must be opened in binary mode ('rb')")
    else:
        path = Path(f)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        raw = path.read_bytes()
    try:
        start, end = _header_span(raw)
        header = json.loads(raw[start:end])
        if type(header) is not dict:
            raise CheckpointError("its header is not a JSON object")
        meta = header.get("__metadata__") or {}
        if type(meta) is not dict or not all(type(v) is str for v in meta.values()):
            raise CheckpointError("its metadata is not a table of strings")
        arrays = st.load(raw)
    except CheckpointError as exc:
        _refuse_pickles(raw, path)
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure means an unreadable file
        _refuse_pickles(raw, path)
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}); it may be truncated") from None
    return path, raw, arrays, meta


def _refuse_pickles(raw: bytes, path) -> None:
    """A file ``torch.save`` wrote (a zip of pickles, or a bare pickle) gets a way out, not a parse error.

    Called once the bytes failed to parse as safetensors (whose first byte may be 0x80 too).
    """
    if raw[:4] == b"PK\x03\x04" or (raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        raise CheckpointError(
            f"{path} is a PyTorch pickle checkpoint (torch.save); chainrule never unpickles (loading a pickle can "
            "run any code). Convert it once where PyTorch is installed: "
            "`from safetensors.torch import save_file; save_file(torch.load(path, weights_only=True), "
            "'model.safetensors')` (a state dict of tensors), then read that with "
            "chainrule.io.load_file('model.safetensors')"
        )


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, as_tensors: bool = True):
    """Read what ``save`` wrote, from a path or a binary file object.

    The same call as ``torch.load(f, map_location=...)`` for files chainrule wrote.  Raises
    ``CheckpointError`` for a file that is truncated, altered in any byte, or not written by ``save``
    (a plain safetensors file is read with ``load_file``); a PyTorch pickle checkpoint gets an error that
    says how to convert it.  Loading parses JSON and raw arrays only: nothing executes.

    Args:
        f: the file to read: a str or Path, or a binary file object open for reading.
        map_location: where the tensors go: None or ``"cpu"`` (the default: where they are read), a
            ``chainrule.device``, ``"cuda[:N]"``, or a dict whose values name one device.
        pickle_module: must be None: chainrule never unpickles.
        weights_only: must be True (the default, as in PyTorch): chainrule loads tensors and plain data only;
            False, which in PyTorch allows arbitrary pickled objects, is refused.
        mmap: accepted for ``torch.load``'s signature; the file is read into memory.
        as_tensors: give Tensors where tensors were saved (the default); False gives NumPy arrays.

    Returns:
        An object equal to the one saved: the same types, keys, values, dtypes and shapes.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not one ``save`` wrote, or was changed.
        ValueError: ``weights_only=False`` or a ``pickle_module``.

    Examples:
        >>> _ = cr.save({"weight": cr.tensor([1.0, 2.0]), "epoch": 3, "betas": (0.9, 0.99)}, "state.pt")
        >>> state = cr.load("state.pt", map_location="cpu")
        >>> state["weight"], state["epoch"], state["betas"]
        (tensor([1., 2.]), 3, (0.9, 0.99))
        >>> cr.load("state.pt", weights_only=False)
        Traceback (most recent call last):
            ...
        ValueError: load: weights_only=False asks for arbitrary pickled objects; chainrule never unpickles ...
    """
    if weights_only is False or pickle_module is not None:
        raise ValueError(
            "load: weights_only=False asks for arbitrary pickled objects; chainrule never unpickles (a pickle can "
            "run any code when loaded). Its files hold tensors and plain data, which weights_only=True loads"
        )
    device = _map_location(map_location)
    path, raw, arrays, meta = _read(f)
    kind = meta.get("format")
    if kind == _LEGACY:
        raise CheckpointError(
            f"{path} was written by an older chainrule (format {_LEGACY}, whose checksum covers only its arrays, "
            "so altered metadata would go unnoticed); re-create it with this version"
        )
    if kind != FORMAT:
        raise CheckpointError(
            f"{path} was not written by chainrule.save (no '{FORMAT}' metadata); a plain safetensors file (weights "
            "from another library) is read with chainrule.io.load_file(path), which checks no checksum"
        )
    start, end = _header_span(raw)
    written, actual = _file_digest(raw, start, end)
    if written != actual:
        raise CheckpointError(f"{path} is corrupted or was edited: its contents do not match the checksum saved in it")
    try:
        structure = json.loads(meta["structure"])
        out = _decode(structure, arrays, as_tensors)
    except CheckpointError as exc:
        raise CheckpointError(f"{path} has an unreadable structure: {exc}") from None
    except (KeyError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path} has unreadable metadata ({type(exc).__name__}: {exc})") from None
    return _to_device(out, device)


def _map_location(map_location):
    """The device string tensors go to (None: leave them where they are read, on the CPU)."""
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        targets = {str(backend.Device(v)) for v in map_location.values()}
        if len(targets) > 1:
            raise TypeError(f"load: map_location maps to several devices {sorted(targets)}; give one device")
        map_location = targets.pop() if targets else None
        if map_location is None:
            return None
    if callable(map_location) and not isinstance(map_location, (str, backend.Device)):
        raise TypeError("load: a callable map_location is not supported; pass a device such as 'cpu'")
    device = backend.Device(map_location)
    return None if device.type == "cpu" else str(device)


def _to_device(obj, device):
    if device is None:
        return obj
    if isinstance(obj, Tensor):
        moved = _wrap(backend.to_device(obj._data, device))
        moved._is_param = obj._is_param
        return moved
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def save_file(tensors: dict, path, metadata: dict | None = None) -> Path:
    """A plain safetensors file of name -> tensor (readable by any safetensors reader).

    Unlike ``save`` it holds one flat table of arrays, no structure and no
    checksum: for exchanging weights with other libraries.

    Args:
        tensors: a dict of name -> Tensor or NumPy array (any shapes, dtypes a safetensors file can hold).
        path: the file to write (a str or Path), written atomically.
        metadata: a dict of str -> str stored in the file's header, or None.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        TypeError: an array of a dtype safetensors cannot hold.

    Examples:
        >>> _ = cr.io.save_file({"w": cr.tensor([[1.0, 2.0]])}, "weights.safetensors", metadata={"source": "example"})
        >>> cr.io.load_file("weights.safetensors")
        {'w': tensor([[1., 2.]])}
    """
    st = _safetensors()
    arrays = {k: _contiguous(backend.to_numpy(v._data if isinstance(v, Tensor) else v), k) for k, v in tensors.items()}
    return atomic_write(path, st.save(arrays, metadata=metadata))


def load_file(path) -> dict:
    """name -> Tensor from any safetensors file (e.g. Hugging Face weights).

    Args:
        path: the file to read (a str or Path).

    Returns:
        A dict of name -> Tensor, in the file's dtypes and shapes (metadata and any structure are ignored).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a readable safetensors file.

    Examples:
        >>> _ = cr.io.save_file({"bias": np.zeros(3, dtype=np.float32)}, "weights.safetensors")
        >>> cr.io.load_file("weights.safetensors")
        {'bias': tensor([0., 0., 0.])}
    """
    _, _, arrays, _ = _read(path)
    return {k: _wrap(v) for k, v in arrays.items()}
