"""Coverage, not systematicity: when scaling MLPs does generalize compositionally.

The chapter's experiment (Redhardt, Akram & Schug 2025, in miniature): students
learn a family of tasks built from modules (`task`), a grid of them varying the
training support, width and data is trained as batched models (`sweep`), and
the numbers the chapter states come from `headline`. The grid's widest
students were trained ahead of time and committed (`committed`); the chapter
scores them afresh and retraces their training's first steps live.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..claims import Claim, Headline
from ..exercises import CodeExercise, MultipleChoice, Numeric, PredictThenRun
from . import committed, figures, sweep, task
from .committed import provenance, retrace
from .sweep import (
    BatchedMLP,
    Student,
    SweepConfig,
    Tasks,
    every_combination,
    make_tasks,
    pick,
    r2_on,
    ridge_probe_r2,
    task_r2,
    train_sweep,
)
from .task import (
    STRENGTHS,
    SUPPORTS,
    ModularTask,
    Teacher,
    all_combinations,
    make_teacher,
    module_graph_components,
    pair_coverage,
    sample_latents,
    split_combinations,
    support_counts,
)

COVERAGES = (0.1, 0.25, 0.5, 0.75, 0.9)
WIDTHS = (16, 32, 64, 256)
N_TASKS = (32, 256, 2048)
SCALE_COVERAGE = 0.25  # where the width and data comparisons are read


def n_weights(task: ModularTask, width: int, depth: int = SweepConfig().depth) -> int:
    """Weights and biases of one student of this width."""
    dims = [task.n_modules + task.dim_x] + [width] * depth + [task.dim_y]
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:], strict=True))


def control_coverage(task: ModularTask) -> float:
    """The largest coverage a non-compositional support allows (no last module)."""
    combos = all_combinations(task)
    return float((combos[:, -1] == 0).sum() / len(combos))


def sweep_students(
    task: ModularTask,
    coverages: Sequence[float] = COVERAGES,
    widths: Sequence[int] = WIDTHS,
    n_tasks: Sequence[int] = N_TASKS,
) -> list[Student]:
    """The chapter's grid: every (coverage, width, n_tasks) on the compositional
    support, plus the three supports side by side at `control_coverage`, at every
    width and the most data."""
    grid = [Student(c, w, n) for c in coverages for w in widths for n in n_tasks]
    cc = control_coverage(task)
    controls = [Student(cc, w, max(n_tasks), s) for s in SUPPORTS for w in widths]
    return grid + controls


def headline(task: ModularTask, results: Sequence[dict]) -> dict[str, float]:
    """The numbers the chapter's prose and claims use, from `train_sweep` results
    of `sweep_students` (the controls are the results at `control_coverage`),
    with the grid's extremes (low/high coverage, small/big width, ...)."""
    cc = control_coverage(task)
    grid = [r for r in results if r["coverage"] != cc]
    covs = sorted({r["coverage"] for r in grid})
    widths = sorted({r["width"] for r in grid})
    data = sorted({r["n_tasks"] for r in grid})
    scale_cov = min(covs, key=lambda c: abs(c - SCALE_COVERAGE))
    big, most = widths[-1], data[-1]

    def ood(**where) -> float:
        return pick(grid, **where)["ood_r2"]

    ctrl = {s: {} for s in SUPPORTS}
    for r in results:
        if r["coverage"] == cc:
            ctrl[r["support"]][r["width"]] = r["ood_r2"]
    best = pick(grid, coverage=covs[-1], width=big, n_tasks=most)
    gains = [
        ood(coverage=covs[-1], width=w, n_tasks=n)
        - ood(coverage=covs[0], width=w, n_tasks=n)
        for w in widths
        for n in data
    ]
    seen, unseen = pair_gap(pick(grid, coverage=covs[0], width=big, n_tasks=most))
    probe = np.array([r["probe_r2"][-1] for r in grid])
    ood_all = np.array([r["ood_r2"] for r in grid])
    out = {
        "low_coverage": covs[0],
        "high_coverage": covs[-1],
        "scale_coverage": scale_cov,
        "small_width": widths[0],
        "big_width": big,
        "few_tasks": data[0],
        "most_tasks": most,
        "ood_low_coverage": ood(coverage=covs[0], width=big, n_tasks=most),
        "ood_high_coverage": ood(coverage=covs[-1], width=big, n_tasks=most),
        "ood_small_width": ood(coverage=scale_cov, width=widths[0], n_tasks=most),
        "ood_big_width": ood(coverage=scale_cov, width=big, n_tasks=most),
        "ood_few_tasks": ood(coverage=scale_cov, width=big, n_tasks=data[0]),
        "probe_ood_correlation": float(np.corrcoef(probe, ood_all)[0, 1]),
        "coverage_gain_mean": float(np.mean(gains)),
        "coverage_gain_min": float(np.min(gains)),
        "pairs_seen_r2": seen,
        "pairs_unseen_r2": unseen,
        "best_id_r2": best["id_r2"],
    }
    for s in SUPPORTS:
        out[f"ood_{s}"] = ctrl[s][big]
    small = widths[0]
    for s in SUPPORTS:  # each support at the narrowest and at every width
        out[f"ood_{s}_small_width"] = ctrl[s][small]
        for w in widths:
            out[f"ood_{s}_w{w}"] = ctrl[s][w]
    for s in ("disconnected", "non_compositional"):  # the gap at both ends
        out[f"gap_{s}_small_width"] = ctrl["compositional"][small] - ctrl[s][small]
        out[f"gap_{s}_big_width"] = ctrl["compositional"][big] - ctrl[s][big]
    out["weights_small_width"] = n_weights(task, small)
    out["weights_big_width"] = n_weights(task, big)
    out["weights_ratio"] = out["weights_big_width"] / out["weights_small_width"]
    out["n_widths"] = len(widths)
    out["min_margin_disconnected"] = min(
        ctrl["compositional"][w] - ctrl["disconnected"][w] for w in widths
    )
    out["min_margin_non_compositional"] = min(
        ctrl["compositional"][w] - ctrl["non_compositional"][w] for w in widths
    )
    return out


