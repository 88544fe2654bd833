"""Checkpoints that survive a Colab disconnect: atomic writes, exact resume.

A checkpoint is one file holding the model's and optimizer's state, the step
reached, the history so far, the run's config (as a plain dict) and the state of
every random number generator, so that resuming continues the same run rather
than starting a similar one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators, as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [
            kind,
            torch.from_numpy(keys.astype(np.int64)),
            pos,
            has_gauss,
            cached,
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x: Any) -> Any:
    # torch.load gives lists back where tuples went in; random.setstate wants tuples
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: str | os.PathLike, **state: Any) -> Path:
    """Write `state` (model=..., optimizer=..., step=..., ...) to `path` atomically.

    Modules and optimizers are stored by their `state_dict()`. The file is first
    written next to its destination and then renamed, so a run killed mid-save
    leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"format_version": FORMAT_VERSION}
    for key, value in state.items():
        payload[key] = value.state_dict() if hasattr(value, "state_dict") else value
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint; load it into `model` and `optimizer` when given.

    Returns the whole stored dict (step, history, config, ...). Raises
    FileNotFoundError with the path when there is nothing to load.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {payload.get('format_version')!r}, "
            f"this library reads format {FORMAT_VERSION}"
        )
    if model is not None:
        model.load_state_dict(payload["model"])
    if optimizer is not None and "optimizer" in payload:
        optimizer.load_state_dict(payload["optimizer"])
    return payload


def checkpoint_path(name: str, config: Any = None, *, suffix: str = ".pt") -> Path:
    """Where a run called `name` keeps its checkpoint.

    The folder is `$COMPGEN_CHECKPOINTS` if set (the book build and the tests point
    it at a fresh folder, so they never reuse an old run), else `./checkpoints`.
    With a `config` (a dataclass or dict), a short hash of it joins the name, so a
    run with other settings gets its own file instead of resuming this one.
    """
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"name must be a plain file name, got {name!r}")
    folder = Path(os.environ.get("COMPGEN_CHECKPOINTS", "checkpoints"))
    if config is not None:
        from dataclasses import asdict, is_dataclass

        data = asdict(config) if is_dataclass(config) else config
        digest = hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode())
        name = f"{name}-{digest.hexdigest()[:8]}"
    return folder / f"{name}{suffix}"
