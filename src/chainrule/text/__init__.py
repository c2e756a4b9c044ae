"""Text: tokenization (through Hugging Face ``tokenizers``) and tokenized datasets for BERT-family models."""

from .dataset import LengthGroupedSampler, TextClassificationDataset, sorted_by_length
from .tokenizer import Tokenizer, pad_sequences

__all__ = ["LengthGroupedSampler", "TextClassificationDataset", "Tokenizer", "pad_sequences", "sorted_by_length"]
