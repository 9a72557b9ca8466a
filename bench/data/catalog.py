"""The dataset registry: named datasets resolved to roots, class lists and annotation lists.

Real datasets (k400, k600, k700, k710, ucf101, hmdb51, ssv2, ava, activitynet, charades) take
their root and annotation files from the user's config or environment
(``bench.settings.dataset_entry``), never from code.
Class lists ship with the project (``protocols/labels``). Synthetic datasets are generated
on first use under ``$BENCH_HOME/synthetic`` (``bench.data.synthetic``).

Annotation lists use MMAction2's ``VideoDataset`` format: one ``<relative path> <label>`` per
line (``<path> <label> <label> ...`` for the multi-label datasets, ``kind="multilabel"``), paths
relative to ``DatasetInfo.video_root``. Lines starting with ``# `` (hash, space) are comments (the provenance
header ``bench data import`` writes); a bare ``#`` is not, as HMDB-51 file names start with one.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

from bench import settings
from bench.data.info import DatasetInfo
from bench.errors import DataError
from bench.registry import DATASETS

LABELS_DIR = Path(__file__).resolve().parents[2] / "protocols" / "labels"
# Keys of a dataset's user-config entry that are settings, not annotation files.
NOT_SPLITS = {"root", "_source", "labels", "video_ext", "frames", "label_map", "multi_label", "layout",
              "annotations"}


def read_label_csv(path: Path) -> list[str]:
    """Class names from an ``id,name`` CSV, checking that ids are 0..C-1 in order."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = []
    for i, row in enumerate(rows):
        if int(row["id"]) != i:
            raise DataError(f"label file {path}: row {i + 2} has id {row['id']}, expected {i} (ids must be 0..C-1)")
        names.append(row["name"])
    return names


def list_rows(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line number, path, label fields)`` of an MMAction2 video list; ``#`` comment lines skipped."""
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if parts and not line.startswith("# "):
                rows.append((lineno, parts[0], parts[1:]))
    return rows


def read_annotation_list(path: Path) -> list[tuple[str, int]]:
    """``(relative path, label)`` pairs of an MMAction2 video list (last field is the label)."""
    items = []
    for lineno, rel, fields in list_rows(path):
        try:
            items.append((rel, int(fields[-1])))
        except (ValueError, IndexError) as e:
            raise DataError(f"{path}:{lineno}: expected '<path> <label>', got {' '.join([rel, *fields])!r}") from e
    return items


