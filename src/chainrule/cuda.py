"""``chainrule.cuda``: is a CUDA GPU usable (through CuPy), and small device utilities.

chainrule runs on NVIDIA GPUs when CuPy is installed (``pip install
'chainrule[cuda]'``): ``x.to("cuda")``, ``model.to("cuda")`` and
``device="cuda"`` on creation functions put arrays on the GPU, and every op
runs through the same code with ``xp = cupy``.  Without CuPy (or without a
GPU) these functions say so and everything runs on the CPU.
"""

from __future__ import annotations

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
