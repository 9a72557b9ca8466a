"""Text providers: "ask a language model (optionally with images) a prompt, get text back".

A provider has a ``name``, a ``model`` and ``ask(request) -> str``. Providers are registered
by name in ``PROVIDERS`` (a ``bench.registry.Registry`` of factories) and built with
``make_provider(name, **options)``; options not given come from the user config
(``text: {providers: {<name>: {...}}}``) and, for HTTP providers, from the environment.

Registered: ``cache`` (wraps another provider, on-disk answers), ``offline`` (user files and
dataset oracles, no network), ``openai`` (any OpenAI-compatible chat-completions endpoint),
``hf`` (a local Hugging Face transformers model).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from bench import settings
from bench.errors import BenchError, ConfigError
from bench.registry import Registry
from bench.text.request import TextRequest

log = logging.getLogger(__name__)
T = TypeVar("T")


class ProviderError(BenchError):
    """A provider could not produce an answer (after its retries)."""


class TransientProviderError(ProviderError):
    """A failure worth retrying: rate limit, server error, dropped connection, malformed answer.

    Attributes:
        retry_after: seconds the server asked to wait (``Retry-After``), if it said so.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class Provider(Protocol):
    """What every text provider offers."""

    name: str
    model: str

    def ask(self, request: TextRequest) -> str:
        """The model's answer to ``request`` (never empty: a provider raises instead)."""
        ...


PROVIDERS: Registry[Callable[..., Provider]] = Registry("text provider", plugins=("bench.text.provider_impls",))


def provider_options(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Options for provider ``name``: the user config's ``text.providers.<name>`` overlaid by ``given``."""
    text_cfg = settings.user_config().get("text") or {}
    if not isinstance(text_cfg, dict):
        raise ConfigError(f"'text' in {settings.config_file()} must be a mapping, got {type(text_cfg).__name__}")
    opts = dict((text_cfg.get("providers") or {}).get(name) or {})
    opts.update({k: v for k, v in (given or {}).items() if v is not None})
    return opts


def make_provider(name: str, where: str = "", **options: Any) -> Provider:
    """Build the registered provider ``name`` with ``options`` (merged over the user config)."""
    factory = PROVIDERS.get(name, where)
    return factory(**provider_options(name, options))


def backoff_delays(attempts: int, base: float, cap: float, jitter: float = 0.1, seed: int | None = None) -> list[float]:
    """Waits between ``attempts`` tries: ``base * 2**i`` capped at ``cap``, with a small multiplicative jitter."""
    rng = random.Random(seed)
    return [min(cap, base * 2**i) * (1 + jitter * rng.random()) for i in range(max(0, attempts - 1))]


def call_with_retries(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    retry_on: tuple[type[BaseException], ...] = (TransientProviderError,),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, waiting with exponential backoff after retryable failures.

    Raises:
        ProviderError: after ``attempts`` failures, naming ``what``, the count and the last error.
    """
    if attempts < 1:
        raise ConfigError(f"retry attempts for {what} must be >= 1, got {attempts}")
    delays = backoff_delays(attempts, base_delay, max_delay)
    last: BaseException | None = None
    for i in range(attempts):
        try:
            return fn()
        except retry_on as e:  # noqa: PERF203 (retry loop)
            last = e
            if i < attempts - 1:
                wait = delays[i]
                asked = getattr(e, "retry_after", None)
                if isinstance(asked, int | float) and asked > wait:
                    wait = min(float(asked), max_delay)
                log.warning("%s failed (attempt %d/%d: %s); retrying in %.1fs", what, i + 1, attempts, e, wait)
                sleep(wait)
    raise ProviderError(f"{what} failed after {attempts} attempts; last error: {last}") from last


def check_answer(answer: Any, provider: str, request: TextRequest) -> str:
    """Refuse empty or non-string answers: text knowledge is never silently empty."""
    if not isinstance(answer, str) or not answer.strip():
        raise TransientProviderError(f"provider {provider!r} returned an empty answer for {request.describe()}")
    return answer
