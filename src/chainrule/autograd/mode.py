"""Grad mode: whether ops record history.

The flag lives on one small module-level object rather than in thread-local
storage: every op reads it, and a thread-local attribute costs several times
as much.  Grad mode is therefore process-wide, unlike PyTorch's per-thread
flag (chainrule's DataLoader never records graphs, so nothing relies on it).
"""

from __future__ import annotations

import functools


class _Mode:
    __slots__ = ("grad", "anomaly")

    def __init__(self):
        self.grad = True
        self.anomaly = False


MODE = _Mode()


def is_grad_enabled() -> bool:
    """True when operations record history for backward."""
    return MODE.grad


class _GradMode:
    """Switch grad mode to ``_target`` inside a ``with`` block or a decorated function."""

    _target = True

    def __enter__(self):
        self._prev = MODE.grad
        MODE.grad = self._target
        return self

    def __exit__(self, *exc):
        MODE.grad = self._prev
        return False

    def __call__(self, fn):
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = MODE.grad
            MODE.grad = target
            try:
                return fn(*args, **kwargs)
            finally:
                MODE.grad = prev

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Record nothing inside: ops return tensors without history."""

    _target = False


class enable_grad(_GradMode):  # noqa: N801
    """Record operations again, e.g. inside a ``no_grad`` block."""

    _target = True


class inference_mode(_GradMode):  # noqa: N801
    """The same as ``no_grad`` in chainrule (there are no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._target = not mode


class set_grad_enabled(_GradMode):  # noqa: N801
    """``set_grad_enabled(flag)`` as a plain call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = MODE.grad
        MODE.grad = self._target  # a plain call switches at once, as in PyTorch

    def __enter__(self):
        return self  # already switched by the constructor

    def __call__(self, fn):
        MODE.grad = self._prev  # used as a decorator: do not leave the switch on
        return super().__call__(fn)
