"""Per-video predictions kept beside every record: ``<results>/predictions/<run_id>.npz``.

Every test episode whose scores ``BenchAccMetric`` dumped (the headline views: ``predictions_views``,
else ``predictions_1view``) contributes, under the key prefix ``<episode>__``:

- ``video``: the video ids (the test list's first column, in test order; the list's labels are checked
  against the dumped ones, so ids and predictions cannot be misaligned);
- ``label``: the true label;
- ``top5`` / ``top5_scores``: the five highest-scoring classes, best first (MMAction2's ``np.argsort``
  order, so ties break as ``top_k_accuracy`` breaks them), and their scores (float16);
- ``scores``: the full (videos, classes) score matrix in float16, with ``--keep-scores`` or where the
  metric needs it (ActivityNet's mAP).

The file is written atomically (temporary file, fsync, rename) before its record, and the record names it
with its sha256 and the sha256 of the test set (video ids and labels of every episode, in order): two
records are paired only when their test sets are the same. ``recompute`` derives the record's metrics
from the file alone; ``stats`` adds the 95 % bootstrap intervals (``bench.stats``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import stats
from bench.errors import DataError
from bench.view_agreement import FIELD as VIEW_FIELD
from bench.view_agreement import agreement

DUMPS = ("predictions_views", "predictions_1view")  # the headline's dump first
AVA_DUMP = "predictions_ava.npz"  # bench.data.ava_files.PREDICTIONS
SEP = "__"
TOP = 5


AVA_KEYS = ("mAP", "mAP_pose", "mAP_object_interaction", "mAP_person_interaction")
AVA_NO_PAIRED = ("AVA's frame mAP has no paired test here: the paired bootstrap of two runs' keyframe matches is "
                 "not built; each record's own interval is in its stats")


def path_of(root: Path, run_id: str) -> Path:
    return Path(root) / "predictions" / f"{run_id}.npz"


def _video_ids(ann_file: Path, labels: np.ndarray) -> np.ndarray:
    """The test list's video ids in order; refuses when the list and the dumped labels disagree."""
    rows = [line.split() for line in Path(ann_file).read_text().splitlines()
            if line.strip() and not line.startswith("# ")]  # "# ": an imported list's provenance header
    listed = [int(r[1]) if len(r) > 1 else None for r in rows]
    if len(rows) != len(labels) or any(a is not None and a != int(b) for a, b in zip(listed, labels)):
        raise DataError(f"{ann_file}: its {len(rows)} videos and labels do not match the {len(labels)} dumped "
                        f"predictions in order; the per-video predictions cannot be attributed")
    return np.array([r[0] for r in rows])


def multilabel_arrays(scores: np.ndarray, labels: np.ndarray, ann_file: Path) -> dict[str, np.ndarray]:
    """A multi-label episode (Charades): video ids, multi-hot labels and the float32 scores its mAP needs (the
    mAP recomputed from float16 scores would not be the record's exactly)."""
    from bench.data.catalog import read_multilabel_list

    rows = read_multilabel_list(Path(ann_file))
    hot = np.zeros_like(labels)
    for i, (_, labs) in enumerate(rows[:len(labels)]):
        hot[i, list(labs)] = 1
    if len(rows) != len(labels) or not np.array_equal(hot, labels):
        raise DataError(f"{ann_file}: its {len(rows)} videos and labels do not match the {len(labels)} dumped "
                        f"predictions in order; the per-video predictions cannot be attributed")
    return {"video": np.array([r[0] for r in rows]), "labels_multi": labels.astype(np.uint8),
            "scores": scores.astype(np.float32)}


