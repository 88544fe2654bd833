"""The subnetworks chapter's claims at book parameters, for several base seeds.

    .venv/bin/python benchmarks/subnetworks_seeds.py 0 5 10

Prints, per base seed, the glued values the claims read and whether each holds,
plus the pretraining comparison the chapter reports without claiming it.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import subnetworks as sn  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402


def main(seeds: list[int]) -> None:
    for seed in seeds:
        start = time.perf_counter()
        results = sn.run_experiment(sn.Experiment(), seed=seed)
        values = sn.summary_values(sn.summarise(results))
        rows = evaluate_claims(sn.CLAIMS, values)
        print(f"seed {seed} ({time.perf_counter() - start:.0f} s)")
        for r in rows:
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        print(
            f"  pretraining: std {values['selectivity_std_pretrained']:.3f} "
            f"vs scratch {values['selectivity_std_scratch']:.3f}"
        )


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 5, 10])
