"""Count the places where method configs repeat themselves: runs of >= N lines shared by two places.

Usage: ``python benchmarks/config_duplicates.py [--min 6] [--list] [--classify]``.

Every ``methods/*/configs/*.py`` and ``methods/_base_/**/*.py`` is read as lines, stripped of
indentation, with blank and comment-only lines left out. Two lines are *identical* when their
text is equal and *same-shape* when they are equal after every string literal becomes ``"S"``
and every number ``N`` (``lr=1e-3`` and ``lr=2e-5`` have one shape). A *pair of places* is a
maximal run of at least ``--min`` consecutive same-shape lines found at two positions (in two
files, or twice in one file). Prints the number of such pairs (``--list`` also prints each pair
with its files, first lines, length and how many of its lines are textually identical).

``--classify`` also splits the raw count (which it never changes) into two classes:

- *variant headers*: the run starts at the header of two *frame-count variants* (a config whose first line
  is ``_base_ = ["./<sibling>.py"]``, the sibling not a tiny config, and whose second is ``num_frames = ...``,
  e.g. ``alt_vit-b16_16x224.py`` on ``alt_vit-b16_8x224.py``): ``_base_`` and ``num_frames`` state the
  values that differ (``_base_`` is the same text when both variants share a base), and the lines after them
  are the same list-replacement idiom (rebuild the base's pipelines with this clip length, point the loaders at
  them). MMEngine evaluates a base's lists before the child's variables exist and keeps no functions in a
  config, so the idiom cannot move into a base without changing the resolved configs;
- *other*: everything else, shared text or same-shape lines that a base could still hold.
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
    return [(i, _shape(s)) for i, s in _meaningful(path)]


def _meaningful(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank, non-comment lines."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if s and not s.startswith("#"):
            rows.append((i, s))
    return rows


_SIBLING_BASE = re.compile(r'^_base_ = \["\./[\w.-]+\.py"\]$')


def variant_header(texts: dict[int, str], line: int) -> bool:
    """Whether a run starting at `line` starts at a frame-count variant's header: its first line is
    `_base_ = ["./<sibling>.py"]` (not a tiny config) and its second `num_frames = ...`."""
    lines = sorted(texts)
    return (line == lines[0] and len(lines) > 1 and bool(_SIBLING_BASE.match(texts[line]))
            and not texts[line].endswith('_tiny.py"]') and texts[lines[1]].startswith("num_frames ="))


def identical_lines(ta: dict[int, str], tb: dict[int, str], la: int, lb: int, n: int) -> int:
    """How many of the run's n line pairs are textually identical (the rest share only their shape)."""
    a, b = sorted(k for k in ta if k >= la)[:n], sorted(k for k in tb if k >= lb)[:n]
    return sum(ta[x] == tb[y] for x, y in zip(a, b))


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
    p.add_argument("--classify", action="store_true",
                   help="also split the count into variant headers and other pairs (see the module docstring)")
    args = p.parse_args()
    paths = sorted([*REPO.glob("methods/*/configs/*.py"), *REPO.glob("methods/_base_/**/*.py")])
    files = {str(q.relative_to(REPO)): read(q) for q in paths}
    texts = {str(q.relative_to(REPO)): dict(_meaningful(q)) for q in paths}
    found = pairs(files, args.min)
    variants = [f for f in found if variant_header(texts[f[0]], f[1]) and variant_header(texts[f[2]], f[3])]
    if args.list:
        for a, la, b, lb, n in found:
            kind = "  [variant header]" if (a, la, b, lb, n) in variants else ""
            same = identical_lines(texts[a], texts[b], la, lb, n)
            print(f"{n:3d} lines ({same:2d} identical)  {a}:{la}  ==  {b}:{lb}{kind}")
    print(f"{len(found)} pairs of places share a run of >= {args.min} identical or same-shape lines "
          f"({len(paths)} config files)")
    if args.classify:
        print(f"  of which {len(variants)} are variant headers (frame-count variants' _base_ + num_frames + "
              f"the list-replacement idiom) and {len(found) - len(variants)} other")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
