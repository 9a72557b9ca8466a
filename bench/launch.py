"""Send RunSpecs to an executor: in-process (debug), local processes, or SLURM arrays via submitit.

One call of :func:`submit` sends the specs of one grid that have no record yet as ONE job
array (``executor.map_array``), capped by the profile's ``array_parallelism``, and writes a
small launch manifest ``<results>/launches/<grid>/<time>-<executor>.json`` (run id -> job id,
submitit folder) from which ``bench.follow.job_states`` re-creates the jobs later for ``bench status``.

Each job runs :class:`RunJob`, a ``submitit.helpers.Checkpointable``: on preemption or on
reaching its time limit SLURM sends USR2 (``signal_delay_s`` before the limit), submitit calls
``checkpoint()``, which resubmits the same call; the job then resumes from the last checkpoint
in its work directory, up to ``max_num_timeout`` times after timeouts. Multi-task jobs
(``tasks_per_node > 1``) get a torch.distributed process group from SLURM's environment.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import submitit

from bench import artefacts, claims
from bench import identity as _identity  # noqa: F401 - registers how a RunSpec resolves (bench.spec)
from bench import job as _job  # noqa: F401 - registers the job services producers plan with (bench.artefacts)
from bench.dist import is_rank_zero, setup_distributed
from bench.errors import ConfigError
from bench.follow import InlineJob, active_run_ids, launches_dir, sign_manifest
from bench.profiles import EXECUTORS, validate
from bench.spec import RunSpec, short_hash
from bench.store import Store, atomic_write_json

log = logging.getLogger(__name__)
# submitit finds its plugins through pkg_resources (setuptools < 81), which warns on import
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

# ----------------------------------------------------------------------------------------------
# the job


EXPECTED_RUN_ID = "_expected_run_id"  # key the launcher adds to a RunJob's spec dict: the id it submitted


def split_job_arg(spec_dict: dict[str, Any]) -> tuple[RunSpec, str | None]:
    """A job's spec dict -> (spec, the run id the launcher computed for it, if it sent one)."""
    d = dict(spec_dict)
    expected = d.pop(EXPECTED_RUN_ID, None)
    spec = RunSpec.from_dict(d)
    if expected is not None:  # the id it was submitted under; bench.job.run checks it against a fresh resolution
        spec.__dict__["_run_id"] = expected
    return spec, expected


class RunJob(submitit.helpers.Checkpointable):
    """The callable every job runs: set up distributed, then ``bench.job.run`` the spec.

    ``checkpoint`` (called by submitit on USR2) resubmits the same callable and arguments, so the
    requeued job carries the same ``submission`` token and ``bench.job.run`` resumes from the
    work dir (a new submission starts fresh unless ``resume``). When the run ends, finished or
    failed (not preempted), the job releases its claim on the run id (``bench.claims``).
    Subclasses replace :meth:`run` (tests use a tiny stand-in job).
    """

    submission: str | None = None  # set per submission by :func:`submit`
    resume: bool = False
    redo: bool = False
    expected_run_id: str | None = None

    def __call__(self, spec_dict: dict[str, Any], store_root: str | None) -> dict[str, Any] | None:
        spec, self.expected_run_id = split_job_arg(spec_dict)
        created = setup_distributed()
        try:
            out = self.run(spec, store_root)
        except Exception:
            self._release(spec, store_root)
            raise
        else:
            self._release(spec, store_root)
            return out
        finally:
            if created:
                import torch.distributed as dist

                dist.destroy_process_group()

    def _release(self, spec: RunSpec, store_root: str | None) -> None:
        if self.submission is None or not is_rank_zero():
            return
        from bench import claims

        try:
            claims.release(Store(store_root).root, self.expected_run_id or spec.run_id, self.submission)
        except OSError as e:  # a claim that cannot be removed is seen dead later
            log.warning("cannot release the claim of run %s: %s", spec.run_id, e)

    def run(self, spec: RunSpec, store_root: str | None) -> dict[str, Any] | None:
        """Train/evaluate one spec and write its record (rank 0 only). Returns the record."""
        from bench import job  # imported on the worker: keeps submission light

        return job.run(spec, store_root=store_root, resume=self.resume, submission=self.submission, redo=self.redo,
                       expected_run_id=self.expected_run_id)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        log.warning("job interrupted (preemption or time limit): requeueing %s", type(self).__name__)
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


