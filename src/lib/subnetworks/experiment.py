"""The chapter's experiment: scratch, pretrained and random-init networks, their
subnetworks and ablation tests, the figures, the explorer, claims and exercises."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..claims import Claim, Headline
from ..core.device import torch_threads
from ..exercises import CodeExercise, MultipleChoice, PredictThenRun
from .masks import (
    SUBROUTINES,
    MajorityTask,
    MaskConfig,
    ablation_matrix,
    complement,
    find_subnetwork,
    kept_fraction,
    overlap,
    selectivity,
    subroutine_accuracy,
    train_network,
)

CONDITIONS = ("scratch", "pretrained", "random init")


@dataclass(frozen=True)
class Experiment:
    task: MajorityTask = MajorityTask()
    width: int = 64
    train_steps: int = 1500  # on the compound rule A ^ B
    pretrain_steps: int = 1500  # on the related "counts" task first
    mask: MaskConfig = MaskConfig(steps=800)
    n_seeds: int = 5


def run_one(exp: Experiment, condition: str, seed: int) -> dict:
    """Train (or not) one network, find both subnetworks, run the ablation tests."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    task = exp.task
    if condition == "random init":
        net = train_network(task, seed=seed, steps=0, width=exp.width)
    elif condition == "pretrained":
        pre = train_network(
            task,
            seed=seed + 10_000,
            steps=exp.pretrain_steps,
            width=exp.width,
            rule="counts",
        )
        net = train_network(
            task, seed=seed, steps=exp.train_steps, width=exp.width, init=pre
        )
    else:
        net = train_network(task, seed=seed, steps=exp.train_steps, width=exp.width)
    masks = {
        s: find_subnetwork(net, task, s, seed=seed, config=exp.mask)
        for s in SUBROUTINES
    }
    matrix = ablation_matrix(net, task, masks)
    both = [
        torch.clamp(a + b, max=1) for a, b in zip(masks["A"], masks["B"], strict=True)
    ]
    for sub in SUBROUTINES:
        matrix[("ablate both", sub)] = subroutine_accuracy(
            net, task, sub, masks=complement(both)
        )
    return {
        "condition": condition,
        "seed": seed,
        "matrix": matrix,
        "selectivity": selectivity(matrix),
        "kept": {s: kept_fraction(m) for s, m in masks.items()},
        "overlap": overlap(masks["A"], masks["B"]),
    }


def run_experiment(exp: Experiment, *, seed: int = 0) -> list[dict]:
    """Every condition on `exp.n_seeds` seeds (seed, seed + 1, ...)."""
    with torch_threads(1):  # tiny networks: a second thread only adds overhead
        return [
            run_one(exp, c, seed + i) for c in CONDITIONS for i in range(exp.n_seeds)
        ]


def summarise(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per condition: mean and spread of selectivity, kept fraction, overlap."""
    out = {}
    for c in CONDITIONS:
        rows = [r for r in results if r["condition"] == c]
        sel = np.array([r["selectivity"] for r in rows])
        out[c] = {
            "selectivity_mean": float(sel.mean()),
            "selectivity_std": float(sel.std()),
            "selectivity_min": float(sel.min()),
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
        "{selectivity_scratch:.2f} vs {selectivity_random:.2f}",
        "lepori2023break",
    ),
    Headline(
        "Spread of selectivity over seeds, pretrained vs from scratch",
        "pretraining makes modular subnetworks more consistent",
        "{selectivity_std_pretrained:.2f} vs {selectivity_std_scratch:.2f} "
        "(not reproduced)",
        "lepori2023break",
    ),
]
