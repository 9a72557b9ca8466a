"""Helpers every synthetic dataset builder shares (``datasets.py`` and ``ava.py``): per-video seeds, ``info.json``."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.synthetic import video_io
from bench.data.synthetic.sizes import SizeConfig


def video_rng(seed: int, dataset: str, label: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(dataset.encode()), label, index])


def save_info(root: Path, name: str, cfg: SizeConfig, classes: list[str], splits: dict[str, str],
              extra: dict[str, Any], kind: str = "video") -> dict[str, Any]:
    """Write ``info.json`` (paths relative to the dataset directory) and return the manifest meta."""
    info = {"name": name, "classes": classes, "splits": splits, "kind": kind, "size": cfg.name, "seed": cfg.seed,
            "resolution": cfg.resolution, "num_frames": cfg.num_frames, "fps": video_io.FPS,
            "extra": {"meta": "meta.jsonl", "class_info": "class_info.json", **extra}}
    (root / "info.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    return {"dataset": name, "size": cfg.name, "seed": cfg.seed}