def episode_arrays(dump: Path, ann_file: Path, keep_scores: bool = False) -> dict[str, np.ndarray]:
    """One episode's prediction arrays from ``BenchAccMetric``'s dump (``scores``, ``labels``)."""
    with np.load(dump) as data:
        scores, labels = data["scores"], data["labels"]
        views = data[VIEW_FIELD] if VIEW_FIELD in data.files else None
    if labels.ndim == 2:
        return multilabel_arrays(scores, labels, ann_file)
    labels = labels.astype(np.int64)
    k = min(TOP, scores.shape[1])
    top = np.argsort(scores, axis=1)[:, -k:][:, ::-1]  # mmaction.evaluation.functional.top_k_accuracy's order
    out = {"video": _video_ids(ann_file, labels), "label": labels, "top5": top.astype(np.int32),
           "top5_scores": np.take_along_axis(scores, top, axis=1).astype(np.float16)}
    if views is not None and views.shape[0] == len(labels) and views.shape[1] > 1:
        out["view_agreement"] = agreement(views, top[:, 0]).astype(np.float32)
        out["num_views"] = np.array(views.shape[1], dtype=np.int32)
    if keep_scores:
        out["scores"] = scores.astype(np.float16)
    return out


def test_set_sha(episodes: dict[str, dict[str, np.ndarray]]) -> str:
    h = hashlib.sha256()
    for name in sorted(episodes):
        h.update(name.encode() + b"\0")
        h.update("\n".join(map(str, episodes[name]["video"])).encode() + b"\0")
        if "gt_csv" in episodes[name]:  # AVA: the ground-truth rows (boxes and actions) of its keyframes
            h.update("\n".join(map(str, episodes[name]["gt_csv"])).encode())
        elif "labels_multi" in episodes[name]:
            h.update(np.ascontiguousarray(episodes[name]["labels_multi"], dtype=np.uint8).tobytes())
        else:
            h.update(np.ascontiguousarray(episodes[name]["label"], dtype=np.int64).tobytes())
    return h.hexdigest()


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    from bench.fsutil import fsync_dir

    fsync_dir(path.parent)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def collect(work_dir: Path, episodes: list[dict[str, Any]], keep_scores: bool = False,
            ) -> dict[str, dict[str, np.ndarray]]:
    """The prediction arrays of every test episode of a run (``episodes``: the record's episode entries)."""
    out = {}
    for ep in episodes:
        info = ep.get("episode") or {}
        name, test = info.get("name"), info.get("test") or {}
        if not name or not test.get("ann_file"):
            continue
        ava = work_dir / name / AVA_DUMP
        if ava.exists():  # AVA: what its frame mAP consumes, as the protocol dumped it
            with np.load(ava) as data:
                out[name] = {k: data[k] for k in data.files}
            continue
        dump = next((work_dir / name / f"{d}.npz" for d in DUMPS if (work_dir / name / f"{d}.npz").exists()), None)
        if dump is None:
            continue
        keep = keep_scores or test.get("dataset") in ("activitynet",)
        out[name] = episode_arrays(dump, Path(test["ann_file"]), keep)
    return out


def write(root: Path, run_id: str, arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, Any] | None:
    """Write the run's prediction file; returns the record's ``predictions`` entry (None: nothing to keep)."""
    if not arrays:
        return None
    flat = {f"{ep}{SEP}{k}": v for ep, d in arrays.items() for k, v in d.items()}
    path = path_of(root, run_id)
    _atomic_savez(path, flat)
    return {"file": str(path.relative_to(root)), "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "episodes": list(arrays), "test_set": test_set_sha(arrays), "num_videos": int(
                sum(len(d["video"]) for d in arrays.values()))}


