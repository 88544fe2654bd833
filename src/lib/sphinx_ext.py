"""A Sphinx extension that makes the rendered book self-contained.

Jupyter Book 1 loads MathJax, require.js and the Jupyter widget manager from
CDNs, so a reader offline sees no formula and no widget. This extension:

- installs the pinned JavaScript from the repository's `package-lock.json`
  (`npm ci`, once per lock file) and copies what the pages need into
  `_static/compgen-vendor/`;
- points Sphinx's MathJax at the vendored copy;
- adds require.js and the widget manager to the pages that hold widget state,
  and only to those (MyST-NB's own CDN links are switched off in _config.yml);
- drops script tags that other extensions add twice to a page (sphinx-thebe
  declares `THEBE_JS_URL` twice, which is a JavaScript error on every page);
- puts an "Open in Colab" badge (served locally) at the top of every chapter
  notebook's page, pointing at the notebook in the repository named in
  _config.yml.

Enabled in _config.yml (`sphinx: extra_extensions: [compgen.sphinx_ext]`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

VENDOR = "compgen-vendor"  # folder under _static
MATHJAX = f"{VENDOR}/mathjax/tex-mml-chtml.js"
REQUIRE = f"{VENDOR}/require.js"
# laid out like a CDN's npm folder, so that require.js (baseUrl = NPM) finds
# the widget manager's own chunks and fonts where its module names point
NPM = f"{VENDOR}/npm/"
WIDGETS = f"{NPM}@jupyter-widgets/html-manager/dist/embed-amd.js"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# what to copy out of node_modules: (source, destination under the vendor folder)
COPIES = [
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist", "npm/@jupyter-widgets/html-manager/dist"),
    ("mathjax/es5", "mathjax"),
]


# ipywidgets 8's widget manager typesets labels with the MathJax 2 call
# `MathJax.Hub.Queue`, which MathJax 3 lacks: every widget with a description
# threw "Cannot read properties of undefined (reading 'Queue')". This maps the
# call onto MathJax 3, queueing elements until MathJax is ready.
MATHJAX2_SHIM = """(function () {
  var pending = [];
  function queue(job) {
    var el = job && job[2];
    if (window.MathJax && window.MathJax.typesetPromise) {
      window.MathJax.typesetPromise(el ? [el] : undefined).catch(function () {});
    } else if (el) {
      pending.push(el);
    }
  }
  var config = (window.MathJax = window.MathJax || {});
  config.Hub = {Queue: queue};
  config.startup = Object.assign({}, config.startup, {
    ready: function () {
      window.MathJax.startup.defaultReady();
      window.MathJax.Hub = {Queue: queue};
      window.MathJax.startup.promise.then(function () {
        if (pending.length) return window.MathJax.typesetPromise(pending.splice(0));
      });
    },
  });
})();"""


CSS = f"{VENDOR}/compgen.css"
CSS_TEXT = """/* compgen-book: small fixes to the theme */
/* Newer pydata-sphinx-theme releases add a top bar holding only a search field,
   which the book theme already has in its sidebar: keep it for narrow screens. */
@media (min-width: 960px) {
  .bd-header { display: none !important; }
}
.compgen-colab { margin: 0.2rem 0 1rem; }
"""
BADGE = f"{VENDOR}/open-in-colab.svg"
BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="96" height="20"
 role="img" aria-label="Open in Colab"><title>Open in Colab</title>
<rect width="96" height="20" rx="3" fill="#555"/>
<rect x="38" width="58" height="20" rx="3" fill="#F9AB00"/>
<rect x="38" width="6" height="20" fill="#F9AB00"/>
<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14" fill="#fff">open</text>
<text x="43" y="14" fill="#222">in Colab</text>
</g></svg>
"""


def colab_url(repository: dict, docname: str) -> str:
    """Where Colab opens the notebook `docname` (e.g. "chapters/binding")."""
    url = repository["url"].rstrip("/")
    owner_repo = url.split("github.com/", 1)[-1]
    path = "/".join(p for p in (repository.get("path_to_book", ""), docname) if p)
    branch = repository.get("branch", "main")
    return (
        f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/"
        f"{path}.ipynb"
    )


class VendorError(RuntimeError):
    """The book's JavaScript could not be installed."""


def _lock_digest(root: Path) -> str:
    return hashlib.sha256((root / "package-lock.json").read_bytes()).hexdigest()[:16]


