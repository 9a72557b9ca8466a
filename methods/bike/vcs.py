"""Video Concept Spotting (VCS), bike paper Sec. 2.3, Eqs. (5)-(6): parameter-free temporal saliency.

Each word of a category is scored against each frame (cosine similarity); a softmax with
temperature over the frames turns the scores of one word into a distribution over time; the
distributions of the words are averaged into one saliency per frame (so it sums to 1 over the
frames); the saliency-weighted sum of the frame embeddings is the video embedding *for that
category*. Recognition then scores each category against its own spotted video embedding.

What the public code computes (``modules/video_clip.py``, ``video_header.get_logits``, whwu95/BIKE) is
the default: the "words" are all context positions of the prompted sentence (the head passes a mask
over every position), and the spotted video ``v_att`` is scored as ``v_att . c`` without being
normalised again (``renormalise=False``). Mean pooling ('DP' there) averages the raw frame embeddings
and then normalises (``mean_pool='raw'``). The paper's reading (name tokens only, cosine of the spotted
video, mean of normalised frames) is a set of switches; see ``methods/bike/README.md``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.errors import ConfigError

AGGREGATIONS = ("vcs", "mean")
MEAN_POOLS = ("raw", "normalised")


def concept_saliency(frames: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
                     temperature: float = 0.01) -> torch.Tensor:
    """Temporal saliency of every (video, category) pair, Eq. (5) of the bike paper.

    Args:
        frames: frame embeddings ``(B, T, D)``.
        words: word embeddings of the categories ``(C, W, D)`` (padded).
        word_mask: ``(C, W)``, True on the positions whose per-word distributions are averaged.
        temperature: softmax temperature over frames (0.01 in the published code).

    Returns:
        ``(B, C, T)``, each ``[b, c]`` row sums to 1 over the frames.
    """
    if temperature <= 0:
        raise ConfigError(f"VCS temperature={temperature!r}: must be > 0 (the paper's code uses 0.01)")
    counts = word_mask.sum(dim=-1)
    if (counts == 0).any():
        bad = torch.nonzero(counts == 0).flatten().tolist()
        raise ConfigError(f"VCS: categories {bad} have no word embeddings (a name that tokenises to nothing)")
    f = F.normalize(frames, dim=-1)
    w = F.normalize(words, dim=-1)
    sims = torch.einsum("cwd,btd->bcwt", w, f)  # word-to-frame relevancy
    per_word = torch.softmax(sims / temperature, dim=-1)  # a distribution over frames per word
    mask = word_mask.to(per_word.dtype)[None, :, :, None]
    return (per_word * mask).sum(dim=2) / counts.to(per_word.dtype)[None, :, None]  # mean over the masked words


def spot(frames: torch.Tensor, saliency: torch.Tensor) -> torch.Tensor:
    """Saliency-weighted sum of frame embeddings, Eq. (6): ``(B, T, D)``, ``(B, C, T)`` -> ``(B, C, D)``."""
    return torch.einsum("bct,btd->bcd", saliency, F.normalize(frames, dim=-1))


def category_scores(frames: torch.Tensor, class_embeds: torch.Tensor, words: torch.Tensor | None = None,
                    word_mask: torch.Tensor | None = None, aggregation: str = "vcs",
                    temperature: float = 0.01, renormalise: bool = False, mean_pool: str = "raw") -> torch.Tensor:
    """Similarity of every video with every category, ``(B, C)`` (unscaled).

    ``aggregation='vcs'``: the video embedding of category ``c`` is spotted with ``c``'s words and scored
    as ``v_att . c_hat`` (``renormalise=True``: cosine, the paper's reading); ``'mean'``: one video embedding
    for all categories, ``mean_pool='raw'`` = normalise(mean of the raw frames) (public code 'DP'),
    ``'normalised'`` = normalise(mean of the normalised frames).
    """
    if aggregation not in AGGREGATIONS:
        raise ConfigError(f"temporal aggregation {aggregation!r}; accepted: {', '.join(AGGREGATIONS)}")
    cls = F.normalize(class_embeds, dim=-1)
    if aggregation == "mean":
        if mean_pool not in MEAN_POOLS:
            raise ConfigError(f"mean_pool={mean_pool!r}; accepted: {', '.join(MEAN_POOLS)}")
        pooled = frames.mean(dim=1) if mean_pool == "raw" else F.normalize(frames, dim=-1).mean(dim=1)
        return F.normalize(pooled, dim=-1) @ cls.t()
    if words is None or word_mask is None:
        raise ConfigError("VCS needs the word embeddings and word mask of the category names")
    video = spot(frames, concept_saliency(frames, words, word_mask, temperature))
    if renormalise:
        video = F.normalize(video, dim=-1)
    return torch.einsum("bcd,cd->bc", video, cls)
