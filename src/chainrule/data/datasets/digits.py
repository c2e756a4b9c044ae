"""The 8x8 handwritten digits bundled with chainrule (UCI, CC BY 4.0; see ATTRIBUTION.md)."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from ...creation import tensor


def load_digits(flatten: bool = False):
    """(images, labels): images float32 in [0, 1], shape (1797, 1, 8, 8) or (1797, 64); labels int64.

    Pixel values 0-16 are divided by 16.
    """
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = table[:, :64] / 16.0
    labels = table[:, 64].astype(np.int64)
    images = images if flatten else images.reshape(-1, 1, 8, 8)
    return tensor(images), tensor(labels)
