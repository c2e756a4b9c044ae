"""Utilities: gradient clipping, activation checkpointing."""

from . import data
from .checkpoint import checkpoint, checkpoint_sequential, plan_segments

__all__ = ["checkpoint", "checkpoint_sequential", "plan_segments"]
