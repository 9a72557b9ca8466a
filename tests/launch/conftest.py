"""Fixtures of the launcher tests: the local SLURM cluster, the stand-in job, spec factories.

The ``slurm_cluster`` fixture uses a cluster that already answers (``scontrol ping`` and
``sacct``), else starts one with ``slurm/local/up.sh`` when we are root and have apt-get
(installing Debian's slurm-wlm, munge and MariaDB if missing), else skips with the reason.
A cluster the fixture started is stopped at the end of the session (``BENCH_SLURM_KEEP=1``
keeps it for the next run).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest

from bench.spec import RunSpec

REPO = Path(__file__).resolve().parents[2]
UP = REPO / "slurm" / "local" / "up.sh"
DOWN = REPO / "slurm" / "local" / "down.sh"


def _load_toyjob():
    """Import toyjob.py under a private name and pickle it by value, so SLURM workers need no test path."""
    name = "bench_launch_tests_toyjob"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("toyjob.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)
    return module


@pytest.fixture(scope="session")
def toy():
    return _load_toyjob()


@pytest.fixture
def make_specs():
    """``make_specs(n, grid=..., **overrides)``: n distinct toy specs (seeds 0..n-1)."""

    def make(n: int, grid: str = "launchtest", **overrides) -> list[RunSpec]:
        return [RunSpec(method="toy", protocol="toy", dataset="toy", seed=i, overrides=dict(overrides), grid=grid)
                for i in range(n)]

    return make


def _cluster_answers() -> bool:
    if not (shutil.which("scontrol") and shutil.which("sacct") and shutil.which("sbatch")):
        return False
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
        acct = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True, text=True, timeout=10)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return "UP" in ping.stdout and acct.returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster():
    """A working SLURM cluster with accounting; yields a dict with ``started`` and ``bring_up_s``."""
    if _cluster_answers():
        yield {"started": False, "bring_up_s": 0.0}
        return
    if os.geteuid() != 0:
        pytest.skip("no SLURM cluster answers and we are not root, so slurm/local/up.sh cannot start one")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        pytest.skip("no SLURM cluster answers and neither apt-get nor slurmctld is available to start one")
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(UP)], capture_output=True, text=True, timeout=600)
    bring_up_s = time.monotonic() - t0
    if proc.returncode != 0 or not _cluster_answers():
        pytest.skip(f"slurm/local/up.sh could not start a cluster (rc={proc.returncode}): {proc.stderr[-2000:]}")
    print(f"\nlocal SLURM cluster up in {bring_up_s:.1f} s")
    yield {"started": True, "bring_up_s": bring_up_s}
    if os.environ.get("BENCH_SLURM_KEEP") != "1":
        subprocess.run(["bash", str(DOWN)], capture_output=True, timeout=120)


@pytest.fixture
def cluster_profile():
    """The shipped ``local_cluster`` profile with overrides."""
    from bench.profiles import load_profile

    def make(**overrides):
        return load_profile("local_cluster", overrides)

    return make
