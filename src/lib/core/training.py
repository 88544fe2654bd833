"""The book's one training loop: a few dozen lines every chapter reuses.

    history = train(model, get_batch, loss_fn=loss_fn, config=TrainConfig(steps=500))

`get_batch(step)` returns the batch for a given step. Making the batch a function
of the step (and of a seed the caller fixed) is what lets a run stop anywhere and
resume to exactly the same numbers: the loop never holds hidden iterator state.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .device import get_device

Batch = Any
LossFn = Callable[[torch.nn.Module, Batch], "torch.Tensor | tuple[torch.Tensor, dict]"]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warm-up of the learning rate
    grad_clip: float | None = None  # clip the global gradient norm
    log_every: int = 10  # record the mean training loss every this many steps
    eval_every: int = 0  # call `evaluate` every this many steps (0: only at the end)
    checkpoint_every: int = 0  # save every this many steps (0: by time only)
    checkpoint_seconds: float = 300.0  # ... and at least this often, in seconds
    amp: bool = False  # bf16 autocast on CUDA (ignored elsewhere)
    compile: bool = False  # torch.compile the model on CUDA (ignored elsewhere)

    def __post_init__(self):
        for name in ("steps", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be a positive int, got {getattr(self, name)!r}"
                )
        for name in ("warmup_steps", "eval_every", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(
                    f"{name} must be an int >= 0, got {getattr(self, name)!r}"
                )
        if not (
            isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0
        ):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")


class History(list):
    """A list of records (dicts with a "step"), with a helper to pull one series."""

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [r for r in self if key in r]
        if not rows:
            known = sorted({k for r in self for k in r})
            raise KeyError(f"no record has {key!r}; recorded keys: {known}")
        return np.array([r["step"] for r in rows]), np.array([r[key] for r in rows])

    def last(self, key: str) -> Any:
        return self.series(key)[1][-1]


def _losses(run) -> dict[int, float]:
    """{step: training loss} of a history (records with "step" and "loss") or
    of [step, loss] pairs."""
    if isinstance(run, dict):
        return dict(run)
    rows = list(run)
    if rows and isinstance(rows[0], dict):
        return {r["step"]: r["loss"] for r in rows if "loss" in r}
    return {int(s): v for s, v in rows}


def compare_losses(live, record, *, up_to: int | None = None, every=None) -> dict:
    """How closely a run retrained live retraces a recorded one: the largest
    gap between their training losses at the steps both logged, and how many
    steps that was (diff is nan when none). `live`, `record`: histories or
    [step, loss] pairs; `up_to`: the record's steps beyond it are left out;
    `every`: only steps that are multiples of it are compared."""
    a, b = _losses(live), _losses(record)
    if up_to is not None:
        b = {s: v for s, v in b.items() if s <= up_to}
    common = sorted(s for s in set(a) & set(b) if every is None or s % every == 0)
    return {
        "live": sorted(a.items()),
        "record": sorted(b.items()),
        "diff": max((abs(a[s] - b[s]) for s in common), default=math.nan),
        "n_compared": len(common),
    }


def to_device(batch: Batch, device: torch.device) -> Batch:
    """Move every tensor inside a (nested) tuple/list/dict batch to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def progress_enabled() -> bool:
    """Progress bars are on unless COMPGEN_PROGRESS=0 (the book build sets it)."""
    return os.environ.get("COMPGEN_PROGRESS", "1") != "0"


