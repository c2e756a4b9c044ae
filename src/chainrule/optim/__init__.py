"""Optimizers and learning-rate schedules (to be filled)."""
