"""The video datasets of the synthetic benchmark, in MMAction2 file formats.

Each dataset directory holds ``videos/*.mp4``, annotation lists (``<videos/x.mp4> <label>``),
``classes.csv`` (``id,name``), ``class_info.json`` (factors, name, description, keywords per
class), ``meta.jsonl`` (ground-truth factors and nuisance per video), ``info.json`` (what
``get_dataset`` returns) and ``manifest.json`` (sha256 per file). Every video's randomness comes
from its own seed sequence ``(world seed, dataset, class, index)``, so a dataset is the same
whatever order it is built in.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.synthetic import render, storage, video_io, world
from bench.data.synthetic.common import save_info, video_rng
from bench.data.synthetic.sizes import SizeConfig, get_size
from bench.errors import DataError

Item = tuple[str, int, world.ClassSpec, int]  # relative path, label, class, video index within class


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def write_classes(root: Path, classes: list[world.ClassSpec]) -> None:
    with open(root / "classes.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "name"])
        for i, c in enumerate(classes):
            w.writerow([i, c.name])
    info = [{"id": i, **world.class_info(c)} for i, c in enumerate(classes)]
    (root / "class_info.json").write_text(json.dumps(info, indent=1, sort_keys=True))


def render_items(root: Path, name: str, items: list[Item], cfg: SizeConfig) -> dict[str, bool]:
    """Render and encode every item, write the ground truth of each to ``meta.jsonl``.

    Returns which videos show their actor only briefly.
    """
    brief = {}
    with open(root / "meta.jsonl", "w") as meta:
        for rel, label, spec, j in items:
            clip = render.sample_clip(spec, video_rng(cfg.seed, name, label, j), cfg.num_frames, cfg.brief_prob)
            video_io.write_mp4(root / rel, render.render_clip(clip, cfg.resolution))
            row = {"video": rel, "label": label, "class": spec.name, "motion": spec.motion,
                   **render.clip_meta(clip)}
            meta.write(json.dumps(row, sort_keys=True) + "\n")
            brief[rel] = row["brief"]
    return brief


def per_class_items(classes: list[world.ClassSpec], n: int, prefix: str) -> list[Item]:
    return [(f"videos/{prefix}{label:03d}_{j:03d}.mp4", label, c, j)
            for label, c in enumerate(classes) for j in range(n)]


def fewshot_list(items: list[tuple[str, int]], k: int, seed: int, where: str) -> list[tuple[str, int]]:
    """Exactly ``k`` videos per class from ``items``, drawn with ``seed`` (kept in list order).

    Raises DataError naming the largest possible K when a class has fewer than ``k`` videos.
    """
    by_class: dict[int, list[tuple[str, int]]] = {}
    for it in items:
        by_class.setdefault(it[1], []).append(it)
    smallest = min(len(v) for v in by_class.values())
    if k > smallest or k < 1:
        raise DataError(
            f"cannot draw {k} videos per class from {where}: its smallest class has {smallest} videos; "
            f"K must be between 1 and {smallest}"
        )
    rng = np.random.default_rng([seed, k])
    chosen = []
    for label in sorted(by_class):
        vids = by_class[label]
        pick = sorted(rng.choice(len(vids), size=k, replace=False).tolist())
        chosen.extend(vids[i] for i in pick)
    return chosen


def _split_lists(root: Path, splits: dict[str, list[tuple[str, int]]]) -> dict[str, str]:
    out = {}
    for split, items in splits.items():
        write_lines(root / f"{split}.txt", [f"{p} {lab}" for p, lab in items])
        out[split] = f"{split}.txt"
    return out


def build_supervised(name: str, classes: list[world.ClassSpec], n_train: int, n_val: int, cfg: SizeConfig,
                     root: Path) -> dict[str, Any]:
    """A K400-like dataset: train and val lists over the same classes (also used for syn_pretrain)."""
    train = per_class_items(classes, n_train, "train_")
    val = [(p.replace("train_", "val_"), lab, c, j + n_train) for p, lab, c, j in per_class_items(classes, n_val,
                                                                                                  "train_")]
    brief = render_items(root, name, train + val, cfg)
    write_classes(root, classes)
    lists = {"train": [(p, lab) for p, lab, _, _ in train], "val": [(p, lab) for p, lab, _, _ in val]}
    lists["val_brief"] = [(p, lab) for p, lab in lists["val"] if brief[p]]  # class visible in a few frames only
    return save_info(root, name, cfg, [c.name for c in classes], _split_lists(root, lists), {})


def build_k600(classes: list[world.ClassSpec], cfg: SizeConfig, root: Path) -> dict[str, Any]:
    """K600-like zero-shot set: new classes, three class splits in the k600_zeroshot file formats."""
    items = per_class_items(classes, cfg.k600_videos, "v")
    render_items(root, "syn_k600", items, cfg)
    write_classes(root, classes)
    lists = {"val": [(p, lab) for p, lab, _, _ in items]}
    zs = []
    for i in (1, 2, 3):
        rng = np.random.default_rng([cfg.seed, 600, i])
        chosen = sorted(rng.choice(len(classes), size=cfg.k600_split_classes, replace=False).tolist())
        with open(root / f"k{cfg.k600_split_classes}_labels_split{i}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "name"])
            for new, old in enumerate(chosen):
                w.writerow([new, classes[old].name])
        remap = {old: new for new, old in enumerate(chosen)}
        lists[f"test_split{i}"] = [(p, remap[lab]) for p, lab, _, _ in items if lab in remap]
        zs.append({"labels": f"k{cfg.k600_split_classes}_labels_split{i}.csv", "test": f"test_split{i}.txt",
                   "class_ids": chosen})
    return save_info(root, "syn_k600", cfg, [c.name for c in classes], _split_lists(root, lists),
                     {"zeroshot_splits": zs})


def build_target(name: str, classes: list[world.ClassSpec], n_train: int, n_val: int, cfg: SizeConfig,
                 root: Path) -> dict[str, Any]:
    """UCF/HMDB-like target: three train/val splits, a ``full`` list and K-shot lists of split 1."""
    items = per_class_items(classes, n_train + n_val, "v")
    render_items(root, name, items, cfg)
    write_classes(root, classes)
    lists: dict[str, list[tuple[str, int]]] = {"full": [(p, lab) for p, lab, _, _ in items]}
    for i in (1, 2, 3):
        rng = np.random.default_rng([cfg.seed, zlib.crc32(name.encode()), i])
        train, val = [], []
        for label in range(len(classes)):
            vids = [(p, lab) for p, lab, _, _ in items if lab == label]
            order = rng.permutation(len(vids))
            train += [vids[k] for k in sorted(order[:n_train])]
            val += [vids[k] for k in sorted(order[n_train:])]
        lists[f"train_split{i}"], lists[f"val_split{i}"] = train, val
    lists["train"], lists["val"] = lists["train_split1"], lists["val_split1"]
    fewshot, fewshot_seed = {}, cfg.seed + 1000
    for k in cfg.fewshot_ks:
        if k <= n_train:  # a K larger than the class size is refused when asked for (fewshot_list)
            lists[f"train1_{k}shot"] = fewshot_list(lists["train_split1"], k, fewshot_seed, f"{name}/train_split1")
            fewshot[k] = f"train1_{k}shot.txt"
    return save_info(root, name, cfg, [c.name for c in classes], _split_lists(root, lists),
                     {"fewshot": fewshot, "fewshot_seed": fewshot_seed})


def _builder(name: str, cfg: SizeConfig) -> Callable[[Path], dict[str, Any]]:
    plan = world.plan_classes(cfg.class_counts(), cfg.seed, fixed_scene=("syn_k600",))
    if name == "syn_k400":
        return lambda root: build_supervised(name, plan[name], *cfg.k400_videos, cfg, root)
    if name == "syn_pretrain":
        return lambda root: build_supervised(name, plan[name], *cfg.pretrain_videos, cfg, root)
    if name == "syn_k600":
        return lambda root: build_k600(plan[name], cfg, root)
    if name == "syn_ucf":
        return lambda root: build_target(name, plan[name], *cfg.ucf_videos, cfg, root)
    if name == "syn_hmdb":
        return lambda root: build_target(name, plan[name], *cfg.hmdb_videos, cfg, root)
    if name == "syn_ava":
        from bench.data.synthetic import ava

        return lambda root: ava.build_ava(cfg, root)
    raise DataError(f"unknown synthetic dataset {name!r}")


def ensure(name: str, size: str | None = None) -> Path:
    """Build dataset ``name`` of ``size`` if needed; return its directory."""
    cfg = get_size(size)
    root = storage.part_dir(cfg.name, name)
    if not storage.is_built(root):
        storage.build_once(root, _builder(name, cfg))
    return root


def _abs(root: Path, value: Any) -> Any:
    """Relative file names in ``info.json`` extras -> absolute paths (recursively)."""
    if isinstance(value, str) and (root / value).exists():
        return root / value
    if isinstance(value, dict):
        return {(int(k) if isinstance(k, str) and k.isdigit() else k): _abs(root, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_abs(root, v) for v in value]
    return value


def dataset_info(name: str, size: str | None = None) -> Any:
    """The ``DatasetInfo`` of synthetic dataset ``name``, generating it on first use."""
    from bench.data.info import DatasetInfo

    root = ensure(name, size)
    info = storage.load_json(root / "info.json")
    extra = _abs(root, info["extra"])
    extra.update({"size": info["size"], "seed": info["seed"], "resolution": info["resolution"],
                  "num_frames": info["num_frames"], "fps": info["fps"], "root": root})
    # AVA's data_prefix is the rawframes folder (frame_dir = prefix/video_id); videos lists are relative to root.
    video_root = root / "rawframes" if info["kind"] == "ava" else root
    return DatasetInfo(
        name=name, classes=info["classes"], video_root=video_root,
        splits={k: root / v for k, v in info["splits"].items()}, kind=info["kind"], synthetic=True,
        source=f"generated by bench.data.synthetic (seed {info['seed']}, size {info['size']})", extra=extra,
    )
