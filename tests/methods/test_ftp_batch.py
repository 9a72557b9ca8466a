"""FTP's paper-scale batches (methods/ftp/batch.py): global batch = per GPU x ranks x accumulation steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _cfg(size="uniformerv2_l14_32x224", **top):
    import methods  # noqa: F401
    from bench.method import load_config

    cfg = load_config("ftp", size)
    for k, v in top.items():
        cfg[k] = v
    return cfg


@pytest.mark.parametrize("size,per_gpu", [("uniformerv2_b16_8x224", 8), ("uniformerv2_l14_32x224", 4),
                                          ("uniformerv2_l14_64x336", 2)])
def test_paper_configs_state_the_papers_global_batches(size, per_gpu):
    from methods.ftp import batch

    cfg = _cfg(size)
    for stage, total in (("stage1", 512), ("stage2", 128)):  # Tables A2 and A3
        for world in (1, 2, 4):
            p = batch.plan(cfg, stage, world)
            assert p["global_size"] == total and p["per_gpu"] == per_gpu
            assert p["accumulative_counts"] * per_gpu * world == total


def test_a_run_gets_its_stages_batch_and_accumulation(monkeypatch):
    from methods.ftp import batch

    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = _cfg()
    batch.apply(cfg)  # shared mode: this run is stage 2
    assert cfg.optim_wrapper.accumulative_counts == 128 // (4 * 2)
    assert cfg.batch.resolved["stage"] == "stage2" and cfg.batch.resolved["world_size"] == 2
    producer = _cfg()
    producer.model.stage1.mode = "produce"
    batch.apply(producer)
    assert producer.optim_wrapper.accumulative_counts == 512 // (4 * 2)


def test_a_global_batch_the_ranks_cannot_reach_is_refused():
    from methods.ftp import batch

    cfg = _cfg()
    cfg.train_dataloader.batch_size = 3
    with pytest.raises(ConfigError, match=r"batch.stage1=512 \(global batch\) is not a whole multiple of "
                                          r"train_dataloader.batch_size=3 x 1 rank\(s\)"):
        batch.plan(cfg, "stage1", 1)
    cfg.train_dataloader.batch_size = 4
    with pytest.raises(ConfigError, match=r"batch_size=4 x 3 rank\(s\)"):
        batch.plan(cfg, "stage2", 3)
    cfg.batch = dict(stage1=512, stage3=1)
    with pytest.raises(ConfigError, match=r"batch has unknown keys \['stage3'\]"):
        batch.plan(cfg, "stage1", 1)


def test_paper_dry_run_prints_each_stages_global_batch(capsys):
    from bench.cli import main

    assert main(["run", "--grid", str(REPO / "ablations" / "ftp_prompts.yaml"), "--profile", "paper",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "stage1: global batch 512 = 4 per GPU x 1 GPU(s) x 128 accumulation step(s)" in out
    assert "stage2: global batch 128 = 4 per GPU x 1 GPU(s) x 32 accumulation step(s)" in out
    assert "stage 1 shared: one producer per prompt letter on k710" in out
