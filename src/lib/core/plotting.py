"""The book's figure style: one call at the top of a chapter."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

# Colour-blind-safe palette (Okabe & Ito), named by the role colours play in the book.
COLORS = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#999999",
}
# Roles used across chapters, so "in distribution" is always the same colour.
ROLE_COLORS = {
    "train": COLORS["blue"],
    "in_distribution": COLORS["blue"],
    "held_out": COLORS["orange"],
    "chance": COLORS["grey"],
    "baseline": COLORS["grey"],
    "ours": COLORS["green"],
}

BOOK_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
    "axes.prop_cycle": mpl.cycler(color=list(COLORS.values())),
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (idempotent)."""
    plt.rcParams.update(BOOK_STYLE)


def mark_chance(ax: plt.Axes, level: float, *, label: str = "chance") -> None:
    """Draw a dashed horizontal line at chance level, labelled."""
    ax.axhline(level, ls="--", lw=1, color=ROLE_COLORS["chance"], label=label, zorder=0)
