"""The chapter's own training run, trained ahead of time and committed.

    python -m compgen.embers main

trains the chapter's model (`Setup()`, seed 0: 3,000 steps, about 150 s on one
CPU thread) and writes `trained/main_s0.pt` (its float32 weights) and
`trained/main_s0.json` (the setup it was trained with, its training log, and
every evaluation along the way as the answers it wrote). When the chapter runs
with exactly that setup and seed, `run` loads them instead of training, then

- scores the committed weights afresh on the held-out plaintexts (the final
  numbers of the page are computed from the weights, not read from the record)
  and counts the answers that differ from the recorded final evaluation;
- retrains the first steps live, on the same data and seed, and compares the
  training loss with the record's at every logged step.

Any other setup or seed trains live, as before.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..core.device import torch_threads
from ..core.training import History, compare_losses
from ..core.transformer import Transformer
from .training import (
    Setup,
    error_kinds,
    evaluate,
    test_plaintexts,
    train_model,
)

TRAINED = Path(__file__).with_name("trained")
SAVED_SEED = 0


def saved_paths(seed: int = SAVED_SEED) -> tuple[Path, Path]:
    """Where the committed run of `seed` lives: (weights, record)."""
    return TRAINED / f"main_s{seed}.pt", TRAINED / f"main_s{seed}.json"


def _key(k: int, s: str) -> str:
    return f"{k}/{s}"


def save_main(result: dict, cpu_seconds: float | None = None) -> tuple[Path, Path]:
    """Commit a `train_model` result: weights, and a record of its training."""
    setup, seed = result["setup"], result["seed"]
    weights, record = saved_paths(seed)
    TRAINED.mkdir(exist_ok=True)
    torch.save({"state": result["model"].state_dict()}, weights)
    evals = {}
    for step, ev in sorted(result["evals"].items()):
        evals[str(step)] = {
            _key(k, s): {
                "correct": "".join("1" if c else "0" for c in ev["correct"][(k, s)]),
                # only the wrong answers: a right one is the plaintext itself
                "wrong": {
                    str(i): out
                    for i, (out, c) in enumerate(
                        zip(ev["outputs"][(k, s)], ev["correct"][(k, s)], strict=True)
                    )
                    if not c
                },
            }
            for k in setup.shifts
            for s in setup.sets
        }
    text = json.dumps(
        {
            "setup": repr(setup),
            "seed": seed,
            "torch": torch.__version__,
            "train_cpu_seconds": None if cpu_seconds is None else round(cpu_seconds, 1),
            "history": list(result["history"]),
            "evals": evals,
        },
        indent=None,
        separators=(",", ":"),
    )
    record.write_text(text + "\n")
    return weights, record


def train_main(seed: int = SAVED_SEED, setup: Setup = Setup()) -> dict:
    """Train the chapter's run and commit it (`python -m compgen.embers main`)."""
    start = time.process_time()
    result = train_model(setup, seed=seed)
    save_main(result, time.process_time() - start)
    return result


def read_saved(setup: Setup, seed: int) -> dict | None:
    """The committed record of (`setup`, `seed`), or None if there is none."""
    _, record = saved_paths(seed)
    if not record.is_file():
        return None
    saved = json.loads(record.read_text())
    if saved["setup"] != repr(setup) or saved["seed"] != seed:
        return None
    return saved


def _evaluation(setup: Setup, tests: dict, stored: dict) -> dict:
    """An evaluation as `training.evaluate` returns it, from the stored answers."""
    out: dict = {"acc": {}, "correct": {}, "outputs": {}, "errors": {}}
    truths_all, outputs_all = [], []
    for k in setup.shifts:
        for s in setup.sets:
            cell = stored[_key(k, s)]
            ok = np.array([c == "1" for c in cell["correct"]])
            if len(ok) != len(tests[s]):
                raise ValueError(
                    f"the record has {len(ok)} answers for {s!r}, the test set "
                    f"{len(tests[s])}: it was written for other test plaintexts"
                )
            outputs = list(tests[s])
            for i, written in cell["wrong"].items():
                outputs[int(i)] = written
            out["acc"][(k, s)] = float(ok.mean())
            out["correct"][(k, s)] = ok
            out["outputs"][(k, s)] = outputs
            out["errors"][(k, s)] = error_kinds(setup.language, tests[s], outputs)
            truths_all += tests[s]
            outputs_all += outputs
    out["errors"]["all"] = error_kinds(setup.language, truths_all, outputs_all)
    return out


def load_main(setup: Setup, seed: int) -> dict | None:
    """The committed run as `train_model` would return it (None if no run of
    this setup and seed is committed), its final evaluation scored afresh from
    the weights; `result["saved"]` says how it agrees with the record."""
    saved = read_saved(setup, seed)
    if saved is None:
        return None
    weights, _ = saved_paths(seed)
    state = torch.load(weights, map_location="cpu", weights_only=True)["state"]
    model = Transformer(setup.model)
    model.load_state_dict(state)
    model.eval()
    tests = test_plaintexts(setup, seed=seed)
    evals = {
        int(step): _evaluation(setup, tests, stored)
        for step, stored in saved["evals"].items()
    }
    last = max(evals)
    recorded = evals[last]
    with torch_threads(1):  # as in training: the same sums, the same answers
        fresh = evaluate(model, setup, tests)  # the page's final numbers
    differ = sum(
        int(a != b)
        for key in fresh["outputs"]
        for a, b in zip(fresh["outputs"][key], recorded["outputs"][key], strict=True)
    )
    evals[last] = fresh
    return {
        "model": model,
        "history": History(saved["history"]),
        "evals": dict(sorted(evals.items())),
        "tests": tests,
        "setup": setup,
        "seed": seed,
        "saved": {
            "n_answers": sum(len(v) for v in fresh["outputs"].values()),
            "n_differ": differ,
            "train_cpu_seconds": saved["train_cpu_seconds"],
            "torch": saved["torch"],
        },
    }


def retrace_main(result: dict, *, stop_at: int = 200) -> dict:
    """Retrain a committed run's first `stop_at` steps live (the learning rate
    is constant after warm-up, so they are the full run's first steps) and
    compare the training loss with its record at every logged step."""
    setup = result["setup"]
    if isinstance(stop_at, bool) or not isinstance(stop_at, int):
        raise ValueError(f"stop_at must be an int, got {stop_at!r}")
    if not 1 <= stop_at <= setup.steps:
        raise ValueError(f"stop_at must be in [1, {setup.steps}], got {stop_at}")
    short = train_model(replace(setup, steps=stop_at), seed=result["seed"], score=False)
    compared = compare_losses(short["history"], result["history"], up_to=stop_at)
    return {"steps": stop_at, "n_compared": compared["n_compared"],
            "diff": compared["diff"]}  # fmt: skip


__all__ = [
    "saved_paths",
    "save_main",
    "train_main",
    "read_saved",
    "load_main",
    "retrace_main",
]
