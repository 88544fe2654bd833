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
import re
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
        "| chapter | finding | the paper | this book "
        "| as the failing model grows (smallest → largest) |",
        "|---|---|---|---|---|",
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
            grows = h.myst(doc, h.scaling) if h.scaling else ""
            cells = [link, h.finding, paper, h.myst(doc), grows]
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
        start_timeout=KERNEL_START_S,
        progress_bar=False,
        log_output=False,
    )
    return output


# --all: re-read every page even if Sphinx thinks it is unchanged; -W -n: a
# warning or a broken reference fails the build.
BUILD_FLAGS = ("--all", "--warningiserror", "--nitpick", "--keep-going")

TIMINGS = "timings.json"  # under _build: what the last build's execution cost
# Rough book-tier seconds on one thread, to start the longest chapters first when
# no earlier build left _build/timings.json; a chapter not named here counts as
# DEFAULT_SECONDS.
EXPECTED_SECONDS = {  # seconds alone on one thread (make book, 2026-12-02, 04:35)
    "chapters/trm": 68,
    "chapters/subnetworks": 44,
    "chapters/fer": 42,
    "chapters/subgraph_matching": 34,
    "chapters/binding": 33,
    "chapters/scan": 32,
    "chapters/embers": 28,
    "chapters/coverage": 23,
    "chapters/how_to_use": 13,
}
DEFAULT_SECONDS = 150
# How long a kernel may take to start: on 2 cores busy with other kernels (the
# tests run beside the book build) a start took over nbclient's default 60 s.
KERNEL_START_S = 300


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def book_jobs() -> int:
    """Chapters executed at once: COMPGEN_BOOK_JOBS, else one per core."""
    value = os.environ.get("COMPGEN_BOOK_JOBS", "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"COMPGEN_BOOK_JOBS must be an int >= 1, got {value!r}")
        return int(value)
    return available_cores()


def thread_env(threads: int) -> dict[str, str]:
    """Environment that holds a kernel's torch (OpenMP, MKL, BLAS) to `threads`."""
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
    }


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _execute_job(job: dict) -> dict:
    """Run in a worker process: execute one notebook, return it or its error.

    With `parameters` the run goes through papermill (as the smoke tests do);
    without, through jupyter-cache's executor, as MyST-NB's own execution does.
    """
    import time

    import nbformat

    os.environ.update(job["env"])  # the kernel inherits these
    path = Path(job["path"])
    start = time.perf_counter()
    out: dict[str, Any] = {"path": job["path"], "error": None, "notebook": None}
    if job.get("parameters") is not None:
        try:
            execute_notebook(
                path, Path(job["output"]), parameters=job["parameters"],
                timeout=job["timeout"],
            )  # fmt: skip
        except Exception as exc:  # papermill names the cell and the error
            out["error"] = _ANSI.sub("", f"{type(exc).__name__}: {exc}")
        out["seconds"] = time.perf_counter() - start
        return out
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(
        nb, cwd=str(path.parent), timeout=job["timeout"], allow_errors=False,
        startup_timeout=KERNEL_START_S, record_timing=True,
    )  # fmt: skip
    out["seconds"] = time.perf_counter() - start
    out["cells"] = cell_seconds(result.nb)
    if result.err is not None:
        out["error"] = _ANSI.sub("", f"{type(result.err).__name__}: {result.err}")
    else:
        out["notebook"] = nbformat.writes(result.nb)
    return out


def cell_seconds(nb, k: int = 3) -> list[list]:
    """The k slowest code cells of an executed notebook: [index, seconds, first
    line], from the timestamps nbclient records (record_timing)."""
    from datetime import datetime

    rows = []
    for index, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        begin = stamps.get("iopub.execute_input")
        end = stamps.get("shell.execute_reply")
        if cell.cell_type != "code" or not (begin and end):
            continue
        seconds = (
            datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(begin.replace("Z", "+00:00"))
        ).total_seconds()
        line = next((x for x in cell.source.splitlines() if x.strip()), "")
        rows.append([index, round(seconds, 2), line[:80]])
    return sorted(rows, key=lambda r: -r[1])[:k]


