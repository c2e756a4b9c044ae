"""``python -m chainrule``: the same as the ``chainrule`` command."""

import sys

from .train.cli import main

sys.exit(main())
