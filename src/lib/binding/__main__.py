"""Train the chapter's pixel models ahead of time and commit them small.

    python -m compgen.binding pixels

See `compgen.binding.ahead`: the seed-0 CNNs (at every width of the chapter)
and slot model, trained as the chapter trains them on one CPU thread, go to
`runs/pixels_s0.pt` (the weights) and `runs/pixels_s0.json` (their training
record).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("COMPGEN_PROGRESS", "0")


def main(argv=None) -> None:
    import torch

    from .ahead import CNN_WIDTHS, RUNS, book_config, train_pixels

    ap = argparse.ArgumentParser(prog="python -m compgen.binding")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pixels", help="train the chapter's pixel models, commit them")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--widths", type=int, nargs="+", default=list(CNN_WIDTHS))
    p.add_argument("--runs", type=Path, default=RUNS, help="where to write them")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as the chapter trains them
    config = book_config(args.steps)
    record = train_pixels(config, args.widths, seed=args.seed, runs=args.runs)
    for kind, loss in record["loss"].items():
        print(f"{kind}: final training loss {loss[-1][1]:.4f} "
              f"({record['train_cpu_seconds'][kind]:.0f} CPU s)")  # fmt: skip


if __name__ == "__main__":
    main()
