"""ALT as MMAction2 modules: ``ALTBackbone`` (image encoder, alignment, video decoder) and ``ALTRecognizer``.

The backbone maps a clip ``(B, C, T, H, W)`` to the video representation z of Eq. (9), in the
CLIP text space; the head is the baseline's ``CLIPTextHead`` (cosine similarity with the frozen
CLIP text encoder's prompt-ensemble embeddings of the class names, Eq. 10), so a new label set is
scored with ``set_class_names`` (zero-shot).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import nn

from bench.errors import ConfigError, DataError
from methods.alt.align import SemanticAligner, make_mlp
from methods.alt.corpus import SUB_COLLECTIONS, corpus_resources, embed_texts, entity_text, load_entities
from methods.alt.decoder import VideoDecoder
from methods.alt.encoder import RegionAwareEncoder

log = logging.getLogger(__name__)
QUERY_SOURCES = ("corpus", "learnable")
DEFAULT_CORPUS = dict(datasets=["syn_k400"], need="entity_corpus", tag=None, subsets=list(SUB_COLLECTIONS),
                      build_offline=True, placeholder_entities=6000)


def corpus_embeddings(corpus: dict[str, Any], clip_arch: str, clip_weights: str | None) -> tuple[torch.Tensor, dict]:
    """``(K, d)`` entity embeddings of the configured corpus, and a summary for logs.

    When the corpus artefact is missing and the CLIP is randomly initialised (the shape-only builds
    of FLOP counting), ``placeholder_entities`` random unit vectors stand in (logged); with real
    weights a missing corpus is an error telling how to build it.
    """
    from bench.models.clip import resolve_weights

    unknown = set(corpus) - set(DEFAULT_CORPUS)
    if unknown:
        raise ConfigError(f"corpus has unknown keys {sorted(unknown)}; accepted: {sorted(DEFAULT_CORPUS)}")
    c = {**DEFAULT_CORPUS, **corpus}
    try:
        entities = load_entities(c["datasets"], c["need"], c["tag"], c["subsets"], c["build_offline"])
    except DataError as e:
        k = c["placeholder_entities"]
        if resolve_weights(clip_weights) is not None or not k:
            raise ConfigError(f"alt text corpus {c['datasets']} is missing ({e}); build it with "
                              f"'bench text build --method alt --dataset <name>'") from e
        log.warning("alt: corpus %s missing and CLIP randomly initialised: %d random placeholder entities",
                    c["datasets"], k)
        dim = _text_dim(clip_arch)
        gen = torch.Generator().manual_seed(0)
        emb = nn.functional.normalize(torch.randn(int(k), dim, generator=gen), dim=-1)
        return emb, {"entities": int(k), "placeholder": True}
    texts = [entity_text(e) for e in entities]
    emb = embed_texts(texts, clip_arch, clip_weights)
    counts = {s: sum(e["sub_collection"] == s for e in entities) for s in c["subsets"]}
    return emb, {"entities": len(texts), "by_sub_collection": counts, "resources": corpus_resources(c["datasets"])}


def clip_logit_scale(clip_arch: str, clip_weights: str | None, value: float | str) -> float:
    """The factor of Eq. (4)'s similarities: a number as given, or ``"clip"``: exp of the CLIP's learned logit scale."""
    if value == "clip":
        from methods.baselines.clip_meanpool import _shared_clip

        return float(_shared_clip(clip_arch, clip_weights).logit_scale.detach().exp())
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"model.backbone.logit_scale={value!r}; accepted: 'clip' (the CLIP's learned scale) "
                          f"or a number > 0 (1.0 = Eq. 4 on raw cosine similarities)")
    return float(value)


def _text_dim(clip_arch: str) -> int:
    from methods.baselines.clip_meanpool import clip_parts

    return int(clip_parts(clip_arch, None)[1].text_projection.shape[-1])


@MODELS.register_module()
class ALTBackbone(nn.Module):
    """Region-aware encoder + semantic alignment + multi-modal video decoder: clip -> z (Eq. 9).

    Args:
        clip_arch / clip_weights: the CLIP (open_clip architecture, local weights or tag).
        tome_r: tokens merged per ViT block (Table 8; 0 = no ToMe).
        region: align every merged region-aware token (True) or the frame class token only (Table 5).
        align: build queries from the text corpus (True) or use the frame embeddings as queries (Table 5 row 1).
        query_source: ``corpus`` (aligned entities) or ``learnable`` (random learnable queries, Table C3 row 1).
        corpus: which corpus (``datasets``, ``need``, ``tag``, ``subsets`` of body/object/scene/motion, ...).
        tau: Gumbel-softmax temperature (Eq. 4).
        logit_scale: factor of the cosine similarities in Eq. (4): ``"clip"`` (default) = the CLIP's learned
            logit scale (100 for OpenAI CLIP), or a number (``1.0`` = the literal reading of Eq. 4).
        assignment: ``"hard"`` (Â in Eq. 6, the text) or ``"soft"`` (the Gumbel-softmax A, Eq. 6 / Fig. 3b).
        query_pool: ``"size"`` (token rows averaged with ToMe's sizes as weights) or ``"mean"``.
        decoder_depth / decoder_sa / decoder_conv / conv_kernel: the video decoder (Eq. 8, Table C4).
        frozen / adapters / adapter_ratio: training strategy of the image encoder (Table 7).
        mlp_layers: layers of the MLPs of Eqs. (6) and (9).
        max_frames: frames the learnable queries cover.
    """

    def __init__(self, clip_arch: str, clip_weights: str | None = None, tome_r: int = 8, region: bool = True,
                 align: bool = True, query_source: str = "corpus", corpus: dict | None = None, tau: float = 1.0,
                 logit_scale: float | str = "clip", assignment: str = "hard", query_pool: str = "size",
                 decoder_depth: int = 4, decoder_sa: bool = True, decoder_conv: bool = True, conv_kernel: int = 3,
                 frozen: bool = False, adapters: str = "", adapter_ratio: float = 0.25, mlp_layers: int = 1,
                 max_frames: int = 64) -> None:
        super().__init__()
        if query_source not in QUERY_SOURCES:
            raise ConfigError(f"query_source={query_source!r}; accepted: {QUERY_SOURCES}")
        self.encoder = RegionAwareEncoder(clip_arch, clip_weights, tome_r, frozen, adapters, adapter_ratio)
        width = self.encoder.width
        proj = self.encoder.visual.proj
        text_dim = proj.shape[1] if proj is not None else width
        self.region, self.align, self.query_source = region, align, query_source
        self.aligner = self.queries = None
        self.corpus_info: dict[str, Any] = {}
        if align and query_source == "corpus":
            emb, self.corpus_info = corpus_embeddings(dict(corpus or {}), clip_arch, clip_weights)
            scale = clip_logit_scale(clip_arch, clip_weights, logit_scale)
            self.aligner = SemanticAligner(emb, width, tau, mlp_layers, logit_scale=scale, assignment=assignment,
                                           pool=query_pool)
            self.corpus_info["logit_scale"] = scale
            log.info("alt corpus: %s", self.corpus_info)
        elif align:
            self.queries = nn.Parameter(torch.randn(max_frames, width) * 0.02)
        self.decoder = VideoDecoder(width, decoder_depth, sa=decoder_sa, conv=decoder_conv, kernel=conv_kernel)
        self.head_mlp = make_mlp(width, text_dim, mlp_layers)  # Eq. (9)

    def frame_queries(self, tokens: torch.Tensor, b: int, t: int, sizes: torch.Tensor | None = None) -> torch.Tensor:
        """Q-hat of Eq. (7): one query per frame, ``(B, T, D)``."""
        if not self.align:
            return tokens[:, 0].view(b, t, -1)
        if self.aligner is None:
            if t > self.queries.shape[0]:
                raise ConfigError(f"{t} frames but learnable queries for max_frames={self.queries.shape[0]}")
            return self.queries[:t].unsqueeze(0).expand(b, -1, -1)
        visual = tokens if self.region else tokens[:, :1]
        if sizes is not None:
            sizes = sizes if self.region else sizes[:, :1]
        return self.aligner(self.encoder.project(visual), sizes).view(b, t, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` clips -> video representations z ``(B, d)`` (Eq. 9)."""
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        tokens, sizes = self.encoder(frames, t)
        frame_embeds = tokens[:, 0].view(b, t, -1)  # X-hat: the frame class tokens (Eq. 7)
        q = self.decoder(self.frame_queries(tokens, b, t, sizes), frame_embeds)
        return self.head_mlp(q.mean(dim=1))


@MODELS.register_module()
class ALTRecognizer(Recognizer3D):
    """ALT (backbone ``ALTBackbone``, head ``CLIPTextHead``): scores clips against class-name text."""

    def set_class_names(self, names: Sequence[str]) -> None:
        self.cls_head.set_class_names(names)

    def video_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """z of Eq. (9) for the linear probe: ``(B, views, C, T, H, W)`` or ``(B, C, T, H, W)`` -> ``(B, d)``."""
        if inputs.ndim == 6:
            b, n = inputs.shape[:2]
            return self.backbone(inputs.flatten(0, 1)).view(b, n, -1).mean(dim=1)
        return self.backbone(inputs)
