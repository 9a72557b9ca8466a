"""Fixtures of the text tests: an isolated BENCH_HOME / cache, a tiny dataset view, an oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.text.context import DatasetView
from bench.text.offline import ORACLES
from bench.text.request import TextRequest

_ids = itertools.count()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test writes under its own BENCH_HOME (cache included) and sees no user provider config."""
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCH_CACHE", raising=False)
    monkeypatch.setenv("BENCH_CONFIG", str(tmp_path / "config.yaml"))
    (tmp_path / "config.yaml").write_text("{}\n")
    for var in ("BENCH_OPENAI_BASE_URL", "BENCH_OPENAI_MODEL", "BENCH_OPENAI_API_KEY", "OPENAI_BASE_URL",
                "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def tiny_frames(seed: int, k: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8) for _ in range(k)]


class FakeWorld:
    """A ground-truth answerer in the role of the synthetic benchmark's oracle; counts its calls."""

    def __init__(self, fail_items: set[str] | None = None) -> None:
        self.calls = 0
        self.fail_items = set(fail_items or ())

    def __call__(self, req: TextRequest) -> str:
        self.calls += 1
        if req.item in self.fail_items:
            raise LookupError(f"no ground truth for {req.item}")
        pid = req.prompt_id or ""
        if pid == "vlc/decompose":
            return f"- {req.item} ball\n- arms\n- {req.item} court\n- jumping"
        if pid == "vlc/expand":
            return f"A person does {req.item} with big moves. Their arms swing while they {req.item} fast."
        if pid == "alt/units":
            return f"Objects: ball, {req.item} net\nBody parts: arms\nScene: court"
        if pid.startswith("alt/"):
            return f"a thing seen in {req.item} games; the {req.item} as used in sport"
        if pid.startswith("ftp/"):
            return f"answer {pid[-1]} for {req.item} ({req.images[0].shape[1]} px wide)"
        raise LookupError(f"unknown prompt {pid}")


@pytest.fixture
def world():
    """A fresh dataset name with a FakeWorld oracle registered for it, and its view."""
    name = f"testworld{next(_ids)}"
    oracle = FakeWorld()
    ORACLES.register(name, oracle)
    videos = [(f"v{i}.mp4", i % 2) for i in range(3)]
    view = DatasetView(name, ["jump", "kick"], lambda split: videos, lambda vid, k: tiny_frames(int(vid[1]), k))
    return view, oracle
