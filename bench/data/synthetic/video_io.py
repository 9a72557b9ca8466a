"""Writing frames to mp4 (H.264, yuv420p) with PyAV, and JPEG rawframes for AVA-style loading.

Encoding runs single-threaded with fixed options so that the same frames give the same bytes,
and the files are read back by decord and PyAV exactly like real data.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import numpy as np

FPS = 8
# Fixed encoder settings, so that equal frames give equal bytes: single-threaded, no B-frames,
# and no macroblock-tree rate control. With mbtree on, x264's lookahead reads memory it has not
# written, so the bytes depended on what the process had encoded before (a few videos in 72
# changed between two builds in one process). crf 18 without mbtree gives files about 1.25x the
# size of crf 16 with it.
X264_OPTIONS = {"crf": "18", "preset": "veryfast", "threads": "1", "bframes": "0", "x264-params": "mbtree=0"}


def write_mp4(path: Path, frames: np.ndarray, fps: int = FPS) -> None:
    """Encode ``frames`` (T, H, W, 3 uint8 RGB) to ``path`` atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def read_frames(path: Path) -> np.ndarray:
    """Decode every frame of a video with PyAV, as (T, H, W, 3) uint8 RGB."""
    with av.open(str(path)) as f:
        return np.stack([fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)])


def write_jpegs(folder: Path, frames: np.ndarray, tmpl: str = "img_{:05d}.jpg") -> None:
    """Rawframes as MMAction2 reads them (``img_00001.jpg`` ...), numbered from 1."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(frames, 1):
        Image.fromarray(img).save(folder / tmpl.format(i), quality=92)
