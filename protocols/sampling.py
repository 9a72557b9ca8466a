"""How the frames of a test view are taken from a video (``views.sampling`` of the protocols).

Three choices, each the way a public code base samples its test clips (all segment samplers: a
clip of ``T`` frames takes one frame from each of ``T`` equal segments of the video):

- ``centre``: MMAction2's own sampler of the method config in test mode (``UniformSample`` /
  ``SampleFrames`` with ``test_mode=True``): deterministic positions inside the segments.
- ``start``: BIKE (``datasets/video.py``, ``Video_dataset._get_test_indices``, non-dense): with
  ``tick = n / T``, clip ``c`` of ``C`` starts at ``np.linspace(0, tick - 1, C, dtype=int)[c]`` and
  takes frames ``int(start + tick * t) % n`` (one clip: the segment starts, as its validation does).
- ``random``: X-CLIP / ViFi-CLIP (``datasets/pipeline.py``, ``SampleFrames`` with ``multiview``):
  one clip is the deterministic test-mode one (their single-view pipeline sets ``test_mode=True``);
  several clips are each drawn as in training (``_get_train_clips`` with ``clip_len=1``: offsets
  ``arange(T) * (n // T) + randint(n // T)``). Their draws are unseeded; ours come from
  ``np.random.default_rng([seed, crc32(video file name)])``, so a run is reproducible from its seed
  and a video's views do not depend on the order the loader visits videos.

Frame indices are 0-based positions plus the video's ``start_index`` (0 for decoded videos).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from bench.errors import ConfigError

MODES = ("centre", "start", "random")


def start_indices(num_frames: int, clip_len: int, num_clips: int) -> np.ndarray:
    """BIKE's test frames: ``(num_clips * clip_len,)`` 0-based indices (segment starts, shifted per clip)."""
    tick = num_frames / float(clip_len)
    starts = np.linspace(0, tick - 1, num=num_clips, dtype=int)
    return np.asarray([int(s + tick * t) % num_frames for s in starts.tolist() for t in range(clip_len)])


def random_offsets(num_frames: int, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    """One training-mode segment draw (X-CLIP's ``_get_train_clips`` with one frame per segment)."""
    avg = num_frames // clip_len
    if avg > 0:
        return np.arange(clip_len) * avg + rng.integers(avg, size=clip_len)
    if num_frames > clip_len:
        return np.sort(rng.integers(num_frames, size=clip_len))
    return np.around(np.arange(clip_len) * (num_frames / clip_len)).astype(int)


@TRANSFORMS.register_module()
class ViewSample(BaseTransform):
    """Test-view frame sampler: ``mode`` one of ``centre | start | random`` (see the module docstring).

    Args:
        clip_len: frames per clip (segments).
        num_clips: temporal views.
        mode: the sampling.
        seed: the run's seed (``random`` only).
        source: the method config's sampler (``UniformSample`` or ``SampleFrames``), used for ``centre``
            and for ``random`` with one clip.
        frame_interval: the source sampler's frame interval (``SampleFrames``).
    """

    def __init__(self, clip_len: int, num_clips: int = 1, mode: str = "centre", seed: int = 0,
                 source: str = "UniformSample", frame_interval: int = 1, test_mode: bool = True) -> None:
        if mode not in MODES:
            raise ConfigError(f"ViewSample.mode={mode!r}; accepted: {', '.join(MODES)}")
        if mode != "centre" and source == "SampleFrames" and clip_len > 1:
            # SampleFrames with clip_len > 1 takes consecutive frames (dense clips), not one per segment
            raise ConfigError(f"views sampling {mode!r} takes one frame per segment (BIKE / X-CLIP); the method's "
                              f"test sampler is SampleFrames(clip_len={clip_len}, frame_interval={frame_interval}), "
                              f"a dense clip sampler; use sampling 'centre'")
        self.clip_len, self.num_clips, self.mode, self.seed = int(clip_len), int(num_clips), mode, int(seed)
        self.source, self.frame_interval = source, frame_interval
        self._centre = TRANSFORMS.build(self._source_cfg())

    def _source_cfg(self) -> dict:
        cfg = dict(type=self.source, clip_len=self.clip_len, num_clips=self.num_clips, test_mode=True)
        if self.source == "SampleFrames":
            cfg["frame_interval"] = self.frame_interval
        return cfg

    def indices(self, num_frames: int, key: str = "") -> np.ndarray:
        """0-based frame indices of every view, ``(num_clips * clip_len,)``."""
        if self.mode == "start":
            return start_indices(num_frames, self.clip_len, self.num_clips)
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        return np.concatenate([random_offsets(num_frames, self.clip_len, rng) for _ in range(self.num_clips)])

    def transform(self, results: dict) -> dict:
        if self.mode == "centre" or (self.mode == "random" and self.num_clips == 1):
            return self._centre.transform(results)
        key = Path(str(results.get("filename", ""))).name
        inds = self.indices(int(results["total_frames"]), key) + int(results.get("start_index", 0))
        results.update(frame_inds=inds.astype(int), clip_len=self.clip_len, frame_interval=None,
                       num_clips=self.num_clips)
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, mode={self.mode!r}, "
                f"seed={self.seed}, source={self.source!r})")
