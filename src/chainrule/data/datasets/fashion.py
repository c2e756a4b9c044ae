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
    try:
        find_mnist_files(Path(root) if root else FASHION_MNIST_DIR, True)
        find_mnist_files(Path(root) if root else FASHION_MNIST_DIR, False)
    except (FileNotFoundError, IDXError):  # IDXError: a file that is a symlink out of the directory
        return False
    return True


class FashionMNIST(TensorDataset):
    """60,000 training or 10,000 test images (N, 1, 28, 28) float32 in [0, 1], with int64 labels."""

    classes = CLASSES

    def __init__(self, root=None, train: bool = True):
        root = Path(root) if root else FASHION_MNIST_DIR
        if not root.is_dir():
            raise FileNotFoundError(
                f"Fashion-MNIST directory {root} does not exist; install it with "
                "'apt-get install dataset-fashion-mnist' or pass root= (or set CHAINRULE_FASHION_MNIST)"
            )
        images, labels = load_mnist(root, train=train)
        if len(labels) and int(labels.data.max()) >= len(CLASSES):
            _, label_path = find_mnist_files(root, train)
            raise IDXError(
                f"{label_path}: label {int(labels.data.max())} is not one of the {len(CLASSES)} Fashion-MNIST classes"
            )
        super().__init__(images, labels)
