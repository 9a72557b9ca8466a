"""Kinetics-710 from the official Kinetics-400/600/700 files, the way UniFormerV2's authors built it.

UniFormerV2 (``DATASET.md``, "Kinetics-710"): merge the training sets of K400, K600 and K700,
delete repeated videos by YouTube id, and remove every video that is in the validation or test
set of any of the three (test videos of K400/K600 are in K700's training set); the classes are the
union of the three label sets, 710 after merging renamed classes. Validation: the three
validation sets merged, repeated YouTube ids deleted.

Labels: ``protocols/labels/kinetics710.csv`` is MMAction2's ``tools/data/kinetics710/label_map_k710.txt``
(K400's 400 classes first, under their K600/K700 names, then the classes new in K600 and K700);
a class of version ``v`` goes to the K710 row MMAction2's UniFormerV2 configs map it to
(``configs/recognition/uniformerv2/k710_channel_map/map_k{400,600,700}.json``, copied to
``protocols/labels/k710``). Where a YouTube id occurs in several versions, the first of K400,
K600, K700 gives its file and label (their labels agree after mapping, except where a later
version relabelled a video: those are counted in the list header, ``relabelled``).

The K400/K600/K700 entries must have been imported (``bench data import k400`` ...): their
``root`` and ``annotations`` are read from the user config. Paths in the K710 lists are relative
to ``--root`` (by default the deepest folder above the three roots).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench import settings
from bench.data import official_files
from bench.errors import DataError

VERSIONS = ("k400", "k600", "k700")
MAPS_DIR = official_files.LABELS_DIR / "k710"


# Classes whose K710 row has another name (K400's classes renamed in K600/K700, and two K600/K700
# classes UniFormerV2 merged into an older one); every other class maps to a row of the same name.
RENAMED = {
    "balloon blowing": "inflating balloons", "changing wheel": "changing wheel (not on bike)",
    "cooking sausages": "cooking sausages (not on barbeque)", "drinking": "sipping cup",
    "dying hair": "dyeing hair", "garbage collecting": "person collecting garbage", "hugging": "hugging (not baby)",
    "making bed": "making the bed", "opening bottle": "opening bottle (not wine)", "picking fruit": "picking apples",
    "skiing (not slalom or crosscountry)": "skiing mono", "sniffing": "smelling feet", "tying tie": "tying necktie",
    "throwing ball (not baseball or American football)": "throwing ball",
}


def row_maps() -> dict[str, list[int]]:
    """Version -> the K710 row of each of its classes (MMAction2's ``map_k*.json``), checked by name."""
    k710 = official_files.read_classes("k710")
    norm = official_files.norm_name
    out = {}
    for v in VERSIONS:
        path = MAPS_DIR / f"map_{v}.json"
        rows = json.loads(path.read_text())
        classes = official_files.read_classes(v)
        if len(rows) != len(classes) or len(set(rows)) != len(rows) or max(rows) >= len(k710):
            raise DataError(f"{path}: expected {len(classes)} distinct rows of 0..709")
        for name, r in zip(classes, rows):
            if norm(k710[r]) != norm(RENAMED.get(name, name)):
                raise DataError(f"{path}: {v} class {name!r} goes to K710 row {r} ({k710[r]!r}), another class")
        out[v] = rows
    return out


def youtube_id(key: str) -> str:
    """The YouTube id of a Kinetics file stem (``<id>_<start:06d>_<end:06d>`` or ``<id>``; ids are 11 characters)."""
    return key[:11]


def import_k710(root: Path | None, out_dir: Path, *, skip_missing: bool = False) -> official_files.ImportResult:
    entries = {v: settings.dataset_entry(v) for v in VERSIONS}
    absent = [v for v, e in entries.items() if not e.get("root") or not e.get("annotations")]
    if absent:
        raise DataError(f"bench data import k710 builds Kinetics-710 from the official K400, K600 and K700 files: "
                        f"import {', '.join(absent)} first ('bench data import {absent[0]} --root <videos> "
                        f"--annotations <csv folder>'; the entry needs root and annotations, in "
                        f"{settings.config_file()})")
    roots = {v: Path(e["root"]) for v, e in entries.items()}
    if root is None:
        root = Path(os.path.commonpath([str(r) for r in roots.values()]))
    elif not root.is_dir():
        raise DataError(f"bench data import k710: --root {root} is not a directory")
    maps = row_maps()
    records: dict[str, list[official_files.Record]] = {}
    sources = []
    for v in VERSIONS:
        ann = Path(entries[v]["annotations"])
        cmap = official_files.ClassMap(v, aliases=official_files._aliases(v))
        records[v] = official_files.read_kinetics(ann, cmap)
        sources += official_files._sources(v, ann)
    held_out = {youtube_id(r.key) for v in VERSIONS for r in records[v] if r.split in ("val", "test")}
    chosen: dict[str, dict[str, tuple[str, official_files.Record, official_files.Record]]] = {"train": {}, "val": {}}
    stats = {"train": {"duplicates": 0, "in_val_or_test": 0, "relabelled": 0}, "val": {"duplicates": 0,
                                                                                       "relabelled": 0}}
    for v in VERSIONS:
        for r in records[v]:
            if r.split not in chosen:
                continue
            yt = youtube_id(r.key)
            if r.split == "train" and yt in held_out:
                stats["train"]["in_val_or_test"] += 1
                continue
            labels = tuple(maps[v][lab] for lab in r.labels)
            if yt in chosen[r.split]:
                stats[r.split]["duplicates"] += 1
                stats[r.split]["relabelled"] += chosen[r.split][yt][1].labels != labels
                continue
            chosen[r.split][yt] = (v, official_files.Record(r.split, r.key, labels, r.where, kind="stem",
                                                       alt_keys=r.alt_keys), r)
    indexes = {v: official_files.VideoIndex(roots[v], skip=out_dir) for v in VERSIONS}
    version_classes = {v: official_files.read_classes(v) for v in VERSIONS}
    resolved, files = [], []
    for v in VERSIONS:
        files += [_rel(roots[v] / f, root) for f in indexes[v].files]
    for split in ("train", "val"):
        for yt in sorted(chosen[split]):
            v, rec, original = chosen[split][yt]
            # resolve with the version's own labels (class folders are named after the version's classes)
            path = official_files.resolve(original, indexes[v], version_classes[v], check_folder=True)
            resolved.append((rec, None if path is None else _rel(roots[v] / path, root)))
    res = official_files.write_lists("k710", root, out_dir, resolved, files, skip_missing=skip_missing,
                                sources=sorted(set(sources)), header_extra=stats)
    res.entry["built_from"] = {v: entries[v]["root"] for v in VERSIONS}
    return res


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
