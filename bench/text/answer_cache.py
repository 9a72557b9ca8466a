"""The on-disk answer cache: a provider wrapper that stores every answer by its content address.

An entry lives at ``<root>/<key[:2]>/<key>.json`` (default root ``settings.cache_dir()/text``)
and holds the key, the provider and model, the request content (prompt, image hashes, item,
dataset, params), the answer and the answer's sha256. Entries are written through a temporary
file and a rename, so a concurrent reader sees a whole entry or none. On read the key and the
checksum are verified; a corrupt entry is reported (naming the file), removed and recomputed,
never used. Secrets never enter an entry: only the request content is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import DataError
from bench.store import atomic_write_json
from bench.text.providers import Provider, check_answer
from bench.text.request import TextProvenance, TextRequest

log = logging.getLogger(__name__)
ENTRY_FORMAT = 1


class CorruptCacheEntry(DataError):
    """A cache file that is not a whole, verified entry (half-written, edited, or truncated)."""


def default_root() -> Path:
    return settings.cache_dir() / "text"


def entry_path(root: Path, key: str) -> Path:
    return root / key[:2] / f"{key}.json"


def read_entry(path: Path, key: str) -> dict[str, Any]:
    """Read and verify one entry.

    Raises:
        CorruptCacheEntry: naming ``path`` and what is wrong with it.
    """
    try:
        entry = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptCacheEntry(f"text cache entry {path} is not valid JSON ({e}); it will be recomputed") from e
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        raise CorruptCacheEntry(f"text cache entry {path} is not a format-{ENTRY_FORMAT} entry; it will be recomputed")
    if entry.get("key") != key:
        raise CorruptCacheEntry(f"text cache entry {path} holds key {entry.get('key')!r}, expected {key}")
    answer = entry.get("answer")
    if not isinstance(answer, str) or hashlib.sha256(answer.encode()).hexdigest() != entry.get("answer_sha256"):
        raise CorruptCacheEntry(f"text cache entry {path} fails its answer checksum; it will be recomputed")
    return entry


class CachingProvider:
    """Wraps a provider; answers from disk when the same request was answered before.

    The wrapper is transparent: ``name`` and ``model`` are the inner provider's, so that
    provenance names who actually wrote the text.

    Attributes:
        hits, misses, corrupt: counts since construction.
        provenance: the collector that every answer is noted in (one per wrapper unless given).
    """

    def __init__(self, inner: Provider, root: Path | str | None = None, provenance: TextProvenance | None = None):
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.root = Path(root) if root is not None else default_root()
        self.provenance = provenance if provenance is not None else TextProvenance()
        self.hits = self.misses = self.corrupt = 0

    def key(self, request: TextRequest) -> str:
        return request.key(self.name, self.model)

    def lookup(self, request: TextRequest) -> str | None:
        """The cached answer to ``request``, or None (a corrupt entry is reported, removed, and None returned)."""
        key = self.key(request)
        path = entry_path(self.root, key)
        if not path.exists():
            return None
        try:
            return read_entry(path, key)["answer"]
        except CorruptCacheEntry as e:
            self.corrupt += 1
            log.warning("%s", e)
            path.unlink(missing_ok=True)
            return None

    def ask(self, request: TextRequest) -> str:
        key = self.key(request)
        answer = self.lookup(request)
        if answer is not None:
            self.hits += 1
            self.provenance.note(self.name, self.model, key, cached=True)
            return answer
        answer = check_answer(self.inner.ask(request), self.name, request)
        self.store(request, answer)
        self.misses += 1
        self.provenance.note(self.name, self.model, key, cached=False)
        return answer

    def store(self, request: TextRequest, answer: str) -> Path:
        key = self.key(request)
        path = entry_path(self.root, key)
        atomic_write_json(path, {
            "format": ENTRY_FORMAT,
            "key": key,
            "provider": self.name,
            "model": self.model,
            "prompt_id": request.prompt_id,
            "input": request.content(),
            "answer": answer,
            "answer_sha256": hashlib.sha256(answer.encode()).hexdigest(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
        return path
