"""The gaps as the model grows: a width grid trained by a command, committed
small, scored afresh when the chapter runs.

    python -m compgen.embers grid --widths 16 24 32 64 --seeds 0 1 2

Each run is the chapter's recipe (`Setup`) at another model width. Its
evaluations every `eval_every` steps go to `trained/record.json`; seed 0's
half-precision weights go to `trained/w<width>_s0.pt` (not for the width the
chapter trains live, whose seed-0 entry the live run must retrace).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..core.device import torch_threads
from ..core.training import compare_losses
from ..core.transformer import Transformer
from .cipher import decode_row
from .training import Setup, exact_match, test_plaintexts, train_model

TRAINED = Path(__file__).with_name("trained")
RECORD = TRAINED / "record.json"
WIDTHS = (16, 24, 32, 64)  # model widths of the grid; 64 is the chapter's model
LIVE_WIDTH = 64


def width_setup(width: int, setup: Setup = Setup()) -> Setup:
    """The chapter's setup with model width `width` (a multiple of 8, so that
    the 4 heads have an even size for rotary positions)."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 8 or width % 8:
        raise ValueError(f"width must be a positive multiple of 8, got {width!r}")
    return replace(setup, model=replace(setup.model, n_embd=width))


def gap_pair(acc: dict, setup: Setup) -> tuple[float, float]:
    """The two gaps of one evaluation, from accuracies keyed (shift, set):
    task (frequent minus rare shift, mean over the plaintext sets) and output
    (common-word minus non-word sentences, mean over the two shifts)."""
    hi, lo = setup.shifts
    task = np.mean([acc[(hi, s)] - acc[(lo, s)] for s in setup.sets])
    out = np.mean([acc[(k, "common")] - acc[(k, "non-words")] for k in (hi, lo)])
    return float(task), float(out)


def run_entry(result: dict, cpu_seconds: float) -> dict:
    """A training run as the record stores it: accuracies per step."""
    setup = result["setup"]
    return {
        "width": setup.model.n_embd,
        "seed": result["seed"],
        "steps": setup.steps,
        "n_params": sum(p.numel() for p in result["model"].parameters()),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "loss": [[r["step"], r["loss"]] for r in result["history"] if "loss" in r],
        "acc": {
            str(step): {f"{k}/{s}": a for (k, s), a in ev["acc"].items()}
            for step, ev in sorted(result["evals"].items())
        },
    }


def add_to_record(entry: dict) -> None:
    """Store one `run_entry` in the record, as `w<width>/s<seed>`."""
    TRAINED.mkdir(exist_ok=True)
    record = read_record()
    record[f"w{entry['width']}/s{entry['seed']}"] = entry
    RECORD.write_text(json.dumps(dict(sorted(record.items())), indent=1))


def read_record() -> dict:
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {}


def train_grid(widths=WIDTHS, seeds=(0, 1, 2), *, setup: Setup = Setup()) -> dict:
    """Train every (width, seed), add each to the record as it finishes."""
    TRAINED.mkdir(exist_ok=True)
    for width in widths:
        for seed in seeds:
            start = time.process_time()
            result = train_model(width_setup(width, setup), seed=seed)
            entry = run_entry(result, time.process_time() - start)
            add_to_record(entry)
            if seed == 0 and width != LIVE_WIDTH:
                state = {k: v.half() for k, v in result["model"].state_dict().items()}
                torch.save({"state": state, "width": width}, weights_path(width))
            t, o = gap_pair(result["evals"][setup.steps]["acc"], setup)
            print(f"width {width} seed {seed}: task gap {t:.2f}, output gap {o:.2f}"
                  f" ({entry['train_cpu_seconds']:.0f} CPU s)", flush=True)  # fmt: skip
    return read_record()


def weights_path(width: int, seed: int = 0) -> Path:
    return TRAINED / f"w{width}_s{seed}.pt"


