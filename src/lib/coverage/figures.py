"""The chapter's figures, and an explorer of the sweep that needs no kernel."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..core.plotting import COLORS, ROLE_COLORS
from .sweep import pick
from .task import SUPPORTS, ModularTask, support_counts

SUPPORT_COLORS = {
    "compositional": ROLE_COLORS["ours"],
    "disconnected": COLORS["orange"],
    "non_compositional": COLORS["red"],
}
LABELS = {s: s.replace("_", "-") for s in SUPPORTS}


def plot_support(task: ModularTask, train: np.ndarray, ax=None, title: str = ""):
    """Which modules were trained together: an (M, M) grid of counts."""
    ax = ax or plt.gca()
    counts = support_counts(task, train).astype(float)
    image = ax.imshow(np.ma.masked_equal(counts, 0), cmap="Blues", vmin=0)
    ax.set_facecolor("#f3f3f3")  # never trained together: light grey
    ticks = range(task.n_modules)
    ax.set(xticks=ticks, yticks=ticks, xlabel="module", ylabel="module", title=title)
    ax.grid(False)
    return image


def plot_supports(task: ModularTask, splits: dict[str, np.ndarray]):
    """One support grid per entry of `splits` (name -> trained combination indices)."""
    fig, axes = plt.subplots(
        1,
        len(splits),
        figsize=(3.2 * len(splits), 3.3),
        sharey=True,
        layout="constrained",
    )
    for ax, (name, train) in zip(np.atleast_1d(axes), splits.items(), strict=True):
        image = plot_support(task, train, ax, f"{LABELS.get(name, name)}")
        ax.label_outer()
    fig.colorbar(image, ax=axes, shrink=0.8, label="trained combinations with both")
    fig.suptitle("Training supports: how often two modules were trained together")
    return fig


def plot_heatmaps(results: Sequence[dict], coverages, widths, n_tasks):
    """OOD R² over (coverage, width), one panel per number of training tasks."""
    fig, axes = plt.subplots(
        1,
        len(n_tasks),
        figsize=(3.4 * len(n_tasks), 3.4),
        sharey=True,
        layout="constrained",
    )
    for ax, n in zip(np.atleast_1d(axes), n_tasks, strict=True):
        grid = np.array(
            [
                [
                    pick(results, coverage=c, width=w, n_tasks=n)["ood_r2"]
                    for c in coverages
                ]
                for w in widths
            ]
        )
        image = ax.imshow(grid, vmin=0, vmax=1, origin="lower", aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if v > 0.6 else "white",
            )
        ax.set(
            xticks=range(len(coverages)),
            xticklabels=[f"{c:g}" for c in coverages],
            yticks=range(len(widths)),
            yticklabels=[str(w) for w in widths],
            xlabel="coverage (fraction trained)",
            title=f"{n} training tasks",
        )
        ax.grid(False)
    np.atleast_1d(axes)[0].set_ylabel("width (hidden units)")
    fig.colorbar(image, ax=axes, shrink=0.9, label="OOD R²")
    fig.suptitle("R² on held-out combinations rises with coverage, width and data")
    return fig


def plot_controls(results: Sequence[dict], coverage: float, widths):
    """OOD R² of the three supports at one coverage, by width; ID R² as ticks."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    step = 0.8 / len(SUPPORTS)
    for k, s in enumerate(SUPPORTS):
        rows = [pick(results, coverage=coverage, width=w, support=s) for w in widths]
        xs = np.arange(len(widths)) + (k - 1) * step
        ax.bar(
            xs,
            [r["ood_r2"] for r in rows],
            step * 0.9,
            color=SUPPORT_COLORS[s],
            label=f"{LABELS[s]}: held-out",
        )
        ax.scatter(
            xs,
            [r["id_r2"] for r in rows],
            marker="_",
            s=300,
            color="black",
            label="trained combinations" if k == 0 else None,
            zorder=3,
        )
    ax.set(
        xticks=range(len(widths)),
        xticklabels=[str(w) for w in widths],
        xlabel="width (hidden units)",
        ylabel="R²",
        ylim=(min(0, ax.get_ylim()[0]), 1.05),
        title=f"Three supports, each trained on {coverage:.0%} of the combinations",
    )
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    return fig


