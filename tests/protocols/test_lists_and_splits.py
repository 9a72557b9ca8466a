"""Published split files: conversion to MMAction2 lists, label checks, half-class and K600 class sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.catalog import LABELS_DIR, DatasetInfo, read_annotation_list, read_label_csv
from bench.errors import ConfigError, DataError
from bench.method import get_method
from bench.spec import RunSpec
from protocols import lists
from protocols.base import build_protocol
from protocols.zeroshot import K400_RENAMED_IN_K600, half_class_ids, overlapping

SPLITS = lists.SPLITS_DIR
K400 = read_label_csv(LABELS_DIR / "kinetics400.csv")
K600 = read_label_csv(LABELS_DIR / "kinetics600.csv")


def real(name: str, label_file: str, root: Path) -> DatasetInfo:
    return DatasetInfo(name, read_label_csv(LABELS_DIR / label_file), root, {}, source="test")


@pytest.mark.parametrize("num_classes", [101, 51])
def test_half_class_repeat_s_is_numpy_permutation_after_seed_s(num_classes):
    for s in range(10):
        np.random.seed(s)
        expected = np.random.permutation(num_classes)[: num_classes // 2].tolist()
        assert half_class_ids(num_classes, s) == expected


def test_half_class_plan_on_ucf101_uses_those_classes_and_remaps_labels(fresh_dirs):
    ds = real("ucf101", "ucf101.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "zeroshot", "ucf101", protocol_args={"mode": "half"})
    episodes = build_protocol("zeroshot", {"mode": "half"}).plan(spec, get_method("clip_meanpool"), ds)
    assert [e.name for e in episodes] == [f"half_rep{s}" for s in range(10)]
    full = read_annotation_list(lists.dataset_list(spec, ds, "full").ann_file)
    assert len(full) == 13320 and full[0][0].endswith(".avi")
    for s, ep in enumerate(episodes):
        np.random.seed(s)
        ids = np.random.permutation(101)[:50].tolist()
        assert ep.classes == [ds.classes[i] for i in ids] and len(ep.classes) == 50
        items = read_annotation_list(ep.test.ann_file)
        assert len(items) == sum(1 for _, lab in full if lab in ids)
        assert {lab for _, lab in items} == set(range(50))
        for path, lab in items[:: max(1, len(items) // 20)]:  # folder names the class of the remapped label
            assert lists.norm_name(Path(path).parent.name) == lists.norm_name(ep.classes[lab])
        assert ep.describe()["test"]["source"]["sha256"]


def test_k600_zeroshot_uses_exactly_the_three_shipped_160_class_lists(fresh_dirs):
    ds = real("k600", "kinetics600.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "zeroshot", "k600", protocol_args={"mode": "k600"})
    episodes = build_protocol("zeroshot", {"mode": "k600"}).plan(spec, get_method("clip_meanpool"), ds)
    assert len(episodes) == 3
    union: set[str] = set()
    for i, ep in enumerate(episodes, 1):
        shipped = read_label_csv(SPLITS / "k600_zeroshot" / f"k160_labels_split{i}.csv")
        assert ep.classes == shipped and len(shipped) == 160
        src = read_annotation_list(SPLITS / "k600_zeroshot" / f"test_split{i}.txt")
        assert read_annotation_list(ep.test.ann_file) == src
        assert ep.test.describe()["files"]["labels"]["sha256"]
        union |= set(shipped)
    renamed_new_names = set(K400_RENAMED_IN_K600.values())
    new_220 = [c for c in K600 if c not in K400 and c not in renamed_new_names]
    assert len(new_220) == 220
    assert len(union) == 217 and union <= set(new_220)
    assert not union & set(K400) and not overlapping(K400, sorted(union))
    assert sorted(set(new_220) - union) == ["making horseshoes", "pillow fight", "spelunking"]
    assert overlapping(K400, ["inflating balloons"]) == ["inflating balloons"]  # a renamed K400 class


@pytest.mark.parametrize("dataset", ["ucf101", "hmdb51"])
def test_every_shipped_split_converts_with_consistent_labels(dataset, fresh_dirs):
    ds = real(dataset, f"{dataset}.csv", fresh_dirs)
    spec = RunSpec("clip_meanpool", "fewshot", dataset)
    names = [n for (d, n) in lists.SHIPPED if d == dataset]
    for name in names:
        split = lists.dataset_list(spec, ds, name)
        items = read_annotation_list(split.ann_file)
        assert items and all(p.endswith(".avi") and "/" in p for p, _ in items), name
        if name.startswith("fewshot_"):
            k = int(name.split("_")[1])
            assert set(lists.count_per_class(split.ann_file).values()) == {k}


def test_hmdb_list_in_another_label_order_is_refused(fresh_dirs):
    ds = real("hmdb51", "hmdb51.csv", fresh_dirs)
    assert ds.classes[20:22] == ["kick", "kick ball"] and ds.classes[44:46] == ["sword", "sword exercise"]
    src = fresh_dirs / "swapped.txt"
    src.write_text("kick/a_kick_f_0 40 20\nkick_ball/b_kick_ball_f_0 40 20\n")  # kick ball labelled as kick
    with pytest.raises(DataError, match="label order differs"):
        lists.convert_list(src, fresh_dirs / "out.txt", ds.classes, ext=".avi", label_file="hmdb51.csv")


def test_label_outside_the_class_list_is_refused(fresh_dirs):
    ds = real("ucf101", "ucf101.csv", fresh_dirs)
    src = fresh_dirs / "bad.txt"
    src.write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01 10 0\nX/v_x 10 101\n")
    with pytest.raises(DataError, match=r"label 101 .* outside the class list"):
        lists.convert_list(src, fresh_dirs / "out.txt", ds.classes, ext=".avi", label_file="ucf101.csv")


def test_split_file_with_missing_videos_is_refused_before_training(fresh_dirs, monkeypatch, quick_spec):
    from bench import job

    root = fresh_dirs / "hmdb"
    root.mkdir()
    monkeypatch.setenv("BENCH_DATA_HMDB51", str(root))
    spec = quick_spec("fewshot", "hmdb51", shots=2)
    with pytest.raises(DataError, match=r"(\d+) of \1 videos listed in .* are missing .* first: "):
        job.prepare(spec)
    assert not (fresh_dirs / "work" / spec.run_id / "2shot").exists()


def test_zeroshot_refuses_a_method_that_cannot_score_class_names(syn_k400, fresh_dirs):
    import dataclasses

    method = dataclasses.replace(get_method("clip_meanpool"), name="linear_only", protocols=("supervised",))
    spec = RunSpec("linear_only", "zeroshot", "syn_ucf")
    with pytest.raises(ConfigError, match="cannot score class names"):
        build_protocol("zeroshot", {"mode": "full"}).plan(spec, method, syn_k400)
