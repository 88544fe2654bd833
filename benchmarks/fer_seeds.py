"""The fer chapter's claims at book parameters, for several SGD seeds.

    .venv/bin/python benchmarks/fer_seeds.py 0 1 2 3 4

Prints, per seed, the glued values the claims read, whether each holds, and the
margins: how far each value is from the bar its claim sets.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("COMPGEN_PROGRESS", "0")

from compgen import fer  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402


def margins(v: dict) -> dict[str, float]:
    """Distance of each claimed quantity from its bar (positive: claim holds)."""
    return {
        "pixel error: 0.03 - sgd": 0.03 - v["pixel_error_sgd"],
        "asymmetry: sgd / factored (bar 10)": v["asym_ratio"],
        "asymmetry: 0.02 - factored": 0.02 - v["asym_share_factored"],
        "steps: sgd / factored (bar > 1)": v["adapt_speedup"],
        "final error: sgd / factored (bar 3)": v["final_variant_sgd"]
        / max(v["final_variant_factored"], 1e-9),
        "widths: least share / factored (bar 10)": v["scale_share_min"]
        / max(v["asym_share_factored"], 1e-6),
    }


def main(seeds: list[int]) -> None:
    for seed in seeds:
        start = time.perf_counter()
        values = fer.summary_values(fer.run(fer.Experiment(), seed=seed))
        print(f"seed {seed} ({time.perf_counter() - start:.0f} s)")
        for r in evaluate_claims(fer.CLAIMS, values):
            print(f"  {'holds' if r['holds'] else 'FAILS'}  {r['name']}: {r['detail']}")
        for name, m in margins(values).items():
            print(f"  margin  {name}: {m:.3g}")
        print(
            f"  one eye: steps factored {values['steps_one_eye_factored']}, "
            f"sgd {values['steps_one_eye_sgd']}; symmetric sweeps "
            f"{values['symmetric_fraction_factored']:.2f} vs "
            f"{values['symmetric_fraction_sgd']:.2f}",
            flush=True,
        )
        widths = sorted(int(k[len("scale_share_w"):]) for k in values
                        if k.startswith("scale_share_w"))
        print("  widths: " + ", ".join(
            f"{w}: share {values[f'scale_share_w{w}']:.3f}, pixel error "
            f"{values[f'scale_pixel_error_w{w}']:.4f}" for w in widths)
            + "; live retrace gap "
            f"{values.get('scale_live_retrace_gap', float('nan')):.2g}",
            flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2, 3, 4])
