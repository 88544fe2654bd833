"""python -m compgen.exercises list | assign IDS -o FILE | grade MANIFEST SUBS"""

from __future__ import annotations

import argparse
import sys

from . import instructor
from .sandbox import Limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compgen.exercises",
        description="List, assign and grade the book's exercises.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="a table of every exercise")
    a = sub.add_parser("assign", help="build a student notebook from exercise ids")
    a.add_argument("ids", nargs="+", help="exercise ids, e.g. how_to_use.ex1")
    a.add_argument("-o", "--output", required=True, help="the notebook to write")
    a.add_argument("--title", default="Assignment")
    g = sub.add_parser("grade", help="grade returned notebooks into a CSV gradebook")
    g.add_argument("manifest", help="the .json that `assign` wrote beside the notebook")
    g.add_argument("submissions", nargs="+", help="notebooks, or folders of them")
    g.add_argument("-o", "--output", default="gradebook.csv")
    g.add_argument(
        "--time-limit",
        type=float,
        default=300,
        help="seconds per notebook (default 300)",
    )
    d = Limits()
    g.add_argument(
        "--max-processes",
        type=int,
        default=d.processes,
        help=f"processes and threads one notebook may run at once ({d.processes})",
    )
    g.add_argument(
        "--max-memory-mb",
        type=int,
        default=d.memory_mb,
        help=f"memory (address space) of each of its processes ({d.memory_mb})",
    )
    g.add_argument(
        "--max-file-mb",
        type=int,
        default=d.file_mb,
        help=f"the largest file it may write ({d.file_mb})",
    )
    g.add_argument(
        "--max-disk-mb",
        type=int,
        default=d.disk_mb,
        help=f"its private writable folder ({d.disk_mb})",
    )
    g.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="notebooks graded at once, each in its own sandbox (default 1)",
    )
    g.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run notebooks with your own rights even where a sandbox is available",
    )
    args = parser.parse_args(argv)
    try:
        if args.cmd == "list":
            print(instructor.table())
        elif args.cmd == "assign":
            path = instructor.assign(args.ids, args.output, title=args.title)
            print(f"wrote {path} and {path.with_suffix('.json')} (keep the .json)")
        else:
            limits = Limits(
                processes=args.max_processes,
                memory_mb=args.max_memory_mb,
                file_mb=args.max_file_mb,
                disk_mb=args.max_disk_mb,
                cpu_s=args.time_limit + 60,
            )
            rows = instructor.grade(
                args.manifest,
                args.submissions,
                args.output,
                time_limit=args.time_limit,
                limits=limits,
                use_sandbox=not args.no_sandbox,
                jobs=args.jobs,
                announce=lambda text: print(text, file=sys.stderr, flush=True),
            )
            print(f"graded {len(rows)} notebooks into {args.output}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
