"""Shared helpers for turning transcribed paper tables into rows of the published-results CSVs.

Why this exists: the four papers' tables are transcribed once, close to how the paper prints
them (see ``_alt.py``, ``_bike.py``, ``_ftp.py``, ``_vlc.py``), and expanded here into one row
per method x setting x metric, so that the CSVs stay reviewable against the paper text and
every unit conversion (TFLOPs -> GFLOPs, total -> per view) happens in exactly one place.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

COLUMNS = [
    "method", "backbone", "pretrain", "frames", "resolution", "views", "gflops_per_view", "gflops_total",
    "params_m", "dataset", "protocol", "shots", "metric", "value", "std", "source", "variant", "notes",
]

PROTOCOLS = {"supervised", "fewshot", "zeroshot_half", "zeroshot_full", "zeroshot_k600", "ava", "linear_probe"}
PERCENT_METRICS = {"top1", "top5", "mAP", "mean_class_acc"}

# A name ending in a CLIP/ViT size ("ALT-B/16", "X-CLIP-L/14", "EVL ViT-L/14", "ViViT-L/16x2").
_VIT_SUFFIX = re.compile(r"^(?P<method>.+?)(?:-| ViT-)(?P<size>[BLHg])/(?P<patch>\d+(?:x2)?)$")
_MISSING = {"", "-", "_", "—", "–"}


def split_name(name: str) -> tuple[str, str]:
    """Split a table name like ``ALT-B/16`` into method ``ALT`` and backbone ``ViT-B/16``.

    Names without a ViT size suffix are returned whole with an empty backbone, so that
    ``method`` is always what the paper wrote minus the backbone size.
    """
    name = re.sub(r"\s*\((?:ours|Ours)\)\s*$", "", name.strip())
    match = _VIT_SUFFIX.match(name)
    if not match:
        return name, ""
    return match["method"], f"ViT-{match['size']}/{match['patch']}"


def num(text: str | float | int | None) -> float | None:
    """Parse a table cell into a float; ``None`` for the papers' not-reported marks."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    cleaned = re.sub(r"\$|\\bf|[{}]", "", text).strip()
    cleaned = cleaned.rstrip("%MGT").strip()
    if cleaned in _MISSING:
        return None
    return float(cleaned)


def literal(text: str | float | int | None) -> str:
    """A cell as the paper prints it (``83.0`` stays ``83.0``), cleaned of marks; "" when not reported.

    Keeps the paper's precision for values, stds and parameter counts instead of a float repr.
    """
    val = num(text)
    if val is None:
        return ""
    if isinstance(text, str):
        cleaned = re.sub(r"\$|\\bf|[{}]", "", text).strip().rstrip("%MGT").strip()
        if float(cleaned) == val:
            return cleaned
    return _fmt(val)


def views_product(views: str) -> int:
    """Number of views in an ``AxB`` views string (``4x3`` -> 12)."""
    return math.prod(int(part) for part in views.split("x"))


def flops(total: str | float | None = None, per_view: str | float | None = None, views: str = "",
          unit: str = "G") -> tuple[float | None, float | None, list[str]]:
    """Return (GFLOPs per view, GFLOPs total, notes) from whichever of the two the paper gives.

    The missing one is computed from the views product and said so in the notes; TFLOPs are
    converted to GFLOPs (x1000). Both papers' and our counts use fvcore's convention
    (one multiply-add = one FLOP), so no factor of 2 is applied.
    """
    scale = {"G": 1.0, "T": 1000.0}[unit]
    tot = num(total)
    pv = num(per_view)
    notes: list[str] = []
    if unit == "T" and (tot is not None or pv is not None):
        notes.append("paper gives TFLOPs; converted to GFLOPs")
    tot = None if tot is None else tot * scale
    pv = None if pv is None else pv * scale
    if views and tot is not None and pv is None:
        pv = tot / views_product(views)
        notes.append("gflops_per_view computed as total / views")
    elif views and pv is not None and tot is None:
        tot = pv * views_product(views)
        notes.append("gflops_total computed as per-view x views")
    return pv, tot, notes


def _fmt(value: object) -> str:
    """Format a cell: integers without a decimal point, floats with at most 3 decimals."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


class Rows:
    """Accumulates CSV rows for one paper, checking each against the schema as it is added."""

    def __init__(self, paper: str) -> None:
        self.paper = paper
        self.rows: list[dict[str, str]] = []

    def add(self, *, method: str, metric: str, value: str | float | None, source: str, dataset: str,
            protocol: str, backbone: str = "", pretrain: str = "", frames: int | None = None,
            resolution: int | None = None, views: str = "", gflops_per_view: float | None = None,
            gflops_total: float | None = None, params_m: str | float | None = None, shots: int | None = None,
            std: str | float | None = None, variant: str = "", notes: str | list[str] = "") -> None:
        """Add one row; a value the paper did not report (``-``) adds nothing."""
        if num(value) is None:
            return
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r} ({source}) not in {sorted(PROTOCOLS)}")
        if (protocol == "fewshot") != (shots is not None):
            raise ValueError(f"shots={shots!r} with protocol {protocol!r} ({source}); shots go with fewshot only")
        if not source.startswith(f"{self.paper} "):
            raise ValueError(f"source {source!r} must start with the paper name {self.paper!r}")
        note_text = "; ".join(n for n in notes if n) if isinstance(notes, list) else notes
        row = {
            "method": method, "backbone": backbone, "pretrain": pretrain, "frames": frames,
            "resolution": resolution, "views": views, "gflops_per_view": gflops_per_view,
            "gflops_total": gflops_total, "params_m": literal(params_m), "dataset": dataset, "protocol": protocol,
            "shots": shots, "metric": metric, "value": literal(value), "std": literal(std), "source": source,
            "variant": variant, "notes": note_text,
        }
        self.rows.append({key: _fmt(row[key]) for key in COLUMNS})

    def write(self, path: Path) -> None:
        """Write the rows with the fixed column order, refusing exact duplicate rows."""
        seen: set[tuple[str, ...]] = set()
        for row in self.rows:
            key = tuple(row[c] for c in COLUMNS)
            if key in seen:
                raise ValueError(f"duplicate row in {self.paper}: {row}")
            seen.add(key)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)


def parse_block(block: str) -> list[list[str]]:
    """Split a transcribed table block (one row per line, cells separated by ``|``)."""
    lines = [line for line in block.strip().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [[cell.strip() for cell in line.split("|")] for line in lines]


def input_shape(text: str) -> tuple[int, int]:
    """``32x224^2`` or ``(32x224^2)`` -> (frames, resolution)."""
    match = re.fullmatch(r"\(?(\d+)x(\d+)\^2\)?", text.replace(" ", ""))
    if not match:
        raise ValueError(f"cannot read input shape {text!r}; expected like '32x224^2'")
    return int(match[1]), int(match[2])
