"""``bench flops CONFIG|METHOD``: GFLOPs per view, views, parameters and the uncounted-op list.

The input shape and the views come from the config's test pipeline (``clip_len``, ``num_clips``,
crop size, ``ThreeCrop``/``TenCrop``) unless given on the command line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

# Model-config keys that carry the number of frames (set by --frames).
FRAME_KEYS = ("t_size", "num_frames", "clip_len", "num_segments")
# Model-config keys that would load pretrained weights (cleared by --random-init).
WEIGHT_KEYS = {"clip_weights": None, "pretrained": None, "clip_pretrained": False}
CROPS = {"ThreeCrop": 3, "TenCrop": 10}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("flops", help="count GFLOPs per view and parameters of a method or config",
                              description=__doc__)
    p.add_argument("target", help="an MMEngine config file, or a registered method name")
    p.add_argument("--size", help="method size (with a method name), e.g. tiny, b16_8f")
    p.add_argument("--frames", type=int, help="frames per view (sets t_size/num_frames/clip_len)")
    p.add_argument("--resolution", type=int, help="input height and width (default: the test crop size)")
    p.add_argument("--views", help="views as FRAMESxCROPSxCLIPS, e.g. 8x3x4 (default: from the test pipeline)")
    p.add_argument("--text-modules", nargs="*", help="submodules of the text branch (default: the method's)")
    p.add_argument("--exclude", nargs="*", default=[], help="submodules left out of parameter totals (teachers)")
    p.add_argument("--random-init", action="store_true",
                   help="clear every weights key (clip_weights, pretrained, weights, ...) so that nothing is loaded")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                   help="dtype to trace in (bfloat16 is faster on CPUs with AMX; counts are identical)")
    p.add_argument("--classes", type=int, metavar="N",
                   help="keep only the first N class names of the config (text encoding of 400 classes x 16 prompts "
                        "is slow on a CPU); the video branch's FLOPs do not depend on it, the class-similarity "
                        "and text-branch counts are those of N classes")
    p.add_argument("--depth", type=int, default=2, help="depth of the per-module table")
    p.add_argument("--json", action="store_true", help="print the record's flops dict as JSON instead")
    p.add_argument("--convention", choices=("mac", "linear-only"), default="mac",
                   help="mac: every multiply-add (fvcore plus the ops it misses; what records hold); linear-only: "
                        "Linear/Conv modules only, as thop counts (BIKE's published GFLOPs and parameters)")
    p.set_defaults(func=run)


def _walk_set(node: Any, keys: dict[str, Any] | tuple[str, ...], value: Any = None) -> int:
    """Set every occurrence of ``keys`` in a nested config; return how many were set."""
    n = 0
    if hasattr(node, "keys"):
        for k in list(node.keys()):
            if k in keys:
                node[k] = keys[k] if isinstance(keys, dict) else value
                n += 1
            else:
                n += _walk_set(node[k], keys, value)
    elif isinstance(node, list | tuple):
        for item in node:
            n += _walk_set(item, keys, value)
    return n


def _class_fields(node: Any, out: list) -> list:
    if hasattr(node, "keys"):
        for k in list(node.keys()):
            if k == "class_names":
                out.append(node[k])
            else:
                _class_fields(node[k], out)
    elif isinstance(node, list | tuple):
        for item in node:
            _class_fields(item, out)
    return out


def limit_classes(model_cfg: Any, n: int) -> int:
    """Cut every ``class_names`` field of a model config to its first ``n`` names (and ``num_classes`` to match).

    Returns the number of classes kept. Raises ConfigError for ``n < 1`` or a config without class names.
    """
    from bench.data.labels import resolve_class_names
    from bench.views import set_classes

    if n < 1:
        raise ConfigError(f"bench flops --classes {n}: expected a positive number of classes")
    fields = _class_fields(model_cfg, [])
    if not fields:
        raise ConfigError("bench flops --classes: the model config has no class_names field to cut")
    names = resolve_class_names(fields[0], where="bench flops --classes (the config's class_names)")
    set_classes(model_cfg, names[:n])
    return len(names[:n])


def _load(args: argparse.Namespace):
    """The config and the method's text modules (``()`` for a plain config file)."""
    from mmengine.config import Config

    if Path(args.target).suffix == ".py" or Path(args.target).exists():
        if not Path(args.target).exists():
            raise ConfigError(f"config file {args.target!r} does not exist")
        return Config.fromfile(args.target), (), ()
    from bench.method import get_method, load_config

    info = get_method(args.target, where="bench flops")
    size = args.size or next(iter(info.sizes))
    return load_config(args.target, size), tuple(info.text_modules), tuple(info.teacher_modules)


def run(args: argparse.Namespace) -> int:
    import torch
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    from bench.flops import count_recognizer, test_geometry
    from bench.models.class_text import shape_only

    cfg, text_modules, teacher_modules = _load(args)
    frames, size, crops, clips = test_geometry(cfg)
    if args.frames:
        frames = args.frames
        _walk_set(cfg.model, FRAME_KEYS, args.frames)
    if args.random_init:
        from bench.job_flops import _strip_weights

        _walk_set(cfg.model, WEIGHT_KEYS)
        _strip_weights(cfg.model)  # every weights key a method uses (weights, video_weights, teacher_weights)
    if args.classes is not None:
        n = limit_classes(cfg.model, args.classes)
        print(f"--classes {args.classes}: class names cut to the first {n}")
    frames = frames or 8
    size = args.resolution or size or 224
    views = args.views or f"{frames}x{crops}x{clips}"
    register_all_modules()
    for mod in (cfg.get("custom_imports") or {}).get("imports", []):
        __import__(mod)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    with shape_only():  # vocabularies a build would embed (alt's corpus, bike's lexicon): zeros of their shape
        model = MODELS.build(cfg.model).to(getattr(torch, args.dtype))
    if args.convention == "linear-only":
        from bench.flops import count_recognizer_linear_only

        rec = count_recognizer_linear_only(model, (3, frames, size, size), views=views)
        if args.json:
            print(json.dumps(rec, indent=2))
        else:
            print(f"{args.target}: input (3, {frames}, {size}, {size}) per view\nconvention: {rec['convention']}")
            print(f"GFLOPs per view: {rec['gflops_per_view']:.2f}   views: {views}   total: {rec['gflops_total']:.1f}"
                  f" GFLOPs   params of the counted modules (M): {rec['params_m']:.2f}")
        return 0
    report = count_recognizer(model, (3, frames, size, size), views=views,
                              text_modules=args.text_modules if args.text_modules is not None else text_modules,
                              exclude_modules=list(args.exclude or []) + list(teacher_modules), max_depth=args.depth)
    if args.json:
        print(json.dumps(report.as_record(), indent=2))
    else:
        print(f"{args.target}: input (3, {frames}, {size}, {size}) per view")
        print(report.summary())
    if report.uncounted_ops:
        print(f"warning: {len(report.uncounted_ops)} op type(s) were not counted; the total is a lower bound")
        return 1
    return 0
