"""From the official files to a record: ``bench data import`` on a miniature official tree, then a
tiny ``bench run`` (random-init tiny CLIP baseline, one epoch) trains and tests on the lists it wrote."""

from __future__ import annotations

import pytest

from bench.cli import main as bench_main
from bench.store import Store

QUICK = ["--set", "model.backbone.clip_weights=null", "--set", "model.cls_head.clip_weights=null",
         "--set", "train_cfg.max_epochs=1", "--set", "train_dataloader.num_workers=0",
         "--set", "train_dataloader.persistent_workers=false", "--set", "test_dataloader.num_workers=0",
         "--set", "test_dataloader.persistent_workers=false"]


def imported(official_tree, name: str, capsys) -> dict:
    t = official_tree(name)
    code = bench_main(["data", "import", name, "--root", str(t["root"]), "--annotations", str(t["annotations"]),
                       "--out", str(t["dest"] / "lists")])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    return t


def run(capsys, *args) -> dict:
    code = bench_main(["run", "--method", "clip_meanpool", *args, *QUICK])
    err = capsys.readouterr().err
    assert code == 0, err
    records = Store().records()
    assert len(records) == 1
    return records[0]


# dataset, protocol, args, episode names, number of test videos per episode
CASES = [
    ("ucf101", "supervised", ["train_split=train_split1", "test_split=val_split1"], ["main"], [8]),
    ("hmdb51", "supervised", ["train_split=train_split1", "test_split=val_split1"], ["main"], [51]),
    ("hmdb51", "fewshot", ["shots=2", "list=draw"], ["2shot"], [51]),
    ("k400", "supervised", [], ["main"], [3]),
    ("ssv2", "supervised", [], ["main"], [3]),
]


@pytest.mark.slow
@pytest.mark.parametrize("dataset, protocol, args, episodes, n_test", CASES,
                         ids=[f"{c[1]}-{c[0]}" for c in CASES])
def test_import_then_run(dataset, protocol, args, episodes, n_test, official_tree, user_config, fresh_dirs, capsys):
    imported(official_tree, dataset, capsys)
    rec = run(capsys, "--protocol", protocol, "--dataset", dataset, *[a for x in args for a in ("--arg", x)])
    assert [e["episode"]["name"] for e in rec["episodes"]] == episodes
    assert [e["metrics"]["num_test_videos"] for e in rec["episodes"]] == n_test
    test = rec["episodes"][0]["episode"]["test"]
    assert test["import"]["dropped_missing"] == 0 and test["import"]["videos"] == n_test[0]
    assert 0 <= rec["metrics"]["top1"] <= 100


@pytest.mark.slow
def test_ucf101_three_splits_with_only_the_root_configured(official_tree, user_config, fresh_dirs, capsys,
                                                           monkeypatch, tmp_path):
    """Only ``root`` configured: the shipped split files (BIKE's ``<folder>/<stem> <frames> <label>``) are
    converted per split. The shipped files name all 13,320 videos; here they are replaced by files of the
    same format naming the miniature tree's videos, so that the run takes seconds."""
    from bench.data.catalog import LABELS_DIR, read_label_csv
    from protocols import lists

    t = official_tree("ucf101")
    shipped = tmp_path / "splits" / "ucf101"
    shipped.mkdir(parents=True)
    classes = read_label_csv(LABELS_DIR / "ucf101.csv")
    videos = sorted(p.relative_to(t["root"]) for p in t["root"].rglob("*.avi"))
    for i in (1, 2, 3):
        test_groups = {f"_g{g:02d}_" for g in range(7 * (i - 1) + 1, 7 * i + 1)}
        for kind, keep in (("train", False), ("val", True)):
            lines = [f"{v.parent}/{v.stem} 8 {classes.index(v.parent.name)}" for v in videos
                     if any(g in v.name for g in test_groups) == keep]
            (shipped / f"{kind}_split{i}.txt").write_text("".join(f"{x}\n" for x in lines))
    monkeypatch.setattr(lists, "SPLITS_DIR", tmp_path / "splits")
    user_config.write_text(f"datasets:\n  ucf101:\n    root: {t['root']}\n")
    rec = run(capsys, "--protocol", "supervised", "--dataset", "ucf101", "--arg", "splits=[1,2,3]")
    assert [e["episode"]["name"] for e in rec["episodes"]] == ["split1", "split2", "split3"]
    m = rec["metrics"]
    assert m["num_splits"] == 3 and m["splits"] == [1, 2, 3]
    assert m["top1"] == pytest.approx((m["top1_split1"] + m["top1_split2"] + m["top1_split3"]) / 3)
    for i, ep in enumerate(rec["episodes"], 1):
        assert ep["episode"]["test"]["source"]["file"] == f"protocols/splits/ucf101/val_split{i}.txt"
        assert ep["metrics"]["num_test_videos"] == 8
    # resumes per episode: a rerun after losing the record reuses the three finished episodes
    for path in (fresh_dirs / "results").rglob("*.json"):
        path.unlink()
    code = bench_main(["run", "--method", "clip_meanpool", "--protocol", "supervised", "--dataset", "ucf101",
                       "--arg", "splits=[1,2,3]", *QUICK])
    assert code == 0
    assert Store().records()[0]["metrics"] == m


@pytest.mark.slow
def test_activitynet_half_class_zeroshot(official_tree, user_config, fresh_dirs, capsys):
    imported(official_tree, "activitynet", capsys)
    rec = run(capsys, "--protocol", "zeroshot", "--dataset", "activitynet", "--arg", "mode=half",
              "--arg", "repeats=2")
    tests = [e for e in rec["episodes"] if e["metrics"]["role"] == "test"]
    assert [e["episode"]["name"] for e in tests] == ["half_rep0", "half_rep1"]
    assert all(e["episode"]["num_classes"] == 100 for e in tests)
    for e in tests:  # the videos of the drawn classes among the 30 of the full list
        ids = set(e["episode"]["params"]["class_ids"])
        assert e["metrics"]["num_test_videos"] == 3 * len(ids & set(range(0, 200, 20)))
        assert 0 <= e["metrics"]["mAP"] <= 100
    assert rec["metrics"]["num_episodes"] == 2


@pytest.mark.slow
def test_activitynet_supervised_reports_top1_and_map(official_tree, user_config, fresh_dirs, capsys):
    imported(official_tree, "activitynet", capsys)
    rec = run(capsys, "--protocol", "supervised", "--dataset", "activitynet")
    m = rec["metrics"]
    assert m["num_test_videos"] == 10 and 0 <= m["mAP"] <= 100 and 0 <= m["top1"] <= 100


@pytest.mark.slow
def test_charades_map(official_tree, user_config, fresh_dirs, capsys):
    imported(official_tree, "charades", capsys)
    rec = run(capsys, "--protocol", "charades", "--dataset", "charades", "--arg", "views=2x1")
    ep = rec["episodes"][0]
    assert ep["episode"]["train"]["num_videos"] == 10  # one line per action instance (2+4+1+2+1+0)
    assert ep["metrics"]["num_test_videos"] == 4
    assert 0 <= rec["metrics"]["mAP"] <= 100 and 0 <= rec["metrics"]["mAP_1view"] <= 100
