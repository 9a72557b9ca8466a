"""The description bank of vlc (section 3.3.1, appendix A.2): keywords and descriptions per class.

Text comes through the project's text interface (``bench.text``), need ``class_descriptions``:
decompose (keywords per class) then expand (sentences using the keywords). For each class name
the bank is looked up, in order, in

1. the artefacts ``bench text build --method vlc --dataset D`` wrote for the datasets listed in
   ``text.datasets`` (``source`` ``auto`` or ``artefact``);
2. the provider (``source`` ``auto`` or ``provider``; ``offline`` = answer files then the synthetic
   world's oracle), asked through the on-disk answer cache for the classes of each listed dataset
   still missing; nothing is written to the artefact folder.

A class found nowhere is an error at build time (naming the classes and how to build their text).
Besides the ``M`` descriptions, the paper asks the LLM for "a longer description"; the appendix
does not give that prompt, so the long description is the artefact's ``long_description`` when it
has one, else the class's descriptions joined into one text (README: choices).

Embeddings come from the frozen CLIP text encoder through the text-embedding cache
(``bench.models.cache.TextEmbeddingCache``), L2-normalised.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from bench.errors import BenchError, ConfigError, DataError

log = logging.getLogger(__name__)
SOURCES = ("auto", "artefact", "provider")
TEXT_DEFAULTS: dict[str, Any] = {"source": "auto", "datasets": [], "provider": "offline", "provider_options": {},
                                 "artefact_tag": None, "need_options": {}, "num_descriptions": None,
                                 "long_description": True, "name_template": "{}"}


@dataclasses.dataclass
class DescriptionBank:
    """Texts per class: keywords, descriptions (the long one last) and the class-name candidate.

    Attributes:
        classes: class names in label order.
        keywords: class -> keywords (cross-attention gate).
        descriptions: class -> description texts.
        names: class -> the text of the class-name candidate (``name_template`` filled).
        sources: class -> where its text came from.
    """

    classes: list[str]
    keywords: dict[str, list[str]]
    descriptions: dict[str, list[str]]
    names: dict[str, str]
    sources: dict[str, str]

    def flat(self) -> tuple[list[str], list[int]]:
        """All descriptions in class order and the class index of each."""
        texts, owner = [], []
        for i, c in enumerate(self.classes):
            texts += self.descriptions[c]
            owner += [i] * len(self.descriptions[c])
        return texts, owner

    def min_negatives(self) -> int:
        """The fewest descriptions any class has outside itself (the largest usable ``k``)."""
        total = sum(len(self.descriptions[c]) for c in self.classes)
        return min(total - len(self.descriptions[c]) for c in self.classes) if self.classes else 0


def text_options(text: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """``text`` with defaults filled; unknown keys and bad values are ConfigErrors."""
    text = dict(text or {})
    unknown = sorted(set(text) - set(TEXT_DEFAULTS))
    if unknown:
        raise ConfigError(f"{where}: unknown text options {unknown}; accepted: {sorted(TEXT_DEFAULTS)}")
    out = {**TEXT_DEFAULTS, **text}
    if out["source"] not in SOURCES:
        raise ConfigError(f"{where}.source={out['source']!r}; accepted: {', '.join(SOURCES)}")
    if out["name_template"].count("{}") != 1:
        raise ConfigError(f"{where}.name_template={out['name_template']!r} needs exactly one '{{}}'")
    return out


def _from_artefacts(missing: list[str], opts: dict[str, Any], found: dict[str, dict[str, Any]]) -> None:
    from bench.text import load_artefact

    for ds in opts["datasets"]:
        try:
            art = load_artefact(ds, "class_descriptions", tag=opts["artefact_tag"])
        except BenchError as e:
            log.debug("vlc text: no artefact for %s (%s)", ds, e)
            continue
        for c in [c for c in missing if c in art.get("classes", {})]:
            found[c] = {**art["classes"][c], "source": f"artefact {ds}/{art.get('provider')}-{art.get('model')}"}
        missing[:] = [c for c in missing if c not in found]


def _from_provider(missing: list[str], opts: dict[str, Any], found: dict[str, dict[str, Any]]) -> list[str]:
    from bench.text import CachingProvider, NeedContext, make_provider
    from bench.text.context import DatasetView, dataset_view
    from bench.text.needs import TEXT_NEEDS

    notes = []
    provider = CachingProvider(make_provider(opts["provider"], where="vlc text.provider", **opts["provider_options"]))
    need = TEXT_NEEDS.get("class_descriptions", "vlc text")
    for ds in opts["datasets"]:
        if not missing:
            break
        try:
            classes = dataset_view(ds).classes
        except BenchError as e:
            notes.append(f"{ds}: {str(e).splitlines()[0]}")
            continue
        wanted = [c for c in classes if c in missing]
        if not wanted:
            continue
        ctx = NeedContext(DatasetView(ds, wanted), provider, need.options(opts["need_options"]), progress=False)
        try:
            bank = need.run(ctx)["classes"]
        except BenchError as e:
            notes.append(f"{ds}: {str(e).splitlines()[0]}")
            continue
        tag = f"provider {provider.name}-{provider.model} ({ds})"
        for c in wanted:
            found[c] = {**bank[c], "source": tag}
        missing[:] = [c for c in missing if c not in found]
    return notes


def collect(class_names: Sequence[str], text: dict[str, Any] | None, where: str = "VLCHead.text") -> DescriptionBank:
    """The description bank of ``class_names`` (see the module docstring for the lookup order).

    Raises:
        DataError: some classes have no descriptions anywhere (naming them and the fix).
    """
    opts = text_options(text, where)
    names = list(dict.fromkeys(class_names))
    missing, found, notes = list(names), {}, []
    if opts["source"] in ("auto", "artefact"):
        _from_artefacts(missing, opts, found)
    if missing and opts["source"] in ("auto", "provider"):
        notes = _from_provider(missing, opts, found)
    if missing:
        why = f"; {'; '.join(notes)}" if notes else ""
        raise DataError(
            f"{where}: the description bank lacks {len(missing)} of {len(names)} classes ({missing[:5]}) after "
            f"looking in the datasets {opts['datasets']} (source={opts['source']!r}, provider={opts['provider']!r})"
            f"{why}. Build their text with 'bench text build --method vlc --dataset <dataset>' and list the dataset "
            f"in {where}.datasets")
    bank = DescriptionBank(list(class_names), {}, {}, {}, {})
    for c in bank.classes:
        entry = found[c]
        descs = [d for d in entry.get("descriptions", []) if d.strip()]
        if opts["num_descriptions"] is not None:
            descs = descs[: int(opts["num_descriptions"])]
        if not descs:
            raise DataError(f"{where}: class {c!r} has keywords but no descriptions ({entry['source']})")
        if opts["long_description"]:
            descs = [*descs, entry.get("long_description") or " ".join(descs)]
        bank.descriptions[c] = descs
        bank.keywords[c] = [k for k in entry.get("keywords", []) if k.strip()]
        bank.names[c] = opts["name_template"].format(c)
        bank.sources[c] = entry["source"]
    return bank


def embed_texts(texts: list[str], arch: str, weights: str | None) -> torch.Tensor:
    """L2-normalised embeddings of ``texts`` by the frozen CLIP text encoder, through the embedding cache."""
    from bench.models.cache import TextEmbeddingCache, file_sha256, state_dict_hash
    from bench.models.clip import activation_of, cache_name, resolve_weights
    from methods.vlc.teacher import shared_clip

    if not texts:
        return torch.empty(0)
    model = shared_clip(arch, weights)
    path = resolve_weights(weights)
    weights_hash = file_sha256(path) if path is not None else "random:" + state_dict_hash(model)
    cache = TextEmbeddingCache(cache_name(arch, activation_of(model)), weights_hash)

    def encode(batch: list[str]) -> torch.Tensor:
        import open_clip

        tokenizer = open_clip.get_tokenizer(arch)
        out = []
        with torch.no_grad():
            for i in range(0, len(batch), 256):
                out.append(F.normalize(model.encode_text(tokenizer(batch[i:i + 256])), dim=-1))
        return torch.cat(out)

    return F.normalize(cache.encode(texts, encode).float(), dim=-1)
