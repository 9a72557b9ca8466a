"""Test views and pipeline steps: what both FLOPs counting (``bench.flops``) and the protocols read in a config.

``parse_views`` reads ``"<temporal clips>x<spatial crops>"``; ``pipeline_steps`` walks a data pipeline
(into wrappers); ``set_classes`` sets a model config's class names and counts. ``protocols.engine``
re-exports them.
"""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError

SAMPLERS = ("UniformSample", "SampleFrames", "ViewSample")
CROPS = {1: "CenterCrop", 3: "ThreeCrop", 10: "TenCrop"}


def parse_views(views: str, where: str = "views") -> tuple[int, int]:
    """``"<temporal clips>x<spatial crops>"`` -> (clips, crops), e.g. ``"4x3"`` -> (4, 3)."""
    try:
        clips, crops = (int(v) for v in str(views).lower().split("x"))
    except ValueError:
        raise ConfigError(f"{where}={views!r}: expected '<clips>x<crops>' such as '1x1' or '4x3'") from None
    if clips < 1 or crops not in CROPS:
        raise ConfigError(f"{where}={views!r}: clips must be >= 1 and crops one of {sorted(CROPS)}")
    return clips, crops


def set_classes(model_cfg: Any, classes: list[str]) -> int:
    """Set every ``class_names`` / ``num_classes`` field of a model config; returns how many were set."""
    n = 0
    if isinstance(model_cfg, dict):
        for key in list(model_cfg.keys()):
            if key == "class_names":
                model_cfg[key] = list(classes)
                n += 1
            elif key == "num_classes":
                model_cfg[key] = len(classes)
                n += 1
            else:
                n += set_classes(model_cfg[key], classes)
    elif isinstance(model_cfg, list | tuple):
        for item in model_cfg:
            n += set_classes(item, classes)
    return n


def pipeline_steps(pipeline: list[dict]):
    """``(list, index, step)`` for every step of a pipeline, inside wrappers (``MemoizedClip``) too."""
    for i, step in enumerate(pipeline):
        yield pipeline, i, step
        if isinstance(step.get("pipeline"), list):
            yield from pipeline_steps(step["pipeline"])
