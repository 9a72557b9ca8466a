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


# Container and codec by file extension, for tiny real videos in the official layouts
# (UCF-101 / HMDB-51 ship .avi, SSV2 .webm, Kinetics .mp4 or .mkv).
CODECS = {".mp4": ("mp4", "libx264"), ".mkv": ("matroska", "libx264"), ".avi": ("avi", "mpeg4"),
          ".webm": ("webm", "libvpx-vp9")}


def write_video(path: Path, frames: np.ndarray, fps: int = FPS) -> None:
    """Encode ``frames`` (T, H, W, 3 uint8 RGB) into the container its extension names (``CODECS``)."""
    path = Path(path)
    if path.suffix.lower() == ".mp4":
        return write_mp4(path, frames, fps)
    fmt, codec = CODECS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    options = X264_OPTIONS if codec == "libx264" else {}
    with av.open(str(tmp), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps, **({"options": options} if options else {}))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    os.replace(tmp, path)
