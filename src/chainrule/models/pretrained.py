"""Pretrained checkpoints in the Hugging Face layout: a directory with config.json and safetensors weights.

Reading goes through the ``safetensors`` library one tensor at a time, by
name: shapes are checked from the file's header before any data is read, and
only the tensors the model asks for are loaded.  Nothing is unpickled;
``pytorch_model.bin`` files are refused with a hint.  A sharded checkpoint
(``model.safetensors.index.json`` plus its shards) reads the same way.

Writing puts ``config.json`` and ``model.safetensors`` (plain safetensors,
tensor names as the Hugging Face model classes use them) in a directory,
each file atomically, so Hugging Face tools can read what chainrule wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..autograd.mode import no_grad
from ..errors import ChainruleError
from ..io import atomic_write, save_file

__all__ = ["ConfigError", "WeightsError", "read_config", "load_weights", "save_weights", "write_config"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"

# how many names an error lists before it says "and N more"
_LISTED = 12


class ConfigError(ChainruleError, ValueError):
    """A config.json that is missing, unreadable, or describes a model chainrule cannot build."""


class WeightsError(ChainruleError, ValueError):
    """Weights that do not fit the model: missing, unexpected or mis-shaped tensors (all named)."""


def _directory(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such model directory: {path}")
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory; pass the directory that holds {CONFIG_NAME}")
    return path


def read_config(path) -> dict:
    """The dict in ``path/config.json`` (``path`` may also be the file itself)."""
    path = Path(path)
    file = path if path.suffix == ".json" else _directory(path) / CONFIG_NAME
    if not file.is_file():
        raise FileNotFoundError(f"{file.parent} has no {file.name}; a pretrained model directory needs one")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{file} must hold a JSON object, got {type(config).__name__}")
    return config


def write_config(config: dict, directory) -> Path:
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    return atomic_write(Path(directory) / CONFIG_NAME, text.encode("utf-8"))


def _safetensors():
    try:
        import safetensors  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("loading pretrained weights needs the safetensors package: pip install safetensors") from exc
    return safetensors


def _shards(directory: Path) -> dict:
    """tensor name -> shard file, for a single file or a sharded checkpoint."""
    single = directory / WEIGHTS_NAME
    if single.is_file():
        return {None: single}
    index = directory / INDEX_NAME
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise WeightsError(f"{index} is not a safetensors index (no readable 'weight_map': {exc})") from None
        return {name: directory / shard for name, shard in weight_map.items()}
    if any((directory / name).is_file() for name in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")):
        raise FileNotFoundError(
            f"{directory} holds weights only in a pickle-based or framework-specific format; chainrule reads "
            f"{WEIGHTS_NAME} only (convert it with the safetensors library)"
        )
    raise FileNotFoundError(f"{directory} has no {WEIGHTS_NAME} (or {INDEX_NAME})")


class _Reader:
    """Shapes and tensors by name from one or more safetensors files, opened lazily."""

    def __init__(self, directory: Path):
        self._st = _safetensors()
        shards = _shards(directory)
        self._handles: dict = {}
        if None in shards:
            handle = self._open(shards[None])
            self._file_of = dict.fromkeys(handle.keys(), shards[None])
        else:
            self._file_of = shards

    def _open(self, file: Path):
        handle = self._handles.get(file)
        if handle is None:
            if not file.is_file():
                raise WeightsError(f"the checkpoint index names {file.name}, which is missing from {file.parent}")
            try:
                handle = self._st.safe_open(str(file), framework="numpy")
            except Exception as exc:  # noqa: BLE001 - any parse failure means an unreadable file
                raise WeightsError(f"{file} is not a readable safetensors file ({exc}); it may be truncated") from None
            self._handles[file] = handle
        return handle

    def names(self) -> list:
        return list(self._file_of)

    def shape(self, name: str) -> tuple:
        return tuple(self._open(self._file_of[name]).get_slice(name).get_shape())

    def dtype(self, name: str) -> str:
        return self._open(self._file_of[name]).get_slice(name).get_dtype()

    def get(self, name: str) -> np.ndarray:
        dtype = self.dtype(name)
        if dtype in ("BF16", "F8_E4M3", "F8_E5M2"):
            raise WeightsError(
                f"{name} is stored as {dtype}, which NumPy cannot represent; save the checkpoint in float32 or float16"
            )
        return self._open(self._file_of[name]).get_tensor(name)


def _listing(names) -> str:
    names = list(names)
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def load_weights(model, directory, rename=None, ignore=None, may_be_missing=None, strict: bool = True) -> dict:
    """Copy the tensors of ``directory``'s safetensors checkpoint into ``model``, matched by name.

    ``rename(checkpoint_name) -> model name`` maps checkpoint names to the
    model's ``state_dict`` names; ``ignore(name)`` says which checkpoint
    tensors are known to be unused (such as buffers the model recomputes);
    ``may_be_missing(name)`` says which model tensors keep their initial
    values when the checkpoint lacks them (a new classification head).
    Everything else must match: tensors the model has but the checkpoint
    lacks, tensors the checkpoint has but the model does not (unless
    ``strict=False``) and tensors of another shape or of a non-float dtype
    raise one WeightsError that names all of them.

    Returns ``{"missing": [...], "ignored": [...]}``: the model tensors left
    at their initial values and the checkpoint tensors not used.
    """
    directory = _directory(directory)
    reader = _Reader(directory)
    own = model.state_dict(keep_vars=True)
    rename = rename or (lambda name: name)
    ignore = ignore or (lambda name: False)
    may_be_missing = may_be_missing or (lambda name: False)

    source: dict = {}  # model name -> checkpoint name
    unexpected, ignored, duplicated = [], [], []
    for name in reader.names():
        target = rename(name)
        if target in own:
            if target in source:
                duplicated.append(f"{source[target]} and {name} both map to {target}")
            source[target] = name
        elif ignore(name) or not strict:
            ignored.append(name)
        else:
            unexpected.append(name)
    missing = [k for k in own if k not in source and not may_be_missing(k)]
    left_initial = [k for k in own if k not in source and may_be_missing(k)]
    mismatched, bad_dtype = [], []
    for target, name in source.items():
        shape, want = reader.shape(name), tuple(own[target].shape)
        if shape != want:
            mismatched.append(f"{name}: checkpoint {shape}, model {want}")
        if reader.dtype(name) not in ("F32", "F16", "F64", "BF16", "F8_E4M3", "F8_E5M2"):
            bad_dtype.append(f"{name}: {reader.dtype(name)}")
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {_listing(missing)}")
    if unexpected:
        problems.append(
            f"not used by {type(model).__name__} ({len(unexpected)}): {_listing(unexpected)} "
            f"(pass strict=False to ignore them, e.g. a pretraining head)"
        )
    if mismatched:
        problems.append(f"wrong shape ({len(mismatched)}): {_listing(mismatched)}")
    if bad_dtype:
        problems.append(f"not floating point ({len(bad_dtype)}): {_listing(bad_dtype)}")
    if duplicated:
        problems.append(f"ambiguous: {_listing(duplicated)}")
    if problems:
        raise WeightsError(f"cannot load {directory} into {type(model).__name__}: " + "; ".join(problems))
    with no_grad():
        for target, name in source.items():
            param = own[target]
            param.data[...] = reader.get(name).astype(param.data.dtype, copy=False)
            param._bump()
    return {"missing": left_initial, "ignored": ignored}


def save_weights(model, directory) -> Path:
    """``directory/model.safetensors`` with the model's ``state_dict`` names, written atomically.

    The metadata says ``format: pt`` because that is what Hugging Face
    readers expect for tensors named and shaped as in its PyTorch classes.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return save_file(model.state_dict(), directory / WEIGHTS_NAME, metadata={"format": "pt"})
