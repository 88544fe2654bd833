"""The chapter's data split, the training run, and the committed checkpoints.

    python -m compgen.subgraph_matching --seed 0            # scratchpad model
    python -m compgen.subgraph_matching --seed 0 --no-scratch

A full run (the setting below, `FULL`) takes 10-20 minutes on one CPU thread,
more than a book chapter may spend, so its weights are committed next to this
file (`runs/`, float16, with the run's record) and the chapter
evaluates them; it also trains a short run live to show the curve.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.device import torch_threads
from .model import ModelConfig, Training, build_model, complete, fit
from .multiplication import make_split, parse_answer, sizes_up_to

CHECKPOINTS = Path(__file__).parent / "runs"  # the committed runs


@dataclass(frozen=True)
class Setup:
    """What is trained and what is tested."""

    max_a: int = 3  # trained: a up to 3 digits, b up to 2 (and b <= a)
    max_b: int = 2
    test_sizes: tuple = ((3, 3), (4, 1), (4, 2), (4, 3), (4, 4))  # never trained
    n_train: int = 8000  # training problems per size (all, if fewer exist)
    n_test: int = 100  # test problems per size (held out for trained sizes)
    model: ModelConfig = ModelConfig(block_size=160)
    split_seed: int = 0  # the data split is the same for every training seed

    def train_sizes(self) -> list[tuple[int, int]]:
        return sizes_up_to(self.max_a, self.max_b)

    def split(self) -> tuple[dict, dict]:
        return make_split(self.train_sizes(), list(self.test_sizes),
                          n_train=self.n_train, n_test=self.n_test,
                          seed=self.split_seed)


FULL = {True: Training(steps=5000), False: Training(steps=5000)}


@dataclass
class Run:
    model: torch.nn.Module
    history: list
    seconds: float
    scratch: bool
    seed: int
    training: Training
    record: dict = field(default_factory=dict)


def train_run(setup: Setup, *, scratch: bool, training: Training, seed: int,
              eval_every: int = 0, verbose: bool = False) -> Run:
    """Train one model on the setup's training problems, each size equally often."""
    train, test = setup.split()
    largest = max(train)

    def evaluate(model):
        p = test[largest]
        outs = complete(model, p, scratch=scratch)
        right = [parse_answer(o) == a * b
                 for o, (a, b) in zip(outs, p.tolist(), strict=True)]
        return {"acc_largest": float(np.mean(right))}

    def show(record):
        if verbose and "acc_largest" in record:
            print(f"step {record['step']}: exact match on {largest} "
                  f"{record['acc_largest']:.2f} ({record['time']:.0f} s)", flush=True)

    with torch_threads(1):
        model = build_model(setup.model, seed=seed)
        began = time.perf_counter()
        history = fit(model, train, scratch=scratch, training=training, seed=seed,
                      evaluate=evaluate if eval_every else None,
                      eval_every=eval_every, callbacks=[show])
        seconds = time.perf_counter() - began
    return Run(model.eval(), list(history), seconds, scratch, seed, training)


def checkpoint_file(scratch: bool, seed: int) -> Path:
    return CHECKPOINTS / f"{'scratch' if scratch else 'direct'}_seed{seed}.pt"


def save_run(run: Run, setup: Setup, path: Path | None = None) -> Path:
    """Weights in float16 with the run's settings and record (small: ~0.2 MB)."""
    path = checkpoint_file(run.scratch, run.seed) if path is None else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() for k, v in run.model.state_dict().items()}
    torch.save({
        "state": state, "model": asdict(setup.model), "training": asdict(run.training),
        "scratch": run.scratch, "seed": run.seed, "seconds": run.seconds,
        "history": run.history, "torch": torch.__version__,
        "threads": 1,
    }, path)
    return path


def load_run(scratch: bool, seed: int, setup: Setup = Setup(),
             path: Path | None = None) -> Run | None:
    """A committed run, or None if there is none for this seed."""
    path = checkpoint_file(scratch, seed) if path is None else Path(path)
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if saved["model"] != asdict(setup.model):
        raise ValueError(f"{path} was trained with another model config")
    model = build_model(ModelConfig(**saved["model"]))
    model.load_state_dict({k: v.float() for k, v in saved["state"].items()})
    return Run(model.eval(), saved["history"], saved["seconds"], saved["scratch"],
               saved["seed"], Training(**saved["training"]),
               record={k: saved[k] for k in ("torch", "threads")})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-scratch", action="store_true")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--out", default=None, help="default: the package's folder")
    args = parser.parse_args(argv)
    scratch = not args.no_scratch
    training = FULL[scratch]
    if args.steps:
        training = Training(**{**asdict(training), "steps": args.steps})
    setup = Setup()
    run = train_run(setup, scratch=scratch, training=training, seed=args.seed,
                    eval_every=args.eval_every, verbose=True)
    path = save_run(run, setup, args.out)
    evals = [r for r in run.history if "acc_largest" in r]
    print(json.dumps({"path": str(path), "seconds": round(run.seconds, 1),
                      "acc_largest": [(r["step"], r["acc_largest"]) for r in evals]}))
    return 0
