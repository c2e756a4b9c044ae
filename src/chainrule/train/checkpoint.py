"""Training checkpoints: model, optimizer, scheduler, RNG state and progress in one file.

One safetensors file (tensors) whose metadata holds the rest as JSON, written
atomically (temporary file, fsync, rename): a crash during the write leaves
the previous checkpoint loadable.  Loading never unpickles anything, and a
truncated or altered file raises ``CheckpointError``.
"""

from __future__ import annotations

from pathlib import Path

from .. import random as cr_random
from ..errors import ChainruleError
from ..io import CheckpointError, load, save


def save_checkpoint(
    path, model, optimizer=None, scheduler=None, epoch: int = 0, extra: dict | None = None, generators=()
) -> Path:
    """Write a training checkpoint: weights, optimizer, scheduler, random state and epoch in one file.

    The file is safetensors (tensors) with the rest as JSON in its metadata,
    written atomically: a crash during the write leaves the previous file.
    ``load_checkpoint`` restores it.

    Args:
        path: the file to write (``.safetensors``).
        model: the module whose ``state_dict()`` is saved.
        optimizer: its optimizer, or None.
        scheduler: its learning-rate scheduler, or None.
        epoch: the number of epochs completed.
        extra: more JSON-able state to keep (it comes back under ``"extra"``).
        generators: ``chainrule.Generator`` objects whose state is saved besides the default one.

    Returns:
        The path written.

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.train import load_checkpoint, save_checkpoint
        >>> model = cr.nn.Linear(3, 2)
        >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        >>> _ = save_checkpoint("ckpt.safetensors", model, opt, epoch=4, extra={"note": "first run"})
        >>> state = load_checkpoint("ckpt.safetensors", cr.nn.Linear(3, 2), restore_rng=False)
        >>> state["epoch"], state["extra"]["note"]
        (4, 'first run')
    """
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"default": cr_random.get_rng_state(), "generators": [g.get_state() for g in generators]},
        "epoch": int(epoch),
        "extra": extra or {},
    }
    return save(state, path)


# what restoring a model, an optimizer or a generator from a malformed (or mismatched) state raises
RESTORE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, generators=(), restore_rng: bool = True) -> dict:
    """Read a checkpoint and restore whatever is passed in; returns the whole checkpoint dict.

    A file that is not a checkpoint, or whose contents do not fit the objects
    passed in (other shapes, another optimizer, malformed state), raises one
    ``CheckpointError`` that names the part.  Nothing is unpickled.

    Args:
        path: a file written by ``save_checkpoint``.
        model: a module to load the weights into, or None.
        optimizer: an optimizer to restore, or None.
        scheduler: a scheduler to restore, or None.
        generators: ``chainrule.Generator`` objects to restore, in the order they were saved.
        restore_rng: also restore the default random generator's state.

    Returns:
        The checkpoint: a dict with ``model``, ``optimizer``, ``scheduler``, ``rng``, ``epoch`` and ``extra``.

    Examples:
        >>> import chainrule as cr
        >>> from chainrule.train import load_checkpoint, save_checkpoint
        >>> model = cr.nn.Linear(3, 2)
        >>> _ = save_checkpoint("ckpt.safetensors", model, epoch=1)
        >>> fresh = cr.nn.Linear(3, 2)
        >>> _ = load_checkpoint("ckpt.safetensors", fresh)
        >>> bool((fresh.weight == model.weight).all())
        True
        >>> _ = load_checkpoint("ckpt.safetensors", cr.nn.Linear(5, 2))
        Traceback (most recent call last):
        ...
        chainrule.io.serialization.CheckpointError: ...its model state does not fit this run...
    """
    state = load(path)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} is not a chainrule training checkpoint")
    if type(state.get("epoch")) is not int or state["epoch"] < 0:
        raise CheckpointError(f"{path} records an invalid epoch {state.get('epoch')!r}")
    parts = [("model", model), ("optimizer", optimizer), ("scheduler", scheduler)]
    for name, target in parts:
        saved = state.get(name)
        if target is None or (saved is None and name != "model"):
            continue
        try:
            target.load_state_dict(saved)
        except (*RESTORE_ERRORS, ChainruleError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            raise CheckpointError(f"{path}: its {name} state does not fit this run ({what})") from exc
    if restore_rng:
        try:
            rng = state["rng"]
            cr_random.set_rng_state(rng["default"])
            for g, s in zip(generators, rng.get("generators", [])):
                g.set_state(s)
        except (*RESTORE_ERRORS, ChainruleError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            raise CheckpointError(f"{path}: its random-generator state is malformed ({what})") from exc
    return state


def restore_weights(model, path) -> None:
    """Load a weights file written by ``KeepBest`` (or ``cr.io.save(model.state_dict())``) into ``model``.

    A file that is unreadable, altered or does not fit the model is one ``CheckpointError``.
    """
    state = load(path)
    try:
        model.load_state_dict(state)
    except (*RESTORE_ERRORS, ChainruleError) as exc:
        raise CheckpointError(f"{path}: its weights do not fit this model ({type(exc).__name__}: {exc})") from exc
