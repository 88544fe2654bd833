"""The chapter's figures and its weight-sweep explorer (works without a kernel)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..core.explorer import figure_png, mark_explorer, switcher
from ..core.plotting import COLORS
from .cppn import CPPN, feature_maps
from .experiment import NETS, knob_index
from .probes import sweep, weight_vector

NET_COLORS = {"factored": COLORS["green"], "SGD": COLORS["orange"]}


def _gray(ax, image, title: str = "") -> None:
    ax.imshow(np.asarray(image), cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)


def plot_fits(result: dict):
    """The target, both networks' images and where the SGD one differs."""
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
    _gray(axes[0], result["targets"]["image"], "target")
    for ax, name in zip(axes[1:3], NETS, strict=True):
        err = result[name]["pixel_error"]
        _gray(ax, result[name]["image"], f"{name} network\npixel error {err:.3f}")
    diff = (result["SGD"]["image"] - result["targets"]["image"]).abs()
    im = axes[3].imshow(diff, cmap="magma", vmin=0, vmax=max(0.1, float(diff.max())))
    axes[3].set(xticks=[], yticks=[], title="|SGD - target|")
    axes[3].grid(False)
    fig.colorbar(im, ax=axes[3], fraction=0.046, label="brightness")
    return fig


def plot_feature_maps(net: CPPN, title: str, res: int = 64):
    """Every hidden unit's activation as an image, one row per layer."""
    maps = feature_maps(net, res)
    names = net.arch.unit_names()
    fig, axes = plt.subplots(
        len(maps), len(names), figsize=(0.62 * len(names), 0.75 * len(maps) + 0.5)
    )
    for layer, row in enumerate(maps):
        for k, ax in enumerate(axes[layer]):
            m = row[k]
            flat = float(m.max() - m.min()) < 1e-6  # a unit that does nothing
            ax.imshow(m, cmap="RdBu_r", vmin=-1.2, vmax=1.2, alpha=0.25 if flat else 1)
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            if layer == 0:
                ax.set_title(names[k][:4], fontsize=7)
        axes[layer][0].set_ylabel(f"layer {layer + 1}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def sweep_picks(result: dict, n: int = 4) -> dict[str, list[tuple[str, int]]]:
    """Weights to sweep: the factored network's named knobs, and the SGD
    network's `n` weights whose sweeps change the image most."""
    fac = result["nets"]["factored"]
    return {
        "factored": [(k, knob_index(fac, k)) for k in list(KNOB_ORDER)[:n]],
        "SGD": [
            (f"weight #{i} (by effect)", idx)
            for i, idx in enumerate(result["SGD"]["strongest"][:n], start=1)
        ],
    }


KNOB_ORDER = ("eye spacing", "eye height", "mouth width", "teeth")


def sweep_frames(net: CPPN, index: int, fractions, res: int = 64) -> torch.Tensor:
    w = float(weight_vector(net)[index])
    return sweep(net, index, [w * (1 + f) for f in fractions], res=res)


def plot_sweeps(result: dict, fractions=(-0.5, -0.25, 0.0, 0.25, 0.5), n: int = 3):
    """Rows: swept weights of each network; columns: the weight scaled by 1 + f."""
    picks = sweep_picks(result, n)
    fig, axes = plt.subplots(
        2 * n, len(fractions), figsize=(1.5 * len(fractions), 1.55 * 2 * n)
    )
    row = 0
    for name in NETS:
        for label, idx in picks[name]:
            frames = sweep_frames(
                result["nets"][name], idx, fractions, result["exp"].res
            )
            for col, (ax, f) in enumerate(zip(axes[row], fractions, strict=True)):
                _gray(ax, frames[col], f"x{1 + f:.2f}" if row == 0 else "")
            axes[row][0].set_ylabel(f"{name}\n{label}", fontsize=7)
            row += 1
    fig.suptitle("Weight sweeps: one weight scaled, everything else fixed", fontsize=10)
    return fig


def plot_measures(result: dict):
    """Left: every weight's asymmetry, both networks. Right: the strongest sweep
    of each network split into its mirror-symmetric and antisymmetric parts."""
    fig = plt.figure(figsize=(10, 3.6))
    grid = fig.add_gridspec(2, 4, width_ratios=(1.6, 1, 1, 1))
    ax = fig.add_subplot(grid[:, 0])
    rng = np.random.default_rng(0)
    for i, name in enumerate(NETS):
        sym = result[name]["symmetry"]
        vals = sym["per_weight"].numpy()
        ax.scatter(
            i + rng.uniform(-0.2, 0.2, len(vals)),
            vals,
            s=7,
            alpha=0.5,
            color=NET_COLORS[name],
        )
        ax.hlines(
            sym["share"],
            i - 0.3,
            i + 0.3,
            color="k",
            lw=2,
            label="share of all change" if i == 0 else None,
        )
    ax.set(
        xticks=range(len(NETS)),
        xticklabels=[
            f"{n}\n({result[n]['symmetry']['n_weights']} weights)" for n in NETS
        ],
        ylabel="antisymmetric share of the change",
        ylim=(-0.02, 1.0),
        title="Does a sweep keep the mirror symmetry?",
    )
    ax.legend(loc="upper left", fontsize=8)
    for row, name in enumerate(NETS):
        delta = result[name]["strongest_changes"][0, -1]  # strongest weight, x1.25
        mirror = delta.flip(-1)
        parts = (delta, (delta + mirror) / 2, (delta - mirror) / 2)
        scale = float(delta.abs().max()) or 1.0
        for col, (part, title) in enumerate(
            zip(parts, ("change", "symmetric part", "antisymmetric part"), strict=True)
        ):
            a = fig.add_subplot(grid[row, col + 1])
            a.imshow(part, cmap="RdBu_r", vmin=-scale, vmax=scale)
            a.set(xticks=[], yticks=[])
            a.grid(False)
            if row == 0:
                a.set_title(title, fontsize=9)
            if col == 0:
                a.set_ylabel(f"{name}\nstrongest weight", fontsize=8)
    return fig


def plot_adaptation(result: dict):
    """Pixel error while each network is fine-tuned to the two variants."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3), sharey=True)
    for ax, v in zip(axes, ("variant", "one eye"), strict=True):
        for name in NETS:
            r = result[name]["adapt"][v]
            ax.plot(r["steps"], r["pixel_error"], color=NET_COLORS[name], label=name)
        ax.axhline(
            result["exp"].threshold,
            ls="--",
            color=COLORS["grey"],
            lw=1,
            label="threshold",
        )
        ax.set(yscale="log", xlabel="fine-tuning step", title=f"target: {v}")
    axes[0].set_ylabel("pixel error (RMS)")
    axes[0].legend(fontsize=8)
    return fig


def sweep_explorer(result: dict, n_values: int = 9, span: float = 0.6, n: int = 4):
    """Pick a pair of weights, slide the sweep: works in the page, no kernel.

    Every frame (the factored and the SGD network side by side, one weight of
    each scaled by 1 + f) is drawn in advance; ToggleButtons and a slider are
    linked on the client side (jslink) to Stacks of the images (`switcher`).
    """
    import ipywidgets as w

    fractions = np.linspace(-span, span, n_values)
    picks = sweep_picks(result, n)
    slider = w.IntSlider(  # the first control: the browser test moves it
        value=n_values // 2, min=0, max=n_values - 1, readout=False, description="sweep"
    )
    pages = []
    for k in range(n):
        frames = {
            name: sweep_frames(
                result["nets"][name], picks[name][k][1], fractions, result["exp"].res
            )
            for name in NETS
        }
        images = []
        for j, f in enumerate(fractions):
            fig, axes = plt.subplots(1, 2, figsize=(4.6, 2.5))
            for ax, name in zip(axes, NETS, strict=True):
                _gray(ax, frames[name][j], f"{name}: {picks[name][k][0]}")
                ax.title.set_fontsize(8)
            fig.suptitle(f"weight x {1 + f:.2f}", fontsize=9)
            images.append(w.Image(value=figure_png(fig, dpi=72), format="png"))
        pages.append(switcher(images, slider, "value", selected=n_values // 2))
    choice = w.ToggleButtons(
        options=[f"{picks['factored'][k][0]} | SGD #{k + 1}" for k in range(n)]
    )
    return mark_explorer(w.VBox([slider, choice, switcher(pages, choice)]))


def plot_scaling(result: dict):
    """The SGD network's share of asymmetric change (left) and its pixel error
    (right) against its weights, one point per width; the factored network at
    its own size beside it. Hollow rings: fitted on this page."""
    pts = result["scaling"]
    x = [p["n_weights"] for p in pts]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, key, label in ((axes[0], "share", "share of asymmetric change"),
                           (axes[1], "pixel_error", "pixel error (RMS)")):
        ax.plot(x, [p[key] for p in pts], marker="o", color=NET_COLORS["SGD"],
                label="SGD network")
        for xi, p in zip(x, pts, strict=True):
            ax.annotate(f"width {p['width']}", (xi, p[key]), fontsize=8,
                        textcoords="offset points", xytext=(4, 6))
            if p["how"] == "trained live":
                ax.scatter(xi, p[key], s=150, facecolor="none",
                           edgecolor=COLORS["black"], zorder=4,
                           label="fitted on this page")
        f = result["factored"]
        value = f["symmetry"]["share"] if key == "share" else f["pixel_error"]
        ax.scatter(result["nets"]["factored"].n_weights(), value, marker="*",
                   s=160, color=NET_COLORS["factored"], zorder=5,
                   label="factored network")
        ax.set(xscale="log", xlabel="weights of the network", ylabel=label)
        ax.legend(fontsize=8)
    axes[0].set(ylim=(-0.02, max(0.55, max(p["share"] for p in pts) + 0.05)),
                title="Fracture as the SGD network grows")
    axes[1].set(title="Its fit as it grows")
    fig.tight_layout()
    return fig
