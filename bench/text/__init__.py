"""Text knowledge: LLM/VLM providers, the papers' prompts, the answer cache, and text builds.

See ``bench/text/README.md`` for the provider options, the offline answer-file format and
where artefacts go.
"""

from __future__ import annotations

from bench.text.answer_cache import CachingProvider, CorruptCacheEntry
from bench.text.build import build, load_artefact, run_need
from bench.text.context import DatasetView, NeedContext, TextBuildError
from bench.text.needs import TEXT_NEEDS, register_method_needs, text_need
from bench.text.offline import register_oracle
from bench.text.providers import PROVIDERS, Provider, ProviderError, TransientProviderError, make_provider
from bench.text.request import TextProvenance, TextRequest
from bench.text.templates import ensemble, get_template, prompts, render_ensemble

__all__ = [
    "PROVIDERS", "TEXT_NEEDS", "CachingProvider", "CorruptCacheEntry", "DatasetView", "NeedContext", "Provider",
    "ProviderError", "TextBuildError", "TextProvenance", "TextRequest", "TransientProviderError", "build",
    "ensemble", "get_template", "load_artefact", "make_provider", "prompts", "register_method_needs",
    "register_oracle", "render_ensemble", "run_need", "text_need",
]
