"""End to end on the synthetic world: ``bench run`` trains and evaluates the tiny baseline, writes
one record; bad input is refused before training; decode failures are accounted for."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from bench.cli import main as bench_main
from bench.errors import DataError
from bench.spec import RunSpec
from bench.store import Store

QUICK = ["--set", "train_cfg.max_epochs=2"]


@pytest.mark.slow
def test_bench_run_writes_record_and_prints_metrics(syn_k400, fresh_dirs, capsys):
    code = bench_main(["run", "--method", "clip_meanpool", "--dataset", "syn_k400", "--arg", "views=2x3", *QUICK])
    out = capsys.readouterr().out
    assert code == 0
    assert '"top1":' in out and '"top1_1view":' in out
    records = Store(fresh_dirs / "results").records()
    assert len(records) == 1
    rec = records[0]
    for field in ("run_id", "method", "variant", "protocol", "protocol_version", "dataset", "seed", "metrics",
                  "config", "weights", "code", "host", "times", "spec", "episodes", "decode_failures"):
        assert field in rec, field
    m = rec["metrics"]
    assert 0 <= m["top1"] <= 100 and m["top1"] <= m["top5"]
    assert m["num_test_videos"] == len(syn_k400.classes) * 3 or m["num_test_videos"] > 0
    assert rec["episodes"][0]["episode"]["test"]["sha256"]
    assert rec["weights"]["model.backbone.clip_weights"]["sha256"], "weight sources carry a sha256"
    # a second run finds the record and trains nothing
    code = bench_main(["run", "--method", "clip_meanpool", "--dataset", "syn_k400", "--arg", "views=2x3", *QUICK])
    assert "record exists" in capsys.readouterr().out


@pytest.mark.slow
def test_same_checkpoint_same_metrics_and_training_learns(syn_k400, fresh_dirs):
    """Training beats chance on the K400-like set, and re-testing the trained model is deterministic."""
    from bench import job
    from protocols import engine

    spec = RunSpec("clip_meanpool", "supervised", "syn_k400", overrides={"train_cfg.max_epochs": 4})
    rec = job.run(spec)
    chance = 100 / len(syn_k400.classes)
    assert rec["metrics"]["top1"] > 2 * chance, rec["metrics"]
    prep = job.prepare(spec)
    ctx = engine.RunContext(spec, prep.method, prep.cfg, fresh_dirs / "work" / spec.run_id)
    cfg = engine.episode_config(ctx, prep.episodes[0], name="again")
    from mmengine.runner import Runner

    runner = Runner.from_cfg(cfg)
    ckpt = sorted((fresh_dirs / "work" / spec.run_id / "main").glob("epoch_*.pth"))[-1]
    from bench.checkpoint import trusted_resume

    with trusted_resume(ckpt.parent):
        runner.load_checkpoint(str(ckpt), map_location="cpu")
    a = engine.test(cfg, runner.model)
    b = engine.test(cfg, runner.model)
    assert a == b
    assert a["top1"] == pytest.approx(rec["metrics"]["top1"])


def test_unknown_names_are_refused_with_choices(fresh_dirs, capsys):
    assert bench_main(["run", "--method", "nope", "--dataset", "syn_k400"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert bench_main(["run", "--method", "clip_meanpool", "--dataset", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "syn_k400" in err
    assert bench_main(["run", "--method", "clip_meanpool", "--protocol", "nope", "--dataset", "syn_k400"]) == 2
    assert "unknown protocol 'nope'" in capsys.readouterr().err


def test_real_dataset_roots_are_checked(fresh_dirs, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("BENCH_DATA_UCF101", raising=False)
    assert bench_main(["run", "--method", "clip_meanpool", "--dataset", "ucf101"]) == 2
    assert "dataset 'ucf101' has no root configured; set BENCH_DATA_UCF101" in capsys.readouterr().err
    monkeypatch.setenv("BENCH_DATA_UCF101", str(tmp_path / "missing"))
    assert bench_main(["run", "--method", "clip_meanpool", "--dataset", "ucf101"]) == 2
    err = capsys.readouterr().err
    assert "not a directory" in err and "BENCH_DATA_UCF101" in err


def test_missing_video_in_list_is_reported_before_training(syn_k400, fresh_dirs, tmp_path, monkeypatch):
    from bench import job
    from bench.data.catalog import read_annotation_list

    root = tmp_path / "ds"
    shutil.copytree(syn_k400.video_root, root)
    items = read_annotation_list(root / "train.txt")
    (root / items[0][0]).unlink()
    (root / items[1][0]).unlink()
    from bench.data import catalog

    splits = {"train": root / "train.txt", "val": root / "val.txt"}
    info = catalog.DatasetInfo("syn_k400", syn_k400.classes, root, splits)
    monkeypatch.setattr(catalog, "get_dataset", lambda name, where="": info)
    with pytest.raises(DataError, match=r"2 of \d+ videos listed in .*train.txt are missing"):
        job.prepare(RunSpec("clip_meanpool", "supervised", "syn_k400"))
    assert not (fresh_dirs / "work").exists(), "nothing ran"


@pytest.mark.slow
def test_decode_failures_are_counted_in_training_and_fatal_in_testing(syn_k400, fresh_dirs, tmp_path, monkeypatch):
    from bench import job
    from bench.data import catalog
    from bench.data.catalog import read_annotation_list

    root = tmp_path / "ds"
    shutil.copytree(syn_k400.video_root, root)
    bad = read_annotation_list(root / "train.txt")[0][0]
    (root / bad).write_bytes(b"this is not an mp4")
    splits = {"train": root / "train.txt", "val": root / "val.txt"}
    info = catalog.DatasetInfo("syn_k400", syn_k400.classes, root, splits)
    monkeypatch.setattr(catalog, "get_dataset", lambda name, where="": info)
    rec = job.run(RunSpec("clip_meanpool", "supervised", "syn_k400", overrides={"train_cfg.max_epochs": 1}))
    assert rec["decode_failures"]["count"] >= 1
    assert any(p.endswith(bad) for p in rec["decode_failures"]["paths"])
    info.splits["val"] = root / "train.txt"  # now the broken video is a test video
    spec = RunSpec("clip_meanpool", "supervised", "syn_k400", overrides={"train_cfg.max_epochs": 1}, seed=1)
    with pytest.raises(Exception, match=f"test video .*{bad}.* failed to decode"):
        job.run(spec)
    failure = Store().failure(spec.run_id)
    assert failure and "failed to decode" in failure["error"] and not Store().has(spec.run_id)


def test_cli_entry_point_is_installed():
    out = subprocess.run([sys.executable, "-m", "bench.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "run" in out.stdout
