"""Time and memory of ``bench data import`` on a Kinetics-sized annotation set.

Usage: ``python benchmarks/data_import.py [--videos 20000] [--layout class-folders|flat]``. Writes
official-format CSVs (``train.csv``, ``validate.csv``) for N videos over the 400 K400 classes and
N empty video files in the chosen layout into a temporary folder (the import only indexes file
names, it never decodes), then imports twice and prints the wall time of each import, the rows per
second, the peak resident memory (``ru_maxrss``) and whether the two imports wrote identical lists.
K400 has 240,436 + 19,796 videos; times scale about linearly with N.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path


def build(dest: Path, n: int, layout: str) -> tuple[Path, Path]:
    from bench.data.importers import read_classes

    classes = read_classes("k400")
    ann, root = dest / "annotations", dest / "videos"
    ann.mkdir(parents=True)
    rows = {"train": [], "val": []}
    for i in range(n):
        split = "val" if i % 12 == 0 else "train"
        yt = hashlib.sha256(str(i).encode()).hexdigest()[:11]
        label = classes[i % len(classes)]
        rows[split].append([label, yt, 10, 20, split, 0])
        stem = f"{yt}_000010_000020.mp4"
        rel = f"videos_{split}/{label.replace(' ', '_')}/{stem}" if layout == "class-folders" else f"vol_00/{stem}"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    for split, name in (("train", "train.csv"), ("val", "validate.csv")):
        with open(ann / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
            w.writerows(rows[split])
    return root, ann


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20000)
    parser.add_argument("--layout", default="class-folders", choices=("class-folders", "flat"))
    args = parser.parse_args(argv)
    from bench.data.importers import run_import

    with tempfile.TemporaryDirectory(prefix="vlbench-import-") as tmp:
        root, ann = build(Path(tmp), args.videos, args.layout)
        digests, times = [], []
        for run in (1, 2):
            t0 = time.time()
            res = run_import("k400", root, ann, Path(tmp) / "lists")
            times.append(time.time() - t0)
            digests.append({s: hashlib.sha256(p.read_bytes()).hexdigest() for s, p in res.lists.items()})
            print(f"import {run}: {sum(res.counts.values())} videos ({res.counts}) in {times[-1]:.2f}s, "
                  f"{sum(res.counts.values()) / times[-1]:.0f} videos/s", flush=True)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"layout {args.layout}; peak RSS {peak_mb:.0f} MB; identical lists: {digests[0] == digests[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
