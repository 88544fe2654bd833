"""Notebook helpers: glue values for the prose, show the library's source, Colab.

`glue` records a value in the cell's output the way MyST-NB reads it, so the
prose can cite it with {glue:text}`name:.2f` and the tests can read it back from
the executed notebook with `read_glued`. It emits the record itself rather than
importing myst_nb, so the library stays light on Colab.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

GLUE_PREFIX = "application/papermill.record/"
GLUED: dict[str, Any] = {}  # what this kernel has glued, for `claims_table`


def in_colab() -> bool:
    return "google.colab" in sys.modules


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Record `value` under `name` for {glue} roles and the claims tests.

    Numbers are stored at full precision; format them in the prose
    ({glue:text}`acc:.1%`). Floats must be finite: a NaN in the prose is a bug
    upstream, so it fails here, where the traceback points at it.
    Returns None, so a cell ending in `glue(...)` shows nothing extra on the page.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue name must be an identifier-like string, got {name!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to glue non-finite value {value!r} as {name!r}")
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy / torch scalars -> Python numbers
    GLUED[name] = value
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata = dict(metadata, scrapbook={"name": name, "mime_prefix": prefix})
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def read_glued(notebook: str | os.PathLike | dict) -> dict[str, Any]:
    """Every glued value of an executed notebook, parsed back into Python.

    Numbers, strings, lists and dicts of them come back as Python objects; other
    values (figures, say) as their text representation. For a notebook executed
    by the book build, MyST-NB moves the glued outputs into `<name>.glue.json`
    beside it; that file is read too.
    """
    outputs = []
    if isinstance(notebook, dict):
        nb = notebook
    else:
        path = Path(notebook)
        nb = json.loads(path.read_text())
        sidecar = path.with_name(path.stem + ".glue.json")
        if sidecar.is_file():
            outputs += json.loads(sidecar.read_text()).values()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            outputs += cell.get("outputs", [])
    found: dict[str, Any] = {}
    for out in outputs:
        meta = out.get("metadata", {}).get("scrapbook")
        if not meta:
            continue
        data = out.get("data", {})
        text = data.get(meta["mime_prefix"] + "text/plain", data.get("text/plain", ""))
        text = "".join(text) if isinstance(text, list) else text
        try:
            found[meta["name"]] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            found[meta["name"]] = text
    return found


def show_source(obj: Any) -> Any:
    """Display the source of a library function or class, highlighted.

    Chapters show the reader the library's code with this, never by pasting it.
    """
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"cannot show the source of {obj!r}: {exc}") from None
    try:
        from IPython.display import Code

        return Code(source, language="python")
    except ImportError:  # outside IPython: plain text
        return source
