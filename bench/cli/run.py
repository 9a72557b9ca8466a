"""``bench run``: one spec (``--method/--protocol/--dataset``) or a whole grid (``--grid``)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.cli.pairs import parse_pairs
from bench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one spec, or submit the cells of a grid")
    p.add_argument("--grid", help="grid YAML (ablations/*.yaml)")
    p.add_argument("--method")
    p.add_argument("--protocol", help="default: supervised (not with --grid)")
    p.add_argument("--dataset")
    p.add_argument("--size", help="default: tiny (not with --grid)")
    p.add_argument("--seed", type=int, help="default: 0; with --grid: every cell's seed (one-seed grids)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a method config field (with --grid: in every cell)")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE",
                   help="protocol parameter (with --grid: in every cell)")
    p.add_argument("--profile", help="grid profile: default (synthetic, tiny, local) or paper")
    p.add_argument("--executor", choices=("debug", "local", "slurm"), help="where the cells run")
    p.add_argument("--launcher", action="append", metavar="FIELD=VALUE", help="override a SLURM profile field")
    p.add_argument("--dry-run", action="store_true", help="list the cells with run ids and record state")
    p.add_argument("--redo", action="store_true",
                   help="rerun cells that already have a record, from scratch (earlier work is moved aside)")
    p.add_argument("--resume", action="store_true",
                   help="reuse finished episodes and checkpoints an earlier run of the same run id left "
                        "(default: a new submission starts fresh; only requeued jobs resume)")
    p.add_argument("--only", help="only cells whose case or run id matches this glob")
    p.add_argument("--wait", action="store_true", help="follow the jobs until they end, then build table/plot")
    p.add_argument("--results", help="results directory (default: $BENCH_RESULTS or ./results)")
    p.add_argument("--keep-scores", action="store_true",
                   help="keep each test video's full score matrix (float16) in results/predictions/<run id>.npz")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if getattr(args, "keep_scores", False):
        import os

        os.environ["BENCH_KEEP_SCORES"] = "1"  # read by the job (bench.settings.keep_scores); jobs inherit it
    if args.grid:
        from bench.cli.grid_run import run_grid

        return run_grid(args)
    if not (args.method and args.dataset):
        raise ConfigError("bench run needs --grid G.yaml, or --method M --dataset D [--protocol P]")
    grid_only = [f"--{k.replace('_', '-')}" for k in ("profile", "executor", "launcher", "only")
                 if getattr(args, k, None)]
    if grid_only:
        raise ConfigError(f"bench run --method {args.method}: {', '.join(grid_only)} only apply to --grid (a single "
                          "run runs here, in this process, and is never submitted); accepted with --method: "
                          "--protocol, --dataset, --size, --seed, --set, --arg, --dry-run, --redo, --resume, "
                          "--results, --keep-scores, or a grid file for SLURM")
    return run_single(args)


def run_single(args: argparse.Namespace) -> int:
    from bench import job
    from bench.spec import RunSpec
    from bench.store import Store

    spec = RunSpec(method=args.method, protocol=args.protocol or "supervised", dataset=args.dataset,
                   size=args.size or "tiny", seed=0 if args.seed is None else args.seed,
                   protocol_args=parse_pairs(args.arg, "--arg"), overrides=parse_pairs(args.set, "--set"))
    store = Store(args.results)
    print(f"run {spec.run_id}: {spec.describe()}")
    if getattr(args, "dry_run", False):
        job.prepare(spec, planning=True)  # the same checks as a real run; trains nothing, writes nothing
        from bench.cli.grid_run import record_state

        print(f"dry run: {record_state(store, spec.run_id)} in {store.runs}; nothing was run")
        return 0
    if args.redo and args.resume:
        raise ConfigError("--redo (start from scratch) and --resume (reuse earlier work) exclude each other")
    if store.has(spec.run_id) and not args.redo:
        print(f"record exists: {store.record_path(spec.run_id)} (use --redo to run again)")
        record = store.read(spec.run_id)
    else:
        job.prepare(spec, planning=True)  # all checks before anything trains; writes nothing
        t0 = time.time()
        from bench import artefacts

        for art in artefacts.consumes(spec):  # producers of shared artefacts run here first (once)
            if not art.done():
                print(f"producing {art.describe()}")
                artefacts.produce(art)
        record = job.run(spec, store_root=store.root, resume=args.resume, redo=args.redo)
        print(f"finished in {time.time() - t0:.1f} s; record: {store.record_path(spec.run_id)}")
    print_metrics(record)
    return 0


def print_metrics(record: dict[str, Any]) -> None:
    shown = {k: v for k, v in record["metrics"].items() if not isinstance(v, dict | list)}
    print(json.dumps(shown, indent=2, sort_keys=True))
    ci = (record.get("stats") or {}).get("ci")
    if ci:  # issue 23: the 95 % bootstrap CIs of the headline metrics
        print("95% bootstrap CI over test videos: " + ", ".join(
            f"{k} [{lo:.1f}, {hi:.1f}]" for k, (lo, hi) in ci.items()))
    flops = record.get("flops") or {}
    if flops:
        print(f"GFLOPs per view: {flops.get('gflops_per_view')}  views: {flops.get('views')}  "
              f"params (M): {flops.get('params_m')}")
