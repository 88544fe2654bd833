"""Time every chapter at smoke and at book parameters, side by side like the book.

    .venv/bin/python benchmarks/chapters.py            # both tiers
    .venv/bin/python benchmarks/chapters.py --tier smoke
    .venv/bin/python benchmarks/chapters.py --tier book --only fer --claims
    .venv/bin/python benchmarks/chapters.py --jobs 1   # one chapter at a time
    .venv/bin/python benchmarks/chapters.py --last-build   # _build/timings.json

Prints one row per chapter: wall seconds of a papermill run (kernel start
included), and per tier the sum of the chapters' seconds, the wall time of the
whole tier and their ratio (wall / sum: 1 when run one by one, about 1/jobs
when the cores stay busy). Chapters run `--jobs` at a time (default: one per
core, as `python -m compgen.book build` does), longest first, each kernel with
its share of the cores as torch threads. On a machine shared with other work
the seconds are inflated; say so when quoting them.
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
    EXPECTED_SECONDS,
    book_jobs,
    chapter_claims,
    chapter_notebooks,
    execute_chapters,
    read_timings,
    repo_root,
    slowest_chapters,
)
from compgen.claims import evaluate_claims  # noqa: E402

TIERS = {"smoke": {"SMOKE": True}, "book": {}}


def last_build(root: Path) -> int:
    timings = read_timings(root)
    if not timings:
        print(f"no {root / '_build' / 'timings.json'}: build the book first")
        return 1
    print(f"{'chapter':<28}{'book s':>10}")
    for name, seconds in slowest_chapters(timings, k=len(timings["chapters"])):
        print(f"{name:<28}{seconds:>10.1f}")
    machine = timings.get("machine", {})
    print(
        f"sum {timings['chapters_sum_s']:.1f} s, build wall {timings['wall_s']:.1f} s "
        f"(chapters executed in {timings['execute_wall_s']:.1f} s), wall / sum "
        f"{timings['ratio_wall_to_sum']}; {timings['jobs']} at a time on "
        f"{machine.get('cores')} cores, {machine.get('torch_threads_per_chapter')} "
        "torch thread(s) each"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=[*TIERS, "both"], default="both")
    parser.add_argument("--only", nargs="*", help="chapter names (notebook stems)")
    parser.add_argument("--jobs", type=int, default=None, help="chapters at once")
    parser.add_argument(
        "--claims",
        action="store_true",
        help="after a book-tier run, check the chapters' claims on it",
    )
    parser.add_argument(
        "--last-build", action="store_true", help="print _build/timings.json"
    )
    args = parser.parse_args()
    root = repo_root(Path(__file__).parent)
    if args.last_build:
        return last_build(root)
    tiers = list(TIERS) if args.tier == "both" else [args.tier]
    notebooks = [
        p for p in chapter_notebooks(root) if not args.only or p.stem in args.only
    ]
    jobs = args.jobs or book_jobs()
    names = {p: p.relative_to(root).with_suffix("").as_posix() for p in notebooks}
    before = read_timings(root).get("chapters", {})
    expected = {
        p: before.get(names[p], {}).get("seconds") or EXPECTED_SECONDS.get(names[p], 0)
        for p in notebooks
    }
    seconds: dict[str, dict[Path, float]] = {}
    summary, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, COMPGEN_CHECKPOINTS=tmp, COMPGEN_PROGRESS="0")
        for tier in tiers:
            outputs = {p: Path(tmp) / f"{tier}-{p.name}" for p in notebooks}
            start = time.perf_counter()
            runs = execute_chapters(
                notebooks, jobs=jobs, parameters=TIERS[tier], outputs=outputs,
                env=env, expected=expected, timeout=600,
            )  # fmt: skip
            wall = time.perf_counter() - start
            pairs = list(zip(notebooks, runs, strict=True))
            seconds[tier] = {p: r["seconds"] for p, r in pairs}
            total = sum(seconds[tier].values())
            summary.append(
                f"{tier}: sum of chapters {total:.1f} s, wall {wall:.1f} s, "
                f"wall / sum {wall / total if total else float('nan'):.2f} "
                f"({min(jobs, len(notebooks))} at a time, "
                f"{runs[0]['threads'] if runs else '-'} torch thread(s) each)"
            )
            for p, r in pairs:
                if r["error"]:
                    failed += 1
                    print(f"{names[p]} FAILED at {tier}:\n{r['error'][-3000:]}")
                elif args.claims and tier == "book":
                    checks = evaluate_claims(
                        chapter_claims(p), read_glued(outputs[p])
                    )
                    for c in checks:
                        mark = "holds " if c["holds"] else "FAILS "
                        print(f"  {p.stem}: {mark}{c['name']}: {c['detail']}")
    print(f"{'chapter':<28}" + "".join(f"{t + ' s':>10}" for t in tiers))
    for p in notebooks:
        row = "".join(f"{seconds[t][p]:>10.1f}" for t in tiers)
        print(f"{names[p]:<28}{row}")
    for line in summary:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
