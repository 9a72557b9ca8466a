"""Results store: one JSON record per run, written atomically, read as a pandas frame.

A record is written to a temporary file in the same directory, flushed and fsynced, then
renamed over its final name, so a reader (or a concurrent writer on a shared file system)
sees either no record or a whole one. Failed runs never write a record: their error goes to
``failures/<run_id>.json`` and is removed when the run later succeeds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import settings

RECORD_SCHEMA_VERSION = 1
REQUIRED_FIELDS = (
    "run_id", "method", "protocol", "dataset", "seed", "metrics", "spec", "schema_version",
)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Store:
    """The records of one results directory (default: ``settings.results_dir()``)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else settings.results_dir()
        self.runs = self.root / "runs"
        self.failures = self.root / "failures"

    def record_path(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.json"

    def has(self, run_id: str) -> bool:
        return self.record_path(run_id).exists()

    def write(self, record: dict[str, Any]) -> Path:
        missing = [k for k in REQUIRED_FIELDS if k not in record]
        if missing:
            raise ValueError(f"record for run {record.get('run_id')!r} lacks fields {missing}")
        path = self.record_path(record["run_id"])
        atomic_write_json(path, record)
        self.failure_path(record["run_id"]).unlink(missing_ok=True)
        return path

    def read(self, run_id: str) -> dict[str, Any]:
        path = self.record_path(run_id)
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"record {path} is not valid JSON ({e}); delete it to rerun the run") from e

    def records(self, run_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        if run_ids is None:
            paths = sorted(self.runs.glob("*.json"))
        else:
            paths = [self.record_path(r) for r in run_ids if self.has(r)]
        return [json.loads(p.read_text()) for p in paths]

    def failure_path(self, run_id: str) -> Path:
        return self.failures / f"{run_id}.json"

    def write_failure(self, run_id: str, info: dict[str, Any]) -> Path:
        path = self.failure_path(run_id)
        atomic_write_json(path, info)
        return path

    def failure(self, run_id: str) -> dict[str, Any] | None:
        path = self.failure_path(run_id)
        return json.loads(path.read_text()) if path.exists() else None

    def frame(self, run_ids: Iterable[str] | None = None):
        """A pandas DataFrame with one row per record; metrics flattened as ``metric/<name>``."""
        import pandas as pd

        rows = []
        for r in self.records(run_ids):
            row = {k: v for k, v in r.items() if not isinstance(v, dict | list)}
            for k, v in (r.get("metrics") or {}).items():
                if not isinstance(v, dict | list):
                    row[f"metric/{k}"] = v
            flops = r.get("flops") or {}
            row["gflops_per_view"] = flops.get("gflops_per_view")
            row["views"] = flops.get("views")
            row["case"] = (r.get("spec") or {}).get("case")
            rows.append(row)
        return pd.DataFrame(rows)
