"""``bench compare RUN_A RUN_B``: the paired difference B - A of two records tested on the same videos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="paired difference (B - A) of two runs on the same test set, with its "
                                              "95%% CI and McNemar's p", description=__doc__)
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--results", help="results folder (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.paired import compare_runs
    from bench.store import Store
    from bench.table_render import format_diff

    store = Store(Path(args.results) if args.results else None)
    a, b = store.read(args.run_a), store.read(args.run_b)
    out = compare_runs(store.root, a, b)  # refuses (DataError, exit 2) when the test sets differ
    if args.json:
        print(json.dumps({"a": args.run_a, "b": args.run_b, "metrics": out}, indent=1))
        return 0
    n = (a.get("predictions") or {}).get("num_videos")
    print(f"B - A over the same {n} test videos (A = {args.run_a}, B = {args.run_b}); 95% paired bootstrap CI, "
          f"* = CI excludes 0")
    for metric, d in out.items():
        va, vb = a["metrics"][metric], b["metrics"][metric]
        line = f"  {metric:15s} A {va:6.2f}  B {vb:6.2f}  B-A {format_diff(d, '.2f')}"
        if "mcnemar" in d:
            mc = d["mcnemar"]
            line += f"  McNemar exact p={mc['p']:.3g} (only A right: {mc['only_a']}, only B right: {mc['only_b']})"
        print(line)
    return 0
