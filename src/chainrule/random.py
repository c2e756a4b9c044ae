"""Random numbers: a default generator and explicit ones, reproducible by seed.

Each :class:`Generator` wraps NumPy's PCG64.  ``manual_seed(s)`` reseeds the
default one, so every random function (rand, randn, dropout, init, shuffling)
repeats exactly.  Random tensors for a GPU are drawn on the CPU and copied, so
a seed gives the same numbers on every device.  The state is a JSON-friendly
dict (``get_state``/``set_state``), which is how checkpoints save it: no pickle.
"""

from __future__ import annotations

import copy
from typing import cast

import numpy as np


def _fresh_seed() -> int:
    """63 bits of fresh OS entropy (a SeedSequence made without entropy draws it as an int)."""
    return cast(int, np.random.SeedSequence().entropy) % (2**63)


class Generator:
    """A seeded source of random numbers (PyTorch's ``torch.Generator``).

    Wraps NumPy's PCG64 bit generator. Pass one as ``generator=`` to the random
    functions (``rand``, ``randn``, ``randperm``, ``DataLoader``, ...) to draw
    from a stream of its own; without one they draw from the default generator
    that ``cr.manual_seed`` seeds.

    Args:
        device: accepted for PyTorch's signature; the numbers are always drawn on the CPU (and copied to a GPU
            where a tensor lives there), so a seed gives the same values on every device.
        seed: the seed, an int (a negative one is taken modulo 2**64); None seeds from fresh OS entropy.

    Examples:
        >>> g = cr.Generator(seed=42)
        >>> g
        <chainrule.Generator seed=42>
        >>> first = cr.rand(3, generator=g).tolist()
        >>> first == cr.rand(3, generator=g.manual_seed(42)).tolist()
        True
    """

    __slots__ = ("_rng", "_seed")
    _rng: np.random.Generator
    _seed: int | None  # None only after set_state() of a state saved without a seed

    def __init__(self, device="cpu", seed: int | None = None):
        self.manual_seed(_fresh_seed() if seed is None else seed)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed with ``seed`` (an int; a negative one is taken modulo 2**64) and return the generator itself."""
        seed = int(seed)
        if seed < 0:
            seed %= 2**64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def initial_seed(self) -> int | None:
        """The seed this generator was last seeded with (None after ``set_state`` of a state without one)."""
        return self._seed

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        seed = _fresh_seed()
        self.manual_seed(seed)
        return seed

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying NumPy generator."""
        return self._rng

    def get_state(self) -> dict:
        """The full state as a JSON-serializable dict."""
        state = copy.deepcopy(self._rng.bit_generator.state)
        return {"seed": self._seed, "bit_generator": _jsonable(state)}

    def set_state(self, state: dict) -> Generator:
        """Restore a state from ``get_state``; ``ValueError`` for anything else (a malformed or foreign state)."""
        if not _valid_state(state):
            raise ValueError("set_state: not a PCG64 generator state as get_state() writes it")
        bit_state = copy.deepcopy(state["bit_generator"])
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = bit_state
        self._rng = rng
        self._seed = state.get("seed")
        return self

    def __repr__(self):
        return f"<chainrule.Generator seed={self._seed}>"


def _valid_state(state) -> bool:
    """The shape of ``Generator.get_state()``: plain ints and strings in PCG64's layout."""

    def is_int(v):
        return type(v) is int and v >= 0

    if not isinstance(state, dict) or not (state.get("seed") is None or type(state.get("seed")) is int):
        return False
    bits = state.get("bit_generator")
    if not isinstance(bits, dict) or type(bits.get("bit_generator")) is not str or bits["bit_generator"] != "PCG64":
        return False
    inner = bits.get("state")
    return (
        isinstance(inner, dict)
        and is_int(inner.get("state"))
        and is_int(inner.get("inc"))
        and is_int(bits.get("has_uint32"))
        and is_int(bits.get("uinteger"))
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


default_generator = Generator(seed=0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and return it).

    Every random function that is not given a ``generator`` (rand, randn,
    dropout, weight initialization, shuffling) then repeats exactly.

    Args:
        seed: an int; a negative one is taken modulo 2**64.

    Returns:
        The default ``Generator``.

    Examples:
        >>> cr.manual_seed(3)
        <chainrule.Generator seed=3>
        >>> a = cr.rand(2).tolist()
        >>> _ = cr.manual_seed(3)
        >>> cr.rand(2).tolist() == a
        True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Reseed the default generator from fresh OS entropy and return the new seed.

    Returns:
        The new seed, a non-negative int below 2**63.

    Examples:
        >>> s = cr.seed()
        >>> cr.initial_seed() == s
        True
    """
    return default_generator.seed()


def initial_seed() -> int | None:
    """The seed the default generator was last seeded with (by ``manual_seed`` or ``seed``).

    Returns:
        An int (None after ``set_state`` of a state saved without a seed).

    Examples:
        >>> _ = cr.manual_seed(7)
        >>> cr.initial_seed()
        7
    """
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's full state, as a JSON-serializable dict.

    It holds the seed and the PCG64 bit generator's state (plain ints and
    strings), so it can be written to JSON or a checkpoint's metadata; unlike
    PyTorch it is not a byte tensor.

    Returns:
        A dict ``{"seed": ..., "bit_generator": {...}}`` for ``set_rng_state``.

    Examples:
        >>> state = cr.get_rng_state()
        >>> a = cr.rand(2).tolist()
        >>> cr.set_rng_state(state)
        >>> cr.rand(2).tolist() == a
        True
    """
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the default generator's state from ``get_rng_state``.

    Args:
        state: a dict as ``get_rng_state`` (or ``Generator.get_state``) returns it.

    Raises:
        ValueError: ``state`` is malformed or not a PCG64 state as ``get_rng_state`` writes it.

    Examples:
        >>> import json
        >>> saved = json.dumps(cr.get_rng_state())
        >>> a = cr.randn(3).tolist()
        >>> cr.set_rng_state(json.loads(saved))
        >>> cr.randn(3).tolist() == a
        True
    """
    default_generator.set_state(state)


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one's.

    For code that draws with NumPy directly (data augmentation, sampling) and
    should follow ``cr.manual_seed``.

    Args:
        generator: a ``cr.Generator``; None means the default generator.

    Returns:
        A ``numpy.random.Generator`` (shared, not a copy: drawing from it advances ``generator``).

    Examples:
        >>> rng = cr.random.numpy_rng()
        >>> rng
        Generator(PCG64) at 0x...
        >>> rng.integers(0, 10, size=3).shape
        (3,)
    """
    if DRAW_CHECKS:  # vmap's randomness policy (chainrule.func): may refuse a draw inside a vmapped function
        DRAW_CHECKS[0]()
    return (generator or default_generator)._rng


#: checks run before every draw through :func:`numpy_rng` (chainrule.func's vmap adds its randomness policy)
DRAW_CHECKS: list = []


class fork_rng:  # noqa: N801 - PyTorch's name
    """Restore the default generator's state on exit.

    A context manager: random numbers drawn inside it do not change what is
    drawn after it. Unlike PyTorch's it takes no arguments and covers only the
    default generator (chainrule's GPU tensors draw from it too).

    Examples:
        >>> a = cr.rand(2).tolist()
        >>> _ = cr.manual_seed(0)
        >>> with cr.random.fork_rng():
        ...     _ = cr.randn(100)
        >>> cr.rand(2).tolist() == a
        True
    """

    def __enter__(self):
        self._state = get_rng_state()
        return self

    def __exit__(self, *exc):
        set_rng_state(self._state)
        return False
