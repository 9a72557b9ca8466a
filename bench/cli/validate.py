"""``bench validate G.yaml``: every check ``bench run --grid`` makes before submitting, nothing submitted."""

from __future__ import annotations

import argparse

from bench.cli.grid_run import add_cell_options, load_grid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a grid (all cells) without submitting anything")
    p.add_argument("grid")
    p.add_argument("--profile")
    add_cell_options(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench import job
    from bench.cli.grid_run import describe_setting

    g = load_grid(args, f"bench validate {args.grid}")
    print(describe_setting(g))
    job.validate_cells(g.specs, what=f"grid {args.grid}")
    print(f"all {len(g.specs)} cells are valid")
    return 0
