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


ABLATIONS = Path(__file__).resolve().parents[2] / "ablations"


def grid_labels(spec_path: str) -> dict[str, list[dict]] | None:
    """Run id -> ``{"grid", "case"}`` of every cell of the grids a spec selects (``measured.where.grid``).

    A cell shared by two grids has one record, labelled by the grid that ran it first, so a spec that selects
    ``grid: B`` would miss B's shared cell and show it as not measured. ``bench run --grid`` passes its own
    grid's labels; here every profile of each named grid file (``ablations/<grid>.yaml``) is expanded.
    """
    import bench.identity  # noqa: F401 - registers the run-id resolvers
    from bench import grid as grid_mod
    from bench.cli.grid_run import add_labels
    from bench.errors import BenchError
    from bench.table_struct import _as_list
    from bench.tables import load_spec

    where = ((load_spec(spec_path).get("measured") or {}).get("where") or {}).get("grid")
    names = [w for w in _as_list(where) if isinstance(w, str)]
    labels: dict[str, list[dict]] = {}
    for name in names:
        path = ABLATIONS / f"{name}.yaml"
        if not path.is_file():
            continue
        for profile in (grid_mod.read_grid(path).get("profiles") or {}):
            try:
                add_labels(labels, grid_mod.load(path, profile=profile))
            except BenchError:
                continue  # a profile this machine cannot expand (its datasets or weights are not configured)
    # records of cells in no grid file keep their own labels
    return labels or None


def run(args: argparse.Namespace) -> int:
    from bench.tables import render

    for spec in args.specs:
        paths = render(spec, out=args.out, results=Path(args.results) if args.results else None,
                       labels=grid_labels(spec))
        print(f"{spec}: " + ", ".join(str(p) for p in paths.values()))
        if args.print:
            print(paths["md"].read_text())
    return 0
