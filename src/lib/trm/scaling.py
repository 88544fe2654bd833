"""Issue "despite scaling": the single pass (the failing model) made wider.

The single pass at the TRM's width has exactly the TRM's weights. Here it grows
to about ten times those weights (wider blocks, same data, steps and batch),
while the recursive network stays at its small size.

    python -m compgen.trm scaling --out src/lib/trm/scaling_runs --seeds 0 1 2

trains every width and seed on one CPU thread and writes record.json (each
run's settings, exact-solve, cell accuracy, weights, seconds) and weights.pt:
the widest network of seed 0, in float16 (about 1.8 MB). The chapter scores
those weights afresh at build time and retrains the narrowest wider network
live for a few steps, which must retrace the record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import torch

from ..core import torch_threads
from .model import TRM
from .training import (
    RunConfig,
    config_from_dict,
    datasets,
    evaluate,
    override,
    train_trm,
    variant,
)

WIDTHS = (64, 96, 144, 232)  # d_model of the single pass; 64 is the TRM's
SCALING_RUNS = Path(__file__).parent / "scaling_runs"
_RECORD, _WEIGHTS = "record.json", "weights.pt"


def width_config(cfg: RunConfig, width: int, seed: int) -> RunConfig:
    """The single pass of `cfg` at width `width` (the same data and training)."""
    return variant(override(cfg, {"d_model": width, "seed": seed}), "single pass")


def key(width: int, seed: int) -> str:
    return f"w{width}/s{seed}"


def train_grid(
    cfg: RunConfig,
    widths=WIDTHS,
    seeds=(0,),
    *,
    out: str | os.PathLike | None = None,
    command: str = "",
) -> dict[str, dict]:
    """Train the single pass at every width and seed (seed-major, so a partial
    record has whole curves); with `out`, the record is rewritten after each
    run and seed 0's widest network saved in float16."""
    runs: dict[str, dict] = {}
    keep = None
    for seed in seeds:
        for width in widths:
            run = width_config(cfg, width, seed)
            with torch_threads(1):
                r = train_trm(run, checkpoint=False, desc=key(width, seed),
                              evaluate_raw=False)  # fmt: skip
            m = r["metrics"]
            runs[key(width, seed)] = {
                "width": width, "seed": seed, "config": dataclasses.asdict(run),
                "exact": m["exact"], "cell": m["cell"], "params": m["params"],
                "train_s": m["train_s"], "history": list(r["history"]),
            }  # fmt: skip
            if seed == seeds[0] and width == max(widths):
                keep = r["model"]
            if out is not None:
                save_grid(runs, out, keep, command=command)
    return runs


