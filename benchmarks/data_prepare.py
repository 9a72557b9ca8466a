"""Time and memory of ``bench data prepare``: wall time per part and peak RSS.

Usage: ``python benchmarks/data_prepare.py [--size small] [--home DIR]``. Builds into a fresh
temporary ``BENCH_HOME`` (unless ``--home`` is given) so that every part is really built, then
prints one line per part and the peak resident memory of the process (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--home", default=None, help="BENCH_HOME to build into (default: a new temporary one)")
    args = parser.parse_args(argv)
    os.environ["BENCH_HOME"] = args.home or tempfile.mkdtemp(prefix="vlbench-prepare-")
    from bench.data.synthetic.prepare import prepare

    print(f"BENCH_HOME={os.environ['BENCH_HOME']} size={args.size}")
    t0 = time.time()
    prepare(args.size, report=lambda r: print(f"{r.part:<13} {r.status:<9} {r.seconds:7.1f}s", flush=True))
    wall = time.time() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total wall {wall:.1f}s, peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
