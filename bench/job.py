"""What one job does: resolve a spec, run its protocol's episodes with MMEngine, write one record.

``prepare`` resolves and checks everything that can be checked before training (method,
protocol, compatibility, dataset roots, overrides, weights files, annotation lists), so that
bad input fails before any work. ``run`` executes the episodes and writes the record atomically.
A failure writes a failure file instead of a record and re-raises.

What a run does with what an earlier attempt left in its work directory (``work_dirs/<run id>``):

- a fresh run (``bench run``, ``--redo``, a rerun after a record was deleted or a job failed)
  moves every earlier episode result and checkpoint aside, to
  ``work_dirs/.discarded/<run id>/<time>/``, and starts from nothing: a number is never restored
  from files an earlier code version or an earlier input wrote;
- a requeued job of the same submission (preemption, time limit: submitit resubmits the same
  call, with the same submission token) resumes: finished episodes are reused and the episode
  in progress restarts from its last MMEngine checkpoint;
- ``--resume`` asks for the same on a new submission.

The record says which (``resumed``), and from what. A record that cannot be written into the
results directory (read-only, full) is kept in the work dir as ``pending_record.json`` and a
failure file names the cause; the next run of the same id publishes it as it is (with the code
version that computed it) instead of training again, unless it is a ``--redo``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import platform
import socket
import subprocess
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from bench import artefacts, settings
from bench import identity as _identity  # noqa: F401 - registers how a RunSpec resolves (bench.spec)
from bench.errors import BenchError, ConfigError, ValidationError
from bench.spec import RunSpec, canonical_json
from bench.store import RECORD_SCHEMA_VERSION, Store, atomic_write_json

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
ATTEMPT_FILE = "attempt.json"
PENDING_RECORD = "pending_record.json"
DISCARDED = ".discarded"


@dataclasses.dataclass
class Prepared:
    spec: RunSpec
    method: Any
    protocol: Any
    dataset: Any
    cfg: Any
    episodes: list


def _resolve_cfg(spec: RunSpec):
    from bench.identity import resolved_config

    spec.run_id  # noqa: B018 - resolving the identity resolves the config once
    cfg = spec.__dict__.pop("_cfg", None)
    cfg = cfg if cfg is not None else resolved_config(spec)
    _method_configure(cfg, spec)  # run-time adjustments (e.g. ftp's accumulation for the ranks at hand): not hashed
    return cfg


def _method_configure(cfg, spec: RunSpec) -> None:
    """The method's own adjustment of a resolved config (``MethodInfo.configure``), if it declares one."""
    from bench.method import get_method

    configure = getattr(get_method(spec.method), "configure", None)
    if configure is not None:
        configure(cfg, spec)


def weight_sources(cfg) -> dict[str, Any]:
    """Every weights field of the model config, resolved to a file with its sha256 (cached)."""
    from bench.identity import weights_identity
    from bench.models.weights import check_config  # issue 16: recognised layout, activation, ignored keys

    found = weights_identity(cfg)
    for row in check_config(cfg):
        if found.get(row["where"]) and row["status"] == "ok":
            found[row["where"]].update({k: row.get(k) for k in ("layout", "activation", "ignored")})
    return found


# (ann_file, size, mtime_ns, video_root, num_classes) -> number of videos: each list is checked once per process
_CHECKED_LISTS: dict[tuple[str, int, int, str, int], int] = {}


def check_list_once(ann_file: Path, video_root: Path, num_classes: int, source: str,
                    classes: list[str] | None = None, multilabel: bool = False) -> int:
    """``check_list`` (every video exists, every label in range, class folders agree with labels, no 1-based
    labels), once per list version and process."""
    from bench.data.catalog import check_list

    st = Path(ann_file).stat()
    key = (str(Path(ann_file).resolve()), st.st_size, st.st_mtime_ns, str(video_root), num_classes,
           tuple(classes) if classes is not None else None, bool(multilabel))
    if key not in _CHECKED_LISTS:
        _CHECKED_LISTS[key] = check_list(ann_file, video_root, num_classes, source=source, classes=classes,
                                         multilabel=multilabel)
    return _CHECKED_LISTS[key]


