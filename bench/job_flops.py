"""FLOPs and parameters of a run's recognizer, for its record (one view, batch 1, eval mode).

The model is built from the run's resolved config (weights are irrelevant to FLOPs, so it is
built with random initialisation: no checkpoint is read) and counted by ``bench.flops`` on
one view of the run's frames and crop size; the views of the record are the protocol's.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger(__name__)
WEIGHT_KEYS = ("clip_weights", "pretrained", "weights", "video_weights", "teacher_weights")


def _strip_weights(node: Any) -> None:
    if isinstance(node, dict):
        for k in list(node.keys()):
            if k in WEIGHT_KEYS and isinstance(node[k], str):
                node[k] = None
            else:
                _strip_weights(node[k])
    elif isinstance(node, list | tuple):
        for v in node:
            _strip_weights(v)


def flops_of(prep) -> dict[str, Any]:
    """The ``flops`` block of a record."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from bench.flops import count_recognizer, test_geometry
    from bench.models.class_text import shape_only
    from protocols.engine import parse_views, set_classes

    cfg = copy.deepcopy(prep.cfg)
    frames, size, _, _ = test_geometry(cfg)
    frames = cfg.get("num_frames") or frames or 8
    size = size or cfg.get("img_size") or 224
    clips, crops = parse_views(prep.protocol.args.get("views", "1x1"))
    set_classes(cfg.model, list(prep.episodes[0].train_classes or prep.episodes[0].classes))
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    _strip_weights(model_cfg)
    init_default_scope(cfg.get("default_scope", "mmaction"))
    with shape_only():  # vocabularies a build would embed (alt's corpus, bike's lexicon): zeros of their shape
        model = MODELS.build(model_cfg).eval()
    with torch.no_grad():
        report = count_recognizer(model, (3, frames, size, size), views=f"{frames}x{crops}x{clips}",
                                  text_modules=prep.method.text_modules,
                                  exclude_modules=prep.method.teacher_modules)
    out = report.as_record()
    out.pop("table", None)
    return out
