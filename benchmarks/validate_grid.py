"""Time of ``bench validate`` on a 100-cell grid over Kinetics-400-size lists (issue 15: target <= 10 s).

Usage: ``python benchmarks/validate_grid.py [--cells 100] [--train 240000] [--val 20000] [--keep DIR]``.

Builds, in a temporary directory, a K400-like dataset root: the 400 Kinetics-400 classes of
``protocols/labels/kinetics400.csv``, a training list of ``--train`` lines and a validation list of
``--val`` lines, and one (empty) video file per line, since validation checks that every listed
video exists. Configures it as ``k400`` in a user config of its own (``BENCH_CONFIG``) and
writes a grid of ``--cells`` cells (10 learning rates x seeds) of the tiny baseline on ``k400``.
Then times, in this process:

- ``grid.load`` (structure, table/plot checks),
- ``bench.job.validate_cells`` (every cell: method config and overrides, protocol parameters, each
  annotation list checked once per grid, weights and list hashes, run id),

and prints the figures, plus a check that nothing was written into ``work_dirs``. The tiny CLIP
weights come from ``BENCH_HOME`` (built there on first use). Building the files is not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_dataset(root: Path, n_train: int, n_val: int) -> None:
    classes = (REPO / "protocols" / "labels" / "kinetics400.csv").read_text().splitlines()[1:]
    for name, n in (("train", n_train), ("val", n_val)):
        lines = []
        for i in range(n):
            label = i % len(classes)
            rel = f"{name}/c{label:03d}/{name}_{i:06d}.mp4"
            lines.append(f"{rel} {label}\n")
        for label in range(len(classes)):
            (root / name / f"c{label:03d}").mkdir(parents=True, exist_ok=True)
        for line in lines:
            (root / line.split()[0]).touch()
        (root / f"{name}.txt").write_text("".join(lines))


def write_grid(path: Path, cells: int) -> None:
    lrs = [round(1e-4 * (i + 1), 6) for i in range(10)]
    seeds = list(range(max(1, cells // len(lrs))))
    path.write_text(
        "name: k400_validate_bench\n"
        "base: {method: clip_meanpool, protocol: supervised}\n"
        "profiles:\n  default: {size: tiny, dataset: k400, executor: local, launcher: {profile: local}}\n"
        f"grid: {{optim_wrapper.optimizer.lr: {lrs}}}\n"
        f"seeds: {seeds}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--train", type=int, default=240_000)
    parser.add_argument("--val", type=int, default=20_000)
    parser.add_argument("--keep", help="build the dataset here (and keep it) instead of a temporary directory")
    args = parser.parse_args(argv)
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="vlbench-validate-"))
    root = tmp / "k400"
    t0 = time.time()
    if not (root / "val.txt").exists():
        build_dataset(root, args.train, args.val)
    print(f"dataset: {args.train} + {args.val} list lines under {root} (built in {time.time() - t0:.1f} s, not timed)")
    os.environ.pop("BENCH_DATA_K400", None)
    os.environ["BENCH_WORK_DIR"] = str(tmp / "work_dirs")
    os.environ["BENCH_RESULTS"] = str(tmp / "results")
    os.environ["BENCH_CONFIG"] = str(tmp / "config.yaml")
    entry = f"{{root: {root}, train: train.txt, val: val.txt}}"
    Path(os.environ["BENCH_CONFIG"]).write_text(f"datasets:\n  k400: {entry}\n")
    grid_file = tmp / "k400_validate_bench.yaml"
    write_grid(grid_file, args.cells)
    sys.path.insert(0, str(REPO))
    t_import = time.time()
    from bench import grid
    from bench.models.clip import resolve_weights

    resolve_weights("synthetic:tiny-clip")  # built on first use; not part of validation
    import mmaction.models  # noqa: F401  (imported by the first cell anyway; timed apart)

    import protocols  # noqa: F401
    from bench import job

    print(f"imports and weights ready in {time.time() - t_import:.1f} s (not timed)")
    t1 = time.time()
    g = grid.load(grid_file)
    t2 = time.time()
    job.validate_cells(g.specs, what=f"grid {grid_file}")
    t3 = time.time()
    ids = {s.run_id for s in g.specs}
    t4 = time.time()
    wrote = (tmp / "work_dirs").exists() and any((tmp / "work_dirs").iterdir())
    print(f"cells: {len(g.specs)} ({len(ids)} run ids)")
    print(f"load: {t2 - t1:.2f} s   validate: {t3 - t2:.2f} s   run ids afterwards: {t4 - t3:.3f} s")
    print(f"total validation time: {t3 - t1:.2f} s (target <= 10 s)")
    print(f"work_dirs written during validation: {'yes' if wrote else 'no'}")
    return 0 if not wrote else 1


if __name__ == "__main__":
    sys.exit(main())
