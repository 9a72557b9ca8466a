"""Producer/consumer artefacts: work that several grid cells share, made once and named by its content.

An :class:`Artefact` is the output of a *producer* step of a method (ftp's stage-1 processors of
one prompt letter on one dataset and encoder, for instance). Its key is a hash of ``identity``,
everything that determines the output (encoder and weights, dataset, schedule, seed, ...); what
the producer needs to run but that does not change the output (``job``) is not hashed. A cell
(:class:`bench.spec.RunSpec`) *consumes* artefacts: a method registers a function
``consumes(spec) -> [Artefact]`` and a producer per artefact kind.

Layout, under :func:`root` (``$BENCH_ARTEFACTS``, default ``$BENCH_HOME/artefacts``)::

    <kind>/<key>/artefact.json   # written last: its presence means the artefact is complete
    <kind>/<key>/<files>         # what the producer wrote (sha256 of each in artefact.json)
    <kind>/<key>.failed.json     # the last failure of its producer (removed when it succeeds)

A producer writes into a temporary directory that is renamed into place at the end, so a killed
producer leaves no partial artefact; two producers of the same key racing keep the first one.
The launcher (``bench.launch.submit``) submits each missing producer once and its consumers after
it (SLURM: ``afterok`` dependencies; local: the consumer waits for the producer's process;
debug: producers run first). A consumer whose artefact is missing fails with its producer's error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import BenchError, ConfigError
from bench.spec import short_hash
from bench.store import atomic_write_json

log = logging.getLogger(__name__)
MANIFEST = "artefact.json"
FORMAT = 1

ProducerFn = Callable[["Artefact", Path], dict[str, Any] | None]
ConsumesFn = Callable[[Any], list["Artefact"]]
_PRODUCERS: dict[str, ProducerFn] = {}
_CONSUMERS: dict[str, ConsumesFn] = {}


class ArtefactError(BenchError):
    """A consumed artefact is missing: its producer failed, was killed, or never ran."""


def root() -> Path:
    """Where artefacts live: ``$BENCH_ARTEFACTS``, else ``<BENCH_HOME>/artefacts``."""
    env = os.environ.get("BENCH_ARTEFACTS")
    return Path(env).expanduser().absolute() if env else settings.home() / "artefacts"


@dataclasses.dataclass(frozen=True)
class Artefact:
    """One named, content-addressed output of a producer step.

    Attributes:
        kind: the producer kind, e.g. ``ftp.stage1`` (a registered producer).
        label: the artefact's name inside its consumers, e.g. the prompt letter ``A``.
        identity: everything that determines the output; hashed into :attr:`key`.
        job: what the producer needs to make it (not hashed: any consumer's copy will do).
        module: the module that registers the producer of ``kind`` (imported by the producer job).
    """

    kind: str
    label: str
    identity: dict[str, Any]
    job: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    module: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind.replace('.', '-')}-{short_hash({'format': FORMAT, **self.identity}, 16)}"

    @property
    def path(self) -> Path:
        return root() / self.kind / self.key

    @property
    def failure_path(self) -> Path:
        return root() / self.kind / f"{self.key}.failed.json"

    def done(self) -> bool:
        return (self.path / MANIFEST).exists()

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text())

    def failure(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.failure_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def describe(self) -> str:
        return f"{self.kind} {self.label} ({self.key})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Artefact:
        return cls(**d)


# ----------------------------------------------------------------------------------------------
# registries


# Services of the job layer (``bench.job``) that a method's producer or consumer calls back: the resolved config
# of a spec (``resolve_cfg``), a prepared run (``prepare``), the weights files a config reads
# (``weight_sources``). ``bench.job`` registers them when it is imported (the launcher imports it, and a producer
# job is a ``bench.job.ProducerJob``); asking before that is refused, never guessed.
_JOB_SERVICES: dict[str, Callable[..., Any]] = {}


def register_job_service(name: str, fn: Callable[..., Any]) -> None:
    _JOB_SERVICES[name] = fn


def job_service(name: str) -> Callable[..., Any]:
    """The job layer's ``name`` service (see ``_JOB_SERVICES``)."""
    try:
        return _JOB_SERVICES[name]
    except KeyError:
        raise ConfigError(f"job service {name!r} is registered by bench.job when it is imported; import bench.job "
                          f"first (registered: {sorted(_JOB_SERVICES) or 'none'})") from None


def register_producer(kind: str, fn: ProducerFn) -> None:
    """``fn(artefact, out_dir)`` writes the artefact's files into ``out_dir`` and returns metadata."""
    _PRODUCERS[kind] = fn


def register_consumer(method: str, fn: ConsumesFn) -> None:
    """``fn(spec)`` lists the artefacts a cell of ``method`` consumes (may be empty)."""
    _CONSUMERS[method] = fn


def consumes(spec: Any) -> list[Artefact]:
    """The artefacts ``spec`` consumes, through its method's registered function (none by default)."""
    if spec.method not in _CONSUMERS:
        try:  # importing the method's package registers its consumer function
            from bench.method import get_method

            get_method(spec.method)
        except BenchError:
            return []
    fn = _CONSUMERS.get(spec.method)
    return list(fn(spec)) if fn else []


def _producer(art: Artefact) -> ProducerFn:
    if art.kind not in _PRODUCERS and art.module:
        importlib.import_module(art.module)
    if art.kind not in _PRODUCERS:
        raise ConfigError(f"artefact {art.describe()}: no producer registered for kind {art.kind!r} "
                          f"(module {art.module or 'not named'}); registered: {sorted(_PRODUCERS) or 'none'}")
    return _PRODUCERS[art.kind]


# ----------------------------------------------------------------------------------------------
# producing and consuming


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def produce(art: Artefact, fn: ProducerFn | None = None) -> dict[str, Any]:
    """Make ``art`` unless it exists; returns its manifest. A failure is written next to it and re-raised."""
    if art.done():
        return art.manifest()
    fn = fn or _producer(art)
    tmp = art.path.with_name(f".{art.key}.tmp-{socket.gethostname()}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.time()
    try:
        meta = fn(art, tmp) or {}
        files = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "key": art.key, "kind": art.kind, "label": art.label, "identity": art.identity, "format": FORMAT,
            "files": files, "meta": meta, "host": socket.gethostname(), "slurm_job_id": _slurm_job_id(),
            "times": {"started": started, "finished": time.time(), "wall_s": time.time() - started},
        }
        atomic_write_json(tmp / MANIFEST, manifest)
        try:
            os.rename(tmp, art.path)
        except OSError:  # another producer of the same key finished first: keep its artefact
            if not art.done():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        atomic_write_json(art.failure_path, {
            "key": art.key, "kind": art.kind, "label": art.label, "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(), "host": socket.gethostname(), "slurm_job_id": _slurm_job_id(),
            "time": time.time(),
        })
        raise
    try:
        art.failure_path.unlink()
    except FileNotFoundError:
        pass
    log.info("artefact %s made in %.1f s", art.describe(), time.time() - started)
    return art.manifest()


def missing_error(art: Artefact, job_state: str | None = None) -> ArtefactError:
    """The error of a consumer whose artefact ``art`` is not there: its producer's own error when known."""
    failure = art.failure()
    if failure:
        why = f"its producer failed: {failure['error']}"
    elif job_state:
        why = f"its producer job ended ({job_state}) without making it (killed?)"
    else:
        why = "it was never produced (submit the grid through bench run, which submits its producers first)"
    return ArtefactError(f"artefact {art.describe()} is missing under {art.path.parent}: {why}")


def require(arts: Iterable[Artefact], job_state: str | None = None) -> None:
    """Raise :class:`ArtefactError` for the first artefact of ``arts`` that is not complete."""
    for art in arts:
        if not art.done():
            raise missing_error(art, job_state)


def consumed(arts: Iterable[Artefact]) -> list[dict[str, Any]]:
    """What a record says about the artefacts its run loaded: kind, label, key, path, files' sha256."""
    out = []
    for art in arts:
        m = art.manifest()
        out.append({"kind": art.kind, "label": art.label, "key": art.key, "path": str(art.path),
                    "files": m.get("files", {}), "producer_slurm_job_id": m.get("slurm_job_id")})
    return out


def _slurm_job_id() -> str | None:
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


# ----------------------------------------------------------------------------------------------
# jobs


def _import_submitit():
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import submitit

    return submitit


class ProducerJob:
    """The callable of a producer job: ``produce`` one artefact (given as a dict). Checkpointable."""

    def __call__(self, art_dict: dict[str, Any]) -> str:
        art = Artefact.from_dict(art_dict)
        produce(art)
        return art.key

    def checkpoint(self, *args: Any, **kwargs: Any):
        return _import_submitit().helpers.DelayedSubmission(self, *args, **kwargs)


class SequentialProducers:
    """Several producers one after another in one job (the local executor's parallelism cap)."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self.fn = fn

    def __call__(self, art_dicts: list[dict[str, Any]]) -> list[str]:
        failed = []
        for d in art_dicts:
            try:
                self.fn(d)
            except Exception as e:  # noqa: BLE001 - written to the artefact's failure file by produce
                log.error("producer of %s failed: %s", d.get("label"), e)
                failed.append(d.get("label"))
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(art_dicts)} producers failed: {failed}")
        return [Artefact.from_dict(d).key for d in art_dicts]

    def checkpoint(self, *args: Any, **kwargs: Any):
        return _import_submitit().helpers.DelayedSubmission(self, *args, **kwargs)


def _process_alive(job_id: str) -> bool:
    """Whether the local job's process (its id is the pid) still runs; a zombie (killed, not yet reaped) does not."""
    try:
        pid = int(str(job_id).split("_")[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Consumer:
    """Wraps a run's job callable: wait for the run's artefacts, fail with the producer's error if one is missing.

    Args:
        fn: the job callable ``fn(spec_dict, store_root)``.
        needs: run id -> the artefact dicts that run consumes.
        waits: artefact key -> ``{"executor", "job_id"}`` of the producer job submitted for it. On the
            local executor the consumer polls until the artefact exists, its producer wrote a failure,
            or the producer's process is gone; on SLURM the ``afterok`` dependency has done the waiting.
        poll_s, timeout_s: polling interval and limit of the local wait.
    """

    def __init__(self, fn: Callable[[dict[str, Any], str], Any], needs: dict[str, list[dict[str, Any]]],
                 waits: dict[str, dict[str, str]] | None = None, poll_s: float = 0.5,
                 timeout_s: float | None = None) -> None:
        self.fn, self.needs, self.waits = fn, needs, dict(waits or {})
        self.poll_s, self.timeout_s = poll_s, timeout_s
        # the launch's claim token (set by bench.launch.submit): a consumer that fails for want of its
        # artefact releases the run's claim itself, since the wrapped job never ran to release it
        self.submission: str | None = getattr(fn, "submission", None)

    def _wait(self, art: Artefact) -> str | None:
        """Wait for ``art``'s local producer; returns the producer's end state when it ended without it."""
        w = self.waits.get(art.key)
        if not w or w.get("executor") != "local":
            return None
        start = time.monotonic()
        while not art.done() and art.failure() is None:
            if not _process_alive(w["job_id"]):
                return None if art.done() else f"process {w['job_id']} gone"
            if self.timeout_s is not None and time.monotonic() - start > self.timeout_s:
                return f"still running after {self.timeout_s:.0f} s"
            time.sleep(self.poll_s)
        return None

    def __call__(self, spec_dict: dict[str, Any], store_root: str) -> Any:
        from bench.spec import RunSpec
        from bench.store import Store

        # the launcher's RunJob spec dicts carry the run id it submitted under ("_expected_run_id"): use it
        # rather than resolving the identity again (which plans the episodes and hashes the lists)
        fields = {k: v for k, v in spec_dict.items() if not k.startswith("_")}
        run_id = spec_dict.get("_expected_run_id") or RunSpec.from_dict(fields).run_id
        arts = [Artefact.from_dict(d) for d in self.needs.get(run_id, [])]
        for art in arts:
            state = self._wait(art)
            if not art.done():
                err = missing_error(art, state)
                Store(store_root).write_failure(run_id, {
                    "run_id": run_id, "spec": fields, "error": f"{type(err).__name__}: {err}",
                    "artefact": art.key, "host": socket.gethostname(), "time": time.time(),
                })
                from bench import claims

                try:
                    claims.release(Store(store_root).root, run_id, self.submission)
                except OSError:  # a claim that cannot be removed is seen dead later
                    pass
                raise err
        return self.fn(spec_dict, store_root)

    def checkpoint(self, *args: Any, **kwargs: Any):
        return _import_submitit().helpers.DelayedSubmission(self, *args, **kwargs)


# ----------------------------------------------------------------------------------------------
# planning (used by the launcher)


def plan(specs: Sequence[Any], needs: ConsumesFn | None = None) -> dict[str, list[Artefact]]:
    """Run id -> the artefacts it consumes (``needs`` default: :func:`consumes`)."""
    fn = needs or consumes
    return {s.run_id: list(fn(s)) for s in specs}


def missing(planned: dict[str, list[Artefact]]) -> dict[str, Artefact]:
    """The distinct artefacts of a plan that do not exist yet, by key, in first-needed order."""
    out: dict[str, Artefact] = {}
    for arts in planned.values():
        for a in arts:
            if a.key not in out and not a.done():
                out[a.key] = a
    return out


# ----------------------------------------------------------------------------------------------
# following producers (bench status)


def producer_states(manifests: Iterable[Path | str | dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Artefact key -> ``{"kind", "label", "state", "job_id", "error"}`` over launch manifests (latest wins).

    ``state``: ``done`` when the artefact exists, else ``failed`` (failure file, or its job ended without
    it), ``running`` / ``pending`` from the scheduler, ``missing`` when no producer job was sent.
    """
    from bench import follow

    latest: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in manifests:
        m = follow.load_manifest(path)
        for e in m.get("producers", []):
            if e.get("job_id") is not None or e["key"] not in latest:
                latest[e["key"]] = (m, e)
    out: dict[str, dict[str, Any]] = {}
    for key, (m, e) in latest.items():
        kind = e["kind"]
        done = (root() / kind / key / MANIFEST).exists()
        fail_path = root() / kind / f"{key}.failed.json"
        info = {"kind": kind, "label": e["label"], "job_id": e.get("job_id"), "error": None}
        if done:
            info["state"] = "done"
        elif fail_path.exists():
            info["state"] = "failed"
            info["error"] = json.loads(fail_path.read_text()).get("error")
        elif e.get("job_id") is None:
            info["state"] = "missing"
        else:
            info["state"] = _job_category(m, e)
            if info["state"] in ("done", "failed"):
                info["state"] = "failed"
                info["error"] = f"producer job {e['job_id']} ended without making the artefact (killed?)"
        out[key] = info
    return out


def _job_category(m: dict[str, Any], e: dict[str, Any]) -> str:
    from bench import follow

    if m["executor"] == "debug":
        return follow.category(e.get("state", "UNKNOWN"))
    if m["executor"] == "local":  # the job id is the process id
        return "running" if _process_alive(e["job_id"]) else "failed"
    submitit = _import_submitit()
    job = submitit.SlurmJob(m["folder"], e["job_id"])
    try:
        return follow.poll(job)
    except Exception as ex:  # noqa: BLE001 - a scheduler we cannot ask: report, do not crash status
        log.warning("cannot read the state of producer job %s: %s", e["job_id"], ex)
        return "pending"


def active_producers(manifests: Iterable[Path | str | dict[str, Any]], executor: str) -> dict[str, dict[str, Any]]:
    """Artefact key -> ``{"job_id", "grid"}`` of producer jobs of ``executor`` still pending or running.

    Lets a second launch (another grid, or the same one again) wait for a producer that an earlier
    launch submitted instead of submitting it twice.
    """
    from bench import follow

    out: dict[str, dict[str, Any]] = {}
    for path in manifests:
        m = follow.load_manifest(path)
        if m.get("executor") != executor or executor == "debug":
            continue
        for e in m.get("producers", []):
            if e.get("job_id") is None:
                continue
            kind, key = e["kind"], e["key"]
            if (root() / kind / key / MANIFEST).exists() or (root() / kind / f"{key}.failed.json").exists():
                continue
            if _job_category(m, e) in ("running", "pending"):
                out[key] = {"job_id": e["job_id"], "grid": m.get("grid")}
    return out
