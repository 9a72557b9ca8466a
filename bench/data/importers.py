"""``bench data import``: the official annotation files of a dataset, as released, to MMAction2 lists.

This module runs an import (``run_import``), AVA's files and the user-config entry; the readers, the video
index and the list writers, and the rules they follow (records found by class name, videos resolved by path
or stem at any depth, missing and unlisted videos counted, byte-identical output), are documented and live
in ``bench.data.official_files``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.official_files import (  # noqa: F401 - the readers and list writers, importable from here as before
    ANET_SUBSETS,
    CHARADES_ACTION,
    DATASETS,
    HMDB_SPLIT,
    KINETICS,
    KINETICS_RENAMED,
    KINETICS_SPLITS,
    LABEL_FILES,
    LABEL_SOURCES,
    LABELS_DIR,
    LAYOUTS,
    MULTI_LABEL,
    OPTIONAL_SPLITS,
    READERS,
    VIDEO_EXTS,
    ClassMap,
    ImportResult,
    Record,
    VideoIndex,
    _aliases,
    _find,
    _sources,
    cut_segments,
    default_out_dir,
    header,
    list_line,
    norm_name,
    read_activitynet,
    read_charades,
    read_classes,
    read_header,
    read_hmdb51,
    read_kinetics,
    read_kinetics_csv,
    read_ssv2,
    read_ucf101,
    resolve,
    sha256,
    ssv2_template,
    write_atomic,
    write_lists,
)
from bench.errors import DataError


def run_import(dataset: str, root: Path | None, annotations: Path | None = None, out_dir: Path | None = None, *,
               layout: str | None = None, skip_missing: bool = False, classes: list[str] | None = None
               ) -> ImportResult:
    """Read ``dataset``'s official files and write its lists (see module docstring). Raises DataError."""
    if dataset not in DATASETS:
        raise DataError(f"bench data import: unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}")
    if dataset == "k710":
        from bench.data.k710 import import_k710

        out = Path(out_dir).expanduser().absolute() if out_dir else default_out_dir(dataset)
        return import_k710(Path(root).expanduser().absolute() if root else None, out, skip_missing=skip_missing)
    if root is None:
        raise DataError(f"bench data import {dataset}: --root <the folder the videos are under> is required")
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DataError(f"bench data import {dataset}: --root {root} is not a directory")
    ann = Path(annotations).expanduser().absolute() if annotations else root
    if not ann.is_dir():
        raise DataError(f"bench data import {dataset}: --annotations {ann} is not a directory")
    if out_dir is None:
        out_dir = default_out_dir(dataset)
    out_dir = Path(out_dir).expanduser().absolute()
    if dataset == "ava":
        return _import_ava(root, ann, out_dir)
    accepted = LAYOUTS.get(dataset, ())
    if layout is not None and layout not in accepted:
        raise DataError(f"bench data import {dataset}: --layout {layout!r}; accepted: "
                        f"{', '.join(accepted) or 'none (the layout is found from the files)'}")
    cmap = ClassMap(dataset, classes, aliases=_aliases(dataset))
    reader = READERS[dataset]
    records = reader(ann, cmap, layout or accepted[0]) if accepted else reader(ann, cmap)
    index = VideoIndex(root, skip=out_dir)
    check_folder = dataset not in ("ucf101", "hmdb51")
    resolved = [(rec, resolve(rec, index, cmap.classes, check_folder=check_folder)) for rec in records]
    if any(rec.segment is not None for rec in records):
        resolved = cut_segments(resolved, root, out_dir / "clips")
    extra = {"annotations": str(ann), **({"layout": layout} if layout else {})}
    return write_lists(dataset, root, out_dir, resolved, index.files, skip_missing=skip_missing,
                       sources=_sources(dataset, ann), entry_extra=extra)




def _import_ava(root: Path, ann: Path, out_dir: Path) -> ImportResult:
    """AVA: MMAction2 reads the official CSVs directly; the entry names them (no list is converted)."""
    entry: dict[str, Any] = {"root": str(root)}
    sources = []
    for split in ("train", "val"):
        for key, names in ((split, (f"ava_{split}_v2.2.csv", f"ava_{split}_v2.1.csv")),
                           (f"{split}_exclusions", (f"ava_{split}_excluded_timestamps_v2.2.csv",
                                                    f"ava_{split}_excluded_timestamps_v2.1.csv")),
                           (f"{split}_proposals", (f"ava_dense_proposals_{split}.FAIR.recall_93.9.pkl",))):
            found = _find(ann, names, f"ava {key}", required=key == "val")
            if found is not None:
                entry[key] = str(found)
                sources.append(found)
    for key, sub in (("frames", "rawframes"), ("videos", "videos_15min"), ("videos", "videos")):
        if key not in entry and (root / sub).is_dir():
            entry[key] = str(root / sub)
    return ImportResult("ava", root, out_dir, {}, {}, {}, [], {}, entry, sources)


# ---------------------------------------------------------------------------------------------
# the user config


def write_entry(dataset: str, entry: dict[str, Any], config: Path) -> Path:
    """Set ``datasets.<dataset>`` of the user config to ``entry`` (other keys kept; the old file kept as .bak)."""
    import yaml

    config = Path(config)
    data: dict[str, Any] = {}
    if config.exists() and config.stat().st_size:
        data = yaml.safe_load(config.read_text()) or {}
        if not isinstance(data, dict):
            raise DataError(f"user config {config} is not a mapping; not touching it (use --print)")
        write_atomic(config.with_name(config.name + ".bak"), config.read_text())
    datasets = data.setdefault("datasets", {}) or {}
    data["datasets"] = datasets
    datasets[dataset] = entry
    write_atomic(config, yaml.safe_dump(data, sort_keys=False))
    return config


def entry_yaml(dataset: str, entry: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump({"datasets": {dataset: entry}}, sort_keys=False)