def _check(spec: RunSpec) -> Prepared:
    from bench.data.catalog import get_dataset
    from bench.method import get_method
    from bench.validation import spec_origin
    from protocols.base import build_protocol

    where = f"{spec_origin(spec)}, run {spec.run_id}"
    method = get_method(spec.method, where)
    protocol = build_protocol(spec.protocol, spec.protocol_args, where)
    if not method.supports(spec.protocol):
        raise ConfigError(
            f"method {spec.method!r} does not support protocol {spec.protocol!r} "
            f"(it supports: {', '.join(method.protocols)})"
        )
    dataset = get_dataset(spec.dataset, where)
    cfg = _resolve_cfg(spec)
    from bench.models.weights import validate_config  # issue 16: each weights file exists, is known and fits

    validate_config(cfg, where)
    weight_sources(cfg)  # raises when a weights file is missing
    episodes = protocol.plan(spec, method, dataset)
    for ep in episodes:
        for split, classes in ((ep.train, ep.train_classes or ep.classes), (ep.test, ep.classes)):
            if split is not None:
                check_list_once(split.ann_file, split.video_root, len(classes), source=f"dataset {split.dataset}",
                                classes=classes, multilabel=split.multilabel)
    error = spec.resolve_error()
    if error is not None:  # never run (and record) under an id that does not name the data and weights
        raise ConfigError(f"{where}: the run's identity (data and weights hashes) cannot be computed: {error}")
    return Prepared(spec, method, protocol, dataset, cfg, episodes)


def prepare(spec: RunSpec, planning: bool = False) -> Prepared:
    """Resolve ``spec`` and check it; raises a BenchError naming the first problem.

    ``planning``: derived lists go to a temporary directory (validation writes nothing into ``work_dirs``);
    the returned episodes then point at files that no longer exist.
    """
    from bench.validation import check_spec_fields
    from protocols.lists import planning_dir

    check_spec_fields(spec)
    if planning:
        with planning_dir():
            return _check(spec)
    return _check(spec)


def validate(spec: RunSpec) -> list[str]:
    """Problems with ``spec`` as a list of messages (empty when it can run). Writes nothing."""
    try:
        prepare(spec, planning=True)
    except BenchError as e:
        return [str(e)]
    return []


def validate_cells(specs: list[RunSpec], what: str = "grid") -> None:
    """Check every cell as the job would before training; raise one error listing all problems."""
    problems = []
    seen: dict[str, list[str]] = {}  # a cell shared by several cases (same fields) is checked once
    checked: set[str] = set()  # producers already checked
    for spec in specs:
        key = canonical_json(spec.fields())
        if key not in seen:
            seen[key] = validate(spec) or _artefact_problems(spec, checked)
        for p in seen[key]:
            problems.append(f"cell #{spec.cell} ({spec.case or spec.run_id}): {p}")
    if problems:
        raise ValidationError(problems, what=what)


def _artefact_problems(spec: RunSpec, checked: set[str]) -> list[str]:
    """Problems with the producers a cell needs (``bench.artefacts``): each producer's own run is checked too."""
    from bench import artefacts

    try:
        arts = artefacts.consumes(spec)
    except BenchError as e:
        return [f"its shared artefacts: {e}"]
    problems = []
    for a in arts:
        pspec = a.job.get("spec")
        if a.done() or not pspec or a.key in checked:
            continue
        checked.add(a.key)
        problems += [f"producer of {a.describe()}: {p}" for p in validate(RunSpec.from_dict(pspec))]
    return problems


def _torch():
    import torch

    return torch


def code_version() -> dict[str, Any]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", False
    from bench import __version__

    return {"git_sha": sha or None, "dirty": dirty, "package_version": __version__}


