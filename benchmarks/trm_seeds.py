"""The TRM chapter's claims at book parameters, for several seeds.

    .venv/bin/python benchmarks/trm_seeds.py 0 1 2
    .venv/bin/python benchmarks/trm_seeds.py 0 1 2 --set n=2 steps=800
    .venv/bin/python benchmarks/trm_seeds.py 0 1 2 --save src/lib/trm/book_runs
    .venv/bin/python benchmarks/trm_seeds.py 0 1 2 3 4 --record seeds.json

Trains the chapter's variants (TRM, 1-step gradient, two-pass, single pass; the
no-EMA network is the TRM run read without its average) with the notebook's
settings and each seed, and prints every variant's exact-solve, the claims and
their margins. One thread, no checkpoints reused (a fresh temporary folder).
--save DIR also saves seed 0's runs there, as `python -m compgen.trm ablation`
does (the chapter evaluates the ones in src/lib/trm/book_runs). TRM, no EMA and
the 1-step gradient are also scored on harder held-out puzzles (trm.hard_test:
500 with 9 givens, never trained on). --record FILE writes every seed's values,
as in the chapter's src/lib/trm/book_runs/seeds.json (the ranges it quotes).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import trm  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402
from compgen.trm.cli import BOOK_TIER as BOOK  # noqa: E402  the parameters cell


def main(
    seeds: list[int], changes: dict, save: str | None = None, record=None
) -> None:
    os.environ["COMPGEN_CHECKPOINTS"] = tempfile.mkdtemp(prefix="trm-seeds-")
    margins, per_seed = [], {}
    for seed in seeds:
        start = time.perf_counter()
        cfg = trm.override(trm.PRESETS["cpu"], {**BOOK, **changes, "seed": seed})
        results = trm.run_ablation(cfg, seed=seed, threads=1)
        if save and seed == 0:
            settings = "".join(f" --set {k}={v}" for k, v in changes.items())
            trm.save_ablation(
                results, save, command=f"python -m compgen.trm ablation{settings}",
                seconds=round(time.perf_counter() - start, 1),
            )  # fmt: skip
        values = trm.summary(results)
        values["exact_trm_first_step"] = results["TRM"]["metrics"]["exact@1"]
        values.update(trm.hard_test(results, cfg))
        per_seed[seed] = values
        took = time.perf_counter() - start
        print(f"seed {seed} ({took:.0f} s)")
        for name in trm.SHOWN:
            m = results[name]["metrics"]
            key = name.lower().replace(" ", "_").replace("-", "_")
            hard = values.get("hard_exact_" + key)
            hard = f"  {trm.HARD_GIVENS} givens {hard:.3f}" if hard is not None else ""
            print(f"  {name:>16}: exact {m['exact']:.3f}  cell {m['cell']:.3f}{hard}")
        claims = [c for c in trm.CLAIMS if not c.name.startswith("a_wider")]
        for r in evaluate_claims(claims, values):
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        margins.append(
            {
                "vs single": values["exact_trm"] - values["exact_single_pass"],
                "vs two-pass": values["exact_trm"] - values["exact_two_pass"],
                "vs no EMA": values["exact_trm"] - values["exact_no_ema"],
                "vs 1-step": values["exact_trm"] - values["exact_1_step_gradient"],
                "vs 1-step, 9 givens": values["hard_exact_trm"]
                - values["hard_exact_1_step_gradient"],
                "vs no EMA, 9 givens": values["hard_exact_trm"]
                - values["hard_exact_no_ema"],
            }
        )
    print("margins over seeds (smallest to largest):")
    for key in margins[0]:
        low, high = min(m[key] for m in margins), max(m[key] for m in margins)
        print(f"  TRM {key}: {low:+.3f} to {high:+.3f}")
    if record:
        settings = "".join(f" --set {k}={v}" for k, v in changes.items())
        seeds_text = " ".join(str(s) for s in seeds)
        with open(record, "w") as f:
            json.dump({"command": f"benchmarks/trm_seeds.py {seeds_text}{settings}",
                       "seeds": per_seed}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    from compgen.trm.cli import parse_settings

    args = sys.argv[1:]
    save = record = None
    if "--save" in args:
        i = args.index("--save")
        save, args = args[i + 1], args[:i] + args[i + 2 :]
    if "--record" in args:
        i = args.index("--record")
        record, args = args[i + 1], args[:i] + args[i + 2 :]
    cut = args.index("--set") if "--set" in args else len(args)
    seeds = [int(s) for s in args[:cut]] or [0, 1, 2]
    main(seeds, parse_settings(args[cut + 1 :]), save, record)
