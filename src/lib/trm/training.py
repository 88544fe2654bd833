"""Training a TRM with deep supervision, through the book's one training loop.

One optimiser step is one supervision step. The loss function carries each
puzzle's (y, z) from one step to the next, detached; a puzzle leaves the carry
when its halting head says "the answer is right" or after N_sup steps, and a
fresh puzzle takes its slot. The carry and an exponential moving average (EMA) of
the weights live in the checkpoint, so a resumed run continues exactly.

    result = train_trm(PRESETS["cpu"])        # model, EMA model, history, metrics
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..core import (
    TrainConfig,
    checkpoint_path,
    count_parameters,
    describe_device,
    get_device,
    train,
)
from .model import TRM, TRMConfig, solve_batch
from .sudoku import SudokuData, apply_symmetry, load_sudoku, random_symmetry


@dataclass(frozen=True)
class RunConfig:
    model: TRMConfig = field(default_factory=TRMConfig)
    givens: int = 12  # filled cells per puzzle
    tier: str = "any"  # "search": only puzzles singles cannot finish
    n_train: int = 5000  # training puzzles (each step shows a random symmetry)
    n_test: int = 1000  # held-out puzzles
    data_seed: int = 0  # the test set uses data_seed + 1
    seed: int = 0  # weights, batches, halting exploration
    steps: int = 1500  # optimiser steps = supervision steps
    batch_size: int = 64
    N_sup: int = 4  # supervision steps per puzzle (also at evaluation)
    augment: bool = True  # a random symmetry of every puzzle at every step
    halt_explore: float = 0.1  # chance that a puzzle must stay >= a random number
    ema: float | None = 0.999  # weight EMA decay; None: no EMA (an ablation)
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    eval_every: int = 250
    eval_subset: int = 0  # >0: curves use the first this many test puzzles
    eval_batch: int = 500
    amp: bool = False  # bf16 autocast on CUDA
    compile: bool = False  # torch.compile on CUDA
    checkpoint_seconds: float = 180.0

    def __post_init__(self):
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"ema must be in (0, 1) or None, got {self.ema!r}")
        if self.N_sup < 1 or self.steps < 1 or self.batch_size < 1:
            raise ValueError("N_sup, steps and batch_size must be >= 1")

    @property
    def size(self) -> int:
        return self.model.size


CPU_MODEL = TRMConfig(size=6, d_model=64, T=2, n=3)
PRESETS: dict[str, RunConfig] = {
    # the book tier: 6x6 on one CPU thread, a minute or two per recursive run
    "cpu": RunConfig(
        model=CPU_MODEL,
        givens=12,
        steps=500,
        lr=2e-3,
        warmup_steps=50,
        eval_every=125,
        eval_subset=250,
    ),
    # a free Colab T4 in under 30 minutes, by a FLOP estimate (not yet run on a
    # T4). A T4 has no bf16 tensor cores, so this preset trains in float32.
    "colab": RunConfig(
        model=TRMConfig(size=9, d_model=128, T=3, n=4),
        givens=25,
        n_train=4000,
        steps=6000,
        batch_size=256,
        N_sup=8,
        ema=0.999,
        lr=1e-3,
        warmup_steps=300,
        eval_every=500,
        amp=False,
        compile=True,
    ),
    # one H100 within 8 minutes, by a FLOP estimate (about 4 TFLOP per step);
    # not yet run on a GPU: no GPU was available when it was written
    "gpu": RunConfig(
        model=TRMConfig(size=9, d_model=256, T=3, n=6),
        givens=25,
        n_train=8000,
        steps=8000,
        batch_size=512,
        N_sup=8,
        ema=0.999,
        lr=1e-3,
        warmup_steps=500,
        eval_every=500,
        amp=True,
        compile=True,
    ),
}

# A GPU of the H100 class (compute capability >= 8: bf16 tensor cores; and
# memory to spare) trains the "gpu" preset; anything smaller, such as Colab's
# free T4 (7.5, 15 GB, no bf16), trains "colab".
GPU_MIN_CAPABILITY = (8, 0)
GPU_MIN_MEMORY_GB = 20.0


def choose_preset(properties: Any = None) -> tuple[str, str]:
    """(preset, why) for this machine's accelerator.

    `properties` is what torch.cuda.get_device_properties returns (name, major,
    minor, total_memory in bytes); None reads device 0, or means "no GPU" when
    CUDA is unavailable. Without a GPU the preset is "cpu" (the book's 6x6 tier).
    """
    if properties is None:
        if not torch.cuda.is_available():
            return "cpu", "no CUDA GPU here, so only the 6x6 tier trains, on the CPU"
        properties = torch.cuda.get_device_properties(0)
    name = getattr(properties, "name", "a CUDA GPU")
    capability = (int(properties.major), int(properties.minor))
    memory = properties.total_memory / 1e9
    cc = f"compute capability {capability[0]}.{capability[1]}"
    if capability < GPU_MIN_CAPABILITY or memory < GPU_MIN_MEMORY_GB:
        lacks = []
        if capability < GPU_MIN_CAPABILITY:
            lacks.append(f"{cc}, so no bf16 tensor cores")
        if memory < GPU_MIN_MEMORY_GB:
            lacks.append(f"{memory:.0f} GB of memory")
        return "colab", (
            f"{name} ({' and '.join(lacks)}) is a T4-class GPU, so the smaller "
            '"colab" preset trains, in float32'
        )
    return "gpu", (
        f"{name} ({cc}, {memory:.0f} GB) is an H100-class GPU, so the "
        '"gpu" preset trains, with bf16 autocast'
    )


# the paper's ablations at the same parameter count, as changes to a RunConfig
VARIANTS: dict[str, dict[str, Any]] = {
    "TRM": {},
    "no EMA": {"ema": None},
    "1-step gradient": {"model": {"one_step_grad": True}},
    "no deep supervision": {"N_sup": 1},
    "two-pass": {"model": {"T": 1, "n": 1}, "N_sup": 1},
    "single pass": {"model": {"T": 1, "n": 0}, "N_sup": 1},
}


def variant(cfg: RunConfig, name: str, **changes: Any) -> RunConfig:
    """`cfg` changed into one of VARIANTS (and then by `changes`)."""
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {name!r}")
    return override(override(cfg, VARIANTS[name]), changes)


def override(cfg: RunConfig, changes: dict[str, Any]) -> RunConfig:
    """Replace fields; a key of TRMConfig (or a "model" dict) changes the model."""
    changes = dict(changes)
    model_fields = {f.name for f in dataclasses.fields(TRMConfig)}
    model_changes = dict(changes.pop("model", {}))
    model_changes.update(
        {k: changes.pop(k) for k in list(changes) if k in model_fields}
    )
    run_fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = set(changes) - run_fields
    if unknown:
        known = sorted(run_fields | model_fields)
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {known}")
    return dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, **model_changes), **changes
    )


class EMA:
    """An exponential moving average of a model's weights, in a copy of the model.

    The decay ramps up as min(decay, (1 + t) / (10 + t)), so short runs are not
    dominated by the random initial weights.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = model

    @torch.no_grad()
    def __call__(self, done: int | None = None) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema = list(self.model.parameters())
        live = [p.detach() for p in self._source.parameters()]
        torch._foreach_lerp_(ema, live, 1 - d)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


class DeepSupervision:
    """The loss function: one supervision step on a batch carried across steps.

    Each call takes a fresh batch (puzzles, solutions) from `get_batch(step)`;
    rows whose puzzle halted at the last step take the fresh puzzle, the others
    keep theirs with its (y, z). Returns the loss and a few metrics.
    """

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.carry: dict[str, torch.Tensor] | None = None
        self.calls = 0

    def __call__(self, model, batch) -> tuple[torch.Tensor, dict]:
        puzzles, solutions = batch
        B, cfg = puzzles.shape[0], self.cfg
        if self.carry is None:
            y, z = model.initial_state(B)
            self.carry = {
                "puzzle": puzzles,
                "solution": solutions,
                "y": y,
                "z": z,
                "steps": torch.zeros(B, dtype=torch.long, device=puzzles.device),
                "halted": torch.ones(B, dtype=torch.bool, device=puzzles.device),
                "min_steps": torch.ones(B, dtype=torch.long, device=puzzles.device),
            }
        c, new = self.carry, self.carry["halted"]
        y0, z0 = model.initial_state(B)
        g = torch.Generator().manual_seed(cfg.seed * 7919 + self.calls)
        explore = torch.rand(B, generator=g) < cfg.halt_explore  # must think longer
        lo = torch.randint(2, cfg.N_sup + 1, (B,), generator=g) if cfg.N_sup > 1 else 1
        min_steps = torch.where(explore, lo, torch.ones(B, dtype=torch.long))
        keep = ~new[:, None]
        x = torch.where(keep, c["puzzle"], puzzles)
        target = torch.where(keep, c["solution"], solutions)
        y = torch.where(keep[..., None], c["y"], y0)
        z = torch.where(keep[..., None], c["z"], z0)
        steps = torch.where(new, 0, c["steps"])
        min_steps = torch.where(new, min_steps.to(x.device), c["min_steps"])

        (y, z), logits, q_halt = model(x, y, z)
        logits, q_halt = logits.float(), q_halt.float()
        answer = logits.argmax(-1) + 1
        solved = (answer == target).all(-1)
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), (target - 1).reshape(-1)
        )
        halt_loss = F.binary_cross_entropy_with_logits(q_halt, solved.float())
        loss = ce + 0.5 * halt_loss

        steps = steps + 1
        halted = (steps >= cfg.N_sup) | ((q_halt.detach() > 0) & (steps >= min_steps))
        self.carry = {
            "puzzle": x,
            "solution": target,
            "y": y,
            "z": z,
            "steps": steps,
            "halted": halted,
            "min_steps": min_steps,
        }
        self.calls += 1
        return loss, {"train_exact": solved.float().mean(), "ce": ce.detach()}

    def state_dict(self) -> dict:
        return {"carry": self.carry, "calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.carry, self.calls = state["carry"], int(state["calls"])


def batches(data: SudokuData, cfg: RunConfig):
    """get_batch(step): a random batch, each puzzle under a random symmetry."""

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(0, len(data), (cfg.batch_size,), generator=g)
        p, s = data.puzzles[idx], data.solutions[idx]
        if not cfg.augment:
            return p, s
        sym = random_symmetry(data.size, cfg.batch_size, g)
        return apply_symmetry(p, sym, data.size), apply_symmetry(s, sym, data.size)

    return get_batch


@torch.no_grad()
def evaluate(model: TRM, data: SudokuData, *, N_sup: int, batch: int = 500) -> dict:
    """Exact-solve (whole grid right) and cell accuracy after each supervision step."""
    model.eval()
    device = next(model.parameters()).device
    exact = torch.zeros(N_sup)
    cells = torch.zeros(N_sup)
    for i in range(0, len(data), batch):
        p = data.puzzles[i : i + batch].to(device)
        s = data.solutions[i : i + batch].to(device)
        for k, answer in enumerate(solve_batch(model, p, N_sup)):
            right = answer == s
            exact[k] += right.all(-1).sum().item()
            cells[k] += right.float().mean(-1).sum().item()
    exact, cells = exact / len(data), cells / len(data)
    out = {"exact": float(exact[-1]), "cell": float(cells[-1])}
    out.update({f"exact@{k + 1}": float(v) for k, v in enumerate(exact)})
    return out


def datasets(cfg: RunConfig) -> tuple[SudokuData, SudokuData]:
    kw = dict(size=cfg.size, givens=cfg.givens, tier=cfg.tier)
    train_set = load_sudoku(cfg.n_train, seed=cfg.data_seed, **kw)
    test_set = load_sudoku(cfg.n_test, seed=cfg.data_seed + 1, **kw)
    return train_set, test_set


def train_trm(
    cfg: RunConfig,
    *,
    checkpoint: str | os.PathLike | None | bool = True,
    device: str | torch.device | None = None,
    callbacks=(),
    desc: str = "TRM",
    evaluate_raw: bool = True,
) -> dict[str, Any]:
    """Train one run; returns model (the EMA weights when EMA is on), history,
    metrics (the last evaluation, wall time, throughput) and the config.

    checkpoint=True keeps a checkpoint under checkpoint_path("trm", cfg). With
    an EMA and `evaluate_raw`, metrics also hold raw_exact etc.: the trained
    weights read without their average.
    """
    device = get_device(device)
    train_set, test_set = datasets(cfg)
    torch.manual_seed(cfg.seed)
    model = TRM(cfg.model).to(device)
    ema = EMA(model, cfg.ema) if cfg.ema is not None else None
    loss_fn = DeepSupervision(cfg)
    hooks, state = ([ema], {"ema": ema}) if ema else ([], {})
    state["carry"] = loss_fn
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay
    )
    if checkpoint is True:
        checkpoint = checkpoint_path("trm", asdict(cfg))
    elif checkpoint is False:
        checkpoint = None
    config = TrainConfig(
        steps=cfg.steps,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        log_every=max(1, min(50, cfg.steps)),
        eval_every=cfg.eval_every,
        checkpoint_seconds=cfg.checkpoint_seconds,
        amp=cfg.amp,
        compile=cfg.compile,
    )
    inference = ema.model if ema else model
    curve_set = test_set
    if 0 < cfg.eval_subset < len(test_set):  # cheaper points on the curves
        k = cfg.eval_subset
        curve_set = SudokuData(test_set.puzzles[:k], test_set.solutions[:k], cfg.size)
    start = time.perf_counter()
    history = train(
        model,
        batches(train_set, cfg),
        loss_fn=loss_fn,
        config=config,
        optimizer=optimizer,
        device=device,
        checkpoint=checkpoint,
        evaluate=lambda m: evaluate(
            inference, curve_set, N_sup=cfg.N_sup, batch=cfg.eval_batch
        ),
        callbacks=callbacks,
        after_step=hooks,
        state=state,
        desc=desc,
    )
    wall = time.perf_counter() - start
    train_time = history[-1]["time"]  # seconds of training, evaluation excluded
    final = history[-1]
    if curve_set is not test_set:  # the reported numbers use every test puzzle
        final = evaluate(inference, test_set, N_sup=cfg.N_sup, batch=cfg.eval_batch)
    metrics = {
        **{k: v for k, v in final.items() if k not in ("step", "time")},
        "params": count_parameters(model),
        "wall_s": wall,
        "train_s": train_time,
        "examples_per_s": cfg.steps * cfg.batch_size / train_time if train_time else 0,
        "device": describe_device(device),
    }
    if ema is not None and evaluate_raw:  # without the average: the no-EMA ablation
        raw = evaluate(model, test_set, N_sup=cfg.N_sup, batch=cfg.eval_batch)
        metrics.update({f"raw_{k}": v for k, v in raw.items()})
    inference.eval()
    return {
        "model": inference,
        "raw_model": model.eval(),
        "history": history,
        "metrics": metrics,
        "config": cfg,
    }