def cpu_info() -> dict[str, str | None]:
    """The CPU a record's floats came from: its model name and the kernel set torch dispatches to.

    A CPU run's figures depend on them (the same seed on another CPU family can move a test video; see
    docs/DECISIONS.md, "The effect tests' figures depend on the CPU"), so a record names them beside the
    thread count."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        capability = _torch().backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        capability = None
    return {"cpu": model or platform.processor() or None, "cpu_capability": capability}


def code_during_run(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """The record's ``code``: the checkout's state when the run started, which is the code its imports loaded.

    A checkout that moved or changed while the run trained (a commit, an edit, a pull) is not what every
    module of the run loaded: the state at the end is then kept beside it as ``code_at_end``, so such a
    record says so instead of naming the later commit alone."""
    return dict(start) if end == start else {**start, "code_at_end": dict(end)}


def _episode_results(prep: Prepared, ctx) -> list[dict[str, Any]]:
    results = []
    for ep in prep.episodes:
        done = ctx.work_dir / ep.name / "episode_result.json"
        if ctx.resume and done.exists():
            log.info("episode %s already finished in this submission; reusing %s", ep.name, done)
            results.append(json.loads(done.read_text()))
            continue
        log.info("episode %s: %d classes", ep.name, len(ep.classes))
        metrics = prep.protocol.run_episode(ctx, ep)
        result = {"episode": ep.describe(), "metrics": metrics, "config": ctx.configs.get(ep.name)}
        atomic_write_json(done, result)
        results.append(result)
    return results


def _inventory(work_dir: Path) -> dict[str, list[str]]:
    """What an earlier attempt left: finished episodes and MMEngine checkpoints (paths relative to the dir)."""
    if not work_dir.is_dir():
        return {"episode_results": [], "checkpoints": []}
    rel = lambda ps: sorted(str(p.relative_to(work_dir)) for p in ps)  # noqa: E731
    return {"episode_results": rel(work_dir.glob("*/episode_result.json")),
            "checkpoints": rel([*work_dir.glob("*/*.pth"), *work_dir.glob("*/last_checkpoint")])}


def _read_attempt(work_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((work_dir / ATTEMPT_FILE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def discard_work_dir(work_dir: Path, why: str) -> Path | None:
    """Move a run directory's contents aside (``<work root>/.discarded/<run id>/<time>``); returns where."""
    if not work_dir.is_dir() or not any(work_dir.iterdir()):
        return None
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dest = work_dir.parent / DISCARDED / work_dir.name / f"{stamp}-{why}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work_dir, dest)  # same file system: atomic, nothing copied, nothing lost
    log.warning("run %s: earlier results and checkpoints moved aside to %s (%s)", work_dir.name, dest, why)
    return dest


def plan_work_dir(work_dir: Path, *, resume: bool = False, submission: str | None = None,
                  redo: bool = False) -> dict[str, Any]:
    """What this attempt may reuse from earlier attempts (reads only; every task of a job decides alike).

    Returns the record's ``resumed`` entry: ``{"resumed": bool, "why": ..., "from": inventory}``, with
    ``"discard": True`` when earlier files must be moved aside first. See the module docstring for the rules.
    """
    previous = _read_attempt(work_dir)
    found = _inventory(work_dir)
    anything = bool(found["episode_results"] or found["checkpoints"])
    if resume and not redo:
        return {"resumed": anything, "why": "--resume", "from": found}
    if submission is not None and previous.get("submission") == submission:
        return {"resumed": anything, "why": f"requeued job of submission {submission}", "from": found}
    return {"resumed": False, "why": "redo" if redo else "fresh run", "from": None, "discard": True}


def apply_work_dir(work_dir: Path, info: dict[str, Any], *, resume: bool = False, submission: str | None = None,
                   redo: bool = False) -> dict[str, Any]:
    """Carry out ``plan_work_dir``'s decision (rank 0 only): move earlier files aside, mark the dir as ours."""
    info = dict(info)
    if info.pop("discard", False):
        dest = discard_work_dir(work_dir, "redo" if redo else "fresh")
        if dest is not None:
            info["discarded"] = str(dest)
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work_dir / ATTEMPT_FILE, {
        "submission": submission or f"direct-{uuid.uuid4().hex}", "host": socket.gethostname(), "pid": os.getpid(),
        "started": time.time(), "resume": resume, "redo": redo, "slurm_job_id": _slurm_job_id()})
    return info


