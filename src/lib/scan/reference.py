"""Reference models trained by `python -m compgen.scan train`, committed small."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from .model import ModelConfig, Seq2Seq
from .training import RunConfig

CHECKPOINTS = Path(__file__).with_name("trained")
RECORD = CHECKPOINTS / "record.json"


def reference_path(kind: str, split: str, seed: int) -> Path:
    return CHECKPOINTS / f"{kind}_{split}_s{seed}.pt"


def save_reference(
    model: Seq2Seq,
    history,
    *,
    kind: str,
    split: str,
    seed: int,
    cfg: RunConfig,
    accuracy: float,
    cpu_seconds: float,
    weights: bool = True,
    extra: dict | None = None,
) -> Path:
    """Half-precision weights + configs + history (unless `weights=False`);
    the accuracy goes to the record either way."""
    path = reference_path(kind, split, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if weights:
        state = {k: v.half() for k, v in model.state_dict().items()}
        torch.save(
            {
                "state": state,
                "model": asdict(model.cfg),
                "run": asdict(cfg),
                "history": list(history),
            },
            path,
        )
    record = read_record()
    record[f"{kind}/{split}/{seed}"] = {
        "kind": kind,
        "split": split,
        "seed": seed,
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "lr_decay": cfg.decay,
        "test_accuracy": accuracy,
        "train_cpu_seconds": round(cpu_seconds, 1),
        "n_weights": sum(p.numel() for p in model.parameters()),
        **(extra or {}),
    }
    RECORD.write_text(json.dumps(dict(sorted(record.items())), indent=1) + "\n")
    return path


def read_record() -> dict:
    """The training record: one entry per committed (or measured) run."""
    return json.loads(RECORD.read_text()) if RECORD.is_file() else {}


def load_reference(kind: str, split: str, seed: int = 0) -> tuple[Seq2Seq, dict]:
    """A committed reference model (float32 again) and its saved history."""
    path = reference_path(kind, split, seed)
    if not path.is_file():
        raise FileNotFoundError(
            f"no reference model at {path}; train it with `python -m compgen.scan "
            f"train --kind {kind} --split {split} --seed {seed}`"
        )
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = Seq2Seq(ModelConfig(**saved["model"]))
    model.load_state_dict({k: v.float() for k, v in saved["state"].items()})
    return model.eval(), saved
