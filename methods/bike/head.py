"""``BIKEHead``: bike's Video branch (VCS, Sec. 2.3) and Attributes branch (Sec. 2.2), fused by Eq. (4).

Scores are cosine similarities divided by the temperature (0.01, Sec. 3.1). Class-name
embeddings of a frozen encoder are computed once per class list, on first use after
``set_class_names`` (``bench.models.class_text``), so a zero-shot evaluation only swaps them.
Fusion, Eq. (4): ``p = lambda * p_video + (1 - lambda) * p_attributes`` on the two branches'
class probabilities (softmax of their scores); lambda = ``attributes.fusion_weight`` (0.6 with a
ViT-B video branch, 0.8 with ViT-L, appendix A.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn

from bench.data.labels import resolve_class_names
from bench.errors import ConfigError
from bench.models.class_text import LazyClassText
from methods.bike.attributes import AttributeGenerator, attribute_sentence
from methods.bike.losses import distributed_infonce
from methods.bike.text import CLIPTextTower, check_template
from methods.bike.vcs import AGGREGATIONS, category_scores

SOURCES = ("words", "cls")
BRANCHES = ("video", "attributes")
ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "enabled": False, "fusion_weight": 0.6, "num": 5, "prompt": "This is a video about {}",
    "category_template": "This is a video about {}", "lexicon": None, "encoder": None, "teacher": None,
    "cache": True, "lexicons": {},
}


def fuse(video_probs: torch.Tensor, attr_probs: torch.Tensor, weight: float) -> torch.Tensor:
    """Eq. (4): ``weight * video + (1 - weight) * attributes`` (class probabilities of the two branches)."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"attributes.fusion_weight={weight!r}: must lie in [0, 1]")
    return weight * video_probs + (1.0 - weight) * attr_probs