class SequentialJob(submitit.helpers.Checkpointable):
    """Runs several specs one after another in one job: how the local executor caps parallelism.

    submitit's local executor starts every job of an array at once; with ``array_parallelism``
    p, :func:`submit` sends p jobs of this kind instead, each running its share of the specs in
    order. A spec that already has a record is skipped (so a requeued job resumes where it
    stopped); a failing spec writes its failure file and the job goes on with the next one,
    then raises at the end so the job reads as failed.
    """

    def __init__(self, fn: Callable[[dict[str, Any], str], Any]) -> None:
        self.fn = fn

    def __call__(self, spec_dicts: list[dict[str, Any]], store_root: str) -> list[str]:
        failed = []
        for d in spec_dicts:
            spec, expected = split_job_arg(d)
            run_id = expected or spec.run_id
            if _recorded(store_root, run_id, self.fn):
                claims.release(store_root, run_id, getattr(self.fn, "submission", None))
                continue
            try:
                self.fn(d, store_root)
            except Exception as e:  # noqa: BLE001 - recorded in the failure file by bench.job.run
                log.error("run %s failed: %s", run_id, e)
                failed.append(run_id)
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(spec_dicts)} runs failed: {', '.join(failed)}")
        return [split_job_arg(d)[1] or split_job_arg(d)[0].run_id for d in spec_dicts]

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def _recorded(store_root: str, run_id: str, fn: Any) -> bool:
    """Whether a SequentialJob can skip a run: it is recorded (with ``--redo``: recorded by this submission)."""
    store = Store(store_root)
    if not store.has(run_id):
        return False
    if not getattr(fn, "redo", False):
        return True
    try:
        return store.read(run_id).get("submission") == getattr(fn, "submission", None)
    except Exception:  # noqa: BLE001 - replaced meanwhile: run it
        return False


# ----------------------------------------------------------------------------------------------
# executors


def _slurm_parameters(p: dict[str, Any]) -> dict[str, Any]:
    """Profile fields -> AutoExecutor parameters (generic names + ``slurm_`` prefixed ones)."""
    generic = ("timeout_min", "nodes", "tasks_per_node", "cpus_per_task", "mem_gb", "name", "stderr_to_stdout")
    out = {k: p[k] for k in generic if p.get(k) is not None}
    if p.get("gpus_per_node"):
        out["gpus_per_node"] = p["gpus_per_node"]
    for k in ("partition", "qos", "account", "constraint", "exclude", "gres", "comment", "cpus_per_gpu",
              "gpus_per_task", "mem_per_gpu", "mem_per_cpu", "signal_delay_s", "array_parallelism"):
        if p.get(k) is not None:
            out[f"slurm_{k}"] = p[k]
    for k in ("setup", "srun_args", "additional_parameters"):
        if p.get(k):
            out[f"slurm_{k}"] = p[k]
    return out


def make_executor(kind: str, profile: dict[str, Any], folder: Path | str) -> submitit.Executor | None:
    """The submitit executor for ``kind`` configured from ``profile`` (None for ``debug``)."""
    p = validate({k: v for k, v in profile.items() if k not in ("profile", "profile_path")}, "profile")
    if kind == "debug":
        return None
    if kind == "local":
        ex = submitit.AutoExecutor(folder=folder, cluster="local", local_max_num_timeout=p["max_num_timeout"])
        params = {k: p[k] for k in ("timeout_min", "tasks_per_node", "name") if p.get(k) is not None}
        if p.get("gpus_per_node"):
            params["gpus_per_node"] = p["gpus_per_node"]
        ex.update_parameters(**params)
        return ex
    if kind == "slurm":
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=p["max_num_timeout"])
        ex.update_parameters(**_slurm_parameters(p))
        return ex
    raise ConfigError(f"unknown executor {kind!r}; accepted: {', '.join(EXECUTORS)}")


