"""Tensors and nested state to safetensors files, and back, without pickle.

``save(obj, path)`` accepts any nest of dicts, lists, tuples, numbers,
strings, None, Tensors and NumPy arrays (a model's ``state_dict()``, an
optimizer's, a whole training checkpoint).  The arrays go into one
safetensors file; the structure, as JSON, goes into the file's metadata with
a SHA-256 of every array, so a truncated or altered file is detected on load.
Loading parses JSON and raw little-endian arrays only: nothing executes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import backend
from ..errors import ChainruleError
from ..tensor import Tensor, _wrap
from .atomic import atomic_write

FORMAT = "chainrule/1"


class CheckpointError(ChainruleError, ValueError):
    """A file that is not a readable chainrule/safetensors file (truncated, altered, wrong kind)."""


def _safetensors():
    try:
        import safetensors.numpy as st  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "saving and loading weights needs the safetensors package: pip install 'chainrule[train]'"
        ) from exc
    return st


def _contiguous(arr):
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray alone makes them (1,))."""
    return np.ascontiguousarray(arr).reshape(np.shape(arr))


def _flatten(obj, arrays: dict, prefix: str):
    """JSON-able structure with arrays replaced by {"__tensor__": key} references."""
    if isinstance(obj, Tensor):
        key = prefix or "tensor"
        arrays[key] = _contiguous(backend.to_numpy(obj.data))
        return {"__tensor__": key, "param": bool(obj._is_param)}
    if isinstance(obj, np.ndarray):
        key = prefix or "array"
        arrays[key] = _contiguous(obj)
        return {"__array__": key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__}")
            out[str(k)] = _flatten(v, arrays, f"{prefix}.{k}" if prefix else str(k))
        keys = {str(k): type(k).__name__ for k in obj}
        return {"__dict__": out, "__keytypes__": keys} if any(t == "int" for t in keys.values()) else out
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, arrays, f"{prefix}.{i}" if prefix else str(i)) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    raise TypeError(f"save: cannot store a {type(obj).__name__} (at '{prefix}') without pickle")


def _unflatten(node, arrays: dict, as_tensors: bool):
    if isinstance(node, dict):
        if "__tensor__" in node:
            arr = arrays[node["__tensor__"]]
            if not as_tensors:
                return arr
            t = _wrap(arr)
            if node.get("param"):
                t._is_param = True
            return t
        if "__array__" in node:
            return arrays[node["__array__"]]
        if "__tuple__" in node:
            return tuple(_unflatten(v, arrays, as_tensors) for v in node["__tuple__"])
        if "__float__" in node:
            return float(node["__float__"])
        if "__dict__" in node:
            types = node["__keytypes__"]
            return {
                (int(k) if types.get(k) == "int" else k): _unflatten(v, arrays, as_tensors)
                for k, v in node["__dict__"].items()
            }
        return {k: _unflatten(v, arrays, as_tensors) for k, v in node.items()}
    if isinstance(node, list):
        return [_unflatten(v, arrays, as_tensors) for v in node]
    return node


def _digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        arr = arrays[key]
        h.update(key.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def save(obj, path) -> Path:
    """Write ``obj`` (tensors in any nest of dicts/lists) to ``path`` atomically."""
    st = _safetensors()
    arrays: dict = {}
    structure = _flatten(obj, arrays, "")
    metadata = {"format": FORMAT, "structure": json.dumps(structure), "sha256": _digest(arrays)}
    payload = st.save(arrays, metadata=metadata)
    return atomic_write(path, payload)


def _read(path):
    st = _safetensors()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    raw = path.read_bytes()
    try:
        arrays = st.load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
    except Exception as exc:  # noqa: BLE001 - any parse failure means an unreadable file
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}); it may be truncated") from None
    return arrays, header.get("__metadata__") or {}


def load(path, as_tensors: bool = True):
    """Read what ``save`` wrote.  Raises CheckpointError for a truncated or altered file."""
    arrays, meta = _read(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by chainrule.save (no '{FORMAT}' metadata)")
    if _digest(arrays) != meta.get("sha256"):
        raise CheckpointError(f"{path} is corrupted: its arrays do not match the checksum written with them")
    try:
        structure = json.loads(meta["structure"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has unreadable metadata ({exc})") from None
    return _unflatten(structure, arrays, as_tensors)


def save_file(tensors: dict, path, metadata: dict | None = None) -> Path:
    """A plain safetensors file of name -> tensor (readable by any safetensors reader)."""
    st = _safetensors()
    arrays = {k: _contiguous(backend.to_numpy(v.data if isinstance(v, Tensor) else v)) for k, v in tensors.items()}
    return atomic_write(path, st.save(arrays, metadata=metadata))


def load_file(path) -> dict:
    """name -> Tensor from any safetensors file (e.g. Hugging Face weights)."""
    arrays, _ = _read(path)
    return {k: _wrap(v) for k, v in arrays.items()}
