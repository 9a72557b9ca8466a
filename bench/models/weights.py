"""One resolver for released checkpoints: read, recognise the layout by its keys, convert, load strictly.

A weights argument is a local path or a tag mapped to one (``settings.weights_entry``); nothing is
downloaded. ``read_file`` opens it the way its format allows, always without running code from it:

- TorchScript archives (OpenAI's ``ViT-B-16.pt`` ...) through ``torch.jit.load`` on CPU (on the meta
  device when only the key set is wanted), then their ``state_dict()``;
- safetensors files through their header (key set) or ``safetensors.torch.load_file``;
- everything else with ``torch.load(weights_only=True)`` (``mmap=True`` for the zip format, so a key
  and shape check does not read the tensors).

``detect`` names the layout (``LAYOUTS``: OpenAI CLIP, open_clip, UniFormerV2 OpenGVLab / MMAction2,
UMT and VideoMAE pre-training / fine-tuned, BIKE's K400 release, timm, MMEngine model checkpoints)
from the key set, ``convert`` renames it to the model's naming, and ``load_into`` loads it with
``strict`` semantics: every key of the model must arrive (except the ones the model builds itself,
``owned``), every key of the file must be used (except the config's declared ``ignore`` patterns),
and every shape must fit. A failure raises ``WeightsError`` naming the tag, the file, the layout and,
for each mismatched tensor, both shapes and the likely cause. The returned report (``LoadReport``)
goes into the run record: layout, activation, ignored keys, keys the model built itself.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import ConfigError

log = logging.getLogger(__name__)
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "module")
OPENAI_SCALARS = ("input_resolution", "context_length", "vocab_size")


class WeightsError(ConfigError):
    """A weights file that cannot be used for the model it was configured for."""


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """What a file holds: ``entries`` (name -> tensor, or shape tuple when read ``lazy``) after unwrapping."""

    path: Path
    fmt: str  # torchscript | pickle | safetensors
    wrapper: str | None  # top-level key the tensors sat under (None: the file is the state dict)
    entries: dict[str, Any]
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # other tensor dicts (BIKE's fusion model)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: _shape(v) for k, v in self.entries.items()}


def _shape(v: Any) -> tuple[int, ...]:
    if isinstance(v, torch.Tensor):
        return tuple(v.shape)
    if isinstance(v, int | float | bool):
        return ()
    return tuple(v)


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return head[8:9] == b"{" and 0 < n < path.stat().st_size


def _safetensors_header(path: Path) -> dict[str, tuple[int, ...]]:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _unwrap(obj: Any, where: str) -> tuple[str | None, dict[str, Any], dict[str, dict[str, Any]]]:
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{where}: holds a {type(obj).__name__}, not a state dict or a dict with one of the keys "
                           f"{', '.join(WRAPPER_KEYS)}")
    extra = {k: dict(v) for k, v in obj.items() if k == "fusion_model_state_dict" and isinstance(v, Mapping)}
    if obj and all(isinstance(v, torch.Tensor | int | float) for v in obj.values()):
        return None, dict(obj), extra
    for key in WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return key, dict(inner), extra
    raise WeightsError(f"{where}: found no tensors at the top level or under {', '.join(WRAPPER_KEYS)} "
                       f"(top-level keys: {sorted(map(str, obj))[:10]})")


def read_file(path: str | Path, lazy: bool = False, where: str = "weights") -> Checkpoint:
    """Open ``path`` without running code from it; ``lazy``: shapes only (meta device / mmap / header).

    Raises WeightsError for a missing, empty, truncated or unreadable file, and for a pickle that
    needs anything ``weights_only=True`` refuses (code, arbitrary classes).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{where}: file {path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise WeightsError(f"{where}: file {path} is empty (0 bytes); expected a checkpoint (an interrupted copy?)")
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                module = torch.jit.load(str(path), map_location="meta" if lazy else "cpu")
        except Exception as e:  # noqa: BLE001 - torch raises RuntimeError and others
            raise WeightsError(f"{where}: {path} looks like a TorchScript archive but torch.jit.load fails "
                               f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); truncated?") from e
        return Checkpoint(path, "torchscript", None, dict(module.state_dict()))
    if path.suffix == ".safetensors" or _is_safetensors(path):
        try:
            if lazy:
                return Checkpoint(path, "safetensors", None, _safetensors_header(path))
            from safetensors.torch import load_file

            return Checkpoint(path, "safetensors", None, load_file(str(path)))
        except Exception as e:  # noqa: BLE001
            raise WeightsError(f"{where}: {path} is not a readable safetensors file ({type(e).__name__}: {e})") from e
    mmap = zipfile.is_zipfile(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - UnpicklingError, RuntimeError (zip), EOFError ...
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e) or "Unsupported operand" in str(e):
            why = ("it contains Python objects that torch.load(weights_only=True) refuses to run (code or classes); "
                   "it is not loaded. Re-save its tensors (torch.save(model.state_dict())) on a trusted machine")
        else:
            why = f"cannot be read ({type(e).__name__}: {msg}); truncated or not a PyTorch checkpoint ({size} bytes)"
        raise WeightsError(f"{where}: {path}: {why}") from e
    wrapper, entries, extra = _unwrap(obj, f"{where}: {path}")
    if lazy:
        entries = {k: _shape(v) for k, v in entries.items()}
        extra = {k: {n: _shape(t) for n, t in d.items()} for k, d in extra.items()}
    return Checkpoint(path, "pickle", wrapper, entries, extra)


# --------------------------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------------------------
def _rename(entries: Mapping[str, Any], rules: Iterable[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entries.items():
        new = key
        for pattern, repl in rules:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out


def _strip(entries: Mapping[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for k, v in entries.items():
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


# VideoMAE / UMT (timm-BEiT style) -> MMAction2 ``VisionTransformer`` (mmaction/models/backbones/vit_mae.py).
VIDEO_VIT_RULES = (
    (r"^patch_embed\.proj\.", "patch_embed.projection."),
    (r"\.mlp\.fc1\.", ".mlp.layers.0.0."),
    (r"\.mlp\.fc2\.", ".mlp.layers.1."),
)
# OpenGVLab UniFormerV2 -> MMAction2 UniFormerV2 (reference checkpoints/mmaction2_uniformerv2_b16_k710.json,
# key_map_from_opengvlab): the classifier inside the backbone becomes the final norm and cls_head.fc_cls.
UNIFORMERV2_RULES = (
    (r"^backbone\.transformer\.proj\.0\.", "backbone.transformer.norm."),
    (r"^backbone\.transformer\.proj\.2\.", "cls_head.fc_cls."),
)


def _video_vit(entries: Mapping[str, Any]) -> dict[str, Any]:
    return _rename(_strip(entries, ("module.", "encoder.", "backbone.")), VIDEO_VIT_RULES)


def _umt_like(keys: set[str]) -> bool:
    return any(k.endswith("patch_embed.proj.weight") for k in keys)


@dataclass(frozen=True)
class Layout:
    """A released checkpoint layout: how to recognise it, what it is, and how to rename it."""

    name: str
    family: str  # the model naming it converts to: clip | uniformerv2 | video_vit | timm | bike
    release: str  # the released file(s) by their public names
    detect: Callable[[Checkpoint, set[str]], bool]
    convert: Callable[[Mapping[str, Any]], dict[str, Any]]
    origin: str = ""  # "openai" for weights trained by OpenAI (QuickGELU)
    pooling: str = "token_norm"  # video ViTs: token_norm (norm per token) | fc_norm (LayerNorm after mean pooling)


def _tubelet(ck: Checkpoint) -> int | None:
    for k, v in ck.entries.items():
        if k.endswith("patch_embed.proj.weight"):
            s = _shape(v)
            return s[2] if len(s) == 5 else None
    return None


def _clip_keys(keys: set[str]) -> bool:
    return {"visual.conv1.weight", "token_embedding.weight", "text_projection"} <= keys


def _drop_scalars(entries: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entries.items() if k not in OPENAI_SCALARS}


def _open_clip_convert(entries: Mapping[str, Any]) -> dict[str, Any]:
    return _strip(entries, ("module.",))


LAYOUTS: tuple[Layout, ...] = (
    Layout("bike-k400", "bike", "BIKE release v1.0 k400-vit-b-16-f8.pt (whwu95/BIKE: model_state_dict + "
           "fusion_model_state_dict)",
           lambda ck, keys: ck.wrapper == "model_state_dict" and "fusion_model_state_dict" in ck.extra
           and _clip_keys(keys), _open_clip_convert, origin="openai"),
    Layout("openai-clip", "clip", "OpenAI CLIP release (clip.load: ViT-B-16.pt, ViT-L-14.pt, ViT-B-32.pt, "
           "ViT-L-14-336px.pt; TorchScript, or its plain state_dict)",
           lambda ck, keys: _clip_keys(keys) and (ck.fmt == "torchscript" or bool(set(OPENAI_SCALARS) & keys)),
           _drop_scalars, origin="openai"),
    Layout("open-clip", "clip", "open_clip state dict (open_clip pretrained file, or an open_clip_train checkpoint)",
           lambda ck, keys: _clip_keys(_strip_keys(keys, ("module.",))), _open_clip_convert),
    Layout("uniformerv2-opengvlab", "uniformerv2", "OpenGVLab UniFormerV2 model zoo (k710_uniformerv2_b16_8x224.pyth, "
           "k710_uniformerv2_l14_8x224.pyth, ...)",
           lambda ck, keys: "backbone.transformer.proj.2.weight" in keys and "backbone.conv1.weight" in keys,
           lambda e: _rename(e, UNIFORMERV2_RULES)),
    Layout("uniformerv2-mmaction2", "uniformerv2", "MMAction2 model zoo UniFormerV2 (uniformerv2-base-p16-res224_"
           "clip-pre_u8_kinetics710-rgb_*.pth ...)",
           lambda ck, keys: "backbone.transformer.dec.0.attn.in_proj_weight" in keys
           and "backbone.transformer.norm.weight" in keys, dict),
    Layout("umt-pretrain", "video_vit", "UMT pre-training (OpenGVLab/unmasked_teacher MODEL_ZOO: "
           "b16_ptk710_f8_res224.pth)",
           lambda ck, keys: any(k.startswith("clip_decoder.") for k in keys) and _umt_like(keys), _video_vit),
    Layout("videomae-pretrain", "video_vit", "VideoMAE pre-training (MCG-NJU/VideoMAE MODEL_ZOO checkpoint-1599.pth; "
           "AMD pre-training files share it)",
           lambda ck, keys: any(k.startswith("encoder.blocks.") for k in keys) and "encoder_to_decoder.weight" in keys,
           _video_vit),
    Layout("umt-finetune", "video_vit", "UMT fine-tuned (unmasked_teacher MODEL_ZOO: b16_ptk710_ftk710_f8_res224.pth)",
           lambda ck, keys: "fc_norm.weight" in _strip_keys(keys, ("module.",)) and _umt_like(keys)
           and _tubelet(ck) == 1, _video_vit, pooling="fc_norm"),
    Layout("videomae-finetune", "video_vit", "VideoMAE fine-tuned (MCG-NJU/VideoMAE MODEL_ZOO Kinetics-400 "
           "checkpoint)",
           lambda ck, keys: "fc_norm.weight" in _strip_keys(keys, ("module.",)) and _umt_like(keys), _video_vit,
           pooling="fc_norm"),
    Layout("mmaction2-vit", "video_vit", "MMAction2 model zoo VideoMAE (vit-*-p16_videomae-k400-pre_16x4x1_"
           "kinetics-400-rgb_*.pth)",
           lambda ck, keys: "backbone.patch_embed.projection.weight" in keys,
           lambda e: _strip(e, ("backbone.",)), pooling="fc_norm"),
    Layout("timm-vit", "timm", "timm ViT / DeiT III weights (model.safetensors or pytorch_model.bin of the timm "
           "model, e.g. vit_base_patch16_224.augreg_in21k, deit3_base_patch16_224.fb_in1k)",
           lambda ck, keys: {"cls_token", "pos_embed", "patch_embed.proj.weight"} <= _strip_keys(keys, ("module.",))
           and "blocks.0.attn.qkv.weight" in _strip_keys(keys, ("module.",)), _open_clip_convert),
)


def _strip_keys(keys: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return set(_strip(dict.fromkeys(keys), prefixes))


def detect(ck: Checkpoint, family: str | None = None) -> Layout | None:
    """The first layout of ``LAYOUTS`` (of ``family``, when given) that recognises ``ck``'s keys."""
    keys = set(ck.entries)
    for layout in LAYOUTS:
        if family is not None and layout.family != family and not (family == "clip" and layout.family == "bike"):
            continue
        if layout.detect(ck, keys):
            return layout
    return None


def ambiguous_openai(tag: str, path: Path, layout: Layout, arch: str) -> str | None:
    """A refusal when an open_clip-layout file is named as OpenAI's and the arch would build it with GELU.

    OpenAI's weights need QuickGELU; an open_clip state dict carries no sign of its origin, so a file
    called ``openai`` in that layout would silently run with the wrong activation.
    """
    if layout.name != "open-clip" or arch.endswith("-quickgelu"):
        return None
    if "openai" not in str(tag).lower() and "openai" not in path.name.lower():
        return None
    return (f"weights {tag!r} ({path}) are an open_clip state dict named as OpenAI's: OpenAI-trained weights "
            f"need QuickGELU, which nothing in this layout says; give OpenAI's released file (e.g. "
            f"{arch}.pt as clip.load downloads it, TorchScript) or use the arch {arch}-quickgelu")


def describe(family: str) -> str:
    return "; ".join(f"{lay.name} ({lay.release})" for lay in LAYOUTS if lay.family == family)


# --------------------------------------------------------------------------------------------------------------
# Resolving a tag, comparing with the model, loading
# --------------------------------------------------------------------------------------------------------------
def resolve_path(weights: str) -> tuple[Path, str | None]:
    """(path, configured entry) of a weights tag or path; raises WeightsError when it does not exist."""
    from bench import settings

    if str(weights).startswith("synthetic:"):
        from bench.models.files import synthetic_weights

        return synthetic_weights(weights), None
    configured = settings.weights_entry(weights)
    path = Path(configured or weights).expanduser()
    if not path.is_file():
        hint = f" (tag {weights!r} is configured as {configured})" if configured else " (not a configured tag)"
        raise WeightsError(
            f"weights {weights!r}: no file {path}{hint}; map the tag to a local file under 'weights:' in "
            f"{settings.config_file()} or BENCH_WEIGHTS_{weights.upper().replace('-', '_').replace('/', '_')}; "
            f"nothing is downloaded at run time")
    return path, configured


@dataclass
class LoadReport:
    """What a load did, for the run record."""

    tag: str
    path: str
    layout: str
    fmt: str
    loaded: int = 0
    ignored: list[str] = field(default_factory=list)
    owned: list[str] = field(default_factory=list)  # model keys the model builds itself (e.g. sinusoid tables)
    activation: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        return {"tag": self.tag, "path": self.path, "layout": self.layout, "format": self.fmt, "loaded": self.loaded,
                "ignored": self.ignored, "built_by_model": self.owned, "activation": self.activation,
                "notes": self.notes}


def likely_cause(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """A short guess why tensor ``name`` has shape ``got`` where the model wants ``want``."""
    if "positional_embedding" in name or "pos_embed" in name:
        tokens_got, tokens_want = got[-2] if len(got) >= 2 else None, want[-2] if len(want) >= 2 else None
        for res_got, res_want in ((224, 336), (336, 224), (224, 384)):
            for p in (14, 16, 32):
                if tokens_got == (res_got // p) ** 2 + 1 and tokens_want == (res_want // p) ** 2 + 1:
                    return f"{res_got}-px checkpoint for a {res_want}-px model"
        return "positional table of another input size or frame count"
    if name.endswith(("fc_cls.weight", "fc_cls.bias", "head.weight", "head.bias", "proj.2.weight")):
        return f"classifier of another label set ({got[0]} vs {want[0]} classes)"
    if "conv1.weight" in name or "patch_embed" in name:
        if len(got) == 5 and len(want) == 5 and got[2] != want[2]:
            return f"tubelet / temporal kernel {got[2]} in the file, {want[2]} in the model"
        return "another patch size or input embedding"
    if got and want and got[-1] != want[-1]:
        return f"another model width ({got[-1]} vs {want[-1]}): a checkpoint of a different size"
    return "a checkpoint of a different model configuration"


def _match(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def compare(converted: Mapping[str, Any], model_shapes: Mapping[str, tuple[int, ...]], ignore: Iterable[str] = (),
            owned: Iterable[str] = ()) -> dict[str, Any]:
    """Missing / unexpected / mismatched keys of ``converted`` against the model, after ignores."""
    ignore, owned = tuple(ignore), set(owned)
    have = set(converted)
    missing = sorted(k for k in model_shapes if k not in have and k not in owned and not _match(k, ignore))
    unexpected = sorted(k for k in have if k not in model_shapes and not _match(k, ignore))
    ignored = sorted(k for k in have if k not in model_shapes and _match(k, ignore))
    mismatched = []

    def first(k: str) -> tuple[int, str]:  # the tensors that tell the cause best come first
        return (0 if "positional" in k or "pos_embed" in k else 1 if "conv1" in k or "patch_embed" in k else 2, k)

    for k in sorted(have & set(model_shapes), key=first):
        got, want = _shape(converted[k]), tuple(model_shapes[k])
        if got != want:
            mismatched.append((k, got, want, likely_cause(k, got, want)))
    return {"missing": missing, "unexpected": unexpected, "mismatched": mismatched, "ignored": ignored}


def problem_text(tag: str, path: Path, layout: Layout, diff: Mapping[str, Any], model: str) -> str:
    parts = []
    if diff["mismatched"]:
        parts.append("shape mismatch " + "; ".join(f"{k}: file {list(g)} vs model {list(w)} ({c})"
                                                   for k, g, w, c in diff["mismatched"][:6])
                     + (f" (+{len(diff['mismatched']) - 6} more)" if len(diff["mismatched"]) > 6 else ""))
    if diff["missing"]:
        parts.append(f"{len(diff['missing'])} model keys not in the file, e.g. {diff['missing'][:5]}")
    if diff["unexpected"]:
        parts.append(f"{len(diff['unexpected'])} file keys the model does not have, e.g. {diff['unexpected'][:5]} "
                     "(declare them in the config's weights ignore list if they are meant to be dropped)")
    return (f"weights {tag!r} ({path}, layout {layout.name}) do not fit {model}: " + "; ".join(parts))


def open_weights(weights: str, family: str, lazy: bool = False) -> tuple[Checkpoint, Layout, Path]:
    """Read the file of ``weights`` and recognise its layout among ``family``'s; raises WeightsError."""
    path, _ = resolve_path(weights)
    ck = read_file(path, lazy=lazy, where=f"weights {weights!r}")
    layout = detect(ck, family)
    if layout is None:
        other = detect(ck)
        seen = f"it is a {other.name} checkpoint ({other.release})" if other else \
            f"its keys match no known layout (first keys: {list(ck.entries)[:4]})"
        raise WeightsError(f"weights {weights!r} ({path}): unrecognised layout for a {family} model: {seen}; "
                           f"expected one of: {describe(family)}")
    return ck, layout, path


def fit(weights: str, family: str, model_shapes: Mapping[str, tuple[int, ...]], ignore: Iterable[str] = (),
        owned: Iterable[str] = (), model: str = "the model", lazy: bool = True,
        convert: Callable[[Checkpoint, Layout], dict[str, Any]] | None = None) -> tuple[Checkpoint, Layout, dict]:
    """Read, recognise, convert and compare ``weights`` with ``model_shapes``; raise WeightsError on any problem."""
    ck, layout, path = open_weights(weights, family, lazy=lazy)
    converted = convert(ck, layout) if convert else layout.convert(ck.entries)
    diff = compare(converted, model_shapes, ignore, owned)
    if diff["missing"] or diff["unexpected"] or diff["mismatched"]:
        raise WeightsError(problem_text(weights, path, layout, diff, model))
    return ck, layout, {"converted": converted, **diff}


def load_into(module: torch.nn.Module, weights: str, family: str, ignore: Iterable[str] = (),
              owned: Iterable[str] = (), convert: Callable[[Checkpoint, Layout], dict[str, Any]] | None = None,
              model: str | None = None) -> LoadReport:
    """Load ``weights`` into ``module`` strictly (after ``ignore`` / ``owned``); returns the report."""
    shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    ck, layout, diff = fit(weights, family, shapes, ignore, owned, model or type(module).__name__, lazy=False,
                           convert=convert)
    state = {k: v for k, v in diff["converted"].items() if k in shapes}
    res = module.load_state_dict(state, strict=False)
    left = [k for k in res.missing_keys if k not in set(owned)]
    assert not left and not res.unexpected_keys, (left, res.unexpected_keys)
    report = LoadReport(weights, str(ck.path), layout.name, ck.fmt, loaded=len(state), ignored=diff["ignored"],
                        owned=sorted(set(owned) & set(shapes) - set(state)))
    log.info("weights %s: %s layout, %d tensors loaded, %d ignored", weights, layout.name, len(state),
             len(report.ignored))
    return report


def meta_shapes(build: Callable[[], torch.nn.Module]) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of the module ``build()`` makes, with its parameters and buffers on the meta device.

    Parameters are moved to the meta device as they are registered (so a module whose constructor computes
    Python numbers from tensors, like UniFormerV2's drop-path schedule, still builds): no memory, no init.
    """
    import contextlib

    nn = torch.nn
    reg_p, reg_b = nn.Module.register_parameter, nn.Module.register_buffer

    def param(self, name, value):
        reg_p(self, name, value)
        if value is not None and value.device.type != "meta":
            self._parameters[name] = nn.Parameter(value.to("meta"), requires_grad=value.requires_grad)

    def buffer(self, name, value, persistent=True):
        reg_b(self, name, value, persistent)
        if value is not None:
            self._buffers[name] = value.to("meta")

    with contextlib.ExitStack() as stack:
        nn.Module.register_parameter, nn.Module.register_buffer = param, buffer
        stack.callback(setattr, nn.Module, "register_parameter", reg_p)
        stack.callback(setattr, nn.Module, "register_buffer", reg_b)
        module = build()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------------------------------------------
# What a config needs: every weights field, its model part, and a check before anything is submitted
# --------------------------------------------------------------------------------------------------------------
RELEASES: dict[str, str] = {
    "openai-vit-b-16": "OpenAI CLIP ViT-B-16.pt (clip.load('ViT-B/16'), TorchScript)",
    "openai-vit-b-32": "OpenAI CLIP ViT-B-32.pt (clip.load('ViT-B/32'), TorchScript)",
    "openai-vit-l-14": "OpenAI CLIP ViT-L-14.pt (clip.load('ViT-L/14'), TorchScript)",
    "openai-vit-l-14-336": "OpenAI CLIP ViT-L-14-336px.pt (clip.load('ViT-L/14@336px'), TorchScript)",
    "uniformerv2-b16-k710": "OpenGVLab k710_uniformerv2_b16_8x224.pyth, or MMAction2's "
                            "uniformerv2-base-p16-res224_clip-pre_u8_kinetics710-rgb_20230612-63cdbad9.pth",
    "uniformerv2-l14-k710": "OpenGVLab k710_uniformerv2_l14_8x224.pyth, or MMAction2's "
                            "uniformerv2-large-p14-res224_clip-pre_u8_kinetics710-rgb_*.pth",
    "uniformerv2-l14-k710-336": "OpenGVLab k710_uniformerv2_l14_8x336.pyth (UniFormerV2-L/14@336, K710)",
    "umt-b16-ptk710-f8-res224": "UMT b16_ptk710_f8_res224.pth (K710 pre-training, OpenGVLab/unmasked_teacher)",
    "umt-b16-ptk710-ftk710-f8-res224": "UMT b16_ptk710_ftk710_f8_res224.pth (K710 pre-training, then K710 "
                                       "fine-tuning)",
    "videomae-b16-k400-pretrain": "VideoMAE ViT-B K400 1600-epoch pre-training checkpoint (MCG-NJU/VideoMAE "
                                  "MODEL_ZOO)",
    "amd-b16-k400-pretrain": "AMD ViT-B/16 K400 pre-training checkpoint (VideoMAE pre-training layout)",
    "videomae-l16-k400": "VideoMAE ViT-L K400 fine-tuned checkpoint (MCG-NJU/VideoMAE MODEL_ZOO), or MMAction2's "
                         "vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-229dbb03.pth",
    "timm-vit-b16-in21k": "timm vit_base_patch16_224.augreg_in21k (model.safetensors)",
    "timm-deit3-b16": "timm deit3_base_patch16_224.fb_in1k (model.safetensors)",
    "bike-vit-b16-k400": "BIKE release v1.0 k400-vit-b-16-f8.pt (whwu95/BIKE)",
}


@dataclass
class Need:
    """One weights field of a model config: where, which tag, which model part it must fit."""

    where: str
    tag: str
    family: str
    shapes: Callable[[Layout], dict[str, tuple[int, ...]]]
    ignore: tuple[str, ...] = ()
    owned: Callable[[Checkpoint, Layout], tuple[str, ...]] = lambda ck, layout: ()
    convert: Callable[[Checkpoint, Layout], dict[str, Any]] | None = None
    model: str = "the model"
    arch: str | None = None  # CLIP arch (the activation check)
    node: str = ""  # the config node, canonical (cells sharing a part are checked once per file version)


def _clip_shapes(arch: str) -> Callable[[Layout], dict[str, tuple[int, ...]]]:
    def build(layout: Layout) -> dict[str, tuple[int, ...]]:
        import open_clip

        from bench.models.files import _register_configs

        _register_configs()
        if arch not in open_clip.list_models():
            raise WeightsError(f"unknown CLIP architecture {arch!r}")
        return meta_shapes(lambda: open_clip.create_model(arch, pretrained=None, device="meta"))
    return build


def _video_vit_kwargs(node: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("img_size", "patch_size", "embed_dims", "depth", "num_heads", "mlp_ratio", "qkv_bias", "num_frames",
            "tubelet_size", "norm_cfg", "init_values", "use_learnable_pos_emb")
    return {k: v for k, v in node.items() if k in keep}


def _video_shapes(node: Mapping[str, Any]) -> Callable[[Layout], dict[str, tuple[int, ...]]]:
    def build(layout: Layout) -> dict[str, tuple[int, ...]]:
        from mmaction.models.backbones.vit_mae import VisionTransformer

        kw = _video_vit_kwargs(node)
        pool = node.get("pool_norm", "auto")
        kw["use_mean_pooling"] = (layout.pooling if pool == "auto" else pool) == "fc_norm"
        return meta_shapes(lambda: VisionTransformer(return_feat_map=True, **kw))
    return build


def _uniformerv2_shapes(node: Mapping[str, Any]) -> Callable[[Layout], dict[str, tuple[int, ...]]]:
    def build(layout: Layout) -> dict[str, tuple[int, ...]]:
        from mmaction.registry import MODELS
        from mmengine.registry import init_default_scope

        init_default_scope("mmaction")
        kw = {k: v for k, v in node.items() if k not in ("type", "weights", "weights_ignore", "global_token")}
        kw.update(type="UniFormerV2", clip_pretrained=False, pretrained=None)
        return meta_shapes(lambda: MODELS.build(kw))
    return build


def _timm_shapes(node: Mapping[str, Any]) -> Callable[[Layout], dict[str, tuple[int, ...]]]:
    def build(layout: Layout) -> dict[str, tuple[int, ...]]:
        import timm

        return meta_shapes(lambda: timm.create_model(node["model_name"], pretrained=False, num_classes=0,
                                                     img_size=node.get("img_size", 224)))
    return build


def _bike_shapes(node: Mapping[str, Any]) -> Callable[[Layout], dict[str, tuple[int, ...]]]:
    def build(layout: Layout) -> dict[str, tuple[int, ...]]:
        import open_clip
        from open_clip.transformer import Transformer

        from bench.models.files import _register_configs

        _register_configs()
        dim = int((open_clip.get_model_config(node["clip_arch"]) or {}).get("embed_dim", 512))
        layers = int(node.get("temporal_layers", 6))

        def holder() -> torch.nn.Module:
            m = torch.nn.Module()
            m.frame_pos = torch.nn.Embedding(int(node.get("max_frames", 77)), dim)
            m.temporal = Transformer(width=dim, layers=layers, heads=max(1, dim // 64))
            return m
        return meta_shapes(holder)
    return build


def bike_fusion_state(ck, layout) -> dict:
    """BIKE's ``fusion_model_state_dict`` (video_header 'Transf') in our naming: ``frame_pos.*``, ``temporal.*``."""
    out = {}
    for k, v in (ck.extra.get("fusion_model_state_dict") or {}).items():
        k = k.replace("module.", "")
        k = k.replace("frame_position_embeddings.", "frame_pos.", 1) if k.startswith("frame_position") else k
        out["temporal." + k[len("transformer."):] if k.startswith("transformer.") else k] = v
    return out


def _bike_fusion(ck: Checkpoint, layout: Layout) -> dict[str, Any]:
    return bike_fusion_state(ck, layout)


def _pos_owned(ck: Checkpoint, layout: Layout) -> tuple[str, ...]:
    return () if "pos_embed" in layout.convert(ck.entries) else ("pos_embed",)


def _backbone_only(ck: Checkpoint, layout: Layout) -> dict[str, Any]:
    return {k[len("backbone."):] if k.startswith("backbone.") else k: v for k, v in layout.convert(ck.entries).items()}


def needs(model_cfg: Any, where: str = "model") -> list[Need]:
    """Every weights field of a (resolved) model config, with the model part it must fit."""
    out: list[Need] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            kind = node.get("type")
            ignore = tuple(node.get("weights_ignore") or ())
            if isinstance(node.get("clip_weights"), str) and isinstance(node.get("clip_arch"), str):
                out.append(Need(f"{path}.clip_weights", node["clip_weights"], "clip", _clip_shapes(node["clip_arch"]),
                                model=f"open_clip {node['clip_arch']}", arch=node["clip_arch"]))
            elif isinstance(node.get("weights"), str) and isinstance(node.get("arch"), str) and kind is None:
                out.append(Need(f"{path}.weights", node["weights"], "clip", _clip_shapes(node["arch"]),
                                model=f"open_clip {node['arch']}", arch=node["arch"]))
            if kind == "VLCVideoEncoder" and node.get("arch", "vit") == "vit" and isinstance(
                    node.get("video_weights"), str):
                kw = dict(node, tubelet_size=node.get("tubelet_size", 2))
                out.append(Need(f"{path}.video_weights", node["video_weights"], "video_vit", _video_shapes(kw),
                                ignore, _pos_owned, model="vlc video encoder (MMAction2 ViT)"))
            elif kind == "FTPVideoMAE" and isinstance(node.get("weights"), str):
                out.append(Need(f"{path}.weights", node["weights"], "video_vit", _video_shapes(node), ignore,
                                _pos_owned, model="FTPVideoMAE (MMAction2 ViT)"))
            elif kind == "FTPUniFormerV2" and isinstance(node.get("weights"), str):
                out.append(Need(f"{path}.weights", node["weights"], "uniformerv2", _uniformerv2_shapes(node), ignore,
                                convert=_backbone_only,
                                model=f"UniFormerV2 at {node.get('input_resolution', 224)} px"))
            elif kind == "BIKEVideoEncoder" and isinstance(node.get("temporal_weights"), str):
                out.append(Need(f"{path}.temporal_weights", node["temporal_weights"], "bike", _bike_shapes(node),
                                convert=_bike_fusion, model="BIKE temporal transformer"))
            elif kind == "FTPTimmFrames" and isinstance(node.get("weights"), str):
                out.append(Need(f"{path}.weights", node["weights"], "timm", _timm_shapes(node), ignore,
                                model=f"timm {node.get('model_name')}"))
            for need in out:
                if not need.node and need.where.rsplit(".", 1)[0] == path:
                    need.node = json.dumps(node, sort_keys=True, default=str)
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    walk(model_cfg.to_dict() if hasattr(model_cfg, "to_dict") else model_cfg, where)
    return out


_CHECKED: dict[tuple, dict[str, Any]] = {}


def _check_key(need: Need) -> tuple | None:
    from bench import settings

    configured = settings.weights_entry(need.tag) if not need.tag.startswith("synthetic:") else None
    path = Path(configured or need.tag).expanduser()
    try:
        st = path.stat()
    except OSError:
        return None
    return (need.tag, str(path.resolve()), st.st_mtime_ns, st.st_size, need.family, need.model, need.ignore,
            need.arch, need.node)


def check_need(need: Need) -> dict[str, Any]:
    """Status of one need: ok / missing / unreadable / unrecognised layout / mismatch, with the message.

    A result is reused while the file (path, size, mtime) and the model part are the same: the cells of a
    grid that share an encoder cost one check.
    """
    key = _check_key(need) if need.node else None
    if key is not None and key in _CHECKED:
        return dict(_CHECKED[key], where=need.where)
    row = _check_need(need)
    if key is not None:
        _CHECKED[key] = dict(row)
    return row


def _check_need(need: Need) -> dict[str, Any]:
    from bench import settings

    row: dict[str, Any] = {"where": need.where, "tag": need.tag, "family": need.family,
                           "configured": settings.weights_entry(need.tag) if not need.tag.startswith("synthetic:")
                           else "built by the synthetic world on first use",
                           "expects": RELEASES.get(need.tag, describe(need.family)), "status": "ok", "message": "",
                           "layout": None, "ignored": []}
    if need.tag.startswith("synthetic:"):
        row["status"] = "synthetic"
        return row
    try:
        path, _ = resolve_path(need.tag)
    except WeightsError as e:
        row.update(status="missing", message=str(e))
        return row
    row["path"] = str(path)
    try:
        ck, layout, path = open_weights(need.tag, need.family, lazy=True)
    except WeightsError as e:
        row.update(status="unrecognised layout" if "layout" in str(e) else "unreadable", message=str(e))
        return row
    row["layout"] = layout.name
    if need.arch and (why := ambiguous_openai(need.tag, path, layout, need.arch)):
        row.update(status="mismatch", message=why)
        return row
    try:
        converted = need.convert(ck, layout) if need.convert else layout.convert(ck.entries)
        diff = compare(converted, need.shapes(layout), need.ignore, need.owned(ck, layout))
    except WeightsError as e:
        row.update(status="mismatch", message=str(e))
        return row
    row["ignored"] = diff["ignored"]
    if layout.family in ("clip", "bike"):
        row["activation"] = "QuickGELU" if layout.origin == "openai" else "the architecture's"
    if diff["missing"] or diff["unexpected"] or diff["mismatched"]:
        row.update(status="mismatch", message=problem_text(need.tag, path, layout, diff, need.model))
    return row


def check_config(cfg: Any) -> list[dict[str, Any]]:
    """``check_need`` of every weights field of ``cfg.model``."""
    model = cfg.model if hasattr(cfg, "model") else cfg["model"]
    return [check_need(n) for n in needs(model)]


def validate_config(cfg: Any, where: str = "config") -> list[dict[str, Any]]:
    """Raise WeightsError naming every weights field of ``cfg`` that is not ok (called before submission)."""
    rows = check_config(cfg)
    bad = [r for r in rows if r["status"] not in ("ok", "synthetic")]
    if bad:
        raise WeightsError(f"{where}: " + "; ".join(
            f"{r['where']} = {r['tag']!r} [{r['status']}]: {r['message']} (expected file: {r['expects']})"
            for r in bad))
    return rows
