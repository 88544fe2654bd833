"""The subgraph_matching chapter's claims at book parameters, for several seeds.

    .venv/bin/python benchmarks/subgraph_matching_seeds.py 0 1 2

Each seed evaluates the committed training runs of that seed (see
`python -m compgen.subgraph_matching --help`; a seed without one is trained
first, 10-20 minutes on one thread) and the committed scale grid (see
`python -m compgen.subgraph_matching grid --help`; points missing are
trained). Prints the glued values the claims read, whether each holds, and
the other numbers the prose quotes.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

import torch  # noqa: E402

from compgen import subgraph_matching as sm  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402

QUOTED = (
    "id_acc_scratchpad", "acc_scratchpad_3x2", "id_acc_direct", "ood_max_scratchpad",
    "ood_max_direct", "acc_scratchpad_4x1", "acc_scratchpad_3x3", "eps", "eps_r2",
    "product_gap", "acc_seen", "acc_unseen", "n_unseen", "acc_seen_id",
    "acc_unseen_id", "n_unseen_id", "exact_all_seen", "exact_some_unseen",
    "ood_share_shape", "ood_beyond_trained", "ood_propagation_share",
    "direct_wrong_length_share", "id_acc_live", "live_seconds",
    # the scale grid (widths at one step count, steps at the chapter's width)
    "scale_id_small", "scale_id_big", "scale_id_short", "scale_id_long",
    "scale_ood_max_all", "scale_ood_all", "scale_live_retrace_gap",
)


def main(seeds: list[int]) -> None:
    torch.set_num_threads(1)
    for seed in seeds:
        start = time.perf_counter()
        values = sm.summary_values(sm.run(sm.Experiment(), seed=seed))
        print(f"seed {seed} ({time.perf_counter() - start:.0f} s)")
        for r in evaluate_claims(sm.CLAIMS, values):
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        print("  " + ", ".join(f"{k} {values.get(k, float('nan')):.3g}"
                               for k in QUOTED), flush=True)
        grid = {k: round(v, 3) for k, v in values.items()
                if k.startswith(("scale_id_w", "scale_ood_max_w"))}
        print(f"  grid: {grid}", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2])
