"""The book's plumbing: toc, setup cells, notebooks, packaging, failures."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from compgen.book import (
    CONCLUSION,
    PARAMETERS_TAG,
    SETUP_TAG,
    TABLE_END,
    TABLE_START,
    book_jobs,
    build_book,
    chapter_claims,
    chapter_headlines,
    chapter_notebooks,
    execute_chapters,
    execute_notebook,
    headline_table,
    new_chapter,
    repo_root,
    repository,
    setup_cell_source,
    slowest_chapters,
    strip_outputs,
    sync_conclusion,
    tagged_cells,
    thread_env,
    toc_files,
)
from compgen.claims import Headline

ROOT = repo_root(__file__)
CHAPTERS = chapter_notebooks(ROOT)
ids = {"ids": lambda p: p.stem}


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    for entry in toc_files(ROOT):
        assert list(ROOT.glob(entry + ".*")), (
            f"_toc.yml names {entry}, which is missing"
        )
    listed = {p.resolve() for p in CHAPTERS}
    for notebook in (ROOT / "chapters").glob("*.ipynb"):
        assert notebook.resolve() in listed, f"{notebook.name} is not in _toc.yml"


@pytest.mark.parametrize("notebook", CHAPTERS, **ids)
def test_setup_cell_installs_from_the_configured_repository(notebook):
    repo = repository(ROOT)
    cells = tagged_cells(nbformat.read(notebook, as_version=4), SETUP_TAG)
    assert len(cells) == 1, f"{notebook.name} needs one cell tagged {SETUP_TAG!r}"
    source = cells[0].source
    assert source == setup_cell_source(ROOT), "stale setup cell: run `make sync`"
    assert f"git+{repo['url']}@{repo['branch']}" in source
    assert '"google.colab" in sys.modules' in source  # installs on Colab only
    assert "torch" not in source.split("spec =")[1]  # never reinstalls torch


def test_colab_launch_button_points_at_the_repository():
    cfg = _yaml(ROOT / "_config.yml")
    assert cfg["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert re.fullmatch(
        r"https://github\.com/[\w.-]+/[\w.-]+", cfg["repository"]["url"]
    )
    assert cfg["execute"]["execute_notebooks"] == "force"
    assert cfg["sphinx"]["config"]["nb_execution_raise_on_error"] is True


@pytest.mark.parametrize("notebook", CHAPTERS, **ids)
def test_chapter_anatomy(notebook):
    nb = nbformat.read(notebook, as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{notebook.name}: outputs in cells {dirty}; run `make strip`"
    params = tagged_cells(nb, PARAMETERS_TAG)
    assert len(params) == 1, f"{notebook.name} needs one cell tagged 'parameters'"
    assert "SMOKE = False" in params[0].source and "SEED =" in params[0].source
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert chapter_claims(notebook), f"{notebook.name} states no claims"
    assert "footbibliography" in nb.cells[-1].source, "the last cell lists references"


def test_pyproject_packages_every_library_folder():
    packages = set(_toml(ROOT / "pyproject.toml")["tool"]["setuptools"]["packages"])
    lib = ROOT / "src" / "lib"
    found = {"compgen"} | {
        "compgen." + ".".join(p.parent.relative_to(lib).parts)
        for p in lib.rglob("__init__.py")
        if p.parent != lib
    }
    assert found == packages, "list every subpackage in pyproject.toml"


def test_requirements_keep_torch_a_range_and_jupyter_book_1():
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").open()]
    assert "jupyter-book>=1.0.4,<2" in lines and "-e ." in lines
    torch_line = next(ln for ln in lines if ln.startswith("torch"))
    assert "==" not in torch_line, "a pin would make Colab reinstall torch"


def test_strip_removes_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1+1")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "2"})
    ]
    nb.cells[0].execution_count = 1
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert strip_outputs(path) and not strip_outputs(path)
    cell = json.loads(path.read_text())["cells"][0]
    assert cell["outputs"] == [] and cell["execution_count"] is None


def small_book(
    tmp_path: Path, cells: list[str], more: dict[str, list[str]] | None = None
) -> Path:
    """A copy of the book's config with one chapter made of `cells` (chapters/ch),
    and one more chapter per entry of `more` ({stem: cells})."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    for name in ("_config.yml", "package.json", "package-lock.json"):
        shutil.copy(ROOT / name, book / name)
    if (ROOT / "node_modules").is_dir():  # else the build runs `npm ci` there
        (book / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copytree(ROOT / "book", book / "book")
    chapters = {"ch": cells, **(more or {})}
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        + "".join(f"  - file: chapters/{stem}\n" for stem in chapters)
    )
    (book / "book" / "intro.md").write_text("# A small book\n")
    for stem, code in chapters.items():
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell(f"# {stem.title()}")]
            + [nbformat.v4.new_code_cell(c) for c in code]
        )
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, book / "chapters" / f"{stem}.ipynb")
    return book