# ---------------------------------------------------------- saving and loading


def save_run(result: dict, folder: str | os.PathLike, *, preset: str = "") -> Path:
    """Write metrics.json (settings, curves, accuracy, time, device) and model.pt
    (the inference weights only, small) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = result["config"]
    torch.save(
        {"config": asdict(cfg), "state_dict": result["model"].state_dict()},
        folder / "model.pt",
    )
    info = {
        "preset": preset,
        "config": asdict(cfg),
        "metrics": result["metrics"],
        "history": list(result["history"]),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }
    (folder / "metrics.json").write_text(json.dumps(info, indent=1))
    return folder


def config_from_dict(d: dict) -> RunConfig:
    d = dict(d)
    return RunConfig(model=TRMConfig(**d.pop("model")), **d)


def load_run(folder: str | os.PathLike) -> tuple[dict, TRM]:
    """(metrics dict, model on the CPU in eval mode) from a `save_run` folder."""
    folder = Path(folder)
    info = json.loads((folder / "metrics.json").read_text())
    saved = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model = TRM(config_from_dict(saved["config"]).model)
    model.load_state_dict(saved["state_dict"])
    return info, model.eval()


# A reference GPU run is committed here: run
#   python -m compgen.trm train --preset gpu --out src/lib/trm/reference
# on a GPU, delete reference/checkpoint.pt (it holds the optimiser state too) and
# commit metrics.json and model.pt; add them to the package data in
# pyproject.toml ([tool.setuptools.package-data] "compgen.trm" = ["reference/*"])
# so that a Colab install carries them.
REFERENCE = Path(__file__).parent / "reference"


def load_reference(folder: str | os.PathLike | None = None) -> tuple[dict, TRM] | None:
    """The committed reference GPU run, or None when none has been committed."""
    folder = Path(folder) if folder is not None else REFERENCE
    if not (folder / "metrics.json").is_file() or not (folder / "model.pt").is_file():
        return None
    return load_run(folder)