def open_work_dir(work_dir: Path, *, resume: bool = False, submission: str | None = None,
                  redo: bool = False) -> dict[str, Any]:
    """``plan_work_dir`` then ``apply_work_dir`` in one process; returns the record's ``resumed`` entry."""
    info = plan_work_dir(work_dir, resume=resume, submission=submission, redo=redo)
    return apply_work_dir(work_dir, info, resume=resume, submission=submission, redo=redo)


def _slurm_job_id() -> str | None:
    """``<array job>_<task>`` for an array task, else the job id (None outside SLURM)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def _decode_failures(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"count": 0, "paths": []}
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return {"count": len(lines), "paths": sorted({x["path"] for x in lines})[:50]}


def _barrier() -> None:
    try:
        import torch.distributed as dist
    except ImportError:
        return
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _write_failure(store: Store, work_dir: Path, info: dict[str, Any]) -> None:
    try:
        store.write_failure(info["run_id"], info)
    except OSError as e:  # the results directory is read-only or full: keep it next to the run
        info["failure_file_error"] = f"{type(e).__name__}: {e}"
        atomic_write_json(work_dir / "failure.json", info)


def run(spec: RunSpec, store_root: str | Path | None = None, resume: bool = False, *,
        submission: str | None = None, redo: bool = False, expected_run_id: str | None = None) -> dict[str, Any]:
    """Run ``spec`` and write its record; returns the record.

    Args:
        resume: reuse earlier episode results and checkpoints of this run id (``--resume``).
        submission: the launcher's token of this submission; a requeued job with the same token resumes.
        redo: discard everything earlier, a pending record included (``--redo``).
        expected_run_id: the id the launcher computed; a different id here (the inputs changed between
            submission and run) fails instead of writing a record the launcher does not look for.
    """
    from bench.dist import is_rank_zero

    store = Store(store_root)
    work_dir = settings.work_root() / spec.run_id
    started = time.time()
    record: dict[str, Any] | None = None
    try:
        actual = RunSpec.from_dict(spec.to_dict()).run_id if expected_run_id is not None else spec.run_id
        if expected_run_id is not None and expected_run_id != actual:
            raise ConfigError(
                f"run {expected_run_id} was submitted, but its inputs resolve to run id {actual} where the job "
                f"runs (a split file, class list, weights file or config changed since submission, or differs on "
                f"this host); submit it again")
        pending = work_dir / PENDING_RECORD
        if not redo and pending.exists():
            record = _pending_record(pending, spec)
        if record is None:
            resumed = plan_work_dir(work_dir, resume=resume, submission=submission, redo=redo)
            _barrier()  # every task has decided before rank 0 moves anything
            if is_rank_zero():
                resumed = apply_work_dir(work_dir, resumed, resume=resume, submission=submission, redo=redo)
            resumed.pop("discard", None)
            _barrier()
            record = _run(spec, work_dir, started, resumed)
            record["submission"] = submission
    except Exception as e:  # a preemption (SystemExit from submitit's handler) is not a failure
        _write_failure(store, work_dir, {
            "run_id": spec.run_id, "spec": spec.to_dict(), "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(), "work_dir": str(work_dir), "host": socket.gethostname(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "time": time.time(),
        })
        raise
    if is_rank_zero():  # in a multi-task job only rank 0 writes the record
        try:
            if "predictions" not in record:  # issue 23: per-video predictions and CIs, written before the record
                from bench import predictions

                predictions.attach(record, store.root, work_dir, keep_scores=settings.keep_scores())
            store.write(record)
        except OSError as e:
            atomic_write_json(work_dir / PENDING_RECORD, record)
            error = (f"{type(e).__name__}: cannot write the record into {store.runs} ({e}); it is kept in "
                     f"{work_dir / PENDING_RECORD} and the next run of {spec.run_id} publishes it without training")
            _write_failure(store, work_dir, {"run_id": spec.run_id, "spec": spec.to_dict(), "error": error,
                                             "work_dir": str(work_dir), "host": socket.gethostname(),
                                             "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "time": time.time()})
            raise OSError(error) from e
        (work_dir / PENDING_RECORD).unlink(missing_ok=True)
    return record


def _pending_record(path: Path, spec: RunSpec) -> dict[str, Any] | None:
    """A complete record an earlier attempt could not store, if it is this run's."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("run_id") != spec.run_id:
        return None
    log.warning("run %s: publishing the record an earlier attempt could not store (%s)", spec.run_id, path)
    record["published_late"] = {"from": str(path), "time": time.time()}
    return record


