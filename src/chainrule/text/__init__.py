"""Text: tokenization (through Hugging Face ``tokenizers``) and tokenized datasets for BERT-family models."""

from .dataset import LengthGroupedSampler, TextClassificationDataset, sorted_by_length
from .tokenizer import Tokenizer, TokenizerError, pad_sequences

__all__ = [
    "LengthGroupedSampler",
    "TextClassificationDataset",
    "Tokenizer",
    "TokenizerError",
    "pad_sequences",
    "sorted_by_length",
]
