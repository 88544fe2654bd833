"""Explorers that work in the rendered book, where no kernel runs.

A chapter draws every view in advance; a control (slider, toggle buttons or a
drop-down) is linked on the client side (`jslink`) to a `Stack` that shows one
picture at a time. The saved widget state carries the pictures and the link, so
the page switches views in the browser alone.

ipywidgets 7 (Colab's, 7.7.1) has no `Stack`. There `switcher` builds a box whose
child Python swaps when the control moves: the same explorer, live in a running
kernel (the rendered book is built with ipywidgets 8 and keeps the Stack).

    explorer = frame_explorer([fig_a, fig_b, fig_c], ["step 0", "step 10", "step 20"],
                              description="after")

Every explorer carries the CSS class `compgen-explorer`; the browser test finds
them by it, moves their control and checks that the view changed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

EXPLORER_CLASS = "compgen-explorer"
CONTROLS = ("slider", "toggle", "dropdown")


def figure_png(fig: Any, dpi: int = 90) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def has_stack() -> bool:
    """Whether the installed ipywidgets can switch views in the browser (8+)."""
    import ipywidgets as w

    return hasattr(w, "Stack")


def switcher(
    pages: Sequence[Any], control: Any, trait: str = "index", *, selected: int = 0
) -> Any:
    """A box showing `pages[control.<trait>]`, following the control.

    With ipywidgets 8 it is a `Stack` jslinked to the control, so it works in a
    page without a kernel; with ipywidgets 7 the kernel swaps the child.
    """
    import ipywidgets as w

    pages = list(pages)
    if not pages:
        raise ValueError("a switcher needs at least one page")
    if not 0 <= selected < len(pages):
        raise ValueError(f"selected must be in [0, {len(pages)}), got {selected}")
    if has_stack():
        stack = w.Stack(pages, selected_index=selected)
        w.jslink((control, trait), (stack, "selected_index"))
        return stack
    box = w.Box([pages[selected]])
    box._compgen_pages = pages  # what the Colab test checks the box against
    box._compgen_control = (control, trait)

    def show(change: dict) -> None:
        k = change["new"]
        if isinstance(k, int) and 0 <= k < len(pages):
            box.children = (pages[k],)

    control.observe(show, names=trait)
    return box


def set_titles(widget: Any, titles: Sequence[str]) -> Any:
    """Titles of a Tab or Accordion, under ipywidgets 7 and 8 alike."""
    for k, title in enumerate(titles):
        widget.set_title(k, str(title))
    return widget


def mark_explorer(widget: Any) -> Any:
    """Tag a hand-built explorer widget so the browser test exercises it."""
    widget.add_class(EXPLORER_CLASS)
    return widget


def frame_explorer(
    frames: Sequence[Any],
    labels: Sequence[str],
    *,
    description: str = "",
    control: str = "slider",
    dpi: int = 90,
) -> Any:
    """A control linked in the browser to a Stack of precomputed pictures.

    `frames` are matplotlib figures (closed after drawing) or PNG bytes, one per
    entry of `labels`. `control` is "slider", "toggle" or "dropdown".
    """
    import ipywidgets as w

    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
    if len(frames) != len(labels):
        raise ValueError(
            f"{len(frames)} frames but {len(labels)} labels: give one label per frame"
        )
    if len(frames) < 2:
        raise ValueError("an explorer needs at least two frames to switch between")
    labels = [str(label) for label in labels]
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be distinct, got {labels}")
    images = [
        w.Image(
            value=f if isinstance(f, bytes) else figure_png(f, dpi=dpi), format="png"
        )
        for f in frames
    ]
    if control == "slider":
        chooser = w.SelectionSlider(
            options=labels,
            value=labels[0],
            description=description,
            continuous_update=True,
            layout=w.Layout(width="min(90%, 40em)"),
            style={"description_width": "initial"},
        )
    elif control == "toggle":
        chooser = w.ToggleButtons(
            options=labels, value=labels[0], description=description
        )
    else:
        chooser = w.Dropdown(options=labels, value=labels[0], description=description)
    return mark_explorer(w.VBox([chooser, switcher(images, chooser)]))
