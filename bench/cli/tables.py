"""``bench tables SPEC.yaml...``: render comparison tables (Markdown, LaTeX, CSV) from a table spec."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tables", help="render comparison tables from table specs (results/tables/*.yaml)",
                              description=__doc__)
    p.add_argument("specs", nargs="+", help="table spec YAML files")
    p.add_argument("--out", help="output folder (default: <results>/tables/generated)")
    p.add_argument("--results", help="results folder with runs/ and published/ (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--print", action="store_true", help="also print the Markdown table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.tables import render

    for spec in args.specs:
        paths = render(spec, out=args.out, results=Path(args.results) if args.results else None)
        print(f"{spec}: " + ", ".join(str(p) for p in paths.values()))
        if args.print:
            print(paths["md"].read_text())
    return 0
