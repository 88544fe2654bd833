"""Shared test set-up: quiet progress bars, throwaway checkpoints, one book build.

The book build (every chapter at book parameters) is the longest part of a full
test session. When the session has tests that read it, it starts in the
background as soon as the session starts, and every other test runs meanwhile:
the tests that read the book are moved to the end, where they wait for it. Each
process then keeps to one torch thread, so the build's kernels and the tests
share the cores without oversubscribing them.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_STARTED = time.time()  # a timings.json older than this is from an earlier session
_BOOK: dict = {}  # the background build: its process and where it logs


def pytest_addoption(parser):
    parser.addoption(
        "--reuse-book",
        action="store_true",
        help="assert claims on the existing _build (from `make book`) instead of "
        "building the book again",
    )


def _reads_the_book(item) -> bool:
    return "built_book" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected
def pytest_collection_modifyitems(session, config, items):
    """Tests that read the built book run last: the build goes on meanwhile."""
    if config.getoption("--reuse-book") or not any(map(_reads_the_book, items)):
        return
    items[:] = [i for i in items if not _reads_the_book(i)] + [
        i for i in items if _reads_the_book(i)
    ]
    _BOOK["wanted"] = True


@pytest.fixture(scope="session", autouse=True)
def _quiet_and_isolated(request, tmp_path_factory):
    # kernels started by papermill inherit these
    os.environ["COMPGEN_PROGRESS"] = "0"
    os.environ["COMPGEN_CHECKPOINTS"] = str(tmp_path_factory.mktemp("checkpoints"))
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if _BOOK.get("wanted"):
        _start_book_build(tmp_path_factory.mktemp("book-build"))
    _start_early_work(request.session, tmp_path_factory)
    yield
    _stop_book_build()  # still running only if no test came to read it


# ------------------------------------------------------------ work started early
# Some session or module fixtures mostly wait: on kernels that start, on a
# student's notebook that runs into its time limit. They start in a thread when
# the session starts (like the book build), and the fixture collects the result
# with early_result(name, fn) (which runs fn() itself if nothing was started).
# A test module lists its own in a module-level dict EARLY = {fixture name:
# function of a fresh folder}; conftest adds the Colab runs.
_EARLY: dict[str, tuple] = {}


def _uses(items, *fixtures: str) -> bool:
    return any(set(fixtures) & set(getattr(i, "fixturenames", ())) for i in items)


def _start_early(name: str, fn) -> None:
    import threading

    box: dict = {}

    def work():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the fixture that asks
            box["error"] = exc

    thread = threading.Thread(target=work, name=f"early-{name}", daemon=True)
    thread.start()
    _EARLY[name] = (thread, box)


def early_result(name: str, fn):
    """What the work `name` started with the session returned (waiting for it),
    or, if it was not started, `fn()` now."""
    if name not in _EARLY:
        return fn()
    thread, box = _EARLY.pop(name)
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _start_early_work(session, tmp_path_factory) -> None:
    items = session.items
    colab = _uses(items, "colab_runs") or (
        _uses(items, "smoke_runs") and _colab_wheels_ready() and _checkout_is_clean()
    )
    if colab and _colab_wheels_ready():
        import colab_kernel

        chapters = _notebooks_of(session, "colab_runs", "smoke_runs")
        folder = tmp_path_factory.mktemp("colab")
        _start_early("colab", lambda: colab_kernel.run_chapters(chapters, folder))
    modules = {id(i.module): i.module for i in items if hasattr(i, "module")}
    for module in modules.values():
        for name, fn in getattr(module, "EARLY", {}).items():
            if _uses(items, name) and name not in _EARLY:
                folder = tmp_path_factory.mktemp(name)
                _start_early(name, lambda fn=fn, folder=folder: fn(folder))


def _start_book_build(folder: Path) -> None:
    """`python -m compgen.book build` in its own process group, logging to files."""
    import sys

    from compgen.book import thread_env

    # From here on every process of the session holds torch to one thread: the
    # build runs one chapter per core, and the tests run beside it.
    os.environ.update(thread_env(1))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    # --no-sync: a stale closing table must fail test_conclusion_table_is_current
    cmd = [sys.executable, "-m", "compgen.book", "build", "--no-sync"]
    with out.open("w") as o, err.open("w") as e:
        process = subprocess.Popen(
            cmd, cwd=ROOT, stdout=o, stderr=e, start_new_session=True
        )
    _BOOK.update(process=process, cmd=cmd, out=out, err=err)
    atexit.register(_stop_book_build)


def _stop_book_build() -> None:
    """End a build no test waits for any more (a session stopped early)."""
    import signal

    process = _BOOK.get("process")
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)  # the build and every kernel it started
            process.wait(wait)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def _book_build_result():
    """Wait for the background build; its finished process, output included."""
    process = _BOOK["process"]
    process.wait()
    if process.returncode == 0:
        _mark_timings()
    return subprocess.CompletedProcess(
        _BOOK["cmd"],
        process.returncode,
        _BOOK["out"].read_text(errors="replace"),
        _BOOK["err"].read_text(errors="replace"),
    )


def _mark_timings() -> None:
    """Say in _build/timings.json that the chapters ran beside the other tests
    (their seconds are then longer than alone: budgets are measured with
    benchmarks/chapters.py)."""
    import json

    path = ROOT / "_build" / "timings.json"
    if path.is_file():
        timings = json.loads(path.read_text())
        timings["alongside_tests"] = True
        path.write_text(json.dumps(timings, indent=1))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book(request) -> Path:
    """The book built once per test session, every chapter executed at book tier.

    The claims tests read the executed notebooks it leaves in
    _build/jupyter_execute, so the claims and the rendered pages come from one
    execution.
    """
    from compgen.book import build_book

    if not request.config.getoption("--reuse-book"):
        if "process" in _BOOK:  # started with the session (see the top)
            done = _book_build_result()
        else:
            done = build_book(ROOT, capture=True, sync=False)
        if done.returncode != 0:
            pytest.fail(
                "the book build failed:\n" + done.stdout[-6000:] + done.stderr[-6000:]
            )
    html = ROOT / "_build" / "html"
    assert (html / "index.html").is_file(), f"no built book at {html}"
    return ROOT / "_build"


def pytest_terminal_summary(terminalreporter):
    """After a session that built the book, name its slowest chapters."""
    from compgen.book import read_timings, slowest_chapters

    path = ROOT / "_build" / "timings.json"
    if not path.is_file() or path.stat().st_mtime < _STARTED:
        return  # this session built no book
    timings = read_timings(ROOT)
    terminalreporter.section("book build: slowest chapters")
    for name, seconds in slowest_chapters(timings):
        cells = timings["chapters"][name].get("slowest_cells") or [[None, 0, ""]]
        index, cell_s, line = cells[0]
        where = f"   (cell {index}, {cell_s:.0f} s: {line[:40]})"
        where = "" if index is None else where
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}{where}")
    terminalreporter.write_line(
        f"wall {timings.get('wall_s')} s for {timings.get('chapters_sum_s')} s of "
        f"chapters ({timings.get('jobs')} at a time; wall / sum = "
        f"{timings.get('ratio_wall_to_sum')})"
    )
    if timings.get("alongside_tests"):
        terminalreporter.write_line(
            "(built beside the other tests, so each chapter took longer than alone; "
            "a chapter's own time: benchmarks/chapters.py)"
        )


def _notebooks_of(session, *fixtures: str) -> list[Path]:
    """The chapters (in book order) of the session's tests using `fixtures`."""
    from compgen.book import chapter_notebooks

    wanted = {
        item.callspec.params["notebook"]
        for item in session.items
        if "notebook" in getattr(getattr(item, "callspec", None), "params", {})
        and set(fixtures) & set(getattr(item, "fixturenames", ()))
    }
    return [p for p in chapter_notebooks(ROOT) if p in wanted]


