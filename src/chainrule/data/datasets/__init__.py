"""Built-in data: the bundled 8x8 digits, MNIST-format IDX files, Fashion-MNIST."""

from .digits import load_digits
from .fashion import FASHION_MNIST_DIR, FashionMNIST, fashion_mnist_available
from .idx import IDXError, find_mnist_files, load_mnist, read_idx
from .movielens import (
    Interactions,
    InteractionsError,
    NegativeSamplingLoader,
    RatingsLoader,
    load_interactions,
    load_movielens_100k,
    movielens_100k_dir,
    ranking_candidates,
    split_leave_last_out,
    split_random,
)

__all__ = [
    "FASHION_MNIST_DIR",
    "FashionMNIST",
    "IDXError",
    "Interactions",
    "InteractionsError",
    "NegativeSamplingLoader",
    "RatingsLoader",
    "load_interactions",
    "load_movielens_100k",
    "movielens_100k_dir",
    "ranking_candidates",
    "split_leave_last_out",
    "split_random",
    "fashion_mnist_available",
    "find_mnist_files",
    "load_digits",
    "load_mnist",
    "read_idx",
]
