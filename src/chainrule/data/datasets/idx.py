"""A reader for IDX files, the MNIST format (gzipped or not).

Format (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte
(0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, each dimension as a big-endian uint32, then the
values, big-endian.

The dimensions in the header are checked against the bytes actually there
before the array is built: an uncompressed file's size must be exactly the
header plus the data, and a gzipped file is decompressed in chunks, so a
header that declares more than the stream holds ends in an IDXError
(truncated) after reading what is there, never in a large allocation.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..._untrusted import inside, regular_file
from ...errors import ChainruleError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 18  # memory grows with the data read, in steps of this much


class IDXError(ChainruleError, ValueError):
    """A file that is not a valid IDX file.

    Raised with the file's name and what is wrong (a bad magic number, a
    truncated header or data, a size that does not match the header, labels
    that are not class indices). Also a ``ValueError``.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import read_idx
        >>> _ = Path("bad-idx1-ubyte").write_bytes(b"not an IDX file")
        >>> read_idx("bad-idx1-ubyte")
        Traceback (most recent call last):
            ...
        chainrule.data.datasets.idx.IDXError: bad-idx1-ubyte: not an IDX file (bad magic number 6e6f7420; ...)
    """


def _read_up_to(stream, count: int) -> bytes:
    """At most ``count`` bytes, read in chunks (memory grows with the data present, not with ``count``)."""
    chunks, left = [], count
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` is decompressed), in native byte order.

    Args:
        path: the file's path (a str or Path); a name ending in ``.gz`` is read as gzip.

    Returns:
        A NumPy array of the shape and dtype the header declares (uint8, int8, int16, int32, float32 or float64).

    Raises:
        FileNotFoundError: no such regular file.
        IDXError: the file is not a valid IDX file or is truncated.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import read_idx
        >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")  # uint8, one dimension of size 3
        >>> _ = Path("labels-idx1-ubyte").write_bytes(header + bytes([7, 2, 1]))
        >>> read_idx("labels-idx1-ubyte")
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    if not regular_file(path, IDXError):
        raise FileNotFoundError(f"no such IDX file: {path}")
    compressed = path.suffix == ".gz"
    try:
        with open(path, "rb") as raw_file:
            stream = gzip.GzipFile(fileobj=raw_file, mode="rb") if compressed else raw_file
            head = _read_up_to(stream, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _TYPES:
                raise IDXError(
                    f"{path}: not an IDX file (bad magic number {head[:4].hex() or 'none: the file is empty'}; "
                    "expected 00 00, a type byte 08/09/0b/0c/0d/0e and the number of dimensions)"
                )
            ndim = head[3]
            dims = _read_up_to(stream, 4 * ndim)
            if len(dims) < 4 * ndim:
                raise IDXError(f"{path}: truncated header ({ndim} dimensions announced, {len(dims) // 4} present)")
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(_TYPES[head[2]])
            if math.prod(d for d in shape if d) * dtype.itemsize >= 2**63:
                # an empty array still needs its other dimensions to fit NumPy's size type
                raise IDXError(f"{path}: the header's shape {shape} is larger than any array can be")
            expected = math.prod(shape) * dtype.itemsize
            if not compressed:
                present = path.stat().st_size - 4 - 4 * ndim
                if present != expected:
                    raise IDXError(
                        f"{path}: expected {expected} bytes of data for shape {shape}, found {present} "
                        "(the file is truncated or its header is wrong)"
                    )
            data = _read_up_to(stream, expected)
            extra = stream.read(1)
    except IDXError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{path}: cannot read ({exc})") from None
    if len(data) != expected or extra:
        found = f"{len(data)}" if not extra else f"more than {expected}"
        raise IDXError(
            f"{path}: expected {expected} bytes of data for shape {shape}, found {found} "
            "(the file is truncated or its header is wrong)"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_mnist_files(directory, train: bool = True):
    """(images path, labels path) for the standard MNIST file names, gzipped or not.

    Each file must be a regular file inside ``directory`` (a symlink out of
    it is refused with an IDXError). The names looked for are
    ``train-images-idx3-ubyte``/``train-labels-idx1-ubyte`` (or ``t10k-...``
    for the test set), with ``.gz`` or with ``.idx`` for ``-idx``.

    Args:
        directory: the directory to look in.
        train: the training files (True, the default) or the test files.

    Returns:
        A tuple of two ``Path``: the images file and the labels file.

    Raises:
        FileNotFoundError: a file is missing.
        IDXError: a file is a symlink out of the directory.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import find_mnist_files
        >>> Path("mnist").mkdir()
        >>> for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"):
        ...     _ = Path("mnist", name).write_bytes(b"")
        >>> [path.name for path in find_mnist_files("mnist", train=False)]
        ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte']
    """
    directory = Path(directory)
    root = directory.resolve()
    found = []
    for stem in _NAMES[train]:
        for name in (stem, f"{stem}.gz", stem.replace("-idx", ".idx")):
            candidate = inside(root, name, IDXError, f"MNIST directory {directory}")
            if regular_file(candidate, IDXError):
                found.append(candidate)
                break
        else:
            raise FileNotFoundError(f"no {stem}[.gz] in {directory}")
    return tuple(found)


def load_mnist(directory, train: bool = True, flatten: bool = False):
    """(images, labels) from an MNIST-format directory: images float32 in [0, 1] (N, 1, 28, 28), labels int64.

    Pixel values are divided by 255. Any MNIST-format data works (MNIST,
    Fashion-MNIST, KMNIST): images of shape (N, H, W) give (N, 1, H, W).

    Args:
        directory: the directory holding the four IDX files (see ``find_mnist_files``).
        train: the training set (True, the default) or the test set.
        flatten: return images of shape (N, H * W) instead of (N, 1, H, W); default False.

    Returns:
        ``(images, labels)``: a float32 tensor of shape (N, 1, H, W) or (N, H * W), and an int64 tensor of shape (N,).

    Raises:
        FileNotFoundError: a file is missing.
        IDXError: a file is not valid IDX, the labels are not non-negative integers, or the counts differ.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import load_mnist
        >>> def idx(path, a):  # IDX: 0, 0, type 8 (uint8), ndim, the dimensions as big-endian uint32, the data
        ...     Path(path).parent.mkdir(exist_ok=True)
        ...     header = bytes([0, 0, 8, a.ndim]) + np.array(a.shape, ">u4").tobytes()
        ...     Path(path).write_bytes(header + a.astype("u1").tobytes())
        >>> _ = idx("mnist/t10k-images-idx3-ubyte", np.full((2, 28, 28), 255))
        >>> _ = idx("mnist/t10k-labels-idx1-ubyte", np.array([7, 2]))
        >>> images, labels = load_mnist("mnist", train=False)
        >>> images.shape, images.max().item(), labels.tolist()
        ((2, 1, 28, 28), 1.0, [7, 2])
    """
    from ...creation import tensor  # noqa: PLC0415

    image_path, label_path = find_mnist_files(directory, train)
    raw_images, raw_labels = read_idx(image_path), read_idx(label_path)
    if raw_images.ndim < 2:
        raise IDXError(f"{image_path}: images need at least 2 dimensions (N, H[, W]), got shape {raw_images.shape}")
    if raw_labels.ndim != 1 or raw_labels.dtype.kind not in "iu":
        raise IDXError(
            f"{label_path}: labels must be a 1-d integer array, got shape {raw_labels.shape} of {raw_labels.dtype}"
        )
    if len(raw_labels) and raw_labels.min() < 0:
        raise IDXError(f"{label_path}: labels must be class indices >= 0, found {int(raw_labels.min())}")
    images = raw_images.astype(np.float32) / 255.0
    labels = raw_labels.astype(np.int64)
    if len(images) != len(labels):
        raise IDXError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels")
    images = images.reshape(len(images), -1) if flatten else images.reshape(len(images), 1, *images.shape[1:])
    return tensor(images), tensor(labels)
