"""The rendered book as a reader meets it: every page in headless Chromium, offline.

The book built once per session (conftest.built_book) is served on localhost and
every page of _toc.yml is opened in Debian's Chromium, driven by Playwright. A
page fails on: a JavaScript error, a request that leaves localhost (they are
blocked, as on a machine with no network), a Python traceback, a formula MathJax
did not render, a widget the widget manager did not render, an image that did
not load. On chapter pages, every explorer (`compgen-explorer`) has its control
moved and must show something else afterwards. A screenshot of each page goes
to _build/browser/ for review.

The pages are visited once, side by side (one per core, at least two: much of a
visit is waiting), by the module's `visits` fixture, which records what each test
asserts on; each test then asserts on its own page's record, so a failing page
is named by its test. A chapter page is opened once for both of its tests: it is
checked as it loads, then its explorers are moved.

Needs Chromium (`apt-get install chromium`) and the playwright package; without
them the tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
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
EXPLORER_WAIT_S = 5.0  # how long a moved explorer may take to show something else

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


def _pages_at_once() -> int:
    """Pages open at a time: one per core this process may use, at least two."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(2, cores)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium's executable, once the playwright package is known to be there."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed")
    executable = _chromium()
    if executable is None:
        _missing("no Chromium found (COMPGEN_CHROMIUM, chromium)")
    return executable


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


@dataclass
class Rendered:
    """What test_page_renders_offline_without_errors asserts on, as loaded."""

    external: list[str]
    errors: list[str]
    views: int
    rendered: int
    text: str = field(repr=False)
    tracebacks: int
    math: int
    typeset: int
    math_errors: int
    broken: list[str]
    images: int = 0  # chapters only, from here on
    badges: int = 0
    badge_href: str | None = None
    badge_image: bool = False
    launch: int = 0


@dataclass
class Explored:
    """What test_every_chapter_explorer_works_without_a_kernel asserts on."""

    explorers: int
    # per explorer moved: what was done (None: it had no control) and whether
    # its view changed
    moves: list[tuple[str | None, bool]]
    errors: list[str]  # every JavaScript error of the visit, exploring included


@dataclass
class Visit:
    """One page opened offline: what it logged and asked for, and each test's record."""

    path: str
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    render: Rendered | None = None
    explore: Explored | None = None
    failed: dict[str, str] = field(default_factory=dict)  # test -> what went wrong
    # requests under way (Playwright's own "networkidle" sometimes never comes
    # with pages side by side, so the visit keeps count): {request: url}, and
    # when the last one began or ended
    open_requests: dict[object, str] = field(default_factory=dict, repr=False)
    network_since: float = field(default_factory=time.monotonic, repr=False)

    def request_began(self, request) -> None:
        self.open_requests[request] = request.url
        self.network_since = time.monotonic()

    def request_ended(self, request) -> None:
        self.open_requests.pop(request, None)
        self.network_since = time.monotonic()

    async def network_idle(self, timeout_s: float = 60.0) -> None:
        """Wait until no request has been under way for 0.5 s ("networkidle")."""
        deadline = time.monotonic() + timeout_s
        while self.open_requests or time.monotonic() - self.network_since < 0.5:
            if time.monotonic() > deadline:
                still = list(self.open_requests.values())[:5]
                raise TimeoutError(f"requests still open after {timeout_s} s: {still}")
            await asyncio.sleep(0.05)


# the record of the page each test reads
TESTS = {
    "test_page_renders_offline_without_errors": "render",
    "test_every_chapter_explorer_works_without_a_kernel": "explore",
}


def _wanted(session) -> dict[str, set[str]]:
    """{page: the records its selected tests read}, chapters (the longest) first."""
    wanted: dict[str, set[str]] = {}
    for item in session.items:
        record = TESTS.get(getattr(item, "originalname", ""))
        callspec = getattr(item, "callspec", None)
        module = getattr(getattr(item, "module", None), "__name__", None)
        if record and callspec and module == __name__:
            wanted.setdefault(callspec.params["path"], set()).add(record)
    return dict(sorted(wanted.items(), key=lambda kv: kv[0] not in CHAPTERS))


