"""One execution per cell: the launcher claims a run id in the results tree before it submits the run.

A claim is the file ``<results>/claims/<run id>.json``, created with ``O_CREAT | O_EXCL`` (atomic
on local and NFSv3+ file systems), holding the submission token, the launcher's host and pid and,
once submitted, the executor and job id. Two grids sharing a cell, or one grid launched twice at
the same moment, race for the same file: one wins and submits, the other skips the cell.

A claim ends when its job ends: the job removes it (``release``, by token) when the run finishes
or fails, but not when it is preempted (the requeued job still holds it). A claim whose holder
is seen dead is taken over: a SLURM job that the scheduler reports finished, failed or no longer
knows; a local job or launcher whose pid is gone, a zombie, or a reused pid (its start time
differs from the one recorded). A claim that cannot be checked from here (another host's local
job) is left alone for ``FOREIGN_MAX_AGE_S``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FOREIGN_MAX_AGE_S = 24 * 3600.0
UNKNOWN_GRACE_S = 300.0  # a job sacct does not know yet (just submitted) is alive for this long


# SLURM/submitit job states grouped the way a user reads them. PREEMPTED is not final (with
# PreemptMode=REQUEUE the job comes back), as submitit also treats it; anything unknown is pending.
_DONE = {"COMPLETED", "DONE", "FINISHED"}
_FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
           "INTERRUPTED", "ERROR", "REVOKED", "SPECIAL_EXIT"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"}


def category(state: str) -> str:
    """Map a raw job state (``CANCELLED by 0``, ``RUNNING``, ``REQUEUED``...) to done/running/failed/pending."""
    word = state.split()[0].upper() if state else "UNKNOWN"
    if word in _DONE:
        return "done"
    if word in _FAILED:
        return "failed"
    if word in _RUNNING:
        return "running"
    return "pending"


def claims_dir(store_root: Path | str) -> Path:
    return Path(store_root) / "claims"


def claim_path(store_root: Path | str, run_id: str) -> Path:
    return claims_dir(store_root) / f"{run_id}.json"


# ----------------------------------------------------------------------------------------------
# processes


def proc_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None."""
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int | str, start_time: int | None = None) -> bool:
    """Whether ``pid`` is a running process of this host: not gone, not a zombie, and (given ``start_time``)
    the same process that was recorded, not a later one that reuses its pid."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return False
        state = text[text.rfind(")") + 2:].split()[0]
        if state in ("Z", "X", "x"):
            return False
        return start_time is None or proc_start_time(pid) == int(start_time)
    try:  # no /proc (macOS): signal 0 is the best we can do
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------------------
# claims


def read_claim(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        return data
    try:  # torn or foreign: judged by its age (see holder_alive)
        return {"_mtime": path.stat().st_mtime}
    except OSError:
        return None


def holder_alive(c: dict[str, Any]) -> bool:
    """Whether the holder of claim ``c`` may still run the cell (see the module docstring)."""
    if "_mtime" in c:  # unreadable: not ours to judge for a while (a foreign writer may be busy with it)
        return time.time() - float(c["_mtime"]) < UNKNOWN_GRACE_S
    if not c:
        return False
    age = time.time() - float(c.get("time", 0) or 0)
    here = c.get("host") == socket.gethostname()
    job = c.get("job") or {}
    executor, job_id = job.get("executor"), job.get("job_id")
    if executor == "slurm" and job_id:
        return _slurm_alive(str(job_id), age)
    if executor == "local" and job_id:
        if not here:
            return age < FOREIGN_MAX_AGE_S
        return pid_alive(job_id, job.get("pid_start"))
    # debug (in the launcher) or not submitted yet: the launcher process holds it
    if not here:
        return age < FOREIGN_MAX_AGE_S
    return pid_alive(c.get("pid", -1), c.get("pid_start"))


def _slurm_alive(job_id: str, age_s: float) -> bool:
    try:
        import submitit

        job = submitit.SlurmJob(Path("."), job_id)  # the folder is not read: only the scheduler is asked
        job.watcher.register_job(job_id)
        submitit.SlurmJob.watcher.update()
        state = job.watcher.get_state(job_id, mode="cache")
    except Exception as e:  # noqa: BLE001 - no scheduler to ask: keep the claim (never run twice)
        log.warning("cannot ask SLURM about job %s (%s); its claim stands", job_id, e)
        return True
    if state == "UNKNOWN":
        return age_s < UNKNOWN_GRACE_S
    return category(state) in ("running", "pending")


def _create(path: Path, data: dict[str, Any]) -> bool:
    """Create ``path`` holding ``data`` only if it does not exist: written to a temporary file, then hard-linked
    (``link`` fails when the name exists, atomically, also on NFS), so no reader ever sees a half-written claim."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def claim(store_root: Path | str, run_id: str, token: str, **info: Any) -> dict[str, Any] | None:
    """Claim ``run_id`` for submission ``token``: None when claimed now, else the live claim that holds it.

    A dead holder's claim is moved aside (``claims/.released/``) and the claim is tried once more, so two
    launchers taking over the same dead claim still end with one winner.
    """
    path = claim_path(store_root, run_id)
    data = {"run_id": run_id, "token": token, "host": socket.gethostname(), "pid": os.getpid(),
            "pid_start": proc_start_time(os.getpid()), "time": time.time(), **info}
    for _ in range(2):
        if _create(path, data):
            return None
        held = read_claim(path)
        if held is None:
            continue  # released meanwhile
        if held.get("token") == token:
            return None  # ours already
        if holder_alive(held):
            return held
        dest = claims_dir(store_root) / ".released" / f"{run_id}.{held.get('token', 'unknown')}.{time.time():.0f}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, dest)
            log.info("run %s: claim of a dead holder (%s) released", run_id, held.get("job") or held.get("pid"))
        except FileNotFoundError:
            pass
    held = read_claim(path)
    return held or {"run_id": run_id, "token": "?", "note": "claimed by another launcher at the same moment"}


def set_job(store_root: Path | str, run_id: str, token: str, executor: str, job_id: str,
            pid_start: int | None = None) -> None:
    """Record the job that runs a claimed cell (so that its death can be seen)."""
    from bench.store import atomic_write_json

    path = claim_path(store_root, run_id)
    held = read_claim(path)
    if not held or held.get("token") != token:
        return
    held["job"] = {"executor": executor, "job_id": str(job_id), "pid_start": pid_start}
    atomic_write_json(path, held)


def release(store_root: Path | str, run_id: str, token: str | None) -> bool:
    """Remove the claim of ``run_id`` if ``token`` holds it; True when removed."""
    if token is None:
        return False
    path = claim_path(store_root, run_id)
    held = read_claim(path)
    if held is None or held.get("token") != token:
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
