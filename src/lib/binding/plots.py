"""The chapter's figures. Each takes results, draws on given axes, returns them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..core.plotting import COLORS, ROLE_COLORS, mark_chance
from .scenes import COLOR_NAMES, SHAPE_NAMES, World, describe, render

CODE_COLORS = {
    "bag": COLORS["orange"],
    "conjunctive": COLORS["purple"],
    "slots": ROLE_COLORS["ours"],
    "baseline": COLORS["black"],
}


def show_image(ax, image: torch.Tensor, title: str = "") -> None:
    """One (3, H, W) image, no ticks, on a dark frame."""
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)


def plot_scenes(scenes: np.ndarray, world: World = World(), *, ncols: int = 4):
    """A grid of rendered scenes, each titled with what it holds."""
    images, _ = render(scenes, world=world)
    nrows = -(-len(scenes) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.1 * ncols, 2.7 * nrows))
    for ax, image, scene in zip(np.ravel(axes), images, scenes, strict=False):
        show_image(ax, image, describe(scene).replace(" + ", "\n+ "))
        ax.title.set_fontsize(7)
    for ax in np.ravel(axes)[len(scenes) :]:
        ax.axis("off")
    fig.suptitle("Scenes of the tiny world (18 x 18 pixels)")
    fig.tight_layout()
    return fig


def plot_look_alikes(scene_a: np.ndarray, scene_b: np.ndarray, codes_fn):
    """Two scenes, their bag codes (identical) and conjunctive codes (different)."""
    fig, axes = plt.subplots(2, 3, figsize=(9, 5.4), width_ratios=[1, 2.2, 1.3])
    names = [*COLOR_NAMES, *SHAPE_NAMES]
    for row, scene in enumerate((scene_a, scene_b)):
        images, _ = render(scene[None])
        show_image(axes[row, 0], images[0], describe(scene))
        axes[row, 0].title.set_fontsize(8)
        bag = codes_fn(scene[None], "bag")[0].numpy()
        axes[row, 1].bar(range(len(bag)), bag, color=CODE_COLORS["bag"])
        axes[row, 1].set(
            xlabel="unit",
            ylabel="count",
            ylim=(0, 1.3),
            title="bag of features",
            yticks=[0, 1],
        )
        axes[row, 1].set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        conj = codes_fn(scene[None], "conjunctive")[0].view(6, 6).numpy()
        axes[row, 2].imshow(conj, cmap="Purples", vmin=0, vmax=1)
        axes[row, 2].set_xticks(range(6), SHAPE_NAMES, rotation=60, fontsize=6)
        axes[row, 2].set_yticks(range(6), COLOR_NAMES, fontsize=6)
        axes[row, 2].set(title="conjunctive units", xlabel="shape", ylabel="colour")
        axes[row, 2].grid(False)
    fig.suptitle("Two different scenes, one bag-of-features code")
    fig.tight_layout()
    return fig


def plot_collisions(counts: dict[str, dict[int, dict]], ax=None):
    """Share of scenes whose code another scene also has, by objects per scene."""
    ax = ax or plt.gca()
    for code, by_k in counts.items():
        ks = sorted(by_k)
        share = [by_k[k]["ambiguous"] / by_k[k]["scenes"] for k in ks]
        ax.plot(ks, share, "o-", color=CODE_COLORS[code], label=code)
    ax.set(
        xlabel="objects per scene",
        ylabel="share of scenes with a look-alike",
        ylim=(-0.05, 1.05),
        xticks=ks,
        title="How often two scenes get the same code",
    )
    ax.legend(loc="center right")
    return ax


def plot_accuracy_bars(
    results: dict[str, dict[str, float]],
    groups: dict[str, str],
    *,
    title: str,
    chance: float | None = None,
    ceiling: dict[str, float] | None = None,
    ax=None,
):
    """Grouped bars: one group per test set, one bar per code.

    `results[code][group]` is an accuracy; `groups` maps group keys to labels;
    `ceiling[code]` (optional) marks the best any reader of that code can do.
    """
    ax = ax or plt.gca()
    n = len(results)
    width = 0.8 / n
    for i, (code, accs) in enumerate(results.items()):
        x = np.arange(len(groups)) + (i - (n - 1) / 2) * width
        values = [accs[g] for g in groups]
        ax.bar(x, values, width, color=CODE_COLORS[code], label=code)
        for xi, v in zip(x, values, strict=True):
            ax.text(xi, v + 0.02, f"{v:.2f}", ha="center", fontsize=7)
        if ceiling and code in ceiling:
            left, right = x[0] - width / 2, x[0] + width / 2
            best = f"best any {code} reader can do"
            ax.hlines(ceiling[code], left, right, colors="k", lw=2.5, label=best)
    if chance is not None:
        mark_chance(ax, chance)
    ax.set_xticks(range(len(groups)), list(groups.values()))
    ax.set(
        xlabel="test scenes",
        ylabel="accuracy (binding queries)",
        ylim=(0, 1.12),
        title=title,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return ax


def plot_held_out(held: np.ndarray, world: World = World(), ax=None):
    """The colour x shape grid with the held-out pairs marked."""
    from matplotlib.colors import ListedColormap

    ax = ax or plt.gca()
    grid = np.zeros((world.n_colors, world.n_shapes))
    grid[held[:, 0], held[:, 1]] = 1
    cmap = ListedColormap([ROLE_COLORS["train"], ROLE_COLORS["held_out"]])
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(world.n_shapes), SHAPE_NAMES[: world.n_shapes], rotation=45)
    ax.set_yticks(range(world.n_colors), COLOR_NAMES[: world.n_colors])
    ax.set(
        xlabel="shape",
        ylabel="colour",
        title="Pairs in training (blue), held out (orange)",
    )
    ax.grid(False)
    return ax


def plot_by_count(results: dict[str, dict], train_counts, *, chance: float, axes=None):
    """Accuracy of each model and the slot model's ARI against objects per scene."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ks = sorted(next(iter(results.values())))
    for ax in axes:
        ax.axvspan(min(train_counts) - 0.5, max(train_counts) + 0.5, color="0.92")
        ax.text(np.mean(train_counts), 0.5, "seen in\ntraining", ha="center")
    for kind, by_k in results.items():
        label = "slot attention" if kind == "slots" else "CNN + MLP (no slots)"
        acc = [by_k[k]["acc"] for k in ks]
        axes[0].plot(ks, acc, "o-", color=CODE_COLORS[kind], label=label)
        if "ari" in by_k[ks[0]]:
            ari = [by_k[k]["ari"] for k in ks]
            axes[1].plot(ks, ari, "o-", color=CODE_COLORS[kind], label=label)
    mark_chance(axes[0], chance)
    axes[0].set(
        xlabel="objects in the scene",
        ylabel="accuracy (colour of the queried shape)",
        ylim=(0, 1.08),
        xticks=ks,
        title="Answering per-object queries from pixels",
    )
    axes[1].set(
        xlabel="objects in the scene",
        ylabel="foreground ARI of the slot masks",
        ylim=(0, 1.08),
        xticks=ks,
        title="Does each slot hold one object?",
    )
    for ax in axes:
        ax.legend(loc="lower left")
    return axes


