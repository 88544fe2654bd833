"""The chapter's experiment: scratch, pretrained and random-init networks, their
subnetworks and ablation tests, the figures, the explorer, claims and exercises."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..claims import Claim, Headline
from ..core.device import torch_threads
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from .batched import find_stack_subnetworks, stack_results, train_stack
from .family import TaskFamily
from .masks import (
    SUBROUTINES,
    MajorityTask,
    MaskConfig,
    kept_fraction,
    selectivity,
)

CONDITIONS = ("scratch", "pretrained", "random init")


@dataclass(frozen=True)
class Experiment:
    task: MajorityTask = MajorityTask()
    width: int = 64
    train_steps: int = 800  # on the compound rule A ^ B
    pretrain_steps: int = 1600  # on every task of the family at once, first
    family: TaskFamily = TaskFamily(n_tasks=96)
    mask: MaskConfig = MaskConfig(steps=500)
    n_seeds: int = 10  # networks per condition, trained as one stacked model
    widths: tuple[int, ...] = (16, 32, 64, 128)  # the scale axis (from scratch)
    width_seeds: int = 3  # seeds per width


def run_condition(
    exp: Experiment, condition: str, seeds: list[int], *, width: int | None = None
) -> list[dict]:
    """Train (or not) one network per seed, all at once, find both subnetworks
    of each, run the ablation tests. One dict per seed."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    task, width = exp.task, width or exp.width
    if condition == "random init":
        net = train_stack(task, seeds=seeds, steps=0, width=width)
    else:
        pre = None
        if condition == "pretrained":
            pre = train_stack(
                task,
                seeds=[s + 10_000 for s in seeds],
                steps=exp.pretrain_steps,
                width=width,
                rule="family",
                family=exp.family,
            )
        net = train_stack(
            task, seeds=seeds, steps=exp.train_steps, width=width, init=pre
        )
    masks = find_stack_subnetworks(net, task, seeds=seeds, config=exp.mask)
    return [
        {
            "condition": condition,
            "seed": seed,
            "width": width,
            "selectivity": selectivity(r["matrix"]),
            **r,
        }
        for seed, r in zip(seeds, stack_results(net, task, masks), strict=True)
    ]


def run_one(exp: Experiment, condition: str, seed: int) -> dict:
    """One network of one condition (the stacked run with a single seed)."""
    return run_condition(exp, condition, [seed])[0]


def run_experiment(exp: Experiment, *, seed: int = 0) -> list[dict]:
    """Every condition on `exp.n_seeds` seeds (seed, seed + 1, ...)."""
    seeds = [seed + i for i in range(exp.n_seeds)]
    with torch_threads(1):  # tiny networks: a second thread only adds overhead
        return [r for c in CONDITIONS for r in run_condition(exp, c, seeds)]


def run_widths(
    exp: Experiment, *, seed: int = 0, reuse: list[dict] = ()
) -> dict[int, list[dict]]:
    """Networks trained from scratch at every width of `exp.widths`, seeds
    seed .. seed + width_seeds - 1. Results in `reuse` (the main experiment's)
    stand in for the runs they already are."""
    seeds = [seed + i for i in range(exp.width_seeds)]
    out = {}
    with torch_threads(1):
        for width in exp.widths:
            done = {
                r["seed"]: r
                for r in reuse
                if r["condition"] == "scratch" and r.get("width") == width
            }
            if all(s in done for s in seeds):
                out[width] = [done[s] for s in seeds]
            else:
                out[width] = run_condition(exp, "scratch", seeds, width=width)
    return out


def n_weights(task: MajorityTask, width: int, depth: int = 2) -> int:
    """Weights (not biases) of the MLP: what the masks choose from."""
    sizes = [task.n_inputs] + [width] * depth + [2]
    return sum(i * o for i, o in zip(sizes[:-1], sizes[1:], strict=False))


def cross_damage(matrix: dict) -> float:
    """How much removing a subnetwork costs the *other* subroutine, averaged over
    A and B (accuracy points; 0 for perfectly separate subnetworks)."""
    return (
        sum(
            matrix[("full", other)] - matrix[(f"ablate {own}", other)]
            for own, other in (("A", "B"), ("B", "A"))
        )
        / 2
    )


