"""Every chapter, run as on Colab, in a fresh environment built from Colab's versions.

The environment is a new virtual environment with exactly the packages and
versions of `tests/colab_runtime.txt` (Colab's published runtime: ipywidgets
7.7.1, ipykernel 6.17.1, IPython 7.34, numpy 2.1.3, matplotlib 3.10.0, ...),
installed offline from the wheels `make` downloaded (`tests/colab_env.py`), plus
torch. Python: the newest on this machine with an offline torch wheel, which here
is the default Python 3.11 (the only local torch build, 2.13.0 CPU, is for 3.11;
Colab runs 3.13 and torch 2.11), with torch linked in from `.venv`.

Each chapter runs whole, at smoke size, in a real IPython kernel of that
environment, started with `google.colab` imported as on Colab. Its real setup
cell installs the library with pip from this repository's committed HEAD (in
place of the web address, and with `--no-index --find-links` to the local wheels:
no network in tests). The test fails if pip installs or replaces any of Colab's
packages, if a cell raises, if a widget is built from a class or given a trait
that the installed ipywidgets lacks, or if an explorer does not follow its
control in the kernel.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from compgen.book import chapter_notebooks, repo_root

sys.path.insert(0, str(Path(__file__).parent))
import colab_env  # noqa: E402

ROOT = repo_root(__file__)
CHAPTERS = chapter_notebooks(ROOT)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def colab(colab_runs):
    """The chapters as run on Colab, once per session (conftest's colab_runs)."""
    return colab_runs


def test_colab_environment_is_left_as_colab_had_it(colab):
    before, after = colab["before"], colab["after"]
    changed = {
        name: (before.get(name), version)
        for name, version in after.items()
        if before.get(name) != version and name != "compgen"
    }
    assert not changed, f"the setup cells changed Colab's packages: {changed}"
    assert "compgen" in after and "compgen" not in before
    assert after["ipywidgets"] == colab_env.pinned()["ipywidgets"]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_on_colab(notebook, colab):
    result = colab["results"][notebook]
    assert result["rc"] == 0, f"{notebook.stem} on Colab:\n{result['log']}"
    nb = nbformat.read(result["out"], as_version=4)
    text = "".join(
        o.get("text", "") for o in nb.cells[-1].get("outputs", []) if "text" in o
    )
    assert re.search(r"compgen-colab-check: \d+ explorers", text), text
