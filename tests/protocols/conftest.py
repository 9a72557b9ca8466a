"""Helpers of the protocol tests: quick overrides for the tiny baseline and a spec runner."""

from __future__ import annotations

import pytest

# Random-init tiny CLIP, one epoch, in-process data loading: seconds per episode on a laptop CPU.
QUICK = {
    "model.backbone.clip_weights": None,
    "model.cls_head.clip_weights": None,
    "train_cfg.max_epochs": 1,
    "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
    "test_dataloader.num_workers": 0,
    "test_dataloader.persistent_workers": False,
}


@pytest.fixture()
def quick_spec():
    from bench.spec import RunSpec

    def make(protocol: str, dataset: str, seed: int = 0, **args) -> RunSpec:
        return RunSpec("clip_meanpool", protocol, dataset, seed=seed, protocol_args=args, overrides=dict(QUICK))

    return make


@pytest.fixture()
def charades_imported(session_root, tmp_path, monkeypatch):
    """The miniature official Charades tree, imported into a user config of this test."""
    from bench.data import importers
    from bench.data.synthetic.official import build_in_subprocess

    tree = build_in_subprocess("charades", session_root / "official-protocols" / "charades")
    config = tmp_path / "config.yaml"
    monkeypatch.setenv("BENCH_CONFIG", str(config))
    monkeypatch.delenv("BENCH_DATA_CHARADES", raising=False)
    res = importers.run_import("charades", tree["root"], tree["annotations"], tmp_path / "lists")
    importers.write_entry("charades", res.entry, config)
    return res
