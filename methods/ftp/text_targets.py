"""Stage-1 text targets: VLM answers to the four prompts per training video, embedded by a frozen text encoder.

ftp paper, section 3.2, Fig. 4: each training video becomes one image of K keyframes taken at
equal intervals and concatenated side by side; a VLM answers the prompts (A) "What is the action
category?", (B) "Describe the action components in the image", (C) "Describe the action in the
image in detail", (D) "Describe the context information" (verbatim in
``bench/text/prompts/ftp.yaml``); a frozen text encoder embeds the answers.

Everything here is frozen work shared by the cells of a grid: answers go through the text
answer cache (``bench.text.CachingProvider``, content-addressed by provider, model, prompt,
image and video), embeddings through ``bench.models.cache.TextEmbeddingCache`` (encoder +
weights hash + string). The requests are built exactly as ``bench text build``'s
``video_answers`` need builds them, so answers prepared with ``bench text build`` are reused.

``noise`` (Table 5 on the synthetic world) degrades the VLM deterministically: with that
probability an answer is replaced by the same prompt's answer for another training video.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import DataError

log = logging.getLogger(__name__)
PROMPT_LETTERS = ("A", "B", "C", "D")


@dataclasses.dataclass
class TextTargets:
    """Embeddings of every training video's answers, per prompt letter.

    Attributes:
        rows: absolute video path -> row index.
        embeddings: letter -> ``(V, E)`` text embeddings (zeros where the answer is missing).
        text_ids: letter -> ``(V,)`` id of the distinct answer string (equal ids = same text).
        present: letter -> ``(V,)`` bool, whether the video got an answer.
        answers: letter -> list of answer strings ('' where missing), for the record.
        provenance: which provider/model wrote the answers, cache counts.
    """

    rows: dict[str, int]
    embeddings: dict[str, torch.Tensor]
    text_ids: dict[str, torch.Tensor]
    present: dict[str, torch.Tensor]
    answers: dict[str, list[str]]
    provenance: dict[str, Any]

    def lookup(self, letter: str, filenames: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(embeddings (B, E), text ids (B,), present (B,))`` of a batch of videos."""
        try:
            idx = torch.tensor([self.rows[str(Path(f))] for f in filenames])
        except KeyError as e:
            raise DataError(f"FTP stage 1: video {e.args[0]} has no text targets; targets were prepared for "
                            f"{len(self.rows)} training videos (is the video in the training list?)") from e
        return self.embeddings[letter][idx], self.text_ids[letter][idx], self.present[letter][idx]


def _corrupt(answers: list[str | None], letter: str, noise: float, seed: int, ids: list[str]) -> list[str | None]:
    """Replace a fraction ``noise`` of the answers by another video's answer (deterministic per video)."""
    if noise <= 0:
        return answers
    out = list(answers)
    for i, vid in enumerate(ids):
        rng = np.random.default_rng([seed, zlib.crc32(f"{letter}|{vid}".encode())])
        if rng.random() < noise and len(ids) > 1:
            j = int(rng.integers(len(ids) - 1))
            out[i] = answers[j + (j >= i)]
    return out


def _register_synthetic_oracles() -> None:
    """Make sure the synthetic world's oracles are registered with the offline provider.

    ``bench.data.synthetic`` registers them only when ``bench.text`` was imported first; in a job
    the dataset catalog is imported earlier, so we register them here (idempotent).
    """
    try:
        from bench.data.synthetic.oracle import register_oracles
    except ImportError:  # a checkout without the synthetic world
        return
    register_oracles()


