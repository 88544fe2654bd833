"""The chapter's figures and its graph explorer (works without a kernel)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..core.explorer import frame_explorer
from ..core.plotting import COLORS
from .analysis import CATEGORIES
from .experiment import accuracy_grid, compounding, matching, taxonomy
from .multiplication import build_graph

CATEGORY_COLORS = {
    "correct": COLORS["green"], "local": COLORS["red"],
    "propagation": COLORS["orange"], "restoration": COLORS["blue"],
    "missing": COLORS["grey"],
}
SYMBOL = {"m": "m", "s": "s", "Q": "Q", "t": "t", "S": "S", "a": "a", "b": "b"}


def plot_grid(result: dict):
    """Exact match over (digits of a, digits of b), with and without scratchpad;
    the trained sizes are framed."""
    trained = set(result["exp"].setup.train_sizes())
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, name, title in zip(axes, ("scratchpad", "direct"),
                               ("with the scratchpad", "answer only"), strict=True):
        grid = accuracy_grid(result["records"][name])
        top_a = max(s[0] for s in grid)
        top_b = max(s[1] for s in grid)
        img = np.full((top_b, top_a), np.nan)
        for (da, db), acc in grid.items():
            img[db - 1, da - 1] = acc
        ax.imshow(img, vmin=0, vmax=1, cmap="viridis", origin="lower")
        for (da, db), acc in grid.items():
            ax.text(da - 1, db - 1, f"{acc:.2f}", ha="center", va="center",
                    color="white" if acc < 0.6 else "black", fontsize=9)
            if (da, db) in trained:
                ax.add_patch(plt.Rectangle((da - 1.5, db - 1.5), 1, 1, fill=False,
                                           lw=2, ec=COLORS["black"]))
        ax.set(xticks=range(top_a), xticklabels=range(1, top_a + 1),
               yticks=range(top_b), yticklabels=range(1, top_b + 1),
               xlabel="digits of a", title=f"exact match, {title}")
        ax.grid(False)
    axes[0].set_ylabel("digits of b")
    fig.text(0.5, -0.04, "framed: sizes trained on (tested on held-out problems)",
             ha="center", fontsize=9)
    return fig


def plot_compounding(result: dict):
    """Accuracy per size against its number of steps, the (1-eps)^k fit and the
    product of per-node local accuracies."""
    comp = compounding(result["records"]["scratchpad"])
    trained = set(result["exp"].setup.train_sizes())
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ks = np.linspace(0, comp["k"].max() + 3, 200)
    ax.plot(ks, (1 - comp["eps"]) ** ks, color=COLORS["grey"],
            label=f"(1 - eps)^k, eps = {comp['eps']:.3f}")
    for s, k, acc, prod in zip(comp["sizes"], comp["k"], comp["acc"],
                               comp["product"], strict=True):
        color = COLORS["blue"] if s in trained else COLORS["orange"]
        ax.scatter(k, acc, color=color, zorder=3)
        ax.scatter(k, prod, color=color, marker="x", zorder=3)
        ax.annotate(f"{s[0]}x{s[1]}", (k, acc), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.scatter([], [], color=COLORS["blue"], label="trained size (held out)")
    ax.scatter([], [], color=COLORS["orange"], label="larger size")
    ax.scatter([], [], color=COLORS["black"], marker="x",
               label="product of per-node accuracies")
    ax.set(xlabel="computation steps k (non-input nodes)", ylabel="exact match",
           ylim=(-0.05, 1.05), title="Accuracy falls with the number of steps")
    ax.legend(fontsize=8)
    return fig


def plot_taxonomy(result: dict):
    """Share of each node category per depth, trained sizes and larger sizes."""
    trained = set(result["exp"].setup.train_sizes())
    recs = result["records"]["scratchpad"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, inside, title in zip(axes, (True, False),
                                 ("trained sizes", "larger sizes"), strict=True):
        tax = taxonomy([r for r in recs if (r["size"] in trained) == inside])
        total = sum(tax.values()).astype(float)
        depths = np.nonzero(total)[0]
        bottom = np.zeros(len(depths))
        for c in CATEGORIES:
            share = tax[c][depths] / total[depths]
            ax.bar(depths, share, bottom=bottom, color=CATEGORY_COLORS[c], label=c)
            bottom += share
        ax.set(xlabel="depth of the node", title=f"Node categories, {title}")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("share of nodes")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return fig


def plot_matching(result: dict):
    """Left: mean training count of right and wrong nodes' sub-computations
    per depth (every test problem). Middle: node accuracy, seen vs unseen
    sub-computations. Right: larger sizes with the true scratchpad before each
    node, by seen or not and by within or beyond the longest trained sequence."""
    from matplotlib.patches import Patch

    from .experiment import forced_accuracy

    trained = set(result["exp"].setup.train_sizes())
    recs = result["records"]["scratchpad"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    m = matching(recs)
    ax = axes[0]
    for key, label, color in (("count_right", "right nodes", COLORS["green"]),
                              ("count_wrong", "wrong nodes", COLORS["red"])):
        ax.plot(m["depths"], np.asarray(m[key]) + 1, marker="o", color=color,
                label=label)
    ax.set(yscale="log", xlabel="depth of the node",
           ylabel="1 + training scratchpads\nwith the same sub-computation",
           title="How often each node was seen")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    ax = axes[1]
    groups = {"trained sizes": [r for r in recs if r["size"] in trained],
              "larger sizes": [r for r in recs if r["size"] not in trained]}
    colors = (COLORS["blue"], COLORS["orange"])
    for g, rs in enumerate(groups.values()):
        mm = matching(rs)
        for h, (key, n) in enumerate((("acc_seen", "n_seen"),
                                      ("acc_unseen", "n_unseen"))):
            if mm[n]:
                x = g + 0.2 * (2 * h - 1)
                ax.bar(x, mm[key], width=0.38, color=colors[h])
                ax.text(x, mm[key] + 0.02, f"n={mm[n]}", ha="center", fontsize=8)
    ax.legend(handles=[Patch(color=colors[0], label="sub-computation seen"),
                       Patch(color=colors[1], label="never seen")], fontsize=8)
    ax.set(xticks=[0, 1], xticklabels=list(groups), ylim=(0, 1.12),
           ylabel="share of nodes right", title="Node accuracy, free-running")
    ax = axes[2]
    fa = forced_accuracy(groups["larger sizes"], result["longest"])
    fi = forced_accuracy(groups["trained sizes"], result["longest"])
    bars = [("trained\nsizes", fi["forced_all"], fi["n_forced_all"],
             COLORS["green"])]
    for key, label in (("seen_within", "seen,\nwithin"),
                       ("seen_beyond", "seen,\nbeyond"),
                       ("unseen_within", "unseen,\nwithin"),
                       ("unseen_beyond", "unseen,\nbeyond")):
        if fa[f"n_forced_{key}"]:
            color = colors[0] if key.startswith("seen") else colors[1]
            bars.append((label, fa[f"forced_{key}"], fa[f"n_forced_{key}"], color))
    for x, (_name, acc, n, color) in enumerate(bars):
        ax.bar(x, acc, color=color, width=0.7)
        ax.text(x, acc + 0.02, f"n={n}", ha="center", fontsize=8)
    ax.set(xticks=range(len(bars)), xticklabels=[b[0] for b in bars],
           ylim=(0, 1.12), ylabel="share of nodes right",
           title="True scratchpad before each node")
    ax.tick_params(axis="x", labelsize=8)
    ax.text(0.98, 0.6, "larger sizes:\nwithin / beyond the\nlongest trained length",
            transform=ax.transAxes, ha="right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_curve(result: dict):
    """Training loss of the short run trained on this page."""
    hist = [r for r in result["live"].history if "loss" in r]
    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.plot([r["step"] for r in hist], [r["loss"] for r in hist])
    ax.set(xlabel="step", ylabel="loss per answer character", yscale="log",
           title="The short run trained on this page")
    return fig


def _layout(g: dict) -> dict:
    by_depth: dict[int, list] = {}
    for name, n in g.items():
        by_depth.setdefault(n.depth, []).append(name)
    pos = {}
    for d, names in by_depth.items():
        for r, name in enumerate(names):
            pos[name] = (d, -(r - (len(names) - 1) / 2))
    return pos


def _label(name: tuple) -> str:
    return SYMBOL[name[0]] + "".join(str(i) for i in name[1:])


def plot_graph(record: dict, ax=None):
    """The computation graph of one problem, each node coloured by its
    category; the label is what the model wrote (truth in brackets if wrong)."""
    g = build_graph(record["a"], record["b"])
    pos = _layout(g)
    if ax is None:
        depth = max(n.depth for n in g.values())
        width = max(sum(n.depth == d for n in g.values()) for d in range(depth + 1))
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * depth, 0.8 + 0.62 * width))
    for name, n in g.items():
        for p in n.parents:
            (x0, y0), (x1, y1) = pos[p], pos[name]
            ax.plot([x0, x1], [y0, y1], color=COLORS["grey"], lw=0.6, zorder=1)
    for name, n in g.items():
        cat = record["category"].get(name, "input")
        color = CATEGORY_COLORS.get(cat, "#dddddd")
        x, y = pos[name]
        ax.scatter(x, y, s=520, color=color, zorder=2, edgecolor="white")
        wrote = record["predicted"].get(name, n.value) if cat != "input" else n.value
        text = f"{_label(name)}\n{'?' if wrote is None else wrote}"
        if cat not in ("input", "correct"):
            text += f"\n({n.value})"
        ax.text(x, y, text, ha="center", va="center", fontsize=6, zorder=3)
    for c in CATEGORIES:
        ax.scatter([], [], color=CATEGORY_COLORS[c], label=c)
    verdict = "right" if record["correct"] else "wrong"
    ax.set(title=f"{record['a']} x {record['b']}: answer {verdict}",
           xlabel="depth", yticks=[])
    ax.grid(False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return ax.figure


def pick_examples(result: dict, n: int = 6) -> list[dict]:
    """A few problems to explore: right and wrong, trained and larger sizes."""
    trained = set(result["exp"].setup.train_sizes())
    recs = result["records"]["scratchpad"]
    picks, seen = [], set()
    wishes = [(True, True), (True, False), (False, True), (False, False)]
    for inside, right in wishes * n:
        for r in recs:
            key = (r["a"], r["b"])
            if (key not in seen and (r["size"] in trained) == inside
                    and r["correct"] == right and r["size"][0] <= 4
                    and r["size"][1] <= 2):
                picks.append(r)
                seen.add(key)
                break
        if len(picks) >= n:
            break
    return picks


def graph_explorer(result: dict, n: int = 6):
    """A drop-down over precomputed graphs (works in the rendered book)."""
    picks = pick_examples(result, n)
    figs = [plot_graph(r) for r in picks]
    labels = [f"{r['a']} x {r['b']} ({'right' if r['correct'] else 'wrong'})"
              for r in picks]
    return frame_explorer(figs, labels, description="problem", control="dropdown")


def plot_scaling(result: dict):
    """Exact match on the trained sizes and on the best larger size as the
    scratchpad model grows: left against its weights (at the width axis's
    steps), right against its training steps (at the chapter's width)."""
    from .scaling import WIDTH

    grid = result["scaling"]
    widths = sorted({w for w, _ in grid})
    common = sorted({s for w, s in grid if w == widths[0]}
                    & {s for w, s in grid if w == widths[-1]})
    axes_pts = [sorted((p for p in grid if p[1] == common[0]),
                       key=lambda p: grid[p]["weights"]) if common else [],
                sorted(p for p in grid if p[0] == WIDTH)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, pts, xlabel in zip(axes, axes_pts, (
            f"weights (widths {', '.join(str(w) for w in widths)}; "
            f"{common[0] if common else '-'} steps)",
            f"training steps (width {WIDTH})"), strict=True):
        if not pts:
            ax.set_visible(False)
            continue
        x = [grid[p]["weights"] if ax is axes[0] else p[1] for p in pts]
        for key, label, color in (("id", "trained sizes (held out)", COLORS["blue"]),
                                  ("ood_max", "best larger size", COLORS["orange"])):
            ax.plot(x, [grid[p][key] for p in pts], marker="o", color=color,
                    label=label)
        for xi, p in zip(x, pts, strict=True):
            if grid[p]["how"] == "trained live":
                ax.scatter(xi, grid[p]["id"], s=140, facecolor="none",
                           edgecolor=COLORS["black"], zorder=4,
                           label="trained on this page")
        ax.set(xscale="log", xlabel=xlabel, ylim=(-0.05, 1.05))
        ax.legend(fontsize=8)
    axes[0].set(ylabel="exact match (scratchpad)", title="A wider model")
    axes[1].set(title="A longer training run")
    fig.tight_layout()
    return fig