BROKEN = ["x = 1", "raise RuntimeError('this chapter is broken on purpose')"]


def test_a_broken_chapter_fails_its_test_with_the_cell_error(tmp_path):
    book = small_book(tmp_path, BROKEN)
    with pytest.raises(Exception, match="broken on purpose") as info:
        execute_notebook(book / "chapters" / "ch.ipynb", tmp_path / "out.ipynb")
    assert "RuntimeError" in str(info.value)


@pytest.mark.book
def test_a_broken_chapter_fails_the_book_build_with_its_name_and_error(tmp_path):
    book = small_book(tmp_path, ["print('fine')"], {"bad": BROKEN})
    done = build_book(book, capture=True)
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert "chapter chapters/bad failed" in log
    assert "RuntimeError" in log and "broken on purpose" in log
    timings = json.loads((book / "_build" / "timings.json").read_text())
    assert timings["chapters"]["chapters/bad"]["ok"] is False
    assert timings["chapters"]["chapters/ch"]["ok"] is True


# each chapter sleeps, so two run side by side only if their runs overlap; the
# second reads a file that stands in for the library's source
SLOW = "import time\ntime.sleep(4)\n"
READS = SLOW + "from pathlib import Path\nprint('value', Path('value.txt').read_text())"
THREADS = "import torch\nprint('torch threads', torch.get_num_threads())"