def save_grid(runs: dict, out, model=None, *, command: str = "") -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = None
    if model is not None:
        half = {k: v.half() for k, v in model.state_dict().items()}
        torch.save(half, out / _WEIGHTS)
        widest = max(r["width"] for r in runs.values())
        k = next(k for k, r in runs.items() if r["width"] == widest)
        saved = {"key": k, "exact_float16": _score(half, runs[k]["config"])}
    record = {
        "runs": runs, "saved_weights": saved, "command": command,
        "torch": torch.__version__, "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }  # fmt: skip
    (out / _RECORD).write_text(json.dumps(record, indent=1))
    return out


def _score(state: dict, config: dict) -> float:
    run = config_from_dict(config)
    model = TRM(run.model)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    with torch_threads(1):
        return evaluate(model.eval(), datasets(run)[1], N_sup=run.N_sup)["exact"]


def load_grid(folder: str | os.PathLike | None = None) -> dict | None:
    """The saved record, or None."""
    folder = Path(folder) if folder is not None else SCALING_RUNS
    if not (folder / _RECORD).is_file():
        return None
    return json.loads((folder / _RECORD).read_text())


def score_saved(folder: str | os.PathLike | None = None) -> dict | None:
    """The saved widest network scored afresh: {key, exact, recorded, float16}."""
    folder = Path(folder) if folder is not None else SCALING_RUNS
    record = load_grid(folder)
    if record is None or not record.get("saved_weights"):
        return None
    k = record["saved_weights"]["key"]
    state = torch.load(folder / _WEIGHTS, map_location="cpu", weights_only=True)
    return {
        "key": k, "exact": _score(state, record["runs"][k]["config"]),
        "recorded": record["runs"][k]["exact"],
        "float16": record["saved_weights"]["exact_float16"],
    }  # fmt: skip


def table(record: dict) -> dict[int, list[float]]:
    """{width: [exact-solve per seed, in seed order]}."""
    out: dict[int, list[tuple[int, float]]] = {}
    for r in record["runs"].values():
        out.setdefault(r["width"], []).append((r["seed"], r["exact"]))
    return {w: [e for _, e in sorted(v)] for w, v in sorted(out.items())}


def params_by_width(record: dict) -> dict[int, int]:
    return {r["width"]: r["params"] for r in record["runs"].values()}


def plot_scaling(record: dict, trm_exact: float, trm_params: int, ax=None):
    """Exact-solve of the single pass against its weights, one dot per seed,
    the mean joined; the TRM at its own size as a star."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    t, p = table(record), params_by_width(record)
    xs = [p[w] for w in t]
    for w, values in t.items():
        ax.scatter([p[w]] * len(values), values, color="#999999", s=14, zorder=2)
    ax.plot(xs, [sum(v) / len(v) for v in t.values()], color="#555555",
            marker="o", label="single pass (mean over seeds; dots: seeds)")  # fmt: skip
    ax.scatter([trm_params], [trm_exact], marker="*", s=180, color="#0072B2",
               zorder=3, label="TRM at its own size")  # fmt: skip
    ax.set_xscale("log")
    ax.set(xlabel="weights", ylabel="exact-solve, held-out puzzles",
           ylim=(-0.02, 1.02), title="A wider single pass against the small TRM")
    ax.legend(fontsize=8, loc="center right")
    return ax


def matches(record: dict, cfg: RunConfig) -> bool:
    """True when every saved run is the single pass of `cfg` at its width, seed."""
    return bool(record and record.get("runs")) and all(
        r["config"] == dataclasses.asdict(width_config(cfg, r["width"], r["seed"]))
        for r in record["runs"].values()
    )


def loss_at(history, step: int) -> float:
    """The mean training loss over the steps up to `step`, from a history."""
    return next(r["loss"] for r in history if r["step"] == step and "loss" in r)


def scaling_results(
    cfg: RunConfig, *, live_steps: int = 50, folder=None
) -> tuple[dict, bool, dict | None]:
    """(record, loaded, check). With the saved record made with `cfg`: that
    record, True, and a check: the widest network scored afresh from its saved
    weights, and the narrowest wider network retrained live for `live_steps`
    steps beside its recorded loss. Otherwise a tiny grid trained now (the
    single pass at cfg's width and twice it, seed cfg.seed), False, None."""
    record = load_grid(folder)
    if record is not None and matches(record, cfg):
        saved = score_saved(folder)
        widths = sorted({r["width"] for r in record["runs"].values()})
        base = cfg.model.d_model
        width = next((w for w in widths if w > base), widths[0])
        k = key(width, min(r["seed"] for r in record["runs"].values()))
        run = config_from_dict(record["runs"][k]["config"])
        steps = min(live_steps, run.steps)
        with torch_threads(1):
            short = override(run, {"steps": steps})
            live = train_trm(short, checkpoint=False, desc=f"single pass {k}, live",
                             evaluate_raw=False)  # fmt: skip
        check = {
            "saved": saved, "live_key": k, "live_steps": steps,
            "live_loss": loss_at(live["history"], steps),
            "recorded_loss": loss_at(record["runs"][k]["history"], steps),
            "live_seconds": live["metrics"]["train_s"],
        }  # fmt: skip
        return record, True, check
    base = cfg.model.d_model
    runs = train_grid(cfg, (base, 2 * base), (cfg.seed,))
    return {"runs": runs}, False, None


def summary(record: dict, trm_params: int) -> dict[str, float]:
    """Glue-friendly numbers: the single pass at its smallest and largest width
    (mean, best and worst seed), their weights, and the weight ratio to the TRM."""
    t, p = table(record), params_by_width(record)
    small, large = min(t), max(t)
    return {
        "sp_exact_small": sum(t[small]) / len(t[small]),
        "sp_exact_large": sum(t[large]) / len(t[large]),
        "sp_exact_large_max": max(t[large]),
        "sp_exact_best": max(max(v) for v in t.values()),
        "sp_params_small": p[small],
        "sp_params_large": p[large],
        "sp_weight_ratio": p[large] / trm_params,
        "sp_width_large": large,
        "sp_seeds": len(t[large]),
    }
