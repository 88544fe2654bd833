"""Run the binding chapter at book parameters for several seeds; print its claims.

    .venv/bin/python benchmarks/binding_seeds.py --seeds 0 1 2

Each seed is a full papermill run of chapters/binding.ipynb (the same code path
as the book build), so a claim that holds here holds for the chapter, not for
a re-implementation of it. Prints every value a claim reads, whether each claim
holds, and the wall time per seed. Run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from compgen import read_glued  # noqa: E402
from compgen.binding import CLAIMS  # noqa: E402
from compgen.book import execute_notebook, repo_root  # noqa: E402
from compgen.claims import evaluate_claims  # noqa: E402


def main(slug: str = "binding", claims=CLAIMS, doc: str = __doc__) -> int:
    """Run chapters/<slug>.ipynb for each seed and print its `claims` (also used
    by benchmarks/pairs_seeds.py for the how_to_use chapter)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dump", type=Path, help="write every glued value here (JSON)")
    args = parser.parse_args()
    notebook = repo_root(Path(__file__).parent) / "chapters" / f"{slug}.ipynb"
    names = sorted({n for claim in claims for n in claim.uses})
    rows, failures = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPGEN_CHECKPOINTS"] = tmp
        for seed in args.seeds:
            start = time.perf_counter()
            out = execute_notebook(
                notebook, Path(tmp) / f"{slug}-{seed}.ipynb", parameters={"SEED": seed}
            )
            seconds = time.perf_counter() - start
            glued = read_glued(out)
            verdicts = evaluate_claims(claims, glued)
            failures += sum(not r["holds"] for r in verdicts)
            rows.append((seed, seconds, glued, verdicts))
            print(f"seed {seed}: {seconds:.0f} s", flush=True)
            if args.dump:
                dump = {str(s): g for s, _, g, _ in rows}
                args.dump.write_text(json.dumps(dump, indent=1, default=str))
    print(f"\n{'value':<32}" + "".join(f"{'seed ' + str(s):>10}" for s, *_ in rows))
    for name in names:
        print(f"{name:<32}" + "".join(f"{g[name]:>10.3f}" for _, _, g, _ in rows))
    print(f"\n{'claim':<32}" + "".join(f"{'seed ' + str(s):>10}" for s, *_ in rows))
    for i, claim in enumerate(claims):
        marks = ["holds" if v[i]["holds"] else "FAILS" for *_, v in rows]
        cells = "".join(f"{m:>10}" for m in marks)
        print(f"{claim.name:<32}{cells}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
