"""Train the chapter's reference models and commit them small.

    python -m compgen.scan train --kind meta --split addprim_jump --seed 0
    python -m compgen.scan train --kind baseline --split simple --seed 0
    python -m compgen.scan train --kind baseline --width 16 --seed 0
    python -m compgen.scan live    # the chapter's short metalearner, ahead

`--width` trains the baseline at another model width (the width grid of the
chapter's scaling figure, kind `baseline_w<width>`; 64 is the reference).

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
from .training import (
    DECAY,
    STEPS,
    RunConfig,
    accuracy,
    train_baseline,
    train_meta,
    width_config,
    width_kind,
)

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
    t.add_argument(
        "--width", type=int, default=64, help="the baseline's model width (64)"
    )
    t.add_argument("--no-save", action="store_true", help="only print the accuracy")
    t.add_argument(
        "--record-only",
        action="store_true",
        help="add the run to the record without saving its weights",
    )
    lv = sub.add_parser(
        "live", help="train the chapter's live metalearner ahead and commit it"
    )
    lv.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "live":
        return live(args.seed)
    from .grammar import split

    cfg = RunConfig(steps=args.steps or STEPS[args.kind], decay=DECAY[args.kind])
    kind, extra = args.kind, {}
    if args.width != 64:
        if args.kind != "baseline":
            ap.error("--width is for --kind baseline only")
        cfg, kind = width_config(args.width, cfg), width_kind(args.width)
    start = time.process_time()
    if args.kind == "baseline":
        model, history = train_baseline(args.split, cfg, seed=args.seed)
    else:
        model, history = train_meta(
            args.split, cfg, seed=args.seed, lookup=args.kind == "meta"
        )
    cpu = time.process_time() - start
    acc = accuracy(model, split(args.split)[1], meta=args.kind != "baseline")
    if args.kind == "baseline":  # does it fit its training set? (1,000 pairs)
        from .experiment import _subset

        train_pairs = _subset(split(args.split)[0], 1000)
        extra = {"train_accuracy": accuracy(model, train_pairs), "width": args.width}
    print(
        f"{kind} {args.split} seed {args.seed}: test exact match {acc:.4f} "
        f"({cpu:.0f} CPU s of training)",
        flush=True,
    )
    if not args.no_save:
        path = save_reference(
            model,
            history,
            kind=kind,
            split=args.split,
            seed=args.seed,
            cfg=cfg,
            accuracy=acc,
            cpu_seconds=cpu,
            weights=not args.record_only,
            extra=extra,
        )
        print(f"recorded {path.name}" + (" (record only)" if args.record_only else ""))


def live(seed: int = 0) -> None:
    """The chapter's live metalearner at its book settings, trained and saved
    (weights, history, and its accuracy on the chapter's test commands)."""
    from .experiment import LIVE_KIND, Experiment, live_config, live_test, train_live

    exp = Experiment()
    start = time.process_time()
    model, history = train_live(exp, seed=seed)
    cpu = time.process_time() - start
    acc = accuracy(model, live_test(exp), meta=True)
    print(f"{LIVE_KIND} seed {seed}: {acc:.4f} on {exp.live_eval} add-jump commands "
          f"({cpu:.0f} CPU s of training)", flush=True)  # fmt: skip
    path = save_reference(
        model,
        history,
        kind=LIVE_KIND,
        split="addprim_jump",
        seed=seed,
        cfg=live_config(exp),
        accuracy=acc,
        cpu_seconds=cpu,
        extra={"live_eval": exp.live_eval},
    )
    print(f"recorded {path.name}")


if __name__ == "__main__":
    main()
