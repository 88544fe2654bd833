"""Training the coverage chapter's grid as batched models vs one student at a time.

    .venv/bin/python benchmarks/coverage_batched.py            # the chapter's grid
    .venv/bin/python benchmarks/coverage_batched.py --steps 500 --threads 2

Trains the same students twice, `train_sweep(batched=True)` (one BatchedMLP per
width) and `batched=False` (each student its own model, one after another), and
prints the wall seconds of each, per width and in total, with the speed-up. Both
include the same evaluation and probes; the numbers they produce agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import coverage  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task = coverage.ModularTask()
    config = coverage.SweepConfig()
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, steps=args.steps)
    )
    students = coverage.sweep_students(task)
    print(f"{len(students)} students, {args.steps} steps, {args.threads} threads")
    print(f"{'width':>6}{'students':>10}{'batched s':>12}{'one by one s':>14}{'x':>7}")
    totals = [0.0, 0.0]
    for width in coverage.WIDTHS:
        group = [s for s in students if s.width == width]
        seconds, ood = [], []
        for batched in (True, False):
            start = time.perf_counter()
            results = coverage.train_sweep(
                task,
                group,
                seed=args.seed,
                config=config,
                batched=batched,
                checkpoint=False,
                threads=args.threads,
            )
            seconds.append(time.perf_counter() - start)
            ood.append([r["ood_r2"] for r in results])
        gap = max(abs(a - b) for a, b in zip(*ood, strict=True))
        totals = [t + s for t, s in zip(totals, seconds, strict=True)]
        print(
            f"{width:>6}{len(group):>10}{seconds[0]:>12.1f}{seconds[1]:>14.1f}"
            f"{seconds[1] / seconds[0]:>7.1f}   (largest OOD R² difference {gap:.1e})",
            flush=True,
        )
    print(
        f"{'all':>6}{len(students):>10}{totals[0]:>12.1f}{totals[1]:>14.1f}"
        f"{totals[1] / totals[0]:>7.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
