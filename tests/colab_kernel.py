"""Chapters run as on Colab: a fresh environment of Colab's versions and its kernel.

`run_chapters` builds a new virtual environment with exactly the packages of
`tests/colab_runtime.txt`, installed offline from the wheels `colab_env.py`
downloaded, plus torch (see `tests/test_colab.py` for what is checked), and runs
each chapter whole at smoke size in a kernel of that environment, two at a time.
The session fixture `colab_runs` (conftest) calls it once; the Colab tests and,
on a clean checkout, the smoke tests (test_chapters) read its results.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import colab_env
import nbformat

from compgen.book import PARAMETERS_TAG, SETUP_TAG, repo_root, repository

ROOT = repo_root(__file__)

# Run in the kernel before any cell: what Colab's kernel has imported, and the
# checks that make a widget from another ipywidgets version fail loudly.
STARTUP = '''
import google.colab  # as on Colab: the setup cell looks for it
import sys
import warnings
import ipywidgets

# ipywidgets 7 ignores (with this warning) a keyword it does not know, e.g. titles=
warnings.filterwarnings(
    "error", message="Passing unrecognized arguments", category=DeprecationWarning
)
_setattr = ipywidgets.Widget.__setattr__


def _only_known_traits(self, name, value):
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if not (name.startswith("_") or self.has_trait(name) or hasattr(type(self), name)
            or name in self.__dict__ or caller.startswith(("ipywidgets", "traitlets"))):
        raise AttributeError(
            f"{type(self).__name__} has no trait {name!r} in ipywidgets "
            f"{ipywidgets.__version__}"
        )
    _setattr(self, name, value)


ipywidgets.Widget.__setattr__ = _only_known_traits
'''

# Appended to every chapter: each explorer must follow its control in the kernel.
CHECK_EXPLORERS = '''
import ipywidgets as _w
from compgen import EXPLORER_CLASS as _CLASS, has_stack as _has_stack

_all = list(getattr(_w.Widget, "widgets", {}).values())
_explorers = [x for x in _all if _CLASS in getattr(x, "_dom_classes", ())]


def _inside(root):
    todo, seen = [root], []
    while todo:
        node = todo.pop()
        seen.append(node)
        todo.extend(getattr(node, "children", ()))
    return seen


for _x in _explorers:
    _switches = [n for n in _inside(_x) if hasattr(n, "_compgen_pages")]
    assert _has_stack() or _switches, f"explorer {_x!r:.80} has no switcher"
    for _s in _switches:
        _control, _trait = _s._compgen_control
        _n = len(_s._compgen_pages)
        _last = (getattr(_control, "max", _n - 1) if _trait == "value" else _n - 1)
        for _k in (_last, 0):
            setattr(_control, _trait, _k)
            assert _s.children[0] is _s._compgen_pages[_k], (
                f"explorer {_x!r:.60}: {_trait}={_k} did not show page {_k}")
print(f"compgen-colab-check: {len(_explorers)} explorers followed their controls")
'''


def _closure(names: list[str]) -> list[md.Distribution]:
    """The installed distributions `names` need, with their dependencies."""
    from packaging.requirements import Requirement

    seen: dict[str, md.Distribution] = {}
    todo = list(names)
    while todo:
        name = colab_env.normalise(todo.pop())
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # an optional dependency this checkout does not have
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _link_packages(dists: list[md.Distribution], site: Path) -> None:
    """Symlink each distribution's top-level files and folders into `site`."""
    site.mkdir(parents=True)
    for dist in dists:
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            top = Path(file).parts[0]
            if top in ("..", "__pycache__") or (site / top).exists():
                continue
            if (base / top).exists():
                (site / top).symlink_to(base / top)


# Colab's torch 2.11.0 declares `setuptools<82` (its wheel's METADATA, read on
# 2026-12-01), which Colab's setuptools 75.2.0 meets; the local stand-in, torch
# 2.13.0, declares `setuptools>=77.0.3`, a conflict Colab does not have. The
# linked stand-in carries Colab's torch's declaration instead.
COLAB_TORCH_SETUPTOOLS = "setuptools<82"


def _as_colab_torch(site: Path) -> None:
    """Give the linked torch the setuptools requirement of Colab's torch."""
    for info in site.glob("torch-*.dist-info"):
        real = info.resolve()
        info.unlink()
        shutil.copytree(real, info)
        meta = info / "METADATA"
        text = re.sub(
            r"^Requires-Dist: setuptools\b.*$",
            f"Requires-Dist: {COLAB_TORCH_SETUPTOOLS}",
            meta.read_text(),
            flags=re.M,
        )
        meta.write_text(text)


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True
    )


