"""Train a TRM from the command line; the chapter calls the same function.

    python -m compgen.trm train --preset gpu       # one H100, ~8 min
    python -m compgen.trm train --preset colab     # a free T4
    python -m compgen.trm train --preset cpu --variant "single pass"
    python -m compgen.trm train --preset gpu --set d_model=32 steps=20  # tiny
    python -m compgen.trm data --size 9 --givens 25 --n 3000 --tier search
    python -m compgen.trm ablation --out src/lib/trm/book_runs  # the book's runs
    python -m compgen.trm scaling --out src/lib/trm/scaling_runs --seeds 0 1 2

`train` writes metrics.json (accuracy, curves, wall time, device, settings),
model.pt (the weights to evaluate with, small) and checkpoint.pt (to resume:
run the same command again after a disconnect) into --out (default: a folder
named after the preset under $COMPGEN_CHECKPOINTS or ./checkpoints).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..core import checkpoint_path, torch_threads
from .sudoku import load_sudoku
from .training import PRESETS, VARIANTS, override, save_run, train_trm, variant


def parse_value(text: str) -> Any:
    if text.lower() in ("none", "null"):
        return None
    try:
        return json.loads(text.lower() if text.lower() in ("true", "false") else text)
    except json.JSONDecodeError:
        return text


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set takes key=value pairs, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = parse_value(value.strip())
    return out


def train_command(args: argparse.Namespace) -> dict:
    cfg = variant(PRESETS[args.preset], args.variant)
    changes = parse_settings(args.set or [])
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.seed is not None:
        changes["seed"] = args.seed
    cfg = override(cfg, changes)
    default = checkpoint_path(f"trm-{args.preset}-{args.variant}".replace(" ", "_"))
    out = Path(args.out) if args.out else default.with_suffix("")
    out.mkdir(parents=True, exist_ok=True)
    print(f"training {args.variant} ({args.preset}) into {out}", flush=True)
    if args.threads:
        with torch_threads(args.threads):
            result = train_trm(
                cfg, checkpoint=out / "checkpoint.pt", device=args.device
            )
    else:
        result = train_trm(cfg, checkpoint=out / "checkpoint.pt", device=args.device)
    save_run(result, out, preset=args.preset)
    m = result["metrics"]
    print(
        f"exact-solve {m['exact']:.1%} (cell {m['cell']:.1%}) after {cfg.steps} "
        f"steps, {m['train_s']:.0f} s of training on {m['device']}; {out}/metrics.json"
    )
    return m


# the chapter's parameters cell at book tier, as changes to the "cpu" preset
BOOK_TIER = {"steps": 500, "n_train": 5000, "n_test": 1000, "eval_every": 125,
             "warmup_steps": 50, "eval_subset": 250}  # fmt: skip


def ablation_command(args: argparse.Namespace) -> dict:
    """Train the chapter's four variants at book tier, one thread, and save them."""
    from .experiment import run_ablation, save_ablation

    changes = {**BOOK_TIER, **parse_settings(args.set or []), "seed": args.seed}
    cfg = override(PRESETS["cpu"], changes)
    start = time.perf_counter()
    results = run_ablation(cfg, seed=args.seed, threads=1, checkpoint=False)
    took = time.perf_counter() - start
    command = "python -m compgen.trm ablation" + (
        f" --seed {args.seed}" if args.seed else ""
    ) + "".join(f" --set {pair}" for pair in args.set or [])
    save_ablation(results, args.out, command=command, seconds=round(took, 1))
    for name, r in results.items():
        print(f"{name:>16}: exact {r['metrics']['exact']:.3f}")
    print(f"{took:.0f} s; saved to {args.out}")
    return {n: r["metrics"] for n, r in results.items()}


def scaling_command(args: argparse.Namespace) -> dict:
    """Train the single pass at every width of scaling.WIDTHS, and save them."""
    from .scaling import WIDTHS, train_grid

    changes = {**BOOK_TIER, **parse_settings(args.set or [])}
    cfg = override(PRESETS["cpu"], changes)
    widths = tuple(args.widths or WIDTHS)
    command = "python -m compgen.trm scaling --seeds " + " ".join(
        str(s) for s in args.seeds
    ) + "".join(f" --set {pair}" for pair in args.set or [])
    runs = train_grid(cfg, widths, tuple(args.seeds), out=args.out, command=command)
    for k, r in runs.items():
        print(f"{k:>10}: {r['params']:>7} weights, exact {r['exact']:.3f}")
    return runs


def data_command(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    data = load_sudoku(
        args.n, size=args.size, givens=args.givens, seed=args.seed, tier=args.tier
    )
    took = time.perf_counter() - start
    print(f"{len(data)} puzzles {args.size}x{args.size}, {args.givens} givens, "
          f"tier {args.tier}: {took:.1f} s (cached afterwards)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compgen.trm", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one run, write metrics and weights")
    t.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    t.add_argument("--variant", choices=list(VARIANTS), default="TRM")
    t.add_argument("--steps", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override settings")
    t.add_argument("--out", help="folder for metrics.json, model.pt, checkpoint.pt")
    t.add_argument("--device", default=None, help="auto (default), cuda, mps, cpu")
    t.add_argument("--threads", type=int, default=0, help="CPU threads for torch")
    a = sub.add_parser("ablation", help="train and save the chapter's variants")
    a.add_argument("--out", required=True, help="folder for weights.pt, record.json")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override settings")
    s = sub.add_parser("scaling", help="train and save the wider single passes")
    s.add_argument("--out", required=True, help="folder for record.json, weights.pt")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--widths", type=int, nargs="+")
    s.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override settings")
    d = sub.add_parser("data", help="generate (and cache) a puzzle set")
    d.add_argument("--size", type=int, default=9)
    d.add_argument("--givens", type=int, default=25)
    d.add_argument("--n", type=int, default=1000)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--tier", default="any")
    return parser


def main(argv: list[str] | None = None) -> dict | None:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train_command(args)
    if args.command == "ablation":
        return ablation_command(args)
    if args.command == "scaling":
        return scaling_command(args)
    data_command(args)
    return None


def run() -> int:
    """The command's entry point: errors become a message and exit status 2."""
    try:
        main()
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
