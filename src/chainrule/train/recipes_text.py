"""Text recipes (BERT-family fine-tuning): registered with ``@recipe`` from recipes.py."""