def pair_gap(result: dict) -> tuple[float, float]:
    """Mean R² of held-out combinations whose module pairs were all trained
    together, and of those with a pair never trained together (each R² clipped
    at -1, so one wild combination cannot dominate a mean)."""
    seen = result["pair_coverage"] == 1
    if seen.all() or not seen.any():
        raise ValueError(
            "need held-out combinations of both kinds; at this coverage "
            f"{seen.sum()} of {len(seen)} have every pair trained together"
        )
    r2 = np.clip(result["combo_r2"], -1, 1)
    return float(r2[seen].mean()), float(r2[~seen].mean())


def beyond_span(task: ModularTask, result: dict, *, seed: int, extra: int = 1) -> float:
    """R² of a trained student on tasks that switch on K + extra modules, more
    than any training task (every such combination)."""
    k = task.max_active + extra
    if k > task.n_modules:
        raise ValueError(f"max_active + extra must be <= n_modules, got {k}")
    return r2_on(task, result, all_combinations(task, range(k, k + 1)), seed=seed)


def best_student_beyond_span(seed: int = 0, extra: int = 1) -> float:
    """The exercise's experiment: train the chapter's best student alone and
    score it on tasks with K + extra modules."""
    task = ModularTask()
    student = Student(max(COVERAGES), max(WIDTHS), max(N_TASKS))
    (result,) = train_sweep(task, [student], seed=seed, checkpoint=False)
    return beyond_span(task, result, seed=seed, extra=extra)


CLAIMS = [
    Claim(
        "coverage_helps",
        "On the compositional support, the widest student with the most data "
        "scores higher on held-out combinations at the highest coverage than at the "
        "lowest (by ≥ 0.15), and so do students of every size on average (≥ 0.15).",
        ("ood_low_coverage", "ood_high_coverage", "coverage_gain_mean"),
        lambda g: (
            g["ood_high_coverage"] - g["ood_low_coverage"] >= 0.15
            and g["coverage_gain_mean"] >= 0.15
        ),
    ),
    Claim(
        "scale_helps",
        "At a quarter of the combinations covered, going from the narrowest to the "
        "widest student raises OOD R² by ≥ 0.5, and going from the fewest to the "
        "most training tasks by ≥ 0.3.",
        ("ood_small_width", "ood_big_width", "ood_few_tasks"),
        lambda g: (
            g["ood_big_width"] - g["ood_small_width"] >= 0.5
            and g["ood_big_width"] - g["ood_few_tasks"] >= 0.3
        ),
    ),
    Claim(
        "controls_fail",
        "At the same coverage, the disconnected and the non-compositional supports "
        "stay ≥ 0.15 below the compositional one at every width, and at the largest "
        "width the non-compositional one stays ≥ 0.3 below.",
        (
            "min_margin_disconnected",
            "min_margin_non_compositional",
            "ood_compositional",
            "ood_non_compositional",
        ),
        lambda g: (
            min(g["min_margin_disconnected"], g["min_margin_non_compositional"]) >= 0.15
            and g["ood_compositional"] - g["ood_non_compositional"] >= 0.3
        ),
    ),
    Claim(
        "width_leaves_support_gaps",
        "From the narrowest student to the widest, the gap between the "
        "compositional and the non-compositional support widens by ≥ 0.1, and "
        "the gap to the disconnected support stays ≥ 0.15 at the widest.",
        (
            "gap_non_compositional_small_width",
            "gap_non_compositional_big_width",
            "gap_disconnected_small_width",
            "gap_disconnected_big_width",
        ),
        lambda g: (
            g["gap_non_compositional_big_width"]
            - g["gap_non_compositional_small_width"]
            >= 0.1
            and g["gap_disconnected_big_width"] >= 0.15
        ),
    ),
    Claim(
        "pieces_seen_together",
        "At the lowest coverage, the widest student predicts held-out combinations "
        "whose module pairs were all trained together better (by ≥ 0.1 in mean R²) "
        "than those with a pair never trained together.",
        ("pairs_seen_r2", "pairs_unseen_r2"),
        lambda g: g["pairs_seen_r2"] - g["pairs_unseen_r2"] >= 0.1,
    ),
    Claim(
        "probe_tracks_ood",
        "Across the grid, how well a linear probe decodes z from the last hidden "
        "layer correlates strongly with OOD R² (Pearson r ≥ 0.8).",
        ("probe_ood_correlation",),
        lambda g: g["probe_ood_correlation"] >= 0.8,
    ),
    Claim(
        "committed_retraced",
        "Where students were trained ahead of time, their committed weights score "
        "within 0.005 of the R² their training recorded, and retrained live for "
        "their first steps they log the recorded training loss within 0.001 at "
        "every logged step (at least five).",
        (
            "committed_students",
            "committed_score_diff",
            "retrace_diff",
            "retrace_compared",
        ),
        lambda g: (
            g["committed_students"] == 0
            or (
                g["committed_score_diff"] <= 0.005
                and g["retrace_diff"] <= 0.001
                and g["retrace_compared"] >= 5
            )
        ),
    ),
]


