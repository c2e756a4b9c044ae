"""Training checkpoints: model, optimizer, scheduler, RNG state and progress in one file.

One safetensors file (tensors) whose metadata holds the rest as JSON, written
atomically (temporary file, fsync, rename): a crash during the write leaves
the previous checkpoint loadable.  Loading never unpickles anything, and a
truncated or altered file raises ``CheckpointError``.
"""

from __future__ import annotations

from pathlib import Path

from .. import random as cr_random
from ..io import CheckpointError, load, save


def save_checkpoint(
    path, model, optimizer=None, scheduler=None, epoch: int = 0, extra: dict | None = None, generators=()
) -> Path:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"default": cr_random.get_rng_state(), "generators": [g.get_state() for g in generators]},
        "epoch": int(epoch),
        "extra": extra or {},
    }
    return save(state, path)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, generators=(), restore_rng: bool = True) -> dict:
    """Read a checkpoint and restore whatever is passed in; returns the whole checkpoint dict."""
    state = load(path)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a chainrule training checkpoint")
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        cr_random.set_rng_state(state["rng"]["default"])
        for g, s in zip(generators, state["rng"].get("generators", [])):
            g.set_state(s)
    return state
