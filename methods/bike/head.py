"""``BIKEHead``: bike's Video branch (VCS, Sec. 2.3) and Attributes branch (Sec. 2.2), fused by Eq. (4).

Defaults reproduce what the public code (whwu95/BIKE) computes; the paper's wording is a switch where the
two differ (``methods/bike/README.md`` lists each with the public file and function):

- training logits are the similarities times CLIP's learnable ``logit_scale.exp()`` (``logit_scale='learned'``,
  trained at the CLIP rate; ``'fixed'`` = ``1 / temperature``, the paper's 0.01);
- at inference the scores are the unscaled similarities divided by ``test_temperature`` (1.0: the public
  code's ``validate`` takes ``softmax`` of the raw cosines, averages views, and fuses those);
- Eq. (4): ``p = lambda * softmax(s_video / tau) + (1 - lambda) * softmax(s_attr / tau)`` with lambda =
  ``attributes.fusion_weight`` (0.7, ``utils/utils.py`` ``fusion_acc``; the paper: 0.6 ViT-B, 0.8 ViT-L);
- the Attributes branch trains two MLPs on a frozen text encoder (``attributes.train='mlp'``, the public
  ``modules/video_clip.py`` ``sentence_text_logit``; ``'encoder'`` trains the encoder itself).

Class-name embeddings of a frozen encoder are computed once per class list, on first use after
``set_class_names`` (``bench.models.class_text``), so a zero-shot evaluation only swaps them.
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
from methods.bike.attributes import AttributeGenerator, attribute_sentence, sentence_fit
from methods.bike.attributes import log as attr_log
from methods.bike.losses import LOSSES, distributed_infonce
from methods.bike.text import CLIPTextTower, check_template
from methods.bike.vcs import AGGREGATIONS, MEAN_POOLS, category_scores

SOURCES = ("words", "cls")
BRANCHES = ("video", "attributes")
VCS_WORDS = ("context", "name")
LOGIT_SCALES = ("learned", "fixed")
ATTRIBUTE_TRAINING = ("mlp", "encoder")
ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "enabled": False, "fusion_weight": 0.7, "num": 5, "prompt": "This is a video about {}",
    "category_template": "This is a video about {}", "lexicon": None, "encoder": None, "teacher": None,
    "cache": True, "lexicons": {}, "train": "mlp",
}


class SentenceHead(nn.Module):
    """The public code's ``sentence_text_logit``: two MLPs (Linear-ReLU-Linear) on normalised [CLS] embeddings.

    ``forward(sentences (N, D), categories (C, D))`` -> ``(N, C)`` cosines of ``sentence_fc(s_hat)`` with
    ``query_fc(c_hat)`` (unscaled). Weights N(0, 0.02), biases 0, as its ``init_weights``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query_fc = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        self.sentence_fc = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, sentences: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        s = F.normalize(self.sentence_fc(F.normalize(sentences, dim=-1)), dim=-1)
        c = F.normalize(self.query_fc(F.normalize(categories, dim=-1)), dim=-1)
        return s @ c.t()


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
        vcs_words: the positions whose word-to-frame distributions are averaged: ``'context'`` (every
            position of the prompted sentence, the public code) or ``'name'`` (the name's own tokens).
        vcs_renormalise: score the spotted video by its cosine (True) or, as the public code, by
            ``v_att . c_hat`` (False).
        mean_pool: the baseline's pooling (``aggregation='mean'``): ``'raw'`` (mean of the raw frames, then
            normalised: the public code's 'DP') or ``'normalised'`` (mean of the normalised frames).
        logit_scale: ``'learned'`` (CLIP's learnable scale, initialised from the CLIP and trained at the
            CLIP rate: the public code) or ``'fixed'`` (``1 / temperature``, the paper).
        temperature: of the training logits when ``logit_scale='fixed'`` (0.01).
        test_temperature: the inference scores are the similarities divided by it (1.0: the public code
            averages views and fuses softmaxes of the raw cosines).
        loss: ``'nce_kl'`` (the public code's NCELoss) or ``'soft_ce'`` (see ``losses``).
        category_frozen: freeze the category encoder (Table 6a last row).
        attributes: the Attributes branch (keys of ``ATTRIBUTE_DEFAULTS``): ``enabled`` fuses it
            at inference; ``encoder`` / ``teacher`` are ``{clip_arch, clip_weights}`` (the teacher
            also ``num_frames``); ``lexicon`` see ``attributes.resolve_lexicon``; ``train``: ``'mlp'``
            (frozen encoder + ``SentenceHead`` + its own learnable logit scale, the public code's
            ``train_attributes.py``) or ``'encoder'`` (the attribute encoder itself is trained).
        train_branches: the branches whose loss is trained (``['video']`` first, then
            ``['attributes']``; both at once sums Eq. (9)). A branch not trained is frozen.
    """

    def __init__(self, clip_arch: str, class_names, clip_weights: str | None = None,
                 category_template: str = "This is a video about {}", aggregation: str = "vcs",
                 vcs_source: str = "words", recognition_source: str = "cls", vcs_temperature: float = 0.01,
                 vcs_words: str = "context", vcs_renormalise: bool = False, mean_pool: str = "raw",
                 logit_scale: str = "learned", temperature: float = 0.01, test_temperature: float = 1.0,
                 loss: str = "nce_kl", category_frozen: bool = True, attributes: dict | None = None,
                 train_branches: Sequence[str] = ("video",), **kwargs) -> None:
        names = resolve_class_names(class_names, where="BIKEHead.class_names")
        kwargs.setdefault("loss_cls", dict(type="CrossEntropyLoss"))
        encoder = CLIPTextTower(clip_arch, clip_weights, frozen=category_frozen)
        super().__init__(num_classes=len(names), in_channels=encoder.embed_dim, **kwargs)
        self.category_encoder = encoder
        self._check(category_template, aggregation, vcs_source, recognition_source, temperature, train_branches)
        self._check_choices(vcs_words=(vcs_words, VCS_WORDS), mean_pool=(mean_pool, MEAN_POOLS),
                            logit_scale=(logit_scale, LOGIT_SCALES), loss=(loss, LOSSES))
        if not test_temperature > 0:
            raise ConfigError(f"BIKEHead.test_temperature={test_temperature!r}: must be > 0 (1.0 = the public code)")
        self.category_template, self.aggregation = category_template, aggregation
        self.vcs_source, self.recognition_source = vcs_source, recognition_source
        self.vcs_temperature, self.temperature = vcs_temperature, temperature
        self.vcs_words, self.vcs_renormalise, self.mean_pool = vcs_words, bool(vcs_renormalise), mean_pool
        self.logit_scale_mode, self.test_temperature, self.loss_kind = logit_scale, float(test_temperature), loss
        if logit_scale == "learned":  # CLIP's own (log) scale: 100 for the OpenAI weights
            self.logit_scale = nn.Parameter(self._clip_logit_scale(encoder))
        self.category_frozen, self.train_branches = category_frozen, tuple(train_branches)
        self.attr = self._attribute_options(attributes)
        self._build_attributes()
        self.class_names: list[str] = []
        # class embeddings are computed on first use, through the text-embedding cache (bench.models.class_text)
        self.video_text = LazyClassText(
            f"open_clip:{clip_arch}", encoder, f"bike/video_categories/{vcs_words}", [category_template],
            compute=self._video_categories, placeholder=self._video_categories_shape, cache=category_frozen,
            probe=self._text_probe)
        self.attr_text = LazyClassText(
            f"open_clip:{(self.attr['encoder'] or {}).get('clip_arch', clip_arch)}", self.attr_encoder,
            "bike/attr_categories", [self.attr["category_template"]], compute=self._attr_category_dict,
            placeholder=self._attr_categories_shape, cache=not self.attr_encoder_trained,
            probe=self._attr_probe) if self.attributes_used else None
        self.set_class_names(names)

    @staticmethod
    def _clip_logit_scale(tower: CLIPTextTower) -> torch.Tensor:
        p = getattr(tower.clip, "logit_scale", None)
        if p is None:
            raise ConfigError("BIKEHead.logit_scale='learned': this CLIP has no logit_scale; use 'fixed'")
        return p.detach().clone().float().reshape(())

    @staticmethod
    def _check_choices(**given) -> None:
        for key, (val, accepted) in given.items():
            if val not in accepted:
                raise ConfigError(f"BIKEHead.{key}={val!r}; accepted: {', '.join(accepted)}")

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
        if opts["train"] not in ATTRIBUTE_TRAINING:
            raise ConfigError(f"BIKEHead.attributes.train={opts['train']!r}; accepted: {', '.join(ATTRIBUTE_TRAINING)}")
        return opts

    @property
    def attr_encoder_trained(self) -> bool:
        """The attribute encoder's own weights are trained (``attributes.train='encoder'``)."""
        return "attributes" in self.train_branches and self.attr["train"] == "encoder"

    @property
    def attr_mlp_trained(self) -> bool:
        """The Attributes branch trains ``SentenceHead`` on the frozen encoder (``attributes.train='mlp'``)."""
        return "attributes" in self.train_branches and self.attr["train"] == "mlp"

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
                                          frozen=not self.attr_encoder_trained)
        if self.attr_mlp_trained:  # the public code's sentence_text_logit
            self.attr_head = SentenceHead(self.attr_encoder.embed_dim)
        if "attributes" in self.train_branches and self.logit_scale_mode == "learned":
            # train_attributes.py is a second run with its own CLIP, so its own learnable logit scale
            self.attr_logit_scale = nn.Parameter(self._clip_logit_scale(self.attr_encoder))
        self.attr_teacher = AttributeGenerator(teacher["clip_arch"], lexicon, teacher.get("clip_weights"),
                                               num=a["num"], num_frames=int(teacher.get("num_frames", 8)),
                                               cache=bool(a["cache"]))
        self.attr_fit = sentence_fit(self.attr_encoder.tokenizer, self.attr_teacher.phrases, a["num"], a["prompt"])
        if self.attr_fit["longest"] > self.attr_fit["context"]:
            f = self.attr_fit
            attr_log.warning(
                "bike attributes: a sentence of attributes.num=%d phrases needs %d-%d tokens, the attribute encoder "
                "%s reads %d: the tokenizer cuts it, and only %d phrase(s) are sure to be read whole (%s)", a["num"],
                f["shortest"], f["longest"], enc["clip_arch"], f["context"], f["fits_always"],
                "every sentence is cut: attributes.num has no effect past that" if f["shortest"] > f["context"]
                else "long phrases are cut")

    # -- category embeddings ------------------------------------------------------------------
    def _video_categories(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        cls, tokens, name_mask = self.category_encoder.encode(names, self.category_template)
        # recognition with word embeddings (Table 6b) has no public code: the mean of the name's own tokens
        mean_words = (tokens * name_mask[..., None]).sum(1) / name_mask.sum(1, keepdim=True)
        if self.vcs_words == "context":  # every position of the prompted sentence (public code: all 77)
            words, mask = tokens, torch.ones_like(name_mask)
        else:
            keep = name_mask.any(dim=0).nonzero().flatten()  # only the columns that hold name tokens
            words, mask = tokens[:, keep], name_mask[:, keep]
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
        if self.vcs_words == "context":  # every position of the prompted sentence, as _video_categories
            mask = torch.ones_like(mask)
        else:
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
        trained_text = not self.category_frozen or (self.attributes_used and self.attr_encoder_trained)
        if was_training and not mode and trained_text and self.class_names:
            self.set_class_names(self.class_names)
        return self

    def video_categories(self, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        if names is not None or (not self.category_frozen and self.training):
            return self._video_categories(names if names is not None else self.class_names)
        p = next(self.category_encoder.parameters())  # the embeddings follow the model's device and dtype
        return {k: v.to(p.device, p.dtype) if v.is_floating_point() else v.to(p.device)
                for k, v in self.video_text.get().items()}

    def attr_categories(self, names: Sequence[str] | None = None) -> torch.Tensor:
        if names is not None or (self.attr_encoder_trained and self.training):
            return self._attr_categories(names if names is not None else self.class_names)
        p = next(self.attr_encoder.parameters())
        return self.attr_text.get()["cls"].to(p.device, p.dtype)

    # -- scores -------------------------------------------------------------------------------
    def train_scale(self, branch: str = "video") -> torch.Tensor | float:
        """The factor of the training logits: ``exp(logit_scale)`` (learned) or ``1 / temperature`` (fixed)."""
        if self.logit_scale_mode == "fixed":
            return 1.0 / self.temperature
        return (self.attr_logit_scale if branch == "attributes" else self.logit_scale).exp()

    def video_sims(self, frames: torch.Tensor, cats: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, C)`` unscaled similarities of the Video branch (VCS or mean pooling)."""
        if self.vcs_source == "words":
            words, mask = cats["words"], cats["word_mask"]
        else:  # the sentence [CLS] embedding as the only "word" (Table 6b, CLS for VCS)
            words, mask = cats["cls"][:, None], torch.ones_like(cats["cls"][:, :1], dtype=torch.bool)
        recog = cats["cls"] if self.recognition_source == "cls" else cats["mean_words"]
        return category_scores(frames, recog, words, mask, self.aggregation, self.vcs_temperature,
                               renormalise=self.vcs_renormalise, mean_pool=self.mean_pool)

    def video_scores(self, frames: torch.Tensor, cats: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, C)`` inference scores of the Video branch: similarities / ``test_temperature``."""
        return self.video_sims(frames, cats) / self.test_temperature

    def attribute_sentences(self, clips: torch.Tensor | None, filenames) -> list[str]:
        phrases, _ = self.attr_teacher(clips, filenames)
        return [attribute_sentence(p, self.attr["prompt"]) for p in phrases]

    def attribute_sims(self, sentence_embeds: torch.Tensor, cat_embeds: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` unscaled similarities of attribute-sentence embeddings with category embeddings
        (through ``SentenceHead`` when the branch trains it, else their cosines)."""
        if self.attr_mlp_trained:
            return self.attr_head(sentence_embeds, cat_embeds)
        return F.normalize(sentence_embeds, dim=-1) @ F.normalize(cat_embeds, dim=-1).t()

    def attribute_scores(self, sentences: Sequence[str], cat_embeds: torch.Tensor) -> torch.Tensor:
        """``(B, C)`` inference scores of the attributes sentences: similarities / ``test_temperature``."""
        device = cat_embeds.device
        emb = self.attr_encoder(self.attr_encoder.tokenize(sentences).to(device))[0]
        return self.attribute_sims(emb, cat_embeds) / self.test_temperature

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
                sims = self.video_sims(all_frames, {k: v[all_labels] for k, v in cats.items()})
                return self.train_scale("video") * sims

            losses["loss_video"] = distributed_infonce((frames,), labels, video_pairs, self.loss_kind)
        if "attributes" in self.train_branches:
            cat_embeds = self.attr_categories()
            with torch.no_grad():
                sentences = self.attribute_sentences(clips, filenames)
            tokens = self.attr_encoder.tokenize(sentences).to(frames.device)
            if self.attr_encoder_trained:
                emb = self.attr_encoder(tokens)[0]
            else:  # frozen encoder: only SentenceHead (and its logit scale) learn
                with torch.no_grad():
                    emb = self.attr_encoder(tokens)[0]

            def attr_pairs(all_emb: torch.Tensor, all_labels: torch.Tensor) -> torch.Tensor:
                return self.train_scale("attributes") * self.attribute_sims(all_emb, cat_embeds[all_labels])

            losses["loss_attributes"] = distributed_infonce((emb,), labels, attr_pairs, self.loss_kind)
        return losses
