"""AVA files, keyframe clips and the frame-mAP metric of the ``ava`` protocol.

Files are AVA v2.x's as MMAction2 reads them: ground-truth CSV rows
``video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]`` (normalised boxes), a label map in the
``item { name: ... id: ... }`` form, person proposals as a pickle mapping ``"video_id,tttt"`` to
``(N, 5)`` arrays ``x1,y1,x2,y2,score``, excluded timestamps, and frames as
``rawframes/<video_id>/img_{:05d}.jpg`` (or ``videos/<video_id>.mp4``).

The metric is MMAction2's own (``mmaction.evaluation.functional.ava_eval``, the ActivityNet
frame-mAP at IoU 0.5), called once on the detection CSV: the overall mAP and the three category
groups are its outputs (``person_movement``: ids <= 14, ``object_manipulation``: 15..63,
``person_interaction``: >= 64), each the mean of the per-class APs of that one full evaluation.
(A group mAP is not ``ava_eval`` re-run with ``custom_classes``: that drops the keyframes without
a ground-truth box of the group, and their false positives with them.) The evaluated classes are
the label map's (AVA: 60 of the 80 annotated actions); training uses every annotated action.
A label map whose ids are not AVA's (the synthetic world) is evaluated with its ids renumbered
into AVA's group ranges (``group_ids``), which changes no AP. ``ava_eval`` maps its work over
``multiprocessing.Pool(32)`` and never closes the pool; ``frame_map`` runs that map in-process
instead (identical results, no 32 processes per call on a small machine).

Keyframe clips follow MMAction2's ``SampleAVAFrames`` (test mode): centre index
``fps * (timestamp - timestamp_start) + start_index``, frames every ``frame_interval`` around it,
clipped to the shot, then ``start_index`` added again (the frame file or decoder index read).
Frames are resized with the aspect ratio kept (``Resize(scale=(-1, size))``, MMAction2's AVA test
pipeline), or, for models that need a square input, letterboxed or squashed (``ava.resize``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import pickle
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataError

# AVA's action categories by label-map id (as AVA and MMAction2's ava_eval group them).
AVA_GROUPS = {"pose": (1, 14), "object_interaction": (15, 63), "person_interaction": (64, 80)}
# our metric keys -> the group outputs of MMAction2's ava_eval
AVA_EVAL_KEYS = {"pose": "person_movement", "object_interaction": "object_manipulation",
                 "person_interaction": "person_interaction"}
AVA_ACTION_IDS = tuple(range(1, 81))  # the 80 annotated AVA actions (the label map evaluates 60 of them)
RESIZES = ("keep_ratio", "letterbox", "square")


@dataclasses.dataclass
class AVAFiles:
    """The files of one AVA split and how to read its frames."""

    gt_csv: Path
    label_map: Path
    proposals: Path | None
    exclusions: Path | None
    frames_dir: Path | None  # rawframes/<video_id>/...
    videos_dir: Path | None  # <video_id>.mp4
    fps: int
    timestamp_start: int
    filename_tmpl: str = "img_{:05d}.jpg"
    start_index: int = 1
    timestamp_end: int | None = None


def read_label_map(path: Path) -> list[tuple[int, str]]:
    """``(id, name)`` of a pbtxt label map (via MMAction2's reader) or of an ``id: name`` text file."""
    from mmaction.evaluation.functional import read_labelmap

    text = Path(path).read_text()
    if "item" in text:
        with open(path) as f:
            items, _ = read_labelmap(f)
        return [(int(x["id"]), x["name"]) for x in items]
    return [(int(a), b.strip()) for a, b in (line.split(":", 1) for line in text.splitlines() if ":" in line)]


def write_pbtxt(items: list[tuple[int, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n' for i, name in items))
    return path


def read_gt(path: Path, label_ids=None) -> dict[tuple[str, int], list[tuple[np.ndarray, set[int]]]]:
    """Keyframe -> list of (box, action ids) per person; refuses action ids outside ``label_ids`` (when given:
    the actions the split may annotate, e.g. AVA's 80; not the label map's 60, which only select what is scored)."""
    known = None if label_ids is None else set(label_ids)
    persons: dict[tuple[str, int], dict[Any, tuple[np.ndarray, set[int]]]] = defaultdict(dict)
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) not in (7, 8):
                raise DataError(f"{path}:{lineno}: expected 7 or 8 columns (AVA CSV), got {len(row)}")
            key = (row[0], int(float(row[1])))
            box = np.asarray([float(v) for v in row[2:6]], dtype=np.float32)
            action = int(row[6])
            if known is not None and action not in known:
                raise DataError(f"{path}:{lineno}: action id {action} is not an action of this dataset "
                                f"(accepted ids: {min(known)}..{max(known)}, {len(known)} actions)")
            pid = row[7] if len(row) == 8 else tuple(np.round(box, 3))
            persons[key].setdefault(pid, (box, set()))[1].add(action)
    return {k: list(v.values()) for k, v in sorted(persons.items())}


def action_ids(path: Path) -> set[int]:
    """Every action id a ground-truth CSV annotates."""
    with open(path, newline="") as f:
        return {int(row[6]) for row in csv.reader(f) if len(row) >= 7}


def read_exclusions(path: Path | None) -> set[tuple[str, int]]:
    """``(video_id, timestamp)`` keyframes of an excluded-timestamps CSV (empty without a file)."""
    if path is None:
        return set()
    with open(path, newline="") as f:
        return {(row[0], int(float(row[1]))) for row in csv.reader(f) if len(row) >= 2}


# What a proposals pickle may reference: numpy's array and scalar reconstruction (numpy 1.x and 2.x module
# names) and the latin-1 codec pickles of protocol 2 use for raw bytes. Nothing that runs code.
_PROPOSAL_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
}


class _ProposalUnpickler(pickle.Unpickler):
    def __init__(self, f, path: Path) -> None:
        super().__init__(f)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _PROPOSAL_GLOBALS:
            raise DataError(
                f"AVA proposals file {self.path} references {module}.{name}; refused: a proposals file holds only a "
                f"dict of numpy arrays ('video_id,timestamp' -> (N, 5) boxes and scores), so nothing else is loaded")
        return super().find_class(module, name)


def read_proposals(path: Path) -> dict[str, np.ndarray]:
    """The person proposals of an AVA split: a pickled dict ``"video_id,tttt"`` -> ``(N, 4|5)`` float array.

    Read with a restricted unpickler that resolves only numpy's array reconstruction, so a file that
    would construct anything else (run code) is refused with its path named, as is any other content.
    """
    try:
        with open(path, "rb") as f:
            data = _ProposalUnpickler(f, Path(path)).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
        raise DataError(f"AVA proposals file {path} cannot be read as a pickled dict of numpy arrays ({e})") from e
    bad = [k for k, v in (data.items() if isinstance(data, dict) else [])
           if not isinstance(k, str) or not isinstance(v, np.ndarray) or v.dtype == object]
    if not isinstance(data, dict) or bad:
        raise DataError(f"AVA proposals file {path} must hold a dict of str -> numeric numpy arrays; got "
                        f"{type(data).__name__}{f' with bad entries {bad[:3]}' if bad else ''}")
    return data


def keyframe_boxes(proposals: dict[str, np.ndarray], key: tuple[str, int], thr: float,
                   max_proposals: int = 1000) -> np.ndarray:
    """Person boxes of a keyframe as MMAction2's ``AVADataset.get_data_info`` takes them: proposals scoring at
    least ``min(thr, best score)`` (so every box tied at the best score when none reaches ``thr``), the first
    ``max_proposals`` of them; the whole frame if the keyframe has no proposal."""
    props = proposals.get(f"{key[0]},{key[1]:04d}")
    if props is None or len(props) == 0:
        return np.asarray([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    props = np.asarray(props, dtype=np.float32)
    if props.shape[1] > 4:
        props = props[props[:, 4] >= min(thr, float(props[:, 4].max()))]
    return props[:max_proposals, :4]


def clip_indices(ts: int, timestamp_start: int, fps: int, start_index: int, clip_len: int, interval: int,
                 shot_end: int) -> np.ndarray:
    """MMAction2's ``SampleAVAFrames`` in test mode: the indices of the frames read for keyframe ``ts``."""
    center = fps * (ts - timestamp_start) + start_index
    idx = center - (clip_len // 2) * interval + np.arange(clip_len) * interval
    return np.clip(idx, 0, shot_end - 1) + start_index


def resize_frame(img: np.ndarray, size: int, mode: str) -> np.ndarray:
    """``keep_ratio``: short side ``size`` (MMAction2's ``Resize(scale=(-1, size))``); ``letterbox``: long side
    ``size`` (padded to a square in the batch); ``square``: squashed to ``size`` x ``size``."""
    import cv2

    h, w = img.shape[:2]
    if mode == "square":
        out = (size, size)
    else:
        scale = size / min(h, w) if mode == "keep_ratio" else size / max(h, w)
        out = (max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5)))
    return cv2.resize(np.ascontiguousarray(img), out, interpolation=cv2.INTER_LINEAR)


class FrameReader:
    """Reads the frames of a keyframe's clip as ``(3, T, H, W)`` uint8 RGB, resized by ``resize`` (``RESIZES``)."""

    def __init__(self, files: AVAFiles, clip_len: int, interval: int, size: int, resize: str = "keep_ratio") -> None:
        self.files, self.clip_len, self.interval, self.size, self.resize = files, clip_len, interval, size, resize
        self._counts: dict[str, int] = {}
        self._videos: dict[str, Any] = {}

    def _shot_end(self, total: int) -> int:
        f = self.files
        if f.timestamp_end is not None:  # MMAction2's shot_info for frames: the annotated span
            return min(total, (f.timestamp_end - f.timestamp_start) * f.fps)
        return total

    def indices(self, ts: int, total: int) -> np.ndarray:
        """Frame numbers (files: ``filename_tmpl`` numbers; videos: decoder indices) of keyframe ``ts``."""
        f = self.files
        return clip_indices(ts, f.timestamp_start, f.fps, f.start_index, self.clip_len, self.interval,
                            self._shot_end(total))

    def __call__(self, video: str, ts: int) -> np.ndarray:
        import cv2

        f = self.files
        if f.frames_dir is not None and (f.frames_dir / video).is_dir():
            d = f.frames_dir / video
            total = self._counts.setdefault(video, sum(1 for _ in d.iterdir()))
            frames = []
            for i in self.indices(ts, total):
                img = cv2.imread(str(d / f.filename_tmpl.format(int(i))))
                if img is None:
                    raise DataError(f"cannot read frame {int(i)} of {d} (file {f.filename_tmpl.format(int(i))})")
                frames.append(img[:, :, ::-1])
        elif f.videos_dir is not None and (f.videos_dir / f"{video}.mp4").exists():
            import decord

            vr = self._videos.setdefault(video, decord.VideoReader(str(f.videos_dir / f"{video}.mp4")))
            idx = np.minimum(self.indices(ts, len(vr)), len(vr) - 1)  # the second start_index may pass the end
            frames = list(vr.get_batch(idx.tolist()).asnumpy())
        else:
            raise DataError(f"AVA video {video!r}: no frames under {f.frames_dir} and no video under {f.videos_dir}")
        frames = [resize_frame(x, self.size, self.resize) for x in frames]
        return np.stack(frames).transpose(3, 0, 1, 2)


def write_detections(rows: list[tuple[str, int, np.ndarray, int, float]], path: Path) -> Path:
    """AVA detection CSV: ``video_id,timestamp,x1,y1,x2,y2,action_id,score`` (timestamp as AVA writes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for video, ts, box, action, score in rows:
            f.write(f"{video},{ts:04d},{box[0]:.4f},{box[1]:.4f},{box[2]:.4f},{box[3]:.4f},{action},{score:.4f}\n")
    return path


class _SerialPool:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def map(self, fn, items):
        return [fn(x) for x in items]


@contextlib.contextmanager
def _in_process():
    import types

    from mmaction.evaluation.functional import ava_utils

    original = ava_utils.multiprocessing
    ava_utils.multiprocessing = types.SimpleNamespace(Pool=_SerialPool)
    # ava_evaluation.metrics returns ``np.NAN`` (the AP of a class without ground truth), a name
    # NumPy 2 removed; provide it while the metric runs so such a class gets NaN (skipped by nanmean).
    shim = "NAN" not in np.__dict__
    if shim:
        np.NAN = np.nan
    try:
        yield
    finally:
        ava_utils.multiprocessing = original
        if shim:
            del np.NAN


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else 100 * float(x)


def group_ids(groups: dict[str, list[int]]) -> dict[int, int]:
    """Label-map id -> the id ``ava_eval`` sees: identity when every group's ids lie in AVA's range for it,
    else each group's ids renumbered (in order) into that range (the synthetic world's label map)."""
    if all(AVA_GROUPS[g][0] <= i <= AVA_GROUPS[g][1] for g, ids in groups.items() for i in ids):
        return {i: i for ids in groups.values() for i in ids}
    out = {}
    for g, ids in groups.items():
        lo, hi = AVA_GROUPS[g]
        if len(ids) > hi - lo + 1:
            raise DataError(f"AVA group {g!r} has {len(ids)} classes; AVA's id range for it holds {hi - lo + 1}")
        out.update({i: lo + n for n, i in enumerate(sorted(ids))})
    return out


def _renumber(label_map: Path, gt_csv: Path, det_csv: Path, ids: dict[int, int], out: Path) -> tuple[Path, ...]:
    """Copies of the label map and CSVs with ids renumbered by ``ids`` (rows of other ids dropped)."""
    out.mkdir(parents=True, exist_ok=True)
    items = [(ids[i], n) for i, n in read_label_map(label_map) if i in ids]
    paths = [write_pbtxt(sorted(items), out / "label_map.pbtxt")]
    for src in (gt_csv, det_csv):
        rows = []
        with open(src, newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 7 and int(row[6]) in ids:
                    rows.append(",".join([*row[:6], str(ids[int(row[6])]), *row[7:]]))
        dst = out / src.name
        dst.write_text("".join(f"{r}\n" for r in rows))
        paths.append(dst)
    return tuple(paths)


def _eval_inputs(det_csv: Path, gt_csv: Path, label_map: Path, groups: dict[str, list[int]]):
    """The label map, ground-truth and detection CSVs ``ava_eval`` reads (renumbered by ``group_ids`` when the
    label map's ids are not AVA's) and the groups restricted to the label map."""
    present = {i for i, _ in read_label_map(label_map)}
    groups = {g: [i for i in ids if i in present] for g, ids in groups.items()}
    ids = group_ids(groups)
    if any(k != v for k, v in ids.items()) or set(ids) != present:
        label_map, gt_csv, det_csv = _renumber(label_map, gt_csv, det_csv, ids, Path(det_csv).parent / "ava_ids")
    return label_map, gt_csv, det_csv, groups


def frame_map(det_csv: Path, gt_csv: Path, label_map: Path, exclusions: Path | None,
              groups: dict[str, list[int]]) -> dict[str, Any]:
    """Frame mAP@0.5 (percent) overall and per category group: the outputs of one MMAction2 ``ava_eval``."""
    from mmaction.evaluation.functional import ava_eval

    label_map, gt_csv, det_csv, groups = _eval_inputs(det_csv, gt_csv, label_map, groups)
    # ava_eval averages AVA's id ranges; an empty range is NaN ("mean of empty slice"), recorded as None.
    with _in_process(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv), str(exclusions) if exclusions else None,
                       verbose=False)
    out: dict[str, Any] = {"mAP": _nan_to_none(float(res["overall"]))}
    for name, key in AVA_EVAL_KEYS.items():
        out[f"mAP_{name}"] = _nan_to_none(float(res[key])) if groups.get(name) else None
    return out


def category_groups(items: list[tuple[int, str]], synthetic: bool) -> dict[str, list[int]]:
    """Label-map ids per category group: AVA's id ranges, or the synthetic world's interaction actions."""
    if synthetic:
        groups: dict[str, list[int]] = {"pose": [], "object_interaction": [], "person_interaction": []}
        for i, name in items:
            key = ("object_interaction" if "object" in name else "person_interaction" if "another" in name
                   else "pose")
            groups[key].append(i)
        return groups
    return {g: [i for i, _ in items if lo <= i <= hi] for g, (lo, hi) in AVA_GROUPS.items()}


PREDICTIONS = "predictions_ava.npz"


def _lines(path: Path | None) -> np.ndarray:
    text = Path(path).read_text() if path is not None else ""
    return np.array([line for line in text.splitlines() if line.strip()], dtype=str)


def prediction_arrays(det_csv: Path, gt_csv: Path, label_map: Path, exclusions: Path | None,
                      groups: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """What ``frame_map`` consumes, as arrays (issue 23): every detection row of ``det_csv`` (``det_video``,
    ``det_ts``, ``det_box`` (N, 4), ``det_action``, ``det_score``: the CSV's values, which it rounds to 4
    decimals), the ground-truth CSV's rows, the label map, the excluded keyframes and the category groups.
    ``video`` is the test videos (the ground truth's, sorted). Refuses when the arrays would not write the
    detection CSV back byte for byte (then the mAP recomputed from them could differ)."""
    import json

    rows = [r for r in csv.reader(io.StringIO(Path(det_csv).read_text())) if r]
    arrays = {
        "det_video": np.array([r[0] for r in rows], dtype=str),
        "det_ts": np.array([int(r[1]) for r in rows], dtype=np.int32),
        "det_box": np.array([[float(x) for x in r[2:6]] for r in rows], dtype=np.float64).reshape(-1, 4),
        "det_action": np.array([int(r[6]) for r in rows], dtype=np.int32),
        "det_score": np.array([float(r[7]) for r in rows], dtype=np.float64),
    }
    if detection_text(arrays) != Path(det_csv).read_text():
        raise DataError(f"{det_csv}: its rows do not round-trip through the kept arrays; the AVA predictions "
                        f"cannot reproduce the metric's input")
    gt = _lines(gt_csv)
    arrays.update(video=np.array(sorted({line.split(",")[0] for line in gt}), dtype=str), gt_csv=gt,
                  label_map=np.array(Path(label_map).read_text()), exclusions=_lines(exclusions),
                  groups=np.array(json.dumps(groups, sort_keys=True)))
    return arrays


def detection_text(arrays: dict[str, np.ndarray]) -> str:
    """The detection CSV of prediction arrays, formatted as ``write_detections`` writes it."""
    return "".join(
        f"{v},{int(t):04d},{b[0]:.4f},{b[1]:.4f},{b[2]:.4f},{b[3]:.4f},{int(a)},{s:.4f}\n"
        for v, t, b, a, s in zip(arrays["det_video"], arrays["det_ts"], arrays["det_box"], arrays["det_action"],
                                 arrays["det_score"]))


@contextlib.contextmanager
def _files_of(arrays: dict[str, np.ndarray]):
    """The metric's input files written back from prediction arrays into a temporary directory:
    ``(detections, ground truth, label map, exclusions or None, groups)``."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ava-recompute-") as tmp:
        d = Path(tmp)
        (d / "detections.csv").write_text(detection_text(arrays))
        (d / "gt.csv").write_text("".join(f"{line}\n" for line in arrays["gt_csv"]))
        (d / "label_map.pbtxt").write_text(str(arrays["label_map"]))
        excl = None
        if len(arrays["exclusions"]):
            excl = d / "exclusions.csv"
            excl.write_text("".join(f"{line}\n" for line in arrays["exclusions"]))
        groups = {g: [int(i) for i in ids] for g, ids in json.loads(str(arrays["groups"])).items()}
        yield d / "detections.csv", d / "gt.csv", d / "label_map.pbtxt", excl, groups


def map_of_arrays(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """``frame_map`` of prediction arrays (``prediction_arrays``): the files written back to a temporary directory
    and scored by the same single ``ava_eval`` call as the protocol's."""
    with _files_of(arrays) as files:
        return frame_map(*files)


def _group_means(aps: dict[int, float]) -> dict[str, float]:
    """``ava_eval``'s four means of per-class APs (NaN APs skipped; an empty group is NaN), in percent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vals = list(aps.items())
        return {"mAP": 100 * float(np.nanmean([a for _, a in vals])),
                "mAP_pose": 100 * float(np.nanmean([a for k, a in vals if k <= 14])),
                "mAP_object_interaction": 100 * float(np.nanmean([a for k, a in vals if 14 < k < 64])),
                "mAP_person_interaction": 100 * float(np.nanmean([a for k, a in vals if 64 <= k]))}


def bootstrap_frame_map(arrays: dict[str, np.ndarray], resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Frame mAP (and the group mAPs) of ``resamples`` resamples of the test videos, drawn with replacement by
    ``np.random.default_rng(seed).integers(0, n_videos, (resamples, n_videos))`` (videos in sorted order).

    ``ava_eval`` matches each keyframe's detections to its ground truth independently of every other keyframe
    (``tpfp_single``) and only then pools the matches per class. So the matching is done once, with MMAction2's
    own readers and ``tpfp_single`` on the metric's input files, and each resample pools the keyframes of its
    videos (a video drawn twice counts twice, in the detections and in the ground-truth count) through
    MMAction2's ``compute_precision_recall`` / ``compute_average_precision`` as ``ava_eval`` does. Row 0 of the
    result is every video once, which must reproduce ``ava_eval``'s own numbers (the caller checks it)."""
    from mmaction.evaluation.functional.ava_evaluation import metrics as ava_metrics
    from mmaction.evaluation.functional.ava_utils import read_csv, read_exclusions, read_labelmap, tpfp_single

    with _files_of(arrays) as (det, gt, label_map, excl, groups), _in_process():
        label_map, gt, det, groups = _eval_inputs(det, gt, label_map, groups)
        with open(label_map) as f:
            _, whitelist = read_labelmap(f)
        with open(gt) as f:
            gt_boxes, gt_labels, _ = read_csv(f, whitelist)
        with open(det) as f:
            boxes, labels, scores = read_csv(f, whitelist)
        excluded = set()
        if excl is not None:
            with open(excl) as f:
                excluded = set(read_exclusions(f))
        videos = sorted({k.split(",")[0] for k in gt_labels})
        where = {v: i for i, v in enumerate(videos)}
        gt_count = np.zeros((len(videos), len(whitelist)), dtype=np.int64)
        col = {c: j for j, c in enumerate(whitelist)}
        frames, order = [], {}  # (video, per-class (scores, tp/fp)) per evaluated keyframe, in ava_eval's order
        for key, labs in gt_labels.items():
            v = where[key.split(",")[0]]
            for lab in labs:
                gt_count[v, col[lab]] += 1
            if key in excluded:
                continue
            sc, tp = tpfp_single((gt_boxes[key], labs, boxes[key], labels[key], scores[key]))
            frames.append((v, {c: (sc[c], tp[c]) for c in sc}))
            order.update((c, None) for c in sc if c not in order)  # ava_eval's class order: first seen

        def aps_of(parts_of, counts) -> dict[int, float]:
            aps = {}
            for c in order:
                parts = parts_of(c)
                if parts:
                    prec, rec = ava_metrics.compute_precision_recall(
                        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), counts[col[c]])
                    aps[c] = ava_metrics.compute_average_precision(prec, rec)
            return aps

        out: dict[str, list[float]] = defaultdict(list)
        # row 0: every video once, pooled in ava_eval's keyframe order (ties sort as there)
        for k, val in _group_means(aps_of(lambda c: [d[c] for _, d in frames if c in d], gt_count.sum(0))).items():
            out[k].append(val)
        pooled: list[dict[int, tuple[np.ndarray, np.ndarray]]] = []
        for v in range(len(videos)):
            mine = [d for u, d in frames if u == v]
            pooled.append({c: (np.concatenate([d[c][0] for d in mine if c in d]),
                               np.concatenate([d[c][1] for d in mine if c in d]))
                           for c in order if any(c in d for d in mine)})
        draws = np.random.default_rng(seed).integers(0, len(videos), size=(resamples, len(videos)))
        for idx in draws:
            aps = aps_of(lambda c, idx=idx: [pooled[v][c] for v in idx if c in pooled[v]], gt_count[idx].sum(0))
            for k, val in _group_means(aps).items():
                out[k].append(val)
    return {k: np.asarray(v) for k, v in out.items()}
