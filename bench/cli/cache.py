"""``bench cache info | prune``: disk use of the caches and their cleanup."""

from __future__ import annotations

import argparse
import time


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def _info(args: argparse.Namespace) -> int:
    from bench import settings
    from bench.models.cache import cache_info

    rows = cache_info()
    print(f"cache root: {settings.cache_dir()}")
    if not rows:
        print("(empty)")
        return 0
    print(f"{'kind':<18}{'files':>8}{'size':>12}  {'oldest':<17} {'newest':<17} what")
    for r in rows:
        print(f"{r['kind']:<18}{r['files']:>8}{_size(r['bytes']):>12}  {_when(r['oldest']):<17} "
              f"{_when(r['newest']):<17} {r['what']}")
    print(f"{'total':<18}{sum(r['files'] for r in rows):>8}{_size(sum(r['bytes'] for r in rows)):>12}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from bench.models.cache import prune

    n, size = prune(older_than_days=args.older_than, everything=args.all, kinds=args.kind, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {n} files ({_size(size)})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="disk caches (text answers, text embeddings, teacher features): info, prune")
    csub = p.add_subparsers(dest="cache_command", metavar="CACHE_COMMAND")
    i = csub.add_parser("info", help="disk use per kind")
    i.set_defaults(func=_info)
    pr = csub.add_parser("prune", help="remove entries not used for DAYS days, or everything")
    pr.add_argument("--older-than", type=float, metavar="DAYS", help="remove entries last used more than DAYS ago")
    pr.add_argument("--all", action="store_true", help="remove every entry")
    pr.add_argument("--kind", action="append", help="only this kind (text, text_embeddings, teacher); repeatable")
    pr.add_argument("--dry-run", action="store_true", help="count only")
    pr.set_defaults(func=_prune)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
