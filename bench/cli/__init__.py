"""The ``bench`` command line.

Each area contributes its subcommands from its own module (``bench/cli/<area>.py``), which
exposes ``register(subparsers)``; a subcommand sets ``func`` to a callable taking the parsed
arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import bench.identity  # noqa: F401 - registers how a RunSpec resolves (bench.spec)
from bench.errors import BenchError

# Areas whose modules add subcommands; each is optional while the project grows.
AREAS = ("run", "status", "ls", "validate", "flops", "tables", "plot", "data", "text", "cache", "weights",
         "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in AREAS:
        try:
            mod = importlib.import_module(f"bench.cli.{area}")
        except ModuleNotFoundError as e:
            if e.name == f"bench.cli.{area}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Our packages log at INFO; third-party libraries (open_clip logs every model build on the
    # root logger) only at WARNING, unless -v.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    for name in ("bench", "protocols", "methods"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