@pytest.fixture(scope="module")
def visits(request, chromium, site):
    """Every page the module's selected tests read, visited side by side, once;
    returns the record of one page for one test (failing it if the visit did)."""
    records = asyncio.run(_visit_all(chromium, site, _wanted(request.session)))

    def record(path: str, test: str):
        visit = records[path]
        if test in visit.failed:
            pytest.fail(f"{path}: {visit.failed[test]}", pytrace=False)
        return getattr(visit, test)

    return record


async def _visit_all(executable: str, site: str, wanted: dict[str, set[str]]):
    from playwright.async_api import async_playwright

    at_once = asyncio.Semaphore(_pages_at_once())
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS
        )

        async def one(path: str, tests: set[str]) -> Visit:
            async with at_once:
                return await _visit(browser, site, path, tests)

        try:
            done = await asyncio.gather(*(one(p, t) for p, t in wanted.items()))
        finally:
            await browser.close()
    return {v.path: v for v in done}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:3000]


async def _visit(browser, site: str, path: str, tests: set[str]) -> Visit:
    visit = Visit(path)

    def console(message):
        if message.type == "error":
            visit.errors.append(f"console: {message.text}")

    async def route(route):
        url = route.request.url
        if url.startswith(site) or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            visit.external.append(url)
            await route.abort()

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        page.on("console", console)
        page.on("pageerror", lambda e: visit.errors.append(f"uncaught: {e}"))
        page.on("request", visit.request_began)
        page.on("requestfinished", visit.request_ended)
        page.on("requestfailed", visit.request_ended)
        await page.route("**/*", route)
        try:
            await _open(visit, page, site + path + ".html")
            if "render" not in tests:
                await _wait_for_widgets(page)
        except Exception as e:
            visit.failed = {test: f"opening the page: {_describe(e)}" for test in tests}
            return visit
        # render first: it checks the page as loaded, before explorers are moved
        for test, check in (("render", _render), ("explore", _explore)):
            if test in tests:
                try:
                    setattr(visit, test, await check(visit, page))
                except Exception as e:
                    visit.failed[test] = _describe(e)
    finally:
        await context.close()
    return visit


async def _open(visit: Visit, page, url: str) -> None:
    await page.goto(url, wait_until="load", timeout=60_000)
    await visit.network_idle(60.0)
    # MathJax typesets after load; wait for it where the page has it
    await page.evaluate(
        "() => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
        " ? MathJax.startup.promise.then(() => true) : true"
    )


async def _count(page, selector: str) -> int:
    return await page.locator(selector).count()


async def _wait_for_widgets(page) -> tuple[int, int]:
    """Wait (up to 30 s) until every widget view is rendered; (views, rendered)."""
    views = await _count(page, WIDGET_VIEW)
    if views:
        rendered_js = (
            'n => [...document.querySelectorAll("'
            + WIDGET_VIEW.replace('"', '\\"')
            + "\")].filter(s => s.parentElement.querySelector('.jupyter-widgets'))"
            ".length >= n"
        )
        try:
            await page.wait_for_function(rendered_js, arg=views, timeout=30_000)
        except Exception:
            pass
    rendered = await page.evaluate(
        "sel => [...document.querySelectorAll(sel)]"
        ".filter(s => s.parentElement.querySelector('.jupyter-widgets')).length",
        WIDGET_VIEW,
    )
    return views, rendered


