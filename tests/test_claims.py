"""Every chapter's claims, asserted on its execution at book parameters.

The notebooks are executed once, by the book build (see conftest.built_book);
these tests read the values each chapter glued and check its CLAIMS.
"""

from __future__ import annotations

import pytest

from compgen import read_glued
from compgen.book import (
    chapter_claims,
    chapter_headlines,
    chapter_notebooks,
    executed_notebook,
    repo_root,
)
from compgen.claims import evaluate_claims

ROOT = repo_root(__file__)
CHAPTERS = chapter_notebooks(ROOT)

pytestmark = pytest.mark.claims


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_claims_hold_at_book_parameters(notebook, built_book):
    executed = executed_notebook(notebook, ROOT)
    assert executed.is_file(), f"the book build did not execute {notebook.name}"
    claims = chapter_claims(notebook)
    assert claims, f"{notebook.name} states no claim: every chapter states one"
    failed = [
        r for r in evaluate_claims(claims, read_glued(executed)) if not r["holds"]
    ]
    assert not failed, "\n".join(
        f"{r['name']}: {r['statement']} ({r['detail']})" for r in failed
    )


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_headlines_read_values_the_chapter_glued(notebook, built_book):
    glued = read_glued(executed_notebook(notebook, ROOT))
    for h in chapter_headlines(notebook):
        missing = [k for k in h.keys() if k not in glued]
        assert not missing, f"{notebook.name}: {h.finding!r} uses unglued {missing}"


def test_the_built_book_has_a_page_per_chapter(built_book):
    for notebook in CHAPTERS:
        page = built_book / "html" / notebook.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"no page for {notebook.name}"
        html = page.read_text()
        traceback = "Traceback (most recent call last)"
        assert traceback not in html, f"{page.name} shows a traceback"
        assert "<img" in html, f"{page.name} has no figure"
