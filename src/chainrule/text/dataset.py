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

    Args:
        texts: N strings.
        labels: N class indices (ints).
        tokenizer: the ``Tokenizer`` that encodes the texts (its padding token pads the batches).
        max_length: the truncation length; None means the tokenizer's ``max_length``.

    Raises:
        ValueError: the number of labels differs from the number of texts.
        TypeError: the labels are not integers.

    Examples:
        >>> from tokenizers import Tokenizer as Backend, models, pre_tokenizers
        >>> from chainrule.text import TextClassificationDataset, Tokenizer
        >>> vocab = {"[PAD]": 0, "[UNK]": 1, "a": 2, "warm": 3, "film": 4, "dull": 5}
        >>> backend = Backend(models.WordLevel(vocab, unk_token="[UNK]"))
        >>> backend.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> dataset = TextClassificationDataset(["a warm film", "dull"], [1, 0], Tokenizer(backend))
        >>> dataset[1], dataset.lengths.tolist()
        ((array([5]), 0), [3, 1])
        >>> loader = cr.data.DataLoader(dataset, batch_size=2, collate_fn=dataset.collate)
        >>> next(iter(loader))
        ((tensor([[2, 3, 4],
                [5, 0, 0]]), tensor([[1, 1, 1],
                [1, 0, 0]])), tensor([1, 0]))
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
        """Pad ``(ids, label)`` samples into ``((input_ids (N, L), attention_mask (N, L)), labels (N,))`` Tensors."""
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

    Args:
        lengths: the length of each sample, (N,) (e.g. ``TextClassificationDataset.lengths``).
        batch_size: the DataLoader's batch size, a positive int.
        generator: the ``cr.Generator`` that shuffles; None means the default one.
        group_batches: the number of batches sorted together, a positive int; default 50.

    Raises:
        ValueError: ``batch_size`` or ``group_batches`` < 1.

    Examples:
        >>> from chainrule.text import LengthGroupedSampler
        >>> lengths = [5, 1, 4, 2, 3, 6]
        >>> order = list(LengthGroupedSampler(lengths, batch_size=2, generator=cr.Generator(seed=0)))
        >>> sorted(order), [[lengths[i] for i in order[k : k + 2]] for k in (0, 2, 4)]
        ([0, 1, 2, 3, 4, 5], [[1, 2], [3, 4], [5, 6]])
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
    """Indices of ``dataset`` from the shortest text to the longest: a sampler for evaluation with little padding.

    Args:
        dataset: a ``TextClassificationDataset`` (anything with a ``lengths`` array).

    Returns:
        A list of N indices; texts of equal length keep their order.

    Examples:
        >>> from tokenizers import Tokenizer as Backend, models, pre_tokenizers
        >>> from chainrule.text import TextClassificationDataset, Tokenizer, sorted_by_length
        >>> vocab = {"[PAD]": 0, "[UNK]": 1, "a": 2, "warm": 3, "film": 4, "dull": 5}
        >>> backend = Backend(models.WordLevel(vocab, unk_token="[UNK]"))
        >>> backend.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> dataset = TextClassificationDataset(["a warm film", "dull", "a film"], [1, 0, 0], Tokenizer(backend))
        >>> sorted_by_length(dataset)
        [1, 2, 0]
    """
    return np.argsort(dataset.lengths, kind="stable").tolist()
