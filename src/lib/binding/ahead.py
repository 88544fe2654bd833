"""The chapter's pixel models, trained ahead of time and committed small.

    python -m compgen.binding pixels

trains the seed-0 book-tier pixel models exactly as chapters/binding.ipynb
trains them live (the CNN baselines at `CNN_WIDTHS` side by side, then the
slot model, one CPU thread) and writes their weights to `runs/pixels_s0.pt`
and the record of their training (the config, the seed, the widths, the
training loss at every logged step) to `runs/pixels_s0.json`. The CNNs are
stored in half precision, which leaves every score of theirs unchanged; the
slot model in single precision, because rounding any part of it to half (or
bfloat16) moves its scores in the third decimal (its slot attention starts
from random slots, and small changes flip a few answers).

`pixel_models` is what the chapter calls: when its config, widths and seed are
the record's, it loads the committed weights (the page scores them afresh);
otherwise it trains live. The weights file also holds torch's random state
as the live run leaves it, which the slot model's evaluation draws its slot
noise from, so the loaded models score what the live ones scored.
`retrace` retrains one recorded model live for its first steps (the learning
rate only depends on the step, so they are the full run's first steps) and
compares its training loss with the record's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from ..core.seeding import seed_everything
from ..core.training import TrainConfig, compare_losses
from .pixels import Baseline, PixelConfig, fit, fit_baselines, make_model
from .scenes import World

RUNS = Path(__file__).with_name("runs")
COMMAND = "python -m compgen.binding pixels"
CNN_WIDTHS = (8, 12, 16, 32)  # the chapter's CNN widths; 32 is its baseline
KINDS = ("baselines", "slots")  # the two training runs of the record


def book_config(steps: int = 3000, counts=(1, 2)) -> PixelConfig:
    """The chapter's pixel config: `steps` steps, warm-up min(200, steps)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    train = TrainConfig(steps=steps, lr=1e-3, warmup_steps=min(200, steps))
    return replace(PixelConfig(), counts=tuple(counts), train=train)


def config_dict(config: PixelConfig) -> dict:
    """A PixelConfig as JSON stores it (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))


def config_from_dict(d: dict) -> PixelConfig:
    d = dict(d)
    return PixelConfig(
        **{**d, "counts": tuple(d["counts"]), "train": TrainConfig(**d["train"])}
    )


def record_path(seed: int = 0, runs: Path = RUNS) -> Path:
    return Path(runs) / f"pixels_s{seed}.json"


def weights_path(seed: int = 0, runs: Path = RUNS) -> Path:
    return Path(runs) / f"pixels_s{seed}.pt"


def read_record(seed: int = 0, runs: Path = RUNS) -> dict | None:
    path = record_path(seed, runs)
    return json.loads(path.read_text()) if path.is_file() else None


def _key(config: PixelConfig, widths, seed: int, world: World) -> dict:
    """What a committed run must share with the chapter's to stand for it."""
    return {
        "seed": seed,
        "widths": list(widths),
        "config": config_dict(config),
        "world": asdict(world),
    }


def _check_widths(widths) -> tuple[int, ...]:
    widths = tuple(widths)
    if not widths or any(
        isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths
    ):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    return widths


def train_pixels(
    config: PixelConfig | None = None,
    widths=CNN_WIDTHS,
    *,
    seed: int = 0,
    world: World = World(),
    runs: Path = RUNS,
) -> dict:
    """Train the chapter's pixel models as it does and commit them to `runs`.

    Returns the record (also written next to the weights)."""
    config = book_config() if config is None else config
    widths = _check_widths(widths)
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    start = time.process_time()
    cnns, cnn_history = fit_baselines(widths, seed=seed, world=world, config=config)
    mid = time.process_time()
    slot_model, slot_history = fit("slots", seed=seed, world=world, config=config)
    rng_after = torch.get_rng_state()  # where the chapter's evaluation starts
    end = time.process_time()
    half = lambda m: {k: v.half() for k, v in m.state_dict().items()}  # noqa: E731
    torch.save(
        {
            "cnns": {str(w): half(m) for w, m in zip(widths, cnns, strict=True)},
            "slots": slot_model.state_dict(),  # float32: see the module's docstring
            "rng_after": rng_after,
        },
        weights_path(seed, runs),
    )
    record = {
        **_key(config, widths, seed, world),
        "command": COMMAND,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_cpu_seconds": {
            "baselines": round(mid - start, 1),
            "slots": round(end - mid, 1),
        },
        "loss": {
            kind: [[r["step"], r["loss"]] for r in history if "loss" in r]
            for kind, history in (("baselines", cnn_history), ("slots", slot_history))
        },
    }
    record_path(seed, runs).write_text(json.dumps(record, indent=1))
    return record


