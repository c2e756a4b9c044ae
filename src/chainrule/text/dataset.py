"""Labelled texts, tokenized once, batched with per-batch padding."""

from __future__ import annotations

import numpy as np

from ..creation import from_numpy
from ..data import Dataset
from ..random import numpy_rng
from .tokenizer import Tokenizer, pad_sequences

__all__ = ["LengthGroupedSampler", "TextClassificationDataset", "sorted_by_length"]


class TextClassificationDataset(Dataset):
    """Texts and integer labels, tokenized up front (truncated to ``max_length``).

    ``dataset[i]`` is ``(ids, label)``: the int64 token ids of text i (with
    special tokens, unpadded) and its class index.  Use ``dataset.collate``
    as the DataLoader's ``collate_fn``: it pads a batch to its longest
    sequence and returns ``((input_ids, attention_mask), labels)`` as
    Tensors of shapes (N, L), (N, L) and (N,), the layout the Trainer
    passes to ``model(input_ids, attention_mask)``.
    """

    def __init__(self, texts, labels, tokenizer: Tokenizer, max_length: int | None = None):
        texts = list(texts)
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != len(texts):
            raise ValueError(
                f"TextClassificationDataset: {len(texts)} texts need {len(texts)} labels, "
                f"got labels of shape {labels.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise TypeError(f"TextClassificationDataset: labels must be class indices (integers), got {labels.dtype}")
        self.texts = texts
        self.labels = labels.astype(np.int64)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.ids = [ids for ids, _ in tokenizer.encode(texts, max_length=max_length)] if texts else []

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """(N,) number of tokens of each text, special tokens included."""
        return np.array([len(ids) for ids in self.ids], dtype=np.int64)

    def __getitem__(self, index):
        return self.ids[index], int(self.labels[index])

    def collate(self, samples):
        ids, mask = pad_sequences([s[0] for s in samples], self.pad_token_id)
        labels = np.array([s[1] for s in samples], dtype=np.int64)
        return (from_numpy(ids), from_numpy(mask)), from_numpy(labels)


class LengthGroupedSampler:
    """Shuffled indices in which each run of ``batch_size`` holds texts of similar length (less padding).

    Each epoch draws a permutation from ``generator`` (pass the DataLoader's
    generator too, so a Trainer saves and restores it for an exact resume),
    cuts it into groups of ``group_batches`` batches, sorts each group by
    length, cuts the groups into batches and shuffles the batches; a last,
    smaller batch stays last, so the DataLoader's batches are exactly these.
    """

    def __init__(self, lengths, batch_size: int, generator=None, group_batches: int = 50):
        self.lengths = np.asarray(lengths)
        self.batch_size = int(batch_size)
        self.generator = generator
        self.group_batches = int(group_batches)
        if self.batch_size < 1 or self.group_batches < 1:
            raise ValueError("LengthGroupedSampler: batch_size and group_batches must be positive")

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        rng = numpy_rng(self.generator)
        order = rng.permutation(len(self.lengths))
        group = self.batch_size * self.group_batches
        batches = []
        for start in range(0, len(order), group):
            part = order[start : start + group]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        tail = [batches.pop()] if batches and len(batches[-1]) < self.batch_size else []
        shuffled = [batches[i] for i in rng.permutation(len(batches))] + tail
        return iter(np.concatenate(shuffled).tolist() if shuffled else [])


def sorted_by_length(dataset: TextClassificationDataset) -> list:
    """Indices of ``dataset`` from the shortest text to the longest: a sampler for evaluation with little padding."""
    return np.argsort(dataset.lengths, kind="stable").tolist()
