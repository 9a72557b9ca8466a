"""``bench ls methods|protocols|datasets|grids``: what is registered."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.registry import DATASETS, METHODS, PROTOCOLS

REPO = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list registered methods, protocols, datasets or shipped grids")
    p.add_argument("what", choices=("methods", "protocols", "datasets", "grids"))
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.what == "methods":
        for name, info in METHODS.items():
            print(f"{name:16s} sizes: {', '.join(info.sizes)}  protocols: {', '.join(info.protocols)}")
    elif args.what == "protocols":
        for name, cls in PROTOCOLS.items():
            print(f"{name:16s} v{cls.version}  parameters: {dict(cls.defaults)}")
    elif args.what == "datasets":
        for name in DATASETS.names():
            print(name)
    else:
        for path in sorted((REPO / "ablations").glob("*.yaml")):
            print(path.relative_to(REPO))
    return 0
