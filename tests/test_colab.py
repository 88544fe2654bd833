"""Each chapter's first cells, run as on Colab, in a fresh environment like Colab's.

The environment is a new virtual environment where torch, numpy, matplotlib,
ipywidgets and the rest of what Colab ships are already installed (made
offline: the packages of this checkout's .venv are linked in) and the book's
library is not. Each chapter's setup cell runs with `google.colab` imported, so
it really installs the library with pip, from this repository's committed HEAD
instead of the web address (no network in tests). Then the chapter's next cells,
up to the first one after its parameters cell, run with SMOKE = True.

The test fails if pip installs or replaces anything besides the library (above
all torch), or if a cell raises.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

from compgen.book import (
    PARAMETERS_TAG,
    SETUP_TAG,
    chapter_notebooks,
    repo_root,
    repository,
)

ROOT = repo_root(__file__)
CHAPTERS = chapter_notebooks(ROOT)
# what a Colab runtime has before the chapter installs anything
# (pip too: the venv's bundled pip may be older than Colab's)
PREINSTALLED = [
    "torch",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "tqdm",
    "setuptools",
    "pip",
]

pytestmark = pytest.mark.slow


def _closure(names: list[str]) -> list[md.Distribution]:
    """The installed distributions `names` need, with their dependencies."""
    from packaging.requirements import Requirement

    seen: dict[str, md.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # an optional dependency this checkout does not have
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    seen.pop("compgen", None)
    return list(seen.values())


def _link_packages(dists: list[md.Distribution], site: Path) -> None:
    """Symlink each distribution's top-level files and folders into `site`."""
    site.mkdir(parents=True)
    for dist in dists:
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            top = Path(file).parts[0]
            if top in ("..", "__pycache__") or (site / top).exists():
                continue
            if (base / top).exists():
                (site / top).symlink_to(base / top)


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python, workdir): a fresh venv with Colab's packages and no compgen."""
    tmp = tmp_path_factory.mktemp("colab")
    venv.create(tmp / "venv", with_pip=False)
    python = tmp / "venv" / "bin" / "python"
    site = tmp / "preinstalled"
    _link_packages(_closure(PREINSTALLED), site)
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "colab_preinstalled.pth").write_text(f"{site}\n")
    # a stand-in for Colab's own module, which the setup cell looks for
    (tmp / "fake" / "google" / "colab").mkdir(parents=True)
    (tmp / "fake" / "google" / "colab" / "__init__.py").write_text("")
    work = tmp / "work"
    work.mkdir()
    probe = subprocess.run(
        [python, "-c", "import torch, numpy, matplotlib, ipywidgets\nimport compgen"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert "No module named 'compgen'" in probe.stderr, probe.stderr[-2000:]
    return python, work, tmp / "fake"


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def _first_cells(notebook: Path) -> list[str]:
    """Setup cell, then code cells up to the first one after the parameters."""
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    out, after_parameters = [], False
    for cell in code:
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if PARAMETERS_TAG in tags:
            source += "\nSMOKE = True"
            after_parameters = True
        elif after_parameters:
            out.append(source)
            break
        out.append(source)
    assert SETUP_TAG in code[0].get("metadata", {}).get("tags", [])
    return out


def _installed(python: Path) -> dict[str, str]:
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listing)}


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_starts_on_colab(notebook, colab):
    python, work, fake = colab
    commit = _commit()
    assert commit, "no commit to install from"
    cells = _first_cells(notebook)
    repo = repository(ROOT)
    web = f"git+{repo['url']}@{repo['branch']}"
    assert web in cells[0], "the setup cell does not install from the repository"
    cells[0] = (
        cells[0]
        .replace(web, f"git+file://{ROOT}@{commit}")
        .replace(
            '"install", "-q",', '"install", "-q", "--no-index", "--no-build-isolation",'
        )
    )
    assert "--no-index" in cells[0], "the setup cell's pip command changed shape"
    before = _installed(python)
    script = "\n\n".join(["import google.colab  # as on Colab", *cells])
    env = dict(os.environ, PYTHONPATH=str(fake), MPLBACKEND="Agg")
    env.pop("COMPGEN_STATIC", None)
    done = subprocess.run(
        [python, "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    after = _installed(python)
    changed = {
        name: (before.get(name), version)
        for name, version in after.items()
        if before.get(name) != version and name != "compgen"
    }
    assert not changed, f"the setup cell changed Colab's packages: {changed}"
    assert "compgen" in after
    assert after["torch"] == before["torch"]