def _colab_wheels_ready() -> bool:
    import colab_env

    return (colab_env.wheels_dir() / ".python").exists()


def _checkout_is_clean() -> bool:
    """No change to commit: what the Colab runs install (HEAD) is what is here."""
    done = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
    )
    return done.returncode == 0 and not done.stdout.strip()


@pytest.fixture(scope="session")
def colab_runs(request, tmp_path_factory) -> dict:
    """The session's chapters run once as on Colab (tests/colab_kernel.py), for
    the Colab tests and, on a clean checkout, the smoke tests."""
    import colab_env
    import colab_kernel

    if not _colab_wheels_ready():
        wheels = colab_env.wheels_dir()
        message = f"no Colab wheels in {wheels}: run `make test` (downloads them once)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    chapters = _notebooks_of(request.session, "colab_runs", "smoke_runs")
    return early_result(
        "colab",
        lambda: colab_kernel.run_chapters(chapters, tmp_path_factory.mktemp("colab")),
    )


@pytest.fixture(scope="session")
def smoke_runs(request, tmp_path_factory) -> dict[Path, dict]:
    """The chapters of this session's smoke tests, each executed once at smoke
    parameters: {notebook: {"error": None or what failed, "output": notebook}}.

    On a clean checkout with Colab's wheels at hand, these are the Colab runs
    (conftest's colab_runs: the same chapters at the same parameters, as a
    student on Colab runs them), so no chapter runs twice at smoke size. Else
    they run here, side by side like the book build (one per core, one torch
    thread each), and each record is execute_chapters', plus "output"."""
    from compgen.book import execute_chapters

    notebooks = _notebooks_of(request.session, "smoke_runs")
    if _colab_wheels_ready() and _checkout_is_clean():
        runs = request.getfixturevalue("colab_runs")["results"]
        return {p: _from_colab(runs[p]) for p in notebooks}
    folder = tmp_path_factory.mktemp("smoke")
    outputs = {p: folder / p.name for p in notebooks}
    runs = execute_chapters(
        notebooks, parameters={"SMOKE": True}, outputs=outputs, timeout=300
    )
    pairs = zip(notebooks, runs, strict=True)
    return {p: {**r, "output": outputs[p]} for p, r in pairs}


def _from_colab(run: dict) -> dict:
    error = None if run["rc"] == 0 else f"as on Colab:\n{run['log']}"
    return {"error": error, "output": run["out"]}