# ----------------------------------------------------------------------------------------------
# submission


class Launch(list):
    """The jobs of one :func:`submit` call (a list, in the order of ``run_ids``) and where they are recorded."""

    def __init__(self, jobs: Sequence[Any] = (), run_ids: Sequence[str] = (), manifest_path: Path | None = None,
                 skipped: Sequence[str] = (), producers: ProducerLaunch | None = None) -> None:
        super().__init__(jobs)
        self.run_ids = list(run_ids)
        self.manifest_path = manifest_path
        self.skipped = list(skipped)
        self.producers = producers


def default_folder(grid: str) -> Path:
    """submitit's folder for a grid: pickles and logs of each job under ``<work_root>/submitit/<grid>/<job id>``."""
    from bench import settings

    return settings.work_root() / "submitit" / grid / "%j"


def _grid_name(specs: Sequence[RunSpec], grid: str | None) -> str:
    if grid:
        return grid
    names = {s.grid for s in specs}
    return (names.pop() or "adhoc") if len(names) == 1 else "mixed"


def _write_manifest(root: Path, grid: str, executor: str, folder: Path, profile: dict[str, Any],
                    todo: Sequence[RunSpec], jobs: Sequence[Any], skipped: Sequence[str], token: str = "",
                    producers: ProducerLaunch | None = None) -> Path:
    """Record which job runs which spec, so that ``bench status`` finds the jobs after this process ends."""
    manifest = {
        "grid": grid,
        "executor": executor,
        "folder": str(folder),
        "store_root": str(root),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "profile": {k: v for k, v in profile.items() if k != "profile_path"},
        "skipped": list(skipped),
        "submission": token,
        "jobs": [
            {"run_id": s.run_id, "job_id": str(j.job_id), "spec": s.describe(),
             **({"state": j.state} if executor == "debug" else {}),
             **({"pid_start": claims.proc_start_time(int(j.job_id))} if executor == "local" else {}),
             **({"consumes": [a.key for a in producers.planned.get(s.run_id, [])]} if producers else {})}
            for s, j in zip(todo, jobs)
        ],
        **({"producers": producers.manifest_entries(executor)} if producers else {}),
    }
    manifest["signature"] = sign_manifest(manifest)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = launches_dir(root, grid) / f"{stamp}-{executor}-{short_hash([s.run_id for s in todo], 6)}.json"
    atomic_write_json(path, manifest)
    return path


