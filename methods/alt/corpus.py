"""The action-related text corpus of the alt paper (Sec. 3.1, appendix A), as the model reads it.

The corpus is built through ``bench.text`` (need ``entity_corpus``: label words after stop-word
removal, the LLM's units from the appendix-A prompt, three LLM description templates per unit, a
Lesk-style choice, body parts head/hands/feet added). This module turns that artefact into the
entity set S of the model:

* each entity carries its sub-collection (Table C3): ``body``, ``object``, ``scene`` or ``motion``.
  LLM units keep the category of the answer line they came from (roles count as body); a label
  word gets the sub-collection of the same class's LLM unit that contains it (``blue`` in ``blue
  ring`` -> body), else ``motion`` for an ``-ing`` word, else ``object``;
* the artefact says which linguistic resources built it (``resources``: NLTK's stop words, the
  WordNet database of single-word units' descriptions, the Lesk variant; ``bench.text.lexical``);
  an artefact without that record was built by an older version and is refused (synthetic
  datasets' offline corpora are rebuilt instead);
* several datasets' corpora are merged (appendix B: the K400 corpus is reused and expanded with
  the new labels' entities), one entity per unit;
* entity texts ``"<unit>: <description>"`` are embedded by the frozen CLIP text encoder once and
  cached on disk (``TextEmbeddingCache``, keyed by encoder, weights sha256 and text).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SUB_COLLECTIONS = ("body", "object", "scene", "motion")
CATEGORY_TO_SUB = {"body": "body", "role": "body", "object": "object", "scene": "scene", "motion": "motion"}


def _label_sub_collection(entity: dict[str, Any], by_class: dict[str, list[tuple[str, str]]]) -> str:
    word = entity["unit"]
    votes = Counter(sub for cls in entity.get("classes", []) for unit, sub in by_class.get(cls, [])
                    if word in unit.split())
    if votes:
        best = max(votes.values())
        return next(s for s in SUB_COLLECTIONS if votes.get(s) == best)
    return "motion" if word.endswith("ing") else "object"


def assign_sub_collections(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``entities`` with a ``sub_collection`` field (body / object / scene / motion)."""
    by_class: dict[str, list[tuple[str, str]]] = {}
    for e in entities:
        sub = CATEGORY_TO_SUB.get(e.get("category", ""))
        if sub:
            for cls in e.get("classes", []):
                by_class.setdefault(cls, []).append((e["unit"], sub))
    out = []
    for e in entities:
        sub = CATEGORY_TO_SUB.get(e.get("category", "")) or _label_sub_collection(e, by_class)
        out.append({**e, "sub_collection": sub})
    return out


def _artefact(dataset: str, need: str, tag: str | None, build_offline: bool) -> dict[str, Any]:
    from bench.data.synthetic import SYNTHETIC_DATASETS
    from bench.text import build, load_artefact

    offline = build_offline and dataset in SYNTHETIC_DATASETS and tag in (None, "offline-oracle")
    try:
        art = load_artefact(dataset, need, tag)
    except DataError:
        if not offline:
            raise
        log.info("alt: building the %s text corpus of %s with the offline provider (synthetic oracle)", need, dataset)
    else:
        if art.get("resources") is not None:
            return art
        if not offline:
            raise ConfigError(f"text artefact {need!r} of {dataset!r} (tag {tag or 'the only one'}) does not record "
                              f"the linguistic resources it was built with (an older version built it); rebuild it: "
                              f"'bench text build --method alt --dataset {dataset}' (cached answers are reused)")
        log.info("alt: rebuilding the %s corpus of %s (built before resources were recorded)", need, dataset)
    build(None, dataset, "offline", need=need, progress=False)
    return load_artefact(dataset, need, tag)


def load_entities(datasets: Sequence[str], need: str = "entity_corpus", tag: str | None = None,
                  subsets: Sequence[str] = SUB_COLLECTIONS, build_offline: bool = True) -> list[dict[str, Any]]:
    """Entities of the corpora of ``datasets`` (merged, one per unit) restricted to ``subsets``.

    Raises ConfigError when a requested sub-collection has no entity, naming what there is.
    """
    bad = [s for s in subsets if s not in SUB_COLLECTIONS]
    if bad or not subsets:
        raise ConfigError(f"corpus.subsets={list(subsets)!r}: accepted a non-empty list of {SUB_COLLECTIONS} "
                          f"(alt Table C3; 'no corpus' is query_source='learnable')")
    merged: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        for e in assign_sub_collections(_artefact(ds, need, tag, build_offline)["entities"]):
            merged.setdefault(e["unit"], e)
    entities = list(merged.values())
    counts = Counter(e["sub_collection"] for e in entities)
    empty = [s for s in subsets if counts.get(s, 0) == 0]
    if empty:
        raise ConfigError(f"corpus of {list(datasets)} (need {need!r}) has no entity of sub-collection(s) {empty}; "
                          f"it has {dict(counts)}; pick corpus.subsets among those present")
    return [e for e in entities if e["sub_collection"] in subsets]


def entity_text(entity: dict[str, Any]) -> str:
    """The string embedded for one entity: ``{unit, description}`` of Sec. 3.1."""
    desc = re.sub(r"\s+", " ", str(entity.get("description", ""))).strip()
    return f"{entity['unit']}: {desc}" if desc else entity["unit"]


@torch.no_grad()
def embed_texts(texts: Sequence[str], clip_arch: str, clip_weights: str | None, text_model=None) -> torch.Tensor:
    """L2-normalised CLIP text embeddings ``(K, d)`` of ``texts`` (cached on disk for real weights)."""
    import open_clip

    from bench.models.cache import TextEmbeddingCache
    from bench.models.class_text import in_shape_only
    from bench.models.clip import file_sha256, resolve_weights
    from methods.baselines.clip_meanpool import clip_parts

    text = text_model if text_model is not None else clip_parts(clip_arch, clip_weights)[1]
    if in_shape_only():  # a FLOPs build: only the (K, d) shape matters, the text tower is not run
        return torch.zeros(len(texts), int(text.text_projection.shape[-1]))
    tokenizer = open_clip.get_tokenizer(clip_arch)
    device = next(text.parameters()).device

    def encode(batch: list[str]) -> torch.Tensor:
        rows = [text.encode_text(tokenizer(batch[i:i + 256]).to(device)).float().cpu()
                for i in range(0, len(batch), 256)]
        return torch.cat(rows) if rows else torch.empty(0)

    path = resolve_weights(clip_weights)
    if path is None:  # random initialisation: nothing worth caching
        emb = encode(list(texts))
    else:
        from bench.models.clip import activation_of, cache_name

        emb = TextEmbeddingCache(cache_name(clip_arch, activation_of(text)), file_sha256(str(path))).encode(
            list(texts), encode)
    return F.normalize(emb.float(), dim=-1)


def corpus_resources(datasets: Sequence[str]) -> dict[str, Any]:
    """The ``resources`` records of the corpora of ``datasets`` that this process loaded (for logs)."""
    from bench.text.build import LOADED

    return {e["dataset"]: e.get("resources") for e in LOADED
            if e["need"] == "entity_corpus" and e["dataset"] in datasets}
