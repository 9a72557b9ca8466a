"""Test-suite wide settings: every generated artefact goes to a temporary tree, never the repo.

The synthetic world (``tiny`` size) and its tiny CLIP are generated once per session under
``BENCH_HOME`` and shared by the tests that need them; results and run directories are per
session too. A test that needs its own tree sets the variables with ``monkeypatch``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="vlbench-tests-"))


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("BENCH_HOME", str(_SESSION_ROOT / "home"))
    os.environ.setdefault("BENCH_SYNTH_SIZE", "tiny")
    os.environ.setdefault("BENCH_RESULTS", str(_SESSION_ROOT / "results"))
    os.environ.setdefault("BENCH_WORK_DIR", str(_SESSION_ROOT / "work"))
    os.environ.setdefault("BENCH_CONFIG", str(_SESSION_ROOT / "no-user-config.yaml"))
    Path(os.environ["BENCH_CONFIG"]).touch()
    # under pytest-xdist (``make test`` runs two workers on a 2-core machine) each worker takes one thread
    os.environ.setdefault("OMP_NUM_THREADS", "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n N --dist loadgroup``: the SLURM tests share one cluster and run on one worker,
    one after another; every other file stays whole on one worker (its module fixtures are built once)."""
    for item in items:
        uses_slurm = item.get_closest_marker("slurm") or "slurm_cluster" in getattr(item, "fixturenames", ())
        group = "slurm" if uses_slurm else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION_ROOT


@pytest.fixture(scope="session")
def syn_k400():
    """The tiny synthetic K400-like dataset (generated once per session)."""
    from bench.data.catalog import get_dataset

    return get_dataset("syn_k400")


@pytest.fixture()
def fresh_dirs(tmp_path, monkeypatch) -> Path:
    """Per-test results and work directories (the synthetic world stays shared)."""
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("BENCH_WORK_DIR", str(tmp_path / "work"))
    return tmp_path
