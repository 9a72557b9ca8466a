"""``bench data``: build the synthetic benchmark and list datasets.

``bench data prepare [--size tiny|small|medium] [--only PART ...] [--no-verify] [--jobs N]`` builds every
synthetic dataset, the tiny CLIP and the tiny video backbone (or verifies them by checksum when
already built) and prints where each went and how long it took. ``bench data ls`` lists the
registered datasets with where their data comes from, the split lists present and the videos
missing, and, for synthetic ones, what is built. ``bench data import <dataset> --root DIR
[--annotations DIR] [--layout L] [--out DIR] [--skip-missing] [--print]`` reads a dataset's
official annotation files and writes MMAction2 lists plus its user-config entry
(``bench.data.importers``).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="build the synthetic benchmark, list datasets")
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    prep = sub.add_parser("prepare", help="build (or verify) the synthetic benchmark of one size")
    prep.add_argument("--size", default=None, help="tiny, small or medium (default: $BENCH_SYNTH_SIZE or small)")
    prep.add_argument("--only", nargs="+", default=None, metavar="PART", help="build only these parts")
    prep.add_argument("--no-verify", action="store_true", help="do not re-hash files of parts already built")
    prep.add_argument("--jobs", type=int, default=1, metavar="N",
                      help="processes (default 1); with 2 the tiny CLIP trains in a second process beside the "
                           "other parts, with the same bytes (on a 2-vCPU VM it measured no faster: docs/DECISIONS.md)")
    prep.set_defaults(func=_prepare)
    ls = sub.add_parser("ls", help="list registered datasets")
    ls.add_argument("--size", default=None, help="synthetic size whose build status to show")
    ls.add_argument("--no-check", action="store_true", help="do not count missing videos (faster)")
    ls.set_defaults(func=_ls)
    imp = sub.add_parser("import", help="read a dataset's official annotation files, write MMAction2 lists")
    imp.add_argument("dataset", help="ucf101, hmdb51, k400, k600, k700, k710, ssv2, ava, activitynet or charades")
    imp.add_argument("--root", default=None, help="the folder the videos are under (any depth); k710: the folder "
                     "its list paths are relative to (default: the deepest folder above the k400/k600/k700 roots)")
    imp.add_argument("--annotations", default=None, help="folder of the official annotation files (default: --root)")
    imp.add_argument("--layout", default=None, help="activitynet: untrimmed (default, whole videos), segments "
                     "(cut each training segment into <out>/clips) or clips (already cut, <id>_<k>); other "
                     "datasets find their layout from the files")
    imp.add_argument("--out", default=None, help="where to write the lists (default: lists/<dataset> next to the "
                     "user config)")
    imp.add_argument("--skip-missing", action="store_true", help="drop videos listed but missing (counted in "
                     "the lists' headers) instead of refusing")
    imp.add_argument("--print", dest="print_only", action="store_true",
                     help="print the dataset's config entry instead of writing it into the user config")
    imp.set_defaults(func=_import)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _prepare(args: argparse.Namespace) -> int:
    import time

    from bench.data.synthetic import prepare as prep
    from bench.data.synthetic.sizes import get_size
    from bench.errors import ConfigError

    cfg = get_size(args.size)
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: accepted values are 1 or more")
    parts = tuple(args.only) if args.only else prep.PARTS
    unknown = [p for p in parts if p not in prep.PARTS]
    if unknown:
        raise ConfigError(f"unknown part(s) {unknown} for --only; known parts: {', '.join(prep.PARTS)}")
    print(f"synthetic benchmark, size {cfg.name} (seed {cfg.seed}, {cfg.resolution}x{cfg.resolution}, "
          f"{cfg.num_frames} frames)")
    t0 = time.time()
    prep.prepare(cfg.name, parts, verify=not args.no_verify, jobs=args.jobs,
                 report=lambda r: print(f"  {r.part:<13} {r.status:<9} {r.seconds:7.1f}s  {r.path}", flush=True))
    print(f"done in {time.time() - t0:.1f}s")
    return 0


def dataset_status(name: str, size: str, built: dict, check: bool = True) -> dict:
    """Where a dataset comes from, its split lists (present / absent) and how many listed videos are missing."""
    from pathlib import Path

    from bench.data.catalog import NOT_SPLITS, list_rows
    from bench.data.synthetic import SYNTHETIC_DATASETS
    from bench.settings import dataset_entry
    from protocols.lists import SHIPPED, SPLITS_DIR

    if name in SYNTHETIC_DATASETS:
        return {"where": f"synthetic ({size}: {'built' if built.get(name) else 'generated on first use'})",
                "lists": [], "absent": [], "missing": None, "shipped": []}
    entry = dataset_entry(name)
    shipped = sorted(n for d, n in SHIPPED if d == name and (SPLITS_DIR / SHIPPED[(d, n)]).exists())
    if not entry.get("root"):
        return {"where": "not configured", "lists": [], "absent": [], "missing": None, "shipped": shipped}
    root = Path(entry["root"]).expanduser()
    where = f"{root} (from {entry['_source']})" + ("" if root.is_dir() else " [root is not a directory]")
    present, absent, missing = [], [], 0
    for key, value in entry.items():
        if key in NOT_SPLITS or not isinstance(value, str):
            continue
        path = Path(value).expanduser()
        path = path if path.is_absolute() else root / path
        if path.is_dir():  # AVA's frame / video folders are not lists
            continue
        if not path.is_file():
            absent.append(key)
            continue
        present.append(key)
        if check and path.suffix in (".txt", ".csv") and name != "ava":
            missing += sum(1 for _, rel, _ in list_rows(path) if not (root / rel).exists())
    return {"where": where, "lists": present, "absent": absent, "missing": missing if check else None,
            "shipped": shipped}


def status_line(status: dict) -> str:
    """One column: configured or not and from where; split lists; videos missing."""
    parts = [status["where"]]
    if status["lists"]:
        parts.append(f"lists: {', '.join(sorted(status['lists']))}")
    if status["absent"]:
        parts.append(f"lists not found: {', '.join(sorted(status['absent']))}")
    if status["shipped"] and not status["lists"]:
        parts.append(f"shipped splits: {len(status['shipped'])}")
    if status["missing"] is not None:
        parts.append(f"videos missing: {status['missing']}")
    return "; ".join(parts)


def _ls(args: argparse.Namespace) -> int:
    from bench.data.synthetic.prepare import status
    from bench.data.synthetic.sizes import get_size
    from bench.registry import DATASETS

    size = get_size(args.size).name
    built = status(size)
    for name in DATASETS.names():
        print(f"{name:<14} {status_line(dataset_status(name, size, built, check=not args.no_check))}")
    for part in ("tiny_clip", "tiny_video"):
        print(f"{part:<14} synthetic ({size}: {'built' if built[part] else 'built on first use'})")
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench import settings
    from bench.data import importers

    res = importers.run_import(args.dataset, Path(args.root) if args.root else None,
                               Path(args.annotations) if args.annotations else None,
                               Path(args.out) if args.out else None, layout=args.layout,
                               skip_missing=args.skip_missing)
    print(f"{res.dataset}: videos under {res.root}")
    for split in sorted(res.lists):
        drop = f", {res.dropped[split]} missing dropped" if res.dropped.get(split) else ""
        print(f"  {split:<14} {res.counts[split]:>7} videos{drop}  {res.lists[split]}")
    n_missing = len({k for v in res.missing.values() for k in v})
    if res.lists:
        print(f"  missing: {n_missing} (listed but not under the root: {res.out_dir / 'missing.txt'})")
        print(f"  unlisted: {len(res.unlisted)} (under the root but in no list: {res.out_dir / 'unlisted.txt'})")
    if args.print_only:
        print(importers.entry_yaml(res.dataset, res.entry), end="")
    else:
        path = importers.write_entry(res.dataset, res.entry, settings.config_file())
        print(f"wrote datasets.{res.dataset} into {path}")
    return 0
