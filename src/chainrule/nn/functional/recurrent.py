"""Functional recurrent (to be filled)."""

__all__: list[str] = []