def read_multilabel_list(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    """``(relative path, labels)`` of a multi-label list (``<path> <l1> <l2> ...``, possibly no label)."""
    items = []
    for lineno, rel, fields in list_rows(path):
        try:
            items.append((rel, tuple(int(f) for f in fields)))
        except ValueError as e:
            raise DataError(f"{path}:{lineno}: expected '<path> <label> <label> ...', got "
                            f"{' '.join([rel, *fields])!r}") from e
    return items


def missing_files(root: Path | str, rel_paths: list[str]) -> list[str]:
    """The paths of ``rel_paths`` (relative to ``root``) that do not exist.

    Each directory is listed once (``os.scandir``) instead of one ``stat`` per file: a 240k-line
    Kinetics list is checked in well under a second; a name not in its directory's listing is
    confirmed with ``os.path.exists`` (odd paths, races), so the answer is the same.
    """
    root = os.fspath(root)
    listings: dict[str, set[str] | None] = {}
    missing = []
    for rel in rel_paths:
        folder, _, name = rel.rpartition("/")
        names = listings.get(folder, ())
        if names == ():
            try:
                with os.scandir(os.path.join(root, folder) if folder else root) as it:
                    names = {e.name for e in it}
            except OSError:
                names = None
            listings[folder] = names
        if (names is None or name not in names) and not os.path.exists(os.path.join(root, rel)):
            missing.append(rel)
    return missing


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def check_labels(ann_file: Path, items: list[tuple[int, str, int]], classes: list[str] | None, num_classes: int,
                 max_report: int = 5) -> None:
    """Labels of a hand-written (or shipped) list: 0-based, in range, and agreeing with class folders.

    A list whose labels look 1-based (none is 0 and the largest is the number of classes, or every
    line whose class folder disagrees with its label is in the folder of class ``label - 1``) is
    refused with a message that says so. A line whose path has a class folder (a folder named like
    one of the classes) must be in the folder of the class its label names.
    """
    labels = [lab for _, _, lab in items]
    if not labels:
        return
    lo, hi = min(labels), max(labels)
    if lo == 1 and hi == num_classes:
        raise DataError(
            f"{ann_file}: labels run 1..{num_classes}: they look 1-based (UCF-101's classInd.txt / trainlistNN.txt "
            f"numbering); MMAction2 lists are 0-based (0..{num_classes - 1}). Subtract 1, or let "
            f"'bench data import' convert the official files"
        )
    bad = [(n, p, lab) for n, p, lab in items if not 0 <= lab < num_classes]
    if bad:
        raise DataError(
            f"{len(bad)} entries of {ann_file} have labels outside 0..{num_classes - 1} "
            f"(the class list has {num_classes} classes); first: "
            f"{[f'line {n}: {p} {lab}' for n, p, lab in bad[:max_report]]}"
        )
    if not classes:
        return
    norms = {_norm(c): i for i, c in enumerate(classes)}
    wrong = []
    for n, rel, lab in items:
        folder = _norm(Path(rel).parent.name)
        if folder in norms and norms[folder] != lab:
            wrong.append((n, rel, lab, norms[folder]))
    if not wrong:
        return
    if lo >= 1 and all(real == lab - 1 for _, _, lab, real in wrong):
        n, rel, lab, _ = wrong[0]
        raise DataError(
            f"{ann_file}:{n}: {rel!r} has label {lab} but is in the folder of class {lab - 1} ({classes[lab - 1]!r}); "
            f"all {len(wrong)} such lines are off by one: the labels look 1-based. MMAction2 lists are 0-based; "
            f"subtract 1, or let 'bench data import' convert the official files"
        )
    n, rel, lab, real = wrong[0]
    raise DataError(
        f"{ann_file}:{n}: {rel!r} is in the class folder of {classes[real]!r} (label {real}) but has label {lab} "
        f"({classes[lab]!r}); {len(wrong)} lines disagree with their folders. The list's label order differs "
        f"from the class list (protocols/labels)"
    )


def official_format_hint(path: Path, first: str, fields: list[str]) -> str:
    """A pointer to ``bench data import`` when a line looks like an official annotation file."""
    line = " ".join([first, *fields])
    hints = [
        ("youtube_id" in line or (line.count(",") >= 3 and path.suffix == ".csv"), "a Kinetics CSV", "k400"),
        (first.startswith(("[", "{")), "an SSV2 / ActivityNet JSON file", "ssv2"),
        ("Charades" in path.name or line.startswith("id,subject"), "a Charades CSV", "charades"),
        (path.name.startswith("testlist") and not fields, "a UCF-101 testlist (no labels)", "ucf101"),
    ]
    for hit, what, ds in hints:
        if hit:
            return (f". This looks like {what}, an official annotation file; convert it with "
                    f"'bench data import {ds} --root <videos> --annotations <folder>' (protocols/README.md)")
    return ""


def check_list(ann_file: Path, video_root: Path, num_classes: int, source: str = "", max_report: int = 5,
               classes: list[str] | None = None, multilabel: bool = False) -> int:
    """Check that every video of a list exists under ``video_root`` and every label is a 0-based class index
    (``check_labels``, with class-folder agreement when ``classes`` is given).

    Returns the number of videos. Raises DataError with a count and the first few bad entries.
    """
    rows = list_rows(Path(ann_file))
    items = []
    for lineno, rel, fields in rows:
        if not multilabel and len(fields) != 1:
            raise DataError(f"{ann_file}:{lineno}: expected '<path> <label>', got {' '.join([rel, *fields])!r}"
                            f"{official_format_hint(Path(ann_file), rel, fields)}")
        for f in fields:
            try:
                items.append((lineno, rel, int(f)))
            except ValueError:
                raise DataError(f"{ann_file}:{lineno}: the label {f!r} is not an integer"
                                f"{official_format_hint(Path(ann_file), rel, fields)}") from None
    if rows and Path(ann_file).name.endswith(tuple(f"_test_split{i}.txt" for i in (1, 2, 3))) and all(
            "/" not in rel and fields and fields[0] in ("0", "1", "2") for _, rel, fields in rows):
        raise DataError(f"{ann_file} is an official HMDB-51 split file: its 0/1/2 are split tags (1 train, 2 test, "
                        f"0 unused), not labels, and its paths lack the class folder. Convert the folder of these "
                        f"files with 'bench data import hmdb51 --root <videos> --annotations <folder>'")
    missing = missing_files(video_root, [p for _, p, _ in rows])
    if missing:
        shown = ", ".join(str(Path(video_root) / p) for p in missing[:max_report])
        raise DataError(
            f"{len(missing)} of {len(rows)} videos listed in {ann_file} are missing under {video_root} "
            f"(root from {source}); first: {shown}"
        )
    check_labels(Path(ann_file), items, None if multilabel else classes, num_classes, max_report)
    return len(rows)


def check_annotation_list(info: DatasetInfo, split: str) -> int:
    """``check_list`` for a split of a resolved dataset."""
    return check_list(info.split_file(split), info.video_root, info.num_classes, info.source, classes=info.classes,
                      multilabel=info.kind == "multilabel")


def _real(name: str, label_file: str, kind: str = "video") -> Callable[[], DatasetInfo]:
    """A resolver for a real dataset whose root comes from the user's configuration."""

    def resolve() -> DatasetInfo:
        entry = settings.dataset_entry(name)
        if not entry.get("root"):
            raise DataError(
                f"dataset {name!r} has no root configured; set BENCH_DATA_{name.upper()}=<dir> or add "
                f"'datasets: {{{name}: {{root: <dir>, train: <list>, val: <list>}}}}' to {settings.config_file()}"
            )
        root = Path(entry["root"]).expanduser()
        if not root.is_dir():
            raise DataError(f"root of dataset {name!r} is {root}, which is not a directory (from {entry['_source']})")
        splits = {}
        for key, value in entry.items():
            if key in NOT_SPLITS or not isinstance(value, str):
                continue
            p = Path(value).expanduser()
            splits[key] = p if p.is_absolute() else root / p
        labels = Path(entry["labels"]).expanduser() if entry.get("labels") else LABELS_DIR / label_file
        classes = _read_ava_labels(labels) if kind == "ava" else read_label_csv(labels)
        return DatasetInfo(name, classes, root, splits, kind=kind, source=entry["_source"],
                           extra={k: entry[k] for k in ("layout",) if k in entry})

    return resolve


def _read_ava_labels(path: Path) -> list[str]:
    """AVA's ``id: name`` label map, as a list in file order (AVA ids are not contiguous)."""
    return [line.split(":", 1)[1].strip() for line in Path(path).read_text().splitlines() if ":" in line]


for _name, _labels, _kind in [
    ("k400", "kinetics400.csv", "video"),
    ("k600", "kinetics600.csv", "video"),
    ("ucf101", "ucf101.csv", "video"),
    ("hmdb51", "hmdb51.csv", "video"),
    ("ssv2", "ssv2.csv", "video"),
    ("ava", "ava_label_map.txt", "ava"),
    ("k700", "kinetics700.csv", "video"),
    ("k710", "kinetics710.csv", "video"),
    ("activitynet", "activitynet.csv", "video"),
    ("charades", "charades.csv", "multilabel"),
]:
    DATASETS.register(_name, _real(_name, _labels, _kind))

# Synthetic datasets register themselves here.
import bench.data.synthetic  # noqa: E402,F401


def get_dataset(name: str, where: str = "") -> DatasetInfo:
    """Resolve a registered dataset, checking that its root exists (synthetic ones are generated)."""
    return DATASETS.get(name, where)()
