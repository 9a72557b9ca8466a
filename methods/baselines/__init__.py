"""Baselines: ``clip_meanpool``, CLIP frame features mean-pooled over time, scored against class-name text."""

from __future__ import annotations

from pathlib import Path

from bench.method import MethodInfo, register_method
from methods.baselines.clip_meanpool import CLIPFrameEncoder, CLIPMeanPool, CLIPTextHead  # noqa: F401

register_method(
    MethodInfo(
        name="clip_meanpool",
        config_dir=Path(__file__).parent / "configs",
        sizes={"tiny": "clip_meanpool_tiny.py", "b16_8f": "clip_meanpool_vit-b16_8x224.py"},
        protocols=("supervised", "fewshot", "zeroshot", "ava", "linear_probe", "charades"),
        family="CLIP baseline",
        text_modules=("cls_head.text",),
    )
)
