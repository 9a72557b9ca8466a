"""Distributed-job helpers: the process group of a multi-task job, and which task is rank 0.

Both the launcher (``bench.launch``, which sets the group up around a job) and the job
(``bench.job``, where only rank 0 writes the record) use them; they import nothing of either.
"""

from __future__ import annotations

import datetime as _dt
import os

import submitit


def setup_distributed() -> bool:
    """Create the torch.distributed process group of a multi-task job; True if it was created here.

    Exports MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE from the
    submitit/SLURM environment so that MMEngine's ``launcher='pytorch'`` finds them, then
    initialises the group (nccl with CUDA, gloo on CPU). A single task does nothing.
    """
    try:
        env = submitit.JobEnvironment()
    except RuntimeError:  # not inside a submitit job (debug executor, plain call)
        return False
    if env.num_tasks <= 1:
        return False
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    # overwrite: sbatch copies the submitting shell's environment, which may hold another job's RANK
    submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
    dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=10))
    return True


def is_rank_zero() -> bool:
    """True outside distributed jobs and on global rank 0: only that task writes the record."""
    try:
        return submitit.JobEnvironment().global_rank == 0
    except RuntimeError:  # not a submitit job: torchrun's RANK, else a plain process
        return int(os.environ.get("RANK", "0")) == 0
