"""The 8x8 handwritten digits bundled with chainrule (UCI, CC BY 4.0; see ATTRIBUTION.md)."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from ...creation import tensor


def load_digits(flatten: bool = False):
    """(images, labels): images float32 in [0, 1], shape (1797, 1, 8, 8) or (1797, 64); labels int64.

    Pixel values 0-16 are divided by 16. The data (UCI's optical recognition of
    handwritten digits, the test set scikit-learn ships as ``load_digits``) is
    bundled with chainrule, so it needs no download.

    Args:
        flatten: return images of shape (1797, 64) instead of (1797, 1, 8, 8); default False.

    Returns:
        ``(images, labels)``: a float32 tensor of shape (1797, 1, 8, 8) or (1797, 64), and an int64 tensor of shape
        (1797,) of digits 0-9.

    Examples:
        >>> from chainrule.data.datasets import load_digits
        >>> images, labels = load_digits()
        >>> images.shape, images.dtype, labels[:5].tolist()
        ((1797, 1, 8, 8), dtype('float32'), [0, 1, 2, 3, 4])
    """
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = table[:, :64] / 16.0
    labels = table[:, 64].astype(np.int64)
    images = images if flatten else images.reshape(-1, 1, 8, 8)
    return tensor(images), tensor(labels)
