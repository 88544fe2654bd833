"""Train the chapter's reference models and commit them small.

    python -m compgen.scan train --kind meta --split addprim_jump --seed 0
    python -m compgen.scan train --kind baseline --split simple --seed 0

Each run writes `trained/<kind>_<split>_s<seed>.pt` (half-precision
weights, the configs, the training history) and adds its full-test-set
exact-match accuracy to `trained/record.json`, the training record the
chapter quotes.
"""

from __future__ import annotations

import argparse
import os
import time

from .reference import save_reference
from .training import DECAY, STEPS, RunConfig, accuracy, train_baseline, train_meta

os.environ.setdefault("COMPGEN_PROGRESS", "0")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m compgen.scan")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a reference model and record it")
    t.add_argument("--kind", choices=tuple(STEPS), required=True)
    t.add_argument("--split", default="addprim_jump")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--steps", type=int, default=None, help=f"training steps (default: {STEPS})"
    )
    t.add_argument("--no-save", action="store_true", help="only print the accuracy")
    t.add_argument(
        "--record-only",
        action="store_true",
        help="add the run to the record without saving its weights",
    )
    args = ap.parse_args(argv)
    from .grammar import split

    cfg = RunConfig(steps=args.steps or STEPS[args.kind], decay=DECAY[args.kind])
    start = time.process_time()
    if args.kind == "baseline":
        model, history = train_baseline(args.split, cfg, seed=args.seed)
    else:
        model, history = train_meta(
            args.split, cfg, seed=args.seed, lookup=args.kind == "meta"
        )
    cpu = time.process_time() - start
    acc = accuracy(model, split(args.split)[1], meta=args.kind != "baseline")
    print(
        f"{args.kind} {args.split} seed {args.seed}: test exact match {acc:.4f} "
        f"({cpu:.0f} CPU s of training)",
        flush=True,
    )
    if not args.no_save:
        path = save_reference(
            model,
            history,
            kind=args.kind,
            split=args.split,
            seed=args.seed,
            cfg=cfg,
            accuracy=acc,
            cpu_seconds=cpu,
            weights=not args.record_only,
        )
        print(f"recorded {path.name}" + (" (record only)" if args.record_only else ""))


if __name__ == "__main__":
    main()
