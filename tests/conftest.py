"""Shared test set-up: quiet progress bars, throwaway checkpoints, one book build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
