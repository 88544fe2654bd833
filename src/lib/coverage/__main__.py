"""Train the coverage sweep's widest students and commit them small.

    python -m compgen.coverage train --widths 256 --seed 0

See `compgen.coverage.committed`: each width's weights go to
`trained/w<width>_s<seed>.pt`, its training record to `trained/record.json`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("COMPGEN_PROGRESS", "0")


def main(argv=None) -> None:
    from .committed import COMMITTED_WIDTHS, train_committed

    ap = argparse.ArgumentParser(prog="python -m compgen.coverage")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train widths of the chapter's grid, commit them")
    t.add_argument("--widths", type=int, nargs="+", default=list(COMMITTED_WIDTHS))
    t.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    record = train_committed(args.widths, seed=args.seed)
    for w in args.widths:
        entry = record[f"w{w}/s{args.seed}"]
        print(f"width {w}: {entry['seconds']} s, wrote {entry['weights']}")


if __name__ == "__main__":
    main()
