"""The vlc recognizer: video adaptation + attentive spatial + contrastive textual knowledge transfer.

``L = L_ce + L_text + alpha * L_image`` (section 3.4). Each term is switched by ``losses``; a term
that is off builds no parameters (no Phi without L_ce, no Phi_m without L_text, no gate or
distillation projection without L_image, no teacher when neither L_text nor L_image needs it), so
the optimiser never holds them.

Spatial transfer (section 3.2): the video's last-layer patch tokens are projected to the teacher's
width (a linear layer; done before the interpolation, which is linear, so the order does not
change the result) and interpolated (trilinear) to the teacher's grid of ``T x K'`` tokens; the
gate (``identity``, ``self_attention`` Eq. 5, ``cross_attention`` Eqs. 6-8) shapes the teacher's
tokens or masks the distance; L1 (``distill_loss``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import nn

from bench.errors import ConfigError
from methods.vlc.head import KEYWORD_TEXTS
from methods.vlc.losses import GATES, MASK_NORMS, SelfAttentionGate, distill_loss, keyword_masks
from methods.vlc.teacher import CLIPTeacher

log = logging.getLogger(__name__)
LOSS_KEYS = ("ce", "text", "image")
GATE_DEFAULTS: dict[str, Any] = {"type": "self_attention", "num_heads": 1, "mlp_ratio": 4.0, "thr1": 0.5,
                                 "thr2": 0.2, "mask_norm": "all", "sigma": 5.0, "keyword_text": "naclip"}


def _gate_options(gate: dict[str, Any] | None) -> dict[str, Any]:
    gate = dict(gate or {})
    unknown = sorted(set(gate) - set(GATE_DEFAULTS))
    if unknown:
        raise ConfigError(f"VLCRecognizer.gate: unknown keys {unknown}; accepted: {sorted(GATE_DEFAULTS)}")
    out = {**GATE_DEFAULTS, **gate}
    if out["type"] not in GATES or out["mask_norm"] not in MASK_NORMS or out["keyword_text"] not in KEYWORD_TEXTS:
        raise ConfigError(f"VLCRecognizer.gate: type={out['type']!r} (accepted {GATES}), mask_norm="
                          f"{out['mask_norm']!r} (accepted {MASK_NORMS}), keyword_text={out['keyword_text']!r} "
                          f"(accepted {KEYWORD_TEXTS})")
    return out


@MODELS.register_module()
class VLCRecognizer(Recognizer3D):
    """Recognizer of the vlc method.

    Args:
        backbone / cls_head / data_preprocessor: as for ``Recognizer3D`` (``VLCVideoEncoder``, ``VLCHead``).
        clip: ``dict(clip_arch=, clip_weights=)``, the VLM whose image encoder is the teacher and whose
            text encoder embeds the description bank.
        losses: ``dict(ce=, text=, image=)`` switches.
        alpha: weight of L_image (paper: 10).
        gate: ``GATE_DEFAULTS`` keys: type, num_heads / mlp_ratio (self-attention), thr1 / thr2 / mask_norm /
            sigma / keyword_text (cross-attention; ``keyword_text``: ``"naclip"`` = each keyword embedded as the
            mean of CLIP's 80 ImageNet templates, as NACLIP embeds its queries, ``"bare"`` = the keyword alone).
        teacher_image_size: frame size the teacher sees (default: the CLIP's own).
        teacher_cache: opt into the frozen-teacher cache (True or ``dict(root=, video_identity=)``).
    """

    def __init__(self, backbone: dict, cls_head: dict, clip: dict, data_preprocessor: dict | None = None,
                 losses: dict[str, bool] | None = None, alpha: float = 10.0, gate: dict[str, Any] | None = None,
                 teacher_image_size: int | None = None, teacher_cache: Any = False, **kwargs) -> None:
        losses = {**{k: True for k in LOSS_KEYS}, **dict(losses or {})}
        if set(losses) - set(LOSS_KEYS) or not any(losses.values()):
            raise ConfigError(f"VLCRecognizer.losses={losses}: keys must be {LOSS_KEYS} with at least one on")
        arch, weights = clip.get("clip_arch"), clip.get("clip_weights")
        gate_opts = _gate_options(gate)
        cls_head = dict(cls_head, use_ce=bool(losses["ce"]), use_text=bool(losses["text"]), clip_arch=arch,
                        clip_weights=weights, keyword_text=gate_opts["keyword_text"],
                        use_keywords=bool(losses["image"]) and gate_opts["type"] == "cross_attention")
        super().__init__(backbone=backbone, cls_head=cls_head, data_preprocessor=data_preprocessor, **kwargs)
        if hasattr(self.backbone, "post_pool"):  # fc_norm after pooling (fine-tuned UMT / VideoMAE files)
            self.cls_head.__dict__["post_pool"] = self.backbone.post_pool
        self.losses_on, self.alpha, self.gate_cfg = losses, float(alpha), _gate_options(gate)
        # Training-only submodules (``MethodInfo.teacher_modules``); empty placeholders when switched off.
        self.use_teacher = bool(losses["text"] or losses["image"])
        self.teacher: nn.Module = nn.Module()
        self.distill = nn.ModuleDict()
        if self.use_teacher:
            seg = bool(losses["image"]) and self.gate_cfg["type"] == "cross_attention"
            self.teacher = CLIPTeacher(arch, weights, teacher_image_size, segmentation=seg,
                                       sigma=self.gate_cfg["sigma"])
        if losses["image"]:
            self._build_distillation()
        self._cache = None
        self._cache_opt = teacher_cache

    def _build_distillation(self) -> None:
        """The projection to the teacher's width and the gate; checks that the patch grids can be matched."""
        b, t = self.backbone, self.teacher
        self.check_grids(b.grid, b.num_frames)
        self.distill["proj"] = nn.Linear(b.embed_dims, t.width)
        if self.gate_cfg["type"] == "self_attention":
            self.distill["gate"] = SelfAttentionGate(t.width, self.gate_cfg["num_heads"], self.gate_cfg["mlp_ratio"])

    def check_grids(self, token_shape: Sequence[int], frames: int) -> None:
        """The video tokens ``(T', h, w)`` must interpolate *up* to the teacher's ``(T, K')`` grid (section 3.2)."""
        t, h, w = token_shape
        gh, gw = self.teacher.grid
        if h > gh or w > gw or frames % t:
            raise ConfigError(f"vlc: video patch grid {t}x{h}x{w} cannot be matched to the teacher's "
                              f"{frames}x{gh}x{gw} "
                              f"(section 3.2 interpolates the video tokens up to the teacher's grid): the teacher's "
                              f"grid must be at least the video's and the frames a multiple of the temporal tokens")

    # -- teacher ---------------------------------------------------------------------------
    def _teacher_cache(self):
        if self._cache is None and self._cache_opt and self.use_teacher:
            from bench.models.cache import file_sha256, state_dict_hash, teacher_cache_from_config
            from bench.models.clip import activation_of, cache_name, resolve_weights

            path = resolve_weights(self.teacher.weights)
            wh = file_sha256(path) if path is not None else "random:" + state_dict_hash(self.teacher)
            name = cache_name(self.teacher.arch, activation_of(self.teacher), "visual-vlc")
            self._cache = teacher_cache_from_config(self._cache_opt, name, wh)
        return self._cache

    def teacher_outputs(self, inputs: torch.Tensor, data_samples: Sequence[Any] | None) -> dict[str, torch.Tensor]:
        """Teacher outputs per clip: ``patch (B, T, K', D')``, ``cls (B, T, E)``, ``seg (B, T, K', E)``."""
        dp = self.data_preprocessor
        b, t = inputs.shape[0], inputs.shape[2]
        sizes = self.teacher.sizes()

        def compute(rows: list[int]) -> list[torch.Tensor]:
            frames = self.teacher.frames_from_video(inputs[rows], dp.mean.flatten().tolist(), dp.std.flatten().tolist())
            out = self.teacher(frames)
            return [torch.cat([out[k].view(len(rows), t, -1).flatten(1) for k in sizes], dim=1)[i]
                    for i in range(len(rows))]

        cache = self._teacher_cache()
        metas = [getattr(ds, "metainfo", {}) for ds in (data_samples or [])]
        if cache is not None and len(metas) == b and all("filename" in m for m in metas):
            samplings = [{k: _plain(m.get(k)) for k in ("frame_inds", "crop_bbox", "flip", "img_shape", "clip_len")}
                         for m in metas]
            rows = cache.get_many([m["filename"] for m in metas], samplings,
                                  {**self.teacher.describe(), "frames": t}, compute)
            flat = torch.stack([r.to(inputs.device) for r in rows])
        else:
            flat = torch.stack(compute(list(range(b))))
        out, start = {}, 0
        for key, shape in sizes.items():
            n = t * int(torch.tensor(shape).prod())
            out[key] = flat[:, start:start + n].reshape(b, t, *shape)
            start += n
        return out

    # -- training --------------------------------------------------------------------------
    def image_loss(self, tokens: torch.Tensor, teacher: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """L_image of section 3.2 for token maps ``(B, D, T', h, w)``."""
        b, _, tt, h, w = tokens.shape
        frames = teacher["patch"].shape[1]
        self.check_grids((tt, h, w), frames)
        gh, gw = self.teacher.grid
        proj = self.distill["proj"](tokens.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        up = F.interpolate(proj, size=(frames, gh, gw), mode="trilinear", align_corners=False)
        pred = up.permute(0, 2, 3, 4, 1).reshape(b * frames, gh * gw, -1)  # Z_v-hat, (B*T, K', D')
        target = teacher["patch"].reshape(b * frames, gh * gw, -1).to(pred.dtype)
        kind = self.gate_cfg["type"]
        if kind == "identity":
            return distill_loss(target, pred)
        if kind == "self_attention":
            return distill_loss(self.distill["gate"](target), pred)
        kw, valid = self.cls_head.keywords_of(labels)
        kw = kw.repeat_interleave(frames, dim=0).to(pred.dtype)
        valid = valid.repeat_interleave(frames, dim=0)
        mask = keyword_masks(teacher["seg"].reshape(b * frames, gh * gw, -1).to(pred.dtype),
                             teacher["cls"].reshape(b * frames, -1).to(pred.dtype), kw, valid,
                             self.gate_cfg["thr1"], self.gate_cfg["thr2"])
        return distill_loss(target, pred, mask, self.gate_cfg["mask_norm"])

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[Any], **kwargs) -> dict[str, torch.Tensor]:
        """All switched-on losses of a training batch (``inputs`` ``(B, 1, C, T, H, W)``)."""
        x = inputs.view((-1,) + inputs.shape[2:])
        if x.shape[0] != len(data_samples):
            raise ConfigError(f"vlc trains on one clip per video; got {x.shape[0]} clips for {len(data_samples)} "
                              "videos (set num_clips=1 in the training pipeline)")
        tokens = self.backbone(x)
        labels = torch.stack([ds.gt_labels.item.view(-1)[0] for ds in data_samples]).to(x.device).long()
        teacher = self.teacher_outputs(x, data_samples) if self.use_teacher else None
        out = self.cls_head.losses(tokens, labels, teacher["cls"] if teacher is not None else None)
        if self.losses_on["image"]:
            out["loss_image"] = self.alpha * self.image_loss(tokens, teacher, labels)
        return out

    # -- harness hooks -----------------------------------------------------------------------
    def set_class_names(self, names: Sequence[str]) -> None:
        """Zero-shot: score against ``names``' descriptions from now on."""
        self.cls_head.set_class_names(names)

    def video_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """``Z_v^cls`` ``(B, D)`` of ``(B, views, C, T, H, W)`` or ``(B, C, T, H, W)``, averaged over views."""
        if inputs.ndim == 6:
            b, n = inputs.shape[:2]
            return self.cls_head.pool(self.backbone(inputs.flatten(0, 1))).view(b, n, -1).mean(dim=1)
        return self.cls_head.pool(self.backbone(inputs))

    def flops_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The inference path counted by ``bench.flops``: video encoder, pooling and Phi (or Phi_m without L_ce).

        The comparison with the class texts (a ``C x E`` product, negligible) is left out: the bank is
        embedded lazily by the frozen text encoder, which must not run inside fvcore's trace.
        """
        feat = self.cls_head.pool(self.backbone(inputs.view((-1,) + inputs.shape[2:])))
        head = self.cls_head
        return head.fc_cls(feat) if head.fc_cls is not None else head.text_proj(feat)

    def feature_map(self, inputs: torch.Tensor) -> torch.Tensor:
        """Spatio-temporal token map ``(B, D, T', h, w)`` (AVA's RoI pooling)."""
        return self.backbone(inputs)


def _plain(value: Any) -> Any:
    """A JSON-able form of a metainfo value (numpy arrays -> lists) for cache keys."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value
