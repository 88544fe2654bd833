"""The coverage chapter's claim values over several seeds, at book parameters.

    .venv/bin/python benchmarks/coverage_seeds.py --seeds 0 1 2

Trains the chapter's whole grid once per seed (one torch thread, so it can run
beside other work; `--committed` loads seed 0's committed widths as the chapter
does, and retraces them) and prints the glued values each claim reads, one row per
seed, then whether every claim holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import coverage  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--committed",
        action="store_true",
        help="load the committed widths where they match (as the chapter does)",
    )
    parser.add_argument("--dump", help="also write every student's numbers (JSON)")
    args = parser.parse_args()
    task = coverage.ModularTask()
    students = coverage.sweep_students(task)
    config = coverage.SweepConfig()
    rows, dumped = [], []
    for seed in args.seeds:
        start = time.perf_counter()
        results = coverage.train_sweep(
            task,
            students,
            seed=seed,
            config=config,
            checkpoint=False,
            threads=args.threads,
            committed=args.committed,
        )
        values = coverage.headline(task, results)
        ahead = coverage.provenance(task, results, seed=seed, config=config)
        values.update({k: v for k, v in ahead.items() if not isinstance(v, str)})
        best = coverage.pick(
            results,
            coverage=max(coverage.COVERAGES),
            width=max(coverage.WIDTHS),
            n_tasks=max(coverage.N_TASKS),
        )
        values["beyond_span_r2"] = coverage.beyond_span(task, best, seed=seed)
        values["seconds"] = time.perf_counter() - start
        rows.append(values)
        dumped.append({"seed": seed, "results": [_plain(r) for r in results]})
        print(f"seed {seed}: " + ", ".join(f"{k}={v:.3f}" for k, v in values.items()))
        for claim in coverage.CLAIMS if hasattr(coverage, "CLAIMS") else []:
            holds, detail = claim.evaluate(values)
            print(f"    {'holds' if holds else 'FAILS'}  {claim.name}: {detail}")
        sys.stdout.flush()
        if args.dump:
            with open(args.dump, "w") as f:
                json.dump(dumped, f)
    return 0


def _plain(result: dict) -> dict:
    keep = {k: v for k, v in result.items() if k not in ("model", "history")}
    return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in keep.items()}


if __name__ == "__main__":
    sys.exit(main())
