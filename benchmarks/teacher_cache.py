"""What the frozen-teacher cache saves on a real grid: ``bench run`` on 4 vlc cells, cache off, then on.

Usage: ``python benchmarks/teacher_cache.py [--teacher-arch ViT-B-16] [--teacher-weights random]
[--epochs 1] [--dataset syn_ucf] [--size tiny] [--keep DIR]``

vlc distils its video encoder from a frozen CLIP image encoder (L_image, section 3.2 of the
paper). Every cell of a vlc ablation that keeps the teacher, the data and the seed asks that
teacher the same question for the same clips, so only the first cell needs to pay for it.

The script writes one 4-cell grid (vlc on the synthetic world, the L_image weight alpha in
{1, 3, 10, 30}; the teacher is ``--teacher-arch`` with ``--teacher-weights``), and runs it twice
through ``bench run --wait`` with the local executor: once with ``model.teacher_cache: false``,
once with ``true``. Each run gets its own results store, work directories and cache root
(``BENCH_RESULTS``, ``BENCH_WORK_DIR``, ``BENCH_CACHE``), so both start cold; the synthetic
data (``BENCH_HOME``) is prepared before the clock starts. It prints the wall time of each run,
the ratio, each cell's own wall time (from its record) and top-1, and the cache's disk use.
The local jobs run detached from ``bench run`` (submitit), so their CPU time is not measured here;
on a shared machine compare the per-cell times of the cells after the first.

The default teacher is CLIP ViT-B/16 at its native 224x224, the size class of the teachers the
paper uses (its own is ViT-L/14), with random weights when none are given: the cost of a
forward pass does not depend on the weights. The synthetic world's tiny CLIP is so cheap that
caching it saves little; ``--teacher-arch vlbench-tiny-vit --teacher-weights synthetic:tiny-clip``
measures that case. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ALPHAS = [1.0, 3.0, 10.0, 30.0]


def grid_doc(args: argparse.Namespace, cached: bool) -> dict:
    overrides = {
        "model.clip.clip_arch": args.teacher_arch,
        "model.clip.clip_weights": args.teacher_weights,
        "model.teacher_cache": cached,
        "train_cfg.max_epochs": args.epochs,
    }
    return {
        "name": f"teacher_cache_{'on' if cached else 'off'}",
        "description": "vlc, 4 cells sharing one frozen CLIP teacher (L_image weight alpha)",
        "base": {"method": "vlc", "protocol": "supervised", "protocol_args": {"views": "1x1"}, "seed": 0},
        "profiles": {"default": {"size": args.size, "dataset": args.dataset, "executor": "local",
                                 "launcher": {"profile": "local"}, "overrides": overrides}},
        "grid": {"model.alpha": ALPHAS},
    }


def run_grid(grid: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--grid", str(grid), "--wait"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench run --grid {grid} failed with exit code {proc.returncode}")
    return wall


def records(results: Path) -> list[dict]:
    from bench.store import Store

    recs = Store(results).records()
    return sorted(recs, key=lambda r: r["spec"]["overrides"].get("model.alpha", 0.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher-arch", default="ViT-B-16")
    ap.add_argument("--teacher-weights", default="random", help="random, synthetic:tiny-clip, a tag or a local file")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--dataset", default="syn_ucf")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--keep", type=Path, help="keep the grids, stores and caches here (default: a removed temp dir)")
    args = ap.parse_args()

    from bench.data.catalog import get_dataset
    from bench.models.cache import cache_info

    os.environ["BENCH_SYNTH_SIZE"] = args.size
    get_dataset(args.dataset)  # prepare the synthetic data before any clock starts
    root = args.keep or Path(tempfile.mkdtemp(prefix="teacher_cache_bench_"))
    walls, stores = {}, {}
    for cached in (False, True):
        mode = "on" if cached else "off"
        d = root / mode
        d.mkdir(parents=True, exist_ok=True)
        grid = d / f"teacher_cache_{mode}.yaml"
        grid.write_text(yaml.safe_dump(grid_doc(args, cached), sort_keys=False))
        env = {**os.environ, "BENCH_RESULTS": str(d / "results"), "BENCH_WORK_DIR": str(d / "work"),
               "BENCH_CACHE": str(d / "cache")}
        walls[mode] = run_grid(grid, env)
        stores[mode] = records(d / "results")
        if len(stores[mode]) != len(ALPHAS):
            raise SystemExit(f"cache {mode}: expected {len(ALPHAS)} records, found {len(stores[mode])}")
        print(f"cache {mode}: 4 cells in {walls[mode]:.1f} s", flush=True)

    print(f"\nvlc on {args.dataset} ({args.size}), {args.epochs} epoch(s) per cell, teacher {args.teacher_arch} "
          f"({args.teacher_weights}), local executor, one cell at a time")
    print(f"{'alpha':>6} {'off: wall s':>12} {'on: wall s':>11} {'off: top1':>10} {'on: top1':>9}")
    for off, on in zip(stores["off"], stores["on"], strict=True):
        alpha = off["spec"]["overrides"]["model.alpha"]
        print(f"{alpha:>6g} {off['times']['wall_s']:>12.1f} {on['times']['wall_s']:>11.1f} "
              f"{off['metrics'].get('top1', float('nan')):>10.2f} {on['metrics'].get('top1', float('nan')):>9.2f}")
    same = all(a["metrics"] == b["metrics"] for a, b in zip(stores["off"], stores["on"], strict=True))
    disk = {k["kind"]: k["bytes"] for k in cache_info(root / "on" / "cache")}
    print(f"grid wall time: {walls['off']:.1f} s without the teacher cache, {walls['on']:.1f} s with it: "
          f"ratio {walls['on'] / walls['off']:.2f} (target <= 0.50)")
    print(f"metrics identical with and without the cache: {same}")
    print(f"cache disk use: {json.dumps(disk)}")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
