"""Colab's runtime, rebuilt offline from `tests/colab_runtime.txt`.

    python tests/colab_env.py download   # once, with the network (`make` does it)

downloads the wheels of Colab's package versions into `.venv/colab-wheels`
(`COMPGEN_COLAB_WHEELS` to move it); `tests/test_colab.py` then builds a fresh
environment from them with no network. The Python is the newest this machine has
for which a torch wheel is installable offline (pip's find-links): Colab runs
3.13, but where only the default Python has one (here: the local CPU build of
torch 2.13.0 is for Python 3.11), the default is used, and torch is linked in from
this checkout's environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "tests" / "colab_runtime.txt"
COLAB_PYTHON = "3.13"  # googlecolab/backend-info os-info-gpu.txt, 2026-08


def wheels_dir() -> Path:
    return Path(os.environ.get("COMPGEN_COLAB_WHEELS", ROOT / ".venv" / "colab-wheels"))


def pinned() -> dict[str, str]:
    """{normalised name: version} of every package in the versions file."""
    out = {}
    for line in VERSIONS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            out[normalise(name)] = version
    return out


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _find_links() -> list[Path]:
    """The folders pip is configured to take wheels from without an index."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    dirs = []
    for line in done.stdout.splitlines() + [
        f"env.find-links='{os.environ.get('PIP_FIND_LINKS', '')}'"
    ]:
        if "find-links" in line:
            for item in line.split("=", 1)[1].strip("'\"").split():
                path = Path(item.removeprefix("file://"))
                if path.is_dir():
                    dirs.append(path)
    return dirs


def choose_python() -> tuple[str, str, Path | None]:
    """(executable, "3.x", torch wheel or None to link this environment's torch)."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version in ("3.13", "3.12"):
        if version == here:
            break
        exe = shutil.which(f"python{version}")
        if exe is None:
            continue
        tag = "cp" + version.replace(".", "")
        for folder in _find_links():
            found = sorted(folder.glob(f"torch-*-{tag}-{tag}-*.whl"))
            if found:
                return exe, version, found[-1]
    return sys.executable, here, None


def download() -> Path:
    """Fetch the wheels of Colab's versions (and torch's, for another Python)."""
    exe, version, torch_wheel = choose_python()
    target = wheels_dir()
    target.mkdir(parents=True, exist_ok=True)
    common = [sys.executable, "-m", "pip", "download", "-q", "-d", str(target)]
    common += ["--only-binary=:all:", "--python-version", version]
    subprocess.run([*common, "--no-deps", "-r", str(VERSIONS)], check=True)
    if torch_wheel is not None:  # its dependencies, for that Python
        subprocess.run([*common, str(torch_wheel)], check=True)
    (target / ".python").write_text(version)
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["download"]:
        sys.exit(__doc__)
    print(f"Colab's wheels in {download()}")