def _connected_reference(combos) -> bool:
    combos = np.asarray(combos) > 0
    reached, frontier = {0}, [0]
    while frontier:  # modules reachable from module 0 through shared combinations
        m = frontier.pop()
        for row in combos[combos[:, m]]:
            for other in np.flatnonzero(row):
                if int(other) not in reached:
                    reached.add(int(other))
                    frontier.append(int(other))
    return bool(combos.any(0).all()) and len(reached) == combos.shape[1]


def _connectivity_cases() -> list[tuple]:
    def rows(n: int, *sets) -> np.ndarray:
        return np.array([[float(m in s) for m in range(n)] for s in sets])

    return [
        (rows(4, {0, 1}, {1, 2}, {2, 3}),),  # a chain: connected
        (rows(4, {0, 1}, {2, 3}),),  # two groups that never meet
        (rows(4, {0, 1, 2}),),  # module 3 never trained
        (rows(5, {0}, {1}, {2}, {3}, {4}),),  # every module, but only alone
        (rows(5, {0, 4}, {4, 3}, {3, 1}, {1, 2}, {2}),),
        (rows(6, {0, 1, 2}, {3, 4, 5}, {2, 3}),),
        (rows(6, {0, 1, 2}, {3, 4, 5}, {1}),),
        (rows(3, {0, 1, 2}),),
    ]


_CONTEXT = (
    "These exercises are about the chapter *Coverage, not systematicity*. A task "
    "family is built from M = 8 modules: each task switches on 1 to K = 3 of them "
    "with strengths z (the task latent), and its function is one ReLU layer whose "
    "weights are the z-weighted sum of the active modules' weights, followed by a "
    "shared readout. A *combination* is the set of modules a task switches on; "
    "some combinations are held out of training. An MLP student reads (z, x) and "
    "predicts the output. With enough coverage of the combinations, width and "
    "training tasks, it predicts held-out combinations well (R² near 0.9), if the "
    "training support is *compositional* (every module trained) and *connected* "
    "(every module linked to every other through modules trained together)."
)

