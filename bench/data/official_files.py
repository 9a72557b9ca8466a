"""The machinery of ``bench data import`` (``bench.data.importers``): read official annotation files, index
and resolve videos, write MMAction2 lists.


Each reader parses one dataset's official files (formats: ``protocols/README.md``, "Accepted
formats") into records ``(split, video key, labels)``; labels are indices of the class list the
harness ships (``protocols/labels``), found by class **name**, never by trusting an index.
The videos under ``--root`` are indexed once (every file with a video extension, at any depth),
and each record is resolved to a file:

- ``path`` records (UCF-101, HMDB-51) name ``<class folder>/<file>``; another video extension
  than the listed one is accepted (``.avi`` converted to ``.mp4``).
- ``stem`` records (Kinetics ``<youtube_id>_<start:06d>_<end:06d>`` or ``<youtube_id>``, SSV2 and
  Charades ids, ActivityNet ``v_<id>`` / ``<id>``) are looked up by file stem at any depth, so
  per-class folders, flat folders and train/val/test roots all work. Where the file sits in a
  class folder, the folder must name the record's class.

ActivityNet's ``--layout segments`` cuts each training segment into a clip file (``cut_segments``).
Videos listed but missing and videos present but unlisted are counted and written to
``missing.txt`` / ``unlisted.txt``. Missing videos stop the import unless ``--skip-missing``,
which drops them and says so in the list header (``# dropped_missing: N``). Output is sorted and
carries no time stamp, so importing twice gives byte-identical lists.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import DataError

VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
LABELS_DIR = Path(__file__).resolve().parents[2] / "protocols" / "labels"
LABEL_FILES = {
    "ucf101": "ucf101.csv", "hmdb51": "hmdb51.csv", "k400": "kinetics400.csv", "k600": "kinetics600.csv",
    "k700": "kinetics700.csv", "k710": "kinetics710.csv", "ssv2": "ssv2.csv", "activitynet": "activitynet.csv",
    "charades": "charades.csv",
}
KINETICS = ("k400", "k600", "k700")
DATASETS = ("ucf101", "hmdb51", "k400", "k600", "k700", "k710", "ssv2", "ava", "activitynet", "charades")
LAYOUTS = {"activitynet": ("untrimmed", "segments", "clips")}


def norm_name(name: str) -> str:
    """A class or folder name compared loosely: case, underscores, spaces and punctuation ignored."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_classes(dataset: str) -> list[str]:
    from bench.data.catalog import read_label_csv

    return read_label_csv(LABELS_DIR / LABEL_FILES[dataset])


@dataclasses.dataclass
class Record:
    """One video of one split: ``key`` is a relative path (``kind='path'``) or a file stem (``'stem'``)."""

    split: str
    key: str
    labels: tuple[int, ...]
    where: str  # "<file>:<line>" for messages
    kind: str = "path"
    alt_keys: tuple[str, ...] = ()
    segment: tuple[float, float] | None = None  # seconds of the source video to cut into ``clip`` (ActivityNet)
    clip: str = ""


@dataclasses.dataclass
class ImportResult:
    dataset: str
    root: Path
    out_dir: Path
    lists: dict[str, Path]
    counts: dict[str, int]
    missing: dict[str, list[str]]
    unlisted: list[str]
    dropped: dict[str, int]
    entry: dict[str, Any]
    sources: list[Path]


class ClassMap:
    """Class name -> index of the shipped list, loosely compared; unknown names are refused with the file."""

    def __init__(self, dataset: str, classes: list[str] | None = None, aliases: dict[str, str] | None = None):
        self.dataset = dataset
        self.classes = classes if classes is not None else read_classes(dataset)
        self.index = {norm_name(c): i for i, c in enumerate(self.classes)}
        for old, new in (aliases or {}).items():
            if norm_name(new) in self.index:
                self.index.setdefault(norm_name(old), self.index[norm_name(new)])

    def __call__(self, name: str, where: str) -> int:
        i = self.index.get(norm_name(name))
        if i is None:
            raise DataError(
                f"{where}: class {name!r} is not in the {self.dataset} class list the harness ships "
                f"(protocols/labels/{LABEL_FILES.get(self.dataset, '?')}, {len(self.classes)} classes)"
            )
        return i