def submit(
    specs: Sequence[RunSpec],
    executor: str | None,
    profile: dict[str, Any],
    folder: Path | str | None,
    store_root: Path | str | None,
    *,
    fn: Callable[[dict[str, Any], str], Any] | None = None,
    grid: str | None = None,
    skip_existing: bool = True,
    skip_active: bool = True,
    resume: bool = False,
    redo: bool = False,
    needs: Callable[[RunSpec], list[artefacts.Artefact]] | None = None,
    producer_fn: Callable[[dict[str, Any]], Any] | None = None,
) -> Launch:
    """Submit the specs as one job array and return at once (``debug`` runs them here first).

    Args:
        specs: the runs; duplicates (same run id) are sent once.
        executor: ``debug``, ``local`` or ``slurm``; None: the profile's ``executor``.
        profile: a profile from :func:`bench.profiles.load_profile` (its resources and limits).
        folder: submitit's folder for pickles and logs (``%j`` = job id); None: :func:`default_folder`.
        store_root: the results directory the jobs write records into (None: the configured one).
        fn: the job callable, called as ``fn(spec_dict, store_root)``; default :class:`RunJob`.
        grid: name for the manifest folder; default: the specs' grid label.
        skip_existing: leave out specs that already have a record.
        skip_active: leave out specs whose job from an earlier launch is still pending or running, and
            specs another launch holds a live claim on (``bench.claims``: a cell shared by two grids).
        resume: the jobs reuse earlier episode results and checkpoints (``--resume``); by default a new
            submission starts each run fresh, and only its own requeued jobs resume.
        redo: the jobs discard what an earlier run left, a pending record included (``--redo``).
        needs: ``needs(spec)`` lists the artefacts a spec consumes; default :func:`bench.artefacts.consumes`
            (the method's registered function). Missing ones get one producer job each (see
            :func:`submit_producers`), and their consumers run after them.
        producer_fn: the producer job callable, called as ``producer_fn(artefact_dict)``; default
            :class:`bench.job.ProducerJob`.

    Returns:
        A :class:`Launch`: the jobs in the order of ``launch.run_ids``, and ``launch.manifest_path``.
    """
    executor = executor or profile.get("executor") or "slurm"
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; accepted: {', '.join(EXECUTORS)}")
    store = Store(store_root)
    root = store.root.absolute()
    grid = _grid_name(specs, grid)
    unique = {s.run_id: s for s in specs}
    skipped = [r for r in unique if skip_existing and store.has(r)]
    if skip_active:
        active = active_run_ids(root, grid)
        skipped += [r for r in unique if r in active and r not in skipped]
    todo = [s for r, s in unique.items() if r not in skipped]
    token = uuid.uuid4().hex
    todo, held = _claim(root, todo, token, grid) if skip_active else (todo, {})
    skipped += list(held)
    if skipped:
        log.info("%s: %d run(s) already recorded, running or claimed, not submitted", grid, len(skipped))
    if not todo:
        return Launch(skipped=skipped)
    fn = fn if fn is not None else RunJob()
    if isinstance(fn, RunJob):  # a copy that carries this submission: its requeued jobs resume, new ones do not
        fn = copy.copy(fn)
        fn.submission, fn.resume, fn.redo = token, resume, redo
    folder = Path(folder) if folder is not None else default_folder(grid)
    is_runjob = isinstance(fn, RunJob)
    if is_runjob:
        spec_dicts = [{**s.to_dict(), EXPECTED_RUN_ID: s.run_id} for s in todo]
    else:
        spec_dicts = [s.to_dict() for s in todo]
    roots = [str(root)] * len(todo)
    try:
        producers = submit_producers(todo, executor, profile, folder, grid, needs=needs, producer_fn=producer_fn,
                                     store_root=root)
        if producers.needs_any:
            fn = producers.consumer(fn, timeout_s=60.0 * float(profile.get("timeout_min") or 60) * 4)
            fn.submission = token  # a consumer failing for want of its artefact releases the run's claim
        if executor == "slurm" and producers.jobs:
            jobs = _submit_after(producers, todo, fn, spec_dicts, roots, profile, folder, grid)
        elif executor == "debug":
            jobs: list[Any] = [InlineJob(f"inline-{i}", fn, (d, r)) for i, (d, r) in enumerate(zip(spec_dicts, roots))]
        elif executor == "local" and profile.get("array_parallelism", 0) < len(todo):
            # the local executor has no parallelism cap: p sequential jobs share the specs round-robin
            p = max(1, int(profile["array_parallelism"]))
            chunks = [spec_dicts[i::p] for i in range(p)]
            ex = make_executor(executor, {**profile, "name": profile.get("name") or f"bench-{grid}"}, folder)
            chunk_jobs = list(ex.map_array(SequentialJob(fn), chunks, [str(root)] * p))
            jobs = [chunk_jobs[i % p] for i in range(len(todo))]
        else:
            ex = make_executor(executor, {**profile, "name": profile.get("name") or f"bench-{grid}"}, folder)
            jobs = list(ex.map_array(fn, spec_dicts, roots))
    except BaseException:
        for s in todo:
            claims.release(root, s.run_id, token)
        raise
    for s, j in zip(todo, jobs):
        if executor == "debug":
            claims.release(root, s.run_id, token)  # it ran already, here
        else:
            pid_start = claims.proc_start_time(int(j.job_id)) if executor == "local" else None
            claims.set_job(root, s.run_id, token, executor, str(j.job_id), pid_start)
    path = _write_manifest(root, grid, executor, folder, profile, todo, jobs, skipped, token,
                           producers if producers.needs_any else None)
    log.info("%s: submitted %d run(s) to %s (manifest %s)", grid, len(jobs), executor, path)
    return Launch(jobs, [s.run_id for s in todo], path, skipped, producers)


