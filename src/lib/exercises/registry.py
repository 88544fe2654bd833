"""Where exercises are found: each chapter module lists its own in `EXERCISES`."""

from __future__ import annotations

import importlib
import pkgutil

from .kinds import Exercise


def _chapter_modules() -> list[str]:
    import compgen

    skip = {"core", "exercises", "book", "claims"}
    return [
        f"compgen.{m.name}"
        for m in pkgutil.iter_modules(compgen.__path__)
        if m.name not in skip and not m.name.startswith("_")
    ]


def all_exercises() -> dict[str, Exercise]:
    """Every exercise in the library, by id, sorted by id."""
    found: dict[str, Exercise] = {}
    for name in _chapter_modules():
        module = importlib.import_module(name)
        for ex in getattr(module, "EXERCISES", []):
            if ex.id in found:
                raise ValueError(f"exercise id {ex.id!r} is defined twice")
            found[ex.id] = ex
    return dict(sorted(found.items()))


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or a ValueError listing the known ones."""
    chapter = exercise_id.split(".")[0] if isinstance(exercise_id, str) else ""
    exercises = all_exercises()
    if exercise_id not in exercises:
        near = [k for k in exercises if k.startswith(chapter + ".")] or list(exercises)
        raise ValueError(f"no exercise {exercise_id!r}; known: {', '.join(near)}")
    return exercises[exercise_id]