def load(root: Path, record: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """A record's prediction arrays per episode; refuses a missing file or one whose sha256 differs."""
    ref = record.get("predictions")
    if not ref:
        raise DataError(f"run {record.get('run_id')}: its record keeps no per-video predictions (a record of an "
                        f"earlier harness version, or a protocol that keeps none); rerun it with --redo")
    path = Path(root) / ref["file"]
    if not path.exists():
        raise DataError(f"run {record.get('run_id')}: its prediction file {path} is missing")
    digest = sha256_of(path)
    if digest != ref["sha256"]:
        raise DataError(f"run {record.get('run_id')}: {path} has sha256 {digest[:12]}..., the record names "
                        f"{ref['sha256'][:12]}...; the file was changed after the record was written")
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            ep, name = key.split(SEP, 1)
            out.setdefault(ep, {})[name] = data[key]
    return out


def pairs(arrays: dict[str, dict[str, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(labels, top-k) per episode, in the record's episode order (the order the protocol averaged them in)."""
    return [(arrays[e]["label"], arrays[e]["top5"]) for e in arrays]


def multilabel(arrays: dict[str, dict[str, np.ndarray]]) -> bool:
    return any("labels_multi" in d for d in arrays.values())


def ava(arrays: dict[str, dict[str, np.ndarray]]) -> bool:
    return any("det_score" in d for d in arrays.values())


def recompute(arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """The headline metrics from the predictions alone: each episode's, then their mean (as the protocols)."""
    if ava(arrays):  # AVA: one episode; MMAction2's ava_eval on the files written back from the arrays
        from bench.data.ava_files import map_of_arrays

        (only,) = arrays.values()
        return map_of_arrays(only)
    if multilabel(arrays):
        from bench.metrics import mean_ap

        return {"mAP": float(np.mean([mean_ap(d["scores"], d["labels_multi"]) for d in arrays.values()]))}
    per = [stats.metric_values(lab, top) for lab, top in pairs(arrays)]
    return {m: float(np.mean([p[m] for p in per])) for m in stats.METRICS}


def intervals(arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The record's ``stats`` entry: the 95 % bootstrap CI of each headline metric (of the mean over episodes)."""
    if ava(arrays):
        return ava_intervals(arrays)
    if multilabel(arrays):
        eps = [(d["scores"], d["labels_multi"]) for d in arrays.values()]
        return {"ci": {"mAP": stats.bootstrap_map(eps)}, "resamples": stats.RESAMPLES, "seed": stats.SEED,
                "level": stats.LEVEL, "episodes": len(eps),
                "method": "percentile bootstrap over test videos of MMAction2's mean_average_precision"}
    eps = pairs(arrays)
    return {"ci": {m: stats.bootstrap_ci(eps, m) for m in stats.METRICS}, "resamples": stats.RESAMPLES,
            "seed": stats.SEED, "level": stats.LEVEL, "episodes": len(eps),
            "method": "percentile bootstrap over test videos; mean_class_acc stratified by class; "
                      "several episodes: each resampled, the mean's interval"}


def ava_intervals(arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """AVA's intervals: the frame mAP and group mAPs of video resamples (``bench.data.ava_files.bootstrap_frame_map``),
    given only when its pooling of every video once reproduces ``ava_eval``'s numbers exactly."""
    from bench.data.ava_files import bootstrap_frame_map, map_of_arrays

    (only,) = arrays.values()
    point = map_of_arrays(only)
    rows = bootstrap_frame_map(only, stats.RESAMPLES, stats.SEED)
    off = [k for k in AVA_KEYS if point[k] is not None and rows[k][0] != point[k]]
    if off:
        return {"ci": None, "why": f"the per-keyframe bootstrap does not reproduce ava_eval's {off[0]} "
                                   f"({rows[off[0]][0]!r} vs {point[off[0]]!r}); no interval is given"}
    return {"ci": {k: stats._interval(rows[k][1:]) for k in AVA_KEYS if point[k] is not None},
            "resamples": stats.RESAMPLES, "seed": stats.SEED, "level": stats.LEVEL, "episodes": 1,
            "videos": len(only["video"]),
            "method": "percentile bootstrap over test videos of MMAction2's ava_eval frame mAP (keyframes matched "
                      "once by ava_eval's tpfp_single, pooled per resample)"}


def attach(record: dict[str, Any], root: Path, work_dir: Path, keep_scores: bool = False) -> None:
    """Write the run's predictions and add ``predictions`` and ``stats`` to its record (in place).

    A protocol without a dump keeps none; its record says so."""
    try:
        arrays = collect(work_dir, record.get("episodes") or [], keep_scores)
    except DataError as e:  # the number stands; what cannot be attributed is not kept, and the record says why
        record["predictions"], record["stats"] = None, {"ci": None, "why": str(e)}
        return
    ref = write(root, record["run_id"], arrays)
    record["predictions"] = ref
    if ref is None:
        record["stats"] = {"ci": None, "why": f"protocol {record.get('protocol')!r} keeps no per-video predictions"}
        return
    record["stats"] = intervals(arrays)
