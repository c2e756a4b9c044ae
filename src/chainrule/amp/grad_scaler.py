"""Dynamic loss scaling for float16 training (PyTorch's GradScaler semantics).

float16 gradients underflow to zero below about 6e-8.  Scaling the loss by S
before backward scales every gradient by S; ``unscale_`` divides them back
(in float32, on the master weights) and checks them for inf/nan.  A step with
a non-finite gradient is skipped and S is multiplied by ``backoff_factor``;
after ``growth_interval`` clean steps in a row S grows by ``growth_factor``.
"""

from __future__ import annotations

import math

from ..autograd.mode import no_grad
from ..backend import array_module
from ..errors import ChainruleError


class GradScaler:
    """Dynamic loss scaling: multiply the loss before backward, skip steps whose gradients overflowed.

    Call ``scale(loss).backward()``, then ``step(optimizer)`` (which unscales
    the gradients and skips the step when one is inf or NaN), then ``update()``
    once per iteration. After an overflow the scale is multiplied by
    ``backoff_factor``; after ``growth_interval`` clean steps in a row, by
    ``growth_factor``. ``state_dict``/``load_state_dict`` save and restore it
    with a checkpoint.

    Args:
        device: accepted for PyTorch's signature; the scaler works the same for CPU and GPU tensors.
        init_scale: the starting scale; default 2**16.
        growth_factor: the factor the scale grows by after a run of clean steps, > 1; default 2.
        backoff_factor: the factor the scale shrinks by after an overflow, in (0, 1); default 0.5.
        growth_interval: how many clean steps in a row make the scale grow; default 2000.
        enabled: False makes every method a pass-through (``scale`` returns its input, ``step`` just steps).

    Raises:
        ValueError: ``growth_factor`` <= 1 or ``backoff_factor`` outside (0, 1).

    Examples:
        >>> model = nn.Linear(3, 1)
        >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = cr.amp.GradScaler("cpu", init_scale=1024.0)
        >>> scaler.scale(model(cr.ones(4, 3)).sum()).backward()
        >>> model.weight.grad = cr.full((1, 3), float("inf"))  # as if a gradient had overflowed
        >>> scaler.step(optimizer)  # skipped
        >>> scaler.update()
        >>> scaler.get_scale()
        512.0
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ):
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError("GradScaler: growth_factor must be > 1 and backoff_factor in (0, 1)")
        self._enabled = bool(enabled)
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict = {}

    def is_enabled(self) -> bool:
        """Whether the scaler is on (``enabled=True``)."""
        return self._enabled

    def get_scale(self) -> float:
        """The current scale (1.0 when the scaler is disabled)."""
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """outputs * scale (a tensor, or a list/tuple of them)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False, "stepped": False})

    def unscale_(self, optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale and look for inf/nan."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise ChainruleError("unscale_() has already been called on this optimizer since the last update()")
        inv = 1.0 / self._scale
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad._data
                    g *= inv
                    if not bool(array_module(g).isfinite(g).all()):
                        found = True
        state["unscaled"] = True
        state["found_inf"] = found

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step() unless a gradient is inf/nan (then the step is skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if state["stepped"]:
            raise ChainruleError("step() has already been called on this optimizer since the last update()")
        if not state["unscaled"]:
            self.unscale_(optimizer)
        state["stepped"] = True
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Back off after an overflow, grow after a run of clean steps; start a new iteration."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
            self._growth_tracker = 0
        else:
            found = any(s["found_inf"] for s in self._per_optimizer.values())
            if found:
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    def state_dict(self) -> dict:
        """The scale, the growth settings and the count of clean steps, as a dict of numbers."""
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""
        self._scale = float(state["scale"])
        self._growth_factor = float(state["growth_factor"])
        self._backoff_factor = float(state["backoff_factor"])
        self._growth_interval = int(state["growth_interval"])
        self._growth_tracker = int(state["_growth_tracker"])