def _claim(root: Path, todo: Sequence[RunSpec], token: str, grid: str) -> tuple[list[RunSpec], dict[str, Any]]:
    """Claim each run id for this submission; the specs claimed, and run id -> the live claim of the others."""
    mine, held = [], {}
    for s in todo:
        other = claims.claim(root, s.run_id, token, grid=grid)
        if other is None:
            mine.append(s)
        else:
            held[s.run_id] = other
            log.info("%s: run %s is claimed by %s (grid %s); not submitted twice", grid, s.run_id,
                     other.get("job") or f"pid {other.get('pid')} on {other.get('host')}", other.get("grid"))
    return mine, held


# ----------------------------------------------------------------------------------------------
# producers of shared artefacts (bench.artefacts) and consumers that run after them


class ProducerLaunch:
    """The producer jobs of one launch and what each consumer needs.

    Attributes:
        planned: run id -> the artefacts it consumes.
        artefacts: key -> artefact, for the missing ones a producer was submitted for.
        jobs: key -> the producer job making it (several keys may share one local/debug job).
    """

    def __init__(self, planned: dict[str, list[artefacts.Artefact]], missing: dict[str, artefacts.Artefact],
                 jobs: dict[str, Any], local: bool = False) -> None:
        self.planned, self.artefacts, self.jobs, self.local = planned, missing, jobs, local

    @property
    def needs_any(self) -> bool:
        return any(self.planned.values())

    def waits(self, executor: str) -> dict[str, dict[str, str]]:
        return {k: {"executor": executor, "job_id": str(j.job_id)} for k, j in self.jobs.items()}

    def consumer(self, fn: Callable[[dict[str, Any], str], Any], timeout_s: float | None = None):
        executor = ("local" if any(isinstance(j, submitit.LocalJob) for j in self.jobs.values()) or self.local
                    else "other")
        needs = {r: [a.to_dict() for a in arts] for r, arts in self.planned.items() if arts}
        return artefacts.Consumer(fn, needs, self.waits(executor), timeout_s=timeout_s)

    def manifest_entries(self, executor: str) -> list[dict[str, Any]]:
        """For ``bench status``: every artefact the launch's cells consume, and its producer job if one was sent."""
        seen: dict[str, dict[str, Any]] = {}
        for arts in self.planned.values():
            for a in arts:
                if a.key in seen:
                    continue
                job = self.jobs.get(a.key)
                entry = {"key": a.key, "kind": a.kind, "label": a.label, "path": str(a.path),
                         "job_id": str(job.job_id) if job is not None else None}
                if executor == "debug" and job is not None:
                    entry["state"] = job.state
                seen[a.key] = entry
        return list(seen.values())


