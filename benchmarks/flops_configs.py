"""``bench flops`` on every shipped real-size config: wall time, CPU time and peak memory of each, GFLOPs, the slowest.

Usage: ``python benchmarks/flops_configs.py [--only SUBSTRING ...] [--skip SUBSTRING ...] [--threads N]
[--timeout S] [--out FILE.json]``

Every size of every registered method (its ``configs/`` and metafile sizes) except ``tiny`` runs as
``bench flops <method> --size <size> --random-init --json`` in its own process (imports, random-init
build and the count; nothing is read or downloaded), so the method's teacher modules are left out of
the parameters as a record leaves them out. A real-size config file that no method size names is
counted from its file. Target: at most 60 s each on a 2-core machine. The CPU time (user + system of
that child alone, from ``os.wait4``) is printed next to the wall time: on a machine shared with other
work the wall time measures the load, the CPU time the command.

A count that ends without a record is never a silent row: a child killed by a signal is reported with
the signal's name and its peak resident memory (an out-of-memory kill is a SIGKILL), one that runs past
``--timeout`` as timed out, one that exits without a JSON record with its return code and last error
line. The script exits 1 when any count failed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def targets() -> list[tuple[str, list[str]]]:
    """(label, ``bench flops`` arguments) for every real-size method size and every unnamed real-size config file."""
    sys.path.insert(0, str(REPO))
    import methods  # noqa: F401 - registers the methods
    from bench.registry import METHODS

    out, named = [], set()
    for name in METHODS.names():
        info = METHODS.get(name)
        for size, file in info.sizes.items():
            named.add((info.config_dir / file).resolve())
            if size != "tiny":
                out.append((f"{name} {size} ({file})", [name, "--size", size]))
    for cfg in sorted((REPO / "methods").glob("*/configs/*.py")):
        if "tiny" not in cfg.name and cfg.resolve() not in named:
            out.append((f"config file ({cfg.name}), no method size", [str(cfg.relative_to(REPO))]))
    return out


def parse_record(stdout: str) -> dict | None:
    """The ``flops`` record in a ``bench flops --json`` output: the last JSON object holding ``gflops_per_view``
    that opens a line (logs may print dicts before it, a warning line may follow it)."""
    decoder = json.JSONDecoder()
    text = "\n" + stdout
    pos = len(text)
    while (pos := text.rfind("\n{", 0, pos)) >= 0:
        try:
            rec, _ = decoder.raw_decode(text, pos + 1)
        except ValueError:
            continue
        if isinstance(rec, dict) and "gflops_per_view" in rec:
            return rec
    return None


def failure(rc: int | None, stdout: str, stderr: str, maxrss_gb: float, timeout: float | None) -> str:
    """Why a count gave no record, in words."""
    if rc is None:
        return f"timed out after {timeout:.0f} s (killed; peak RSS {maxrss_gb:.1f} GB)"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        hint = " (an out-of-memory kill sends SIGKILL)" if -rc == signal.SIGKILL else ""
        return f"killed by {name}{hint}; peak RSS {maxrss_gb:.1f} GB"
    lines = (stderr + "\n" + stdout).strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error") or "Error" in ln]
    last = (errors or lines or ["(no output)"])[-1]
    return f"exit status {rc} without a JSON record: {last}"


def run_one(cmd: list[str], env: dict[str, str], timeout: float | None = None) -> dict:
    """Run one count: its wall time, CPU time (user + system of this child alone) and peak RSS from
    ``os.wait4``, and its record, or why there is none (``error``)."""
    killed = threading.Event()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True)
        timer = threading.Timer(timeout, lambda: (killed.set(), proc.kill())) if timeout else None
        if timer:
            timer.start()
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    row = {"wall_s": wall, "cpu_s": rusage.ru_utime + rusage.ru_stime, "maxrss_gb": rusage.ru_maxrss / 1e6,
           "rc": None if killed.is_set() else proc.returncode}  # ru_maxrss is in kilobytes on Linux
    rec = None if killed.is_set() else parse_record(stdout)
    if rec is not None:
        row.update(gflops_per_view=rec["gflops_per_view"], params_m=rec.get("params_m"),
                   class_text_gflops=rec.get("class_text_gflops"), uncounted=rec.get("uncounted_ops", {}))
    else:
        row["error"] = failure(row["rc"], stdout, stderr, row["maxrss_gb"], timeout)
    if "shape-only trace" in stderr and "tracing with real arithmetic" in stderr:
        row["fallback"] = True  # traced again with real arithmetic: the slow path
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="targets whose label contains one of these")
    ap.add_argument("--skip", nargs="*", default=[], help="targets whose label contains one of these are skipped")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each count")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds of wall time before a count is killed")
    ap.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    bench = [sys.executable, "-m", "bench.cli", "flops"]
    rows = []
    for label, target in targets():
        if (args.only and not any(s in label for s in args.only)) or any(s in label for s in args.skip):
            continue
        row = {"target": label, **run_one([*bench, *target, "--random-init", "--json"], env, args.timeout)}
        rows.append(row)
        fig = (f"{row['gflops_per_view']:10.3f} GFLOPs/view  {row['params_m']:7.2f} M params"
               if "gflops_per_view" in row else f"FAILED: {row['error']}")
        print(f"{label:58s} wall {row['wall_s']:6.1f} s  cpu {row['cpu_s']:6.1f} s  "
              f"rss {row['maxrss_gb']:4.1f} GB  {fig}"
              + ("  (fell back to real arithmetic)" if row.get("fallback") else "")
              + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    if rows:
        slow = max(rows, key=lambda r: r["wall_s"])
        slow_cpu = max(rows, key=lambda r: r["cpu_s"])
        print(f"slowest: {slow['target']} {slow['wall_s']:.1f} s wall; most CPU: {slow_cpu['target']} "
              f"{slow_cpu['cpu_s']:.1f} s (target {TARGET_S:.0f} s)")
        over = [r["target"] for r in rows if r["cpu_s"] > TARGET_S]
        print(f"over {TARGET_S:.0f} s of CPU: {', '.join(over) or 'none'}; over {TARGET_S:.0f} s of wall: "
              f"{sum(r['wall_s'] > TARGET_S for r in rows)} of {len(rows)}")
        failed = [r for r in rows if "error" in r]
        if failed:
            print(f"FAILED: {len(failed)} of {len(rows)} counts gave no record", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.exit(1 if any("error" in r for r in main()) else 0)
