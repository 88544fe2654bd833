"""Book tooling: the table of contents, setup cells, execution, new chapters.

    python -m compgen.book build         # build the HTML book (what `make book` runs)
    python -m compgen.book list          # the chapters, in book order
    python -m compgen.book sync          # rewrite setup cells and the closing table
    python -m compgen.book strip         # remove outputs before committing
    python -m compgen.book new SLUG "Title"   # scaffold a chapter notebook

Needs the book's tools (pyyaml, nbformat, papermill), not just the library.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SETUP_TAG = "setup"
PARAMETERS_TAG = "parameters"


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding _config.yml, searched upwards from `start` (or the cwd)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(
        f"no _config.yml and _toc.yml above {here}: not in the book"
    )


def load_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def repository(root: Path | None = None) -> dict[str, str]:
    """The repository named once in _config.yml: url, branch, path_to_book."""
    root = root or repo_root()
    repo = (load_yaml(root / "_config.yml") or {}).get("repository") or {}
    if not repo.get("url") or not repo.get("branch"):
        raise ValueError(f"{root / '_config.yml'} must name repository.url and .branch")
    return {
        "url": repo["url"].rstrip("/"),
        "branch": repo["branch"],
        "path_to_book": repo.get("path_to_book", ""),
    }


def toc_files(root: Path | None = None) -> list[str]:
    """Every file named in _toc.yml (root first), in book order, without suffix."""
    root = root or repo_root()
    toc = load_yaml(root / "_toc.yml")
    files: list[str] = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return files


def chapter_notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks listed in _toc.yml, in book order."""
    root = root or repo_root()
    found = [root / f"{f}.ipynb" for f in toc_files(root)]
    return [p for p in found if p.is_file()]


def chapter_module(notebook: Path):
    """The library module a chapter names in its metadata (compgen.claims)."""
    import importlib
    import json

    meta = json.loads(Path(notebook).read_text()).get("metadata", {})
    module = meta.get("compgen", {}).get("claims")
    if not module:
        raise ValueError(f"{notebook} has no metadata.compgen.claims naming its module")
    return importlib.import_module(module)


def chapter_claims(notebook: Path) -> list:
    """The CLAIMS of the module a chapter names in its metadata (compgen.claims)."""
    return list(chapter_module(notebook).CLAIMS)


def chapter_headlines(notebook: Path) -> list:
    """The HEADLINES of a chapter's module (none if it names no module or states
    none)."""
    try:
        module = chapter_module(notebook)
    except ValueError:
        return []
    return list(getattr(module, "HEADLINES", []))


def chapter_title(notebook: Path) -> str:
    """The first heading of a chapter notebook."""
    for cell in _read(notebook).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook.stem


CONCLUSION = "book/conclusion.md"
TABLE_START = (
    "<!-- headlines: written by `python -m compgen.book sync`; edit HEADLINES -->"
)
TABLE_END = "<!-- /headlines -->"


def headline_table(root: Path | None = None) -> str:
    """The closing page's table: every chapter's HEADLINES, in book order, as MyST.

    Our values are glue roles that read each chapter's execution, so the table
    never holds a typed-in number of ours.
    """
    root = root or repo_root()
    rows = [
        "| chapter | finding | the paper | this book |",
        "|---|---|---|---|",
    ]
    for notebook in chapter_notebooks(root):
        doc = "/" + notebook.relative_to(root).as_posix()
        headlines = chapter_headlines(notebook)
        for h in headlines:
            paper = h.paper
            if h.source:
                paper = f"{{footcite:t}}`{h.source}`: {paper}"
            first = h is headlines[0]  # name the chapter once, on its first row
            link = f"[{chapter_title(notebook)}]({doc})" if first else ""
            cells = [link, h.finding, paper, h.myst(doc)]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def sync_conclusion(root: Path | None = None) -> bool:
    """Rewrite the table between the markers of book/conclusion.md; True if changed."""
    root = root or repo_root()
    page = root / CONCLUSION
    text = page.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise ValueError(
            f"{page} lacks the table markers {TABLE_START!r} / {TABLE_END!r}"
        )
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = f"{head}{TABLE_START}\n{headline_table(root)}\n{TABLE_END}{tail}"
    if new != text:
        page.write_text(new)
        return True
    return False


