"""What one job does: resolve a spec, run its protocol's episodes with MMEngine, write one record.

``prepare`` resolves and checks everything that can be checked before training (method,
protocol, compatibility, dataset roots, overrides, weights files, annotation lists), so that
bad input fails before any work. ``run`` executes the episodes, skipping those already
finished (a requeued job resumes at the first unfinished episode, and inside it from the
last MMEngine checkpoint), then writes the record atomically. A failure writes a failure file
instead of a record and re-raises.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import socket
import subprocess
import time
import traceback
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import BenchError, ConfigError
from bench.spec import RunSpec
from bench.store import RECORD_SCHEMA_VERSION, Store, atomic_write_json

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Prepared:
    spec: RunSpec
    method: Any
    protocol: Any
    dataset: Any
    cfg: Any
    episodes: list


def _resolve_cfg(spec: RunSpec):
    from bench.method import apply_overrides, load_config
    from protocols.engine import sync_frames

    cfg = load_config(spec.method, spec.size)
    apply_overrides(cfg, spec.overrides, where=f"overrides of run {spec.run_id}")
    sync_frames(cfg)
    return cfg


def weight_sources(cfg) -> dict[str, Any]:
    """Every weights field of the model config, resolved to a file with its sha256."""
    from bench.models.clip import weights_source

    found: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                key = f"{path}.{k}" if path else str(k)
                if isinstance(v, str) and (k.endswith("weights") or k in ("pretrained", "checkpoint")):
                    found[key] = weights_source(v)
                else:
                    walk(v, key)
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    walk(cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else cfg.model, "model")
    from bench.models.weights import check_config  # issue 16: recognised layout, activation, ignored keys

    for row in check_config(cfg):
        if row["where"] in found and row["status"] == "ok":
            found[row["where"]].update({k: row.get(k) for k in ("layout", "activation", "ignored")})
    return found


def prepare(spec: RunSpec) -> Prepared:
    """Resolve ``spec`` and check it; raises a BenchError naming the first problem."""
    from bench.data.catalog import check_list, get_dataset
    from bench.method import get_method
    from protocols.base import build_protocol

    where = f"run {spec.run_id}"
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
    checked = set()
    for ep in episodes:
        for split, classes in ((ep.train, ep.train_classes or ep.classes), (ep.test, ep.classes)):
            if split is not None and split.ann_file not in checked:
                check_list(split.ann_file, split.video_root, len(classes), source=f"dataset {split.dataset}")
                checked.add(split.ann_file)
    return Prepared(spec, method, protocol, dataset, cfg, episodes)


def validate(spec: RunSpec) -> list[str]:
    """Problems with ``spec`` as a list of messages (empty when it can run)."""
    try:
        prepare(spec)
    except BenchError as e:
        return [str(e)]
    return []


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


def _episode_results(prep: Prepared, ctx) -> list[dict[str, Any]]:
    results = []
    for ep in prep.episodes:
        done = ctx.work_dir / ep.name / "episode_result.json"
        if done.exists():
            log.info("episode %s already finished; reusing %s", ep.name, done)
            results.append(json.loads(done.read_text()))
            continue
        log.info("episode %s: %d classes", ep.name, len(ep.classes))
        metrics = prep.protocol.run_episode(ctx, ep)
        result = {"episode": ep.describe(), "metrics": metrics}
        atomic_write_json(done, result)
        results.append(result)
    return results


def _slurm_job_id() -> str | None:
    """``<array job>_<task>`` for an array task, else the job id (None outside SLURM)."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def _decode_failures(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"count": 0, "paths": []}
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return {"count": len(lines), "paths": sorted({x["path"] for x in lines})[:50]}


def run(spec: RunSpec, store_root: str | Path | None = None, resume: bool = True) -> dict[str, Any]:
    """Run ``spec`` and write its record; returns the record."""
    store = Store(store_root)
    work_dir = settings.work_root() / spec.run_id
    started = time.time()
    try:
        record = _run(spec, work_dir, resume, started)
    except Exception as e:  # a preemption (SystemExit from submitit's handler) is not a failure
        store.write_failure(spec.run_id, {
            "run_id": spec.run_id, "spec": spec.to_dict(), "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(), "work_dir": str(work_dir), "host": socket.gethostname(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "time": time.time(),
        })
        raise
    from bench.launch import is_rank_zero

    if is_rank_zero():  # in a multi-task job only rank 0 writes the record
        store.write(record)
    return record


def _run(spec: RunSpec, work_dir: Path, resume: bool, started: float) -> dict[str, Any]:
    from bench.text.build import LOADED
    from protocols.engine import RunContext

    LOADED.clear()
    prep = prepare(spec)
    work_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work_dir / "spec.json", spec.to_dict())
    ctx = RunContext(spec=spec, method=prep.method, cfg=prep.cfg, work_dir=work_dir, resume=resume)
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
        "dataset": spec.dataset,
        "data_source": prep.dataset.source,
        "split": prep.protocol.args.get("test_split"),
        "seed": spec.seed,
        "metrics": metrics,
        "episodes": results,
        "flops": flops_of(prep),
        "decode_failures": _decode_failures(ctx.failure_log),
        "text": list(LOADED),
        "config": prep.cfg.to_dict(),
        "weights": weight_sources(prep.cfg),
        "code": code_version(),
        "host": {"hostname": socket.gethostname(), "python": platform.python_version(),
                 "torch": _torch().__version__, "torch_threads": _torch().get_num_threads()},
        "times": {"started": started, "finished": time.time(), "wall_s": time.time() - started},
        "slurm_job_id": _slurm_job_id(),
        "spec": spec.to_dict(),
        "work_dir": str(work_dir),
    }
