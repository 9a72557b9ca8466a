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