@MODELS.register_module()
class BIKEHead(BaseHead):
    """Both branches of bike.

    Args:
        clip_arch / clip_weights: CLIP whose (frozen) text encoder embeds the categories.
        class_names: list, ``id,name`` CSV or ``{"dataset": name}``.
        category_template: prompt of the categories ("This is a video about {}", published code).
        aggregation: ``'vcs'`` (Video Concept Spotting) or ``'mean'`` (Table 6a baseline).
        vcs_source / recognition_source: which category embedding spots frames and which scores
            videos: ``'words'`` or ``'cls'`` (Table 6b; best: words / cls).
        vcs_temperature: softmax temperature over frames in Eq. (5).
        temperature: of the scores and the InfoNCE losses (0.01).
        category_frozen: freeze the category encoder (Table 6a last row).
        attributes: the Attributes branch (keys of ``ATTRIBUTE_DEFAULTS``): ``enabled`` fuses it
            at inference; ``encoder`` / ``teacher`` are ``{clip_arch, clip_weights}`` (the teacher
            also ``num_frames``); ``lexicon`` see ``attributes.resolve_lexicon``.
        train_branches: the branches whose loss is trained (``['video']`` first, then
            ``['attributes']``; both at once sums Eq. (9)). A branch not trained is frozen.
    """

    def __init__(self, clip_arch: str, class_names, clip_weights: str | None = None,
                 category_template: str = "This is a video about {}", aggregation: str = "vcs",
                 vcs_source: str = "words", recognition_source: str = "cls", vcs_temperature: float = 0.01,
                 temperature: float = 0.01, category_frozen: bool = True, attributes: dict | None = None,
                 train_branches: Sequence[str] = ("video",), **kwargs) -> None:
        names = resolve_class_names(class_names, where="BIKEHead.class_names")
        kwargs.setdefault("loss_cls", dict(type="CrossEntropyLoss"))
        encoder = CLIPTextTower(clip_arch, clip_weights, frozen=category_frozen)
        super().__init__(num_classes=len(names), in_channels=encoder.embed_dim, **kwargs)
        self.category_encoder = encoder
        self._check(category_template, aggregation, vcs_source, recognition_source, temperature, train_branches)
        self.category_template, self.aggregation = category_template, aggregation
        self.vcs_source, self.recognition_source = vcs_source, recognition_source
        self.vcs_temperature, self.temperature = vcs_temperature, temperature
        self.category_frozen, self.train_branches = category_frozen, tuple(train_branches)
        self.attr = self._attribute_options(attributes)
        self._build_attributes()
        self.class_names: list[str] = []
        # class embeddings are computed on first use, through the text-embedding cache (bench.models.class_text)
        self.video_text = LazyClassText(
            f"open_clip:{clip_arch}", encoder, "bike/video_categories", [category_template],
            compute=self._video_categories, placeholder=self._video_categories_shape, cache=category_frozen,
            probe=self._text_probe)
        self.attr_text = LazyClassText(
            f"open_clip:{(self.attr['encoder'] or {}).get('clip_arch', clip_arch)}", self.attr_encoder,
            "bike/attr_categories", [self.attr["category_template"]], compute=self._attr_category_dict,
            placeholder=self._attr_categories_shape, cache="attributes" not in self.train_branches,
            probe=self._attr_probe) if self.attributes_used else None
        self.set_class_names(names)

    @staticmethod
    def _check(template, aggregation, vcs_source, recognition_source, temperature, branches) -> None:
        check_template(template, "BIKEHead.category_template")
        if aggregation not in AGGREGATIONS:
            raise ConfigError(f"BIKEHead.aggregation={aggregation!r}; accepted: {', '.join(AGGREGATIONS)}")
        for key, val in (("vcs_source", vcs_source), ("recognition_source", recognition_source)):
            if val not in SOURCES:
                raise ConfigError(f"BIKEHead.{key}={val!r}; accepted: {', '.join(SOURCES)}")
        if temperature <= 0:
            raise ConfigError(f"BIKEHead.temperature={temperature!r}: must be > 0 (the paper uses 0.01)")
        bad = [b for b in branches if b not in BRANCHES] or ([] if branches else ["(none)"])
        if bad:
            raise ConfigError(f"BIKEHead.train_branches={list(branches)!r}: {bad} unknown; accepted: a non-empty "
                              f"subset of {list(BRANCHES)}")

    @staticmethod
    def _attribute_options(attributes: dict | None) -> dict[str, Any]:
        given = dict(attributes or {})
        unknown = sorted(set(given) - set(ATTRIBUTE_DEFAULTS))
        if unknown:
            raise ConfigError(f"BIKEHead.attributes: unknown keys {unknown}; accepted: {sorted(ATTRIBUTE_DEFAULTS)}")
        opts = {**ATTRIBUTE_DEFAULTS, **given}
        fuse(torch.zeros(1), torch.zeros(1), float(opts["fusion_weight"]))  # validates the weight
        for key in ("prompt", "category_template"):
            check_template(opts[key], f"BIKEHead.attributes.{key}")
        return opts

    @property
    def attributes_used(self) -> bool:
        """The Attributes branch is built when it is fused at inference or trained."""
        return bool(self.attr["enabled"]) or "attributes" in self.train_branches

    def _build_attributes(self) -> None:
        a = self.attr
        if not self.attributes_used:  # placeholders keep the module names the method info lists
            self.attr_encoder, self.attr_teacher = nn.Module(), nn.Module()
            return
        for key in ("lexicon", "encoder", "teacher"):
            if a[key] is None:
                raise ConfigError(f"BIKEHead.attributes.{key} is needed when the Attributes branch is enabled or "
                                  f"trained")
        enc, teacher = dict(a["encoder"]), dict(a["teacher"])
        named = dict(a["lexicons"] or {})  # named lexicons of a size ("k400", "in1k"), chosen by name in grids
        lexicon = named[a["lexicon"]] if isinstance(a["lexicon"], str) and a["lexicon"] in named else a["lexicon"]
        self.attr_encoder = CLIPTextTower(enc["clip_arch"], enc.get("clip_weights"),
                                          frozen="attributes" not in self.train_branches)
        self.attr_teacher = AttributeGenerator(teacher["clip_arch"], lexicon, teacher.get("clip_weights"),
                                               num=a["num"], num_frames=int(teacher.get("num_frames", 8)),
                                               cache=bool(a["cache"]))

    # -- category embeddings ------------------------------------------------------------------
    def _video_categories(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        cls, tokens, mask = self.category_encoder.encode(names, self.category_template)
        keep = mask.any(dim=0).nonzero().flatten()  # only the columns that hold name tokens
        words, mask = tokens[:, keep], mask[:, keep]
        mean_words = (words * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return {"cls": cls, "words": words, "word_mask": mask, "mean_words": mean_words}

    def _attr_categories(self, names: Sequence[str]) -> torch.Tensor:
        return self.attr_encoder.encode(names, self.attr["category_template"])[0]

    def _attr_category_dict(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"cls": self._attr_categories(names)}

    def _video_categories_shape(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Zeros shaped as ``_video_categories(names)`` (FLOP tracing), from the tokens alone."""
        enc = self.category_encoder
        mask = enc.name_mask(names, self.category_template,
                             enc.tokenize([self.category_template.format(n) for n in names]))
        mask = mask[:, mask.any(dim=0).nonzero().flatten()]
        c, d = len(names), enc.embed_dim
        return {"cls": torch.zeros(c, d), "words": torch.zeros(c, mask.shape[1], d), "word_mask": mask,
                "mean_words": torch.zeros(c, d)}

    def _attr_categories_shape(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"cls": torch.zeros(len(names), self.attr_encoder.embed_dim)}

    def _text_probe(self) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        """The category encoder on one prompt (FLOPs counted once and scaled by the classes)."""
        return self.category_encoder, (self.category_encoder.tokenize(
            [self.category_template.format(self.class_names[0])]),)

    def _attr_probe(self) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
        return self.attr_encoder, (self.attr_encoder.tokenize(
            [self.attr["category_template"].format(self.class_names[0])]),)

    def set_class_names(self, names: Sequence[str]) -> None:
        """Score against ``names`` from now on (zero-shot transfer); encoded on first use."""
        enc = self.category_encoder  # names are checked now (tokens only); the encoder runs on first use
        enc.name_mask(names, self.category_template, enc.tokenize([self.category_template.format(n) for n in names]))
        self.class_names = list(names)
        self.num_classes = len(self.class_names)
        self.video_text.set_names(self.class_names)
        if self.attr_text is not None:
            self.attr_text.set_names(self.class_names)

    def train(self, mode: bool = True) -> BIKEHead:
        """Entering eval mode refreshes the class embeddings of a text encoder that was being trained."""
        was_training = self.training
        super().train(mode)
        trained_text = not self.category_frozen or (self.attributes_used and "attributes" in self.train_branches)
        if was_training and not mode and trained_text and self.class_names:
            self.set_class_names(self.class_names)
        return self

    def video_categories(self, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        if names is not None or (not self.category_frozen and self.training):
            return self._video_categories(names if names is not None else self.class_names)
        return self.video_text.get()

    def attr_categories(self, names: Sequence[str] | None = None) -> torch.Tensor:
        if names is not None or ("attributes" in self.train_branches and self.training):
            return self._attr_categories(names if names is not None else self.class_names)
        return self.attr_text.get()["cls"]

    # -- scores -------------------------------------------------------------------------------
    def video_scores(self, frames: torch.Tensor, cats: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, C)`` scaled similarities of the Video branch (VCS or mean pooling)."""
        if self.vcs_source == "words":
            words, mask = cats["words"], cats["word_mask"]
        else:  # the sentence [CLS] embedding as the only "word" (Table 6b, CLS for VCS)
            words, mask = cats["cls"][:, None], torch.ones_like(cats["cls"][:, :1], dtype=torch.bool)
        recog = cats["cls"] if self.recognition_source == "cls" else cats["mean_words"]
        sims = category_scores(frames, recog, words, mask, self.aggregation, self.vcs_temperature)
        return sims / self.temperature

    def attribute_sentences(self, clips: torch.Tensor | None, filenames) -> list[str]:
        phrases, _ = self.attr_teacher(clips, filenames)
        return [attribute_sentence(p, self.attr["prompt"]) for p in phrases]

    def attribute_scores(self, sentences: Sequence[str], cat_embeds: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` scaled similarities of the attributes sentences with the categories."""
        device = cat_embeds.device
        emb = self.attr_encoder(self.attr_encoder.tokenize(sentences).to(device))[0]
        return F.normalize(emb, dim=-1) @ F.normalize(cat_embeds, dim=-1).t() / self.temperature

    def forward(self, frames: torch.Tensor, **kwargs) -> torch.Tensor:
        """Video-branch scores ``(B, C)`` of frame embeddings (MMAction2's head interface)."""
        return self.video_scores(frames, self.video_categories())

    def predict_scores(self, frames: torch.Tensor, views: int, clips: torch.Tensor | None,
                       filenames) -> torch.Tensor:
        """Class scores per video: views averaged (``average_clips``), then Eq. (4) when attributes are fused."""
        video = self.average_clip(self.video_scores(frames, self.video_categories()), num_segs=views)
        if not self.attr["enabled"]:
            return video
        video_probs = video if self.average_clips == "prob" else video.softmax(dim=-1)
        attr = self.attribute_scores(self.attribute_sentences(clips, filenames), self.attr_categories())
        return fuse(video_probs, attr.softmax(dim=-1), float(self.attr["fusion_weight"]))

    # -- training -----------------------------------------------------------------------------
    def loss_branches(self, frames: torch.Tensor, labels: torch.Tensor, clips: torch.Tensor,
                      filenames) -> dict[str, torch.Tensor]:
        """Eq. (9): the InfoNCE of each trained branch over the (globally gathered) batch."""
        losses: dict[str, torch.Tensor] = {}
        if "video" in self.train_branches:
            cats = self.video_categories()

            def video_pairs(all_frames: torch.Tensor, all_labels: torch.Tensor) -> torch.Tensor:
                return self.video_scores(all_frames, {k: v[all_labels] for k, v in cats.items()})

            losses["loss_video"] = distributed_infonce((frames,), labels, video_pairs)
        if "attributes" in self.train_branches:
            cat_embeds = self.attr_categories()
            with torch.no_grad():
                sentences = self.attribute_sentences(clips, filenames)
            tokens = self.attr_encoder.tokenize(sentences).to(frames.device)
            emb = self.attr_encoder(tokens)[0]

            def attr_pairs(all_emb: torch.Tensor, all_labels: torch.Tensor) -> torch.Tensor:
                return F.normalize(all_emb, dim=-1) @ F.normalize(cat_embeds[all_labels], dim=-1).t() / self.temperature

            losses["loss_attributes"] = distributed_infonce((emb,), labels, attr_pairs)
        return losses