_WORKER = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"


def _execute_cli(job_file: str) -> int:
    """`python -m compgen.book _execute JOB.json`: one chapter, result to a file."""
    import json

    job = json.loads(Path(job_file).read_text())
    Path(job["result"]).write_text(json.dumps(_execute_job(job)))
    return 0


def execute_chapters(
    notebooks: list[Path],
    *,
    jobs: int | None = None,
    timeout: int = 600,
    parameters: dict[str, Any] | None = None,
    outputs: dict[Path, Path] | None = None,
    env: dict[str, str] | None = None,
    expected: dict[Path, float] | None = None,
    on_done=None,
) -> list[dict]:
    """Execute notebooks side by side, `jobs` at a time, longest expected first.

    Each kernel gets cores // jobs torch threads (at least one; by default one
    job per core, so one thread) through its environment, so that parallel
    chapters do not oversubscribe the CPU. Returns one record per notebook, in
    the order given: path; seconds (its worker's wall time, kernel start
    included: what it costs run alone); notebook_s (first to last cell); error
    (None, or the failing cell and its traceback); notebook (the executed
    notebook as JSON, for runs without `parameters`); start and end (seconds
    after the first start); threads. `on_done(record)` is called as each ends.
    """
    import json
    import time
    from concurrent.futures import ThreadPoolExecutor, as_completed

    asked = jobs or book_jobs()
    jobs = max(1, min(asked, len(notebooks) or 1))
    threads = max(1, available_cores() // asked)  # a lone chapter too: its share
    kernel_env = {**(env or os.environ), **thread_env(threads)}
    expected = expected or {}
    order = sorted(notebooks, key=lambda p: -expected.get(p, DEFAULT_SECONDS))
    records: dict[Path, dict] = {}
    t0 = time.perf_counter()

    def run(path: Path, folder: str) -> dict:
        # one worker process per chapter (it starts the chapter's kernel), fed
        # and read through files: nothing of this process is forked into it
        job = {
            "path": str(path),
            "timeout": timeout,
            "env": kernel_env,
            "parameters": parameters,
            "output": str((outputs or {}).get(path, "")),
            "result": str(Path(folder) / f"{notebooks.index(path)}-{path.stem}.json"),
        }
        job_file = Path(folder) / f"job-{notebooks.index(path)}.json"
        job_file.write_text(json.dumps(job))
        begin = time.perf_counter() - t0
        # this file run as a script: the worker does not import torch (compgen)
        cmd = [sys.executable, "-c", _WORKER, __file__, "_execute", str(job_file)]
        done = subprocess.run(cmd, env=kernel_env, capture_output=True, text=True)
        try:
            record = json.loads(Path(job["result"]).read_text())
        except (OSError, ValueError):
            record = {"path": str(path), "notebook": None, "seconds": 0.0,
                      "error": f"the worker for {path.name} died (exit "
                      f"{done.returncode}):\n{done.stderr[-3000:]}"}  # fmt: skip
        record["start"] = begin
        record["end"] = time.perf_counter() - t0
        record["notebook_s"] = record["seconds"]  # kernel start to last cell
        record["seconds"] = record["end"] - begin  # the worker, start to end
        record["threads"] = threads
        return record

    with tempfile.TemporaryDirectory(prefix="compgen-exec-") as folder:
        with ThreadPoolExecutor(jobs) as pool:
            futures = {pool.submit(run, path, folder): path for path in order}
            for future in as_completed(futures):
                record = future.result()
                records[futures[future]] = record
                if on_done is not None:
                    on_done(record)
    return [records[p] for p in notebooks]


def _cache_executed(cache, path: Path, executed: str, seconds: float) -> None:
    """Put an executed notebook into a jupyter-cache under the source's key.

    The outputs are copied onto the notebook as read from disk, so the key that
    MyST-NB computes from the source matches whatever the kernel changed.
    """
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    source = nbformat.read(path, as_version=4)
    done = nbformat.reads(executed, as_version=4)
    for cell, ran in zip(source.cells, done.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = ran.get("outputs", [])
            cell.execution_count = ran.get("execution_count")
    for key in ("language_info", "widgets"):
        if key in done.metadata:
            source.metadata[key] = done.metadata[key]
    cache.add_nb_to_project(str(path))
    cache.cache_notebook_bundle(
        CacheBundleIn(source, str(path), data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )


def read_timings(root: Path | None = None) -> dict:
    """The last build's _build/timings.json ({} when there is none)."""
    import json

    path = (root or repo_root()) / "_build" / TIMINGS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def slowest_chapters(timings: dict, k: int = 5) -> list[tuple[str, float]]:
    """The k chapters that took longest in a timings record, slowest first."""
    rows = [(name, r["seconds"]) for name, r in timings.get("chapters", {}).items()]
    return sorted(rows, key=lambda r: -r[1])[:k]


def _book_config(root: Path, cache: Path, folder: Path) -> Path:
    """_config.yml with execution switched to the pre-filled cache."""
    import yaml

    cfg = load_yaml(root / "_config.yml") or {}
    cfg.setdefault("execute", {})
    cfg["execute"].update(execute_notebooks="cache", cache=str(cache))
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def build_book(
    root: Path | None = None,
    *,
    capture: bool = False,
    jobs: int | None = None,
    sync: bool = True,
) -> subprocess.CompletedProcess:
    """Build the HTML book into <root>/_build, executing every chapter.

    The chapters in _toc.yml are executed first, side by side (`jobs` at a time,
    default one per core, each kernel on its share of the cores' threads),
    longest first by the last build's timings; their outputs go into a
    jupyter-cache made afresh for this build, from which Jupyter Book then reads
    them (execute_notebooks: cache), so glue across pages works as before and
    nothing is reused from an earlier build. A chapter whose cell raises fails
    the build before Sphinx runs, with the chapter, the cell and the error named.
    Writes _build/timings.json. With `sync`, the closing page's table is
    rewritten from the chapters' HEADLINES first (the tests build with
    sync=False, so that a stale committed table fails its test). Progress bars
    are off and checkpoints go to a fresh folder, so no chapter resumes a run
    saved by an earlier build. Returns
    the finished process (returncode non-zero if a cell raised or Sphinx warned);
    with `capture`, its stdout and stderr hold the whole log.
    """
    import json
    import shutil
    import time

    root = root or repo_root()
    start = time.perf_counter()
    if sync and (root / CONCLUSION).is_file():
        sync_conclusion(root)  # the closing table follows the chapters' HEADLINES
    build = root / "_build"
    cfg = (load_yaml(root / "_config.yml") or {}).get("execute", {}) or {}
    timeout = int(cfg.get("timeout", 600))
    before = read_timings(root).get("chapters", {})
    notebooks = chapter_notebooks(root)
    names = {p: p.relative_to(root).with_suffix("").as_posix() for p in notebooks}
    expected = {
        p: before.get(names[p], {}).get("seconds")
        or EXPECTED_SECONDS.get(names[p], DEFAULT_SECONDS)
        for p in notebooks
    }
    log: list[str] = []

    def say(line: str, err: bool = False) -> None:
        if capture:
            log.append(line)
        else:
            print(line, file=sys.stderr if err else sys.stdout, flush=True)

    work = build / ".compgen"
    shutil.rmtree(work, ignore_errors=True)  # a fresh cache: every build executes
    work.mkdir(parents=True)
    jobs = max(1, min(jobs or book_jobs(), len(notebooks) or 1))
    with tempfile.TemporaryDirectory(prefix="compgen-ckpt-") as ckpt:
        # COMPGEN_STATIC: the page will have no kernel, so widgets that need one
        # render as static text instead (see compgen.exercises.display)
        env = dict(
            os.environ,
            COMPGEN_PROGRESS="0",
            COMPGEN_CHECKPOINTS=ckpt,
            COMPGEN_STATIC="1",
        )
        say(f"executing {len(notebooks)} chapters, {jobs} at a time")

        def done(r: dict) -> None:
            status = "FAILED" if r["error"] else "ok"
            name = names[Path(r["path"])]
            say(f"  {name}: {status} in {r['seconds']:.1f} s")

        runs = execute_chapters(
            notebooks, jobs=jobs, timeout=timeout, env=env, expected=expected,
            on_done=done,
        )  # fmt: skip
        executed_s = time.perf_counter() - start
        failed = [r for r in runs if r["error"]]
        for r in failed:
            say(f"\nchapter {names[Path(r['path'])]} failed:\n{r['error']}", err=True)
        if not failed:
            from jupyter_cache import get_cache

            cache_dir = work / "jupyter_cache"
            cache = get_cache(str(cache_dir))
            for path, r in zip(notebooks, runs, strict=True):
                _cache_executed(cache, path, r["notebook"], r["seconds"])
            exe = Path(sys.executable).with_name("jupyter-book")
            exe = str(exe) if exe.exists() else "jupyter-book"
            config = _book_config(root, cache_dir, work)
            cmd = [exe, "build", str(root), "--config", str(config), *BUILD_FLAGS]
            sphinx = subprocess.run(cmd, env=env, text=True, capture_output=capture)
            returncode = sphinx.returncode
            out, err = sphinx.stdout or "", sphinx.stderr or ""
        else:
            cmd, returncode, out, err = ["execute"], 1, "", ""
    wall = time.perf_counter() - start
    chapter_sum = sum(r["seconds"] for r in runs)
    timings = {
        "wall_s": round(wall, 2),
        "execute_wall_s": round(executed_s, 2),
        "chapters_sum_s": round(chapter_sum, 2),
        "ratio_wall_to_sum": round(wall / chapter_sum, 3) if chapter_sum else None,
        "jobs": jobs,
        "machine": {
            "cores": available_cores(),
            "torch_threads_per_chapter": runs[0]["threads"] if runs else None,
        },
        "succeeded": returncode == 0,
        "chapters": {
            names[p]: {
                "seconds": round(r["seconds"], 2),
                "start_s": round(r["start"], 2),
                "ok": not r["error"],
                "slowest_cells": r.get("cells", []),
            }
            for p, r in zip(notebooks, runs, strict=True)
        },
    }
    build.mkdir(exist_ok=True)
    (build / TIMINGS).write_text(json.dumps(timings, indent=1))
    say(
        f"executed {len(runs)} chapters ({chapter_sum:.0f} s of execution) in "
        f"{executed_s:.0f} s; the whole build took {wall:.0f} s "
        f"(wall / sum = {timings['ratio_wall_to_sum']}); see _build/{TIMINGS}"
    )
    if capture:
        lines = "\n".join(log)
        out, err = lines + "\n" + out, err + ("\n" + lines if failed else "")
    return subprocess.CompletedProcess(cmd, returncode, out, err)


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
    build = sub.add_parser("build", help="build the HTML book into _build/html")
    build.add_argument(
        "--no-sync",
        action="store_true",
        help="leave the closing page's table as it is (the tests build so)",
    )
    sub.add_parser("list", help="the chapters in book order")
    sub.add_parser(
        "sync", help="rewrite setup cells from _config.yml and the closing table"
    )
    sub.add_parser("strip", help="remove outputs from the chapter notebooks")
    worker = sub.add_parser("_execute")  # internal: one chapter of a parallel run
    worker.add_argument("job")
    new = sub.add_parser("new", help="scaffold a chapter notebook")
    new.add_argument("slug")
    new.add_argument("title")
    args = parser.parse_args(argv)
    if args.cmd == "_execute":
        return _execute_cli(args.job)
    root = repo_root()
    if args.cmd == "build":
        done = build_book(root, sync=not args.no_sync)
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
