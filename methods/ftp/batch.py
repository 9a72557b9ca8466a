"""The paper's global batch per stage, reached as data parallelism x gradient accumulation.

ftp paper, Tables A2 and A3: stage 1 trains with a batch of 512, stage 2 with 128. A config states
them under ``batch``::

    batch = dict(stage1=512, stage2=128)

and each training run (a stage-1 producer: ``stage1``; a shared-mode cell: ``stage2``; a per_cell
cell, which trains both stages with one loader: ``stage2``) gets MMEngine's
``optim_wrapper.accumulative_counts = global / (train_dataloader.batch_size x world size)``, which
must be a whole number: the loader's batch is the per-GPU batch (what fits in memory), the
accumulation makes up the rest. The learning rates are the paper's values at the paper's
batch, so none is scaled. What was resolved is written to ``batch.resolved`` (and so into the
record's config): the stage, the global batch, per-GPU batch, world size and accumulation steps.
"""

from __future__ import annotations

import os
from typing import Any

from bench.errors import ConfigError

STAGES = ("stage1", "stage2")


def world_size() -> int:
    """Ranks of this run: the process group's size, else ``$WORLD_SIZE``, else 1."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def run_stage(cfg: Any) -> str:
    """Which stage's batch a run of ``cfg`` trains with (see the module docstring)."""
    mode = (cfg.model.get("stage1") or {}).get("mode", "per_cell")
    return "stage1" if mode == "produce" else "stage2"


def plan(cfg: Any, stage: str, world: int) -> dict[str, Any]:
    """``{stage, global_size, per_gpu, world_size, accumulative_counts}`` of ``stage`` on ``world`` ranks."""
    per = int(cfg.train_dataloader["batch_size"])
    table = cfg.get("batch")
    if not table:
        return {"stage": stage, "global_size": per * world, "per_gpu": per, "world_size": world,
                "accumulative_counts": 1, "note": "no batch table in the config: the loader's batch on each rank"}
    unknown = set(table) - {*STAGES, "resolved"}
    if unknown:
        raise ConfigError(f"batch has unknown keys {sorted(unknown)}; accepted: stage1, stage2 (global batch sizes)")
    if stage not in table:
        raise ConfigError(f"batch.{stage} is missing; the config's batch table has {sorted(table)}")
    total = int(table[stage])
    if total < 1 or per < 1 or total % (per * world):
        raise ConfigError(f"batch.{stage}={total} (global batch) is not a whole multiple of "
                          f"train_dataloader.batch_size={per} x {world} rank(s); choose the per-GPU batch (or the "
                          "number of GPUs) so that it divides")
    return {"stage": stage, "global_size": total, "per_gpu": per, "world_size": world,
            "accumulative_counts": total // (per * world)}


def describe(p: dict[str, Any]) -> str:
    return (f"{p['stage']}: global batch {p['global_size']} = {p['per_gpu']} per GPU x {p['world_size']} GPU(s) x "
            f"{p['accumulative_counts']} accumulation step(s)")


def apply(cfg: Any, spec: Any = None) -> None:
    """Set the gradient accumulation of this run's stage (``MethodInfo.configure`` of ftp)."""
    if not cfg.get("batch"):
        return
    p = plan(cfg, run_stage(cfg), world_size())
    cfg.optim_wrapper["accumulative_counts"] = p["accumulative_counts"]
    cfg.batch["resolved"] = p


def dry_run_lines(cfg: Any, world: int) -> list[str]:
    """Per stage, the global batch and how ``world`` GPUs reach it (``bench run --dry-run``)."""
    if not cfg.get("batch"):
        return []
    s1 = cfg.model.get("stage1") or {}
    mode = s1.get("mode", "per_cell")
    lines = [describe(plan(cfg, s, world)) for s in STAGES]
    if mode == "shared":
        lines.append(f"stage 1 shared: one producer per prompt letter on {s1.get('dataset')}, stage 2 per cell")
    if mode == "per_cell":
        lines.append("per_cell: one run trains both stages with one loader, at the stage2 batch")
    return lines