def vendor(root: Path, dest: Path) -> Path:
    """Install the pinned packages (if needed) and copy the book's files to `dest`.

    Returns `dest`, which then holds `compgen-vendor/`. Runs `npm ci` only when
    node_modules was installed from another lock file (or never).
    """
    lock = root / "package-lock.json"
    if not lock.is_file():
        raise VendorError(f"no {lock}: the book's JavaScript is pinned there")
    modules = root / "node_modules"
    stamp = modules / ".compgen-lock"
    digest = _lock_digest(root)
    if not (stamp.is_file() and stamp.read_text() == digest):
        npm = shutil.which("npm")
        if npm is None:
            raise VendorError(
                "the book serves its own JavaScript (MathJax, the widget manager), "
                "installed with npm from package-lock.json: install Node.js and npm "
                "(e.g. `apt-get install nodejs npm`) and build again"
            )
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise VendorError(f"`npm ci` failed in {root}:\n{done.stderr[-3000:]}")
        stamp.write_text(digest)
    out = dest / VENDOR
    out_stamp = out / ".lock"
    if not (out_stamp.is_file() and out_stamp.read_text() == digest):
        _copy_packages(modules, out, digest)
    # the book's own small files, written every time (they follow this module)
    (out / "open-in-colab.svg").write_text(BADGE_SVG)
    (out / "compgen.css").write_text(CSS_TEXT)
    return dest


def _copy_packages(modules: Path, out: Path, digest: str) -> None:
    """Copy the files the pages load out of node_modules into `out`."""
    out_stamp = out / ".lock"
    if out.exists():
        shutil.rmtree(out)
    for source, target in COPIES:
        src = modules / source
        if not src.exists():
            raise VendorError(f"{src} is missing after `npm ci`")
        if src.is_dir():
            shutil.copytree(src, out / target, ignore=shutil.ignore_patterns("*.map"))
        else:
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out / target)
    versions = {
        name: json.loads((modules / name / "package.json").read_text())["version"]
        for name in ("requirejs", "@jupyter-widgets/html-manager", "mathjax")
    }
    (out / "versions.json").write_text(json.dumps(versions, indent=1))
    out_stamp.write_text(digest)


def _book_root(app) -> Path:
    here = Path(app.srcdir).resolve()
    for folder in (here, *here.parents):
        if (folder / "package-lock.json").is_file():
            return folder
    raise VendorError(f"no package-lock.json above {here}")


def _on_config_inited(app, config) -> None:
    root = _book_root(app)
    staging = Path(app.outdir).parent / ".compgen-static"
    vendor(root, staging)
    config.html_static_path = [*config.html_static_path, str(staging)]
    config.mathjax_path = MATHJAX


def _script_key(js: Any) -> tuple:
    attributes = getattr(js, "attributes", {}) or {}
    return (
        getattr(js, "filename", str(js)) or "",  # None and "" both mean inline
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def _badge(app, pagename: str, context: dict) -> None:
    """Prepend an "Open in Colab" badge to a chapter notebook's page."""
    repository = getattr(app.config, "html_theme_options", {}).get("repository_url")
    source = context.get("page_source_suffix") or ""
    if not repository or source != ".ipynb" or "body" not in context:
        return
    branch = app.config.html_theme_options.get("repository_branch", "main")
    path = app.config.html_theme_options.get("path_to_docs", "")
    href = colab_url(
        {"url": repository, "branch": branch, "path_to_book": path}, pagename
    )
    src = context["pathto"]("_static/" + BADGE, 1)
    badge = (
        f'<p class="compgen-colab"><a href="{href}" target="_blank" '
        f'rel="noopener"><img src="{src}" alt="Open in Colab" width="96" '
        'height="20"></a></p>\n'
    )
    body = context["body"]
    head, h1, rest = body.partition("</h1>")  # under the title, where there is one
    context["body"] = head + h1 + badge + rest if h1 else badge + body


def _on_page_context(app, pagename, templatename, context, doctree) -> None:
    _badge(app, pagename, context)
    scripts = context.get("script_files")
    if scripts is None:
        return
    has_widgets = any(
        (getattr(js, "attributes", {}) or {}).get("type") == WIDGET_STATE
        for js in scripts
    )
    if has_widgets:
        has_math = any(
            str(getattr(js, "filename", "") or "").endswith(MATHJAX) for js in scripts
        )
        if has_math:
            app.add_js_file(None, body=MATHJAX2_SHIM)
        npm = context["pathto"]("_static/" + NPM, 1)
        app.add_js_file(REQUIRE, priority=900)
        app.add_js_file(
            None, body=f"require.config({{baseUrl: {npm!r}}});", priority=901
        )
        app.add_js_file(
            WIDGETS,
            priority=902,
            **{"data-jupyter-widgets-cdn": npm, "data-jupyter-widgets-cdn-only": ""},
        )
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = _script_key(js)
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    scripts[:] = unique


def setup(app) -> dict:
    app.connect("config-inited", _on_config_inited)
    app.add_css_file(CSS)
    # after MyST-NB has added the page's own scripts (default priority 500)
    app.connect("html-page-context", _on_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
