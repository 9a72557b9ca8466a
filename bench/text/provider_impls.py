"""Registers the built-in text providers (imported lazily by ``PROVIDERS``)."""

from __future__ import annotations

from bench.text.answer_cache import CachingProvider
from bench.text.hf import HFProvider
from bench.text.offline import OfflineProvider
from bench.text.openai_provider import OpenAIProvider
from bench.text.providers import PROVIDERS, make_provider


def _cache_factory(inner: str = "offline", inner_options: dict | None = None, root: str | None = None, **_: object):
    """``cache``: the provider ``inner`` (built with ``inner_options``) behind the on-disk answer cache."""
    return CachingProvider(make_provider(inner, where="cache provider's 'inner'", **(inner_options or {})), root=root)


PROVIDERS.register("cache", _cache_factory)
PROVIDERS.register("offline", OfflineProvider)
PROVIDERS.register("openai", OpenAIProvider)
PROVIDERS.register("hf", HFProvider)
