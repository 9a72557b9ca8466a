"""Video lists of the protocols: published split files converted to MMAction2 lists, class subsets.

The published split files use other line formats than MMAction2's ``<relative path> <label>``:
UCF-101/HMDB-51 splits are ``<class folder>/<stem> <num frames> <label>`` (rawframe lists) and the
few-shot and Kinetics-600 zero-shot lists are ``<file> <label>``. ``convert_list`` rewrites them
into the run's work directory (adding the video extension from the dataset's user config entry,
``video_ext``), checking every label against the class list and, where a line names its class
folder, that the folder is the class the label names (this is what catches an HMDB-51 list in
another label order: ``kick=20, kick ball=21, sword=44, sword exercise=45`` in the shipped label
file). Each written list records its source file and sha256 (``Split.source``).
"""

from __future__ import annotations

import contextlib
import contextvars
import tempfile
from pathlib import Path
from typing import Any

from bench import settings
from bench.data.catalog import DatasetInfo, read_annotation_list
from bench.errors import DataError
from protocols.base import Split, file_sha256

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
DEFAULT_EXT = {"ucf101": ".avi", "hmdb51": ".avi", "k600": ".mp4", "k400": ".mp4"}
# The published split files shipped with the project, by (dataset, split name).
SHIPPED = {
    **{(d, f"{kind}_split{i}"): f"{d}/{kind}_split{i}.txt"
       for d in ("ucf101", "hmdb51") for kind in ("train", "val") for i in (1, 2, 3)},
    ("ucf101", "full"): "ucf101/full_for_zeroshot.txt",
    ("hmdb51", "full"): "hmdb51/full_for_zeroshot.txt",
    **{(d, f"fewshot_{k}"): f"fewshot/{d}_train1_{k}shot.txt" for d in ("ucf101", "hmdb51") for k in (2, 4, 8, 16)},
    **{("k600", f"zeroshot_split{i}"): f"k600_zeroshot/test_split{i}.txt" for i in (1, 2, 3)},
}


_PLANNING: contextvars.ContextVar[Path | None] = contextvars.ContextVar("planning_dir", default=None)


@contextlib.contextmanager
def planning_dir():
    """Plan episodes without a run directory: derived lists go to a temporary directory, removed after.

    Used to compute a run's identity (which the run directory's name depends on) and by validation,
    which writes nothing into ``work_dirs``. The lists written are the same bytes the run writes.
    """
    if _PLANNING.get() is not None:  # nested: reuse the outer one
        yield _PLANNING.get()
        return
    with tempfile.TemporaryDirectory(prefix="vlbench-plan-") as tmp:
        token = _PLANNING.set(Path(tmp))
        try:
            yield Path(tmp)
        finally:
            _PLANNING.reset(token)


def lists_dir(spec) -> Path:
    """Where a run writes the lists it derives (inside its work directory; a temporary one while planning)."""
    planning = _PLANNING.get()
    if planning is not None:
        from bench.spec import short_hash

        path = planning / short_hash(spec.to_dict())
    else:
        path = settings.work_root() / spec.run_id / "lists"
    path.mkdir(parents=True, exist_ok=True)
    return path


