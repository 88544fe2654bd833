"""A tiny recursive network on Sudoku (Jolicoeur-Martineau 2025).

`sudoku`: puzzles, the exact solver, augmentations. `model`: the TRM.
`training`: deep supervision, EMA, presets, saving and loading runs.
`experiment`: the chapter's runs, figures, explorer, claims and exercises.
"""

from . import scaling
from .cli import main
from .experiment import *  # noqa: F403
from .experiment import CLAIMS, EXERCISES, HEADLINES
from .model import *  # noqa: F403
from .sudoku import *  # noqa: F403
from .training import *  # noqa: F403

__all__ = ["CLAIMS", "EXERCISES", "HEADLINES", "main", "scaling"]
