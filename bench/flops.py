"""FLOPs of a recognizer's inference view, from a config or a built model; the linear-only convention.

The op-level counting (fvcore plus the ops it misses, the conventions, ``count_flops`` and
``FlopsReport``) is in ``bench.flops_ops``, its shape-only trace in ``bench.flops_shapes``; the names of
``bench.flops_ops`` are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import torch
from torch import nn

from bench.errors import ConfigError
from bench.flops_ops import (  # noqa: F401 - the op-level counting, importable from here as before
    CONVENTION,
    EXTRA_HANDLES,
    FREE_OPS,
    NOT_COUNTED_BY_CONVENTION,
    FlopsReport,
    count_flops,
    n_views,
    native_mha_flop_jit,
    parse_views,
    sdpa_flop_jit,
)


class _RecognizerView(nn.Module):
    """The inference path of an MMAction2 recognizer on raw (preprocessed) inputs.

    Mirrors ``BaseRecognizer.predict`` without the data samples: ``extract_feat(test_mode=True)``
    then the classification head's forward. A method whose inference differs defines
    ``flops_forward(inputs)`` on its recognizer, which is used instead.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> Any:
        m = self.model
        if hasattr(m, "flops_forward"):
            return m.flops_forward(inputs)
        feats, kwargs = m.extract_feat(inputs, test_mode=True)
        head = getattr(m, "cls_head", None)
        if head is None:
            return feats
        try:
            return head(feats, **kwargs)
        except TypeError:  # heads that take no extra keyword (num_segs, ...)
            return head(feats)


def recognizer_input_shape(model: nn.Module, shape: Sequence[int]) -> tuple[int, ...]:
    """The full input shape of one view for a recognizer.

    ``shape`` is ``(C, T, H, W)``; the layout follows the data preprocessor's ``format_shape``:
    NCTHW -> ``(1, 1, C, T, H, W)`` (Recognizer3D), NCHW -> ``(1, T, C, H, W)`` (Recognizer2D,
    frames as segments). A 5- or 6-long shape is taken as already complete.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) in (5, 6):
        return shape
    if len(shape) != 4:
        raise ConfigError(f"input shape {shape} must be (C, T, H, W) or a full recognizer input shape")
    c, t, h, w = shape
    fmt = getattr(getattr(model, "data_preprocessor", None), "format_shape", "NCTHW")
    if fmt == "NCTHW":
        return (1, 1, c, t, h, w)
    if fmt in ("NCHW", "NCHW_Flow"):
        return (1, t, c, h, w)
    raise ConfigError(f"cannot lay out input for format_shape {fmt!r}; accepted: NCTHW, NCHW")


def count_recognizer(
    model: nn.Module, input_shape: Sequence[int], *, views: str | None = None, **kwargs: Any
) -> FlopsReport:
    """Count one view of an MMAction2 recognizer (teachers must be excluded by the caller).

    Args:
        model: a built recognizer.
        input_shape: ``(C, T, H, W)`` or the full input shape of one view.
        views: "FxCxK"; default ``"<T>x1x1"``.
        kwargs: passed to :func:`count_flops` (text_modules, exclude_modules, max_depth).
    """
    from bench.models.class_text import lazy_class_texts, shape_only

    full = recognizer_input_shape(model, input_shape)
    frames = full[3] if len(full) == 6 else full[1]
    param = next(model.parameters(), None)
    x = torch.zeros(full, device=param.device if param is not None else "cpu",
                    dtype=param.dtype if param is not None and param.is_floating_point() else torch.float32)
    view = _RecognizerView(model)
    prefixed = {k: tuple(f"model.{n}" for n in kwargs.pop(k, ())) for k in ("text_modules", "exclude_modules")}
    lazy = [t for _, t in lazy_class_texts(model) if t.names]
    with shape_only():  # class embeddings are zeros of their shape: the trace never runs the text tower
        for t in lazy:
            t.get()  # the placeholder is made once, outside the trace (a constant inside it, as a buffer was)
        report = count_flops(view, (x,), views=views or f"{frames}x1x1", **prefixed, **kwargs)
    report.class_text_gflops, report.class_text_prompts = class_text_flops(lazy)
    return report


def class_text_flops(lazy: Sequence[Any]) -> tuple[float, int]:
    """GFLOPs of encoding the class lists of ``lazy`` (``LazyClassText``), and how many prompts.

    Every prompt of a CLIP text tower has the same token length (the context length), so the tower
    is counted on one prompt and scaled by classes x templates.
    """
    total, prompts = 0.0, 0
    for t in lazy:
        if t.probe is None:
            continue
        module, inputs = t.probe()
        p = next(module.parameters(), None)
        inputs = tuple(i.to(p.device) if p is not None and isinstance(i, torch.Tensor) else i for i in inputs)
        one = count_flops(module, inputs).gflops_per_view
        total += one * t.prompts
        prompts += t.prompts
    return total, prompts


def flops_for_model(
    model: nn.Module,
    input_shape: Sequence[int],
    views: str | None = None,
    text_modules: Sequence[str] = (),
    exclude_modules: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``flops`` dict of a run record for a recognizer (what the job runner stores)."""
    report = count_recognizer(model, input_shape, views=views, text_modules=text_modules,
                              exclude_modules=exclude_modules)
    return report.as_record()


