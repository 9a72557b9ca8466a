"""Wall and CPU time of the ftp flagship grid (Table 7, 16 cells) with stage 1 shared against per cell.

Usage: ``python benchmarks/ftp_stage1_sharing.py [--grid ablations/ftp_prompts.yaml] [--parallel 2]
[--world small|tiny]``.
Runs the grid's default profile twice on the local executor, each time in fresh results, work,
artefact and cache directories (cold caches both times, so neither mode inherits the other's
encoder features or VLM answers): ``model.stage1.mode=shared`` (4 producers, then 16 consumers) and
``per_cell`` (16 cells, each training its own processors). CPU time is that of the job processes
(``RUSAGE_CHILDREN``, user + system: every local job process, reaped before it is read, with whatever those
processes waited for), and separately that of this process (the launcher: planning, artefact keys,
submission, following); wall time from submission to the last record. Prints both and their ratios.
The synthetic world is the one ``$BENCH_HOME`` holds, at ``--world`` (default: the configured size,
``$BENCH_SYNTH_SIZE``, the flagship's small world unless set).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_mode(grid_path: Path, mode: str, parallel: int, base: Path) -> dict:
    from bench import follow, launch, profiles
    from bench import grid as grid_mod

    d = base / mode
    for name, sub in (("BENCH_RESULTS", "results"), ("BENCH_WORK_DIR", "work"), ("BENCH_ARTEFACTS", "artefacts"),
                      ("BENCH_CACHE", "cache")):
        os.environ[name] = str(d / sub)
    grid = grid_mod.load(grid_path, profile="default")
    specs = [dataclasses.replace(s, overrides={**s.overrides, "model.stage1.mode": mode}) for s in grid.specs]
    prof = profiles.load_profile(grid.launcher.get("profile", "local"),
                                 {**{k: v for k, v in grid.launcher.items() if k != "profile"},
                                  "array_parallelism": parallel})
    cpu0, self0, t0 = _children_cpu(), _self_cpu(), time.time()
    launched = launch.submit(specs, "local", prof, d / "submitit" / "%j", d / "results", grid=grid.name)
    states = follow.wait(list(launched), progress=False, run_ids=launched.run_ids, store_root=d / "results")
    wall = time.time() - t0
    for job in list(launched) + list((launched.producers.jobs if launched.producers else {}).values()):
        job.wait()  # reap every job process, so that its CPU time is counted
    cpu = _children_cpu() - cpu0
    launcher = _self_cpu() - self0
    producers = len(launched.producers.jobs) if launched.producers else 0
    return {"mode": mode, "wall_s": wall, "cpu_s": cpu, "launcher_cpu_s": launcher, "cells": len(specs),
            "done": states.count("done"), "producers": producers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default=str(REPO / "ablations" / "ftp_prompts.yaml"))
    parser.add_argument("--parallel", type=int, default=2, help="local processes at a time (the grid's default)")
    parser.add_argument("--keep", default=None, help="directory for the two runs (default: a temporary one)")
    parser.add_argument("--world", default=None, help="synthetic world size (sets BENCH_SYNTH_SIZE)")
    parser.add_argument("--modes", default="shared,per_cell", help="comma-separated modes to run, in order")
    args = parser.parse_args(argv)
    if args.world:
        os.environ["BENCH_SYNTH_SIZE"] = args.world
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    base = Path(args.keep or tempfile.mkdtemp(prefix="vlbench-ftp-stage1-"))
    from bench.data.synthetic.sizes import default_size

    print(f"grid {args.grid}, world {default_size()}, {args.parallel} local "
          f"process(es) at a time, runs under {base}", flush=True)
    rows = []
    for mode in args.modes.split(","):
        r = run_mode(Path(args.grid), mode, args.parallel, base)
        rows.append(r)
        print(f"stage1={r['mode']:<8} producers={r['producers']:<2} cells done={r['done']}/{r['cells']}  "
              f"wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.1f} s (jobs)  {r['launcher_cpu_s']:6.1f} s (launcher)",
              flush=True)
    by = {r["mode"]: r for r in rows}
    if {"shared", "per_cell"} <= set(by):
        shared, per_cell = by["shared"], by["per_cell"]
        total = {m: r["cpu_s"] + r["launcher_cpu_s"] for m, r in by.items()}
        print(f"shared / per_cell: wall {shared['wall_s'] / per_cell['wall_s']:.2f}x, "
              f"cpu {shared['cpu_s'] / per_cell['cpu_s']:.2f}x (jobs; target: <= 0.60x), "
              f"{total['shared'] / total['per_cell']:.2f}x (jobs + launcher)")
    return 0 if all(r["done"] == r["cells"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