def setup_cell_source(root: Path | None = None) -> str:
    """The setup cell every chapter starts with, from the repository in _config.yml."""
    repo = repository(root)
    spec = f"compgen @ git+{repo['url']}@{repo['branch']}"
    return (
        "# Setup. On Colab, install the book's library from its repository (this\n"
        "# keeps Colab's own torch). Locally, `make lab` has installed it already.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    spec = "{spec}"\n'
        '    cmd = [sys.executable, "-m", "pip", "install", "-q", spec]\n'
        "    subprocess.run(cmd, check=True)"
    )


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _write(nb, path: Path) -> None:
    import nbformat

    nbformat.write(nb, path)


def tagged_cells(nb, tag: str) -> list:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def sync_setup_cells(root: Path | None = None) -> list[Path]:
    """Rewrite each chapter's setup cell from _config.yml; return the changed ones."""
    root = root or repo_root()
    source, changed = setup_cell_source(root), []
    for path in chapter_notebooks(root):
        nb = _read(path)
        cells = tagged_cells(nb, SETUP_TAG)
        if len(cells) != 1:
            raise ValueError(f"{path} needs exactly one cell tagged {SETUP_TAG!r}")
        if cells[0].source != source:
            cells[0].source = source
            _write(nb, path)
            changed.append(path)
    return changed


def strip_outputs(path: Path) -> bool:
    """Remove outputs, execution counts and run metadata; True if the file changed."""
    import nbformat

    nb = _read(path)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "papermill", "ExecuteTime", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    if nbformat.writes(nb) == before:
        return False
    _write(nb, path)
    return True


def execute_notebook(
    path: Path,
    output: Path,
    *,
    parameters: dict[str, Any] | None = None,
    timeout: int = 600,
) -> Path:
    """Run a notebook with papermill (cwd = its folder); raises on a failing cell."""
    import papermill

    os.environ.setdefault("COMPGEN_PROGRESS", "0")  # the kernel inherits it
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(path),
        str(output),
        parameters=parameters or {},
        kernel_name="python3",
        cwd=str(path.parent),
        execution_timeout=timeout,
        progress_bar=False,
        log_output=False,
    )
    return output


# --all: re-execute every chapter even if Sphinx thinks a page is unchanged (the
# library may have changed); -W -n: a warning or a broken reference fails the build.
BUILD_FLAGS = ("--all", "--warningiserror", "--nitpick", "--keep-going")


def build_book(
    root: Path | None = None, *, capture: bool = False
) -> subprocess.CompletedProcess:
    """Build the HTML book into <root>/_build, executing every chapter.

    Progress bars are switched off and checkpoints go to a fresh folder, so no
    chapter resumes a run saved by an earlier build. Returns the finished process
    (its returncode is non-zero if any cell raised or Sphinx warned).
    """
    root = root or repo_root()
    if (root / CONCLUSION).is_file():
        sync_conclusion(root)  # the closing table follows the chapters' HEADLINES
    exe = Path(sys.executable).with_name("jupyter-book")
    exe = str(exe) if exe.exists() else "jupyter-book"
    cmd = [exe, "build", str(root), *BUILD_FLAGS]
    with tempfile.TemporaryDirectory(prefix="compgen-ckpt-") as ckpt:
        # COMPGEN_STATIC: the page will have no kernel, so widgets that need one
        # render as static text instead (see compgen.exercises.display)
        env = dict(
            os.environ,
            COMPGEN_PROGRESS="0",
            COMPGEN_CHECKPOINTS=ckpt,
            COMPGEN_STATIC="1",
        )
        return subprocess.run(cmd, env=env, text=True, capture_output=capture)


