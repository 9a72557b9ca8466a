"""``bench flops`` on every shipped real-size config: wall and CPU time of each, GFLOPs, the slowest.

Usage: ``python benchmarks/flops_configs.py [--only SUBSTRING ...] [--skip SUBSTRING ...] [--threads N]``

Each config runs as ``bench flops <config> --random-init --json`` in its own process (imports,
random-init build and the count; nothing is read or downloaded). Target: at most 60 s each on a
2-core machine. The CPU time (user + system of the child) is printed next to the wall time: on a
machine shared with other work the wall time measures the load, the CPU time the command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def real_size_configs() -> list[Path]:
    return sorted(p for p in (REPO / "methods").glob("*/configs/*.py") if "tiny" not in p.name)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="configs whose file name contains one of these")
    ap.add_argument("--skip", nargs="*", default=[], help="configs whose file name contains one of these are skipped")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each count")
    args = ap.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    bench = [sys.executable, "-m", "bench.cli"]
    rows = []
    for cfg in real_size_configs():
        if (args.only and not any(s in cfg.name for s in args.only)) or any(s in cfg.name for s in args.skip):
            continue
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run([*bench, "flops", str(cfg.relative_to(REPO)), "--random-init", "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        row = {"config": cfg.name, "wall_s": wall, "cpu_s": cpu, "rc": out.returncode}
        try:  # the record is the last block that opens a line with "{" (logs may print dicts before it)
            text = "\n" + out.stdout
            rec = json.loads(text[text.rindex("\n{") + 1:])
            row.update(gflops_per_view=rec["gflops_per_view"], uncounted=rec["uncounted_ops"])
        except (ValueError, KeyError):
            lines = (out.stderr + out.stdout).strip().splitlines()
            errors = [ln for ln in lines if ln.startswith("error") or "Error" in ln]
            row["error"] = (errors or lines or ["(no output)"])[-1]
        rows.append(row)
        print(f"{cfg.name:42s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  "
              + (f"{row['gflops_per_view']:9.1f} GFLOPs/view" if "gflops_per_view" in row
                 else f"ERROR rc={out.returncode} {row['error']}")
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    if rows:
        slow = max(rows, key=lambda r: r["wall_s"])
        slow_cpu = max(rows, key=lambda r: r["cpu_s"])
        print(f"slowest: {slow['config']} {slow['wall_s']:.1f} s wall; most CPU: {slow_cpu['config']} "
              f"{slow_cpu['cpu_s']:.1f} s (target 60 s)")
    return rows


if __name__ == "__main__":
    main()
