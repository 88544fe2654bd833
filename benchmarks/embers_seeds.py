"""The embers chapter's claims at book parameters, for several seeds.

    .venv/bin/python benchmarks/embers_seeds.py 0 1 2
    .venv/bin/python benchmarks/embers_seeds.py 0 --steps 1500

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    setup = embers.Setup()
    if args.steps:
        setup = replace(setup, steps=args.steps)
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        result = embers.run(setup, seed=seed)
        v = embers.summary_values(result)
        print(
            f"seed {seed} ({time.perf_counter() - start:.0f} s wall, "
            f"{time.process_time() - cpu:.0f} s CPU)"
        )
        for r in evaluate_claims(embers.CLAIMS, v):
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