def matching_record(
    config: PixelConfig,
    widths,
    *,
    seed: int,
    world: World = World(),
    runs: Path = RUNS,
) -> dict | None:
    """The committed record whose run is the chapter's, or None."""
    record = read_record(seed, runs) if isinstance(seed, int) else None
    if record is None or not weights_path(seed, runs).is_file():
        return None
    key = _key(config, _check_widths(widths), seed, world)
    return record if all(record.get(k) == v for k, v in key.items()) else None


def load_pixels(
    config: PixelConfig,
    widths,
    *,
    seed: int,
    world: World = World(),
    runs: Path = RUNS,
) -> tuple[list[Baseline], torch.nn.Module]:
    """The committed CNNs (one per width) and slot model, all float32.

    Leaves torch's random state where the live run leaves it. Raises
    ValueError when no committed run matches the config, widths and seed."""
    if matching_record(config, widths, seed=seed, world=world, runs=runs) is None:
        raise ValueError(
            f"no committed pixel run in {runs} for seed {seed}, widths "
            f"{tuple(widths)} and this config; train one with `{COMMAND}`"
        )
    saved = torch.load(weights_path(seed, runs), map_location="cpu", weights_only=True)
    cnns = []
    for w in widths:
        model = Baseline(world, w, hidden=4 * w)
        model.load_state_dict({k: v.float() for k, v in saved["cnns"][str(w)].items()})
        cnns.append(model.eval())
    slot_model = make_model("slots", world, config)
    slot_model.load_state_dict({k: v.float() for k, v in saved["slots"].items()})
    seed_everything(seed)  # Python's and NumPy's generators, as fit leaves them
    torch.set_rng_state(saved["rng_after"])
    return cnns, slot_model.eval()


def pixel_models(
    config: PixelConfig,
    widths,
    *,
    seed: int,
    world: World = World(),
    runs: Path = RUNS,
) -> tuple[list[Baseline], torch.nn.Module, bool]:
    """The chapter's CNNs and slot model, and whether they were trained ahead.

    The committed ones when the config, widths and seed are the record's,
    else trained now: the CNNs side by side (`fit_baselines`), then the
    slot model (`fit`), as `train_pixels` trained the committed ones."""
    widths = _check_widths(widths)
    if matching_record(config, widths, seed=seed, world=world, runs=runs):
        return (*load_pixels(config, widths, seed=seed, world=world, runs=runs), True)
    cnns, _ = fit_baselines(widths, seed=seed, world=world, config=config)
    slot_model, _ = fit("slots", seed=seed, world=world, config=config)
    return cnns, slot_model, False


def source_text(trained_ahead: bool) -> str:
    """Where the page's pixel models came from, as the end of its sentence."""
    if not trained_ahead:
        return (
            "were trained just now, as the page was built (the committed ones are "
            "for the book's settings and seed 0)"
        )
    return (
        f"were trained ahead of time, by `{COMMAND}` with exactly these settings "
        "and this seed, and ship with the library (the CNNs' weights in half "
        "precision, the slot model's in single); every score on this page is "
        "computed from those weights as the page is built"
    )


def retrace(
    kind: str = "slots", *, stop_at: int = 300, seed: int = 0, runs: Path = RUNS
) -> dict:
    """Retrain one recorded run live for its first `stop_at` steps and compare
    its training loss with the record's at the steps both logged in full.

    Returns {"kind", "steps", "live", "record", "diff", "n_compared"}; "diff"
    is the largest absolute difference (NaN when no step is compared)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    record = read_record(seed, runs)
    if record is None:
        raise ValueError(
            f"no committed pixel record for seed {seed} in {runs}; "
            f"train one with `{COMMAND}`"
        )
    config = config_from_dict(record["config"])
    total = config.train.steps
    if isinstance(stop_at, bool) or not isinstance(stop_at, int):
        raise ValueError(f"stop_at must be an int in [1, {total}], got {stop_at!r}")
    if not 1 <= stop_at <= total:
        raise ValueError(f"stop_at must be an int in [1, {total}], got {stop_at!r}")
    short = replace(config, train=replace(config.train, steps=stop_at))
    world, seed = World(**record["world"]), record["seed"]
    if kind == "slots":
        _, history = fit("slots", seed=seed, world=world, config=short)
    else:
        widths = tuple(record["widths"])
        _, history = fit_baselines(widths, seed=seed, world=world, config=short)
    every = config.train.log_every  # a step logged in full: a mean of `every` steps
    compared = compare_losses(
        history, record["loss"][kind], up_to=stop_at, every=every
    )
    return {"kind": kind, "steps": stop_at, **compared}
