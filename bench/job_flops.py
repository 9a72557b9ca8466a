"""FLOPs and parameters of a run's recognizer, for its record (one view, batch 1, eval mode).

The model is built from the run's resolved config (weights are irrelevant to FLOPs, so it is
built with random initialisation: no checkpoint is read) and counted by ``bench.flops`` on
one view of the run's frames and crop size; the views of the record are the protocol's.

A count is kept in the cache (``<cache>/flops``), keyed by the model's identity (``model_identity``):
a later cell with the same resolved model config and input shape reuses it without building the
model, so an L/14 is counted once per machine, not once per cell.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
WEIGHT_KEYS = ("clip_weights", "pretrained", "weights", "video_weights", "teacher_weights")


def _strip_weights(node: Any) -> None:
    """Every weights field a model config names set to None: the keys the run id reads as weights
    (``bench.identity.weights_fields``: ``*weights``, ``pretrained``, ``checkpoint``), e.g. BIKE's release
    ``temporal_weights`` too."""
    if isinstance(node, dict):
        for k in list(node.keys()):
            if (k in WEIGHT_KEYS or str(k).endswith("weights") or k == "checkpoint") and isinstance(node[k], str):
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
    from bench.views import parse_views, set_classes

    cfg = copy.deepcopy(prep.cfg)
    frames, size, _, _ = test_geometry(cfg)
    frames = cfg.get("num_frames") or frames or 8
    size = size or cfg.get("img_size") or 224
    clips, crops = parse_views(prep.protocol.args.get("views", "1x1"))
    set_classes(cfg.model, list(prep.episodes[0].train_classes or prep.episodes[0].classes))
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    _strip_weights(model_cfg)
    views = f"{frames}x{crops}x{clips}"
    identity = model_identity(model_cfg, (3, frames, size, size), views, prep.method.text_modules,
                              prep.method.teacher_modules)
    cached = load_cached(identity)
    if cached is not None:
        return cached
    init_default_scope(cfg.get("default_scope", "mmaction"))
    with shape_only():  # vocabularies a build would embed (alt's corpus, bike's lexicon): zeros of their shape
        model = MODELS.build(model_cfg).eval()
    with torch.no_grad():
        report = count_recognizer(model, (3, frames, size, size), views=views,
                                  text_modules=prep.method.text_modules,
                                  exclude_modules=prep.method.teacher_modules)
    out = report.as_record()
    out.pop("table", None)
    store_cached(identity, out)
    return out


# Bumped whenever bench.flops counts differently: entries of another version are not reused.
FLOPS_CACHE_VERSION = 1


def model_identity(model_cfg: dict[str, Any], input_shape, views: str, text_modules, teacher_modules) -> dict:
    """What a FLOPs count depends on: the resolved model config (weights stripped), the input, the views,
    the module lists, the counter's version, the code (``code_hash``), and the text artefacts loaded in this
    process (alt's entity corpus sets the size of its aligner, and is not in the config)."""
    from bench.text.build import LOADED

    return {"model": model_cfg, "input_shape": list(input_shape), "views": views,
            "text_modules": list(text_modules), "teacher_modules": list(teacher_modules),
            "version": FLOPS_CACHE_VERSION, "code": code_hash(),
            "text_artefacts": sorted(json.dumps(e, sort_keys=True) for e in LOADED)}


@functools.cache
def code_hash() -> str:
    """sha256 of the sources a count depends on (the methods, the counter, the model helpers) and the library
    versions: a changed model or counter never reuses an older count, however its git state reads."""
    import fvcore
    import mmaction
    import torch

    repo = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"{torch.__version__}|{mmaction.__version__}|{getattr(fvcore, '__version__', '')}".encode())
    # everything a count depends on: the models, the counting (the three parts of the split flops module) and the
    # views and pipeline steps that give the traced input its shape
    files = [*sorted((repo / "methods").rglob("*.py")),
             *(repo / "bench" / f for f in ("flops.py", "flops_ops.py", "flops_shapes.py", "views.py")),
             *sorted((repo / "bench" / "models").glob("*.py"))]
    for f in files:
        h.update(str(f.relative_to(repo)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _cache_path(identity: dict) -> Path:
    from bench import settings
    from bench.spec import canonical_json

    key = hashlib.sha256(canonical_json(identity).encode()).hexdigest()
    return settings.cache_dir() / "flops" / key[:2] / f"{key}.json"


def load_cached(identity: dict) -> dict[str, Any] | None:
    """The FLOPs block counted earlier for the same model identity, or None (an unreadable entry is ignored)."""
    path = _cache_path(identity)
    try:
        entry = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("FLOPs cache entry %s is unreadable (%s); counting again", path, e)
        return None
    if entry.get("identity") != json.loads(json.dumps(identity, default=str)):
        log.warning("FLOPs cache entry %s is for another model; counting again", path)
        return None
    log.info("FLOPs reused from %s (same model config and input shape)", path)
    return entry["flops"]


def store_cached(identity: dict, flops: dict[str, Any]) -> None:
    from bench.store import atomic_write_json

    path = _cache_path(identity)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"identity": identity, "flops": flops})
