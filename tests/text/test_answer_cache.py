"""The answer cache: exact hits, one key change per factor, corrupt entries recomputed."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from bench.text.answer_cache import CachingProvider, CorruptCacheEntry, entry_path, read_entry
from bench.text.request import TextRequest, image_hash


class Counting:
    """A deterministic provider that counts its calls and answers with the request's content."""

    def __init__(self, name: str = "counting", model: str = "m1") -> None:
        self.name, self.model, self.calls = name, model, 0

    def ask(self, req: TextRequest) -> str:
        self.calls += 1
        return f"{self.model}|{req.prompt}|{req.item}|{len(req.images)}|call{self.calls} \u00e9\u2603"


def _img(v: int = 0) -> np.ndarray:
    a = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    a[0, 0, 0] = v
    return a


BASE = TextRequest("Describe the context information", images=(_img(),), item="v1.mp4", dataset="d",
                   params={"temperature": 0})


def test_same_request_gives_bit_identical_text_from_cache(tmp_path):
    inner = Counting()
    cache = CachingProvider(inner, root=tmp_path)
    first = cache.ask(BASE)
    again = CachingProvider(Counting(), root=tmp_path).ask(
        TextRequest("Describe the context information", images=(_img().copy(),), item="v1.mp4", dataset="d",
                    params={"temperature": 0}))
    assert again == first and again.encode() == first.encode()
    assert inner.calls == 1 and cache.misses == 1


@pytest.mark.parametrize("factor, changed", [
    ("model", None),
    ("provider", None),
    ("prompt", TextRequest("What is the action category?", images=(_img(),), item="v1.mp4", dataset="d",
                           params={"temperature": 0})),
    ("image bytes", TextRequest(BASE.prompt, images=(_img(1),), item="v1.mp4", dataset="d", params={"temperature": 0})),
    ("image shape", TextRequest(BASE.prompt, images=(_img().reshape(3, 2, 3),), item="v1.mp4", dataset="d",
                                params={"temperature": 0})),
    ("item", TextRequest(BASE.prompt, images=(_img(),), item="v2.mp4", dataset="d", params={"temperature": 0})),
    ("params", TextRequest(BASE.prompt, images=(_img(),), item="v1.mp4", dataset="d", params={"temperature": 1})),
    ("dataset", TextRequest(BASE.prompt, images=(_img(),), item="v1.mp4", dataset="e", params={"temperature": 0})),
])
def test_each_factor_changes_the_key(factor, changed):
    base = BASE.key("counting", "m1")
    if factor == "model":
        other = BASE.key("counting", "m2")
    elif factor == "provider":
        other = BASE.key("openai", "m1")
    else:
        other = changed.key("counting", "m1")
    assert other != base


def test_prompt_id_is_a_label_not_part_of_the_key():
    relabelled = TextRequest(BASE.prompt, images=BASE.images, item=BASE.item, dataset="d", params={"temperature": 0},
                             prompt_id="ftp/D")
    assert relabelled.key("p", "m") == BASE.key("p", "m")


def test_pil_and_array_images_hash_alike():
    from PIL import Image

    assert image_hash(Image.fromarray(_img())) == image_hash(_img())


def test_changed_model_asks_again(tmp_path):
    a, b = Counting(model="m1"), Counting(model="m2")
    CachingProvider(a, root=tmp_path).ask(BASE)
    CachingProvider(b, root=tmp_path).ask(BASE)
    assert (a.calls, b.calls) == (1, 1)


@pytest.mark.parametrize("damage", ["truncate", "edit_answer", "garbage"])
def test_corrupt_entry_is_reported_by_name_and_recomputed(tmp_path, caplog, damage):
    inner = Counting()
    cache = CachingProvider(inner, root=tmp_path)
    first = cache.ask(BASE)
    path = entry_path(tmp_path, cache.key(BASE))
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "edit_answer":
        entry = json.loads(text)
        entry["answer"] = "tampered"
        path.write_text(json.dumps(entry))
    else:
        path.write_bytes(b"\x00\xff garbage")
    with pytest.raises(CorruptCacheEntry, match=str(path)):
        read_entry(path, cache.key(BASE))
    with caplog.at_level(logging.WARNING):
        again = cache.ask(BASE)
    assert str(path) in caplog.text
    assert inner.calls == 2 and cache.corrupt == 1
    assert again != "tampered" and again.startswith(first.rsplit("call", 1)[0])
    read_entry(path, cache.key(BASE))  # the recomputed entry is whole again


def test_empty_answer_is_refused_not_cached(tmp_path):
    class Empty(Counting):
        def ask(self, req):
            return "  "

    from bench.text.providers import TransientProviderError

    cache = CachingProvider(Empty(), root=tmp_path)
    with pytest.raises(TransientProviderError, match="empty answer"):
        cache.ask(BASE)
    assert not list(tmp_path.rglob("*.json"))


def test_cache_provider_from_the_registry_wraps_its_inner_provider(tmp_path, world):
    from bench.text.providers import make_provider

    view, oracle = world
    p = make_provider("cache", inner="offline", root=str(tmp_path))
    assert isinstance(p, CachingProvider)
    assert (p.name, p.model) == ("offline", "oracle(world=3,noise=0,omission=0,seed=0)")
    req = TextRequest("q", item="jump", prompt_id="vlc/expand", dataset=view.name)
    assert p.ask(req) == p.ask(req) and oracle.calls == 1
    assert p.provenance.to_dict()["sources"][0]["from_cache"] == 1


def test_oracle_noise_is_part_of_the_cache_key(monkeypatch):
    """A simulated weaker VLM (noisy oracle) never reads answers cached for a perfect one."""
    from bench.text.offline import OfflineProvider

    clean = OfflineProvider().model
    monkeypatch.setenv("BENCH_ORACLE_NOISE", "0.3")
    noisy = OfflineProvider().model
    assert clean != noisy and "noise=0.3" in noisy
