"""vlc's head: average pooling, the classifier Phi (Eqs. 2-4), the text projection Phi_m (Eq. 11) and
the description bank with its L_text (Eq. 12).

Inference (section 3.4): fully supervised, Phi's logits; zero-shot (or when L_ce is off, so Phi is
never trained), the similarity of ``Phi_m(Z_v^cls)`` with each class's text candidates (its
descriptions and its name), reduced per class (``zs_reduce``: max or mean), divided by tau.

A switched-off loss builds no parameters: without L_ce there is no Phi, without L_text no Phi_m,
so the optimiser never sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn

from bench.data.labels import resolve_class_names
from bench.errors import ConfigError
from methods.vlc import descriptions
from methods.vlc.losses import assign_texts, candidate_scores, text_contrastive_loss

log = logging.getLogger(__name__)
SCORING = ("auto", "linear", "text")
REDUCE = ("max", "mean")
KEYWORD_TEXTS = ("naclip", "bare")


@MODELS.register_module()
class VLCHead(BaseHead):
    """Pool -> Phi (logits) and Phi_m (text space); the description bank lives here.

    Args:
        num_classes / in_channels: C and the video width D.
        class_names: training classes (a list, a CSV, or ``{"dataset": name}``).
        clip_arch / clip_weights: the CLIP whose text encoder embeds the bank (the teacher's CLIP).
        text: where the bank comes from (``descriptions.TEXT_DEFAULTS``).
        use_ce / use_text: whether L_ce / L_text are on (set by the recognizer from ``losses``).
        num_positives / num_negatives: p and k of the assignment (section 3.3.2).
        num_negatives_scale: k used = round(num_negatives x scale) (1.0 = as given).
        temperature: tau of Eq. (12).
        zs_reduce: how a class's candidate scores become its zero-shot score.
        test_scoring: ``auto`` (Phi when L_ce trained it and the classes are the training ones, else text),
            ``linear`` or ``text``.
        eager_bank: collect the bank's text at build time, so that bad input fails early; False, or a build
            without CLIP weights (FLOPs counting, build tests), defers it to first use.
        use_keywords: the cross-attention gate needs the bank's keywords (set by the recognizer).
        keyword_text: how a keyword is embedded for the gate (set by the recognizer from ``gate.keyword_text``):
            ``"naclip"``, the mean of its 80 CLIP ImageNet template embeddings, or ``"bare"``.
    """

    def __init__(self, num_classes: int, in_channels: int, class_names: Any, clip_arch: str,
                 clip_weights: str | None = None, text: dict[str, Any] | None = None, use_ce: bool = True,
                 use_text: bool = True, num_positives: int = 1, num_negatives: int = 1200,
                 temperature: float = 0.07, zs_reduce: str = "max", test_scoring: str = "auto",
                 num_negatives_scale: float = 1.0,
                 dropout_ratio: float = 0.0, eager_bank: bool = True, use_keywords: bool = False,
                 keyword_text: str = "naclip", **kwargs) -> None:
        names = resolve_class_names(class_names, where="VLCHead.class_names")
        if len(names) != num_classes:  # the class list decides (protocols set both; a config's default may lag)
            log.info("VLCHead: num_classes=%d but %d class_names; using the class names", num_classes, len(names))
        super().__init__(num_classes=len(names), in_channels=in_channels, **kwargs)
        if zs_reduce not in REDUCE or test_scoring not in SCORING:
            raise ConfigError(f"VLCHead: zs_reduce={zs_reduce!r} (accepted {REDUCE}), test_scoring={test_scoring!r} "
                              f"(accepted {SCORING})")
        if not use_ce and test_scoring == "linear":
            raise ConfigError("VLCHead: test_scoring='linear' needs L_ce (Phi is only trained by L_ce)")
        if num_positives < 1 or num_negatives < 1:
            raise ConfigError(f"VLCHead: num_positives={num_positives} and num_negatives={num_negatives} must be >= 1")
        self.text_opts = descriptions.text_options(text, "VLCHead.text")
        self.clip_arch, self.clip_weights = clip_arch, clip_weights
        self.use_ce, self.use_text = use_ce, use_text
        # k actually used: num_negatives x num_negatives_scale (the synthetic banks are far smaller than the
        # paper's; a grid sweeps the paper's k and the default profile scales it, README: choices).
        self.k_nominal = int(num_negatives)
        self.k = max(1, round(num_negatives * float(num_negatives_scale)))
        self.p, self.tau = int(num_positives), float(temperature)
        self.zs_reduce, self.test_scoring = zs_reduce, test_scoring
        self.train_classes = list(names)
        self.class_names = list(names)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, len(names)) if use_ce else None  # Phi, Eq. (2)
        if keyword_text not in KEYWORD_TEXTS:
            raise ConfigError(f"VLCHead.keyword_text={keyword_text!r}; accepted: {KEYWORD_TEXTS}")
        self.use_keywords, self.keyword_text = use_keywords, keyword_text
        self.text_dim = int(descriptions_dim(clip_arch, clip_weights)) if use_text or use_keywords else 0
        # Phi_m, Eq. (11), also the zero-shot scorer; a parameter-free placeholder when L_text is off (the
        # harness names this submodule as the text branch, so it always exists).
        self.text_proj = nn.Linear(in_channels, self.text_dim) if use_text else nn.Identity()
        self.bank: descriptions.DescriptionBank | None = None
        self._emb: dict[str, torch.Tensor] | None = None
        if eager_bank and (use_text or use_keywords) and clip_weights is not None:
            self.bank = self._collect(self.class_names)
        elif use_text or use_keywords:
            log.info("VLCHead: description bank deferred to first use (eager_bank=%s, clip_weights=%s)", eager_bank,
                     clip_weights)

    # -- description bank ----------------------------------------------------------------
    def _collect(self, names: Sequence[str]) -> descriptions.DescriptionBank:
        bank = descriptions.collect(names, self.text_opts)
        if self.use_text and list(names) == self.train_classes:
            self._check_assignment(bank)
        return bank

    def _check_assignment(self, bank: descriptions.DescriptionBank) -> None:
        avail = bank.min_negatives()
        if self.k > avail:
            raise ConfigError(f"VLCHead.num_negatives={self.k_nominal} (k = {self.k} after num_negatives_scale) but "
                              f"the description bank of {len(bank.classes)} classes offers at most {avail} negatives "
                              f"to some class (descriptions outside its class); accepted k: 1..{avail}")
        fewest = min(len(bank.descriptions[c]) for c in bank.classes) + 1
        if self.p > fewest:
            raise ConfigError(f"VLCHead.num_positives={self.p} but some class has only {fewest} positive candidates "
                              f"(its descriptions and its name); accepted: 1..{fewest}")

    def embeddings(self) -> dict[str, torch.Tensor]:
        """``candidates (N + C, E)``, ``owner (N,)``, ``keywords`` per class (embedded lazily, cached on disk)."""
        if self._emb is None:
            if self.bank is None:
                self.bank = self._collect(self.class_names)
            texts, owner = self.bank.flat()
            names = [self.bank.names[c] for c in self.bank.classes]
            emb = descriptions.embed_texts(texts + names, self.clip_arch, self.clip_weights)
            kws = sorted({k for c in self.bank.classes for k in self.bank.keywords[c]})
            kw_emb = keyword_embeddings(kws, self.clip_arch, self.clip_weights, self.keyword_text)
            device = self.text_proj.weight.device if self.use_text else torch.device("cpu")
            self._emb = {"candidates": emb.to(device), "owner": torch.tensor(owner, device=device),
                         "keyword_index": {k: i for i, k in enumerate(kws)}, "keywords": kw_emb.to(device)}
        return self._emb

    def set_class_names(self, names: Sequence[str]) -> None:
        """Score against ``names`` from now on (zero-shot): a new bank for them, text scoring."""
        self.class_names = list(names)
        self.num_classes = len(self.class_names)
        self.bank, self._emb = self._collect(self.class_names), None

    # -- forward ---------------------------------------------------------------------------
    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Average pooling of the patch tokens ``(B, D, T', h, w)`` -> ``Z_v^cls (B, D)`` (section 3.1).

        A fine-tuned video model's ``fc_norm`` follows the pooling (``VLCVideoEncoder.post_pool``, set by
        the recognizer as a plain attribute), as in the released models.
        """
        feat = x.flatten(2).mean(dim=2)
        post = self.__dict__.get("post_pool")
        return feat if post is None else post(feat)

    def scoring(self) -> str:
        if self.test_scoring != "auto":
            return self.test_scoring
        return "linear" if self.fc_cls is not None and self.class_names == self.train_classes else "text"

    def text_logits(self, feat: torch.Tensor) -> torch.Tensor:
        """Zero-shot logits: ``Phi_m(Z)`` against each class's candidates, reduced per class, over tau."""
        if not self.use_text:
            raise ConfigError("VLCHead: text scoring (zero-shot, or inference without L_ce) needs Phi_m, which "
                              "exists only with L_text on (losses.text=True)")
        emb = self.embeddings()
        z = F.normalize(self.text_proj(feat), dim=-1)
        sims = z @ emb["candidates"].to(z.device).t()  # (B, N + C)
        c = len(self.class_names)
        n = emb["owner"].numel()
        owner = torch.cat([emb["owner"].to(z.device), torch.arange(c, device=z.device)])
        member = (owner[None, :] == torch.arange(c, device=z.device)[:, None])  # (C, N + C)
        if self.zs_reduce == "max":
            out = sims[:, None, :].masked_fill(~member[None], float("-inf")).amax(dim=-1)
        else:
            out = (sims @ member.t().to(sims.dtype)) / member.sum(1).to(sims.dtype)
        assert out.shape[1] == c and n + c == sims.shape[1]
        return out / self.tau

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Class scores of ``(B, D, T', h, w)`` token maps (supervised: Phi; zero-shot: text)."""
        feat = self.dropout(self.pool(x))
        if self.scoring() == "linear":
            return self.fc_cls(feat)
        return self.text_logits(feat)

    def losses(self, x: torch.Tensor, labels: torch.Tensor, frame_cls: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """L_ce (Eq. 4) and L_text (Eq. 12) of a batch; ``frame_cls (B, T, E)`` from the teacher for L_text."""
        feat = self.dropout(self.pool(x))
        out: dict[str, torch.Tensor] = {}
        if self.fc_cls is not None:
            logits = self.fc_cls(feat)
            out["loss_ce"] = F.cross_entropy(logits, labels)
            out["top1_acc"] = (logits.argmax(-1) == labels).float().mean().detach()
        if self.use_text:
            if frame_cls is None:
                raise ConfigError("VLCHead: L_text needs the teacher's frame embeddings")
            emb = self.embeddings()
            cand = emb["candidates"].to(feat.device)
            with torch.no_grad():
                scores = candidate_scores(frame_cls.to(cand.dtype), cand)
                pos, neg = assign_texts(scores, labels, emb["owner"].to(feat.device), len(self.class_names),
                                        self.p, self.k)
            z = F.normalize(self.text_proj(feat), dim=-1)
            out["loss_text"] = text_contrastive_loss(z, cand, pos, neg, self.tau)
        return out

    def keywords_of(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keyword embeddings ``(B, W, E)`` of each clip's class and their validity ``(B, W)`` (cross-attention)."""
        emb = self.embeddings()
        rows = [[emb["keyword_index"][k] for k in self.bank.keywords[self.class_names[int(y)]]] for y in labels]
        width = max(1, max(len(r) for r in rows))
        idx = torch.zeros(len(rows), width, dtype=torch.long)
        valid = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, r in enumerate(rows):
            idx[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            valid[i, : len(r)] = True
        kw = emb["keywords"]
        if kw.numel() == 0:
            return torch.zeros(len(rows), width, self.text_dim, device=labels.device), valid.to(labels.device)
        return kw[idx.to(kw.device)].to(labels.device), valid.to(labels.device)


def keyword_embeddings(keywords: list[str], arch: str, weights: str | None, mode: str = "naclip") -> torch.Tensor:
    """``(W, E)`` gate query embeddings of ``keywords``.

    ``"naclip"``: NACLIP's query embedding (sinahmr/NACLIP, ``naclip.py``, ``NACLIP.__init__``): every one of
    the 80 CLIP ImageNet templates (``open_clip.zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES``, NACLIP's
    ``openai_imagenet_template``) filled with the keyword, each text embedding L2-normalised, averaged over the
    templates, normalised again. ``"bare"``: the keyword's own normalised embedding.
    """
    if not keywords:
        return torch.empty(0)
    if mode == "bare":
        return descriptions.embed_texts(keywords, arch, weights)
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    texts = [t(k) for k in keywords for t in OPENAI_IMAGENET_TEMPLATES]
    emb = descriptions.embed_texts(texts, arch, weights).view(len(keywords), len(OPENAI_IMAGENET_TEMPLATES), -1)
    return F.normalize(emb.mean(dim=1), dim=-1)


def descriptions_dim(arch: str, weights: str | None) -> int:
    """Width of the CLIP joint embedding space (the text projection's output)."""
    from methods.vlc.teacher import shared_clip

    proj = shared_clip(arch, weights).text_projection
    return int(proj.shape[-1] if isinstance(proj, torch.Tensor) else proj.out_features)
