"""Fashion-MNIST (Zalando, MIT licence) from the Debian package ``dataset-fashion-mnist``.

``apt-get install dataset-fashion-mnist`` puts the IDX files in
/usr/share/datasets/fashion-mnist; nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..dataset import TensorDataset
from .idx import IDXError, find_mnist_files, load_mnist

FASHION_MNIST_DIR = Path(os.environ.get("CHAINRULE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def fashion_mnist_available(root=None) -> bool:
    """Whether the four Fashion-MNIST IDX files (train and test, images and labels) are in ``root``.

    Args:
        root: the directory to look in; None means ``FASHION_MNIST_DIR`` (``$CHAINRULE_FASHION_MNIST``, else
            /usr/share/datasets/fashion-mnist, where ``apt-get install dataset-fashion-mnist`` puts them).

    Returns:
        A bool; a file that is a symlink out of the directory counts as missing.

    Examples:
        >>> from chainrule.data.datasets import fashion_mnist_available
        >>> fashion_mnist_available("no-such-directory")
        False
    """
    try:
        find_mnist_files(Path(root) if root else FASHION_MNIST_DIR, True)
        find_mnist_files(Path(root) if root else FASHION_MNIST_DIR, False)
    except (FileNotFoundError, IDXError):  # IDXError: a file that is a symlink out of the directory
        return False
    return True


class FashionMNIST(TensorDataset):
    """60,000 training or 10,000 test images (N, 1, 28, 28) float32 in [0, 1], with int64 labels.

    A ``TensorDataset`` of ``(image, label)``; ``classes`` names the ten labels
    ("T-shirt/top", ..., "Ankle boot"). Read from IDX files already on disk
    (nothing is downloaded, unlike torchvision's).

    Args:
        root: the directory holding the IDX files (MNIST's file names, gzipped or not); None means
            ``FASHION_MNIST_DIR``.
        train: the training set (True, the default) or the test set.

    Raises:
        FileNotFoundError: ``root`` or one of the files does not exist.
        IDXError: a file is not valid IDX, or a label is not one of the ten classes.

    Examples:
        >>> from pathlib import Path
        >>> from chainrule.data.datasets import FashionMNIST
        >>> def idx(path, a):  # IDX: 0, 0, type 8 (uint8), ndim, the dimensions as big-endian uint32, the data
        ...     Path(path).parent.mkdir(exist_ok=True)
        ...     header = bytes([0, 0, 8, a.ndim]) + np.array(a.shape, ">u4").tobytes()
        ...     Path(path).write_bytes(header + a.astype("u1").tobytes())
        >>> _ = idx("fashion/train-images-idx3-ubyte", np.full((3, 28, 28), 255))
        >>> _ = idx("fashion/train-labels-idx1-ubyte", np.array([9, 0, 7]))
        >>> ds = FashionMNIST(root="fashion")
        >>> len(ds), ds[0][0].shape, [ds.classes[int(label)] for _, label in ds]
        (3, (1, 28, 28), ['Ankle boot', 'T-shirt/top', 'Sneaker'])
    """

    classes = CLASSES

    def __init__(self, root=None, train: bool = True):
        root = Path(root) if root else FASHION_MNIST_DIR
        if not root.is_dir():
            raise FileNotFoundError(
                f"Fashion-MNIST directory {root} does not exist; install it with "
                "'apt-get install dataset-fashion-mnist' or pass root= (or set CHAINRULE_FASHION_MNIST)"
            )
        images, labels = load_mnist(root, train=train)
        if len(labels) and int(labels._data.max()) >= len(CLASSES):
            _, label_path = find_mnist_files(root, train)
            raise IDXError(
                f"{label_path}: label {int(labels._data.max())} is not one of the {len(CLASSES)} Fashion-MNIST classes"
            )
        super().__init__(images, labels)
