"""AVA files, keyframe clips and the frame-mAP metric of the ``ava`` protocol.

Files are AVA v2.x's as MMAction2 reads them: ground-truth CSV rows
``video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]`` (normalised boxes), a label map in the
``item { name: ... id: ... }`` form, person proposals as a pickle mapping ``"video_id,tttt"`` to
``(N, 5)`` arrays ``x1,y1,x2,y2,score``, excluded timestamps, and frames as
``rawframes/<video_id>/img_{:05d}.jpg`` (or ``videos/<video_id>.mp4``).

The metric is MMAction2's own (``mmaction.evaluation.functional.ava_eval``, the ActivityNet
frame-mAP at IoU 0.5), called on the detection CSV; the three category groups are the same
function restricted to a group's classes (its ``custom_classes`` argument). ``ava_eval`` maps
its work over ``multiprocessing.Pool(32)`` and never closes the pool; ``frame_map`` runs that map
in-process instead (identical results, no 32 processes per call on a small machine).
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


def read_gt(path: Path, label_ids: list[int]) -> dict[tuple[str, int], list[tuple[np.ndarray, set[int]]]]:
    """Keyframe -> list of (box, action ids) per person; refuses action ids outside the label map."""
    known = set(label_ids)
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
            if action not in known:
                raise DataError(f"{path}:{lineno}: action id {action} is not in the label map (ids {sorted(known)})")
            pid = row[7] if len(row) == 8 else tuple(np.round(box, 3))
            persons[key].setdefault(pid, (box, set()))[1].add(action)
    return {k: list(v.values()) for k, v in sorted(persons.items())}


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


def keyframe_boxes(proposals: dict[str, np.ndarray], key: tuple[str, int], thr: float) -> np.ndarray:
    """Person boxes of a keyframe: proposals scoring at least ``thr``; the best one if none does;
    the whole frame if the keyframe has no proposal (as MMAction2's AVADataset does at test time)."""
    props = proposals.get(f"{key[0]},{key[1]:04d}")
    if props is None or len(props) == 0:
        return np.asarray([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    props = np.asarray(props, dtype=np.float32)
    keep = props[props[:, 4] >= thr] if props.shape[1] > 4 else props
    if len(keep) == 0:
        keep = props[np.argsort(-props[:, 4])[:1]]
    return keep[:, :4]


class FrameReader:
    """Reads the frames of a keyframe's clip, resized to ``size`` x ``size`` RGB, as ``(3, T, H, W)`` uint8."""

    def __init__(self, files: AVAFiles, clip_len: int, interval: int, size: int) -> None:
        self.files, self.clip_len, self.interval, self.size = files, clip_len, interval, size
        self._counts: dict[str, int] = {}
        self._videos: dict[str, Any] = {}

    def _indices(self, video: str, ts: int, total: int) -> np.ndarray:
        center = int(round((ts - self.files.timestamp_start) * self.files.fps))
        idx = center + (np.arange(self.clip_len) - self.clip_len // 2) * self.interval
        return np.clip(idx, 0, total - 1)

    def __call__(self, video: str, ts: int) -> np.ndarray:
        import cv2

        f = self.files
        if f.frames_dir is not None and (f.frames_dir / video).is_dir():
            d = f.frames_dir / video
            total = self._counts.setdefault(video, sum(1 for _ in d.iterdir()))
            frames = []
            for i in self._indices(video, ts, total):
                img = cv2.imread(str(d / f.filename_tmpl.format(int(i) + f.start_index)))
                if img is None:
                    raise DataError(f"cannot read frame {i + f.start_index} of {d}")
                frames.append(img[:, :, ::-1])
        elif f.videos_dir is not None and (f.videos_dir / f"{video}.mp4").exists():
            import decord

            vr = self._videos.setdefault(video, decord.VideoReader(str(f.videos_dir / f"{video}.mp4")))
            frames = list(vr.get_batch(self._indices(video, ts, len(vr)).tolist()).asnumpy())
        else:
            raise DataError(f"AVA video {video!r}: no frames under {f.frames_dir} and no video under {f.videos_dir}")
        frames = [cv2.resize(np.ascontiguousarray(x), (self.size, self.size), interpolation=cv2.INTER_LINEAR)
                  for x in frames]
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


def frame_map(det_csv: Path, gt_csv: Path, label_map: Path, exclusions: Path | None,
              groups: dict[str, list[int]]) -> dict[str, Any]:
    """Frame mAP@0.5 (percent) overall and per category group, by MMAction2's ``ava_eval``."""
    from mmaction.evaluation.functional import ava_eval

    ids = [i for i, _ in read_label_map(label_map)]
    out: dict[str, Any] = {}
    # ava_eval also averages AVA's own id ranges (empty for other label maps: "mean of empty slice").
    with _in_process(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["mAP"] = _nan_to_none(ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv),
                                           str(exclusions) if exclusions else None, verbose=False)["overall"])
        for name, members in groups.items():
            members = [i for i in members if i in ids]
            if not members:
                out[f"mAP_{name}"] = None
                continue
            res = ava_eval(str(det_csv), "mAP", str(label_map), str(gt_csv), str(exclusions) if exclusions else None,
                           verbose=False, custom_classes=[0, *members])
            out[f"mAP_{name}"] = _nan_to_none(res["overall"])
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
