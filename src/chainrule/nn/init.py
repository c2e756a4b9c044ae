"""Weight initialization (to be filled by the layers work)."""
