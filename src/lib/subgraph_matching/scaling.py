"""Does scale close the gap? The scratchpad model at four widths and three
training lengths, scored on the trained and the larger sizes.

    python -m compgen.subgraph_matching grid --seeds 0 1 2

trains the grid (about 8 minutes per seed on one CPU thread) and writes each
point's weights, in float16, with its training record (its scores on every
size at the end of training), next to the committed full runs (`runs/`). The
width axis is trained for `GRID_STEPS` steps at widths `WIDTHS`; the step axis
is the chapter's width at `STEPS`, its longest point the committed full run.
The chapter scores every point afresh and retrains the shortest point live
(the page's live run), checking that it retraces the record.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ..core.device import torch_threads
from .model import ModelConfig, build_model, complete
from .multiplication import parse_answer
from .training import CHECKPOINTS, FULL, Run, Setup, load_run, train_run

WIDTHS = (16, 24, 32, 64)  # the width axis (2 layers, 4 heads each)
GRID_STEPS = 1000  # its training steps
STEPS = (300, 1000, 5000)  # the step axis, at the chapter's width (64)
WIDTH = 64  # the chapter's width: its committed full runs are the last step point


def points() -> list[tuple[int, int]]:
    """Every (width, steps) of the grid, smallest first."""
    return sorted({(w, GRID_STEPS) for w in WIDTHS} | {(WIDTH, s) for s in STEPS},
                  key=lambda p: (p[1] != GRID_STEPS, p))


def point_setup(width: int, setup: Setup = Setup()) -> Setup:
    if width < 4 or width % setup.model.n_head:
        raise ValueError(f"width must be a multiple of {setup.model.n_head}, "
                         f"got {width!r}")
    return replace(setup, model=replace(setup.model, n_embd=width))


def point_training(steps: int):
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    return replace(FULL[True], steps=steps, warmup_steps=min(100, steps))


def n_weights(width: int, setup: Setup = Setup()) -> int:
    model = build_model(point_setup(width, setup).model)
    return sum(p.numel() for p in model.parameters())


def point_file(width: int, steps: int, seed: int) -> Path:
    return CHECKPOINTS / f"grid_w{width}_s{steps}_seed{seed}.pt"


def score(model, test: dict) -> dict[str, float]:
    """Exact match (with the scratchpad) per size, {"4x2": acc, ...}."""
    out = {}
    with torch_threads(1):
        for (da, db), problems in test.items():
            texts = complete(model, problems, scratch=True)
            out[f"{da}x{db}"] = float(np.mean(
                [parse_answer(t) == a * b
                 for t, (a, b) in zip(texts, problems.tolist(), strict=True)]))
    return out


def summarize(scores: dict[str, float], setup: Setup = Setup()) -> dict[str, float]:
    """Mean exact match over the trained sizes and over the larger ones, and
    the best larger size."""
    trained = {f"{a}x{b}" for a, b in setup.train_sizes()}
    ood = [v for k, v in scores.items() if k not in trained]
    return {"id": float(np.mean([scores[k] for k in sorted(trained)])),
            "ood": float(np.mean(ood)), "ood_max": float(max(ood))}


def save_point(run: Run, width: int, scores: dict, path: Path | None = None,
               *, weights: bool = True) -> Path:
    """A point's weights (float16; none for the live point) and its record."""
    path = point_file(width, run.training.steps, run.seed) if path is None \
        else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = ({k: v.half() for k, v in run.model.state_dict().items()}
             if weights else None)
    torch.save({"state": state, "model": asdict(point_setup(width).model),
                "training": asdict(run.training), "seed": run.seed,
                "seconds": run.seconds, "scores": scores,
                "loss": [r["loss"] for r in run.history if "loss" in r],
                "torch": torch.__version__, "threads": 1}, path)
    return path


def load_point(width: int, steps: int, seed: int) -> tuple[Run | None, dict]:
    """The committed point: (its run, or None if only the record was kept;
    its record). The chapter's width at the full steps is the committed full
    run, recorded with no scores of its own."""
    if (width, steps) == (WIDTH, FULL[True].steps):
        run = load_run(True, seed)
        return run, {} if run is None else {"seconds": run.seconds}
    path = point_file(width, steps, seed)
    if not path.is_file():
        return None, {}
    saved = torch.load(path, map_location="cpu", weights_only=False)
    record = {k: saved[k] for k in ("scores", "loss", "seconds", "torch")}
    if saved["state"] is None:
        return None, record
    model = build_model(ModelConfig(**saved["model"]))
    model.load_state_dict({k: v.float() for k, v in saved["state"].items()})
    from .model import Training

    return Run(model.eval(), [], saved["seconds"], True, seed,
               Training(**saved["training"]), record=record), record


def train_point(width: int, steps: int, seed: int, setup: Setup = Setup()) -> Run:
    return train_run(point_setup(width, setup), scratch=True,
                     training=point_training(steps), seed=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compgen.subgraph_matching grid",
                                     description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--points", default=None,
                        help="e.g. 16x1000,64x300 (default: the whole grid)")
    args = parser.parse_args(argv)
    todo = points() if args.points is None else [
        tuple(int(x) for x in p.split("x")) for p in args.points.split(",")]
    setup = Setup()
    test = setup.split()[1]
    for seed in args.seeds:
        for width, steps in todo:
            if (width, steps) == (WIDTH, FULL[True].steps):
                continue  # the committed full run (python -m compgen.subgraph_matching)
            began = time.perf_counter()
            run = train_point(width, steps, seed, setup)
            scores = score(run.model, test)
            path = save_point(run, width, scores,
                              weights=(width, steps) != (WIDTH, min(STEPS)))
            print(json.dumps({"path": path.name, "seconds": round(run.seconds, 1),
                              "wall": round(time.perf_counter() - began, 1),
                              **summarize(scores, setup)}), flush=True)
    return 0
