"""Train the chapter's width grid and commit it small.

    python -m compgen.embers grid --widths 16 24 32 64 --seeds 0 1 2
    python -m compgen.embers main     # the chapter's own run (seed 0)

See `compgen.embers.scaling`: every run goes to `trained/record.json`, seed 0's
weights (but the live width's) to `trained/w<width>_s0.pt`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("COMPGEN_PROGRESS", "0")


def main(argv=None) -> None:
    from .scaling import WIDTHS, train_grid

    ap = argparse.ArgumentParser(prog="python -m compgen.embers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid", help="train the width grid and record it")
    g.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    g.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    m = sub.add_parser("main", help="train the chapter's own run and commit it")
    m.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "main":
        from .saved import saved_paths, train_main

        train_main(args.seed)
        print("wrote", *saved_paths(args.seed))
    else:
        train_grid(args.widths, args.seeds)


if __name__ == "__main__":
    main()
