"""``chainrule.accelerator``: PyTorch's device-agnostic accelerator questions, answered for CUDA through CuPy.

Programs written for recent PyTorch choose their device with
``torch.accelerator.is_available()`` and ``torch.accelerator.current_accelerator()``
(pytorch/examples does so in every ``main()``); on chainrule the one accelerator
is an NVIDIA GPU through CuPy (see :mod:`chainrule.cuda`).
"""

from __future__ import annotations

from . import cuda
from .backend import Device

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU, through CuPy) can be used.

    Returns:
        True when CuPy is installed and sees at least one CUDA device.

    Examples:
        >>> device = cr.device("cuda") if cr.accelerator.is_available() else cr.device("cpu")
        >>> device.type in ("cpu", "cuda")
        True
    """
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """The accelerator's device, ``device(type='cuda')``, or None when there is none.

    Differs from PyTorch: PyTorch answers for the accelerator it was built with, even where none is usable
    unless ``check_available=True``; chainrule is not built for a device, so it always answers for what is usable
    now (the result is the same as with ``check_available=True``).

    Args:
        check_available: accepted for PyTorch's signature; the answer already reflects what is available.

    Returns:
        A ``cr.device`` of type ``"cuda"``, or None.

    Examples:
        >>> accelerator = cr.accelerator.current_accelerator()
        >>> accelerator is None or accelerator.type == "cuda"
        True
    """
    return Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many accelerators (CUDA GPUs) there are; 0 without CuPy or a GPU.

    Returns:
        An int.

    Examples:
        >>> cr.accelerator.device_count() >= 0
        True
    """
    return cuda.device_count()
