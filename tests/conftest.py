"""Shared test set-up: quiet progress bars, throwaway checkpoints, one book build."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_STARTED = time.time()  # a timings.json older than this is from an earlier session


def pytest_addoption(parser):
    parser.addoption(
        "--reuse-book",
        action="store_true",
        help="assert claims on the existing _build (from `make book`) instead of "
        "building the book again",
    )


@pytest.fixture(scope="session", autouse=True)
def _quiet_and_isolated(tmp_path_factory):
    # kernels started by papermill inherit these
    os.environ["COMPGEN_PROGRESS"] = "0"
    os.environ["COMPGEN_CHECKPOINTS"] = str(tmp_path_factory.mktemp("checkpoints"))
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    yield


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
        done = build_book(ROOT, capture=True)
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
        terminalreporter.write_line(f"{seconds:8.1f} s  {name}")
    terminalreporter.write_line(
        f"wall {timings.get('wall_s')} s for {timings.get('chapters_sum_s')} s of "
        f"chapters ({timings.get('jobs')} at a time; wall / sum = "
        f"{timings.get('ratio_wall_to_sum')})"
    )


@pytest.fixture(scope="session")
def smoke_runs(request, tmp_path_factory) -> dict[Path, dict]:
    """The chapters of this session's smoke tests, each executed once at smoke
    parameters, side by side like the book build (one per core, one torch
    thread each): {notebook: execute_chapters record, plus "output"}."""
    from compgen.book import chapter_notebooks, execute_chapters

    wanted = {
        item.callspec.params["notebook"]
        for item in request.session.items
        if "notebook" in getattr(getattr(item, "callspec", None), "params", {})
        and "smoke_runs" in getattr(item, "fixturenames", ())
    }
    notebooks = [p for p in chapter_notebooks(ROOT) if p in wanted]
    folder = tmp_path_factory.mktemp("smoke")
    outputs = {p: folder / p.name for p in notebooks}
    runs = execute_chapters(
        notebooks, parameters={"SMOKE": True}, outputs=outputs, timeout=300
    )
    pairs = zip(notebooks, runs, strict=True)
    return {p: {**r, "output": outputs[p]} for p, r in pairs}
