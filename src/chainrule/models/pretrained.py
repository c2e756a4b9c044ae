"""Pretrained checkpoints in the Hugging Face layout: a directory with config.json and safetensors weights.

Reading goes through the ``safetensors`` library one tensor at a time, by
name: shapes are checked from the file's header before any data is read, and
only the tensors the model asks for are loaded.  Nothing is unpickled;
``pytorch_model.bin`` files are refused with a hint.  A sharded checkpoint
(``model.safetensors.index.json`` plus its shards) reads the same way.

The directory may come from anyone: every file read (``config.json``,
weights, the shards an index names) must resolve, symlinks followed, to a
regular file inside it; the sizes a config declares are checked against the
tensors the checkpoint's headers declare before the model is built, so
memory is bounded by the files; and anything malformed is one ConfigError
or WeightsError naming the file.

Writing puts ``config.json`` and ``model.safetensors`` (plain safetensors,
tensor names as the Hugging Face model classes use them) in a directory,
each file atomically, so Hugging Face tools can read what chainrule wrote.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .._untrusted import inside, read_json, regular_file
from ..autograd.mode import no_grad
from ..errors import ChainruleError
from ..io import atomic_write, save_file

__all__ = [
    "ConfigError",
    "WeightsError",
    "copy_weights",
    "load_weights",
    "open_checkpoint",
    "plan_weights",
    "read_config",
    "save_weights",
    "write_config",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"

# how many names an error lists before it says "and N more"
_LISTED = 12


class ConfigError(ChainruleError, ValueError):
    """A config.json that is missing, unreadable, or describes a model chainrule cannot build.

    The message names the file (or ``BertConfig``) and the key. Also a
    ``ValueError``.

    Examples:
        >>> cr.models.BertConfig(hidden_act="mish")
        Traceback (most recent call last):
            ...
        chainrule.models.pretrained.ConfigError: BertConfig: hidden_act 'mish' is not supported; use one of ...
    """


class WeightsError(ChainruleError, ValueError):
    """Weights that do not fit the model: missing, unexpected or mis-shaped tensors (all named).

    Raised by ``from_pretrained`` before the model is built. Also a ``ValueError``.

    Examples:
        >>> config = cr.models.BertConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        ...                               intermediate_size=16, num_labels=3)
        >>> cr.models.BertForSequenceClassification(config).save_pretrained("tiny-bert")
        >>> cr.models.BertForSequenceClassification.from_pretrained("tiny-bert", num_labels=5)
        Traceback (most recent call last):
            ...
        chainrule.models.pretrained.WeightsError: cannot load ... classifier.bias: checkpoint (3,), model (5,)...
    """


def _directory(path) -> Path:
    """The model directory, resolved (every name in it is then checked against it)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such model directory: {path}")
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory; pass the directory that holds {CONFIG_NAME}")
    return path.resolve()


