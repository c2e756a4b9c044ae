"""Recipes: a named dataset + model + default hyperparameters that ``chainrule train`` runs.

Add one with ``@recipe`` (``recipe.py``) on a function that returns a :class:`Recipe`.
Each recipe splits its data deterministically from the seed: train, val (for
early stopping / keep-best) and a held-out test split reported at the end.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..data import TensorDataset
from ..data.datasets import FASHION_MNIST_DIR, FashionMNIST, fashion_mnist_available, load_digits
from .recipe import RECIPES, Recipe, _split, recipe  # noqa: F401 - RECIPES is read from here


def _digits_data(flatten):
    def build(seed, data_dir=None):
        x, y = load_digits(flatten=flatten)
        tr, va, te = _split(len(y), seed)
        return (TensorDataset(x[tr], y[tr]), TensorDataset(x[va], y[va]), TensorDataset(x[te], y[te]))

    return build


@recipe
def _digits_cnn():
    def model():
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(128, 10),
        )

    return Recipe(
        "digits-cnn",
        "small CNN on the bundled 8x8 digits (the default)",
        _digits_data(False),
        model,
        epochs=15,
        batch_size=32,
        lr=2e-3,
    )


@recipe
def _digits_mlp():
    def model():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))

    return Recipe(
        "digits-mlp",
        "two-layer perceptron on the bundled 8x8 digits",
        _digits_data(True),
        model,
        epochs=30,
        batch_size=32,
        lr=2e-3,
    )


def _fashion_data(seed, data_dir=None):
    train_full = FashionMNIST(data_dir, train=True)
    test = FashionMNIST(data_dir, train=False)
    x, y = train_full.tensors
    order = np.random.default_rng(seed).permutation(len(y))
    va, tr = order[:5000], order[5000:]
    return TensorDataset(x[tr], y[tr]), TensorDataset(x[va], y[va]), test


def _fashion_available(data_dir=None):
    root = data_dir or FASHION_MNIST_DIR
    if fashion_mnist_available(root):
        return True, ""
    return False, f"Fashion-MNIST files not found in {root} (apt-get install dataset-fashion-mnist, or --data DIR)"


@recipe
def _fashion_cnn():
    def model():
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(128, 10),
        )

    return Recipe(
        "fashion-mnist-cnn",
        "CNN on Fashion-MNIST (Debian package dataset-fashion-mnist)",
        _fashion_data,
        model,
        epochs=8,
        batch_size=128,
        lr=1e-3,
        available=_fashion_available,
    )


# recipes that live next to their models register themselves on import
from . import recipes_recsys, recipes_text  # noqa: E402, F401, I001