def plot_probe(results: Sequence[dict], grid: Sequence[dict], correlation: float):
    """Probe R² of z from the last hidden layer against OOD R², every student."""
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    widths = sorted({r["width"] for r in grid})
    marks = dict(zip(widths, ("o", "s", "D", "^", "v"), strict=False))
    for w in widths:
        rows = [r for r in grid if r["width"] == w]
        ax.scatter(
            [r["probe_r2"][-1] for r in rows],
            [r["ood_r2"] for r in rows],
            marker=marks[w],
            color=ROLE_COLORS["train"],
            alpha=0.7,
            label=f"compositional, width {w}",
        )
    for s in SUPPORTS[1:]:
        rows = [r for r in results if r["support"] == s]
        ax.scatter(
            [r["probe_r2"][-1] for r in rows],
            [r["ood_r2"] for r in rows],
            marker="x",
            color=SUPPORT_COLORS[s],
            label=LABELS[s],
        )
    ax.set(
        xlabel="probe R² of z from the last hidden layer (held-out combinations)",
        ylabel="OOD R² of the student",
        title=f"Decodable z, composable student (r = {correlation:.2f})",
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_pair_coverage(result: dict, ax=None):
    """R² of each held-out combination against how many of its pairs were trained."""
    ax = ax or plt.gca()
    rng = np.random.default_rng(0)
    cov, r2 = result["pair_coverage"], np.clip(result["combo_r2"], -0.5, 1)
    ax.scatter(
        cov + rng.uniform(-0.03, 0.03, len(cov)),
        r2,
        s=14,
        alpha=0.7,
        color=SUPPORT_COLORS[result["support"]],
    )
    ax.set(
        xlim=(-0.1, 1.1),
        ylim=(-0.55, 1.05),
        xlabel="fraction of its module pairs trained together",
        ylabel="R² (clipped at -0.5)",
        title=f"each held-out combination (all together: R² = {result['ood_r2']:.2f})",
    )
    return ax


def plot_student(task: ModularTask, result: dict):
    """A student's training support beside the R² of each held-out combination."""
    fig, axes = plt.subplots(
        1, 2, figsize=(8.4, 3.4), width_ratios=(1, 1.5), layout="constrained"
    )
    plot_support(task, result["train"], axes[0], "modules trained together")
    plot_pair_coverage(result, axes[1])
    fig.suptitle(
        f"{LABELS[result['support']]} support, coverage {result['coverage']:.2f}, "
        f"width {result['width']}, {result['n_tasks']} training tasks"
    )
    return fig


def frame(task: ModularTask, result: dict, dpi: int = 72) -> bytes:
    """`plot_student` as PNG bytes: one picture of the explorer."""
    from ..core.explorer import figure_png

    return figure_png(plot_student(task, result), dpi=dpi)


class Frames:
    """`frame` for many results, drawn in one figure: the figure, its layout and
    its tight bounding box are made once (for the first result); each picture
    then swaps the data and the titles in and costs one draw. Call `close()`
    when done."""

    def __init__(self, task: ModularTask, dpi: int = 72):
        self.task, self.dpi, self.fig, self.box = task, dpi, None, None

    def __call__(self, result: dict) -> bytes:
        if self.fig is None:
            self.fig = plot_student(self.task, result)
            self.fig.set_dpi(self.dpi)
            self.fig.canvas.draw()  # the constrained layout, once
            self.fig.set_layout_engine("none")
            pad = plt.rcParams["savefig.pad_inches"]
            box = self.fig.get_tightbbox(self.fig.canvas.get_renderer())
            self.box = box.padded(pad if isinstance(pad, float) else 0.1)
        else:
            self._update(result)
        self.fig.canvas.draw()
        return self._png(np.asarray(self.fig.canvas.buffer_rgba()))

    def _png(self, pixels: np.ndarray) -> bytes:
        """The tight box of the drawn figure (as savefig's bbox_inches="tight"
        cuts it, the margin beyond the figure in its face colour) as PNG bytes."""
        import io

        from PIL import Image

        height, width = pixels.shape[:2]
        x0, y0, x1, y1 = np.round(np.asarray(self.box.extents) * self.dpi).astype(int)
        top, left = height - y1, x0  # the box's corner in the figure's pixels
        face = np.array(self.fig.get_facecolor()) * 255
        out = np.empty((y1 - y0, x1 - x0, 4), np.uint8)
        out[:] = np.round(face).astype(np.uint8)
        rows = slice(max(0, top), min(height, top + len(out)))
        cols = slice(max(0, left), min(width, left + out.shape[1]))
        out[
            rows.start - top : rows.stop - top, cols.start - left : cols.stop - left
        ] = pixels[rows, cols]
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="png")
        return buffer.getvalue()

    def _update(self, result: dict) -> None:
        support_ax, pairs_ax = self.fig.axes[:2]
        counts = support_counts(self.task, result["train"]).astype(float)
        image = support_ax.images[0]
        image.set_data(np.ma.masked_equal(counts, 0))
        image.set_clim(0, counts.max())
        rng = np.random.default_rng(0)  # the jitter plot_pair_coverage draws
        cov, r2 = result["pair_coverage"], np.clip(result["combo_r2"], -0.5, 1)
        points = pairs_ax.collections[0]
        points.set_offsets(np.c_[cov + rng.uniform(-0.03, 0.03, len(cov)), r2])
        points.set_color(SUPPORT_COLORS[result["support"]])
        pairs_ax.set_title(
            f"each held-out combination (all together: R² = {result['ood_r2']:.2f})"
        )
        self.fig.suptitle(
            f"{LABELS[result['support']]} support, coverage {result['coverage']:.2f}, "
            f"width {result['width']}, {result['n_tasks']} training tasks"
        )

    def close(self) -> None:
        if self.fig is not None:
            plt.close(self.fig)
            self.fig = None


