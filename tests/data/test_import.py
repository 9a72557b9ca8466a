"""``bench data import`` on miniature official trees: labels by class name, layouts, missing and
unlisted videos, idempotence. Expected lines are written out by hand from the official formats
(``protocols/README.md``) and the shipped class lists."""

from __future__ import annotations

import csv
import json
import os

import pytest
import yaml

from bench.cli import main as bench_main
from bench.data.catalog import LABELS_DIR, read_label_csv
from bench.errors import DataError

UCF = read_label_csv(LABELS_DIR / "ucf101.csv")
HMDB = read_label_csv(LABELS_DIR / "hmdb51.csv")
K400 = read_label_csv(LABELS_DIR / "kinetics400.csv")
SSV2 = read_label_csv(LABELS_DIR / "ssv2.csv")


def body(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("# ")]


def run_import(args, capsys) -> tuple[int, str, str]:
    code = bench_main(["data", "import", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ucf101_official_lists_become_0_based_lists_by_class_name(official_tree, user_config, capsys, tmp_path):
    t = official_tree("ucf101")
    out = tmp_path / "lists"
    code, stdout, err = run_import(["ucf101", "--root", t["root"], "--annotations", t["annotations"],
                                    "--out", out], capsys)
    assert code == 0, err
    train = body(out / "ucf101_train_split1.txt")
    test = body(out / "ucf101_val_split1.txt")
    # trainlist01 says "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1" (1-based); class 0 of ucf101.csv
    assert "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0" in train
    # the HandstandPushups folder holds v_HandStandPushups_* files; classInd id 37 -> label 36
    assert "HandstandPushups/v_HandStandPushups_g08_c01.avi 36" in train
    # YoYo is id 101 -> label 100; testlist lines carry no label, the class folder gives it
    assert "YoYo/v_YoYo_g01_c01.avi 100" in test
    assert len(train) == 4 * 3 * 2 and len(test) == 4 * 2  # 4 classes x 3 training groups x 2 clips
    assert all("_g01_" in line for line in test)  # split 1 tests groups 1-7
    entry = yaml.safe_load(user_config.read_text())["datasets"]["ucf101"]
    assert entry["root"] == str(t["root"]) and entry["train_split1"] == str(out / "ucf101_train_split1.txt")
    assert set(entry) == {"root", "annotations", *(f"{k}_split{i}" for k in ("train", "val") for i in (1, 2, 3))}
    assert "missing: 0" in stdout and "unlisted: 0" in stdout


def test_import_is_idempotent_and_a_deleted_video_is_reported_exactly(official_tree, user_config, capsys, tmp_path):
    t = official_tree("ucf101")
    out = tmp_path / "lists"
    args = ["ucf101", "--root", t["root"], "--annotations", t["annotations"], "--out", out, "--print"]
    assert run_import(args, capsys)[0] == 0
    first = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert run_import(args, capsys)[0] == 0
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == first
    assert user_config.read_text() == "", "--print leaves the user config alone"

    gone = "ApplyLipstick/v_ApplyLipstick_g15_c02.avi"
    (t["root"] / gone).unlink()
    code, _, err = run_import(args, capsys)
    assert code == 2 and "1 video(s) listed in the annotations are missing" in err and "--skip-missing" in err
    # group 15 trains in splits 1 and 2 and tests in split 3
    assert (out / "missing.txt").read_text().splitlines() == [f"train_split1 {gone}", f"train_split2 {gone}",
                                                              f"val_split3 {gone}"]
    assert (out / "ucf101_train_split1.txt").read_bytes() == first["ucf101_train_split1.txt"], "lists untouched"

    code, stdout, _ = run_import([*args, "--skip-missing"], capsys)
    assert code == 0 and "1 missing dropped" in stdout
    lines = (out / "ucf101_train_split1.txt").read_text().splitlines()
    assert "# dropped_missing: 1" in lines and "# videos: 23" in lines
    assert not any(line.startswith(gone) for line in lines)
    assert "# dropped_missing: 0" in (out / "ucf101_val_split1.txt").read_text().splitlines()


def test_unlisted_videos_are_counted_and_named(official_tree, user_config, capsys, tmp_path):
    t = official_tree("ucf101")
    extra = t["root"] / "YoYo" / "v_YoYo_g25_c09.avi"
    extra.write_bytes((t["root"] / "YoYo" / "v_YoYo_g01_c01.avi").read_bytes())
    code, stdout, _ = run_import(["ucf101", "--root", t["root"], "--annotations", t["annotations"],
                                  "--out", tmp_path / "l"], capsys)
    assert code == 0 and "unlisted: 1" in stdout
    assert (tmp_path / "l" / "unlisted.txt").read_text() == "YoYo/v_YoYo_g25_c09.avi\n"


def test_hmdb51_split_tags_and_class_names(official_tree, user_config, capsys, tmp_path):
    t = official_tree("hmdb51")
    out = tmp_path / "lists"
    assert run_import(["hmdb51", "--root", t["root"], "--annotations", t["annotations"], "--out", out], capsys)[0] == 0
    train, test = body(out / "hmdb51_train_split1.txt"), body(out / "hmdb51_val_split1.txt")
    assert len(train) == 51 * 2 and len(test) == 51  # tag 1 -> train, 2 -> test, 0 -> left out
    assert not any("_unused_" in line for line in train + test)
    # the label is the class of the split file's name, by name: kick_ball -> "kick ball" in hmdb51.csv
    kick_ball = HMDB.index("kick ball")
    assert all(line.endswith(f" {kick_ball}") for line in train if line.startswith("kick_ball/"))
    assert {int(line.split()[1]) for line in test} == set(range(51))
    # a file name starting with '#' is a video, not a comment
    assert f"pick/#122_Pick_clip_pick_f_cm_np1_fr_med_2.avi {HMDB.index('pick')}" in test
    # the tree tags clip (N + 1) % 3 of each class 2 (test) in split N
    assert all(line.split()[0].endswith("_2.avi") for line in test)
    assert all(line.split()[0].endswith("_0.avi") for line in body(out / "hmdb51_val_split2.txt"))


@pytest.mark.parametrize("layout", ["class-folders", "flat", "split-roots"])
def test_kinetics_layouts_all_resolve(layout, official_trees, tmp_path, user_config, capsys):
    from bench.data import importers
    from bench.data.synthetic import official

    rows = official._kinetics_rows(K400, [0, 1, 2], "k400")
    dest = tmp_path / layout
    # videos written in this process would need decord-free PyAV: mp4/mkv with libx264 is fine
    info = official.kinetics(dest, "k400", layout=layout, rows=rows)
    res = importers.run_import("k400", info["root"], info["annotations"], tmp_path / "out" / layout)
    train = body(res.lists["train"])
    assert len(train) == 6 and len(body(res.lists["val"])) == 3
    r = next(r for r in rows if r["label"] == "air drumming" and r["split"] == "train")
    stem = f"{r['youtube_id']}_{r['time_start']:06d}_{r['time_end']:06d}"
    expected = {"class-folders": f"videos_train/air_drumming/{stem}.mp4", "flat": f"vol_00/{stem}.mp4",
                "split-roots": f"train/{r['youtube_id']}.mkv"}[layout]
    assert f"{expected} 1" in train  # "air drumming" is class 1 of kinetics400.csv
    assert "test" not in res.lists  # the official test.csv here holds no row


def test_kinetics_csv_with_quoted_labels_and_an_unknown_class(tmp_path):
    from bench.data import importers

    src = tmp_path / "validate.csv"
    src.write_text('label,youtube_id,time_start,time_end,split,is_cc\nabseiling,-3B32lodo2M,59,69,val,0\n'
                   '"air drumming",_dbcJuKJQNs,40,50,val,0\n')
    recs = importers.read_kinetics_csv(src, "val", importers.ClassMap("k400"))
    assert [(r.key, r.labels) for r in recs] == [("-3B32lodo2M_000059_000069", (0,)),
                                                 ("_dbcJuKJQNs_000040_000050", (1,))]
    src.write_text("label,youtube_id,time_start,time_end,split\nair guitar,abc,1,11,val\n")
    with pytest.raises(DataError, match=r"validate.csv:2: class 'air guitar' is not in the k400 class list"):
        importers.read_kinetics_csv(src, "val", importers.ClassMap("k400"))


def test_ssv2_templates_with_brackets_and_webm(official_tree, user_config, capsys, tmp_path):
    t = official_tree("ssv2")
    out = tmp_path / "lists"
    assert run_import(["ssv2", "--root", t["root"], "--annotations", t["annotations"], "--out", out], capsys)[0] == 0
    train = body(out / "ssv2_train.txt")
    items = json.loads((t["annotations"] / "train.json").read_text())
    feather = next(i for i in items if i["template"].startswith("[Something] falling"))
    assert f"{feather['id']}.webm {SSV2.index('Something falling like a feather or paper')}" in train
    holding = next(i for i in items if i["template"] == "Holding [something] next to [something]")
    assert f"{holding['id']}.webm {SSV2.index('Holding something next to something')}" in train


def test_ssv2_labels_json_in_another_order_is_refused(official_tree, tmp_path):
    from bench.data import importers

    t = official_tree("ssv2")
    labels = json.loads((t["annotations"] / "labels.json").read_text())
    a, b = SSV2[0], SSV2[1]
    labels[a], labels[b] = labels[b], labels[a]
    (t["annotations"] / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(DataError, match="has index 1 there and 0 in the shipped class list"):
        importers.run_import("ssv2", t["root"], t["annotations"], tmp_path / "o")


def test_charades_actions_become_multi_label_lines(official_tree, user_config, capsys, tmp_path):
    t = official_tree("charades")
    out = tmp_path / "lists"
    assert run_import(["charades", "--root", t["root"], "--annotations", t["annotations"], "--out", out],
                      capsys)[0] == 0
    train, val = body(out / "charades_train.txt"), body(out / "charades_val.txt")
    # N11GT's actions field: c098 ...;c075 ...;c127 ...;c153 ... -> sorted class ids
    assert "N11GT.mp4 75 98 127 153" in train
    assert "V5W6X.mp4" in val, "a test video without actions stays (it counts as a negative for every class)"
    assert "J7K8L.mp4" in train
    entry = yaml.safe_load(user_config.read_text())["datasets"]["charades"]
    assert entry["multi_label"] is True


def test_activitynet_whole_videos_and_the_full_list(official_tree, user_config, capsys, tmp_path):
    t = official_tree("activitynet")
    out = tmp_path / "lists"
    assert run_import(["activitynet", "--root", t["root"], "--annotations", t["annotations"], "--out", out],
                      capsys)[0] == 0
    db = json.loads((t["annotations"] / "activity_net.v1-3.min.json").read_text())["database"]
    names = [r["name"] for r in csv.DictReader(open(LABELS_DIR / "activitynet.csv"))]
    vid = next(k for k, v in db.items() if v["subset"] == "validation")
    assert f"v_{vid}.mp4 {names.index(db[vid]['annotations'][0]['label'])}" in body(out / "activitynet_val.txt")
    assert len(body(out / "activitynet_full.txt")) == 30  # every training and validation video (BIKE's full list)
    assert not any("testvideo01" in line for line in body(out / "activitynet_full.txt"))


def test_bad_dataset_and_layout_are_refused_naming_what_is_accepted(tmp_path, user_config, capsys):
    code, _, err = run_import(["ucf102", "--root", tmp_path], capsys)
    assert code == 2 and "unknown dataset 'ucf102'" in err and "ucf101" in err
    code, _, err = run_import(["activitynet", "--root", tmp_path, "--layout", "frames"], capsys)
    assert code == 2 and "--layout 'frames'" in err and "untrimmed" in err


def test_data_ls_and_ls_datasets_show_source_lists_and_missing_videos(official_tree, user_config, capsys, tmp_path):
    t = official_tree("k400")
    assert run_import(["k400", "--root", t["root"], "--annotations", t["annotations"], "--out", tmp_path / "l"],
                      capsys)[0] == 0
    victim = next(line.split()[0] for line in body(tmp_path / "l" / "k400_val.txt"))
    (t["root"] / victim).unlink()
    assert bench_main(["data", "ls", "--size", "tiny"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"{t['root']} (from {user_config}" in lines["k400"]
    assert "lists: train, val" in lines["k400"] and "videos missing: 1" in lines["k400"]
    assert "not configured" in lines["k700"] and "not configured" in lines["ucf101"]
    assert "shipped splits: 11" in lines["ucf101"]  # 6 split files, full, 4 few-shot lists (protocols/splits)
    assert bench_main(["ls", "datasets"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("k400 "))
    assert "lists: train, val" in row


def test_activitynet_clips_layout_reads_one_file_per_segment(official_tree, tmp_path):
    from bench.data import importers
    from bench.data.synthetic.video_io import write_mp4

    t = official_tree("activitynet")
    db = json.loads((t["annotations"] / "activity_net.v1-3.min.json").read_text())["database"]
    vid = next(k for k, v in db.items() if v["subset"] == "training")
    clips = tmp_path / "clips"
    frames = __import__("numpy").zeros((8, 32, 32, 3), dtype="uint8")
    for k in range(2):  # the two segments of this video, named as BIKE's trimmed instances
        write_mp4(clips / f"{vid}_{k}.mp4", frames)
    res = importers.run_import("activitynet", clips, t["annotations"], tmp_path / "out", layout="clips",
                               skip_missing=True)
    names = [r["name"] for r in csv.DictReader(open(LABELS_DIR / "activitynet.csv"))]
    label = names.index(db[vid]["annotations"][0]["label"])
    assert body(res.lists["train"]) == [f"{vid}_0.mp4 {label}", f"{vid}_1.mp4 {label}"]
    assert res.dropped["train"] == 2 * 20 - 2
    # validation and full are whole videos (BIKE tests on them), absent from this clips-only root
    assert res.counts["full"] == 0 and res.dropped["full"] == 30 and res.dropped["val"] == 10
    assert res.entry["layout"] == "clips"


def test_activitynet_segments_are_cut_into_training_clips(official_tree, tmp_path):
    import decord

    from bench.data import importers

    t = official_tree("activitynet")
    out = tmp_path / "out"
    res = importers.run_import("activitynet", t["root"], t["annotations"], out, layout="segments")
    db = json.loads((t["annotations"] / "activity_net.v1-3.min.json").read_text())["database"]
    names = [r["name"] for r in csv.DictReader(open(LABELS_DIR / "activitynet.csv"))]
    train = body(res.lists["train"])
    assert len(train) == 20 * 2  # two segments per training video
    vid = next(k for k, v in db.items() if v["subset"] == "training")
    label = names.index(db[vid]["annotations"][1]["label"])
    rel = os.path.relpath(out / "clips" / f"{vid}_1.mp4", t["root"])  # relative to the root the lists name
    assert f"{rel} {label}" in train
    # [0.5, 1.0) s of an 8-frame, 8 fps video: frames 4..7
    assert len(decord.VideoReader(str(t["root"] / rel))) == 4
    assert len(body(res.lists["val"])) == 10 and len(body(res.lists["full"])) == 30
    first = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    importers.run_import("activitynet", t["root"], t["annotations"], out, layout="segments")
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == first


def test_ava_entry_names_the_official_files(tmp_path):
    from bench.data import importers

    ann = tmp_path / "annotations"
    ann.mkdir()
    for name in ("ava_train_v2.2.csv", "ava_val_v2.2.csv", "ava_val_excluded_timestamps_v2.2.csv"):
        (ann / name).write_text("-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1\n")
    (tmp_path / "videos_15min").mkdir()
    res = importers.run_import("ava", tmp_path, ann, tmp_path / "out")
    assert res.entry == {"root": str(tmp_path), "train": str(ann / "ava_train_v2.2.csv"),
                         "val": str(ann / "ava_val_v2.2.csv"),
                         "val_exclusions": str(ann / "ava_val_excluded_timestamps_v2.2.csv"),
                         "videos": str(tmp_path / "videos_15min")}


def test_dropped_videos_reach_the_record_of_a_split(tmp_path):
    from protocols.base import Split

    lst = tmp_path / "k400_val.txt"
    lst.write_text("# vlbench data import k400: split val\n# source: validate.csv sha256 00\n# videos: 1\n"
                   "# dropped_missing: 4\nabseiling/x_000001_000011.mp4 0\n")
    d = Split(lst, tmp_path, "k400").describe()
    assert d["num_videos"] == 1 and d["import"] == {"sources": ["validate.csv sha256 00"], "videos": 1,
                                                    "dropped_missing": 4}


def test_writing_the_entry_keeps_the_rest_of_the_user_config(tmp_path):
    from bench.data import importers

    config = tmp_path / "config.yaml"
    config.write_text("profile: paper\ndatasets:\n  k400: {root: /data/k400}\nweights:\n  a: /w.pt\n")
    before = config.read_text()
    importers.write_entry("ucf101", {"root": "/data/ucf", "train_split1": "/l/t1.txt"}, config)
    data = yaml.safe_load(config.read_text())
    assert data["profile"] == "paper" and data["weights"] == {"a": "/w.pt"}
    assert data["datasets"] == {"k400": {"root": "/data/k400"},
                                "ucf101": {"root": "/data/ucf", "train_split1": "/l/t1.txt"}}
    assert (tmp_path / "config.yaml.bak").read_text() == before


def test_ucf101_videos_converted_to_another_extension_are_found(official_tree, tmp_path):
    from bench.data import importers

    t = official_tree("ucf101")
    src = t["root"] / "YoYo" / "v_YoYo_g01_c01.avi"
    src.rename(src.with_suffix(".mkv"))  # the list says .avi; the user's copy is another container
    res = importers.run_import("ucf101", t["root"], t["annotations"], tmp_path / "out")
    assert "YoYo/v_YoYo_g01_c01.mkv 100" in body(res.lists["val_split1"])


def test_class_folders_with_spaces_are_refused_before_any_list_is_written(tmp_path):
    from bench.data import importers

    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "validate.csv").write_text('label,youtube_id,time_start,time_end,split\nabseiling,-3B32lodo2M,59,69,val\n'
                                      '"air drumming",_dbcJuKJQNs,40,50,val\n')
    (ann / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,0wR5jVB-WPk,417,427,train\n")
    # the official crawler's layout keeps the spaces of class names (MMAction2 renames them to "_")
    for rel in ("val/abseiling/-3B32lodo2M_000059_000069.mp4", "val/air drumming/_dbcJuKJQNs_000040_000050.mp4",
                "train/abseiling/0wR5jVB-WPk_000417_000427.mp4"):
        (tmp_path / "videos" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "videos" / rel).touch()
    out = tmp_path / "lists"
    with pytest.raises(DataError, match=r"'val/air drumming/_dbcJuKJQNs_000040_000050.mp4' contains a space.*rename"):
        importers.run_import("k400", tmp_path / "videos", ann, out)
    assert not list(out.glob("k400_*.txt")), "no list is written when one of them cannot be"