def submit_producers(todo: Sequence[RunSpec], executor: str, profile: dict[str, Any], folder: Path, grid: str,
                     needs: Callable[[RunSpec], list[artefacts.Artefact]] | None = None,
                     producer_fn: Callable[[dict[str, Any]], Any] | None = None,
                     store_root: Path | str | None = None) -> ProducerLaunch:
    """Submit one producer per artefact that ``todo`` consumes and that does not exist yet.

    A producer that an earlier launch into the same results (any grid) submitted and that is still
    pending or running is waited for instead of submitted again.

    debug: the producers run here, before any consumer. local: ``array_parallelism`` processes
    share them (like :class:`SequentialJob`). slurm: one job array of producers; the consumers are
    then submitted with ``afterok`` dependencies on them (:func:`_submit_after`).
    """
    planned = artefacts.plan(todo, needs)
    missing = artefacts.missing(planned)
    if not missing:
        return ProducerLaunch(planned, {}, {})
    running = _running_producers(missing, executor, store_root) if store_root is not None else {}
    arts = [a for k, a in missing.items() if k not in running]
    if not arts:
        return ProducerLaunch(planned, missing, running, local=executor == "local")
    from bench import job  # its ProducerJob: the worker imports bench.job, which registers the job services

    pfn = producer_fn if producer_fn is not None else job.ProducerJob()
    dicts = [a.to_dict() for a in arts]
    log.info("%s: %d producer(s) to run first: %s", grid, len(arts), ", ".join(a.describe() for a in arts))
    if executor == "debug":
        jobs = [InlineJob(f"inline-producer-{i}", pfn, (d,)) for i, d in enumerate(dicts)]
    else:
        name = f"bench-{grid}-producers"
        ex = make_executor(executor, {**profile, "name": profile.get("name") or name}, folder)
        if executor == "local" and profile.get("array_parallelism", 0) < len(arts):
            p = max(1, int(profile["array_parallelism"]))
            chunks = [dicts[i::p] for i in range(p)]
            chunk_jobs = list(ex.map_array(artefacts.SequentialProducers(pfn), chunks))
            jobs = [chunk_jobs[i % p] for i in range(len(arts))]
        else:
            jobs = list(ex.map_array(pfn, dicts))
    return ProducerLaunch(planned, missing, {**running, **{a.key: j for a, j in zip(arts, jobs)}},
                          local=executor == "local")


class _SubmittedJob:
    """A producer job that an earlier launch submitted and that is still pending or running."""

    def __init__(self, job_id: str, state: str = "RUNNING") -> None:
        self.job_id, self.state = job_id, state


def _running_producers(missing: dict[str, artefacts.Artefact], executor: str,
                       store_root: Path | str) -> dict[str, Any]:
    """Producers of ``missing`` artefacts already pending or running from an earlier launch (any grid)."""
    from bench.follow import manifests

    try:
        active = artefacts.active_producers(manifests(store_root), executor)
    except Exception as e:  # noqa: BLE001 - a scheduler we cannot ask: submit the producers again
        log.warning("cannot read the state of earlier producers (%s); submitting them again", e)
        return {}
    found = {k: _SubmittedJob(v["job_id"]) for k, v in active.items() if k in missing}
    for k, v in found.items():
        log.info("artefact %s: waiting for producer job %s of an earlier launch", k, v.job_id)
    return found


def dependency_groups(producers: ProducerLaunch, todo: Sequence[RunSpec]) -> dict[tuple[str, ...], list[int]]:
    """Consumers grouped by the producer job ids they wait for (one SLURM array per group)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, s in enumerate(todo):
        deps = sorted({str(producers.jobs[a.key].job_id) for a in producers.planned.get(s.run_id, [])
                       if a.key in producers.jobs})
        groups.setdefault(tuple(deps), []).append(i)
    return groups


def _submit_after(producers: ProducerLaunch, todo: Sequence[RunSpec], fn: Callable[..., Any],
                  spec_dicts: list[dict[str, Any]], roots: list[str], profile: dict[str, Any], folder: Path,
                  grid: str) -> list[Any]:
    """Submit the consumers to SLURM, each group with ``--dependency=afterok:<its producers>``.

    ``--kill-on-invalid-dep=yes``: when a producer fails, SLURM cancels the consumers waiting on it
    instead of keeping them pending forever; ``bench status`` then shows the producer's error.
    """
    jobs: list[Any] = [None] * len(todo)
    for deps, idx in dependency_groups(producers, todo).items():
        extra = dict(profile.get("additional_parameters") or {})
        if deps:
            extra.update(dependency="afterok:" + ":".join(deps), kill_on_invalid_dep="yes")
        ex = make_executor("slurm", {**profile, "name": profile.get("name") or f"bench-{grid}",
                                     "additional_parameters": extra}, folder)
        for i, job in zip(idx, ex.map_array(fn, [spec_dicts[i] for i in idx], [roots[i] for i in idx])):
            jobs[i] = job
    return jobs
