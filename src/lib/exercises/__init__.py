"""Exercises: kinds with pure checkers, a registry, notebook widgets, grading.

Chapter modules define `EXERCISES`; chapters call `show`, `check`, `commit` and
`reveal`; instructors use `python -m compgen.exercises list|assign|grade`.
"""

from .display import check, commit, reveal, show
from .kinds import (
    CodeExercise,
    Exercise,
    Feedback,
    MultipleChoice,
    Numeric,
    PredictThenRun,
    compare,
    run_with_time_limit,
)
from .registry import all_exercises, get

__all__ = [
    "CodeExercise",
    "Exercise",
    "Feedback",
    "MultipleChoice",
    "Numeric",
    "PredictThenRun",
    "all_exercises",
    "check",
    "commit",
    "compare",
    "get",
    "reveal",
    "run_with_time_limit",
    "show",
]
