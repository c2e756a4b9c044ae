"""The version of chainrule (one place: the package, the build and ``chainrule --version`` read it here)."""

__version__ = "0.1.0"
