"""Text needs: what text a method needs for a dataset, how to ask for it, how to assemble it.

A need is registered in ``TEXT_NEEDS`` under a name, with default options and a ``run(ctx)``
that asks its requests through ``ctx.ask_many`` (stage by stage) and returns the artefact
(a JSON-able dict; a need may also return ``{"jsonl": [...]}`` rows for large per-video data).
A method says which needs it uses with ``register_method_needs(method, [(need, options)])``;
the four papers' methods have defaults in ``DEFAULT_METHOD_NEEDS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from bench.errors import ConfigError
from bench.registry import Registry
from bench.text.context import NeedContext
from bench.text.keyframes import concat_side_by_side
from bench.text.parsing import label_units, lesk_choice, parse_keywords, parse_sentences, parse_units, split_items
from bench.text.request import TextRequest
from bench.text.templates import prompts


@dataclasses.dataclass(frozen=True)
class TextNeed:
    """A registered need: its name, what it produces, default options and its runner."""

    name: str
    description: str
    defaults: dict[str, Any]
    run: Callable[[NeedContext], dict[str, Any]]

    def options(self, given: dict[str, Any] | None) -> dict[str, Any]:
        unknown = sorted(set(given or {}) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"text need {self.name!r} got unknown options {unknown}; accepted: {sorted(self.defaults)}"
            )
        return {**self.defaults, **(given or {})}


TEXT_NEEDS: Registry[TextNeed] = Registry("text need")
METHOD_NEEDS: Registry[list[tuple[str, dict[str, Any]]]] = Registry("method text needs")
DEFAULT_METHOD_NEEDS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "vlc": [("class_descriptions", {})],
    "alt": [("entity_corpus", {})],
    "bike": [("attribute_lexicon", {})],
    "ftp": [("video_answers", {})],
}


def text_need(name: str, description: str, **defaults: Any) -> Callable[[Callable], Callable]:
    """Decorator registering ``run(ctx)`` as text need ``name`` with default options."""

    def deco(fn: Callable[[NeedContext], dict[str, Any]]) -> Callable[[NeedContext], dict[str, Any]]:
        TEXT_NEEDS.register(name, TextNeed(name, description, defaults, fn))
        return fn

    return deco


def register_method_needs(method: str, needs: list[tuple[str, dict[str, Any]]]) -> None:
    """Declare the needs of ``method`` (overrides ``DEFAULT_METHOD_NEEDS``; a second declaration is an error)."""
    for n, _ in needs:
        TEXT_NEEDS.get(n, f"needs of method {method!r}")
    METHOD_NEEDS.register(method, needs)


def method_needs(method: str) -> list[tuple[str, dict[str, Any]]]:
    if method in METHOD_NEEDS:
        return METHOD_NEEDS.get(method)
    if method in DEFAULT_METHOD_NEEDS:
        return DEFAULT_METHOD_NEEDS[method]
    known = sorted(set(METHOD_NEEDS.names()) | set(DEFAULT_METHOD_NEEDS))
    raise ConfigError(f"method {method!r} declares no text needs; methods with needs: {', '.join(known)}; "
                      f"or name a need with --need ({', '.join(TEXT_NEEDS.names())})")


def _chunks(seq: list[Any], n: int) -> list[list[Any]]:
    n = max(1, int(n))
    return [seq[i:i + n] for i in range(0, len(seq), n)]


@text_need("class_descriptions", "vlc description bank: keywords then descriptions per class (decompose-expand)",
           classes_per_query=1, keywords_per_prompt=3, params={})
def class_descriptions(ctx: NeedContext) -> dict[str, Any]:
    """vlc paper, section 3.3.1 and appendix A.2: decompose (keywords), then expand (descriptions)."""
    o, pf, ds = ctx.options, prompts("vlc"), ctx.dataset
    groups = _chunks(ds.classes, o["classes_per_query"])
    reqs = [TextRequest(pf["decompose"].render(action_list=", ".join(g)), item=" | ".join(g), dataset=ds.name,
                        params=o["params"], prompt_id="vlc/decompose") for g in groups]
    by_item = {" | ".join(g): g for g in groups}
    keywords: dict[str, list[str]] = {}
    parse = lambda a, r: parse_keywords(a, by_item[r.item])
    for _, _, kws in ctx.ask_many("vlc/decompose", reqs, len(reqs), parse=parse):
        keywords.update(kws)
    expand = []
    for c in ds.classes:
        for g in _chunks(keywords[c], o["keywords_per_prompt"]):
            expand.append(TextRequest(pf["expand"].render(action_name=c, keywords=", ".join(g)), item=c,
                                      dataset=ds.name, params=o["params"], prompt_id="vlc/expand"))
    bank: dict[str, dict[str, list[str]]] = {c: {"keywords": keywords[c], "descriptions": []} for c in ds.classes}
    for _, req, sents in ctx.ask_many("vlc/expand", expand, len(expand), parse=lambda a, r: parse_sentences(a)):
        bank[req.item]["descriptions"].extend(s for s in sents if s not in bank[req.item]["descriptions"])
    return {"classes": bank}


@text_need("entity_corpus", "alt text corpus: units per label, then a description per unit",
           describe_templates=["describe_looks", "describe_explanations", "describe_sentence"],
           default_units=None, label_units=True, wordnet=True, params={})
def entity_corpus(ctx: NeedContext) -> dict[str, Any]:
    """alt paper, section 3.1 and appendix A: units (label words + LLM), descriptions, Lesk-style choice.

    Single-word units take their description from WordNet (the gloss of the synset NLTK's Lesk picks
    against the unit's labels); phrases, and words WordNet does not know, from the LLM's candidates
    (content-word overlap with the labels). ``wordnet=False`` skips WordNet (recorded in ``resources``);
    with ``wordnet=True`` a missing database is an error naming the install command.
    """
    from bench.text import lexical

    o, pf, ds = ctx.options, prompts("alt"), ctx.dataset
    resources = {"stop_words": lexical.STOP_WORDS_SOURCE, "camel_case_split": True,
                 "wordnet": lexical.wordnet_source() if o["wordnet"] else "not used (need option wordnet=False)",
                 "wsd": ("nltk.wsd.lesk (simplified Lesk: most shared words between the synset definition and the "
                         "unit's labels; ties to the first, most frequent, sense) for single-word units; "
                         "content-word overlap with the labels for LLM candidates")}
    reqs = [TextRequest(pf["units"].render(label=c), item=c, dataset=ds.name, params=o["params"],
                        prompt_id="alt/units") for c in ds.classes]
    units: dict[str, dict[str, Any]] = {}

    def add(unit: str, category: str, cls: str | None) -> None:
        u = units.setdefault(unit, {"category": category, "classes": []})
        if cls and cls not in u["classes"]:
            u["classes"].append(cls)

    for unit in o["default_units"] if o["default_units"] is not None else pf.meta.get("default_units", []):
        add(unit, "body", None)
    for _, req, found in ctx.ask_many("alt/units", reqs, len(reqs), parse=lambda a, r: parse_units(a)):
        for unit, cat in found:
            add(unit, cat, req.item)
        if o["label_units"]:
            for unit in label_units(req.item):
                add(unit, "label", req.item)
    names = sorted(units)
    desc_reqs = [TextRequest(pf[t].render(phrase_unit=u), item=u, dataset=ds.name, params=o["params"],
                             prompt_id=f"alt/{t}") for u in names for t in o["describe_templates"]]
    candidates: dict[str, list[str]] = {u: [] for u in names}
    for _, req, items in ctx.ask_many("alt/describe", desc_reqs, len(desc_reqs), parse=lambda a, r: _nonempty_items(a)):
        candidates[req.item].extend(items)
    entities = []
    for u in names:
        context = " ".join([u, *units[u]["classes"]])
        entity = {"unit": u, "category": units[u]["category"], "classes": units[u]["classes"],
                  "candidates": len(candidates[u])}
        sense = None
        if o["wordnet"] and " " not in u:
            ctx_words = sorted(label_units(" ".join(units[u]["classes"])) + [u])
            sense = lexical.lesk_synset(u, ctx_words)
        if sense is not None:
            entity.update(description=sense.definition(), description_source=f"wordnet:{sense.name()}")
        else:
            entity.update(description=lesk_choice(candidates[u], context), description_source="llm")
        entities.append(entity)
    return {"entities": entities, "resources": resources}


def _nonempty_items(answer: str) -> list[str]:
    items = [x for x in split_items(answer) if len(x.split()) >= 2] or [answer.strip()]
    return items


@text_need("attribute_lexicon", "bike lexicon of attribute phrases and its prompt (no model asked)",
           lexicon_dataset=None, extra_phrases=[])
def attribute_lexicon(ctx: NeedContext) -> dict[str, Any]:
    """bike paper, section 2.2: a pre-defined lexicon (best: the K400 class names, table 6g) + the prompt."""
    from bench.text.context import dataset_view

    o, pf = ctx.options, prompts("bike")
    source = o["lexicon_dataset"] or ctx.dataset.name
    base = ctx.dataset.classes if source == ctx.dataset.name else dataset_view(source).classes
    lexicon = list(dict.fromkeys([*base, *o["extra_phrases"]]))
    return {"lexicon": lexicon, "lexicon_source": source, "prompt": pf["attributes"].text,
            "top_attributes": pf.meta.get("top_attributes", 5)}


@text_need("video_answers", "ftp four answers (A-D) per training video from K side-by-side keyframes",
           split="train", keyframes=5, prompts=["A", "B", "C", "D"], max_height=None, limit=None, params={})
def video_answers(ctx: NeedContext) -> dict[str, Any]:
    """ftp paper, section 3, stage 1: one concatenated keyframe image per video, four prompts."""
    o, pf, ds = ctx.options, prompts("ftp"), ctx.dataset
    videos = ds.videos(o["split"])[: o["limit"]]
    templates = [pf[p] for p in o["prompts"]]

    def requests():
        for vid, _ in videos:
            image = concat_side_by_side(ctx.keyframes(vid, o["keyframes"]), o["max_height"])
            for t in templates:
                yield TextRequest(t.render(), images=(image,), item=vid, dataset=ds.name, params=o["params"],
                                  prompt_id=t.qualified_id)

    labels = dict(videos)
    rows: dict[str, dict[str, Any]] = {}
    for _, req, ans in ctx.ask_many("ftp/answers", requests(), len(videos) * len(templates)):
        row = rows.setdefault(req.item, {"video": req.item, "label": labels[req.item], "answers": {}})
        row["answers"][req.prompt_id.split("/")[-1]] = ans
    return {"split": o["split"], "prompts": {t.id: t.text for t in templates}, "keyframes": o["keyframes"],
            "jsonl": [rows[v] for v, _ in videos]}