def load_width(width: int, setup: Setup = Setup()) -> Transformer:
    """A committed grid model (seed 0), float32 again."""
    path = weights_path(width)
    if not path.is_file():
        raise FileNotFoundError(
            f"no committed model at {path}; train it with `python -m "
            f"compgen.embers grid --widths {width} --seeds 0`"
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = Transformer(width_setup(width, setup).model)
    model.load_state_dict({k: v.float() for k, v in saved["state"].items()})
    return model.eval()


def score_committed(setup: Setup = Setup(), widths=None) -> dict[int, dict]:
    """Evaluate the committed seed-0 models afresh on the chapter's test
    plaintexts (seed 0): {width: accuracies keyed (shift, set)}."""
    widths = [w for w in WIDTHS if w != LIVE_WIDTH] if widths is None else widths
    tests = test_plaintexts(setup, seed=0)
    out = {}
    with torch_threads(1):  # accuracies only: one teacher-forced pass per set
        for w in widths:
            model = load_width(w, setup)
            out[w] = {
                (k, s): float(
                    exact_match(
                        model, [decode_row(t, k, width=setup.width) for t in tests[s]]
                    ).mean()
                )
                for k in setup.shifts
                for s in setup.sets
            }
    return out


def record_acc(entry: dict, step: int | None = None) -> dict:
    """A record entry's accuracies at `step` (default: the last), keyed
    (shift, set) like an evaluation's."""
    step = str(entry["steps"] if step is None else step)
    acc = entry["acc"][step]
    return {(int(k.split("/")[0]), k.split("/")[1]): a for k, a in acc.items()}


def _frequent(acc: dict, setup: Setup) -> float:
    """Accuracy under the frequent shift, mean over the plaintext sets."""
    return float(np.mean([acc[(setup.shifts[0], s)] for s in setup.sets]))


def grid_gaps(record: dict, setup: Setup = Setup()) -> dict:
    """{(width, seed): {"n_params", "steps": [...], "task": [...], "output": [...]}}"""
    out = {}
    for entry in record.values():
        steps = sorted(int(s) for s in entry["acc"])
        pairs = [gap_pair(record_acc(entry, s), setup) for s in steps]
        out[entry["width"], entry["seed"]] = {
            "n_params": entry["n_params"],
            "steps": steps,
            "task": [t for t, _ in pairs],
            "output": [o for _, o in pairs],
            "frequent": _frequent(record_acc(entry), setup),
        }
    return out


def retrace(
    width: int = 16, *, stop_at: int = 300, seed: int = 0, setup: Setup = Setup()
) -> dict:
    """Retrain one recorded grid point live for its first `stop_at` steps (the
    learning rate is constant after warm-up, so they are the full run's first
    steps) and compare its training loss with the record's at the same steps."""
    if not isinstance(stop_at, int) or not 1 <= stop_at <= setup.steps:
        raise ValueError(
            f"stop_at must be an int in [1, {setup.steps}], got {stop_at!r}"
        )
    key = f"w{width}/s{seed}"
    entry = read_record().get(key)
    if entry is None:
        raise ValueError(f"no run {key} in the record {RECORD}")
    short = replace(width_setup(width, setup), steps=stop_at)
    result = train_model(short, seed=seed, score=False)
    compared = compare_losses(result["history"], entry["loss"], up_to=stop_at)
    return {"width": width, "steps": stop_at, **compared}


def scaling_inputs(result: dict, *, retrace_steps: int = 300) -> dict:
    """What the chapter's scaling section needs besides its live run: the
    record's gaps, the committed models scored afresh, the smallest width
    retraced live for `retrace_steps` steps (on the chapter's data)."""
    setup = result["setup"]
    return {
        "grid": grid_gaps(read_record(), setup),
        "scored": score_committed(setup),
        "live": retrace(
            min(WIDTHS), stop_at=min(retrace_steps, setup.steps), setup=setup
        ),
    }


def merge_live(result: dict, grid: dict) -> dict:
    """`grid` with the chapter's live run standing for its (width, seed)."""
    setup = result["setup"]
    steps = sorted(result["evals"])
    pairs = [gap_pair(result["evals"][s]["acc"], setup) for s in steps]
    mine = {
        "n_params": sum(p.numel() for p in result["model"].parameters()),
        "steps": steps,
        "task": [t for t, _ in pairs],
        "output": [o for _, o in pairs],
        "frequent": _frequent(result["evals"][steps[-1]]["acc"], setup),
    }
    return {**grid, (setup.model.n_embd, result["seed"]): mine}


def scaling_summary(result: dict, grid: dict, scored: dict, live: dict) -> dict:
    """The glued numbers of the scaling section. `result`: the chapter's live
    run (the widest point, seed `result["seed"]`); `grid`: `grid_gaps()` of the
    record; `scored`: `score_committed()`; `live`: `retrace()`."""
    setup = result["setup"]
    steps = sorted(result["evals"])
    pairs = [gap_pair(result["evals"][s]["acc"], setup) for s in steps]
    grid = merge_live(result, grid)
    widths = sorted({w for w, _ in grid})
    out: dict = {"scale_n_widths": len(widths)}
    final = {}
    for w in widths:
        runs = [g for (ww, _), g in sorted(grid.items()) if ww == w]
        final[w] = {
            "n_params": runs[0]["n_params"],
            "n_seeds": len(runs),
            "task": [g["task"][-1] for g in runs],
            "output": [g["output"][-1] for g in runs],
        }
        for gap in ("task", "output"):
            v = final[w][gap]
            out[f"scale_{gap}_w{w}"] = float(np.mean(v))
            out[f"scale_{gap}_min_w{w}"] = min(v)
            out[f"scale_{gap}_max_w{w}"] = max(v)
        out[f"scale_n_seeds_w{w}"] = len(runs)
        out[f"scale_frequent_w{w}"] = float(np.mean([g["frequent"] for g in runs]))
        out[f"scale_params_w{w}"] = runs[0]["n_params"]
    small, large = widths[0], widths[-1]
    out.update(
        scale_width_small=small,
        scale_width_large=large,
        scale_params_small=final[small]["n_params"],
        scale_params_large=final[large]["n_params"],
        scale_param_ratio=final[large]["n_params"] / final[small]["n_params"],
    )
    for gap in ("task", "output", "frequent"):
        out[f"scale_{gap}_small"] = out[f"scale_{gap}_w{small}"]
        out[f"scale_{gap}_large"] = out[f"scale_{gap}_w{large}"]
    # the step axis, for the live run: the first scored step after 0, the last
    first = steps[1] if len(steps) > 1 else steps[0]
    out["scale_step_first"], out["scale_step_last"] = first, steps[-1]
    out["scale_step_ratio"] = steps[-1] / max(first, 1)
    for gap, i in (("task", 0), ("output", 1)):
        by_step = dict(zip(steps, [p[i] for p in pairs], strict=True))
        out[f"scale_{gap}_first_step"] = by_step[first]
        out[f"scale_{gap}_last_step"] = by_step[steps[-1]]
        out[f"scale_{gap}_peak"] = max(by_step.values())
        out[f"scale_{gap}_peak_step"] = max(by_step, key=by_step.get)
    for w, acc in scored.items():
        t, o = gap_pair(acc, setup)
        out[f"scale_build_task_w{w}"], out[f"scale_build_output_w{w}"] = t, o
        rec = grid.get((w, 0))
        if rec:  # scored afresh vs the record's last step, same model
            out[f"scale_build_diff_w{w}"] = max(
                abs(t - rec["task"][-1]), abs(o - rec["output"][-1])
            )
    diffs = [v for k, v in out.items() if k.startswith("scale_build_diff_w")]
    out["scale_build_diff"] = max(diffs) if diffs else math.nan
    out["scale_width_live"] = setup.model.n_embd  # the chapter's own run
    out["scale_live_width"] = live["width"]
    out["scale_live_steps"] = live["steps"]
    # no step compared (a smoke run): 0, and the claim asks for six of them
    out["scale_live_diff"] = live["diff"] if live["n_compared"] else 0.0
    out["scale_live_compared"] = live["n_compared"]
    return out


__all__ = [
    "retrace",
    "scaling_summary",
    "scaling_inputs",
    "merge_live",
    "WIDTHS",
    "LIVE_WIDTH",
    "width_setup",
    "gap_pair",
    "train_grid",
    "load_width",
    "score_committed",
    "grid_gaps",
    "read_record",
    "record_acc",
]
