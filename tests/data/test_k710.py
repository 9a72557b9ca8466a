"""Kinetics-710 built from miniature K400/K600/K700 trees: UniFormerV2's rules, MMAction2's label map."""

from __future__ import annotations

import csv
import json

from bench.cli import main as bench_main
from bench.data.catalog import LABELS_DIR

K710 = [r["name"] for r in csv.DictReader(open(LABELS_DIR / "kinetics710.csv"))]


def row(label, yt, split, start=10):
    return {"label": label, "youtube_id": yt, "time_start": start, "time_end": start + 10, "split": split}


def body(path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("# ")]


def test_k710_merges_train_sets_drops_duplicates_and_held_out_videos(tmp_path, user_config, capsys):
    from bench.data.synthetic import official

    ids = {k: f"{k * 11}"[:11] for k in "ABCDEFGH"}
    trees = {
        "k400": [row("abseiling", ids["A"], "train"), row("balloon blowing", ids["B"], "train"),
                 row("abseiling", ids["C"], "train"), row("air drumming", ids["D"], "val"),
                 row("archery", ids["E"], "test")],
        "k600": [row("abseiling", ids["A"], "train"), row("archery", ids["E"], "train"),
                 row("inflating balloons", ids["F"], "train"), row("archery", ids["G"], "val")],
        "k700": [row("air drumming", ids["D"], "train"), row("acting in play", ids["H"], "train"),
                 row("archery", ids["G"], "val")],
    }
    for v, rows in trees.items():
        info = official.kinetics(tmp_path / "kinetics" / v, v, rows=rows)
        assert bench_main(["data", "import", v, "--root", str(info["root"]), "--annotations", str(info["annotations"]),
                           "--out", str(tmp_path / "lists" / v)]) == 0
    capsys.readouterr()
    assert bench_main(["data", "import", "k710",
                       "--out", str(tmp_path / "lists" / "k710")]) == 0
    train = body(tmp_path / "lists" / "k710" / "k710_train.txt")
    val = body(tmp_path / "lists" / "k710" / "k710_val.txt")

    def line(v, label, yt, split, folder_label):
        return (f"{v}/videos/videos_{split}/{folder_label.replace(' ', '_')}/{yt}_000010_000020.mp4 "
                f"{K710.index(label)}")

    # A: K400's copy (the K600 one is a duplicate); E: a K400 test video, dropped from K600's training set;
    # D: a K400 validation video, dropped from K700's training set; B and F: K400's "balloon blowing" and
    # K600's "inflating balloons" are one K710 class
    assert sorted(train) == sorted([
        line("k400", "abseiling", ids["A"], "train", "abseiling"),
        line("k400", "inflating balloons", ids["B"], "train", "balloon blowing"),
        line("k400", "abseiling", ids["C"], "train", "abseiling"),
        line("k600", "inflating balloons", ids["F"], "train", "inflating balloons"),
        line("k700", "acting in play", ids["H"], "train", "acting in play"),
    ])
    assert sorted(val) == sorted([line("k400", "air drumming", ids["D"], "val", "air drumming"),
                                  line("k600", "archery", ids["G"], "val", "archery")])
    header = (tmp_path / "lists" / "k710" / "k710_train.txt").read_text()
    assert "# duplicates: 1" in header and "# in_val_or_test: 2" in header
    assert len(K710) == 710 and K710.index("inflating balloons") == 12
    maps = {v: json.loads((LABELS_DIR / "k710" / f"map_{v}.json").read_text()) for v in ("k400", "k600", "k700")}
    assert maps["k400"] == list(range(400))


def test_k710_needs_the_three_versions_imported(tmp_path, user_config, capsys):
    assert bench_main(["data", "import", "k710", "--root", str(tmp_path)]) == 2
    assert "import k400, k600, k700 first" in capsys.readouterr().err


def test_every_kinetics_class_maps_to_the_k710_row_of_its_name():
    from bench.data.k710 import row_maps

    maps = row_maps()  # raises when a row names another class
    assert sorted(set(maps["k400"]) | set(maps["k600"]) | set(maps["k700"])) == list(range(710))
    k600 = [r["name"] for r in csv.DictReader(open(LABELS_DIR / "kinetics600.csv"))]
    assert K710[maps["k600"][k600.index("picking fruit")]] == "picking apples"
