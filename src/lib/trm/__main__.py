"""`python -m compgen.trm ...`: see compgen.trm.cli."""

import sys

from .cli import run

sys.exit(run())
