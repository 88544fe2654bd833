"""The scan chapter's models over seeds: train each from scratch, score it on the
full test set, and add it to the training record the chapter quotes.

    .venv/bin/python benchmarks/scan_seeds.py 0 1 2
    .venv/bin/python benchmarks/scan_seeds.py --only meta/addprim_jump 1 2
    .venv/bin/python benchmarks/scan_seeds.py --widths 16 32 96 -- 0 1 2
    .venv/bin/python benchmarks/scan_seeds.py --report

`--widths` trains the add-jump baseline's width grid instead (seed 0's weights
saved at widths 16 and 32, the rest record only); `--report` trains nothing.

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


def widths_report() -> dict:
    """Add-jump per width over the recorded seeds; the scaling claim's terms."""
    from compgen.scan import scaling as S

    stats = S.width_stats()
    for w, st in stats.items():
        print(
            f"width {w:3d} ({st['n_weights']:7,d} weights) seeds {st['seeds']}: "
            f"add-jump {' '.join(f'{a:.4f}' for a in st['acc'])} "
            f"(max {st['max']:.4f}); train {st['train']}"
        )
    small, large = min(stats), max(stats)
    ratio = stats[large]["n_weights"] / stats[small]["n_weights"]
    worst = max(st["max"] for st in stats.values())
    print(f"{len(stats)} widths, {ratio:.1f}x the weights, max add-jump {worst:.4f}")
    meta = X.read_record().get("meta/addprim_jump/0", {})
    g = {
        "scale_addjump_max": worst,
        "scale_weight_ratio": ratio,
        "scale_n_widths": len(stats),
        "meta_addprim_jump": meta.get("test_accuracy", 0.0),
        **{f"scale_n_seeds_w{w}": len(st["acc"]) for w, st in stats.items()},
    }
    for claim in X.CLAIMS:
        if claim.name == "scale_leaves_add_jump" and all(u in g for u in claim.uses):
            print(f"{'holds' if claim.check(g) else 'FAILS'}  {claim.name} (record)")
    return stats


def train_widths(widths: list[int], seeds: list[int]) -> None:
    from compgen.scan import scaling as S

    for w in widths:
        for seed in seeds:
            args = ["train", "--kind", "baseline", "--width", str(w)]
            keep = seed == 0 and w in S.COMMITTED
            cli(args + ["--seed", str(seed)] + ([] if keep else ["--record-only"]))


def main(argv: list[str]) -> None:
    only = None
    if argv[:1] == ["--report"]:
        widths_report()
        argv = ["--none"]
    if argv[:1] == ["--widths"]:
        cut = argv.index("--") if "--" in argv else len(argv)
        widths, seeds = [int(w) for w in argv[1:cut]], argv[cut + 1 :]
        train_widths(widths, [int(s) for s in seeds] or list(X.SEEDS))
        widths_report()
        return
    if argv[:1] == ["--only"]:
        only, argv = argv[1], argv[2:]
    seeds = [int(s) for s in argv if s != "--none"]
    seeds = [] if argv == ["--none"] else seeds or list(X.SEEDS)
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
