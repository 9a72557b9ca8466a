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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """How ``make test``'s pytest-xdist workers share the tests: each file whole on one worker (its module
    fixtures are built once), and every file of ``tests/launch`` on the same worker, one after another: the
    SLURM tests share one local cluster, and the local-executor tests time real processes.

    (A scheduler, not ``xdist_group`` marks: pytest-xdist 3.8 groups by rewriting ``item._nodeid``, which
    pytest 9 no longer reads, so ``--dist loadgroup`` silently spreads a group over the workers.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndLaunch(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/launch" if path.startswith("tests/launch/") else path

    return FilesAndLaunch(config, log)


@pytest.fixture(scope="session")
def session_root() -> Path:
    return _SESSION_ROOT


@pytest.fixture(scope="session")
def syn_k400():
    """The tiny synthetic K400-like dataset (generated once per session)."""
    from bench.data.catalog import get_dataset

    return get_dataset("syn_k400")


@pytest.fixture(scope="session")
def tiny_clip_sha() -> str:
    """The first 8 hex digits of the sha256 of the tiny world's tiny CLIP weights.

    The world's data are the same bytes on every machine, but its trained weights follow the rounding of the CPU's
    kernels (docs/DECISIONS.md, "The world's trained models depend on the CPU"), and an effect test that rides on
    a few test videos can change its verdict with them: such a test names the weights it was measured with
    (``verdict_for_weights``)."""
    from bench.data.synthetic.tiny_clip import tiny_clip_weights
    from bench.models.files import file_sha256

    return file_sha256(tiny_clip_weights("tiny"))[:8]


@pytest.fixture()
def verdict_for_weights(request: pytest.FixtureRequest, tiny_clip_sha: str):
    """``mark(measured, otherwise)``: makes the running test a strict xfail where its effect was measured absent
    with the session's tiny CLIP weights.

    ``measured`` maps a weights' sha256 prefix (``tiny_clip_sha``) to the measured reason the effect is absent with
    them, or to None where it was measured present; weights not in it (another CPU's) take ``otherwise``, the
    verdict measured on most machines. Both ways stay strict: an effect measured absent that shows fails the
    test, as does one measured present that does not."""

    def mark(measured: dict[str, str | None], otherwise: str | None) -> None:
        reason = measured.get(tiny_clip_sha, otherwise)  # a listed None: measured present
        if reason is not None:
            request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError,
                                                  reason=f"with tiny CLIP {tiny_clip_sha}: {reason}"))

    return mark


@pytest.fixture()
def fresh_dirs(tmp_path, monkeypatch) -> Path:
    """Per-test results and work directories (the synthetic world stays shared)."""
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("BENCH_WORK_DIR", str(tmp_path / "work"))
    return tmp_path
