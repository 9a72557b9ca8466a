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
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
