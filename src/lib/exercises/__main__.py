"""python -m compgen.exercises list | assign IDS -o FILE | grade MANIFEST SUBS"""

from __future__ import annotations

import argparse
import sys

from . import instructor


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
    args = parser.parse_args(argv)
    try:
        if args.cmd == "list":
            print(instructor.table())
        elif args.cmd == "assign":
            path = instructor.assign(args.ids, args.output, title=args.title)
            print(f"wrote {path} and {path.with_suffix('.json')} (keep the .json)")
        else:
            rows = instructor.grade(
                args.manifest, args.submissions, args.output, time_limit=args.time_limit
            )
            print(f"graded {len(rows)} notebooks into {args.output}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
