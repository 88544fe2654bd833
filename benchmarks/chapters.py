"""Time every chapter at smoke and at book parameters, one at a time.

    .venv/bin/python benchmarks/chapters.py            # both tiers
    .venv/bin/python benchmarks/chapters.py --tier smoke
    .venv/bin/python benchmarks/chapters.py --tier book --only fer --claims

Prints one row per chapter: wall seconds of a papermill run (kernel start
included). Run nothing else meanwhile: two torch processes on 2 cores slow each
other down many times over.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from compgen import read_glued  # noqa: E402
from compgen.book import (  # noqa: E402
    chapter_claims,
    chapter_notebooks,
    execute_notebook,
    repo_root,
)
from compgen.claims import evaluate_claims  # noqa: E402

TIERS = {"smoke": {"SMOKE": True}, "book": {}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=[*TIERS, "both"], default="both")
    parser.add_argument("--only", nargs="*", help="chapter names (notebook stems)")
    parser.add_argument(
        "--claims",
        action="store_true",
        help="after a book-tier run, check the chapter's claims on it",
    )
    args = parser.parse_args()
    tiers = list(TIERS) if args.tier == "both" else [args.tier]
    root = repo_root(Path(__file__).parent)
    print(f"{'chapter':<24}" + "".join(f"{t + ' s':>10}" for t in tiers))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPGEN_CHECKPOINTS"] = tmp  # never resume an old run
        for notebook in chapter_notebooks(root):
            if args.only and notebook.stem not in args.only:
                continue
            row = f"{notebook.stem:<24}"
            checks = []
            for tier in tiers:
                out = Path(tmp) / f"{tier}-{notebook.name}"
                start = time.perf_counter()
                execute_notebook(notebook, out, parameters=TIERS[tier])
                row += f"{time.perf_counter() - start:>10.1f}"
                if args.claims and tier == "book":
                    checks = evaluate_claims(chapter_claims(notebook), read_glued(out))
            print(row, flush=True)
            for r in checks:
                mark = "holds " if r["holds"] else "FAILS "
                print(f"    {mark}{r['name']}: {r['detail']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
