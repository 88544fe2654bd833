"""Every chapter in _toc.yml runs top to bottom at smoke parameters."""

from __future__ import annotations

import pytest

from compgen import read_glued
from compgen.book import chapter_claims, chapter_notebooks, repo_root

CHAPTERS = chapter_notebooks(repo_root(__file__))


def test_the_toc_lists_chapters():
    assert CHAPTERS, "_toc.yml lists no chapter notebooks"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_at_smoke(notebook, smoke_runs):
    """Run once per session (conftest's smoke_runs: on a clean checkout, the
    chapters as run on Colab; else here, side by side like the book build)."""
    run = smoke_runs[notebook]
    assert run["error"] is None, f"{notebook.name} failed at smoke:\n{run['error']}"
    # every value a claim reads is glued, even in the smoke run
    needed = {name for claim in chapter_claims(notebook) for name in claim.uses}
    missing = needed - read_glued(run["output"]).keys()
    assert not missing, f"{notebook.name} glued nothing called {sorted(missing)}"