_CROPS = {"ThreeCrop": 3, "TenCrop": 10}


def test_geometry(cfg) -> tuple[int | None, int | None, int, int]:
    """(frames, crop size, crops, clips) read from the test pipeline, None where absent."""
    pipeline = cfg.get("test_pipeline") or (cfg.get("test_dataloader") or {}).get("dataset", {}).get("pipeline") or []
    frames = size = None
    crops = clips = 1
    from bench.views import pipeline_steps

    for _, _, step in pipeline_steps(list(pipeline)):
        kind = step.get("type", "")
        if "clip_len" in step:
            frames = int(step["clip_len"]) * int(step.get("num_segments", 1) or 1)
            clips = int(step.get("num_clips", 1))
        if kind in _CROPS or kind == "CenterCrop":
            crops = _CROPS.get(kind, 1)
            cs = step.get("crop_size")
            size = int(cs if isinstance(cs, int) else cs[0]) if cs is not None else size
    return frames, size, crops, clips


def build_from_config(path: str, overrides: dict[str, Any] | None = None) -> nn.Module:
    """Build the recognizer of an MMEngine config file (random init; nothing downloaded)."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    try:
        cfg = Config.fromfile(path)
    except (FileNotFoundError, OSError) as e:
        raise ConfigError(f"config file {path!r} cannot be read: {e}") from e
    if overrides:
        cfg.merge_from_dict(overrides)
    if "model" not in cfg:
        raise ConfigError(f"config {path!r} has no 'model' entry")
    register_all_modules()
    return MODELS.build(cfg.model)


# -- the "linear-only" convention (bench flops --convention linear-only) -------------------------------------------
LINEAR_ONLY = ("linear-only: MACs of the nn.Linear / nn.Conv{1,2,3}d modules as they are called (thop's rule: exact "
               "types, forward hooks); attention matmuls and nn.MultiheadAttention count zero; parameters of the "
               "modules counted")
_LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_linear_only(module: nn.Module, inputs: tuple[Any, ...], *, views: str = "1x1x1") -> dict[str, Any]:
    """One view of ``module(*inputs)`` counted as thop counts it (how BIKE's published GFLOPs were made).

    A forward hook on every module whose type is exactly ``nn.Linear`` or ``nn.ConvNd`` adds
    ``out.numel() * in_features`` (Linear) or ``out.numel() * (in_channels / groups * kernel + bias)``
    (Conv); parameters are those of the hooked modules that ran. Subclasses do not match (thop looks
    types up exactly), so ``nn.MultiheadAttention``'s ``out_proj`` (a Linear subclass that its functional
    forward never calls) and the attention matmuls count zero.
    """
    n_views(views)
    macs: list[int] = []
    params: dict[int, int] = {}

    def hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        if isinstance(m, nn.Linear):
            macs.append(out.numel() * m.in_features)
        else:
            kernel = prod(m.kernel_size)
            macs.append(out.numel() * (m.in_channels // m.groups * kernel + (1 if m.bias is not None else 0)))
        params[id(m)] = sum(p.numel() for p in m.parameters(recurse=False))

    handles = [m.register_forward_hook(hook) for m in module.modules() if type(m) in _LINEAR_TYPES]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    per_view = sum(macs) / 1e9
    return {"gflops_per_view": per_view, "gflops_total": per_view * n_views(views), "views": views,
            "params_m": sum(params.values()) / 1e6, "convention": LINEAR_ONLY}


def count_recognizer_linear_only(model: nn.Module, input_shape: Sequence[int], *,
                                 views: str | None = None) -> dict[str, Any]:
    """``count_linear_only`` on one view of a recognizer's inference path (as ``count_recognizer``)."""
    full = recognizer_input_shape(model, input_shape)
    frames = full[3] if len(full) == 6 else full[1]
    param = next(model.parameters(), None)
    x = torch.zeros(full, device=param.device if param is not None else "cpu",
                    dtype=param.dtype if param is not None and param.is_floating_point() else torch.float32)
    return count_linear_only(_RecognizerView(model), (x,), views=views or f"{frames}x1x1")