def norm_name(name: str) -> str:
    """A class or folder name compared loosely: case, underscores and spaces ignored."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def video_ext(dataset: str) -> str:
    """The video file extension of a real dataset: its user config ``video_ext`` entry, else the usual one."""
    ext = settings.dataset_entry(dataset).get("video_ext") or DEFAULT_EXT.get(dataset, ".mp4")
    return ext if ext.startswith(".") else f".{ext}"


def _parse(path: Path) -> list[tuple[int, str, int]]:
    """``(line number, path, label)`` of a list in any of the published formats (label is the last field)."""
    rows = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts or line.startswith("# "):
            continue
        if len(parts) not in (2, 3):
            raise DataError(f"{path}:{lineno}: expected '<path> <label>' or '<path> <frames> <label>', got {line!r}")
        try:
            rows.append((lineno, parts[0], int(parts[-1])))
        except ValueError:
            raise DataError(f"{path}:{lineno}: the label {parts[-1]!r} is not an integer") from None
    return rows


def _check_label(src: Path, lineno: int, rel: str, label: int, classes: list[str], label_file: str) -> None:
    if not 0 <= label < len(classes):
        raise DataError(
            f"{src}:{lineno}: label {label} of {rel!r} is outside the class list {label_file} "
            f"({len(classes)} classes, labels 0..{len(classes) - 1})"
        )
    folder = Path(rel).parent.name
    if folder and norm_name(folder) != norm_name(classes[label]):
        raise DataError(
            f"{src}:{lineno}: {rel!r} is in class folder {folder!r} but has label {label}, which is "
            f"{classes[label]!r} in {label_file}; the list's label order differs from the label file "
            f"(the shipped files use its order, e.g. for HMDB-51 kick=20, kick ball=21, sword=44, sword exercise=45)"
        )


def convert_list(src: Path, dst: Path, classes: list[str], *, ext: str, label_file: str,
                 stem_folders: dict[str, str] | None = None, check_folders: bool = True) -> dict[str, Any]:
    """Rewrite a published split file as an MMAction2 video list; returns the provenance record.

    Args:
        src: the published file.
        dst: the MMAction2 list to write.
        classes: the class list labels index (``label_file`` names it in messages).
        ext: video extension added to paths that have none.
        stem_folders: video stem -> class folder, for lists whose lines name a bare file
            (few-shot lists: their videos come from train split 1, whose lines name the folder).
        check_folders: check that a line's class folder is the class its label names.
    """
    out = []
    for lineno, rel, label in _parse(src):
        if stem_folders is not None and "/" not in rel:
            stem = Path(rel).stem if Path(rel).suffix.lower() in VIDEO_EXTS else rel
            if stem not in stem_folders:
                raise DataError(f"{src}:{lineno}: video {rel!r} is not in the list its folder is taken from")
            rel = f"{stem_folders[stem]}/{rel}"
        if Path(rel).suffix.lower() not in VIDEO_EXTS:
            rel += ext
        if check_folders:
            _check_label(src, lineno, rel, label, classes, label_file)
        elif not 0 <= label < len(classes):
            _check_label(src, lineno, rel, label, classes, label_file)
        out.append(f"{rel} {label}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(f"{line}\n" for line in out))
    return {"file": str(src), "sha256": file_sha256(src), "converted_to": "mmaction2 video list", "ext": ext}


def stem_folders_of(src: Path) -> dict[str, str]:
    """Video stem -> class folder of a ``<folder>/<stem> ...`` list."""
    out = {}
    for _, rel, _ in _parse(src):
        p = Path(rel)
        stem = p.stem if p.suffix.lower() in VIDEO_EXTS else p.name
        out[stem] = str(p.parent)
    return out


def dataset_list(spec, dataset: DatasetInfo, name: str) -> Split:
    """The split ``name`` of ``dataset`` as a Split.

    Synthetic datasets and splits a user configured are MMAction2 lists already and are used
    as they are. Otherwise the shipped published file (``SHIPPED``) is converted into the run's
    work directory. Few-shot names are ``fewshot_<K>``; full-class zero-shot uses ``full``.
    """
    if name in dataset.splits:
        return Split(dataset.split_file(name), dataset.video_root, dataset.name)
    key = (dataset.name, name)
    if key not in SHIPPED:
        raise DataError(
            f"dataset {dataset.name!r} has no split {name!r}: not configured (splits: "
            f"{', '.join(sorted(dataset.splits)) or 'none'}) and no published file ships for it"
        )
    src = SPLITS_DIR / SHIPPED[key]
    dst = lists_dir(spec) / f"{dataset.name}_{name}.txt"
    label_file = f"protocols/labels ({dataset.name})"
    stems = None
    if name.startswith("fewshot_"):
        stems = stem_folders_of(SPLITS_DIR / SHIPPED[(dataset.name, "train_split1")])
    source = convert_list(src, dst, dataset.classes, ext=video_ext(dataset.name), label_file=label_file,
                          stem_folders=stems, check_folders=dataset.name in ("ucf101", "hmdb51"))
    source["file"] = f"protocols/splits/{SHIPPED[key]}"
    return Split(dst, dataset.video_root, dataset.name, source=source)


def subset_list(src: Split, keep: list[int], dst: Path, how: str) -> Split:
    """The videos of ``src`` whose label is in ``keep``, relabelled to their index in ``keep``."""
    remap = {old: new for new, old in enumerate(keep)}
    items = read_annotation_list(src.ann_file)
    lines = [f"{p} {remap[lab]}" for p, lab in items if lab in remap]
    if not lines:
        raise DataError(f"no video of {src.ann_file} has a label among {keep[:10]}...")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(f"{line}\n" for line in lines))
    source = {"file": str(src.ann_file), "sha256": file_sha256(src.ann_file), "derived": how, **(src.source or {})}
    source["file"], source["sha256"] = str(src.ann_file), file_sha256(src.ann_file)
    return Split(dst, src.video_root, src.dataset, source=source)


def count_per_class(ann_file: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _, lab in read_annotation_list(ann_file):
        counts[lab] = counts.get(lab, 0) + 1
    return counts