def plot_slot_masks(model, batch: dict, index: int = 0):
    """One image, its true objects, the slot model's grouping and every slot's mask."""
    from matplotlib.colors import ListedColormap

    with torch.no_grad():
        model(batch["images"], batch["queries"], batch["n_slots"])
    image, truth = batch["images"][index], batch["masks"][index]
    size = image.shape[-1]
    masks = model.masks[index].view(-1, size, size)
    k = len(masks)
    fig = plt.figure(figsize=(8, 5.2))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.5, 1])
    axes = top.subplots(1, 3)
    show_image(axes[0], image, "image")
    palette = ListedColormap(["black", *plt.get_cmap("tab10").colors[:9]])
    axes[1].imshow(truth, cmap=palette, vmin=0, vmax=9, interpolation="nearest")
    grouping = masks.argmax(0)
    axes[2].imshow(grouping, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    for ax, title in zip(axes[1:], ("true objects", "each pixel's slot"), strict=True):
        ax.set(xticks=[], yticks=[], title=title)
        ax.grid(False)
    for j, ax in enumerate(bottom.subplots(1, k)):
        ax.imshow(masks[j], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=[], title=f"slot {j + 1}")
        ax.grid(False)
    bottom.suptitle("each slot's mask (white: the slot paints this pixel)", fontsize=9)
    top.suptitle(f"The slot model on a scene of {k - 1} objects, with {k} slots")
    return fig


def plot_scaling(
    bag: dict, cnn: dict, fixes: dict, *, ceiling: float, chance: float, axes=None
):
    """The two failures against the failing model's size, the fixes beside them.

    `bag`: "weights", "look", "unique" and "look_long" (10x the steps), one per
    width; `cnn`: "weights", "seen", "most"; `fixes`: "reader" and "pixels",
    each (weights, accuracy) of the slot model at its own size, on look-alikes
    and at the most objects.
    """
    from matplotlib.ticker import NullFormatter

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    left, right = axes
    slot_color = CODE_COLORS["slots"]
    left.plot(
        bag["weights"],
        bag["unique"],
        "s--",
        color=CODE_COLORS["bag"],
        alpha=0.5,
        label="bag reader, unique scenes",
    )
    left.plot(
        bag["weights"],
        bag["look"],
        "o-",
        color=CODE_COLORS["bag"],
        label="bag reader, look-alikes",
    )
    left.plot(
        bag["weights"],
        bag["look_long"],
        "x:",
        color=CODE_COLORS["bag"],
        label="bag reader, look-alikes, 10x steps",
    )
    left.axhline(ceiling, color="k", lw=1.5, label="best any bag reader can do")
    left.plot(
        *fixes["reader"], "*", ms=14, color=slot_color, label="slot reader, look-alikes"
    )
    right.plot(
        cnn["weights"],
        cnn["seen"],
        "s--",
        color=CODE_COLORS["baseline"],
        alpha=0.5,
        label=f"CNN, {cnn['seen_k']} objects (as trained)",
    )
    right.plot(
        cnn["weights"],
        cnn["most"],
        "o-",
        color=CODE_COLORS["baseline"],
        label=f"CNN, {cnn['most_k']} objects",
    )
    right.plot(
        *fixes["pixels"],
        "*",
        ms=14,
        color=slot_color,
        label=f"slot attention, {cnn['most_k']} objects",
    )
    for ax, title in zip(
        axes,
        ("Reading look-alike scenes", "Pixels, more objects than in training"),
        strict=True,
    ):
        mark_chance(ax, chance)
        ax.set_xscale("log")
        ax.set(
            xlabel="trained weights (log scale)",
            ylabel="accuracy",
            ylim=(0, 1.08),
            title=title,
        )
        ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels
    left.legend(loc="upper left", bbox_to_anchor=(0, 0.9), fontsize=7)
    right.legend(loc="center left", fontsize=7)
    return axes
