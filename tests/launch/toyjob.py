"""A stand-in for ``bench.job.run`` in the launcher tests: tiny, but checkpoints and resumes like the real one.

It "trains" ``steps`` steps of ``step_s`` seconds, saving ``{"step": n}`` after each step in its
work directory (``<store_root>/work/<run_id>``), and on start resumes from that checkpoint. Each
attempt appends its starting step to ``attempts.log`` and rank 0 appends to ``writes.log`` when it
writes the record, so a test can prove where a requeued job resumed and that a record was
written exactly once. With several tasks it checks the process group with an all_reduce.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bench.dist import is_rank_zero
from bench.launch import RunJob
from bench.spec import RunSpec
from bench.store import Store, atomic_write_json


def work_dir(store_root: str | Path, run_id: str) -> Path:
    return Path(store_root) / "work" / run_id


def read_step(store_root: str | Path, run_id: str) -> int:
    """The step of the run's checkpoint on disk (0 when there is none yet)."""
    path = work_dir(store_root, run_id) / "ckpt.json"
    try:
        return json.loads(path.read_text())["step"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def attempts(store_root: str | Path, run_id: str) -> list[int]:
    """The step each attempt of the run started from (rank 0), in order."""
    path = work_dir(store_root, run_id) / "attempts.log"
    if not path.exists():
        return []
    return [int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith("rank0 ")]


def _all_reduce_sum() -> float | None:
    """Sum of (rank + 1) over the process group, or None outside distributed runs."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None  # no torch import for single-task runs: keeps the tests light
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        return None
    t = torch.tensor([float(dist.get_rank() + 1)])
    dist.all_reduce(t)
    return float(t.item())


class ToyJob(RunJob):
    """Checkpointable stand-in job; its knobs come from ``spec.overrides``."""

    def run(self, spec: RunSpec, store_root: str | None) -> dict[str, Any] | None:
        assert store_root is not None
        steps = int(spec.overrides.get("steps", 3))
        step_s = float(spec.overrides.get("step_s", 0.1))
        work = work_dir(store_root, spec.run_id)
        work.mkdir(parents=True, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        start = read_step(store_root, spec.run_id)
        with open(work / "attempts.log", "a") as f:
            f.write(f"rank{rank} {start} pid={os.getpid()} job={os.environ.get('SLURM_JOB_ID', '-')}\n")
        if is_rank_zero():
            (work / "pid").write_text(str(os.getpid()))
        total = _all_reduce_sum()
        if spec.overrides.get("raise"):
            raise RuntimeError(f"toy failure requested for run {spec.run_id}")
        for step in range(start, steps):
            time.sleep(step_s)
            if is_rank_zero():
                atomic_write_json(work / "ckpt.json", {"step": step + 1})
        if not is_rank_zero():
            return None
        record = {
            "run_id": spec.run_id, "method": spec.method, "protocol": spec.protocol, "dataset": spec.dataset,
            "seed": spec.seed, "spec": spec.to_dict(), "schema_version": 1,
            "metrics": {"steps": read_step(store_root, spec.run_id), "all_reduce_sum": total,
                        "world_size": int(os.environ.get("WORLD_SIZE", "1"))},
            "starts": attempts(store_root, spec.run_id),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        }
        Store(store_root).write(record)
        with open(work / "writes.log", "a") as f:
            f.write(f"{spec.run_id}\n")
        return record


# ---------------------------------------------------------------------------------------------- producers
# A toy consumer spec lists the artefacts it needs in ``overrides["needs"]`` (labels) and how long their
# producer takes in ``overrides["produce_s"]``; the producer job is told which labels fail, or to be quick.


def toy_needs(spec: RunSpec) -> list:
    from bench.artefacts import Artefact

    return [Artefact("toy.part", label, {"label": label, "salt": spec.overrides.get("salt", 0)},
                     job={"produce_s": float(spec.overrides.get("produce_s", 0.0))})
            for label in spec.overrides.get("needs", [])]


def producer_log(store_root: str | Path) -> Path:
    return Path(store_root) / "producer_runs.log"


class ToyProducer:
    """Producer job: writes ``value.txt`` (the label) after ``produce_s``; appends its key to a log first."""

    def __init__(self, store_root: str | Path, fail: tuple[str, ...] = (), quick: bool = False) -> None:
        self.store_root, self.fail, self.quick = str(store_root), tuple(fail), quick

    def make(self, art, out: Path) -> dict[str, Any]:
        producer_log(self.store_root).parent.mkdir(parents=True, exist_ok=True)
        with open(producer_log(self.store_root), "a") as f:
            f.write(f"{art.key} {os.getpid()} {os.environ.get('SLURM_JOB_ID', '-')}\n")
        time.sleep(0.0 if self.quick else art.job.get("produce_s", 0.0))
        if art.label in self.fail:
            raise RuntimeError(f"toy producer failure for {art.label}")
        (out / "value.txt").write_text(art.label)
        return {"pid": os.getpid()}

    def __call__(self, art_dict: dict[str, Any]) -> str:
        from bench import artefacts

        art = artefacts.Artefact.from_dict(art_dict)
        artefacts.produce(art, fn=self.make)
        return art.key


class ToyConsumer(ToyJob):
    """ToyJob that first reads each needed artefact (fails if one is absent) and names them in its record."""

    def run(self, spec: RunSpec, store_root: str | None) -> dict[str, Any] | None:
        from bench import artefacts

        arts = toy_needs(spec)
        artefacts.require(arts)
        values = [(a.path / "value.txt").read_text() for a in arts]
        record = super().run(spec, store_root)
        if record is not None:
            record["artefacts"] = artefacts.consumed(arts)
            record["values"] = values
            Store(store_root).write(record)
        return record