def executed_notebook(notebook: Path, root: Path | None = None) -> Path:
    """Where the last book build left the executed copy of a chapter notebook."""
    root = root or repo_root()
    rel = notebook.resolve().relative_to(root.resolve())
    return root / "_build" / "jupyter_execute" / rel


def notebook_metadata() -> dict:
    """The kernel and language metadata every notebook the book writes carries."""
    return {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        },
        "language_info": {"name": "python"},
    }


def new_chapter(slug: str, title: str, root: Path | None = None) -> Path:
    """Create chapters/<slug>.ipynb with the book's chapter anatomy."""
    import nbformat.v4 as nbf

    if not slug.isidentifier() or slug != slug.lower():
        raise ValueError(f"a chapter slug is a lower-case identifier, got {slug!r}")
    root = root or repo_root()
    path = root / "chapters" / f"{slug}.ipynb"
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    md, code = nbf.new_markdown_cell, nbf.new_code_cell
    cells = [
        md(
            f"# {title}\n\nThe question, in one paragraph.\n\n"
            "**After this chapter you can** ..."
        ),
        code(setup_cell_source(root), metadata={"tags": [SETUP_TAG]}),
        code(
            "import torch\n\n"
            f"from compgen import {slug}, glue, seed_everything, get_device, "
            "use_book_style\nfrom compgen.claims import claims_table\n\n"
            "use_book_style()"
        ),
        code(
            "SMOKE = False  # True: tiny sizes, the whole chapter in seconds\nSEED = 0",
            metadata={"tags": [PARAMETERS_TAG]},
        ),
        code("seed_everything(SEED)\ndevice = get_device()"),
        md(
            "## The idea\n\n## The experiment\n\n## What it shows\n\n"
            "## Explore\n\n## Exercises"
        ),
        md(
            "## Claims\n\nThe numbers above, checked (the tests assert these at "
            "book parameters)."
        ),
        code(f"claims_table({slug}.CLAIMS)"),
        md(
            "## The paper vs. this chapter\n\n| | paper | this chapter |\n"
            "|---|---|---|\n\n## References\n\n```{footbibliography}\n```"
        ),
    ]
    nb = nbf.new_notebook(
        cells=cells,
        metadata={**notebook_metadata(), "compgen": {"claims": f"compgen.{slug}"}},
    )
    _write(nb, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compgen.book",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build the HTML book into _build/html")
    sub.add_parser("list", help="the chapters in book order")
    sub.add_parser(
        "sync", help="rewrite setup cells from _config.yml and the closing table"
    )
    sub.add_parser("strip", help="remove outputs from the chapter notebooks")
    new = sub.add_parser("new", help="scaffold a chapter notebook")
    new.add_argument("slug")
    new.add_argument("title")
    args = parser.parse_args(argv)
    root = repo_root()
    if args.cmd == "build":
        done = build_book(root)
        if done.returncode == 0:
            print(f"The book is at {root / '_build' / 'html' / 'index.html'}")
        return done.returncode
    if args.cmd == "list":
        for path in chapter_notebooks(root):
            print(path.relative_to(root))
    elif args.cmd == "sync":
        for path in sync_setup_cells(root):
            print(f"updated {path.relative_to(root)}")
        if (root / CONCLUSION).is_file() and sync_conclusion(root):
            print(f"updated {CONCLUSION}")
    elif args.cmd == "strip":
        for path in sorted((root / "chapters").glob("*.ipynb")):
            if strip_outputs(path):
                print(f"stripped {path.relative_to(root)}")
    elif args.cmd == "new":
        path = new_chapter(args.slug, args.title, root)
        print(
            f"created {path.relative_to(root)}; add `- file: chapters/{args.slug}` "
            f"to _toc.yml and write compgen/{args.slug}.py with its CLAIMS"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
