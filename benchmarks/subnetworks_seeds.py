"""The subnetworks chapter's claims at book parameters, for several base seeds.

    .venv/bin/python benchmarks/subnetworks_seeds.py 0 10 20
    .venv/bin/python benchmarks/subnetworks_seeds.py 0 --no-widths \
        --n-tasks 96 --pretrain-steps 1600

Each base seed s runs the chapter's experiment: seeds s .. s + 9 per condition
(scratch, broadly pretrained, random init; each condition one stacked model) and
the width axis on seeds s .. s + 2. Prints the glued values the claims read and
whether each holds, the pretraining comparison (difference in spread and in mean
selectivity, pretrained minus scratch, with 95% bootstrap intervals) and
selectivity and cross-damage per width. Options vary the pretraining (to test the
paper's finding beyond the chapter's setting) and the number of seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import subnetworks as sn  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 10, 20])
    parser.add_argument("--n-seeds", type=int, default=sn.Experiment.n_seeds)
    parser.add_argument("--n-tasks", type=int, default=sn.TaskFamily.n_tasks)
    parser.add_argument(
        "--pretrain-steps", type=int, default=sn.Experiment.pretrain_steps
    )
    parser.add_argument(
        "--within-fields",
        action="store_true",
        help="pretraining tasks each read one field only (tests why mixing helps)",
    )
    parser.add_argument("--no-widths", action="store_true", help="skip the width axis")
    parser.add_argument(
        "--widths", type=int, nargs="+", default=list(sn.Experiment.widths)
    )
    args = parser.parse_args()
    exp = dataclasses.replace(
        sn.Experiment(),
        n_seeds=args.n_seeds,
        pretrain_steps=args.pretrain_steps,
        family=sn.TaskFamily(n_tasks=args.n_tasks, within_fields=args.within_fields),
        widths=tuple(args.widths),
    )
    print(exp)
    pooled = []
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        results = sn.run_experiment(exp, seed=seed)
        pooled += results
        values = sn.summary_values(sn.summarise(results))
        values |= sn.pretraining_values(results)
        if not args.no_widths:
            by_width = sn.run_widths(exp, seed=seed, reuse=results)
            values |= sn.width_values(by_width, exp.task)
        claims = [c for c in sn.CLAIMS if all(k in values for k in c.uses)]
        print(
            f"base seed {seed}: seeds {seed}-{seed + exp.n_seeds - 1} "
            f"({time.perf_counter() - start:.0f} s, {time.process_time() - cpu:.0f} "
            "CPU s)"
        )
        for r in evaluate_claims(claims, values):
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        v = values
        print(
            f"  selectivity mean: scratch {v['selectivity_scratch']:.3f}, pretrained "
            f"{v['selectivity_pretrained']:.3f}, random {v['selectivity_random']:.3f}"
        )
        print(
            f"  spread: scratch {v['selectivity_std_scratch']:.3f}, pretrained "
            f"{v['selectivity_std_pretrained']:.3f}; difference "
            f"{v['spread_diff']:+.3f} [{v['spread_diff_low']:+.3f}, "
            f"{v['spread_diff_high']:+.3f}]; mean difference {v['mean_diff']:+.3f} "
            f"[{v['mean_diff_low']:+.3f}, {v['mean_diff_high']:+.3f}]"
        )
        print(
            f"  cross-damage: scratch {v['cross_damage_scratch']:.3f}, pretrained "
            f"{v['cross_damage_pretrained']:.3f}; kept: scratch "
            f"{v['kept_scratch']:.3f}, pretrained {v['kept_pretrained']:.3f}"
        )
        if not args.no_widths:
            for w in exp.widths:
                print(
                    f"  width {w:>4} ({v[f'weights_w{w}']:>6,} weights): selectivity "
                    f"{v[f'selectivity_w{w}']:.3f} "
                    f"[{v[f'selectivity_min_w{w}']:.3f}, "
                    f"{v[f'selectivity_max_w{w}']:.3f}], cross-damage "
                    f"{v[f'cross_damage_w{w}']:.3f}, kept {v[f'kept_w{w}']:.3f}, "
                    f"full {v[f'full_w{w}']:.3f}"
                )
        print(flush=True)
    if len(args.seeds) > 1:  # the seed sets together (disjoint if 10 apart)
        p = sn.pretraining_values(pooled)
        n = len({(r["seed"], r["condition"]) for r in pooled}) // len(sn.CONDITIONS)
        print(
            f"pooled, {n} seeds per condition: spread difference "
            f"{p['spread_diff']:+.3f} [{p['spread_diff_low']:+.3f}, "
            f"{p['spread_diff_high']:+.3f}]; mean difference {p['mean_diff']:+.3f} "
            f"[{p['mean_diff_low']:+.3f}, {p['mean_diff_high']:+.3f}]"
        )


if __name__ == "__main__":
    main()
