"""The scan chapter's models over seeds: train each from scratch, score it on the
full test set, and add it to the training record the chapter quotes.

    .venv/bin/python benchmarks/scan_seeds.py 0 1 2
    .venv/bin/python benchmarks/scan_seeds.py --only meta/addprim_jump 1 2

Seed 0's weights are saved (they are the committed reference models); other
seeds go to the record only. Then prints mean and range per model and whether
the chapter's seed claims hold. One torch thread per run; several minutes per
model on one core.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen.scan import experiment as X  # noqa: E402
from compgen.scan.__main__ import main as cli  # noqa: E402

MODELS = [("baseline", s) for s in X.BASELINE_SPLITS] + [
    ("meta", s) for s in X.META_SPLITS
]


def main(argv: list[str]) -> None:
    only = None
    if argv[:1] == ["--only"]:
        only, argv = argv[1], argv[2:]
    seeds = [int(s) for s in argv] or list(X.SEEDS)
    for kind, name in MODELS:
        if only and f"{kind}/{name}" != only:
            continue
        for seed in seeds:
            args = ["train", "--kind", kind, "--split", name, "--seed", str(seed)]
            cli(args + ([] if seed == 0 else ["--record-only"]))
    stats = X.seed_stats()
    for (kind, name), st in stats.items():
        print(
            f"{kind:8s} {name:13s} seeds {st['n']}: mean {st['mean']:.4f} "
            f"range {st['min']:.4f}-{st['max']:.4f}"
        )
    g = {
        f"seeds_{k}_{s}_{m}": st[m]
        for (k, s), st in stats.items()
        for m in ("mean", "min", "max", "n")
    }
    for claim in X.CLAIMS:
        if all(u in g for u in claim.uses):
            print(f"{'holds' if claim.check(g) else 'FAILS'}  {claim.name} (seeds)")


if __name__ == "__main__":
    main(sys.argv[1:])
