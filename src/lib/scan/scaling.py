"""The baseline as it grows: add-jump exact match against model width.

The grid (`training.WIDTHS`, seeds 0-2) was trained by
`python -m compgen.scan train --kind baseline --width W --seed S`; its record
is `trained/record.json` (kinds `baseline_w<W>`, and `baseline` at 64). The
chapter scores the committed seed-0 models afresh and retrains the smallest
live, checking that it retraces its record.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..core.training import compare_losses
from .grammar import split
from .reference import load_reference, read_record
from .training import (
    STEPS,
    WIDTHS,
    accuracy,
    train_baseline,
    width_config,
    width_kind,
)

COMMITTED = (16, 32, 64)  # widths whose seed-0 weights are committed (96: record)
LIVE_WIDTH = 16  # the grid point the chapter retrains live
SPLIT = "addprim_jump"


def width_stats(
    record: dict | None = None, widths=WIDTHS, seeds=(0, 1, 2)
) -> dict[int, dict]:
    """Per width, from the training record: the weights and, over the seeds
    recorded, add-jump test accuracy (list, mean, min, max) and training-set
    accuracy where it was recorded."""
    record = read_record() if record is None else record
    out = {}
    for w in widths:
        runs = [record.get(f"{width_kind(w)}/{SPLIT}/{s}") for s in seeds]
        runs = [r for r in runs if r]
        if not runs:
            continue
        accs = [r["test_accuracy"] for r in runs]
        out[w] = {
            "n_weights": runs[0]["n_weights"],
            "seeds": [r["seed"] for r in runs],
            "acc": accs,
            "mean": float(np.mean(accs)),
            "min": min(accs),
            "max": max(accs),
            "train": [r["train_accuracy"] for r in runs if "train_accuracy" in r],
        }
    return out


def _subset(pairs, n, seed=0):
    if n is None or n >= len(pairs):
        return pairs
    idx = np.random.default_rng(seed).choice(len(pairs), n, replace=False)
    return [pairs[i] for i in sorted(idx)]


def score_widths(
    widths=COMMITTED,
    *,
    eval_limit: int | None = None,
    n_train: int = 1000,
    known: dict[int, float] | None = None,
) -> dict[int, dict]:
    """The committed seed-0 models scored afresh: add-jump test accuracy
    (`eval_limit` commands, None: all; `known`: widths already scored on the
    same commands) and accuracy on `n_train` of their training pairs (the
    subset the record's `train_accuracy` used)."""
    train_pairs, test_pairs = split(SPLIT)
    test = _subset(test_pairs, eval_limit)
    train = _subset(train_pairs, n_train)
    out, known = {}, known or {}
    record = read_record()
    recorded = {
        w: record.get(f"{width_kind(w)}/{SPLIT}/0", {}).get("train_accuracy")
        for w in widths
    }
    for w in widths:
        model, _ = load_reference(width_kind(w), SPLIT, 0)
        out[w] = {
            "test": known[w] if w in known else accuracy(model, test),
            # training accuracy: the record's where it has one (to save time)
            "train": recorded.get(w) or accuracy(model, train),
            "n_weights": sum(p.numel() for p in model.parameters()),
        }
    return out


def retrace(width: int = LIVE_WIDTH, *, stop_at: int = 300, seed: int = 0) -> dict:
    """Retrain one grid point live for its first `stop_at` steps, with the
    recorded run's recipe and schedule, and compare its training loss with the
    loss the committed run logged at the same steps (every 50)."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of the grid's {WIDTHS}, got {width!r}")
    if not isinstance(stop_at, int) or not 1 <= stop_at <= STEPS["baseline"]:
        raise ValueError(
            f"stop_at must be an int in [1, {STEPS['baseline']}], got {stop_at!r}"
        )
    cfg = replace(width_config(width), stop_at=stop_at)
    model, hist = train_baseline(SPLIT, cfg, seed=seed)
    _, saved = load_reference(width_kind(width), SPLIT, seed)
    return {"model": model, "steps": stop_at, **compare_losses(hist, saved["history"])}


def scaling_values(stats: dict, scored: dict, live: dict, meta: dict) -> dict:
    """The glued numbers of the scaling section. `stats`: `width_stats()`;
    `scored`: `score_widths()`; `live`: `retrace()`; `meta`: the
    metalearner's {"acc", "n_weights", "min"} at its one size."""
    small, large = min(stats), max(stats)
    out = {
        "scale_width_small": small,
        "scale_width_large": large,
        "scale_weights_small": stats[small]["n_weights"],
        "scale_weights_large": stats[large]["n_weights"],
        "scale_weight_ratio": stats[large]["n_weights"] / stats[small]["n_weights"],
        "scale_n_widths": len(stats),
        "scale_addjump_small": stats[small]["mean"],
        "scale_addjump_large": stats[large]["mean"],
        "scale_addjump_max": max(s["max"] for s in stats.values()),
        "scale_min_seeds": min(len(s["acc"]) for s in stats.values()),
        "scale_meta_acc": meta["acc"],
        "scale_meta_weights": meta["n_weights"],
    }
    trains = [t for s in stats.values() for t in s["train"]]
    trains += [s["train"] for s in scored.values()]
    out["scale_train_min"] = min(trains)
    for w, s in scored.items():
        out[f"scale_build_w{w}"] = s["test"]
        out[f"scale_build_train_w{w}"] = s["train"]
    for w, s in stats.items():
        out[f"scale_mean_w{w}"] = s["mean"]
        out[f"scale_max_w{w}"] = s["max"]
        out[f"scale_weights_w{w}"] = s["n_weights"]
    out["scale_live_width"] = LIVE_WIDTH
    out["scale_live_steps"] = live["steps"]
    # no step compared (a smoke run): 0, and the claim asks for six of them
    out["scale_live_diff"] = live["diff"] if live["n_compared"] else 0.0
    out["scale_live_compared"] = live["n_compared"]
    out["scale_live_loss"] = live["live"][-1][1] if live["live"] else math.nan
    return out


__all__ = [
    "COMMITTED",
    "LIVE_WIDTH",
    "width_stats",
    "score_widths",
    "retrace",
    "scaling_values",
]
