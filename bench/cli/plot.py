"""``bench plot pareto|axis|classes``: accuracy-vs-GFLOPs Pareto fronts, one-axis ablations, per-class differences."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plot", help="plot Pareto fronts, ablation axes and per-class differences",
                              description=__doc__)
    sub = p.add_subparsers(dest="plot_kind", metavar="KIND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", help="output folder (default: <results>/figures)")
    common.add_argument("--results", help="results folder (default: $BENCH_RESULTS or ./results)")
    pareto = sub.add_parser("pareto", parents=[common], help="accuracy vs GFLOPs with the Pareto front")
    pareto.add_argument("spec", help="a table spec YAML (results/tables/*.yaml)")
    pareto.add_argument("--per-view", action="store_true", help="GFLOPs of one view instead of per view x views")
    pareto.set_defaults(func=_pareto)
    axis = sub.add_parser("axis", parents=[common], help="a metric against the axis an ablation varies (plot.x)")
    axis.add_argument("spec", help="a table spec YAML with a plot.x section")
    axis.set_defaults(func=_axis)
    classes = sub.add_parser("classes", parents=[common], help="per-class accuracy difference of two runs (B - A)")
    classes.add_argument("run_a")
    classes.add_argument("run_b")
    classes.add_argument("--top", type=int, default=10, help="label this many largest gains and losses")
    classes.set_defaults(func=_classes)


def _results(args: argparse.Namespace) -> Path | None:
    return Path(args.results) if args.results else None


def _pareto(args: argparse.Namespace) -> int:
    from bench.plots import plot_pareto

    res = plot_pareto(args.spec, per_view=args.per_view, out=args.out, results=_results(args))
    for p in res["figures"] + [res["front_csv"]]:
        print(p)
    print(f"Pareto front: {', '.join(p.label for p in res['front'])}")
    if res["left_out"]:
        print(f"left out (no GFLOPs or value): {', '.join(p.label for p in res['left_out'])}")
    return 0


def _axis(args: argparse.Namespace) -> int:
    from bench.plots import plot_axis

    for p in plot_axis(args.spec, out=args.out, results=_results(args)):
        print(p)
    return 0


def _classes(args: argparse.Namespace) -> int:
    from bench.plots import plot_classes

    for p in plot_classes(args.run_a, args.run_b, out=args.out, results=_results(args), top=args.top):
        print(p)
    return 0
