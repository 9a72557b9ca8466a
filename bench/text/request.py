"""A request to a language model, its content-addressed key, and the provenance of a run's text.

A request is what determines an answer: the prompt text, the images shown with it, the item
it is about (a class name, a video id), the dataset, and generation parameters. The cache key
is the sha256 of the canonical JSON of (provider name, model, request content), where images
enter by the sha256 of their raw bytes plus shape and dtype, so that a change in any of them
changes the key and nothing else does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.errors import DataError
from bench.spec import canonical_json

KEY_VERSION = 1


def as_uint8_image(img: Any, where: str = "request") -> np.ndarray:
    """An image (uint8 numpy HxWx3 / HxW array, or PIL image) as a contiguous uint8 array.

    Raises:
        DataError: for other types or dtypes, naming what was given and what is accepted.
    """
    if hasattr(img, "convert") and hasattr(img, "size") and not isinstance(img, np.ndarray):  # PIL.Image
        arr = np.asarray(img.convert("RGB"))
    elif isinstance(img, np.ndarray):
        arr = img
    else:
        raise DataError(f"image in {where} is a {type(img).__name__}; accepted: uint8 numpy array or PIL image")
    if arr.dtype != np.uint8:
        raise DataError(f"image in {where} has dtype {arr.dtype}; accepted: uint8 (HxWx3 or HxW)")
    if arr.ndim not in (2, 3):
        raise DataError(f"image in {where} has shape {arr.shape}; accepted: HxWx3 or HxW")
    return np.ascontiguousarray(arr)


def image_hash(img: Any) -> str:
    """sha256 of an image's raw bytes together with its shape and dtype."""
    arr = as_uint8_image(img)
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class TextRequest:
    """One question to a language model.

    Attributes:
        prompt: the rendered prompt text, exactly as sent.
        images: images shown with the prompt (uint8 arrays or PIL images), in order.
        item: what the question is about (class name, video id); part of the key.
        dataset: the dataset the item belongs to; part of the key; lets the offline provider
            find the dataset's oracle.
        params: generation parameters (temperature, max_tokens, ...); part of the key.
        prompt_id: the template the prompt came from (``ftp/A``); a label, not part of the key,
            used by the offline provider to find answers in user files.
    """

    prompt: str
    images: tuple[Any, ...] = ()
    item: str | None = None
    dataset: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    prompt_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise DataError(f"a text request needs a non-empty prompt string, got {self.prompt!r} (item {self.item!r})")
        object.__setattr__(self, "images", tuple(self.images))

    def content(self) -> dict[str, Any]:
        """What determines the answer, with images replaced by their content hashes."""
        return {
            "prompt": self.prompt,
            "images": [image_hash(im) for im in self.images],
            "item": self.item,
            "dataset": self.dataset,
            "params": self.params,
        }

    def key(self, provider: str, model: str) -> str:
        """The content address of this request's answer from ``provider``/``model``."""
        payload = {"v": KEY_VERSION, "provider": provider, "model": model, "input": self.content()}
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()

    def describe(self) -> str:
        pid = f"{self.prompt_id} " if self.prompt_id else ""
        return f"{pid}item={self.item!r} dataset={self.dataset!r} images={len(self.images)}"


class TextProvenance:
    """Collects which provider and model wrote a run's text and the cache keys it used.

    A run passes one collector to its providers (or to ``bench.text.build``); ``to_dict()`` is
    what goes into the run's record. Thread-safe, since HTTP providers may be called from threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[tuple[str, str], dict[str, Any]] = {}

    def note(self, provider: str, model: str, key: str, cached: bool) -> None:
        """Record one answer: who wrote it, its cache key, and whether it came from the cache."""
        with self._lock:
            src = self._sources.setdefault((provider, model), {"keys": [], "from_cache": 0, "asked": 0})
            src["keys"].append(key)
            src["from_cache" if cached else "asked"] += 1

    @property
    def keys(self) -> list[str]:
        return [k for s in self._sources.values() for k in s["keys"]]

    def to_dict(self) -> dict[str, Any]:
        """``{"sources": [{"provider", "model", "answers", "from_cache", "asked", "keys_sha256", "keys"}]}``."""
        out = []
        for (prov, model), src in sorted(self._sources.items()):
            keys = sorted(set(src["keys"]))
            out.append({
                "provider": prov,
                "model": model,
                "answers": len(src["keys"]),
                "from_cache": src["from_cache"],
                "asked": src["asked"],
                "keys_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
                "keys": keys,
            })
        return {"sources": out}


def requests_summary(requests: Sequence[TextRequest]) -> str:
    items = sorted({str(r.item) for r in requests})
    more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
    return ", ".join(items[:3]) + more
