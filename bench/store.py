"""Results store: one JSON record per run, written atomically, read as a pandas frame.

A record is written to a temporary file in the same directory, flushed and fsynced, then
renamed over its final name and the directory fsynced, so a reader (or a concurrent writer on a
shared file system) sees either no record or a whole one, and a crash after the rename keeps it.
Failed runs never write a record: their error goes to ``failures/<run_id>.json`` and is removed
when the run later succeeds.

A file that is not a record of this code (not JSON, a foreign schema, a ``schema_version`` newer
than this code's, a ``run_id`` other than its file name's) and a failure file that is not JSON
are never counted: they are moved to ``quarantine/`` (nothing is deleted), reported once on
stderr with the path and the reason, and the run reads as not recorded, so it is run again.
Temporary files a killed writer left (``.<name>.*.tmp``, older than ``TMP_MAX_AGE_S``) are removed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import DataError
from bench.fsutil import fsync_dir

RECORD_SCHEMA_VERSION = 1
REQUIRED_FIELDS = (
    "run_id", "method", "protocol", "dataset", "seed", "metrics", "spec", "schema_version",
)
TMP_MAX_AGE_S = 3600.0  # a writer holds its temporary file for well under a second
_REPORTED: set[str] = set()


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file, a rename and a directory fsync."""
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
    fsync_dir(path.parent)


def record_problem(data: Any, run_id: str | None = None) -> str | None:
    """Why ``data`` is not a record of this code for ``run_id`` (None when it is one)."""
    if not isinstance(data, dict):
        return f"foreign schema: a JSON {type(data).__name__}, not an object"
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"foreign schema: schema_version is {version!r}, not an integer"
    if version > RECORD_SCHEMA_VERSION:
        return (f"schema_version {version} is newer than this code's ({RECORD_SCHEMA_VERSION}); "
                f"read it with the vlbench version that wrote it")
    missing = [k for k in REQUIRED_FIELDS if k not in data]
    if missing:
        return f"foreign schema: lacks fields {missing}"
    if not isinstance(data.get("metrics"), dict) or not isinstance(data.get("spec"), dict):
        return "foreign schema: metrics and spec must be objects"
    if run_id is not None and data.get("run_id") != run_id:
        return f"its run_id {data.get('run_id')!r} is not {run_id!r}, the run its file name names"
    return None


class Store:
    """The records of one results directory (default: ``settings.results_dir()``)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else settings.results_dir()
        self.runs = self.root / "runs"
        self.failures = self.root / "failures"
        self.quarantine_dir = self.root / "quarantine"
        self.skipped: list[dict[str, str]] = []  # bad files found by this instance: path, reason, moved_to
        self._valid: dict[str, tuple[int, int]] = {}  # record path -> (size, mtime_ns) of its last good read

    def record_path(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.json"

    # ------------------------------------------------------------------ bad files

    def quarantine(self, path: Path, reason: str) -> Path | None:
        """Move a bad file to ``quarantine/`` and report it once (stderr); returns where it went."""
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        dest = self.quarantine_dir / f"{path.parent.name}-{path.name}.{stamp}"
        try:
            st = path.stat()
            key = f"{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"  # this file, not a later one at that path
        except OSError:
            key = str(path)
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
        except FileNotFoundError:
            return None  # another reader moved it first
        except OSError as e:  # read-only tree: leave it, but still never count it
            dest = None
            reason += f" (could not move it to {self.quarantine_dir}: {e})"
        entry = {"path": str(path), "reason": reason, "moved_to": str(dest) if dest else ""}
        self.skipped.append(entry)
        if key not in _REPORTED:
            _REPORTED.add(key)
            where = f"; moved to {dest}" if dest else ""
            print(f"skipped {path}: {reason}{where}; its run counts as not recorded", file=sys.stderr)
        return dest

    def clean_temporary(self, max_age_s: float = TMP_MAX_AGE_S) -> list[Path]:
        """Remove temporary files a killed writer left in ``runs/`` and ``failures/``."""
        removed = []
        now = time.time()
        for d in (self.runs, self.failures):
            for p in d.glob(".*.tmp") if d.is_dir() else ():
                try:
                    if now - p.stat().st_mtime > max_age_s:
                        p.unlink()
                        removed.append(p)
                except FileNotFoundError:
                    continue
        return removed

    def _load(self, path: Path, run_id: str | None) -> dict[str, Any] | None:
        """The record at ``path`` when it is a good one; a bad one is quarantined (None)."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as e:
            self.quarantine(path, f"not valid JSON ({e})")
            return None
        except OSError as e:
            self.skipped.append({"path": str(path), "reason": f"unreadable ({e})", "moved_to": ""})
            return None
        problem = record_problem(data, run_id if run_id is not None else path.stem)
        if problem is not None:
            self.quarantine(path, problem)
            return None
        return data

    # ------------------------------------------------------------------ records

    def has(self, run_id: str) -> bool:
        """Whether a good record of ``run_id`` exists (it parses, has this code's schema and is this run's)."""
        path = self.record_path(run_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if self._valid.get(str(path)) == (st.st_size, st.st_mtime_ns):
            return True
        if self._load(path, run_id) is None:
            return False
        self._valid[str(path)] = (st.st_size, st.st_mtime_ns)
        return True

    def write(self, record: dict[str, Any]) -> Path:
        missing = [k for k in REQUIRED_FIELDS if k not in record]
        if missing:
            raise ValueError(f"record for run {record.get('run_id')!r} lacks fields {missing}")
        path = self.record_path(record["run_id"])
        atomic_write_json(path, record)
        self.failure_path(record["run_id"]).unlink(missing_ok=True)
        return path

    def read(self, run_id: str) -> dict[str, Any]:
        """The record of ``run_id``; DataError when there is no good one (a bad one is quarantined)."""
        path = self.record_path(run_id)
        data = self._load(path, run_id)
        if data is None:
            why = self.skipped[-1]["reason"] if self.skipped and self.skipped[-1]["path"] == str(path) else "no file"
            raise DataError(f"no usable record for run {run_id} at {path}: {why}")
        return data

    def records(self, run_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every good record (or those of ``run_ids``); bad files are skipped, quarantined and reported."""
        if run_ids is None:
            self.clean_temporary()
            paths = sorted(self.runs.glob("*.json"))
        else:
            paths = [self.record_path(r) for r in run_ids]
        out = []
        for p in paths:
            data = self._load(p, p.stem)
            if data is not None:
                out.append(data)
        return out

    def failure_path(self, run_id: str) -> Path:
        return self.failures / f"{run_id}.json"

    def write_failure(self, run_id: str, info: dict[str, Any]) -> Path:
        path = self.failure_path(run_id)
        atomic_write_json(path, info)
        return path

    def failure(self, run_id: str) -> dict[str, Any] | None:
        path = self.failure_path(run_id)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError, OSError) as e:
            self.quarantine(path, f"failure file is not valid JSON ({e})")
            return None
        if not isinstance(data, dict):
            self.quarantine(path, f"failure file holds a JSON {type(data).__name__}, not an object")
            return None
        return data

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
            row["gflops_per_view"] = flops.get("gflops_per_view") if isinstance(flops, dict) else None
            row["views"] = flops.get("views") if isinstance(flops, dict) else None
            row["case"] = (r.get("spec") or {}).get("case")
            rows.append(row)
        return pd.DataFrame(rows)
