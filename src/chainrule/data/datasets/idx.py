"""A reader for IDX files, the MNIST format (gzipped or not).

Format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte
(0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, each dimension as a big-endian uint32, then the
values, big-endian.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ...errors import ChainruleError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(ChainruleError, ValueError):
    """A file that is not a valid IDX file."""


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` is decompressed), in native byte order."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise IDXError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXError(f"{path}: expected {expected} bytes of data for shape {shape}, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_mnist_files(directory, train: bool = True):
    """(images path, labels path) for the standard MNIST file names, gzipped or not."""
    directory = Path(directory)
    found = []
    for stem in _NAMES[train]:
        for candidate in (directory / stem, directory / f"{stem}.gz", directory / stem.replace("-idx", ".idx")):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            raise FileNotFoundError(f"no {stem}[.gz] in {directory}")
    return tuple(found)


def load_mnist(directory, train: bool = True, flatten: bool = False):
    """(images, labels) from an MNIST-format directory: images float32 in [0, 1] (N, 1, 28, 28), labels int64."""
    from ...creation import tensor  # noqa: PLC0415

    image_path, label_path = find_mnist_files(directory, train)
    images = read_idx(image_path).astype(np.float32) / 255.0
    labels = read_idx(label_path).astype(np.int64)
    if len(images) != len(labels):
        raise IDXError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels")
    images = images.reshape(len(images), -1) if flatten else images.reshape(len(images), 1, *images.shape[1:])
    return tensor(images), tensor(labels)
