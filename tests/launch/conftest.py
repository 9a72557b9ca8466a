"""Fixtures of the launcher tests: the local SLURM cluster, the stand-in job, spec factories.

The ``slurm_cluster`` fixture uses a cluster that already answers (``scontrol ping`` and
``sacct``), else starts one with ``slurm/local/up.sh`` when we are root and have apt-get
(installing Debian's slurm-wlm, munge and MariaDB if missing), else skips with the reason.
A cluster the fixture started is stopped at the end of the session (``BENCH_SLURM_KEEP=1``
keeps it for the next run).

Jobs of these tests are named ``TEST_JOB_NAME``. Before the first test, jobs an earlier session
left in the queue are cancelled: on the local test cluster (``ClusterName=benchlocal``, which
exists only for these tests) every job, on any other cluster only jobs with that name. Then the
node must have a free CPU within a minute, else the session fails with the queue listed rather
than letting every test time out behind jobs it cannot see. After each test its jobs that are
still queued or running are cancelled, so one failure does not starve the tests after it.
"""

from __future__ import annotations

import getpass
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
TEST_JOB_NAME = "benchtest"
LOCAL_CLUSTER_NAME = "benchlocal"  # ClusterName in the slurm.conf that slurm/local/up.sh writes


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


def _run(*cmd: str) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30).stdout


def _queue() -> list[str]:
    """Jobs SLURM still holds (any state): ``id name state user`` lines."""
    return [line for line in _run("squeue", "-h", "-o", "%i %j %T %u").splitlines() if line.strip()]


def _cancel_test_jobs(everything: bool) -> None:
    """Cancel this user's ``benchtest`` jobs, or (``everything``, the local test cluster only) every job held."""
    if everything:
        ids = _run("squeue", "-h", "-o", "%A").split()
        if ids:
            _run("scancel", *ids)
    else:
        _run("scancel", f"--user={getpass.getuser()}", f"--name={TEST_JOB_NAME}")


def _idle_cpus() -> int:
    """Idle CPUs over the cluster's nodes (sinfo %C is allocated/idle/other/total)."""
    total = 0
    for line in _run("sinfo", "-h", "-N", "-o", "%C").splitlines():
        parts = line.strip().split("/")
        if len(parts) == 4 and parts[1].isdigit():
            total += int(parts[1])
    return total


def _clear_the_queue(timeout_s: float = 60.0) -> None:
    """Cancel what earlier sessions left queued, then wait for a free CPU or fail naming the jobs."""
    pairs = (line.split("=", 1) for line in _run("scontrol", "show", "config").splitlines() if "=" in line)
    local = any(k.strip() == "ClusterName" and v.strip() == LOCAL_CLUSTER_NAME for k, v in pairs)
    _cancel_test_jobs(everything=local)
    end = time.monotonic() + timeout_s
    while _idle_cpus() < 1:
        if time.monotonic() > end:
            pytest.fail(f"the SLURM node has no idle CPU {timeout_s:.0f} s after cancelling earlier test jobs; "
                        f"the queue ({'every job cancelled, ' if local else ''}id name state user): {_queue()}")
        time.sleep(1.0)


@pytest.fixture(scope="session")
def slurm_cluster():
    """A working SLURM cluster with accounting, cleared of earlier test jobs; yields ``started`` and ``bring_up_s``."""
    if _cluster_answers():
        _clear_the_queue()
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
    _clear_the_queue()
    yield {"started": True, "bring_up_s": bring_up_s}
    if os.environ.get("BENCH_SLURM_KEEP") != "1":
        subprocess.run(["bash", str(DOWN)], capture_output=True, timeout=120)


@pytest.fixture
def slurm_jobs_cancelled(slurm_cluster):
    """After the test, cancel its jobs that SLURM still holds (a failed test must not starve the next)."""
    yield
    _cancel_test_jobs(everything=False)


@pytest.fixture
def cluster_profile():
    """The shipped ``local_cluster`` profile with overrides."""
    from bench.profiles import load_profile

    def make(**overrides):
        return load_profile("local_cluster", {"name": TEST_JOB_NAME, **overrides})

    return make
