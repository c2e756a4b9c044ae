"""``chainrule.cuda``: is a CUDA GPU usable (through CuPy), and small device utilities.

chainrule runs on NVIDIA GPUs when CuPy is installed (``pip install
'chainrule[cuda]'``): ``x.to("cuda")``, ``model.to("cuda")`` and
``device="cuda"`` on creation functions put arrays on the GPU, and every op
runs through the same code with ``xp = cupy``.  Without CuPy (or without a
GPU) these functions say so and everything runs on the CPU.
"""

from __future__ import annotations

import numbers

from . import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    return backend.cupy_module() is not None


def device_count() -> int:
    cp = backend.cupy_module()
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


def _require():
    cp = backend.cupy_module()
    if cp is None:
        raise RuntimeError("CUDA is not available: install chainrule[cuda] (CuPy) on a machine with an NVIDIA GPU")
    return cp


def current_device() -> int:
    return int(_require().cuda.runtime.getDevice())


def get_device_name(device: int | None = None) -> str:
    cp = _require()
    props = cp.cuda.runtime.getDeviceProperties(current_device() if device is None else device)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize() -> None:
    """Wait for all queued GPU work (call before reading a timer)."""
    cp = backend.cupy_module()
    if cp is not None:
        cp.cuda.runtime.deviceSynchronize()


def empty_cache() -> None:
    """Return cached, unused GPU memory blocks to the driver."""
    cp = backend.cupy_module()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()


def max_memory_allocated() -> int:
    cp = backend.cupy_module()
    return 0 if cp is None else int(cp.get_default_memory_pool().total_bytes())


def manual_seed(seed: int) -> None:
    """Seed the random numbers of the current GPU (PyTorch's ``torch.cuda.manual_seed``): nothing to do here.

    Differs from PyTorch: chainrule has no generator per GPU. Random tensors for a GPU are drawn by the default
    generator on the CPU and copied (so a seed gives the same values on every device), and ``cr.manual_seed``
    seeds that one. This function therefore changes nothing, as PyTorch's does on a machine without a GPU; it
    exists so that programs written for PyTorch run unchanged.

    Args:
        seed: an int, accepted and ignored (call ``cr.manual_seed(seed)`` to seed every random function).

    Examples:
        >>> cr.cuda.manual_seed(0)  # does nothing: cr.manual_seed seeds GPU draws too
        >>> _ = cr.manual_seed(0)
    """
    _check_seed(seed, "manual_seed")


def manual_seed_all(seed: int) -> None:
    """Seed the random numbers of every GPU (PyTorch's ``torch.cuda.manual_seed_all``): nothing to do here.

    Differs from PyTorch: as for :func:`manual_seed`, GPU random tensors come from the default CPU generator,
    which ``cr.manual_seed`` seeds, so this function changes nothing; it exists so that programs written for
    PyTorch (``torch.manual_seed(s); torch.cuda.manual_seed_all(s)``) run unchanged.

    Args:
        seed: an int, accepted and ignored.

    Examples:
        >>> _ = cr.manual_seed(3407)
        >>> cr.cuda.manual_seed_all(3407)
    """
    _check_seed(seed, "manual_seed_all")


def _check_seed(seed, name: str) -> None:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"cuda.{name}: seed must be an int, got {type(seed).__name__}")
