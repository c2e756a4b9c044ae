"""The recipe table: what a recipe is (:class:`Recipe`), ``@recipe`` to add one, and ``RECIPES``.

``recipes.py`` (the image recipes), ``recipes_recsys.py`` and
``recipes_text.py`` add theirs with ``@recipe``; importing ``recipes`` loads
all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Recipe:
    name: str
    description: str
    build_data: object  # (seed, data_dir) -> (train, val, test) datasets
    build_model: object  # () -> Module
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    scheduler: str | None = "cosine"
    available: object = field(default=lambda data_dir=None: (True, ""))
    # a recipe that is not plain classification supplies its whole run: run(args, recipe) -> exit status
    # (args are the parsed ``chainrule train`` options; see cli.cmd_train for the default flow)
    run: object = None


RECIPES: dict = {}


def recipe(fn):
    """Register the Recipe that ``fn()`` returns under its name (a decorator)."""
    r = fn()
    RECIPES[r.name] = r
    return fn


def _split(n, seed, fractions=(0.7, 0.1, 0.2)):
    """Index arrays of a deterministic train/val/test split of ``n`` items."""
    order = np.random.default_rng(seed).permutation(n)
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return order[:a], order[a:b], order[b:]