@pytest.mark.book
def test_chapters_execute_side_by_side_afresh_and_are_timed(tmp_path):
    book = small_book(tmp_path, [SLOW, THREADS], {"reads": [READS]})
    (book / "chapters" / "value.txt").write_text("first")
    done = build_book(book, capture=True, jobs=2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (book / "_build/html/chapters/reads.html").read_text()
    assert "value first" in html
    assert "torch threads 1" in (book / "_build/html/chapters/ch.html").read_text()
    timings = json.loads((book / "_build" / "timings.json").read_text())
    ch, reads = (timings["chapters"][f"chapters/{s}"] for s in ("ch", "reads"))
    assert timings["jobs"] == 2 and timings["machine"]["cores"] >= 1
    assert ch["seconds"] >= 4 and reads["seconds"] >= 4
    assert abs(ch["start_s"] - reads["start_s"]) < 2  # both started at once
    assert timings["wall_s"] > 0 and timings["chapters_sum_s"] > 0
    slept = [c for c in ch["slowest_cells"] if c[2] == "import time"]  # named
    assert len(slept) == 1 and 3.9 <= slept[0][1] < ch["seconds"], ch
    # the library changed: the next build executes again, nothing stale is read
    (book / "chapters" / "value.txt").write_text("second")
    done = build_book(book, capture=True, jobs=2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "value second" in (book / "_build/html/chapters/reads.html").read_text()


def test_chapters_are_scheduled_longest_first(tmp_path, monkeypatch):
    from compgen import book as book_module

    started = []

    def fake_run(cmd, env, capture_output, text):
        job = json.loads(Path(cmd[-1]).read_text())
        started.append(Path(job["path"]).stem)
        Path(job["result"]).write_text(
            json.dumps({"path": job["path"], "seconds": 0.0, "error": None,
                        "notebook": None})  # fmt: skip
        )
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(book_module.subprocess, "run", fake_run)
    paths = [tmp_path / f"{s}.ipynb" for s in ("short", "long", "unknown")]
    runs = execute_chapters(
        paths, jobs=1, expected={paths[0]: 5.0, paths[1]: 500.0}
    )
    assert started == ["long", "unknown", "short"]  # unknown: DEFAULT_SECONDS
    assert [Path(r["path"]).stem for r in runs] == ["short", "long", "unknown"]
    assert all(r["threads"] >= 1 for r in runs)


def test_kernels_get_one_share_of_the_cores():
    env = thread_env(1)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert book_jobs() >= 1


def test_slowest_chapters_reads_a_timings_record():
    timings = {"chapters": {"a": {"seconds": 3.0}, "b": {"seconds": 9.0}}}
    assert slowest_chapters(timings, 1) == [("b", 9.0)]


def test_new_chapter_scaffold_has_the_anatomy(tmp_path):
    book = small_book(tmp_path, [])
    path = new_chapter("demo", "A demo chapter", book)
    nb = nbformat.read(path, as_version=4)
    assert tagged_cells(nb, SETUP_TAG)[0].source == setup_cell_source(book)
    assert "SMOKE = False" in tagged_cells(nb, PARAMETERS_TAG)[0].source
    assert nb.metadata["compgen"]["claims"] == "compgen.demo"
    with pytest.raises(FileExistsError):
        new_chapter("demo", "again", book)
    with pytest.raises(ValueError, match="slug"):
        new_chapter("Bad Slug", "x", book)


def _yaml(path):
    import yaml

    return yaml.safe_load(path.read_text())


def _toml(path):
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads(path.read_text())


def test_conclusion_table_is_current():
    page = (ROOT / CONCLUSION).read_text()
    assert f"{TABLE_START}\n{headline_table(ROOT)}\n{TABLE_END}" in page, (
        "stale closing table: run `python -m compgen.book sync`"
    )


@pytest.mark.parametrize("notebook", CHAPTERS, **ids)
def test_every_chapter_states_its_headlines(notebook):
    headlines = chapter_headlines(notebook)
    assert headlines, f"{notebook.name}: its module defines no HEADLINES"
    assert all(isinstance(h, Headline) for h in headlines)


def test_headline_fills_its_template_from_glued_values():
    h = Headline("gap", "big", "{a:.2f} vs {b}", "some2025paper")
    assert h.keys() == ["a", "b"]
    assert h.render({"a": 0.123, "b": 4}) == "0.12 vs 4"
    assert "not glued: b" in h.render({"a": 0.1})
    assert h.myst("/chapters/x.ipynb") == (
        "{glue:text}`/chapters/x.ipynb::a:.2f` vs {glue:text}`/chapters/x.ipynb::b:s`"
    )
    with pytest.raises(ValueError, match="glued value"):
        Headline("gap", "big", "0.9, typed in")


def test_headline_scaling_is_a_template_of_glued_values_too():
    h = Headline("gap", "big", "{a:.2f}", scaling="{small:.2f} → {large:.2f}")
    assert h.keys() == ["a", "small", "large"]
    assert h.myst("/c.ipynb", h.scaling) == (
        "{glue:text}`/c.ipynb::small:.2f` → {glue:text}`/c.ipynb::large:.2f`"
    )
    assert h.render({"a": 0.5}) == "0.50"
    with pytest.raises(ValueError, match="scaling"):
        Headline("gap", "big", "{a}", scaling="0.1 → 0.2, typed in")


def test_conclusion_sync_needs_its_markers(tmp_path):
    book = small_book(tmp_path, [])
    (book / CONCLUSION).write_text("# The end\n\nno markers here\n")
    with pytest.raises(ValueError, match="markers"):
        sync_conclusion(book)


def test_publishing_workflow_builds_with_make_book_and_deploys_the_html():
    flow = _yaml(ROOT / ".github" / "workflows" / "book.yml")
    steps = flow["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book" for s in steps)
    upload = [s for s in steps if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert "cpu" in flow["jobs"]["build"]["env"]["TORCH_SPEC"]  # never a CUDA wheel
    deploy = flow["jobs"]["deploy"]["steps"]
    assert any("deploy-pages" in s.get("uses", "") for s in deploy)