def _lines(path: Path) -> list[tuple[int, str]]:
    """Non-empty lines (``\\r\\n`` stripped) with their 1-based numbers."""
    text = Path(path).read_text(encoding="utf-8-sig")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _find(ann_dir: Path, names: tuple[str, ...], what: str, required: bool = True) -> Path | None:
    """The first of ``names`` that exists under ``ann_dir`` (directly or one level down)."""
    for name in names:
        for cand in (ann_dir / name, *sorted(ann_dir.glob(f"*/{name}"))):
            if cand.is_file():
                return cand
    if required:
        raise DataError(f"{what}: none of {', '.join(names)} found in {ann_dir} (nor one folder below)")
    return None


# ---------------------------------------------------------------------------------------------
# readers: (annotation dir, class map) -> records


def read_ucf101(ann: Path, cmap: ClassMap) -> list[Record]:
    """``classInd.txt`` (1-based ``<id> <Class>``), ``trainlistNN.txt`` (``<Class>/<file> <id>``), label-less
    ``testlistNN.txt`` (``<Class>/<file>``)."""
    ind_file = _find(ann, ("classInd.txt",), "ucf101 class index")
    ids: dict[int, int] = {}
    for n, line in _lines(ind_file):
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"{ind_file}:{n}: expected '<1-based id> <ClassName>', got {line!r}")
        ids[int(parts[0])] = cmap(parts[1], f"{ind_file}:{n}")
    if sorted(ids) != list(range(1, len(cmap.classes) + 1)):
        raise DataError(f"{ind_file}: ids must run 1..{len(cmap.classes)}, got {len(ids)} ids "
                        f"from {min(ids, default=None)} to {max(ids, default=None)}")
    records = []
    for i in (1, 2, 3):
        for kind, split in (("train", f"train_split{i}"), ("test", f"val_split{i}")):
            src = _find(ann, (f"{kind}list0{i}.txt",), f"ucf101 {split}", required=False)
            if src is None:
                continue
            for n, line in _lines(src):
                parts = line.split()
                where = f"{src}:{n}"
                rel = parts[0]
                folder = rel.split("/")[0] if "/" in rel else ""
                if len(parts) == 2:
                    if not parts[1].isdigit() or int(parts[1]) not in ids:
                        raise DataError(f"{where}: label {parts[1]!r} is not an id of {ind_file.name} (1..{len(ids)})")
                    label = ids[int(parts[1])]
                    if folder and norm_name(folder) != norm_name(cmap.classes[label]):
                        raise DataError(f"{where}: {rel!r} is in class folder {folder!r} but its id {parts[1]} is "
                                        f"{cmap.classes[label]!r} in {ind_file.name}")
                elif len(parts) == 1:
                    if not folder:
                        raise DataError(f"{where}: a label-less line must name its class folder, got {line!r}")
                    label = cmap(folder, where)
                else:
                    raise DataError(f"{where}: expected '<Class>/<file>.avi [<id>]', got {line!r}")
                records.append(Record(split, rel, (label,), where))
    if not records:
        raise DataError(f"ucf101: no trainlist0N.txt / testlist0N.txt next to {ind_file}")
    return records


HMDB_SPLIT = re.compile(r"^(?P<cls>.+)_test_split(?P<n>[123])\.txt$")


def read_hmdb51(ann: Path, cmap: ClassMap) -> list[Record]:
    """``<class>_test_split<N>.txt``: ``<clip>.avi <tag>``, tag 1 = train, 2 = test, 0 = unused."""
    files = sorted(p for p in ann.rglob("*_test_split*.txt") if HMDB_SPLIT.match(p.name))
    if not files:
        raise DataError(f"hmdb51: no <class>_test_split<N>.txt files in {ann} (testTrainMulti_7030_splits/)")
    records = []
    for src in files:
        m = HMDB_SPLIT.match(src.name)
        label = cmap(m["cls"], str(src))
        for n, line in _lines(src):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{src}:{n}: expected '<clip>.avi <0|1|2>' (0 unused, 1 train, 2 test), got {line!r}")
            if parts[1] == "0":
                continue
            split = f"{'train' if parts[1] == '1' else 'val'}_split{m['n']}"
            records.append(Record(split, f"{m['cls']}/{parts[0]}", (label,), f"{src}:{n}"))
    return records


