"""``bench ls methods|protocols|datasets|grids``: what is registered."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.registry import DATASETS, METHODS, PROTOCOLS
from protocols.base import Protocol

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
            print(f"{name:16s} v{cls.version}  {_summary(cls)}  parameters: {dict(cls.defaults)}")
    elif args.what == "datasets":
        from bench.cli.data import dataset_status, status_line
        from bench.data.synthetic.prepare import status
        from bench.data.synthetic.sizes import get_size

        size = get_size(None).name
        built = status(size)
        for name in DATASETS.names():
            print(f"{name:14s} {status_line(dataset_status(name, size, built, check=False))}")
    else:
        for path in sorted((REPO / "ablations").glob("*.yaml")):
            print(path.relative_to(REPO))
    return 0


def _summary(cls) -> str:
    """The first line of the protocol class's docstring, else of its module's."""
    import sys

    doc = cls.__doc__ if cls.__doc__ and cls.__doc__ != Protocol.__doc__ else sys.modules[cls.__module__].__doc__
    return (doc or "").strip().splitlines()[0] if doc else ""
