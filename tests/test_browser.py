"""The rendered book as a reader meets it: every page in headless Chromium, offline.

The book built once per session (conftest.built_book) is served on localhost and
every page of _toc.yml is opened in Debian's Chromium, driven by Playwright. A
page fails on: a JavaScript error, a request that leaves localhost (they are
blocked, as on a machine with no network), a Python traceback, a formula MathJax
did not render, a widget the widget manager did not render, an image that did
not load. On chapter pages, every explorer (`compgen-explorer`) has its control
moved and must show something else afterwards. A screenshot of each page goes
to _build/browser/ for review.

Needs Chromium (`apt-get install chromium`) and the playwright package; without
them the tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from compgen.book import repo_root, repository, toc_files
from compgen.sphinx_ext import colab_url

ROOT = repo_root(__file__)
PAGES = toc_files(ROOT)
CHAPTERS = {p for p in PAGES if p.startswith("chapters/")}
SHOTS = ROOT / "_build" / "browser"
WIDGET_VIEW = "script[type='application/vnd.jupyter.widget-view+json']"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _chromium() -> str | None:
    for name in (os.environ.get("COMPGEN_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name) or (Path(name).is_file() and name)):
            return str(found)
    return None


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what}: the browser tests must run in CI (see .ci/run)")
    pytest.skip(f"{what}; install it to run the browser tests")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """The built HTML served on 127.0.0.1; yields its base URL."""
    html = built_book / "html"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html))
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    executable = _chromium()
    if executable is None:
        _missing("no Chromium found (COMPGEN_CHROMIUM, chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class PageVisit:
    """One page opened offline, with what it logged and asked for."""

    def __init__(self, browser, site: str, path: str):
        self.errors: list[str] = []
        self.external: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.route("**/*", functools.partial(self._route, site))
        page.goto(site + path, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        # MathJax typesets after load; wait for it where the page has it
        page.evaluate(
            "() => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " ? MathJax.startup.promise.then(() => true) : true"
        )

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _route(self, site, route):
        url = route.request.url
        if url.startswith(site) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, site):
    opened = []

    def open_page(path: str) -> PageVisit:
        opened.append(PageVisit(browser, site, path))
        return opened[-1]

    yield open_page
    for v in opened:
        v.close()


def _wait_for_widgets(v: PageVisit) -> tuple[int, int]:
    """Wait (up to 30 s) until every widget view is rendered; (views, rendered)."""
    views = v.count(WIDGET_VIEW)
    if views:
        rendered_js = (
            'n => [...document.querySelectorAll("'
            + WIDGET_VIEW.replace('"', '\\"')
            + "\")].filter(s => s.parentElement.querySelector('.jupyter-widgets'))"
            ".length >= n"
        )
        try:
            v.page.wait_for_function(rendered_js, arg=views, timeout=30_000)
        except Exception:
            pass
    rendered = v.page.evaluate(
        "sel => [...document.querySelectorAll(sel)]"
        ".filter(s => s.parentElement.querySelector('.jupyter-widgets')).length",
        WIDGET_VIEW,
    )
    return views, rendered


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline_without_errors(path, visit):
    v = visit(path + ".html")
    views, rendered = _wait_for_widgets(v)
    SHOTS.mkdir(parents=True, exist_ok=True)
    v.page.screenshot(
        path=str(SHOTS / (path.replace("/", "__") + ".png")), full_page=True
    )

    assert not v.external, f"{path}: requests left localhost: {v.external[:5]}"
    assert not v.errors, f"{path}: JavaScript errors: {v.errors[:5]}"

    text = v.page.inner_text("main")
    assert "Traceback (most recent call last)" not in text, f"{path} shows a traceback"
    assert v.count(".cell_output .traceback, .cell_output .output.error") == 0

    math = v.count(".math")
    typeset = v.page.evaluate(
        "() => [...document.querySelectorAll('.math')]"
        ".filter(m => m.querySelector('mjx-container')).length"
    )
    assert typeset == math, f"{path}: {math - typeset} of {math} formulas not rendered"
    assert v.count("mjx-merror") == 0, f"{path}: MathJax reports a formula error"

    assert rendered == views, f"{path}: {views - rendered} of {views} widgets missing"
    assert "Error displaying widget" not in text, f"{path}: a widget failed"

    broken = v.page.evaluate(
        "() => [...document.querySelectorAll('main img')]"
        ".filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => (i.getAttribute('src') || '').slice(0, 80))"
    )
    assert not broken, f"{path}: images that did not load: {broken}"
    if path in CHAPTERS:
        assert v.count("main img") > 0, f"{path} has no figure"
        # the launch button and the badge open this notebook in Colab
        want = colab_url(repository(ROOT), path)
        badge = v.page.locator(".compgen-colab a")
        assert badge.count() == 1, f"{path} has no Open-in-Colab badge"
        assert badge.get_attribute("href") == want
        assert v.page.evaluate(
            "() => document.querySelector('.compgen-colab img').naturalWidth > 0"
        ), f"{path}: the Colab badge image did not load"
        launch = v.page.locator(f'.bd-header-article a[href="{want}"]')
        assert launch.count() >= 1, f"{path}: no Colab launch button for {want}"


def _move_control(v: PageVisit, explorer) -> str:
    """Operate the explorer's first control; returns what was done."""
    handle = explorer.locator(".noUi-handle")
    if handle.count():
        handle.first.focus()
        v.page.keyboard.press("End")
        return "moved a slider to its end"
    toggles = explorer.locator(".widget-toggle-button:not(.mod-active)")
    if toggles.count():
        toggles.first.click()
        return "clicked a toggle button"
    select = explorer.locator("select")
    if select.count():
        options = select.first.locator("option").count()
        select.first.select_option(index=options - 1)
        return "chose the last option of a drop-down"
    raise AssertionError("an explorer without a slider, toggle or drop-down")


@pytest.mark.parametrize("path", sorted(CHAPTERS))
def test_every_chapter_explorer_works_without_a_kernel(path, visit):
    v = visit(path + ".html")
    _wait_for_widgets(v)
    explorers = v.page.locator(".compgen-explorer")
    assert explorers.count() >= 1, f"{path} has no explorer that works in the page"
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        explorer.scroll_into_view_if_needed()
        before = explorer.screenshot()
        done = _move_control(v, explorer)
        v.page.wait_for_timeout(500)
        after = explorer.screenshot()
        assert after != before, f"{path}, explorer {i + 1}: {done}, the view stayed"
    assert not v.errors, f"{path}: JavaScript errors while exploring: {v.errors[:5]}"