def _installed(python: Path) -> dict[str, str]:
    listing = _pip(python, "list", "--format=json").stdout
    return {colab_env.normalise(p["name"]): p["version"] for p in json.loads(listing)}


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def _as_on_colab(notebook: Path, commit: str, wheels: Path, out: Path) -> Path:
    """The chapter with its setup cell pointed at this checkout, offline."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert SETUP_TAG in code[0].metadata.get("tags", []), "no setup cell first"
    assert any(PARAMETERS_TAG in c.metadata.get("tags", []) for c in code)
    repo = repository(ROOT)
    web = f"git+{repo['url']}@{repo['branch']}"
    setup = code[0].source
    assert web in setup, "the setup cell does not install from the repository"
    pip_args = '"install", "-q",'
    assert pip_args in setup, "the setup cell's pip command changed shape"
    code[0].source = setup.replace(web, f"git+file://{ROOT}@{commit}").replace(
        pip_args, f'{pip_args} "--no-index", "--find-links", r"{wheels}",'
    )
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_EXPLORERS))
    nbformat.write(nb, out)
    return out


def run_chapters(chapters: list[Path], tmp: Path) -> dict:
    """Run `chapters` in a fresh Colab-like environment under `tmp`:
    {"results": {notebook: {"rc", "log", "out"}}, "before": packages, "after": ...}.
    """
    wheels = colab_env.wheels_dir()
    exe, version, torch_wheel = colab_env.choose_python()
    assert (wheels / ".python").read_text() == version, "wheels for another Python"
    if exe == sys.executable:
        venv.create(tmp / "venv", with_pip=True)
    else:
        subprocess.run([exe, "-m", "venv", str(tmp / "venv")], check=True)
    python = tmp / "venv" / "bin" / "python"
    offline = ["--no-index", "--find-links", str(wheels)]
    done = _pip(python, "install", "-q", *offline, "-r", str(colab_env.VERSIONS))
    assert done.returncode == 0, done.stderr[-3000:]
    if torch_wheel is None:  # link this environment's torch and what it needs
        have = _installed(python)
        extra = [
            d
            for d in _closure(["torch"])
            if colab_env.normalise(d.metadata["Name"]) not in have
        ]
        site = tmp / "torch-site"
        _link_packages(extra, site)
        _as_colab_torch(site)
        purelib = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "colab_torch.pth").write_text(f"{site}\n")
    else:
        done = _pip(python, "install", "-q", *offline, str(torch_wheel))
        assert done.returncode == 0, done.stderr[-3000:]
    before = _installed(python)
    pins = colab_env.pinned()
    wrong = {n: (v, before.get(n)) for n, v in pins.items() if before.get(n) != v}
    assert not wrong, f"the environment is not Colab's: {wrong}"
    # a kernel of that environment, and Colab's start-up
    kernels = tmp / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    startup = tmp / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(STARTUP)
    fake = tmp / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    work = tmp / "work"
    work.mkdir()
    probe = subprocess.run(
        [python, "-c", "import torch, numpy, matplotlib, ipywidgets\nimport compgen"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert "No module named 'compgen'" in probe.stderr, probe.stderr[-2000:]

    commit = _commit()
    assert commit, "no commit to install from"
    env = dict(
        os.environ,
        JUPYTER_PATH=str(tmp / "jupyter"),
        IPYTHONDIR=str(tmp / "ipython"),
        PYTHONPATH=str(fake),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        COMPGEN_CHECKPOINTS=str(tmp / "checkpoints"),
    )
    for name in ("COMPGEN_STATIC", "MPLBACKEND", "PYTHONHOME"):
        env.pop(name, None)

    def run(notebook: Path) -> dict:
        source = _as_on_colab(notebook, commit, wheels, tmp / f"in-{notebook.name}")
        out = tmp / f"out-{notebook.name}"
        done = subprocess.run(
            [sys.executable, "-m", "papermill", str(source), str(out)]
            + ["-k", "colab", "-p", "SMOKE", "True", "--cwd", str(work)]
            + ["--execution-timeout", "600", "--start-timeout", "300"]
            + ["--no-progress-bar"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        return {"rc": done.returncode, "log": done.stderr[-6000:], "out": out}

    # the setup cells of the first two would race in pip: install once first
    first = run(chapters[0])
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        rest = dict(zip(chapters[1:], pool.map(run, chapters[1:]), strict=True))
    results = {chapters[0]: first, **rest}
    return {"results": results, "before": before, "after": _installed(python)}