def train(
    model: torch.nn.Module,
    get_batch: Callable[[int], Batch],
    *,
    loss_fn: LossFn,
    config: TrainConfig = TrainConfig(),
    optimizer: torch.optim.Optimizer | None = None,
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    checkpoint: str | os.PathLike | None = None,
    callbacks: Sequence[Callable[[dict], None]] = (),
    device: torch.device | str | None = None,
    desc: str = "training",
    after_step: Sequence[Callable[[int], None]] = (),
    state: dict[str, Any] | None = None,
) -> History:
    """Train `model` for `config.steps` steps and return the history of records.

    `loss_fn(model, batch)` returns the loss, or `(loss, metrics_dict)`.
    `evaluate(model)` returns a dict of metrics; it runs under `torch.no_grad()`
    in eval mode. With `checkpoint=path`, the run saves itself there and, if the
    file already exists, resumes from it (a finished run returns at once).
    The learning rate follows `config.lr` (after warm-up), also when you pass your
    own `optimizer`.
    `after_step` functions are called with the number of steps done after every
    optimizer step (an average of the weights, say). `state` names further
    objects with `state_dict()`/`load_state_dict()` (that average, a loss
    function that carries data from step to step): checkpoints save and restore
    them too, so a resumed run continues exactly.
    """
    if not callable(get_batch) or not callable(loss_fn):
        raise TypeError("get_batch and loss_fn must be callables")
    device = get_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
    extra = dict(state or {})
    history, start = History(), 0
    running = torch.zeros((), device=device)  # loss summed since the last record
    if checkpoint is not None and Path(checkpoint).is_file():
        saved = load_checkpoint(
            checkpoint, model=model, optimizer=optimizer, map_location=device
        )
        if saved["config"] != asdict(config):
            raise ValueError(
                f"the checkpoint at {checkpoint} was made with a different config; "
                "delete it or pass another checkpoint path to start afresh"
            )
        history, start = History(saved["history"]), saved["step"]
        set_rng_state(saved["rng"])
        running.fill_(saved["running_loss"])
        for name, obj in extra.items():
            if name not in saved.get("extra", {}):
                raise ValueError(f"the checkpoint at {checkpoint} holds no {name!r}")
            obj.load_state_dict(saved["extra"][name])

    def save(step: int) -> None:
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                model=model,
                optimizer=optimizer,
                step=step,
                history=list(history),
                config=asdict(config),
                rng=rng_state(),
                running_loss=running.item(),
                extra={name: obj.state_dict() for name, obj in extra.items()},
            )

    fast = device.type == "cuda"
    forward_model = torch.compile(model) if (config.compile and fast) else model
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if (config.amp and fast)
        else contextlib.nullcontext()
    )

    # "time" in every record: seconds spent training so far. The clock stops
    # while `evaluate` runs and goes on from the checkpoint's time on a resume.
    clock = {"start": time.monotonic(), "paused": 0.0}
    clock["start"] -= next((r["time"] for r in reversed(history) if "time" in r), 0.0)

    def seconds() -> float:
        return time.monotonic() - clock["start"] - clock["paused"]

    def run_eval(step: int) -> None:
        if evaluate is None:
            return
        began = time.monotonic()
        model.eval()
        with torch.no_grad():
            record = {"step": step, **{k: float(v) for k, v in evaluate(model).items()}}
        model.train()
        clock["paused"] += time.monotonic() - began
        record["time"] = seconds()
        history.append(record)
        for cb in callbacks:
            cb(record)

    model.train()
    if start == 0 and config.eval_every:
        run_eval(0)  # where the curves start
    last_save = time.monotonic()
    done = start
    bar = tqdm(
        range(start, config.steps),
        desc=desc,
        initial=start,
        total=config.steps,
        disable=not progress_enabled(),
        leave=False,
    )
    try:
        for step in bar:
            for group in optimizer.param_groups:  # linear warm-up, then constant
                group["lr"] = config.lr * min(
                    1.0, (step + 1) / max(1, config.warmup_steps)
                )
            with autocast:
                out = loss_fn(forward_model, to_device(get_batch(step), device))
            loss, metrics = out if isinstance(out, tuple) else (out, {})
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            running += loss.detach().float()
            done = step + 1
            for hook in after_step:
                hook(done)
            if done % config.log_every == 0 or done == config.steps:
                n = done - (done - 1) // config.log_every * config.log_every
                record = {
                    "step": done,
                    "loss": running.item() / n,
                    "lr": optimizer.param_groups[0]["lr"],
                    "time": seconds(),
                    **{k: float(v) for k, v in metrics.items()},
                }
                running.zero_()
                history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4g}")
                for cb in callbacks:
                    cb(record)
            if (
                config.eval_every
                and done % config.eval_every == 0
                and done != config.steps
            ):
                run_eval(done)
            by_steps = config.checkpoint_every and done % config.checkpoint_every == 0
            if by_steps or time.monotonic() - last_save > config.checkpoint_seconds:
                save(done)
                last_save = time.monotonic()
        if start < config.steps or not history:
            run_eval(config.steps)
            save(config.steps)
    except KeyboardInterrupt:  # stopping a cell keeps the work: rerun it to resume
        save(done)
        raise
    finally:
        bar.close()
    return history


def count_parameters(model: torch.nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad or not trainable_only
    )


def batches_from_tensors(
    *tensors: torch.Tensor, batch_size: int, seed: int
) -> Callable[[int], tuple]:
    """A `get_batch(step)` drawing a random minibatch from fixed tensors.

    The indices for step s depend only on (seed, s), so a resumed run sees the
    same batches as an uninterrupted one.
    """
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"tensors differ in length: {[len(t) for t in tensors]}")
    if not 1 <= batch_size:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    def get_batch(step: int) -> tuple:
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        return tuple(t[idx] for t in tensors)

    return get_batch
