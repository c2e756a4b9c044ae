"""Recommendation recipes (MovieLens): registered with ``@recipe`` from recipes.py."""