async def _render(visit: Visit, page) -> Rendered:
    path = visit.path
    views, rendered = await _wait_for_widgets(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(
        path=str(SHOTS / (path.replace("/", "__") + ".png")), full_page=True
    )
    record = Rendered(
        external=list(visit.external),
        errors=list(visit.errors),
        views=views,
        rendered=rendered,
        text=await page.inner_text("main"),
        tracebacks=await _count(
            page, ".cell_output .traceback, .cell_output .output.error"
        ),
        math=await _count(page, ".math"),
        typeset=await page.evaluate(
            "() => [...document.querySelectorAll('.math')]"
            ".filter(m => m.querySelector('mjx-container')).length"
        ),
        math_errors=await _count(page, "mjx-merror"),
        broken=await page.evaluate(
            "() => [...document.querySelectorAll('main img')]"
            ".filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => (i.getAttribute('src') || '').slice(0, 80))"
        ),
    )
    if path in CHAPTERS:
        record.images = await _count(page, "main img")
        badge = page.locator(".compgen-colab a")
        record.badges = await badge.count()
        if record.badges == 1:
            record.badge_href = await badge.get_attribute("href")
        record.badge_image = await page.evaluate(
            "() => { const i = document.querySelector('.compgen-colab img');"
            " return !!i && i.naturalWidth > 0 }"
        )
        want = colab_url(repository(ROOT), path)
        record.launch = await _count(page, f'.bd-header-article a[href="{want}"]')
    return record


async def _move_control(page, explorer) -> str | None:
    """Operate the explorer's first control; what was done (None: it has none)."""
    handle = explorer.locator(".noUi-handle")
    if await handle.count():
        await handle.first.focus()
        await page.keyboard.press("End")
        return "moved a slider to its end"
    toggles = explorer.locator(".widget-toggle-button:not(.mod-active)")
    if await toggles.count():
        await toggles.first.click()
        return "clicked a toggle button"
    select = explorer.locator("select")
    if await select.count():
        options = await select.first.locator("option").count()
        await select.first.select_option(index=options - 1)
        return "chose the last option of a drop-down"
    return None


async def _changes(page, explorer, before: bytes) -> bool:
    """Whether the explorer shows something else within EXPLORER_WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EXPLORER_WAIT_S
    while True:
        await page.wait_for_timeout(100)
        if await explorer.screenshot() != before:
            return True
        if loop.time() > deadline:
            return False


async def _explore(visit: Visit, page) -> Explored:
    explorers = page.locator(".compgen-explorer")
    moves: list[tuple[str | None, bool]] = []
    for i in range(await explorers.count()):
        explorer = explorers.nth(i)
        await explorer.scroll_into_view_if_needed()
        before = await explorer.screenshot()
        done = await _move_control(page, explorer)
        if done is None:
            moves.append((None, False))
            break
        moves.append((done, await _changes(page, explorer, before)))
    return Explored(await explorers.count(), moves, list(visit.errors))


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline_without_errors(path, visits):
    v: Rendered = visits(path, "render")

    assert not v.external, f"{path}: requests left localhost: {v.external[:5]}"
    assert not v.errors, f"{path}: JavaScript errors: {v.errors[:5]}"

    assert "Traceback (most recent call last)" not in v.text, (
        f"{path} shows a traceback"
    )
    assert v.tracebacks == 0, f"{path} shows {v.tracebacks} error outputs"

    assert v.typeset == v.math, (
        f"{path}: {v.math - v.typeset} of {v.math} formulas not rendered"
    )
    assert v.math_errors == 0, f"{path}: MathJax reports a formula error"

    assert v.rendered == v.views, (
        f"{path}: {v.views - v.rendered} of {v.views} widgets missing"
    )
    assert "Error displaying widget" not in v.text, f"{path}: a widget failed"

    assert not v.broken, f"{path}: images that did not load: {v.broken}"
    if path in CHAPTERS:
        assert v.images > 0, f"{path} has no figure"
        # the launch button and the badge open this notebook in Colab
        want = colab_url(repository(ROOT), path)
        assert v.badges == 1, f"{path} has no Open-in-Colab badge"
        assert v.badge_href == want
        assert v.badge_image, f"{path}: the Colab badge image did not load"
        assert v.launch >= 1, f"{path}: no Colab launch button for {want}"


@pytest.mark.parametrize("path", sorted(CHAPTERS))
def test_every_chapter_explorer_works_without_a_kernel(path, visits):
    v: Explored = visits(path, "explore")
    assert v.explorers >= 1, f"{path} has no explorer that works in the page"
    for i, (done, changed) in enumerate(v.moves):
        where = f"{path}, explorer {i + 1}"
        assert done is not None, f"{where}: no slider, toggle or drop-down"
        assert changed, f"{where}: {done}, the view stayed"
    assert not v.errors, f"{path}: JavaScript errors while exploring: {v.errors[:5]}"