def bootstrap_difference(
    a, b, stat=np.mean, *, n_boot: int = 10_000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """stat(a) - stat(b) and its percentile bootstrap interval, resampling the
    seeds of each group independently. Returns (difference, low, high)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need >= 2 values per group, got {len(a)} and {len(b)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = rng.integers(0, len(b), size=(n_boot, len(b)))
    diffs = stat(a[ia], axis=1) - stat(b[ib], axis=1)
    lo, hi = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return float(stat(a) - stat(b)), float(lo), float(hi)


def spread(x, axis=None):
    """The standard deviation over seeds (ddof=1)."""
    return np.std(x, axis=axis, ddof=1)


def summarise(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per condition: mean and spread of selectivity, kept fraction, overlap."""
    out = {}
    for c in CONDITIONS:
        rows = [r for r in results if r["condition"] == c]
        sel = np.array([r["selectivity"] for r in rows])
        out[c] = {
            "selectivity_mean": float(sel.mean()),
            "selectivity_std": float(spread(sel)) if len(sel) > 1 else 0.0,
            "selectivity_min": float(sel.min()),
            "selectivity_max": float(sel.max()),
            "cross_damage": float(np.mean([cross_damage(r["matrix"]) for r in rows])),
            "kept": float(np.mean([np.mean(list(r["kept"].values())) for r in rows])),
            "overlap": float(np.mean([r["overlap"] for r in rows])),
            "only_own": float(
                np.mean(
                    [r["matrix"][(f"only {s}", s)] for r in rows for s in SUBROUTINES]
                )
            ),
        }
    return out


def summary_values(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """The summary flattened into the names the chapter glues and CLAIMS read,
    e.g. "selectivity_scratch", "selectivity_std_pretrained", "only_own_random"."""
    out = {}
    for condition, stats in summary.items():
        key = condition.split()[0]
        for stat, value in stats.items():
            out[f"{stat.replace('selectivity_mean', 'selectivity')}_{key}"] = value
    return out


def pretraining_values(results: list[dict], *, level: float = 0.95) -> dict:
    """Pretrained minus scratch: the difference in selectivity's spread and in
    its mean, each with a bootstrap interval over seeds ("spread_diff",
    "spread_diff_low", "spread_diff_high", "mean_diff", ...)."""
    sel = {
        c: [r["selectivity"] for r in results if r["condition"] == c]
        for c in ("pretrained", "scratch")
    }
    out = {}
    for name, stat in (("spread", spread), ("mean", np.mean)):
        d, lo, hi = bootstrap_difference(
            sel["pretrained"], sel["scratch"], stat, level=level
        )
        out |= {f"{name}_diff": d, f"{name}_diff_low": lo, f"{name}_diff_high": hi}
    return out


def direction(low: float, high: float, *, below: str, above: str, neither: str):
    """A word for an interval of a difference: `below` if it lies under 0,
    `above` if over 0, `neither` if it contains 0."""
    return below if high < 0 else above if low > 0 else neither


def scale_verdict(small: float, large: float) -> str:
    """What growing the network did to the cost of an ablation to the other
    subroutine (0 is a clean split): "closes" it (below 0.1 at the largest
    width), "narrows" it (by more than a quarter) or "leaves" it."""
    if large < 0.1:
        return "closes"
    return "narrows" if large < 0.75 * small else "leaves"


def width_values(by_width: dict[int, list[dict]], task: MajorityTask) -> dict:
    """Glued names for the scale axis: per width "selectivity_w16",
    "selectivity_min_w16", "cross_damage_w16", "weights_w16", and the smallest
    and largest width's selectivity with their ratio of weights."""
    out = {}
    for w, rows in by_width.items():
        sel = [r["selectivity"] for r in rows]
        out |= {
            f"selectivity_w{w}": float(np.mean(sel)),
            f"selectivity_min_w{w}": float(np.min(sel)),
            f"selectivity_max_w{w}": float(np.max(sel)),
            f"cross_damage_w{w}": float(
                np.mean([cross_damage(r["matrix"]) for r in rows])
            ),
            f"full_w{w}": float(
                np.mean([r["matrix"][("full", s)] for r in rows for s in SUBROUTINES])
            ),
            f"kept_w{w}": float(
                np.mean([np.mean(list(r["kept"].values())) for r in rows])
            ),
            f"weights_w{w}": n_weights(task, w),
        }
    small, large = min(by_width), max(by_width)
    out |= {
        "width_small": small,
        "width_large": large,
        "selectivity_small": out[f"selectivity_w{small}"],
        "selectivity_large": out[f"selectivity_w{large}"],
        **{
            f"{name}_{end}": out[f"{name}_w{w}"]
            for name in ("cross_damage", "kept", "weights", "full")
            for end, w in (("small", small), ("large", large))
        },
        "selectivity_mean_min_widths": min(out[f"selectivity_w{w}"] for w in by_width),
        "selectivity_min_all_widths": min(
            out[f"selectivity_min_w{w}"] for w in by_width
        ),
        "weights_ratio": n_weights(task, large) / n_weights(task, small),
    }
    return out


MATRIX_ROWS = ("full", "only A", "only B", "ablate A", "ablate B", "ablate both")


def plot_matrix(result: dict, ax=None, *, title: str | None = None):
    """The ablation matrix as an annotated heatmap (chance is 0.5)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    grid = np.array(
        [[result["matrix"][(r, s)] for s in SUBROUTINES] for r in MATRIX_ROWS]
    )
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="RdBu", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9)
    ax.set(
        xticks=range(2),
        xticklabels=["task A alone", "task B alone"],
        yticks=range(len(MATRIX_ROWS)),
        yticklabels=MATRIX_ROWS,
        title=title or f"{result['condition']}, seed {result['seed']}",
    )
    ax.grid(False)
    return im


def plot_selectivity(results: list[dict], ax=None):
    """Selectivity of every network, one column per condition."""
    import matplotlib.pyplot as plt

    from ..core.plotting import ROLE_COLORS

    ax = ax or plt.gca()
    colors = (ROLE_COLORS["ours"], ROLE_COLORS["held_out"], ROLE_COLORS["baseline"])
    for i, (c, color) in enumerate(zip(CONDITIONS, colors, strict=True)):
        sel = [r["selectivity"] for r in results if r["condition"] == c]
        ax.scatter(
            np.full(len(sel), i) + np.linspace(-0.12, 0.12, len(sel)),
            sel,
            color=color,
            s=30,
            zorder=3,
        )
        ax.hlines(np.mean(sel), i - 0.25, i + 0.25, color=color, lw=2)
    ax.axhline(0, color=ROLE_COLORS["chance"], ls="--", lw=1, label="not selective")
    ax.set(
        xticks=range(len(CONDITIONS)),
        xticklabels=CONDITIONS,
        ylabel="selectivity (accuracy points)",
        title="How selectively each ablation hurts its own subroutine",
    )
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_widths(by_width: dict[int, list[dict]], task: MajorityTask, ax=None):
    """Selectivity and cross-damage of networks trained from scratch against their
    number of weights (log scale), one point per seed, lines through the means."""
    import matplotlib.pyplot as plt

    from ..core.plotting import ROLE_COLORS

    ax = ax or plt.gca()
    widths = sorted(by_width)
    n = [n_weights(task, w) for w in widths]
    series = (
        ("selectivity", ROLE_COLORS["ours"], None),
        ("cost to the other subroutine", ROLE_COLORS["held_out"], cross_damage),
    )
    for label, color, fn in series:
        ys = [
            [r["selectivity"] if fn is None else fn(r["matrix"]) for r in by_width[w]]
            for w in widths
        ]
        for x, y in zip(n, ys, strict=True):
            ax.scatter(np.full(len(y), x), y, color=color, s=18, alpha=0.6, zorder=3)
        ax.plot(n, [np.mean(y) for y in ys], color=color, lw=2, marker="o", label=label)
    ax.axhline(0, color=ROLE_COLORS["chance"], ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xticks(n, [f"{x:,}\n(width {w})" for x, w in zip(n, widths, strict=True)])
    ax.minorticks_off()
    ax.set(
        xlabel="weights of the network trained from scratch",
        ylabel="accuracy points",
        title="Ablation as the network grows",
    )
    ax.legend(loc="best", fontsize=8)
    return ax


def toggle_explorer(result: dict):
    """Switch subnetworks off and on; works in a page without a kernel.

    Every state is drawn in advance; a ToggleButtons widget is linked on the
    client side (jslink) to a Stack of the drawings.
    """
    import matplotlib.pyplot as plt

    from ..core.explorer import frame_explorer
    from ..core.plotting import mark_chance

    states = {
        "full network": "full",
        "remove A": "ablate A",
        "remove B": "ablate B",
        "remove both": "ablate both",
        "keep only A": "only A",
        "keep only B": "only B",
    }
    frames = []
    for label, row in states.items():
        fig, ax = plt.subplots(figsize=(4.2, 2.6))
        accs = [result["matrix"][(row, s)] for s in SUBROUTINES]
        ax.bar(["subroutine A", "subroutine B"], accs, color=["#0072B2", "#E69F00"])
        mark_chance(ax, 0.5)
        ax.set(ylim=(0, 1.05), ylabel="accuracy", title=label)
        ax.legend(loc="lower right", fontsize=8)
        frames.append(fig)
    return frame_explorer(frames, list(states), control="toggle")


CLAIMS = [
    Claim(
        "ablation_is_selective",
        "Removing a subnetwork hurts its own subroutine far more than the other: "
        "mean selectivity of the networks trained from scratch ≥ 0.2.",
        ("selectivity_scratch",),
        lambda g: g["selectivity_scratch"] >= 0.2,
    ),
    Claim(
        "selective_on_every_seed",
        "Every network trained from scratch is selective (selectivity ≥ 0.1).",
        ("selectivity_min_scratch",),
        lambda g: g["selectivity_min_scratch"] >= 0.1,
    ),
    Claim(
        "subnetworks_are_sparse",
        "Each subnetwork keeps under a fifth of the weights and still performs "
        "its subroutine alone (accuracy ≥ 0.95).",
        ("kept_scratch", "only_own_scratch"),
        lambda g: g["kept_scratch"] < 0.2 and g["only_own_scratch"] >= 0.95,
    ),
    Claim(
        "random_init_not_selective",
        "In random networks masks still find each subroutine (accuracy ≥ 0.9), but "
        "ablating them is not selective: |selectivity| ≤ 0.1, a shift of a few "
        "points around chance, where networks trained from scratch reach ≥ 0.2.",
        ("only_own_random", "selectivity_random"),
        lambda g: g["only_own_random"] >= 0.9 and abs(g["selectivity_random"]) <= 0.1,
    ),
    Claim(
        "broad_pretraining_more_consistent",
        "Broad pretraining (a family of related tasks) makes selectivity more "
        "consistent over seeds: its spread is smaller than from scratch, "
        "spread(pretrained) - spread(scratch) < 0. (The 95% bootstrap interval of "
        "that difference excludes 0 on some sets of ten seeds, not on all; the "
        "chapter reports it.)",
        ("spread_diff",),
        lambda g: g["spread_diff"] < 0,
    ),
    Claim(
        "selective_at_every_width",
        "Networks trained from scratch are selective at every width: mean "
        "selectivity ≥ 0.1 at each of the widths.",
        ("selectivity_mean_min_widths",),
        lambda g: g["selectivity_mean_min_widths"] >= 0.1,
    ),
    Claim(
        "scale_leaves_cross_damage",
        "Over at least 10x the weights, removing a subnetwork still costs the other "
        "subroutine ≥ 0.3 accuracy points at the largest width (mean over seeds): "
        "scale leaves the split imperfect.",
        ("weights_ratio", "cross_damage_large"),
        lambda g: g["weights_ratio"] >= 10 and g["cross_damage_large"] >= 0.3,
    ),
]


def _kept_fraction_reference(masks) -> float:
    return kept_fraction([torch.as_tensor(np.asarray(m, dtype=float)) for m in masks])


def _kept_cases() -> list[tuple]:
    rng = np.random.default_rng(7)
    cases = [
        ([np.array([[1.0, 0.0], [0.0, 0.0]])],),
        ([np.ones((3, 4)), np.zeros((2, 3))],),
    ]
    for shapes in ([(4, 5), (5, 2)], [(8, 8)], [(3, 7), (7, 7), (7, 2)]):
        cases.append(([(rng.random(s) < 0.3).astype(float) for s in shapes],))
    return cases


_CONTEXT = (
    "A two-layer MLP learned the compound rule y = A XOR B, where A is the majority "
    "of a first field of 7 bits and B the majority of a second field. Each "
    "subroutine can be tested alone: hold B at 0 and y = A. A binary mask over the "
    "trained weights, learned by continuous sparsification (mask = sigmoid(T s), a "
    "penalty on the mask's sum, T annealed upwards, hard mask s > 0 at test time), "
    "keeps subroutine A; another keeps B. Ablating a subnetwork means zeroing its "
    "weights and keeping the rest."
)


def _ablate_a_on_b() -> float:
    """Accuracy on subroutine B after removing subnetwork A (scratch, seed 0)."""
    return run_one(Experiment(), "scratch", 0)["matrix"][("ablate A", "B")]


EXERCISES = [
    PredictThenRun(
        id="subnetworks.ex1",
        title="What survives an ablation",
        question="Take the network trained from scratch with seed 0. Predict its "
        "accuracy on **subroutine B** (the data where only B decides the label) "
        "after subnetwork **A** is removed. Chance is 0.5, the full network scores "
        "1.0. Commit a number between 0 and 1 before you run the experiment.",
        context=_CONTEXT,
        low=0.0,
        high=1.0,
        tolerance=0.1,
        experiment=_ablate_a_on_b,
        solution="If the two subnetworks were perfectly separate, B would be "
        "untouched (1.0). In our runs it drops part of the way towards chance: "
        "the compound rule couples the two paths, and zeroing A's weights also "
        "shifts the constant input that B's path sees. Decomposition is real but "
        "imperfect, as Lepori et al. also found.",
    ),
    MultipleChoice(
        id="subnetworks.ex2",
        title="What the random-init control tells us",
        question="Masks trained on an untrained, randomly initialised network also "
        "find a subnetwork that performs subroutine A almost perfectly. What does "
        "that tell us?",
        context=_CONTEXT,
        options={
            "a": "Random networks are already modular.",
            "b": "A mask can carve a function out of random weights, so finding a "
            "subnetwork is weak evidence on its own; the selective ablation of the "
            "trained network is what shows structure.",
            "c": "Training the network was unnecessary.",
            "d": "The task is too easy for the method to work.",
        },
        answer="b",
        feedback_for={
            "a": "Ablating either subnetwork of a random network changes nothing: "
            "it computes nothing to begin with.",
            "b": "This is why the chapter pairs every subnetwork with an ablation.",
            "c": "The random network itself is at chance on both subroutines.",
            "d": "The trained network shows clear, selective subnetworks.",
        },
        solution="**b.** Mask training is an optimisation in its own right: with "
        "enough weights to choose from it can find a working circuit even in random "
        "weights. What a random network lacks is the second half of the test: its "
        "ablations are not selective, because it never computed the subroutines.",
    ),
    CodeExercise(
        id="subnetworks.ex3",
        title="How much of the network does a subnetwork keep?",
        question="Complete `kept_fraction(masks)`: given a list of binary masks "
        "(arrays of 0s and 1s, one per weight matrix, of different shapes), return "
        "the fraction of all weights that the masks keep, as a float.",
        context=_CONTEXT,
        function_name="kept_fraction",
        stub="import numpy as np\n\n\ndef kept_fraction(masks):\n"
        '    """Fraction of weights kept, over all masks together."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_kept_fraction_reference,
        cases=_kept_cases(),
        solution="`sum(np.sum(m) for m in masks) / sum(np.size(m) for m in masks)`: "
        "count over all matrices together, not the mean of per-matrix fractions.",
    ),
]

HEADLINES = [
    Headline(
        "Selectivity of ablating a subnetwork found by pruning, trained vs "
        "random network",
        "ablating a subroutine's subnetwork hurts it and spares the other",
        "{selectivity_scratch:.2f} vs {selectivity_random:.2f}; removing one "
        "costs the other {cross_damage_scratch:.2f}",
        "lepori2023break",
        scaling="selectivity {selectivity_small:.2f} → {selectivity_large:.2f}, "
        "cost to the other {cross_damage_small:.2f} → {cross_damage_large:.2f} "
        "({weights_ratio:.0f}x the weights)",
    ),
    Headline(
        "Spread of selectivity over seeds, broadly pretrained vs from scratch",
        "pretraining makes modular subnetworks more consistent",
        "{selectivity_std_pretrained:.2f} vs {selectivity_std_scratch:.2f}, "
        "difference {spread_diff:+.2f} (95% interval {spread_diff_low:+.2f} to "
        "{spread_diff_high:+.2f}): in the paper's direction, at a lower mean "
        "selectivity ({selectivity_pretrained:.2f} vs {selectivity_scratch:.2f})",
        "lepori2023break",
    ),
]