def read_config(path) -> dict:
    """The dict in ``path/config.json`` (``path`` may also be the file itself).

    ``config.json`` must be a regular file inside the directory (a symlink
    out of it is refused), at most 32 MiB of UTF-8 JSON holding an object.
    """
    path = Path(path)
    if path.suffix == ".json":
        file = path
    else:
        file = inside(_directory(path), CONFIG_NAME, ConfigError, f"model directory {path}")
    if not regular_file(file, ConfigError):
        raise FileNotFoundError(f"{file.parent} has no {file.name}; a pretrained model directory needs one")
    config = read_json(file, ConfigError)
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
    """tensor name -> shard file, for a single file or a sharded checkpoint; every file confined to ``directory``."""
    single = inside(directory, WEIGHTS_NAME, WeightsError, f"model directory {directory}")
    if regular_file(single, WeightsError):
        return {None: single}
    index = inside(directory, INDEX_NAME, WeightsError, f"model directory {directory}")
    if regular_file(index, WeightsError):
        content = read_json(index, WeightsError)
        weight_map = content.get("weight_map") if isinstance(content, dict) else None
        if not isinstance(weight_map, dict):
            raise WeightsError(
                f"{index} is not a safetensors index: it needs an object 'weight_map' of tensor name -> shard file "
                f"(found {type(weight_map if isinstance(content, dict) else content).__name__})"
            )
        files: dict = {}  # shard name -> resolved path (checked once per shard)
        shards = {}
        for name, shard in weight_map.items():
            if not isinstance(shard, str) or shard not in files:
                files[shard] = inside(directory, shard, WeightsError, f"{index} (weight_map entry {name!r})")
            shards[name] = files[shard]
        return shards
    if any(os.path.lexists(directory / name) for name in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")):
        raise FileNotFoundError(
            f"{directory} holds weights only in a pickle-based or framework-specific format; chainrule reads "
            f"{WEIGHTS_NAME} only (convert it with the safetensors library)"
        )
    raise FileNotFoundError(f"{directory} has no {WEIGHTS_NAME} (or {INDEX_NAME})")


class _Reader:
    """Shapes and tensors by name from one or more safetensors files, opened lazily; all inside one directory.

    Shapes and dtypes come from the files' headers (safetensors checks each
    header against the bytes present), so everything can be checked before
    a single array is allocated.
    """

    def __init__(self, directory: Path):
        self._st = _safetensors()
        self.directory = directory
        shards = _shards(directory)
        self.sharded = None not in shards
        self._handles: dict = {}
        if not self.sharded:
            handle = self._open(shards[None])
            self._file_of = dict.fromkeys(handle.keys(), shards[None])
        else:
            self._file_of = shards

    def _open(self, file: Path):
        handle = self._handles.get(file)
        if handle is None:
            shown = file.relative_to(self.directory) if file != self.directory else file.name
            if not regular_file(file, WeightsError):
                raise WeightsError(f"the checkpoint index names {shown}, which is missing from {self.directory}")
            try:
                handle = self._st.safe_open(str(file), framework="numpy")
            except Exception as exc:  # noqa: BLE001 - any parse failure means an unreadable file
                raise WeightsError(f"{file} is not a readable safetensors file ({exc}); it may be truncated") from None
            self._handles[file] = handle
        return handle

    def _slice(self, name: str):
        file = self._file_of[name]
        try:
            return self._open(file).get_slice(name)
        except WeightsError:
            raise
        except Exception:  # noqa: BLE001 - safetensors raises its own error for a name the file lacks
            raise WeightsError(
                f"{self.directory / INDEX_NAME} puts {name} in {file.name}, which holds no tensor of that name"
            ) from None

    def names(self) -> list:
        return list(self._file_of)

    def shape(self, name: str) -> tuple:
        return tuple(int(n) for n in self._slice(name).get_shape())

    def dtype(self, name: str) -> str:
        return self._slice(name).get_dtype()

    def get(self, name: str) -> np.ndarray:
        dtype = self.dtype(name)
        if dtype in ("BF16", "F8_E4M3", "F8_E5M2"):
            raise WeightsError(
                f"{name} is stored as {dtype}, which NumPy cannot represent; save the checkpoint in float32 or float16"
            )
        try:
            return self._open(self._file_of[name]).get_tensor(name)
        except Exception as exc:  # noqa: BLE001 - a file that changed or broke after its header was read
            raise WeightsError(f"cannot read {name} from {self._file_of[name]} ({exc})") from None


def _listing(names) -> str:
    names = list(names)
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


_FLOATS = ("F32", "F16", "F64", "BF16", "F8_E4M3", "F8_E5M2")


def plan_weights(
    shapes, reader: _Reader, model_name: str, rename=None, ignore=None, may_be_missing=None, strict=True, hint=""
) -> tuple:
    """Match checkpoint tensors to the model's tensor shapes before the model exists.

    ``shapes`` yields ``(model name, shape)`` pairs (lazily: a config that
    asks for far more tensors than the checkpoint holds is refused before
    they are all listed).  Returns ``(source, info)``: model name ->
    checkpoint name, and ``{"missing": [...], "ignored": [...]}``.  Every
    problem is reported in one WeightsError; the tensors left at their
    initial values (``may_be_missing``) may not hold more numbers than the
    checkpoint itself (or 1 Mi), so memory is bounded by the files.
    """
    rename = rename or (lambda name: name)
    ignore = ignore or (lambda name: False)
    may_be_missing = may_be_missing or (lambda name: False)
    names = reader.names()
    limit = len(names) + 64
    own: dict = {}
    for target, shape in shapes:
        own[target] = tuple(shape)
        if len(own) > limit:
            raise WeightsError(
                f"cannot load {reader.directory} into {model_name}: the config describes more than {limit} "
                f"tensors but the checkpoint holds only {len(names)}{hint}"
            )
    source: dict = {}  # model name -> checkpoint name
    unexpected, ignored, duplicated = [], [], []
    for name in names:
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
        shape, want = reader.shape(name), own[target]
        if shape != want:
            mismatched.append(f"{name}: checkpoint {shape}, model {want}")
        if reader.dtype(name) not in _FLOATS:
            bad_dtype.append(f"{name}: {reader.dtype(name)}")
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {_listing(missing)}")
    if unexpected:
        problems.append(
            f"not used by {model_name} ({len(unexpected)}): {_listing(unexpected)} "
            f"(pass strict=False to ignore them, e.g. a pretraining head)"
        )
    if mismatched:
        problems.append(f"wrong shape ({len(mismatched)}): {_listing(mismatched)}")
    if bad_dtype:
        problems.append(f"not floating point ({len(bad_dtype)}): {_listing(bad_dtype)}")
    if duplicated:
        problems.append(f"ambiguous: {_listing(duplicated)}")
    if problems:
        raise WeightsError(f"cannot load {reader.directory} into {model_name}: " + "; ".join(problems) + hint)
    held = sum(math.prod(reader.shape(name)) for name in names)
    fresh = sum(math.prod(own[k]) for k in left_initial)
    if fresh > max(held, 1 << 20):
        raise WeightsError(
            f"cannot load {reader.directory} into {model_name}: the tensors the checkpoint lacks "
            f"({_listing(left_initial)}) would hold {fresh:,} numbers, more than the whole checkpoint "
            f"({held:,}){hint}"
        )
    return source, {"missing": left_initial, "ignored": ignored}


def copy_weights(model, reader: _Reader, source: dict) -> None:
    """Copy the planned checkpoint tensors into ``model``'s tensors, one at a time."""
    own = model.state_dict(keep_vars=True)
    with no_grad():
        for target, name in source.items():
            param = own[target]
            param._data[...] = reader.get(name).astype(param._data.dtype, copy=False)
            param._bump()


def open_checkpoint(directory) -> _Reader:
    """A header-only reader of ``directory``'s safetensors checkpoint (single file or sharded)."""
    return _Reader(_directory(directory))


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
    raise one WeightsError that names all of them.  Every file read is
    inside ``directory`` (symlinks resolved).

    Returns ``{"missing": [...], "ignored": [...]}``: the model tensors left
    at their initial values and the checkpoint tensors not used.
    """
    reader = directory if isinstance(directory, _Reader) else open_checkpoint(directory)
    shapes = ((k, tuple(v.shape)) for k, v in model.state_dict(keep_vars=True).items())
    source, info = plan_weights(shapes, reader, type(model).__name__, rename, ignore, may_be_missing, strict)
    copy_weights(model, reader, source)
    return info


def save_weights(model, directory) -> Path:
    """``directory/model.safetensors`` with the model's ``state_dict`` names, written atomically.

    The metadata says ``format: pt`` because that is what Hugging Face
    readers expect for tensors named and shaped as in its PyTorch classes.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return save_file(model.state_dict(), directory / WEIGHTS_NAME, metadata={"format": "pt"})
