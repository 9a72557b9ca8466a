"""Keyframes for VLM prompts: K frames at equal time intervals, concatenated side by side.

ftp paper, section 3 (stage 1): a video is shown to the VLM as one image
``c in R^{H x (W*K) x 3}``, the side-by-side concatenation of K keyframes extracted at equal
time intervals (K=5, appendix C). Frames are decoded with decord, or PyAV when decord cannot
open the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench.errors import DataError

KeyframeFn = Callable[[str], list[np.ndarray]]


def keyframe_indices(num_frames: int, k: int) -> list[int]:
    """Indices of ``k`` frames at the centres of ``k`` equal intervals of ``num_frames`` frames."""
    if num_frames < 1 or k < 1:
        raise DataError(f"cannot take {k} keyframes of a video with {num_frames} frames")
    return [min(num_frames - 1, int((i + 0.5) * num_frames / k)) for i in range(k)]


def _read_decord(path: Path, k: int) -> list[np.ndarray]:
    import decord

    vr = decord.VideoReader(str(path), num_threads=1)
    idx = keyframe_indices(len(vr), k)
    return [np.ascontiguousarray(f) for f in vr.get_batch(idx).asnumpy()]


def _read_pyav(path: Path, k: int) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    idx = keyframe_indices(len(frames), k)
    return [frames[i] for i in idx]


def read_keyframes(path: str | Path, k: int = 5) -> list[np.ndarray]:
    """``k`` RGB uint8 keyframes of the video at ``path``.

    Raises:
        DataError: naming the file when neither decord nor PyAV can read it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"video {path} does not exist")
    errors = []
    for reader in (_read_decord, _read_pyav):
        try:
            return reader(path, k)
        except Exception as e:  # noqa: BLE001 (try the next decoder, report both)
            errors.append(f"{reader.__name__[6:]}: {e}")
    raise DataError(f"cannot decode video {path} ({'; '.join(errors)})")


def concat_side_by_side(frames: Sequence[np.ndarray], max_height: int | None = None) -> np.ndarray:
    """One H x (W*K) x 3 image from K frames (resized to the first frame's size, then to ``max_height``)."""
    from PIL import Image

    if not frames:
        raise DataError("no keyframes to concatenate")
    h, w = frames[0].shape[:2]
    if max_height and h > max_height:
        w, h = max(1, round(w * max_height / h)), max_height
    tiles = []
    for f in frames:
        if f.shape[:2] != (h, w):
            f = np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR))
        tiles.append(f)
    return np.ascontiguousarray(np.concatenate(tiles, axis=1))


def keyframe_reader(video_root: Path | str, k: int = 5) -> KeyframeFn:
    """A callable ``video_id -> K keyframes`` for videos stored under ``video_root``."""
    root = Path(video_root)
    return lambda video_id: read_keyframes(root / video_id, k)