def _stack(images, control):
    """A Stack of images whose shown child follows `control`, in the browser."""
    import ipywidgets as w

    from ..core.explorer import switcher

    return switcher([w.Image(value=png, format="png") for png in images], control)


def explorer(task: ModularTask, results: Sequence[dict], coverages, widths, control):
    """Precomputed frames switched by sliders in the page itself (no kernel needed).

    Tab 1: coverage x width on the compositional support (most data). Tab 2: the
    three supports at `control` coverage, by width.
    """
    import ipywidgets as w

    from ..core.explorer import mark_explorer, set_titles, switcher

    most = max(r["n_tasks"] for r in results)
    frame = Frames(task)  # one figure for every picture (as fast as one draw)
    width_a = w.SelectionSlider(options=[str(x) for x in widths], description="width")
    cover = w.SelectionSlider(
        options=[f"{c:g}" for c in coverages], description="coverage"
    )
    outer = switcher(
        [
            _stack(
                [
                    frame(
                        pick(
                            results,
                            coverage=c,
                            width=x,
                            n_tasks=most,
                            support="compositional",
                        ),
                    )
                    for x in widths
                ],
                width_a,
            )
            for c in coverages
        ],
        cover,
    )
    width_b = w.SelectionSlider(options=[str(x) for x in widths], description="width")
    support = w.Dropdown(options=[LABELS[s] for s in SUPPORTS], description="support")
    by_support = switcher(
        [
            _stack(
                [
                    frame(pick(results, coverage=control, width=x, support=s))
                    for x in widths
                ],
                width_b,
            )
            for s in SUPPORTS
        ],
        support,
    )
    frame.close()
    tabs = w.Tab(
        [
            w.VBox([w.HBox([cover, width_a]), outer]),
            w.VBox([w.HBox([support, width_b]), by_support]),
        ]
    )
    set_titles(tabs, ("coverage x width", f"three supports at coverage {control:.2f}"))
    return mark_explorer(tabs)
