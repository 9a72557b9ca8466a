"""The plain structure of a comparison table, and the filter its specs select records with.

``bench.tables`` builds a :class:`Table` from table specs and records; ``bench.table_render`` writes
one as Markdown, LaTeX and CSV; ``bench.paired`` fills its differences; ``bench.plots`` selects the
same entries. None of them needs another to read this structure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

DASH = "—"
DEFAULT_FMT = {"gflops_total": ".0f", "gflops_per_view": ".1f", "params_m": ".0f", "frames": "d"}


@dataclass
class Entry:
    """One value of one metric, from a paper (``published``) or from a record (``measured``)."""

    origin: str
    fields: dict[str, Any]
    metric: str
    value: float
    std: float | None = None
    ci: tuple[float, float] | None = None  # a measured record's 95 % bootstrap CI (record ``stats``, issue 23)


@dataclass
class Cell:
    value: float | str | None = None
    std: float | None = None
    n: int = 0
    note: str = ""
    rank: int = 0  # 1 = best, 2 = second-best


@dataclass
class Table:
    name: str
    title: str
    columns: list[dict[str, Any]]
    rows: list[list[Cell]]
    origins: list[str]
    footnotes: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # per row: how its measured numbers were computed (MARKS)
    measured: list[list[Entry]] = field(default_factory=list)  # per row: its measured entries (issue 23)
    row_keys: list[dict[str, str]] = field(default_factory=list)  # per row: its ``rows.key`` values
    references: list[int] = field(default_factory=list)  # the rows differences are taken against (``reference``)
    diffs: list[dict[str, dict[str, Any]]] = field(default_factory=list)  # per row: column name -> difference


def _num(v: Any) -> float | None:
    if v is None or (isinstance(v, str) and v.strip() in ("", "-", DASH)):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _norm(v: Any) -> str:
    """Compare filter values as text; ``32.0`` and ``32`` are the same."""
    f = _num(v)
    if f is not None and f == int(f):
        return str(int(f))
    return "" if v is None else str(v)


def matches(fields: dict[str, Any], where: dict[str, Any] | None, metric: str | None = None) -> bool:
    """Whether ``fields`` pass a filter: scalar = equal, list = one of, {regex|not|min|max} = test."""
    for key, want in (where or {}).items():
        have = metric if key == "metric" and metric is not None else fields.get(key)
        text = _norm(have)
        if isinstance(want, dict):
            if "regex" in want and not re.search(str(want["regex"]), text):
                return False
            if "not" in want and text in {_norm(w) for w in _as_list(want["not"])}:
                return False
            if "min" in want and (_num(have) is None or _num(have) < float(want["min"])):
                return False
            if "max" in want and (_num(have) is None or _num(have) > float(want["max"])):
                return False
        elif text not in {_norm(w) for w in _as_list(want)}:
            return False
    return True


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]
