"""Count the places where method configs repeat themselves: runs of >= N lines shared by two places.

Usage: ``python benchmarks/config_duplicates.py [--min 6] [--list]``.

Every ``methods/*/configs/*.py`` and ``methods/_base_/**/*.py`` is read as lines, stripped of
indentation, with blank and comment-only lines left out. Two lines are *identical* when their
text is equal and *same-shape* when they are equal after every string literal becomes ``"S"``
and every number ``N`` (``lr=1e-3`` and ``lr=2e-5`` have one shape). A *pair of places* is a
maximal run of at least ``--min`` consecutive same-shape lines found at two positions (in two
files, or twice in one file). Prints the number of such pairs (``--list`` also prints each pair
with its files, first lines and length).
"""

from __future__ import annotations

import argparse
import io
import re
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])")


def _shape(line: str) -> str:
    """The line with string literals as "S" and numbers as N (tokenized, so '#' in a string is no comment)."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.STRING:
                out.append('"S"')
            elif tok.type == tokenize.NUMBER:
                out.append("N")
            elif tok.type == tokenize.COMMENT:
                continue
            elif tok.string.strip():
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):  # a line of a bracket spanning lines
        text = re.sub(r"(\"[^\"]*\"|'[^']*')", '"S"', line.split("  #")[0])
        return _NUMBER.sub("N", text).replace(" ", "")
    return "".join(out)


def read(path: Path) -> list[tuple[int, str]]:
    """(line number, shape) of the meaningful lines of a config file."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        rows.append((i, _shape(s)))
    return rows


def pairs(files: dict[str, list[tuple[int, str]]], min_run: int) -> list[tuple[str, int, str, int, int]]:
    names = sorted(files)
    found = []
    for ai, a in enumerate(names):
        for b in names[ai:]:
            la, lb = [s for _, s in files[a]], [s for _, s in files[b]]
            prev = [0] * (len(lb) + 1)
            for i in range(1, len(la) + 1):
                cur = [0] * (len(lb) + 1)
                for j in range(1, len(lb) + 1):
                    if a == b and j <= i:  # one file with itself: each pair of positions once, never a line with itself
                        continue
                    if la[i - 1] == lb[j - 1]:
                        cur[j] = prev[j - 1] + 1
                prev_row = prev
                prev = cur
                for j in range(1, len(lb) + 1):  # a run ends at (i-1, j-1) when it does not go on at (i, j)
                    run = prev_row[j - 1]
                    if run >= min_run and cur[j] == 0:
                        found.append((a, files[a][i - 1 - run][0], b, files[b][j - 1 - run][0], run))
            for j in range(1, len(lb) + 1):  # runs that reach the end of a
                if prev[j] >= min_run:
                    run = prev[j]
                    found.append((a, files[a][len(la) - run][0], b, files[b][j - run][0], run))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min", type=int, default=6, help="shortest run of lines that counts (default 6)")
    p.add_argument("--list", action="store_true", help="print every pair")
    args = p.parse_args()
    paths = sorted([*REPO.glob("methods/*/configs/*.py"), *REPO.glob("methods/_base_/**/*.py")])
    files = {str(q.relative_to(REPO)): read(q) for q in paths}
    found = pairs(files, args.min)
    if args.list:
        for a, la, b, lb, n in found:
            print(f"{n:3d} lines  {a}:{la}  ==  {b}:{lb}")
    print(f"{len(found)} pairs of places share a run of >= {args.min} identical or same-shape lines "
          f"({len(paths)} config files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
