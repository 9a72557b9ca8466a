"""Following submitted jobs: their states, waiting with progress, and the launch manifests.

``bench.launch.submit`` writes one manifest per launch (run id -> job id, submitit folder) under
``<results>/launches/<grid>/``; this module reads them back to re-create the jobs for ``bench
status``, to tell which runs of a grid are still queued or running (so that a second ``bench
run`` does not submit them again), and to wait for a launch with a progress line that counts
records as they land. Job states are grouped into done / running / failed / pending.

Reading a job's state unpickles submitit's result files, so a manifest is followed only when
this user's launcher wrote it: the launcher signs each manifest with an HMAC-SHA256 keyed by a
per-user secret (``launch.key`` next to the user config, mode 0600, created on first use;
``$BENCH_LAUNCH_KEY`` names another file). A manifest without a valid signature (planted,
copied from another user's tree, edited) is refused with its path named and none of its files
are read; the records still speak for the runs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import submitit

from bench.claims import category
from bench.errors import ConfigError
from bench.store import Store

log = logging.getLogger(__name__)

CATEGORIES = ("done", "running", "failed", "pending")


class InlineJob:
    """A job run in this process at submission (the ``debug`` executor): breakpoints work."""

    def __init__(self, job_id: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.job_id = job_id
        self._result: Any = None
        self._error: BaseException | None = None
        try:
            self._result = fn(*args)
        except Exception as e:  # noqa: BLE001 - kept and re-raised by result()
            log.exception("debug job %s failed", job_id)
            self._error = e

    @property
    def state(self) -> str:
        return "FAILED" if self._error else "COMPLETED"

    def done(self, force_check: bool = False) -> bool:
        return True

    def exception(self) -> BaseException | None:
        return self._error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._result


def launches_dir(store_root: Path | str | None, grid: str | None = None) -> Path:
    """``<results>/launches[/<grid>]``: where launch manifests are kept."""
    root = Store(store_root).root / "launches"
    return root / grid if grid else root



def _task_jobs(job: Any) -> list[Any]:
    return list(getattr(job, "_sub_jobs", None) or [job])


def _outcome(job: Any) -> str | None:
    """``success``/``error`` from the result pickles of all tasks, None while one is missing."""
    outcomes = []
    for task in _task_jobs(job):
        path = task.paths.result_pickle
        if not path.exists():
            return None
        try:
            outcomes.append(submitit.core.utils.pickle_load(path)[0])
        except (EOFError, OSError):  # being written
            return None
    return "error" if "error" in outcomes else "success"


def poll(job: Any) -> str:
    """The category (done/running/failed/pending) of one job, reading its result files first."""
    if isinstance(job, InlineJob):
        return "failed" if job.exception() else "done"
    outcome = _outcome(job)
    if outcome is not None:
        return "done" if outcome == "success" else "failed"
    cat = category(job.state)
    if cat == "done":  # the scheduler says finished but no result file: let submitit decide (<= 15 s)
        try:
            return "done" if job.exception() is None else "failed"
        except submitit.core.utils.UncompletedJobError:
            return "failed"
    return cat


def _refresh(jobs: Sequence[Any]) -> None:
    """One ``sacct`` call for all SLURM jobs (submitit's watcher batches registered ids)."""
    slurm = [j for j in jobs if isinstance(j, submitit.SlurmJob)]
    if slurm:
        for j in slurm:
            j.watcher.register_job(j.job_id)
        submitit.SlurmJob.watcher.update()


def wait(jobs: Sequence[Any], progress: bool = True, poll_s: float = 1.0,
         timeout_s: float | None = None, run_ids: Sequence[str] | None = None,
         store_root: Path | str | None = None) -> list[str]:
    """Follow jobs until each is done or failed; return their final categories in order.

    A tqdm bar counts finished jobs and shows done / running / failed / pending. With
    ``run_ids`` (and ``store_root``), a run counts as done as soon as its record exists, which
    is what a user wants to see when one job runs several runs in turn (local executor).

    Raises:
        TimeoutError: ``timeout_s`` passed with jobs still pending or running.
    """
    from tqdm.auto import tqdm

    store = Store(store_root) if run_ids is not None else None

    def state(i: int, job: Any) -> str:
        if store is not None and store.has(run_ids[i]):
            return "done"
        cat = poll(job)
        return "failed" if cat == "done" and store is not None else cat  # job ended, no record

    final: dict[int, str] = {}
    bar = tqdm(total=len(jobs), desc="runs" if run_ids is not None else "jobs", unit="run", disable=not progress)
    start = time.monotonic()
    try:
        while True:
            _refresh([j for i, j in enumerate(jobs) if i not in final])
            counts = dict.fromkeys(CATEGORIES, 0)
            for i, job in enumerate(jobs):
                cat = final.get(i) or state(i, job)
                if cat in ("done", "failed") and i not in final:
                    final[i] = cat
                    bar.update(1)
                counts[cat] += 1
            bar.set_postfix(counts, refresh=True)
            if len(final) == len(jobs):
                return [final[i] for i in range(len(jobs))]
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise TimeoutError(f"{len(jobs) - len(final)} of {len(jobs)} job(s) unfinished after {timeout_s} s: "
                                   f"{counts}")
            time.sleep(poll_s)
    finally:
        bar.close()


def manifests(store_root: Path | str | None, grid: str | None = None) -> list[Path]:
    """Launch manifests, oldest first (all grids when ``grid`` is None)."""
    root = launches_dir(store_root)
    pattern = f"{grid}/*.json" if grid else "*/*.json"
    return sorted(root.glob(pattern), key=lambda p: p.name)


def launch_key() -> bytes:
    """This user's secret for signing launch manifests (created on first use, readable by the user only)."""
    from bench import settings

    env = os.environ.get("BENCH_LAUNCH_KEY")
    path = Path(env).expanduser() if env else settings.config_file().parent / "launch.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        raise ConfigError(f"launch key {path} cannot be read ({e}); delete it to make a new one") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another launcher made it at the same moment
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def sign_manifest(manifest: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hmac.new(launch_key(), body.encode(), hashlib.sha256).hexdigest()


def load_manifest(manifest: Path | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(manifest, dict):
        return manifest
    try:
        data = json.loads(Path(manifest).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"launch manifest {manifest} cannot be read ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list) or "executor" not in data:
        raise ConfigError(f"launch manifest {manifest} is not a launch manifest (no executor and jobs)")
    data.pop("_verified", None)  # only verified() sets it, in memory
    data["_path"] = str(manifest)
    return data


def verified(m: dict[str, Any]) -> dict[str, Any]:
    """``m`` when this user's launcher signed it and its folder is a directory; else ConfigError (nothing read)."""
    if m.get("_verified") is True:
        return m
    where = m.get("_path", "launch manifest")
    body = {k: v for k, v in m.items() if k not in ("_path", "_verified")}
    sig = body.get("signature")
    if not isinstance(sig, str) or not hmac.compare_digest(sig, sign_manifest(body)):
        raise ConfigError(f"launch manifest {where} is not signed by this user's launcher (planted, copied or "
                          f"edited); its job files in {m.get('folder')!r} are not read")
    folder = m.get("folder")
    if not isinstance(folder, str) or not folder:
        raise ConfigError(f"launch manifest {where}: folder {folder!r} is not a path")
    m["_verified"] = True
    return m


def jobs_of(manifest: Path | str | dict[str, Any]) -> dict[str, Any]:
    """Re-create the submitit jobs of a signed manifest: run id -> job (``SlurmJob``/``LocalJob``)."""
    m = verified(load_manifest(manifest))
    cls = {"slurm": submitit.SlurmJob, "local": submitit.LocalJob}.get(m["executor"])
    if cls is None:
        return {}
    return {j["run_id"]: cls(m["folder"], j["job_id"]) for j in m["jobs"]}


def _local_state(job: Any, pid_start: int | None = None) -> str:
    state = job.state
    if state.startswith("NO PROCESS"):  # re-created job: ask the OS whether its process lives (not a zombie,
        from bench.claims import pid_alive  # not a later process reusing the pid)

        return "RUNNING" if pid_alive(job.job_id, pid_start) else "FAILED"
    return state


def job_states(manifest: Path | str | dict[str, Any]) -> dict[str, str]:
    """Run id -> raw job state (SLURM's, read with one forced ``sacct``) for ``bench status``.

    A result file written by the job wins over the scheduler (``COMPLETED`` or ``FAILED``);
    debug launches report the state they finished with.
    """
    m = load_manifest(manifest)
    if m["executor"] == "debug":
        return {j["run_id"]: j.get("state", "UNKNOWN") for j in m["jobs"]}
    jobs = jobs_of(m)
    starts = {j["run_id"]: j.get("pid_start") for j in m["jobs"]}
    _refresh(list(jobs.values()))
    out = {}
    for run_id, job in jobs.items():
        outcome = _outcome(job)
        if outcome is not None:
            out[run_id] = "COMPLETED" if outcome == "success" else "FAILED"
        elif m["executor"] == "local":
            out[run_id] = _local_state(job, starts.get(run_id))
        else:
            out[run_id] = job.watcher.get_state(job.job_id, mode="cache")
    return out


def active_run_ids(store_root: Path | str | None, grid: str) -> set[str]:
    """Run ids of a grid whose latest job is still pending or running (so not to submit them twice)."""
    store = Store(store_root)
    latest: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in manifests(store_root, grid):
        try:
            m = verified(load_manifest(path))
        except ConfigError as e:
            log.warning("%s", e)
            continue
        if m["executor"] != "debug":
            latest.update({j["run_id"]: (m, j) for j in m["jobs"] if not store.has(j["run_id"])})
    by_manifest: dict[int, dict[str, Any]] = {}
    for m, j in latest.values():
        by_manifest.setdefault(id(m), {**m, "jobs": []})["jobs"].append(j)
    active: set[str] = set()
    for m in by_manifest.values():
        try:
            states = job_states(m)
        except Exception as e:  # noqa: BLE001 - a scheduler we cannot ask does not block a launch
            log.warning("cannot read job states of grid %s (%s); treating its jobs as finished", grid, e)
            continue
        # a job that sacct does not know yet (just submitted) is active; an old unknown one is gone
        age_s = (_dt.datetime.now(_dt.UTC) - _dt.datetime.fromisoformat(m["created"])).total_seconds()
        active.update(r for r, st in states.items()
                      if category(st) in ("running", "pending") and (st != "UNKNOWN" or age_s < 300))
    return active
