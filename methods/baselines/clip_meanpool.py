"""The ``clip_meanpool`` baseline: CLIP frame features, mean-pooled over time, scored by cosine
similarity against class-name text embeddings (a prompt-template ensemble).

This is the mean-pooling baseline of ActionCLIP: the image encoder is fine-tuned end to end;
the text encoder is frozen by default (``train_text=True`` trains it too). Because the
classifier is the text embeddings of class names, the model scores any list of class names,
which is what the zero-shot protocols need (``set_class_names``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmaction.models.heads import BaseHead
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import nn

from bench.data.labels import resolve_class_names
from bench.errors import ConfigError
from bench.models.class_text import LazyClassText, encode_in_batches
from bench.models.clip import create_clip_apart

CLIP_MEAN = [122.770938, 116.7460125, 104.09373615]  # OpenAI CLIP normalisation, 0..255 scale
CLIP_STD = [68.5005327, 66.6321579, 70.32316305]


@functools.lru_cache(maxsize=4)
def _shared_clip(arch: str, weights: str | None) -> nn.Module:
    return create_clip_apart(arch, weights)


def clip_parts(arch: str, weights: str | None) -> tuple[nn.Module, nn.Module]:
    """Independent copies of a CLIP's image encoder and of its text side (the model minus ``visual``).

    The checkpoint is read once per process; each caller gets its own parameters.
    """
    model = _shared_clip(arch, weights)
    visual = copy.deepcopy(model.visual)
    text = copy.deepcopy(model, memo={id(model.visual): None})  # the text side only: the image tower is not copied
    text.visual = None
    return visual, text


@MODELS.register_module()
class CLIPFrameEncoder(nn.Module):
    """Encodes each frame with the CLIP image encoder and pools over time.

    Input ``(B, C, T, H, W)``; output ``(B, D)`` for ``pool='mean'`` or ``(B, T, D)`` for ``pool=None``.
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, pool: str | None = "mean",
                 frozen: bool = False) -> None:
        super().__init__()
        if pool not in ("mean", None):
            raise ConfigError(f"CLIPFrameEncoder.pool={pool!r}; accepted: 'mean' or None")
        self.visual, _ = clip_parts(clip_arch, clip_weights)
        self.pool = pool
        self.frozen = frozen
        if frozen:
            self.visual.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        feats = self.visual(frames).view(b, t, -1)
        return feats.mean(dim=1) if self.pool == "mean" else feats

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Spatio-temporal features ``(B, D, T, h, w)``: CLIP patch tokens of each frame, projected.

        The patch tokens go through CLIP's final LayerNorm and projection, the same map the class
        token takes, so they live in the space the video features do (used by the AVA protocol).
        """
        b, c, t, h, w = x.shape
        visual = self.visual
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        tokens = visual.transformer(visual._embeds(frames))[:, 1:]  # drop the class token
        tokens = visual.ln_post(tokens)
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        gh, gw = h // visual.patch_size[0], w // visual.patch_size[1]
        return tokens.view(b, t, gh, gw, -1).permute(0, 4, 1, 2, 3).contiguous()


@MODELS.register_module()
class CLIPTextHead(BaseHead):
    """Cosine-similarity classifier whose weights are CLIP text embeddings of class names.

    Args:
        clip_arch / clip_weights: the CLIP whose text encoder embeds the class names.
        class_names: a list, an ``id,name`` CSV, or ``{"dataset": name}`` (see ``resolve_class_names``).
        templates: prompt templates with one ``{}``; embeddings are averaged over templates.
        train_text: train the text encoder (embeddings recomputed every step) or freeze it.
    """

    def __init__(self, clip_arch: str, class_names, templates: Sequence[str], clip_weights: str | None = None,
                 train_text: bool = False, learn_logit_scale: bool = True, **kwargs) -> None:
        names = resolve_class_names(class_names, where="CLIPTextHead.class_names")
        _, text = clip_parts(clip_arch, clip_weights)
        super().__init__(num_classes=len(names), in_channels=text.text_projection.shape[-1], **kwargs)
        if not templates or any(t.count("{}") != 1 for t in templates):
            raise ConfigError(f"CLIPTextHead.templates={list(templates)!r}: each template needs exactly one '{{}}'")
        import open_clip

        self.tokenizer = open_clip.get_tokenizer(clip_arch)
        self.text = text
        self.templates = list(templates)
        self.train_text = train_text
        self.text.requires_grad_(train_text)
        scale = text.logit_scale.detach().clone()
        self.logit_scale = nn.Parameter(scale, requires_grad=learn_logit_scale)
        self.class_names: list[str] = []
        # computed on first use, through the text-embedding cache (bench.models.class_text)
        self.class_text = LazyClassText(
            f"open_clip:{clip_arch}", self.text, "clip_text_head/template_mean_l2", self.templates,
            compute=self._class_text, placeholder=self._class_text_shape, cache=not train_text, probe=self._text_probe)
        self.set_class_names(names)

    def _class_text(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"embeds": self.encode_class_names(names)}

    def _class_text_shape(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"embeds": torch.zeros(len(names), self.in_channels)}

    def encode_class_names(self, names: Sequence[str]) -> torch.Tensor:
        """L2-normalised template-ensemble embeddings, one row per class."""
        device = self.logit_scale.device
        tokens = self.tokenizer([t.format(n) for n in names for t in self.templates]).to(device)
        emb = F.normalize(encode_in_batches(self.text.encode_text, tokens), dim=-1)
        emb = emb.view(len(names), len(self.templates), -1).mean(dim=1)
        return F.normalize(emb, dim=-1)

    def _text_probe(self) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        """The text tower on one prompt (FLOPs are counted on it and scaled by classes x templates)."""
        tokens = self.tokenizer([self.templates[0].format(self.class_names[0])])
        return _EncodeText(self.text), (tokens.to(self.logit_scale.device),)

    def set_class_names(self, names: Sequence[str]) -> None:
        """Score against ``names`` from now on (zero-shot transfer); encoded at the next forward."""
        self.class_names = list(names)
        self.num_classes = len(self.class_names)
        self.class_text.set_names(self.class_names)

    @property
    def class_embeds(self) -> torch.Tensor:
        """``(C, D)`` embeddings of the class names (computed on first use)."""
        return self.class_text.get()["embeds"]

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        weights = self.encode_class_names(self.class_names) if self.train_text else self.class_embeds
        # the scaled cosine similarities in fp32 under AMP: at a logit scale of 100, bf16's 8-bit mantissa
        # would move a logit by up to ~0.4 (C x D multiply-adds: nothing to save)
        with torch.autocast(x.device.type, enabled=False):
            x, weights = x.float(), weights.to(x.device).float()
            return self.logit_scale.exp().clamp(max=100) * F.normalize(x, dim=-1) @ weights.t()


class _EncodeText(nn.Module):
    def __init__(self, text: nn.Module) -> None:
        super().__init__()
        self.text = text

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.text.encode_text(tokens)


@MODELS.register_module()
class CLIPMeanPool(Recognizer3D):
    """Recognizer of the ``clip_meanpool`` baseline (backbone ``CLIPFrameEncoder``, head ``CLIPTextHead``)."""

    def set_class_names(self, names: Sequence[str]) -> None:
        self.cls_head.set_class_names(names)

    def video_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """The video representation used by the linear probe.

        ``inputs`` as the data preprocessor gives them, ``(B, views, C, T, H, W)`` (or one view,
        ``(B, C, T, H, W)``); returns ``(B, D)``, averaged over views.
        """
        if inputs.ndim == 6:
            b, n = inputs.shape[:2]
            return self.backbone(inputs.flatten(0, 1)).view(b, n, -1).mean(dim=1)
        return self.backbone(inputs)

    def feature_map(self, inputs: torch.Tensor) -> torch.Tensor:
        """Spatio-temporal feature map ``(B, D, T, h, w)`` of ``(B, C, T, H, W)`` clips (AVA's RoI pooling)."""
        return self.backbone.feature_map(inputs)
