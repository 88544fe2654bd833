"""The embers chapter's claims at book parameters, for several seeds.

    .venv/bin/python benchmarks/embers_seeds.py 0 1 2
    .venv/bin/python benchmarks/embers_seeds.py 0 --steps 1500
    .venv/bin/python benchmarks/embers_seeds.py 1 2 --record   # also the grid's w64
    .venv/bin/python benchmarks/embers_seeds.py --report       # the width grid only

`--record` adds each run to the width grid's record (`compgen/embers/trained/
record.json`, as `python -m compgen.embers grid --widths 64` would: the same
recipe); `--report` prints the grid's gaps per width and seed, training nothing.

Prints, per seed, the glued values the claims read, whether each holds, the
margins (how far each value is from its bar), prediction 3 at sentence and word
level, and the accuracy curves of the rare shift. One torch thread.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import embers  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402


def margins(v: dict) -> dict[str, float]:
    """Distance of each claimed quantity from its bar (positive: claim holds)."""
    return {
        "task gap - 0.3": v["task_gap"] - 0.3,
        "run task gap - 0.3": v["run_task_gap"] - 0.3,
        "run common - rare": v["run_gap_common_rare"],
        "run common - non": v["run_gap_common_non"],
        "run rare - non": v["run_gap_rare_non"],
        "common - non-words, both shifts - 0.1": v["output_gap_non"] - 0.1,
        "rot-12 common - rare (not claimed)": v["output_gap_rare"],
        "rot-12 common - non-words (not claimed)": v["output_gap_rare_non"],
        "0.5 - wrong sentences more probable": 0.5 - v["sentence_more_probable"],
    }


def report() -> None:
    """The two gaps at the last step per width and seed, from the record."""
    setup = embers.Setup()
    grid = embers.grid_gaps(embers.read_record(), setup)
    for w in sorted({w for w, _ in grid}):
        runs = sorted((s, g) for (ww, s), g in grid.items() if ww == w)
        n = runs[0][1]["n_params"]
        task = " ".join(f"s{s} {g['task'][-1]:.2f}" for s, g in runs)
        out = " ".join(f"s{s} {g['output'][-1]:.2f}" for s, g in runs)
        print(f"width {w:3d} ({n:6,d} weights): task gap {task}; output gap {out}")
        for s, g in runs:
            curve = " ".join(f"{t:.2f}" for t in g["task"])
            print(f"    seed {s} task gap over steps {g['steps'][1]}..: {curve}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        report()
        return
    setup = embers.Setup()
    if args.steps:
        setup = replace(setup, steps=args.steps)
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        result = embers.run(setup, seed=seed)
        v = embers.summary_values(result)
        if args.record and not args.steps:
            from compgen.embers import scaling

            scaling.add_to_record(scaling.run_entry(result, time.process_time() - cpu))
        print(
            f"seed {seed} ({time.perf_counter() - start:.0f} s wall, "
            f"{time.process_time() - cpu:.0f} s CPU)"
        )
        # the scaling claims read the whole grid: --report, and the chapter
        claims = [c for c in embers.CLAIMS if all(u in v for u in c.uses)]
        for r in evaluate_claims(claims, v):
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        for name, m in margins(v).items():
            print(f"  margin  {name}: {m:.3g}")
        print(
            "  prediction 3: wrong sentences more probable "
            f"{v['sentence_more_probable']:.2f}"
            f" (of {v['n_wrong']}), wrong words {v['word_more_probable']:.2f}"
            f" (of {v['n_wrong_words']}), real words {v['word_real']:.2f};"
            f" peaks {v['peak_sentence_more_probable']:.2f} /"
            f" {v['peak_word_more_probable']:.2f}"
        )
        for k in setup.shifts:
            for s in setup.sets:
                curve = " ".join(
                    f"{ev['acc'][(k, s)]:.2f}"
                    for _, ev in sorted(result["evals"].items())
                )
                print(f"  rot-{k} {s:>9}: {curve}")
        print(f"  by shift: {[round(result['by_shift'][k], 2) for k in range(1, 26)]}")
        print(flush=True)


if __name__ == "__main__":
    main()