def ask_answers(videos: Sequence[tuple[str, str]], dataset: str, letters: Sequence[str], keyframes: int,
                provider: str, provider_options: dict[str, Any] | None, params: dict[str, Any] | None,
                max_height: int | None) -> tuple[dict[str, list[str | None]], dict[str, Any], list[str]]:
    """Ask the VLM the prompts ``letters`` for each ``(absolute path, video id)``; None where no answer came.

    Returns (answers per letter, provenance, failure messages).
    """
    from bench.text import CachingProvider, NeedContext, TextBuildError, TextRequest, make_provider, prompts
    from bench.text.context import DatasetView
    from bench.text.keyframes import concat_side_by_side, read_keyframes

    _register_synthetic_oracles()
    pf = prompts("ftp")
    templates = [pf[p] for p in letters]
    inner = make_provider(provider, where="ftp model.text.provider", **(provider_options or {}))
    cached = CachingProvider(inner)
    paths = dict((vid, path) for path, vid in videos)
    view = DatasetView(dataset, [], keyframes=lambda vid, k: read_keyframes(paths[vid], k))
    ctx = NeedContext(view, cached, progress=False)

    def requests():
        for _, vid in videos:
            image = concat_side_by_side(ctx.keyframes(vid, keyframes), max_height)
            for t in templates:
                yield TextRequest(t.render(), images=(image,), item=vid, dataset=dataset, params=params or {},
                                  prompt_id=t.qualified_id)

    got: dict[str, list[str | None]] = {p: [None] * len(videos) for p in letters}
    row = {vid: i for i, (_, vid) in enumerate(videos)}
    failures: list[str] = []
    try:
        for _, req, ans in ctx.ask_many("ftp/answers", requests(), len(videos) * len(letters)):
            got[req.prompt_id.split("/")[-1]][row[req.item]] = ans
    except TextBuildError as e:  # answers that arrived are kept; the caller reports the missing ones
        failures.append(str(e))
    return got, ctx.provenance.to_dict(), failures


def embed_texts(texts: list[str], arch: str, weights: str | None) -> torch.Tensor:
    """L2-normalised CLIP text embeddings of ``texts`` through the on-disk embedding cache."""
    import torch.nn.functional as F

    from bench.models.cache import TextEmbeddingCache, file_sha256
    from bench.models.clip import create_clip, resolve_weights

    path = resolve_weights(weights)
    model: list[Any] = []

    def build() -> Any:
        if not model:
            with torch.random.fork_rng():  # building draws a random init: keep the run's RNG as on a warm cache
                m = create_clip(arch, weights)
            m.visual = None
            model.append(m.eval())
        return model[0]

    weights_hash = file_sha256(path) if path is not None else None
    if weights_hash is None:
        from bench.models.cache import state_dict_hash

        weights_hash = "random:" + state_dict_hash(build())
    from bench.models.clip import cache_name, clip_activation

    cache = TextEmbeddingCache(cache_name(arch, clip_activation(arch, weights)), weights_hash)

    def encode(batch: list[str]) -> torch.Tensor:
        import open_clip

        from bench.models.clip import architectures

        architectures()  # registers the project's open_clip configs (the tiny CLIP) with the tokenizer lookup
        tok = open_clip.get_tokenizer(arch)
        model_ = build()
        # One text at a time (answers longer than the context are truncated, as CLIP's tokenizer does): a
        # batched forward gives floats that depend on the batch's other texts, so embeddings computed cold
        # and read back warm would differ and a fixed seed would not repeat its run.
        with torch.no_grad():
            rows = [model_.encode_text(tok([t], context_length=model_.context_length))[0] for t in batch]
        return F.normalize(torch.stack(rows), dim=-1)

    return cache.encode(texts, encode).float() if texts else torch.empty(0)


def prepare_targets(videos: Sequence[tuple[str, str]], dataset: str, letters: Sequence[str], text: dict[str, Any],
                    keyframes: int) -> tuple[TextTargets, dict[str, int]]:
    """Answers and embeddings for ``videos`` (``(absolute path, video id)``); returns targets and missing counts."""
    got, provenance, failures = ask_answers(videos, dataset, letters, keyframes, text["provider"],
                                            text.get("provider_options"), text.get("params"),
                                            text.get("max_height"))
    ids = [vid for _, vid in videos]
    missing = {p: sum(a is None for a in got[p]) for p in letters}
    if failures:
        log.warning("FTP stage 1: %s", "\n".join(failures[0].splitlines()[:4]))
    rows = {str(Path(path)): i for i, (path, _) in enumerate(videos)}
    emb, tids, present, answers = {}, {}, {}, {}
    for p in letters:
        ans = _corrupt(got[p], p, float(text.get("noise", 0.0)), int(text.get("noise_seed", 0)), ids)
        answers[p] = [a or "" for a in ans]
        distinct = sorted({a for a in ans if a})
        vecs = embed_texts(distinct, text["encoder"]["arch"], text["encoder"].get("weights"))
        pos = {a: i for i, a in enumerate(distinct)}
        dim = vecs.shape[1] if len(distinct) else 1
        table = torch.zeros(len(ans), dim)
        tid = torch.full((len(ans),), -1, dtype=torch.long)
        for i, a in enumerate(ans):
            if a:
                table[i] = vecs[pos[a]]
                tid[i] = pos[a]
        emb[p], tids[p], present[p] = table, tid, tid >= 0
    return TextTargets(rows, emb, tids, present, answers, provenance), missing
