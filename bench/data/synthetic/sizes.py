"""Sizes of the synthetic benchmark: how many classes, videos, frames and pixels each dataset has.

``tiny`` is for the test suite (seconds), ``small`` the default (about a minute of generation on
two cores plus the tiny CLIP), ``medium`` closer to the real protocols (112x112, 32 frames).
The size comes from ``--size``, else ``$BENCH_SYNTH_SIZE``, else the user config key
``synthetic_size``, else ``small``.
"""

from __future__ import annotations

import dataclasses
import os

from bench import settings
from bench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class SizeConfig:
    """Counts of one size. Per-class video counts are ``(train, val)`` where a dataset has both."""

    name: str
    resolution: int
    num_frames: int
    seed: int
    k400_classes: int
    k400_videos: tuple[int, int]
    k600_classes: int  # new classes (the K600-like pool), all unseen in syn_k400
    k600_split_classes: int  # classes per zero-shot split (160 of 220 in the real protocol)
    k600_videos: int
    ucf_classes: int
    ucf_videos: tuple[int, int]
    hmdb_classes: int
    hmdb_videos: tuple[int, int]
    pretrain_classes: int
    pretrain_videos: tuple[int, int]
    ava_videos: tuple[int, int]  # train, val videos
    ava_seconds: int
    brief_prob: float = 0.15
    fewshot_ks: tuple[int, ...] = (2, 4, 8, 16)
    clip_steps: int = 400
    clip_batch: int = 128
    video_steps: int = 150

    def class_counts(self) -> dict[str, int]:
        """Planning order of the class sets (fixed: changing it changes every dataset)."""
        return {"syn_k400": self.k400_classes, "syn_k600": self.k600_classes, "syn_ucf": self.ucf_classes,
                "syn_hmdb": self.hmdb_classes, "syn_pretrain": self.pretrain_classes}


SIZES = {
    "tiny": SizeConfig("tiny", 64, 16, 0, k400_classes=8, k400_videos=(6, 3), k600_classes=9, k600_split_classes=6,
                       k600_videos=3, ucf_classes=5, ucf_videos=(8, 4), hmdb_classes=4, hmdb_videos=(8, 4),
                       pretrain_classes=6, pretrain_videos=(6, 2), ava_videos=(3, 2), ava_seconds=5,
                       clip_steps=120, clip_batch=64, video_steps=200),
    "small": SizeConfig("small", 64, 16, 0, k400_classes=24, k400_videos=(24, 8), k600_classes=30,
                        k600_split_classes=20, k600_videos=8, ucf_classes=12, ucf_videos=(20, 8), hmdb_classes=10,
                        hmdb_videos=(20, 8), pretrain_classes=20, pretrain_videos=(16, 4), ava_videos=(12, 6),
                        ava_seconds=8, clip_steps=250, clip_batch=64, video_steps=300),
    "medium": SizeConfig("medium", 112, 32, 0, k400_classes=60, k400_videos=(40, 10), k600_classes=60,
                         k600_split_classes=40, k600_videos=10, ucf_classes=30, ucf_videos=(24, 8), hmdb_classes=24,
                         hmdb_videos=(24, 8), pretrain_classes=60, pretrain_videos=(30, 6), ava_videos=(40, 12),
                         ava_seconds=10, clip_steps=1500, video_steps=600),
}


def default_size() -> str:
    """The configured size name: ``$BENCH_SYNTH_SIZE``, else user config ``synthetic_size``, else ``small``."""
    env = os.environ.get("BENCH_SYNTH_SIZE")
    if env:
        return env
    return str(settings.user_config().get("synthetic_size") or "small")


def get_size(name: str | None = None) -> SizeConfig:
    """The SizeConfig called ``name`` (default: ``default_size()``), or ConfigError listing the sizes."""
    name = name or default_size()
    if name not in SIZES:
        src = "argument" if name != default_size() else "BENCH_SYNTH_SIZE / user config synthetic_size"
        raise ConfigError(f"unknown synthetic size {name!r} (from {src}); known sizes: {', '.join(SIZES)}")
    return SIZES[name]