def _trained_config(results: list[dict[str, Any]], cfg) -> dict[str, Any]:
    """The config that trained: the first training episode's (after the protocol set epochs, frames, lists)."""
    configs = [r.get("config") for r in results if r.get("config")]
    trained = [r["config"] for r in results if r.get("config") and r["episode"].get("train")]
    return (trained or configs or [cfg.to_dict()])[0]


def _consumed_artefacts(spec: RunSpec, work_dir: Path) -> list[dict[str, Any]]:
    """Check that the artefacts ``spec`` consumes exist (else its producer's error) and list them in
    ``<work_dir>/artefacts.json``, where the method's code finds them (e.g. ftp's stage-1 processors)."""
    from bench import artefacts

    arts = artefacts.consumes(spec)
    artefacts.require(arts)
    consumed = artefacts.consumed(arts)
    atomic_write_json(work_dir / "artefacts.json", consumed)
    return consumed


def _run(spec: RunSpec, work_dir: Path, started: float, resumed: dict[str, Any]) -> dict[str, Any]:
    from bench.text.build import LOADED
    from protocols.engine import RunContext

    LOADED.clear()
    code = code_version()  # before the method's modules are imported: the code this run loads
    prep = prepare(spec)
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work_dir / "spec.json", spec.to_dict())
    consumed = _consumed_artefacts(spec, work_dir)
    ctx = RunContext(spec=spec, method=prep.method, cfg=prep.cfg, work_dir=work_dir,
                     resume=bool(resumed.get("resumed")))
    results = _episode_results(prep, ctx)
    metrics = prep.protocol.aggregate([r["metrics"] for r in results])
    from bench.job_flops import flops_of

    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "run_id": spec.run_id,
        "grid": spec.grid,
        "case": spec.case,
        "method": spec.method,
        "variant": spec.size,
        "protocol": spec.protocol,
        "protocol_version": prep.protocol.version,
        "protocol_args": dict(prep.protocol.args),
        "dataset": spec.dataset,
        "data_source": prep.dataset.source,
        "split": prep.protocol.args.get("test_split"),
        "seed": spec.seed,
        "metrics": metrics,
        "episodes": [{k: v for k, v in r.items() if k != "config"} for r in results],
        "flops": flops_of(prep),
        "decode_failures": _decode_failures(ctx.failure_log),
        "text": list(LOADED),
        "artefacts": consumed,
        "config": _trained_config(results, prep.cfg),
        "weights": weight_sources(prep.cfg),
        "identity": spec.identity(),
        "resumed": resumed,
        "code": code_during_run(code, code_version()),
        "host": {"hostname": socket.gethostname(), "python": platform.python_version(),
                 "torch": _torch().__version__, "torch_threads": _torch().get_num_threads(), **cpu_info()},
        "times": {"started": started, "finished": time.time(), "wall_s": time.time() - started},
        "slurm_job_id": _slurm_job_id(),
        "spec": spec.to_dict(),
        "work_dir": str(work_dir),
    }


# ----------------------------------------------------------------------------------------------
# services for methods' artefact producers and consumers (bench.artefacts.job_service)


def _register_services() -> None:
    for name, fn in (("resolve_cfg", _resolve_cfg), ("prepare", prepare), ("weight_sources", weight_sources)):
        artefacts.register_job_service(name, fn)


_register_services()


class ProducerJob(artefacts.ProducerJob):
    """``bench.artefacts.ProducerJob`` pickled from this module: the worker that unpickles it imports
    ``bench.job``, so the services above are registered before the producer runs."""
