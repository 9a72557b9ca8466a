"""Miniature official dataset trees (``bench.data.synthetic.official``), built once per session.

Each tree is built in its own process (decord's bundled FFmpeg breaks PyAV's VP9 encoder once
loaded) and copied per test, so a test may delete or edit files of its copy.
"""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def official_trees(session_root):
    from bench.data.synthetic.official import build_in_subprocess

    built: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in built:
            built[name] = build_in_subprocess(name, session_root / "official" / name)
        return built[name]

    return get


@pytest.fixture()
def official_tree(official_trees, tmp_path):
    """A private copy of a miniature tree: ``{"root", "annotations", "dest", "videos"}`` as Paths."""

    def copy(name: str) -> dict:
        info = official_trees(name)
        dest = tmp_path / "trees" / name
        shutil.copytree(info["dest"], dest)
        return {"dest": dest, "videos": info["videos"],
                **{k: dest / info[k].relative_to(info["dest"]) for k in ("root", "annotations")}}

    return copy


@pytest.fixture()
def user_config(tmp_path, monkeypatch):
    """An empty user config of this test (``BENCH_CONFIG``), which ``bench data import`` writes into."""
    path = tmp_path / "config" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.touch()
    monkeypatch.setenv("BENCH_CONFIG", str(path))
    for name in ("UCF101", "HMDB51", "K400", "K600", "K700", "K710", "SSV2", "ACTIVITYNET", "CHARADES", "AVA"):
        monkeypatch.delenv(f"BENCH_DATA_{name}", raising=False)
    return path