EXERCISES = [
    PredictThenRun(
        id="coverage.ex1",
        title="Outside the span",
        context=_CONTEXT,
        question="The chapter's best student (coverage 0.9, width 256, 2,048 "
        "training tasks) scores R² ≈ 0.9 on held-out combinations of up to three "
        "modules. No training task ever switched on four modules. Predict its R² on "
        "tasks that switch on **four** modules (every one of the 70 such "
        "combinations). Commit a number between -1 and 1 before you run it.",
        low=-1.0,
        high=1.0,
        tolerance=0.15,
        experiment=best_student_beyond_span,
        solution="It stays about as high as on held-out combinations of the "
        "trained sizes (about 0.95 in our runs on five seeds). At "
        "coverage 0.9 every pair of modules in a four-module task was trained "
        "together, and in this teacher modules combine by adding their "
        "contributions inside one layer, so what the student learned from pairs "
        "and triples carries over. The size of a combination is not what breaks "
        "generalization here; pieces that were never trained together are (the "
        "pair-coverage figure and the two controls).",
    ),
    MultipleChoice(
        id="coverage.ex2",
        title="Why the non-compositional support fails",
        context=_CONTEXT,
        question="With the non-compositional support the last module is never "
        "switched on in training. Its held-out combinations fail even for the "
        "widest student. Why?",
        options={
            "a": "The student has too few hidden units to represent a ninth function.",
            "b": "The weights that read z for that module were never updated, so the "
            "student has learned nothing about what the module does.",
            "c": "The held-out combinations with that module are noisier.",
            "d": "The module's combinations are all triples, which are harder.",
        },
        answer="b",
        feedback_for={
            "a": "Width does not help here: the widest student fails too.",
            "b": "The same reason the conjunctive code failed in the first chapter.",
            "c": "The teacher has no noise.",
            "d": "Its combinations include a single, 7 pairs and 21 triples.",
        },
        solution="**b.** The input unit for the last module's z entry is zero in "
        "every training example, so the gradient never reaches the weights out of "
        "it: they keep their random initial values. No amount of scale recovers a "
        "module the data never showed; coverage must include every module.",
    ),
    Numeric(
        id="coverage.ex3",
        title="How many combinations in the paper?",
        context=_CONTEXT,
        question="The paper's task-support experiments use M = 16 modules and tasks "
        "that switch on 1 to K = 3 of them. How many module combinations are there?",
        answer=696,
        solution="C(16, 1) + C(16, 2) + C(16, 3) = 16 + 120 + 560 = 696 (this "
        "chapter's M = 8 gives 8 + 28 + 56 = 92).",
    ),
    CodeExercise(
        id="coverage.ex4",
        title="Is the training support connected?",
        context=_CONTEXT,
        question="Complete `connected(combos)`. `combos` is a 0/1 NumPy array of "
        "shape (n, M): row i marks the modules trained together in combination i. "
        "Return `True` if every module appears in some row **and** any two modules "
        "are linked by a chain of modules that share rows; otherwise `False`.",
        function_name="connected",
        stub="import numpy as np\n\n\ndef connected(combos):\n"
        '    """True if every module is trained and the modules form one group."""\n'
        "    raise NotImplementedError  # replace this line with your code\n",
        reference=_connected_reference,
        cases=_connectivity_cases(),
        points=2,
        solution="Walk the graph whose nodes are modules, with an edge between two "
        "modules that share a row: start at module 0, repeatedly add every module "
        "that shares a row with one already reached, and compare the reached set "
        "with all M modules (also checking that every column has a 1).",
    ),
]

__all__ = [
    "CLAIMS",
    "COVERAGES",
    "EXERCISES",
    "N_TASKS",
    "STRENGTHS",
    "SUPPORTS",
    "WIDTHS",
    "BatchedMLP",
    "ModularTask",
    "Student",
    "SweepConfig",
    "Tasks",
    "Teacher",
    "all_combinations",
    "best_student_beyond_span",
    "beyond_span",
    "committed",
    "control_coverage",
    "every_combination",
    "figures",
    "headline",
    "make_tasks",
    "make_teacher",
    "module_graph_components",
    "n_weights",
    "pair_coverage",
    "pair_gap",
    "pick",
    "provenance",
    "r2_on",
    "retrace",
    "ridge_probe_r2",
    "sample_latents",
    "split_combinations",
    "support_counts",
    "sweep",
    "sweep_students",
    "task",
    "task_r2",
    "train_sweep",
]

HEADLINES = [
    Headline(
        "OOD R² from the lowest to the highest coverage of module combinations",
        "rises with the number of training tasks",
        "{ood_low_coverage:.2f} → {ood_high_coverage:.2f}",
        "redhardt2025scaling",
    ),
    Headline(
        "OOD R² from the narrowest to the widest MLP",
        "rises with width and depth",
        "{ood_small_width:.2f} → {ood_big_width:.2f}",
        "redhardt2025scaling",
    ),
    Headline(
        "OOD R² when the training support is disconnected / non-compositional, "
        "against a compositional one",
        "breaking the support breaks OOD generalization",
        "{ood_disconnected:.2f} / {ood_non_compositional:.2f} vs "
        "{ood_compositional:.2f}",
        "redhardt2025scaling",
        scaling="disconnected {ood_disconnected_small_width:.2f} → "
        "{ood_disconnected:.2f}, non-compositional "
        "{ood_non_compositional_small_width:.2f} → {ood_non_compositional:.2f} "
        "({weights_ratio:.0f}x the weights)",
    ),
    Headline(
        "Correlation of a linear probe of the task code with OOD R²",
        "decodability of the constituents tracks compositional generalization",
        "{probe_ood_correlation:.2f}",
        "redhardt2025scaling",
    ),
]