KINETICS_SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}


def _kinetics_csvs(ann: Path) -> dict[str, Path]:
    out = {}
    for stem, split in KINETICS_SPLITS.items():
        found = _find(ann, (f"{stem}.csv", f"kinetics_{stem}.csv"), "kinetics", required=False)
        if found is not None and split not in out:
            out[split] = found
    if "train" not in out and "val" not in out:
        raise DataError(f"kinetics: no train.csv / validate.csv (or kinetics_train.csv / kinetics_val.csv) in {ann}")
    return out


def read_kinetics_csv(src: Path, split: str, cmap: ClassMap | None) -> list[Record]:
    """A Kinetics CSV (header ``label,youtube_id,time_start,time_end,split[,is_cc]``), keyed on header names."""
    with open(src, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = set(reader.fieldnames or [])
        need = {"youtube_id", "time_start", "time_end"}
        if not need <= fields:
            raise DataError(f"{src}:1: expected a header with {sorted(need)} (and 'label'), got {reader.fieldnames}")
        records = []
        for n, row in enumerate(reader, 2):
            where = f"{src}:{n}"
            yt = row["youtube_id"].strip()
            try:
                key = f"{yt}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
            except ValueError:
                raise DataError(f"{where}: time_start/time_end {row['time_start']!r}/{row['time_end']!r} "
                                f"are not numbers") from None
            name = (row.get("label") or "").strip().strip('"')
            if cmap is None or not name:
                if split != "test":
                    raise DataError(f"{where}: the {split} row has no label")
                labels: tuple[int, ...] = ()
            else:
                labels = (cmap(name, where),)
            records.append(Record(split, key, labels, where, kind="stem", alt_keys=(yt,)))
    return records


def read_kinetics(ann: Path, cmap: ClassMap) -> list[Record]:
    records = []
    for split, src in _kinetics_csvs(ann).items():
        records += read_kinetics_csv(src, split, cmap if split != "test" else _test_cmap(src, cmap))
    return records


def _test_cmap(src: Path, cmap: ClassMap) -> ClassMap | None:
    """Test CSVs of the first releases have no label column: read them label-less."""
    with open(src, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    return cmap if "label" in header else None


def ssv2_template(template: str) -> str:
    """SSV2's ``template`` with the brackets of its placeholders removed (``[Something]`` -> ``Something``)."""
    return template.replace("[", "").replace("]", "")


def read_ssv2(ann: Path, cmap: ClassMap) -> list[Record]:
    """``labels.json`` (template -> "index") and ``train.json`` / ``validation.json`` (id, template)."""
    lab_file = _find(ann, ("something-something-v2-labels.json", "labels.json"), "ssv2 labels")
    labels_json = json.loads(Path(lab_file).read_text())
    for template, idx in labels_json.items():
        mine = cmap(template, str(lab_file))
        if mine != int(idx):
            raise DataError(f"{lab_file}: {template!r} has index {idx} there and {mine} in the shipped class list "
                            f"protocols/labels/ssv2.csv; refusing to guess which is meant")
    records = []
    for split, names in (("train", ("something-something-v2-train.json", "train.json")),
                         ("val", ("something-something-v2-validation.json", "validation.json"))):
        src = _find(ann, names, f"ssv2 {split}", required=False)
        if src is None:
            continue
        for n, item in enumerate(json.loads(Path(src).read_text())):
            where = f"{src}[{n}] (id {item.get('id')!r})"
            if "template" not in item or "id" not in item:
                raise DataError(f"{where}: expected an object with 'id' and 'template', got keys {sorted(item)}")
            records.append(Record(split, str(item["id"]), (cmap(ssv2_template(item["template"]), where),), where,
                                  kind="stem"))
    if not records:
        raise DataError(f"ssv2: no train.json / validation.json next to {lab_file}")
    return records


ANET_SUBSETS = {"training": "train", "validation": "val"}


def read_activitynet(ann: Path, cmap: ClassMap, layout: str = "untrimmed") -> list[Record]:
    """``activity_net.v1-3.min.json``: whole videos, or (``clips``, ``segments``) one training clip per segment.

    Whole videos take the label of their first segment. Validation and ``full`` (training +
    validation, BIKE's zero-shot list) are whole videos in every layout, as BIKE tests on them.
    """
    src = _find(ann, ("activity_net.v1-3.min.json", "activity_net.v1-3.json"), "activitynet")
    data = json.loads(Path(src).read_text())
    if "database" not in data:
        raise DataError(f"{src}: expected a JSON object with 'database' (ActivityNet v1.3), got keys {sorted(data)}")
    leaves = {n["nodeName"] for n in data.get("taxonomy", [])} - {n.get("parentName") for n in data.get("taxonomy", [])}
    for name in sorted(leaves):
        cmap(name, f"{src} (taxonomy)")
    records = []
    for vid in sorted(data["database"]):
        item = data["database"][vid]
        split = ANET_SUBSETS.get(item.get("subset", ""))
        if split is None:
            continue
        where = f"{src} (database.{vid})"
        anns = item.get("annotations") or []
        labs = [cmap(a["label"], where) for a in anns]
        if not labs:
            continue
        # one label per whole video: its first segment's (MMAction2's generate_rawframes_filelist.py does the same)
        whole = Record(split, vid, (labs[0],), where, kind="stem", alt_keys=(f"v_{vid}",))
        records.append(dataclasses.replace(whole, split="full"))
        if split == "train" and layout == "clips":
            for k, lab in enumerate(labs):
                records.append(Record(split, f"{vid}_{k}", (lab,), f"{where}.annotations[{k}]", kind="stem",
                                      alt_keys=(f"v_{vid}_{k}",)))
        elif split == "train" and layout == "segments":
            for k, (a, lab) in enumerate(zip(anns, labs)):
                start, end = (float(x) for x in a["segment"])
                if not end > start:
                    raise DataError(f"{where}.annotations[{k}]: segment {a['segment']} is empty")
                records.append(dataclasses.replace(whole, labels=(lab,), where=f"{where}.annotations[{k}]",
                                                   segment=(start, end), clip=f"{vid}_{k}.mp4"))
        else:
            records.append(whole)
    return records


def cut_segments(resolved: list[tuple[Record, str | None]], root: Path, clips_dir: Path
                 ) -> list[tuple[Record, str | None]]:
    """Cut each segment record's source video into ``clips_dir/<id>_<k>.mp4`` (frames whose time is in
    ``[start, end)``, H.264 at the source frame rate); an existing clip is kept. Returns the records with
    the clip's path relative to ``root`` (None where the source is missing or the segment holds no frame)."""
    import av
    import numpy as np

    from bench.data.synthetic.video_io import write_mp4

    by_source: dict[str, list[int]] = {}
    out = list(resolved)
    for i, (rec, path) in enumerate(resolved):
        if rec.segment is not None and path is not None:
            by_source.setdefault(path, []).append(i)
    for path, idx in sorted(by_source.items()):
        todo = [i for i in idx if not (clips_dir / resolved[i][0].clip).exists()]
        if todo:
            with av.open(str(root / path)) as f:
                stream = f.streams.video[0]
                fps = round(float(stream.average_rate or 30))
                frames = [(float(fr.time or 0.0), fr.to_ndarray(format="rgb24")) for fr in f.decode(video=0)]
            for i in todo:
                rec = resolved[i][0]
                keep = [img for t, img in frames if rec.segment[0] <= t < rec.segment[1]]
                if keep:
                    write_mp4(clips_dir / rec.clip, np.stack(keep), fps=max(fps, 1))
        for i in idx:
            rec = resolved[i][0]
            clip = clips_dir / rec.clip
            if clip.exists():
                out[i] = (rec, Path(os.path.relpath(clip, root)).as_posix())
            else:  # reported with the missing videos, saying why
                out[i] = (dataclasses.replace(rec, key=f"{rec.clip} (no frame of {path} in "
                                                       f"[{rec.segment[0]}, {rec.segment[1]}) s)"), None)
    return out


CHARADES_ACTION = re.compile(r"^c(\d{3}) [\d.]+ [\d.]+$")


def read_charades(ann: Path, cmap: ClassMap) -> list[Record]:
    """``Charades_v1_{train,test}.csv``: the ``actions`` field (``c<ddd> <start> <end>;...``) gives the labels."""
    cls_file = _find(ann, ("Charades_v1_classes.txt",), "charades classes")
    for n, line in _lines(cls_file):
        code, _, name = line.partition(" ")
        i = cmap(name, f"{cls_file}:{n}")
        if code != f"c{i:03d}":
            raise DataError(f"{cls_file}:{n}: {name!r} is {code} there but c{i:03d} in protocols/labels/charades.csv")
    records = []
    for split, name in (("train", "Charades_v1_train.csv"), ("val", "Charades_v1_test.csv")):
        src = _find(ann, (name,), f"charades {split}", required=False)
        if src is None:
            continue
        with open(src, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if not {"id", "actions"} <= set(reader.fieldnames or []):
                raise DataError(f"{src}:1: expected a header with 'id' and 'actions', got {reader.fieldnames}")
            for n, row in enumerate(reader, 2):
                labels = []
                for act in filter(None, (a.strip() for a in (row["actions"] or "").split(";"))):
                    m = CHARADES_ACTION.match(act)
                    if not m or int(m[1]) >= len(cmap.classes):
                        raise DataError(f"{src}:{n}: action {act!r} is not 'c<000-156> <start> <end>'")
                    labels.append(int(m[1]))
                records.append(Record(split, row["id"].strip(), tuple(sorted(set(labels))), f"{src}:{n}", kind="stem"))
    return records


READERS: dict[str, Callable[..., list[Record]]] = {
    "ucf101": read_ucf101, "hmdb51": read_hmdb51, "k400": read_kinetics, "k600": read_kinetics,
    "k700": read_kinetics, "ssv2": read_ssv2, "activitynet": read_activitynet, "charades": read_charades,
}
# Datasets whose lists hold several labels per line (MMAction2 ``multi_class=True``).
MULTI_LABEL = {"charades"}
OPTIONAL_SPLITS = ("test",)


# ---------------------------------------------------------------------------------------------
# resolving records to files


class VideoIndex:
    """Every video file under a root: by relative path, by (folder, stem) and by stem (plain strings: fast)."""

    def __init__(self, root: Path, skip: Path | None = None) -> None:
        self.root = root
        self.files: list[str] = []
        self.by_stem: dict[str, list[str]] = {}
        self.by_folder_stem: dict[tuple[str, str], list[str]] = {}
        self.folder_norm: dict[str, str] = {}  # relative path -> its folder's name, normalised
        skip_real = os.path.realpath(skip) if skip is not None else None
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and (skip_real is None or os.path.realpath(os.path.join(dirpath, d)) != skip_real))
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir
            folder = norm_name(os.path.basename(dirpath)) if rel_dir else ""
            for name in sorted(filenames):
                stem, ext = os.path.splitext(name)
                if ext.lower() not in VIDEO_EXTS:
                    continue
                rel = f"{rel_dir}/{name}" if rel_dir else name
                self.files.append(rel)
                self.by_stem.setdefault(stem, []).append(rel)
                self.by_folder_stem.setdefault((rel_dir, stem), []).append(rel)
                self.folder_norm[rel] = folder


def _prefer(cands: list[str], split: str) -> list[str]:
    """Of several files with one stem, those under a folder named for ``split`` (``videos_val``, ``train``...)."""
    if len(cands) < 2:
        return cands
    words = {"train": ("train",), "val": ("val", "validate", "validation"), "test": ("test",)}
    split_word = split.split("_")[0]
    keep = [c for c in cands if any(w in part.lower() for part in c.split("/")[:-1]
                                    for w in words.get(split_word, (split_word,)))]
    return keep or cands


def resolve(rec: Record, index: VideoIndex, classes: list[str], *, check_folder: bool) -> str | None:
    """The relative path of the video of ``rec``, or None when it is not under the root."""
    if rec.kind == "path":
        folder, name = posixpath.split(rec.key)
        stem = posixpath.splitext(name)[0]
        cands = index.by_folder_stem.get((folder, stem), [])
        if rec.key in cands:
            return rec.key
        if not cands:
            # the class folder spelled with spaces or another case: match folders loosely
            want = norm_name(posixpath.basename(folder))
            cands = [c for c in index.by_stem.get(stem, []) if index.folder_norm[c] == want]
        return cands[0] if len(cands) == 1 else _ambiguous(rec, cands)
    for key in (rec.key, *rec.alt_keys):
        cands = index.by_stem.get(key, [])
        if check_folder and cands and rec.labels and len(rec.labels) == 1:
            # a file inside a class folder must be in its own class's folder
            name = norm_name(classes[rec.labels[0]])
            norms = _class_norms(classes)
            in_class = [c for c in cands if index.folder_norm[c] == name]
            other = [c for c in cands if index.folder_norm[c] not in norms]
            if not in_class and not other:
                raise DataError(f"{rec.where}: video {rec.key!r} is labelled {classes[rec.labels[0]]!r} but its file "
                                f"{cands[0]} is in the class folder of another class")
            cands = in_class or other
        cands = _prefer(cands, rec.split)
        if cands:
            return cands[0] if len(cands) == 1 else _ambiguous(rec, cands)
    return None


_NORMS: dict[int, set[str]] = {}


def _class_norms(classes: list[str]) -> set[str]:
    key = id(classes)
    if key not in _NORMS:
        _NORMS[key] = {norm_name(c) for c in classes}
    return _NORMS[key]


def _ambiguous(rec: Record, cands: list[str]) -> str:
    if not cands:
        return None  # type: ignore[return-value]
    raise DataError(f"{rec.where}: {len(cands)} files match video {rec.key!r}: {cands[:4]}; "
                    f"remove the duplicates or import from a root that holds one copy")


# ---------------------------------------------------------------------------------------------
# writing


def list_line(path: str, labels: tuple[int, ...]) -> str:
    if " " in path:
        raise DataError(f"video path {path!r} contains a space, which MMAction2's list format cannot hold "
                        f"(fields are split on ' '); rename the folder (MMAction2's rename_classnames.sh does)")
    return " ".join([path, *map(str, labels)])


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def header(dataset: str, split: str, sources: list[Path], n: int, dropped: int, multi: bool) -> str:
    lines = [f"# vlbench data import {dataset}: split {split}, MMAction2 video list "
             f"({'<path> <label> ...' if multi else '<path> <label>'}, 0-based labels of "
             f"protocols/labels/{LABEL_FILES.get(dataset, '')})"]
    for src in sources:
        lines.append(f"# source: {src.name} sha256 {sha256(src)}")
    lines.append(f"# videos: {n}")
    lines.append(f"# dropped_missing: {dropped}")
    return "".join(f"{line}\n" for line in lines)


def read_header(path: Path) -> dict[str, Any]:
    """The ``# key: value`` provenance lines at the top of an imported list ({} for other lists)."""
    out: dict[str, Any] = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, sep, value = line[1:].strip().partition(": ")
            if not sep:
                continue
            if key == "source":
                out.setdefault("sources", []).append(value)
            elif value.isdigit():
                out[key] = int(value)
    return out


# Kinetics classes renamed between versions (old name -> new name): a CSV of one version may carry
# the other's spelling. Only the aliases whose target is in the version's class list are used.
KINETICS_RENAMED = {
    "balloon blowing": "inflating balloons", "baby waking up": "waking up",
    "changing wheel": "changing wheel (not on bike)", "cooking sausages": "cooking sausages (not on barbeque)",
    "dying hair": "dyeing hair", "garbage collecting": "person collecting garbage", "hugging": "hugging (not baby)",
    "making bed": "making the bed", "opening bottle": "opening bottle (not wine)", "tying tie": "tying necktie",
    "throwing ball": "throwing ball (not baseball or American football)",
}


def _aliases(dataset: str) -> dict[str, str]:
    return dict(KINETICS_RENAMED) if dataset in KINETICS else {}


def _sources(dataset: str, ann: Path) -> list[Path]:
    pats = {"ucf101": ("classInd.txt", "trainlist0?.txt", "testlist0?.txt"), "hmdb51": ("*_test_split?.txt",),
            "ssv2": ("*labels.json", "*train.json", "*validation.json"),
            "activitynet": ("activity_net.v1-3*.json",), "charades": ("Charades_v1_*.csv", "Charades_v1_classes.txt")}
    pats.update({k: ("*train.csv", "*validate.csv", "*val.csv", "*test.csv") for k in KINETICS})
    found = set()
    for pat in pats.get(dataset, ()):
        found |= {p for p in ann.glob(pat)} | {p for p in ann.glob(f"*/{pat}")}
    return sorted(found)


LABEL_SOURCES = {"classInd.txt", "labels.json", "something-something-v2-labels.json", "Charades_v1_classes.txt"}


def _where_file(where: str) -> Path:
    """The file of a record's ``where`` (``<file>:<line>``, ``<file>[<i>] ...`` or ``<file> (...)``)."""
    return Path(re.split(r":\d+$|\[\d+\]| \(", where, maxsplit=1)[0])


def default_out_dir(dataset: str) -> Path:
    from bench import settings

    return settings.config_file().parent / "lists" / dataset


def write_lists(dataset: str, root: Path, out_dir: Path, resolved: list[tuple[Record, str | None]],
                files: list[str], *, skip_missing: bool, sources: list[Path],
                entry_extra: dict[str, Any] | None = None, header_extra: dict[str, dict[str, Any]] | None = None
                ) -> ImportResult:
    """Write the lists of resolved records (path None: missing); ``files``: every video under the root."""
    multi = dataset in MULTI_LABEL
    by_split: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    missing: dict[str, list[str]] = {}
    used: set[str] = set()
    records = [rec for rec, _ in resolved]
    for rec, path in resolved:
        if path is None:
            missing.setdefault(rec.split, []).append(rec.key)
            continue
        used.add(path)
        by_split.setdefault(rec.split, []).append((path, rec.labels))
    # Kinetics' test videos are rarely downloaded (the test set is not evaluated on): a test split none of
    # whose videos is present is left out instead of counting as missing
    absent = [sp for sp in OPTIONAL_SPLITS if sp in missing and not by_split.get(sp)]
    for sp in absent:
        del missing[sp]
    unlisted = sorted(set(files) - used)
    n_missing = len({k for v in missing.values() for k in v})
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "missing.txt", "".join(f"{s} {k}\n" for s in sorted(missing) for k in sorted(missing[s])))
    write_atomic(out_dir / "unlisted.txt", "".join(f"{p}\n" for p in unlisted))
    if n_missing and not skip_missing:
        per = ", ".join(f"{s}: {len(v)}" for s, v in sorted(missing.items()))
        first = next(iter(sorted(missing.items())))
        raise DataError(
            f"bench data import {dataset}: {n_missing} video(s) listed in the annotations are missing under {root} "
            f"(per list: {per}; first: {first[1][:3]}); their names are in {out_dir / 'missing.txt'}. "
            f"Nothing was written except that report; rerun with --skip-missing to drop them "
            f"(the lists then record how many)"
        )
    lists: dict[str, Path] = {}
    counts: dict[str, int] = {}
    dropped: dict[str, int] = {}
    label_files = [p for p in sources if p.name in LABEL_SOURCES]
    split_files: dict[str, set[Path]] = {}
    for rec in records:
        split_files.setdefault(rec.split, set()).add(_where_file(rec.where))
    texts: dict[Path, str] = {}
    for split in sorted(set(by_split) | set(missing)):
        items = sorted(set(by_split.get(split, [])))
        if split == "test" and not any(labels for _, labels in items):
            items = [(p, ()) for p, _ in items]
        dropped[split] = len(missing.get(split, []))
        body = "".join(f"{list_line(p, labs)}\n" for p, labs in items)
        path = out_dir / f"{dataset}_{split}.txt"
        srcs = sorted(set(label_files) | split_files.get(split, set()))
        extra_lines = "".join(f"# {k}: {v}\n" for k, v in (header_extra or {}).get(split, {}).items())
        texts[path] = header(dataset, split, srcs, len(items), dropped[split], multi) + extra_lines + body
        lists[split] = path
        counts[split] = len(items)
    for path, text in texts.items():  # every list built (and checked) before the first is replaced
        write_atomic(path, text)
    entry: dict[str, Any] = {"root": str(root), **{s: str(p) for s, p in lists.items()}}
    if multi:
        entry["multi_label"] = True
    entry.update({k: v for k, v in (entry_extra or {}).items() if v is not None})
    return ImportResult(dataset, root, out_dir, lists, counts, missing, unlisted, dropped, entry, sources)
