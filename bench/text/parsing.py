"""Turning free-form model answers into lists: keywords, sentences, categorised units.

Language models answer in prose, bullets, numbered lists or ``Label: a, b, c`` lines; these
parsers accept all of them and raise ``AnswerParseError`` (never return an empty list) when
nothing usable is found, so that the build reports the item instead of storing empty text.
"""

from __future__ import annotations

import re

from bench.errors import DataError
from bench.text.lexical import split_camel_case, stop_words

_BULLET = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.)]|[a-zA-Z][.)](?=\s))\s*")
_MARKUP = re.compile(r"[*_`#]+")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")

# NLTK's English stop-word list (179 words; packaged, see bench.text.lexical).
STOP_WORDS = stop_words()

# alt paper appendix A: units are objects, body parts, scenes and roles; table C3 groups them
# as object / body / scene / motion.
UNIT_CATEGORIES = {"object": "object", "body": "body", "scene": "scene", "role": "role", "motion": "motion",
                   "place": "scene", "location": "scene", "setting": "scene", "tool": "object", "equipment": "object"}


class AnswerParseError(DataError):
    """An answer that holds nothing the need can use."""


def clean_line(line: str) -> str:
    """A line without bullet/number markers, markdown emphasis and trailing punctuation."""
    line = _BULLET.sub("", line.strip())
    return _MARKUP.sub("", line).strip().strip(" .;:")


def split_items(text: str) -> list[str]:
    """Items of a list answer: one per line, or comma/semicolon-separated on a single line."""
    lines = [clean_line(x) for x in text.splitlines()]
    lines = [x for x in lines if x]
    if len(lines) == 1:
        lines = [clean_line(x) for x in re.split(r"[;,]", lines[0])]
    return [x for x in lines if x]


def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for it in items:
        k = it.lower()
        if k not in seen:
            seen.add(k)
            out.append(it)
    return out


def _strip_label(part: str) -> str:
    head, sep, rest = part.partition(":")
    return clean_line(rest if sep and len(head.split()) <= 4 else part)


def parse_keywords(answer: str, classes: list[str]) -> dict[str, list[str]]:
    """Keywords per class from an answer to vlc's decompose prompt (appendix A.2).

    With one class the whole answer is its keywords; with several, a line naming a class
    starts that class's section. ``Label: a, b`` lines contribute ``a`` and ``b``.
    """
    sections: dict[str, list[str]] = {c: [] for c in classes}
    current = classes[0] if len(classes) == 1 else None
    lowered = {c.lower(): c for c in classes}
    for raw in answer.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        head, sep, rest = line.partition(":")
        hit = lowered.get(head.strip().lower()) if len(classes) > 1 else None
        if hit is None and len(classes) > 1:
            hit = next((c for lc, c in lowered.items() if line.lower() == lc), None)
        if hit is not None:
            current, line = hit, rest
            if not line.strip():
                continue
        elif sep and len(head.split()) <= 4:
            line = rest  # "Objects: bow, arrow" -> "bow, arrow"
        if current is not None:
            sections[current].extend(x for x in (_strip_label(p) for p in re.split(r"[;,]", line)) if x)
    empty = [c for c, kws in sections.items() if not kws]
    if empty:
        raise AnswerParseError(f"no keywords found for class(es) {empty} in answer {answer[:120]!r}")
    return {c: _dedupe(k) for c, k in sections.items()}


def parse_sentences(answer: str, min_words: int = 3) -> list[str]:
    """Sentences of a description answer: list items, else the sentences of the paragraph(s)."""
    lines = [clean_line(x) for x in answer.splitlines()]
    lines = [x for x in lines if x]
    if len(lines) <= 1:
        lines = [clean_line(s) for s in _SENT_SPLIT.split(" ".join(lines))]
    out = [s if s.endswith((".", "!", "?")) else s + "." for s in lines if len(s.split()) >= min_words]
    if not out:
        raise AnswerParseError(f"no sentence of >= {min_words} words in answer {answer[:120]!r}")
    return _dedupe(out)


def parse_units(answer: str) -> list[tuple[str, str]]:
    """``(unit, category)`` pairs from an answer to alt's unit prompt (appendix A, step 1)."""
    out: list[tuple[str, str]] = []
    for raw in answer.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        head, sep, rest = line.partition(":")
        category = "other"
        if sep and len(head.split()) <= 3:
            words = re.findall(r"[a-z]+", head.lower())
            category = next((UNIT_CATEGORIES[w.rstrip("s")] for w in words if w.rstrip("s") in UNIT_CATEGORIES),
                            next((UNIT_CATEGORIES[w] for w in words if w in UNIT_CATEGORIES), "other"))
            line = rest
        for part in re.split(r"[;,]", line):
            unit = clean_line(part).lower()
            if unit and len(unit.split()) <= 6:
                out.append((unit, category))
    seen, uniq = set(), []
    for u, c in out:
        if u not in seen:
            seen.add(u)
            uniq.append((u, c))
    if not uniq:
        raise AnswerParseError(f"no units found in answer {answer[:120]!r}")
    return uniq


def content_words(text: str) -> set[str]:
    """Lower-case words of ``text`` without NLTK's English stop words (the paper's NLTK stop-word removal step).

    Words are runs of letters, so an apostrophe splits (``person's`` -> person, s; ``don't`` -> don, t), as
    NLTK's list expects: it holds the pieces (``don``, ``t``, ``s``) as well as the whole forms.
    """
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP_WORDS and len(w) > 1}


def label_units(label: str) -> list[str]:
    """Basic units of a class label: its content words (alt paper section 3.1, step 1).

    CamelCase names are split first (UCF-101's ``ApplyEyeMakeup`` -> apply, eye, makeup), as are ``_`` and ``-``.
    """
    return sorted(content_words(split_camel_case(label).replace("_", " ").replace("-", " ")))


def lesk_choice(candidates: list[str], context: str) -> str:
    """The candidate sharing most content words with ``context`` (a simplified Lesk overlap; alt appendix A, step 3).

    Ties go to the earliest candidate, so the choice is deterministic.
    """
    if not candidates:
        raise AnswerParseError("no candidate descriptions to choose from")
    ctx = content_words(context)
    scores = [len(content_words(c) & ctx) for c in candidates]
    return candidates[scores.index(max(scores))]
