"""Video-Attributes Association, bike paper Sec. 2.2: pre-generated attributes per video.

A frozen CLIP (ViT-L/14 over 8 frames in the paper, appendix A.2; the tiny CLIP on the
synthetic world) encodes frames, mean-pools them into a video embedding, and scores it against
the text embeddings of a lexicon of phrases (Kinetics-400 class names, ImageNet-1K class names,
or the synthetic world's factor phrases, Table 6g). The top-n phrases (n=5, Table 6d) are
joined into one sentence behind the prompt "This is a video about {}" (Table 6c).

Per video, the teacher's pooled embedding is computed once from the video file (its own
deterministic sampling: centres of ``num_frames`` equal segments, short side resized to the
teacher's input, centre crop) and kept in ``bench.models.cache.TeacherFeatureCache``; the
lexicon embeddings go through ``TextEmbeddingCache``. A clip given without a file name (raw
tensors, FLOPs counting) is described from its own frames.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)
CLIP_MEAN = (122.770938, 116.7460125, 104.09373615)
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)


def _read_phrases(path: Path, where: str) -> list[str]:
    if not path.is_file():
        raise ConfigError(f"{where}: lexicon file {path} does not exist (one phrase per line, or an id,name CSV)")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if lines and lines[0].replace(" ", "").lower() == "id,name":
        return [row[1] for row in csv.reader(lines[1:])]
    return lines


def resolve_lexicon(value: Any, where: str = "lexicon") -> list[str]:
    """The lexicon's phrases from a config value (first occurrence order, duplicates dropped).

    Accepted: a list of phrases; a label CSV name or path (``kinetics400.csv``); ``{"dataset": name}``
    (its class names, Table 6g "K400");
    ``{"file": path}`` (a phrase per line or an ``id,name`` CSV, e.g. ImageNet-1K class names);
    ``{"artefact": dataset[, "tag": t]}`` (the ``attribute_lexicon`` text artefact, built with the
    offline provider when missing); ``{"synthetic_world": dataset}`` (every factor value of the
    synthetic world as a phrase, the oracle's lexicon).
    """
    if isinstance(value, list | tuple):
        phrases = [str(v) for v in value]
    elif isinstance(value, str):  # a label CSV of protocols/labels (kinetics400.csv) or a path
        from bench.data.labels import resolve_class_names

        phrases = resolve_class_names(value, where=where)
    elif isinstance(value, dict) and set(value) == {"dataset"}:
        from bench.data.labels import resolve_class_names

        phrases = resolve_class_names(dict(value), where=where)
    elif isinstance(value, dict) and set(value) == {"file"}:
        phrases = _read_phrases(Path(str(value["file"])).expanduser(), where)
    elif isinstance(value, dict) and "artefact" in value and set(value) <= {"artefact", "tag"}:
        phrases = _artefact_lexicon(str(value["artefact"]), value.get("tag"), where)
    elif isinstance(value, dict) and set(value) == {"synthetic_world"}:
        from bench.data.synthetic.oracle import oracle_for

        phrases = oracle_for(str(value["synthetic_world"])).attribute_lexicon()
    else:
        raise ConfigError(f"{where}={value!r}: expected a list of phrases, {{'dataset': name}}, {{'file': path}}, "
                          f"{{'artefact': dataset}} or {{'synthetic_world': dataset}}")
    phrases = list(dict.fromkeys(p.strip() for p in phrases if p and p.strip()))
    if not phrases:
        raise ConfigError(f"{where}={value!r}: the lexicon is empty; attributes are retrieved from its phrases")
    return phrases


def _artefact_lexicon(dataset: str, tag: str | None, where: str) -> list[str]:
    from bench.text import build as text_build

    try:
        art = text_build.load_artefact(dataset, "attribute_lexicon", tag)
    except DataError:
        if tag is not None:
            raise
        log.info("%s: building the attribute_lexicon artefact of %s with the offline provider", where, dataset)
        text_build.build("bike", dataset, "offline", need="attribute_lexicon", progress=False)
        art = text_build.load_artefact(dataset, "attribute_lexicon", None)
    return list(art["lexicon"])


def retrieve(video: torch.Tensor, lexicon: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``n`` lexicon entries per video by cosine similarity: (scores ``(B, n)``, indices ``(B, n)``).

    Indices are sorted by decreasing similarity (ties: lower index first).
    """
    if lexicon.shape[0] == 0:
        raise ConfigError("attribute retrieval: the lexicon is empty")
    if not 1 <= n <= lexicon.shape[0]:
        raise ConfigError(f"attribute retrieval: n={n} attributes asked from a lexicon of {lexicon.shape[0]} "
                          f"phrases; n must be between 1 and the lexicon size")
    sims = F.normalize(video, dim=-1) @ F.normalize(lexicon, dim=-1).t()
    order = torch.sort(-sims, dim=1, stable=True).indices[:, :n]
    return torch.gather(sims, 1, order), order


def attribute_sentence(phrases: Sequence[str], prompt: str = "This is a video about {}") -> str:
    """The attributes sentence: the phrases joined with ', ' inside the prompt (Sec. 2.2)."""
    if prompt.count("{}") != 1:
        raise ConfigError(f"attributes prompt {prompt!r}: needs exactly one '{{}}'")
    return prompt.format(", ".join(phrases))


def sentence_fit(tokenizer, phrases: Sequence[str], num: int, prompt: str) -> dict[str, int]:
    """How many of ``num`` attribute phrases an attributes sentence can hold before the text encoder's
    tokenizer cuts it at its context length (open_clip truncates silently; OpenAI's ``clip.tokenize`` refuses).

    Returns the context length, the tokens of the sentence of the ``num`` shortest and of the ``num`` longest
    phrases (start and end tokens included), and ``fits_always``: the most phrases that fit whichever are drawn.
    """
    encode = getattr(tokenizer, "encode", None)
    context = int(getattr(tokenizer, "context_length", 77))
    if encode is None:  # a tokenizer without a plain encoder (e.g. a Hugging Face one): nothing to say
        return {"context": context, "shortest": -1, "longest": -1, "fits_always": num}
    lengths = sorted(len(encode(str(p))) for p in phrases)
    base = len(encode(prompt.replace("{}", "").strip())) + 2  # the prompt's words, start and end of text

    def total(ls: list[int]) -> int:
        return base + sum(ls) + max(0, len(ls) - 1)  # a ', ' (one token) between phrases

    longest_first = lengths[::-1]
    fits = max([k for k in range(num + 1) if total(longest_first[:k]) <= context] or [0])
    return {"context": context, "shortest": total(lengths[:num]), "longest": total(longest_first[:num]),
            "fits_always": fits}


def _segment_centres(total: int, n: int) -> list[int]:
    return [min(total - 1, int((i + 0.5) * total / n)) for i in range(n)]


class AttributeGenerator(nn.Module):
    """Frozen CLIP teacher + lexicon: the top-n attribute phrases of each video.

    Args:
        clip_arch / clip_weights: the teacher CLIP (ViT-L-14 in the paper).
        lexicon: see ``resolve_lexicon``.
        num: attributes per video (n).
        num_frames: frames the teacher sees per video (8 in the paper).
        cache: keep teacher video embeddings and lexicon embeddings in the on-disk caches.
    """

    def __init__(self, clip_arch: str, lexicon: Any, clip_weights: str | None = None, num: int = 5,
                 num_frames: int = 8, cache: bool = True) -> None:
        super().__init__()
        from bench.models.clip import create_clip

        self.phrases = resolve_lexicon(lexicon, where="attributes.lexicon")
        if not isinstance(num, int) or not 1 <= num <= len(self.phrases):
            raise ConfigError(f"attributes.num={num!r}: must be between 1 and the lexicon size {len(self.phrases)}")
        self.num, self.num_frames, self.arch, self.use_cache = num, num_frames, clip_arch, cache
        clip = create_clip(clip_arch, clip_weights)
        self.visual = clip.visual.requires_grad_(False).eval()
        self.image_size = int(self.visual.image_size[0] if isinstance(self.visual.image_size, tuple | list)
                              else self.visual.image_size)
        self.weights_hash = self._weights_hash(clip_weights, clip)
        self.register_buffer("lexicon_embeds", self._embed_lexicon(clip), persistent=False)
        self._memo: dict[str, torch.Tensor] = {}

    @staticmethod
    def _weights_hash(weights: str | None, clip: nn.Module) -> str:
        from bench.models.cache import state_dict_hash
        from bench.models.clip import file_sha256, resolve_weights

        path = resolve_weights(weights)
        return file_sha256(str(path)) if path is not None else state_dict_hash(clip)

    def _embed_lexicon(self, clip: nn.Module) -> torch.Tensor:
        import open_clip

        from bench.models.cache import TextEmbeddingCache
        from bench.models.class_text import in_shape_only

        if in_shape_only():  # a FLOPs build: only the lexicon's shape matters, the text tower is not run
            return torch.zeros(len(self.phrases), int(clip.text_projection.shape[-1]))
        tokenizer = open_clip.get_tokenizer(self.arch)

        def encode(texts: list[str]) -> torch.Tensor:
            with torch.no_grad():
                return F.normalize(clip.encode_text(tokenizer(texts)), dim=-1)

        if not self.use_cache:
            return encode(self.phrases)
        from bench.models.clip import activation_of, cache_name

        return TextEmbeddingCache(cache_name(self.arch, activation_of(clip)), self.weights_hash).encode(self.phrases,
                                                                                                     encode)

    def train(self, mode: bool = True) -> AttributeGenerator:
        super().train(mode)
        self.visual.eval()  # a frozen teacher stays in eval mode
        return self

    @torch.no_grad()
    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Mean-pooled teacher embeddings ``(B, D)`` of normalised clips ``(B, C, T, H, W)``."""
        b, c, t, h, w = frames.shape
        idx = _segment_centres(t, min(self.num_frames, t))
        x = frames[:, :, idx].permute(0, 2, 1, 3, 4).reshape(b * len(idx), c, h, w)
        if (h, w) != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        feats = self.visual(x.to(self.lexicon_embeds.dtype)).view(b, len(idx), -1)
        return F.normalize(F.normalize(feats, dim=-1).mean(dim=1), dim=-1)

    def _decode(self, path: str) -> torch.Tensor:
        """The teacher's own view of a video file: ``(1, C, T, S, S)``, CLIP-normalised."""
        import decord

        vr = decord.VideoReader(path, num_threads=1)
        if len(vr) == 0:
            raise DataError(f"attribute generation: video {path} has no frames")
        arr = vr.get_batch(_segment_centres(len(vr), self.num_frames)).asnumpy().astype(np.float32)
        x = torch.from_numpy(arr).permute(0, 3, 1, 2)  # T, C, H, W
        s = self.image_size
        h, w = x.shape[-2:]
        scale = s / min(h, w)
        x = F.interpolate(x, size=(max(s, round(h * scale)), max(s, round(w * scale))), mode="bilinear",
                          align_corners=False)
        top, left = (x.shape[-2] - s) // 2, (x.shape[-1] - s) // 2
        x = x[..., top: top + s, left: left + s]
        x = (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]
        return x.permute(1, 0, 2, 3)[None]

    def embed_file(self, path: str) -> torch.Tensor:
        """Teacher embedding ``(D,)`` of one video file (memoised, and cached on disk when enabled)."""
        if path in self._memo:
            return self._memo[path]

        def compute() -> torch.Tensor:
            return self.embed_frames(self._decode(path).to(self.lexicon_embeds.device))[0].cpu()

        if self.use_cache:
            from bench.models.cache import TeacherFeatureCache
            from bench.models.clip import activation_of, cache_name

            cache = TeacherFeatureCache(cache_name(self.arch, activation_of(self.visual), "visual"), self.weights_hash)
            sampling = {"frames": self.num_frames, "how": "segment centres"}
            prep = {"size": self.image_size, "resize": "short side, centre crop", "mean": CLIP_MEAN, "std": CLIP_STD,
                    "pool": "mean of normalised frames"}
            out = cache.get_or_compute(path, compute, sampling, prep)
        else:
            out = compute()
        self._memo[path] = out
        return out

    def forward(self, frames: torch.Tensor | None = None,
                filenames: Sequence[str | None] | None = None) -> tuple[list[list[str]], torch.Tensor]:
        """Attributes of a batch: phrases per video and their lexicon indices ``(B, n)``.

        A video with a file name is described from the file; otherwise from ``frames``.
        """
        n = len(filenames) if filenames is not None else frames.shape[0]
        names = list(filenames) if filenames is not None else [None] * n
        rows: list[torch.Tensor | None] = [None] * n
        device = self.lexicon_embeds.device
        for i, f in enumerate(names):
            if f:
                rows[i] = self.embed_file(str(f)).to(device)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            if frames is None:
                raise DataError("attribute generation: a video has neither a file name nor frames")
            emb = self.embed_frames(frames[missing])
            for j, i in enumerate(missing):
                rows[i] = emb[j]
        _, idx = retrieve(torch.stack(rows), self.lexicon_embeds, self.num)
        return [[self.phrases[k] for k in row] for row in idx.tolist()], idx
