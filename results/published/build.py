"""Build ``alt.csv``, ``bike.csv``, ``ftp.csv`` and ``vlc.csv`` from the transcribed paper tables.

Usage: ``python results/published/build.py [--out DIR]`` (default: this folder). The CSVs are
committed; rerun this after editing a transcription (``_alt.py`` ...) and check the diff.
tests/results/test_published.py rebuilds into a temporary folder and compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep results/ free of __pycache__

import _alt  # noqa: E402
import _bike  # noqa: E402
import _ftp  # noqa: E402
import _vlc  # noqa: E402

PAPERS = {"alt": _alt, "bike": _bike, "ftp": _ftp, "vlc": _vlc}


def main(argv: list[str] | None = None) -> int:
    """Write one CSV per paper into ``--out``; print the row counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the CSVs (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for paper, module in PAPERS.items():
        rows = module.build()
        rows.write(args.out / f"{paper}.csv")
        print(f"{paper}.csv: {len(rows.rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
