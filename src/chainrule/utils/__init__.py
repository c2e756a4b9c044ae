"""Utilities: gradient clipping, activation checkpointing."""
