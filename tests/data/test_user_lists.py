"""Lists written by hand are checked like imported ones, before anything trains: 1-based labels,
class folders that disagree with labels, and official files given where an MMAction2 list belongs."""

from __future__ import annotations

import pytest

from bench import job
from bench.errors import DataError
from bench.spec import RunSpec

QUICK = {"model.backbone.clip_weights": None, "model.cls_head.clip_weights": None}


def prepare(dataset: str, **args):
    return job.prepare(RunSpec("clip_meanpool", "supervised", dataset, protocol_args=args, overrides=dict(QUICK)))


def configure(user_config, name: str, root, **splits) -> None:
    lines = [f"datasets:\n  {name}:\n    root: {root}\n"] + [f"    {k}: {v}\n" for k, v in splits.items()]
    user_config.write_text("".join(lines))


@pytest.fixture()
def ucf(official_tree, user_config, tmp_path):
    t = official_tree("ucf101")
    val = tmp_path / "val.txt"  # a correct 0-based list for the test side
    val.write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 0\nYoYo/v_YoYo_g01_c01.avi 100\n")
    return t, val


def test_ucf101_trainlist_with_its_1_based_labels_is_refused(ucf, user_config):
    t, val = ucf
    trainlist = t["annotations"] / "trainlist01.txt"  # "<Class>/<file>.avi <1..101>", YoYo (101) present
    configure(user_config, "ucf101", t["root"], train=trainlist, val=val)
    with pytest.raises(DataError, match=r"labels run 1\.\.101: they look 1-based"):
        prepare("ucf101")


def test_ucf101_1_based_list_without_its_last_class_is_refused(ucf, user_config, tmp_path):
    t, val = ucf
    lines = [x for x in (t["annotations"] / "trainlist01.txt").read_text().splitlines() if not x.startswith("YoYo/")]
    no_yoyo = tmp_path / "train.txt"
    no_yoyo.write_text("\n".join(lines) + "\n")  # labels 1..37: in range for 101 classes, but one too high each
    configure(user_config, "ucf101", t["root"], train=no_yoyo, val=val)
    with pytest.raises(DataError, match=r"train.txt:1: 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi' has label 1 "
                                        r"but is in the folder of class 0 \('ApplyEyeMakeup'\).*look 1-based"):
        prepare("ucf101")


def test_a_line_whose_class_folder_disagrees_with_its_label_is_refused_naming_it(ucf, user_config, tmp_path):
    t, val = ucf
    train = tmp_path / "train.txt"
    train.write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0\nApplyLipstick/v_ApplyLipstick_g08_c01.avi 1\n"
                     "YoYo/v_YoYo_g08_c01.avi 99\n")
    configure(user_config, "ucf101", t["root"], train=train, val=val)
    with pytest.raises(DataError, match=r"train.txt:3: 'YoYo/v_YoYo_g08_c01.avi' is in the class folder of 'YoYo' "
                                        r"\(label 100\) but has label 99"):
        prepare("ucf101")


def test_a_correct_hand_written_list_passes(ucf, user_config, tmp_path):
    t, val = ucf
    train = tmp_path / "train.txt"
    train.write_text("# my own list\nApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0\nYoYo/v_YoYo_g08_c01.avi 100\n")
    configure(user_config, "ucf101", t["root"], train=train, val=val)
    prep = prepare("ucf101")
    assert prep.episodes[0].train.describe()["num_videos"] == 2


def test_shipped_lists_are_checked_against_class_folders(ucf, user_config, tmp_path, monkeypatch):
    from protocols import lists

    t, _ = ucf
    shipped = tmp_path / "splits" / "ucf101"
    shipped.mkdir(parents=True)
    (shipped / "train_split1.txt").write_text("ApplyLipstick/v_ApplyLipstick_g08_c01 8 0\n")
    (shipped / "val_split1.txt").write_text("ApplyLipstick/v_ApplyLipstick_g01_c01 8 1\n")
    monkeypatch.setattr(lists, "SPLITS_DIR", tmp_path / "splits")
    configure(user_config, "ucf101", t["root"])
    with pytest.raises(DataError, match=r"train_split1.txt:1: 'ApplyLipstick/v_ApplyLipstick_g08_c01.avi' is in "
                                        r"class folder 'ApplyLipstick' but has label 0"):
        prepare("ucf101", splits=[1])


@pytest.mark.parametrize("name, text, match", [
    ("train.csv", "label,youtube_id,time_start,time_end,split,is_cc\nabseiling,-3B32lodo2M,59,69,train,0\n",
     "looks like a Kinetics CSV.*bench data import k400"),
    ("train.json", '[{"id": "78687", "template": "Holding [something] next to [something]"}]\n',
     "looks like an SSV2 / ActivityNet JSON file.*bench data import ssv2"),
])
def test_official_files_given_as_lists_point_to_the_import(name, text, match, ucf, user_config, tmp_path):
    t, val = ucf
    (tmp_path / name).write_text(text)
    configure(user_config, "ucf101", t["root"], train=tmp_path / name, val=val)
    with pytest.raises(DataError, match=match):
        prepare("ucf101")


def test_hmdb51_split_file_given_as_a_list_says_its_tags_are_not_labels(official_tree, user_config):
    t = official_tree("hmdb51")
    split_file = t["annotations"] / "brush_hair_test_split1.txt"
    configure(user_config, "hmdb51", t["root"], train=split_file, val=split_file)
    with pytest.raises(DataError, match=r"official HMDB-51 split file: its 0/1/2 are split tags.*bench data import"):
        prepare("hmdb51")


def test_only_a_root_configured_uses_the_shipped_splits_and_asks_which(ucf, user_config):
    t, _ = ucf
    configure(user_config, "ucf101", t["root"])
    with pytest.raises(DataError, match=r"give --arg splits=\[1,2,3\].*or --arg train_split=train_split1"):
        prepare("ucf101")
    # the shipped train split 1 (9,537 videos, converted into the run's work directory) is found; most of
    # its videos are not in the miniature tree
    with pytest.raises(DataError, match=r"of 9537 videos listed in .*ucf101_train_split1.txt are missing"):
        prepare("ucf101", train_split="train_split1", test_split="val_split1")
