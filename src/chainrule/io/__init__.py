"""Saving and loading without pickle: safetensors files with JSON metadata, written atomically."""

from .atomic import atomic_write
from .serialization import CheckpointError, load, load_file, save, save_file

__all__ = ["CheckpointError", "atomic_write", "load", "load_file", "save", "save_file"]
