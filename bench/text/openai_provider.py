"""Any OpenAI-compatible chat-completions endpoint, through the standard library only.

Configuration (first found wins): the constructor's options (from ``make_provider`` or the
user config's ``text.providers.openai``), then ``BENCH_OPENAI_BASE_URL`` / ``BENCH_OPENAI_MODEL``
/ ``BENCH_OPENAI_API_KEY``, then ``OPENAI_BASE_URL`` / ``OPENAI_MODEL`` / ``OPENAI_API_KEY``.
The key is only ever put in the ``Authorization`` header: it is not part of a cache key, a
record, a log line or an error message (messages are redacted).

Images go as base64 PNG data URLs in the user message (the vision message format).
Rate limits (429), server errors (5xx), dropped connections and malformed answers are
retried with exponential backoff (honouring ``Retry-After``); other HTTP errors fail at once.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bench.errors import ConfigError
from bench.text.providers import ProviderError, TransientProviderError, call_with_retries, check_answer
from bench.text.request import TextRequest, as_uint8_image


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


def png_data_url(img: Any) -> str:
    """An image as a ``data:image/png;base64,...`` URL (PNG is lossless, so the model sees the exact pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(as_uint8_image(img)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class OpenAIProvider:
    """Chat completions over HTTP.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or a local server's ``/v1``.
        model: the model name the endpoint serves.
        api_key: the bearer token (better: leave it in the environment).
        timeout: seconds per HTTP request.
        attempts, base_delay, max_delay: the retry policy.
        defaults: generation parameters sent with every request (a request's params override them).
        sleep: how to wait between retries (tests pass a recorder).
    """

    name = "openai"

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0, attempts: int = 5, base_delay: float = 2.0, max_delay: float = 60.0,
                 defaults: dict[str, Any] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        base_url = base_url or _env("BENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL")
        model = model or _env("BENCH_OPENAI_MODEL", "OPENAI_MODEL")
        missing = [n for n, v in (("base_url", base_url), ("model", model)) if not v]
        if missing:
            raise ConfigError(
                f"openai text provider is not configured: missing {', '.join(missing)}. Set BENCH_OPENAI_BASE_URL "
                "and BENCH_OPENAI_MODEL (or OPENAI_BASE_URL / OPENAI_MODEL), plus BENCH_OPENAI_API_KEY if the "
                "endpoint needs a key, or add 'text: {providers: {openai: {base_url: ..., model: ...}}}' to the "
                "user config"
            )
        self.base_url = str(base_url).rstrip("/")
        self.model = str(model)
        self._key = api_key or _env("BENCH_OPENAI_API_KEY", "OPENAI_API_KEY")
        self.timeout = float(timeout)
        self.attempts, self.base_delay, self.max_delay = int(attempts), float(base_delay), float(max_delay)
        self.defaults = dict(defaults or {})
        self.sleep = sleep
        self.http_calls = 0

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIProvider(base_url={self.base_url!r}, model={self.model!r})"

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def payload(self, request: TextRequest) -> dict[str, Any]:
        """The JSON body for ``request``: text-only content as a string, with images as a parts list."""
        if request.images:
            content: Any = [{"type": "text", "text": request.prompt}]
            content += [{"type": "image_url", "image_url": {"url": png_data_url(im)}} for im in request.images]
        else:
            content = request.prompt
        body = {**self.defaults, **request.params}
        body.update({"model": self.model, "messages": [{"role": "user", "content": content}]})
        return body

    def _post_once(self, body: bytes, request: TextRequest) -> str:
        self.http_calls += 1
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        where = f"{self.base_url}/chat/completions (model {self.model}, {request.describe()})"
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = self._redact(e.read()[:300].decode(errors="replace"))
            if e.code == 429 or e.code >= 500:
                ra = e.headers.get("Retry-After") if e.headers else None
                retry_after = float(ra) if ra and ra.replace(".", "", 1).isdigit() else None
                raise TransientProviderError(f"HTTP {e.code} from {where}: {detail}", retry_after) from None
            hint = " (check BENCH_OPENAI_API_KEY)" if e.code in (401, 403) else ""
            raise ProviderError(f"HTTP {e.code} from {where}{hint}: {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            raise TransientProviderError(f"connection to {where} failed: {self._redact(str(e))}") from None
        try:
            answer = json.loads(raw)["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as e:
            snippet = self._redact(raw[:200].decode(errors="replace"))
            raise TransientProviderError(f"malformed answer from {where} ({type(e).__name__}): {snippet!r}") from None
        if isinstance(answer, list):  # some servers return content parts
            answer = "".join(p.get("text", "") for p in answer if isinstance(p, dict))
        return check_answer(answer, self.name, request)

    def ask(self, request: TextRequest) -> str:
        body = json.dumps(self.payload(request)).encode()
        return call_with_retries(
            lambda: self._post_once(body, request),
            what=f"openai request to {self.base_url} ({request.describe()})",
            attempts=self.attempts, base_delay=self.base_delay, max_delay=self.max_delay, sleep=self.sleep,
        )
