"""The extension that makes the rendered book self-contained (compgen.sphinx_ext)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from compgen import sphinx_ext
from compgen.sphinx_ext import (
    MATHJAX,
    REQUIRE,
    WIDGET_STATE,
    WIDGETS,
    VendorError,
    _lock_digest,
    _on_page_context,
    vendor,
)


class Script:
    """Stands in for Sphinx's _JavaScript."""

    def __init__(self, filename, **attributes):
        self.filename, self.attributes, self.priority = filename, attributes, 500


class FakeApp:
    def __init__(self, scripts):
        self.scripts = scripts
        self.config = SimpleNamespace(html_theme_options={})

    def add_js_file(self, filename, priority=500, **attributes):
        self.scripts.append(Script(filename, **attributes))


def page(scripts):
    context = {"script_files": scripts, "pathto": lambda p, resource=0: "../" + p}
    app = FakeApp(scripts)
    _on_page_context(app, "chapters/x", "page.html", context, None)
    return [(s.filename, s.attributes) for s in context["script_files"]]


def test_scripts_added_twice_are_dropped():
    thebe = {"body": "const THEBE_JS_URL = 'x'"}
    out = page([Script(None, **thebe), Script("a.js"), Script("", **thebe)])
    assert out == [(None, thebe), ("a.js", {})]


def test_widget_pages_get_local_require_and_widget_manager():
    out = page([Script(None, type=WIDGET_STATE, body="{}")])
    files = [f for f, _ in out]
    assert REQUIRE in files and WIDGETS in files
    assert files.index(REQUIRE) < files.index(WIDGETS)
    manager = dict(out)[WIDGETS]
    assert manager["data-jupyter-widgets-cdn"].startswith("../_static/")
    assert not any("://" in (f or "") for f in files)
    # no MathJax on the page, so no MathJax 2 shim
    assert not any("Hub" in a.get("body", "") for _, a in out)


def test_widget_pages_with_math_get_the_mathjax2_shim():
    out = page(
        [Script(None, type=WIDGET_STATE, body="{}"), Script("_static/" + MATHJAX)]
    )
    assert any("Hub = {Queue" in a.get("body", "") for _, a in out)


def test_pages_without_widgets_load_no_widget_manager():
    out = page([Script("a.js"), Script("_static/" + MATHJAX)])
    assert [f for f, _ in out] == ["a.js", "_static/" + MATHJAX]


def fake_install(root, digest=None):
    """A node_modules as `npm ci` would leave it, stamped for the lock file."""
    modules = root / "node_modules"
    for name, version in (
        ("requirejs", "2.3.8"),
        ("@jupyter-widgets/html-manager", "1.0.15"),
        ("mathjax", "3.2.2"),
    ):
        (modules / name).mkdir(parents=True)
        (modules / name / "package.json").write_text(json.dumps({"version": version}))
    (modules / "requirejs/require.js").write_text("// require")
    (modules / "@jupyter-widgets/html-manager/dist").mkdir()
    (modules / "@jupyter-widgets/html-manager/dist/embed-amd.js").write_text("//")
    (modules / "@jupyter-widgets/html-manager/dist/embed-amd.js.map").write_text("")
    (modules / "mathjax/es5").mkdir()
    (modules / "mathjax/es5/tex-mml-chtml.js").write_text("// mathjax")
    (modules / ".compgen-lock").write_text(digest or _lock_digest(root))


def test_vendor_copies_what_the_pages_load(tmp_path):
    (tmp_path / "package-lock.json").write_text("{}")
    fake_install(tmp_path)
    out = vendor(tmp_path, tmp_path / "static")
    static = out / sphinx_ext.VENDOR
    for path in (REQUIRE, WIDGETS, MATHJAX):
        assert (out / path).is_file(), path
    assert not (
        static / "npm/@jupyter-widgets/html-manager/dist/embed-amd.js.map"
    ).exists()
    versions = json.loads((static / "versions.json").read_text())
    assert versions["@jupyter-widgets/html-manager"] == "1.0.15"


def test_vendor_without_npm_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "package-lock.json").write_text("{}")
    fake_install(tmp_path, digest="from another lock file")
    monkeypatch.setattr(sphinx_ext.shutil, "which", lambda name: None)
    with pytest.raises(VendorError, match="install Node.js and npm"):
        vendor(tmp_path, tmp_path / "static")


def test_vendor_without_a_lock_file_fails_clearly(tmp_path):
    with pytest.raises(VendorError, match="package-lock.json"):
        vendor(tmp_path, tmp_path / "static")


def test_the_book_config_switches_off_the_cdn_widget_scripts():
    import yaml

    from compgen.book import repo_root

    cfg = yaml.safe_load((repo_root(__file__) / "_config.yml").read_text())
    assert "compgen.sphinx_ext" in cfg["sphinx"]["extra_extensions"]
    assert cfg["sphinx"]["config"]["nb_ipywidgets_js"] == {}


def test_chapter_pages_get_a_colab_badge_under_their_title():
    from compgen.sphinx_ext import BADGE

    app = FakeApp([])
    app.config = SimpleNamespace(
        html_theme_options={
            "repository_url": "https://github.com/org/book",
            "repository_branch": "dev",
            "path_to_docs": "",
        }
    )
    context = {
        "script_files": [],
        "pathto": lambda p, resource=0: "../" + p,
        "page_source_suffix": ".ipynb",
        "body": "<section><h1>Title</h1><p>text</p></section>",
    }
    _on_page_context(app, "chapters/x", "page.html", context, None)
    body = context["body"]
    assert body.index("</h1>") < body.index("compgen-colab") < body.index("text")
    assert (
        'href="https://colab.research.google.com/github/org/book/blob/dev/'
        'chapters/x.ipynb"' in body
    )
    assert f'src="../_static/{BADGE}"' in body
    context.update(page_source_suffix=".md", body="<h1>Prose</h1>")
    _on_page_context(app, "book/intro", "page.html", context, None)
    assert "compgen-colab" not in context["body"]
